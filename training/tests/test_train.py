"""The training pipeline end to end on CPU at toy scale: VAE → base model → adapters → segmenter →
pack export. Proves the scripts the GPU box runs (argument handling, resume, split weights, the
exporter's --weights path) before any GPU minute is spent."""
import json
import math
import os
import shutil

import pytest
import torch

from dreamcache import pack_check
from dreamcache.export import main as export_main
from dreamcache.train import adapters, base, segmenter, vae
from dreamcache.train.common import Checkpoint, Dist, Log, PhaseTimer, StepLoop, TimeBox, cooldown

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")


@pytest.fixture(scope="module")
def webp_dir():
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    return WEBP


def test_pipeline_trains_resumes_and_exports(webp_dir, tmp_path):
    runs = str(tmp_path)
    common = ["--webp", webp_dir, "--preset", "dev-tiny", "--log-every", "1"]
    vae.main(common + ["--out", f"{runs}/vae", "--max-steps", "1", "--batch", "4", "--eval-batches", "1"])
    meta = json.load(open(f"{runs}/vae/vae.json"))
    assert meta["scaling_factor"] > 0 and "psnr_heldout" in meta

    base.main(common + ["--vae", f"{runs}/vae", "--out", f"{runs}/base", "--max-steps", "1", "--batch", "4"])
    base.main(common + ["--vae", f"{runs}/vae", "--out", f"{runs}/base", "--max-steps", "2", "--batch", "4"])
    steps = [json.loads(l)["step"] for l in open(f"{runs}/base/log.jsonl") if '"done"' in l]
    assert steps == [1, 2], "the second run must resume from the first one's checkpoint"
    # a continuation on a fresh box: trained weights, a fresh optimizer, so the lr warms up again
    base.main(common + ["--vae", f"{runs}/vae", "--out", f"{runs}/base2", "--max-steps", "3", "--batch", "4",
                        "--init-from", f"{runs}/base/weights", "--warmup", "10", "--lr", "1e-3", "--ema-decay", "0.99"])
    rows = [json.loads(l) for l in open(f"{runs}/base2/log.jsonl")]
    start = next(r for r in rows if r.get("event") == "start")
    assert start["step"] == 2 and start["warm_from"] == 2 and start["ema_decay"] == 0.99
    assert [r["lr"] for r in rows if "loss" in r] == pytest.approx([1e-4]), "first step of the warm-up, not 3/10 of it"

    segmenter.main(common + ["--out", f"{runs}/seg", "--max-steps", "1", "--batch", "4", "--eval-batches", "1"])
    seg_meta = json.load(open(f"{runs}/seg/segmenter.json"))
    assert seg_meta["heldout_scenes"], "the segmenter must be scored on scenes it never trained on"

    weights = f"{runs}/weights"
    os.makedirs(weights)
    for src in (f"{runs}/vae/weights", f"{runs}/base/weights", f"{runs}/seg/weights"):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), weights)
    shutil.copy(f"{runs}/vae/vae.json", weights)
    adapters.main(common + ["--base", weights, "--out", f"{runs}/adapters", "--max-steps", "1", "--batch", "4"])
    logged = [json.loads(l) for l in open(f"{runs}/adapters/log.jsonl") if '"loss"' in l]
    assert all(logged[0][f"ms_{k}"] >= 0 for k in ("gen", "frozen", "train")), "per-phase step profile"
    assert logged[0]["loss_ref"] > 0
    json.dump({"step": 7}, open(f"{runs}/adapters/weights/adapters.json", "w"))
    adapters.main(common + ["--base", weights, "--out", f"{runs}/adapters-2", "--max-steps", "9", "--batch", "4",
                            "--init-from", f"{runs}/adapters/weights", "--recolour", "0.5",
                            "--subject-weight", "4", "--ref-erase", "0.1",
                            "--decay-start", "7", "--decay-steps", "2", "--decay-to", "0.1", "--reuse", "2",
                            "--self-views", "flip"])
    assert [json.loads(l)["step"] for l in open(f"{runs}/adapters-2/log.jsonl") if '"done"' in l] == [9]
    ameta = json.load(open(f"{runs}/adapters-2/adapters.json"))
    assert json.load(open(f"{runs}/adapters-2/weights/adapters.json")) == ameta, "the weights describe themselves"
    assert (ameta["recolour"], ameta["subject_weight"], ameta["ref_erase"]) == (0.5, 4.0, 0.1)
    assert ameta["self_views"] == "flip"
    with pytest.raises(SystemExit):
        adapters.main(common + ["--base", weights, "--out", f"{runs}/adapters-bad", "--self-views", "flip+blur"])
    assert not os.path.exists(f"{runs}/adapters-bad")
    # updates at steps 7 and 8, still in the 200-step warm-up (8/200, 9/200 of 1e-4): the cool-down's
    # factor is 1 at its start step and halfway to 0.1 one step later
    assert ameta["decay"] == {"start": 7, "steps": 2, "to": 0.1} and ameta["reuse"] == 2
    # --reuse 2 from step 7: step 7 makes a batch, step 8 trains on it again; both log lines carry the
    # profile of the step that made its batch
    profiled = [json.loads(l) for l in open(f"{runs}/adapters-2/log.jsonl") if '"loss"' in l]
    assert profiled[0]["ms_gen"] == profiled[1]["ms_gen"] > 0
    lrs = [json.loads(l)["lr"] for l in open(f"{runs}/adapters-2/log.jsonl") if '"loss"' in l]
    assert lrs == pytest.approx([1e-4 * 8 / 200, 1e-4 * 9 / 200 * 0.55])
    assert all(math.isfinite(json.loads(l)["loss"]) for l in open(f"{runs}/adapters-2/log.jsonl") if '"loss"' in l)
    assert [json.loads(l)["recolour"] for l in open(f"{runs}/adapters-2/log.jsonl") if '"start"' in l] == [0.5]
    compiled = common + ["--base", weights, "--out", f"{runs}/adapters-c", "--max-steps", "9", "--batch", "4",
                         "--init-from", f"{runs}/adapters/weights", "--compile"]
    if not hasattr(torch, "compile"):           # Debian's torch 1.13 (CI): refused before anything loads
        with pytest.raises(SystemExit):
            adapters.main(compiled)
        assert not os.path.exists(f"{runs}/adapters-c/log.jsonl")
    elif torch.cuda.is_available():             # the GPU box: the compiled training passes train
        adapters.main(compiled)
        rows = [json.loads(l) for l in open(f"{runs}/adapters-c/log.jsonl")]
        assert rows[0]["compile"] is True and [r["step"] for r in rows if r.get("event") == "done"] == [9]
        assert all(math.isfinite(r["loss"]) for r in rows if "loss" in r)
    for f in os.listdir(f"{runs}/adapters/weights"):
        shutil.copy(os.path.join(f"{runs}/adapters/weights", f), weights)
    check_two_view_cache(weights)

    tok = os.path.join(ROOT, "training", "data", "tokenizer.json")
    export_main(["--preset", "dev-tiny", "--weights", weights, "--tokenizer", tok, "--out", f"{runs}/pack",
                 "--name", "pipeline-test"])
    assert pack_check.check_pack(f"{runs}/pack") == []
    m = json.load(open(f"{runs}/pack/manifest.json"))
    assert m["trained"] is True and abs(m["latent"]["scalingFactor"] - meta["scaling_factor"]) < 1e-9


def check_two_view_cache(weights):
    """The trainer's two-view cache is the benchmark's (sampler_batched.build_caches, which mirrors the
    runtime): each reference's tokens, then its mirror image's, each view with its own noise."""
    from dreamcache.sampler_batched import build_caches
    from dreamcache.schedule import alphas_cumprod
    from dreamcache.self_views import with_self_views
    from dreamcache.tokenizer_any import load_tokenizer
    from dreamcache.train.base import load_vae
    tok = load_tokenizer(os.path.join(ROOT, "training", "data", "tokenizer.json"))
    _, unet, te = adapters.load_base(weights, "dev-tiny", tok.vocab_size, torch.device("cpu"))
    vae_model = load_vae(weights, "dev-tiny", torch.device("cpu"))
    with torch.no_grad():
        empty = te(tok.encode_batch([""]))
    g = torch.Generator().manual_seed(0)
    refs = torch.rand(2, 3, 128, 128, generator=g) * 2 - 1
    with torch.no_grad():
        latent = vae_model.encode_moments(refs[:1])[0]
    acp = alphas_cumprod()
    got = adapters.reference_cache(unet, vae_model, refs, empty, acp, torch.Generator().manual_seed(5), ("flip",))
    noise = torch.randn((4,) + latent.shape[1:], generator=torch.Generator().manual_seed(5))
    want = build_caches(unet, vae_model, with_self_views(refs, ["flip"]), empty, adapters.CACHE_TIMESTEP, noise,
                        acp, half_round=False)
    one = adapters.reference_cache(unet, vae_model, refs, empty, acp, torch.Generator().manual_seed(5))
    assert set(got) == set(want) and got
    for k in got:
        assert got[k].shape == want[k].shape == (2, 2 * one[k].shape[1], one[k].shape[2])
        assert torch.allclose(got[k], want[k], atol=1e-5)


def test_phase_timer_samples_log_steps_or_the_given_ones_and_keeps_the_latest_sample():
    t = PhaseTimer("cpu", every=3)
    seen = []
    for step in range(6):
        t.start(step)
        t.mark("gen")
        seen.append(bool(t.fields()))
    assert seen == [False, False, True, True, True, True]   # sampled at steps 2 and 5, kept between
    t.start(6, sample=False)
    t.mark("train")
    assert list(t.fields()) == ["ms_gen"]                    # an unsampled step leaves the last sample
    t.start(7, sample=True)
    t.mark("train")
    assert list(t.fields()) == ["ms_train"]


def test_step_loop_reads_logged_values_only_on_log_steps(tmp_path):
    """The trainers hand finish() their losses as tensors: reading one waits for the GPU, so it may
    happen only on log steps (then as plain floats in log.jsonl), never on the steps between."""
    class Counted:
        reads = 0

        def __init__(self, v):
            self.v = v

        def __float__(self):
            Counted.reads += 1
            return self.v

    loop = StepLoop(Dist(), TimeBox(60), Log(str(tmp_path), True), Checkpoint(str(tmp_path)), max_steps=10,
                    log_every=5)
    for step in range(1, 11):
        stop = loop.finish(step, lambda: {"step": step}, loss=Counted(0.5 * step), t=torch.tensor(2.0))
        assert Counted.reads == step // 5
    assert stop
    rows = [json.loads(l) for l in open(tmp_path / "log.jsonl")]
    assert [(r["step"], r["loss"], r["t"]) for r in rows] == [(5, 2.5, 2.0), (10, 5.0, 2.0)]


def test_cooldown_is_flat_then_linear_then_final():
    assert [cooldown(s, None, 10, 0.1) for s in (0, 10**6)] == [1.0, 1.0]
    got = [cooldown(s, 100, 10, 0.1) for s in (0, 99, 100, 105, 110, 500)]
    assert got == pytest.approx([1.0, 1.0, 1.0, 0.55, 0.1, 0.1])


def test_subject_loss_weight_weighs_the_subject_and_keeps_the_loss_scale():
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, :8, :] = 1.0            # top half of sample 0 is subject; sample 1 has none
    w = adapters.subject_loss_weight(mask, 4, 3.0)
    assert w.shape == (2, 1, 4, 4)
    assert torch.equal(w[0, 0, :2], torch.full((2, 4), 3.0)) and torch.equal(w[0, 0, 2:], torch.ones(2, 4))
    assert torch.equal(w[1], torch.ones(1, 4, 4))
    half = torch.full((1, 1, 6, 6), 0.5)   # half-covered latent pixels: halfway between 1 and the weight
    assert torch.allclose(adapters.subject_loss_weight(half, 3, 3.0), torch.full((1, 1, 3, 3), 2.0))
