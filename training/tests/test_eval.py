"""Evaluation code on CPU at toy scale: the three evaluator trainers (1–2 steps, held-out report),
the held-out guard, the benchmark CLI end to end (table, JSON, grid, sweep plot, resume) with
dev-tiny weights, and the parity script's Python side against a saved runtime output."""
import json
import os
import shutil
import types

import pytest
import torch

from dreamcache.data import SubjectBank
from dreamcache.data.subjects import SubjectSetError, load_heldout_ids
from dreamcache.eval import bench, parity, train_clip, train_identity, train_scene
from dreamcache.eval.data import HeldoutLeakError, check_training_bank, load_folder_bank, name_from_file
from dreamcache.eval.prompts import PROMPTS
from dreamcache.eval.trainer import load_evaluator
from dreamcache.models.unet import reset_adapter
from weights_fixture import dev_tiny_weights

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "parity")
TINY = os.path.join(ROOT, "training", "checkpoints", "tiny-emoji-v1")
TOY = ["--max-steps", "2", "--batch", "6", "--log-every", "1", "--eval-batches", "1", "--eval-batch", "12",
       "--width", "4"]


@pytest.fixture(scope="module")
def webp_dir():
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    return WEBP


@pytest.fixture(scope="module")
def evaluators(webp_dir, tmp_path_factory):
    """Trains the three evaluators for 2 steps each; returns a folder holding all of them."""
    root = tmp_path_factory.mktemp("evaluators")
    torch.manual_seed(0)   # their initial weights: the same toy judges whichever tests ran before
    flat = root / "all"
    flat.mkdir()
    for kind, mod, extra in (("identity", train_identity, []), ("clip", train_clip, ["--text-width", "32"]),
                             ("scene", train_scene, [])):
        out = str(root / kind)
        mod.main(["--webp", webp_dir, "--out", out] + TOY + extra)
        for f in os.listdir(os.path.join(out, "weights")):
            shutil.copy(os.path.join(out, "weights", f), flat)
        shutil.copy(os.path.join(out, f"{kind}.json"), flat)
    return str(flat)


def test_evaluators_train_and_report_heldout_accuracy(evaluators):
    want = {"identity": ["retrieval_top1", "retrieval_top1_on_white"], "clip": ["image_to_text_top1", "text_to_image_top1"],
            "scene": ["scene_accuracy", "modifier_accuracy"]}
    for kind, keys in want.items():
        meta = json.load(open(os.path.join(evaluators, f"{kind}.json")))
        assert meta["step"] == 2 and meta["train_subjects"] == 619 and meta["heldout_subjects"] == 160
        for k in keys:
            assert 0.0 <= meta["heldout"][k] <= 1.0
        net = load_evaluator(evaluators, kind)
        x = torch.zeros(2, 3, 128, 128)
        out = net.image(x) if kind == "clip" else net(x)
        assert (out[0] if kind == "scene" else out).shape[0] == 2


def test_heldout_guard_refuses_banks_with_heldout_subjects(webp_dir):
    held = SubjectBank.load(webp_dir, split="heldout", size=16, limit=2)
    with pytest.raises(HeldoutLeakError):
        check_training_bank(held)
    # a bank that claims to be the training split but holds a held-out id
    fake = types.SimpleNamespace(split="train", ids=["1F600", sorted(load_heldout_ids())[0]])
    with pytest.raises(HeldoutLeakError, match="held-out subjects"):
        check_training_bank(fake)
    # relabelling held-out subjects as training ones is refused by the bank itself
    relabelled = [s.__class__(**{**s.__dict__, "split": "train"}) for s in held.subjects]
    with pytest.raises(SubjectSetError):
        SubjectBank(relabelled, held.rgba, "train")


def test_bench_end_to_end_at_toy_scale(webp_dir, evaluators, tmp_path):
    weights = str(tmp_path / "weights")
    dev_tiny_weights(weights)
    out = str(tmp_path / "bench")
    args = ["--weights", weights, "--preset", "dev-tiny", "--evaluators", evaluators, "--webp", webp_dir,
            "--limit-subjects", "2", "--limit-prompts", "2", "--seeds", "1", "--steps", "2", "--scales", "0,2",
            "--batch", "4", "--grid-subjects", "2", "--both-nouns", "--out", out]
    bench.main(args + ["--minutes", "0"])   # time box already over: nothing runs, a partial report
    assert json.load(open(os.path.join(out, "bench.json")))["partial"]
    bench.main(args)                         # resumes: runs everything
    res = json.load(open(os.path.join(out, "bench.json")))
    assert not res["partial"]
    r = res["results"]
    assert {"text-only", "DreamCache", "DreamCache (subject named)", "ground truth", "cache t=600", "mid-only cache",
            "sI=2", "3 references"} <= set(r)
    # the VAE ceiling: the same composites, through the pack's VAE (so it scores differently)
    assert bench.GT_VAE in r and r[bench.GT_VAE]["dino"] != r["ground truth"]["dino"]
    assert "dino_gap_vae_ceiling" in res["summary"]
    # DreamCache prompts name the subject by its class noun, the second row by its name
    assert r["DreamCache"]["noun"] == "category" and r["DreamCache (subject named)"]["noun"] == "name"
    assert r["DreamCache"]["dino"] != r["DreamCache (subject named)"]["dino"]
    for name, v in r.items():
        assert v["n"] == 4, name
        for m in ("dino", "clip_i", "clip_t", "masked_dino", "masked_clip_i"):
            assert -1.0 <= v[m] <= 1.0
    # random adapters: DreamCache is not the base model, and t=600 is not t=1
    assert r["DreamCache"]["dino"] != r["text-only"]["dino"]
    assert r["cache t=1"]["dino"] != r["cache t=600"]["dino"]
    md = open(os.path.join(out, "bench.md")).read()
    assert "| DreamCache |" in md and "gap closed" in md and "through the VAE closes" in md
    from PIL import Image
    assert Image.open(os.path.join(out, "grid.png")).size == (110 + 5 * 128, 28 + 2 * 128)
    assert os.path.isfile(os.path.join(out, "sweep.png"))


def toy_bench(tmp_path, evaluators, args):
    """The benchmark on random dev-tiny weights in tmp_path: its folder, bench.json and per-image records."""
    weights = str(tmp_path / "weights")
    dev_tiny_weights(weights)
    out = str(tmp_path / "bench")
    bench.main(["--weights", weights, "--preset", "dev-tiny", "--evaluators", evaluators] + args + ["--out", out])
    records = [json.loads(l) for l in open(os.path.join(out, "records", "rank0.jsonl"))]
    return out, json.load(open(os.path.join(out, "bench.json"))), records


def test_bench_grid_only_renders_the_grid_from_its_images_alone(webp_dir, evaluators, tmp_path):
    """--grid-only: the grid's subjects × its prompts at seed 0, main rows only (the grid on a slow machine)."""
    # 3 subjects, the first 3 prompts (beach and snow are grid prompts, forest is not), 2 seeds asked: only
    # 2 of the subjects (spread over 3), beach and snow, seed 0
    out, res, recs = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "3", "--limit-prompts", "3", "--seeds", "2", "--steps", "1",
        "--batch", "4", "--grid-subjects", "2", "--grid-only", "--rows", "text,dreamcache"])
    assert not res["partial"] and set(res["results"]) == {"text-only", "DreamCache"}
    assert all(r["n"] == 4 for r in res["results"].values())
    assert {(r["prompt"], r["seed"]) for r in recs} == {("beach", 0), ("snow", 0)} and len({r["subject"] for r in recs}) == 2
    assert "GRID ONLY" in open(os.path.join(out, "bench.md")).read()
    from PIL import Image
    assert Image.open(os.path.join(out, "grid.png")).size == (110 + 5 * 128, 28 + 2 * 128)
    with pytest.raises(SystemExit):
        bench.main(["--weights", str(tmp_path / "weights"), "--evaluators", evaluators, "--grid-only",
                    "--grid-subjects", "0", "--out", out])


def test_bench_accepts_a_folder_of_png_subjects(evaluators, tmp_path):
    from PIL import Image
    for name, color in (("red_apple.png", (220, 30, 30, 255)), ("blue-cube_2.png", (30, 30, 220, 255))):
        im = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
        im.paste(Image.new("RGBA", (20, 20), color), (10, 5))
        im.save(tmp_path / name)
    bank = load_folder_bank(str(tmp_path), 32, "cpu")
    assert bank.labels == ["blue cube", "red apple"] and bank.split == "heldout"
    assert name_from_file(tmp_path / "golden_retriever.png") == "golden retriever"
    assert len(PROMPTS) == 25 and PROMPTS[0].text("red apple") == "a photo of a red apple on a beach"
    _, res, recs = toy_bench(tmp_path, evaluators, ["--subject-dir", str(tmp_path), "--limit-prompts", "1",
                                                   "--seeds", "1", "--steps", "1", "--ablations", "none"])
    assert res["results"]["DreamCache"]["n"] == 2 and res["results"]["ground truth"]["n"] == 2
    assert {r["subject"] for r in recs} == {"file:blue-cube_2.png", "file:red_apple.png"}


def test_bench_scores_training_subjects_when_asked(webp_dir, evaluators, tmp_path):
    """--split train: the diagnostic run on training subjects (their ids only), labelled as such."""
    out, res, recs = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--split", "train", "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1",
        "--steps", "1", "--ablations", "none"])
    assert res["args"]["split"] == "train" and res["results"]["text-only"]["n"] == 2
    subjects = {r["subject"] for r in recs}
    train_ids = [s.id for s in SubjectBank.load(webp_dir, split="train", size=16, limit=2).subjects]
    assert subjects == set(train_ids) and not subjects & load_heldout_ids()
    assert "TRAINING subjects" in open(os.path.join(out, "bench.md")).read()


def test_bench_scores_a_vae_ceiling_alone_when_asked(webp_dir, evaluators, tmp_path):
    """--rows gt,gt_vae: only the composites and their VAE round trips, no diffusion rows."""
    out, res, _ = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "1",
        "--ablations", "none", "--rows", "gt,gt_vae"])
    assert set(res["results"]) == {"ground truth", bench.GT_VAE} and not res["partial"]
    assert res["results"][bench.GT_VAE]["n"] == 2
    with pytest.raises(SystemExit):
        bench.main(["--weights", str(tmp_path / "weights"), "--evaluators", evaluators, "--rows", "gt,ceiling",
                    "--out", out])


def test_bench_prompted_guidance_rows_and_refuses_unknown_ablations(webp_dir, evaluators, tmp_path):
    """--ablations prompted: DreamCache rows with the other guidance order at --prompted-scales, in the
    sweep plot beside the method's; an ablation name it does not know is an error, not a silent skip."""
    out, res, _ = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "2",
        "--rows", "dreamcache", "--image-scale", "3", "--ablations", "prompted, scale", "--scales", "3",
        "--prompted-scales", "3"])
    r = res["results"]
    assert r["prompted sI=3"]["guidance"] == "prompted" and r["sI=3"]["guidance"] == "combined"
    assert r["prompted sI=3"]["n"] == 2
    # same noise, caches and scales: only the order of the two guidances differs
    assert r["prompted sI=3"]["dino"] != r["sI=3"]["dino"] and r["sI=3"]["dino"] == r["DreamCache"]["dino"]
    assert os.path.isfile(os.path.join(out, "sweep.png"))
    with pytest.raises(SystemExit):
        bench.main(["--weights", str(tmp_path / "weights"), "--evaluators", evaluators, "--ablations",
                    "cache_t,guidance", "--out", out])


def test_bench_ramp_rows_change_the_image_scale_over_the_steps(webp_dir, evaluators, tmp_path):
    """--ablations ramp: DreamCache rows whose sI goes linearly from FIRST to LAST over the steps; a flat
    ramp is the constant row, a real one other images; malformed --ramps is an error before anything runs."""
    out, res, _ = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "3",
        "--rows", "dreamcache", "--image-scale", "3", "--ablations", "ramp", "--ramps", "3:3,1:5"])
    r = res["results"]
    assert r["sI ramp 1→5"]["s_img"] == 1 and r["sI ramp 1→5"]["s_img_end"] == 5 and r["sI ramp 1→5"]["n"] == 2
    assert r["sI ramp 3→3"]["dino"] == r["DreamCache"]["dino"]
    assert r["sI ramp 1→5"]["dino"] != r["DreamCache"]["dino"]
    assert "ramp: sI ramp 1→5" in open(os.path.join(out, "bench.md"), encoding="utf-8").read()
    # --image-scale-end ramps the main row the same way (a pack's guidance.imageScaleEnd)
    (tmp_path / "main").mkdir()
    out2, res2, _ = toy_bench(tmp_path / "main", evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "3",
        "--rows", "dreamcache", "--image-scale", "1", "--image-scale-end", "5", "--ablations", "none"])
    assert res2["results"]["DreamCache"]["s_img_end"] == 5
    assert res2["results"]["DreamCache"]["dino"] == r["sI ramp 1→5"]["dino"]
    assert "sI 1 → 5" in open(os.path.join(out2, "bench.md"), encoding="utf-8").read()
    for bad in ("6-12", "6:x", "6:12:3"):
        with pytest.raises(SystemExit):
            bench.main(["--weights", str(tmp_path / "weights"), "--evaluators", evaluators, "--ablations", "ramp",
                        "--ramps", bad, "--out", str(tmp_path / "bad")])
    assert not os.path.exists(str(tmp_path / "bad"))


def test_parity_python_side_matches_saved_runtime_output(tmp_path):
    out = str(tmp_path / "parity")
    shutil.copytree(FIXTURE, out)
    models = parity.load_models(TINY, None)
    for m in models.unet.modules():
        if getattr(m, "has_adapter", False):
            reset_adapter(m)   # the fixture was made with identity adapters
    res = parity.compare(models, out)
    assert res["max_abs"] <= 2 and res["mean_abs"] < 0.05, res


def test_bench_scores_an_int8_text_encoder_and_never_mixes_storages(webp_dir, evaluators, tmp_path):
    """--int8-text-encoder scores the text encoder as `export --int8-storage text_encoder` stores it; a
    folder's records come from one storage only (resuming into another is refused, nothing is lost)."""
    weights = str(tmp_path / "weights")
    dev_tiny_weights(weights)
    args = ["--weights", weights, "--preset", "dev-tiny", "--evaluators", evaluators, "--webp", webp_dir,
            "--limit-subjects", "1", "--limit-prompts", "2", "--seeds", "1", "--steps", "2", "--rows", "text",
            "--ablations", "none", "--grid-subjects", "0", "--batch", "2"]
    res = {}
    for storage, flag in (("float", []), ("int8", ["--int8-text-encoder"])):
        out = str(tmp_path / storage)
        bench.main(args + flag + ["--out", out])
        assert json.load(open(os.path.join(out, "scoring.json"))) == {"text_encoder": storage}
        res[storage] = json.load(open(os.path.join(out, "bench.json")))["results"]["text-only"]
        assert ("int8 text encoder" in open(os.path.join(out, "bench.md")).read()) == (storage == "int8")
    assert res["float"]["n"] == res["int8"]["n"] == 2
    # the rounding reaches the images: some score of the text-only row moves (toy judges of 2 steps may be
    # blind in one metric, not in all of them)
    assert any(res["float"][m] != res["int8"][m] for m in bench.METRICS)
    before = open(os.path.join(tmp_path, "float", "records", "rank0.jsonl")).read()
    with pytest.raises(SystemExit):
        bench.main(args + ["--int8-text-encoder", "--out", str(tmp_path / "float")])
    assert open(os.path.join(tmp_path, "float", "records", "rank0.jsonl")).read() == before


def test_bench_views_and_gate_rows_are_runtime_knobs_at_the_main_rows_scale(webp_dir, evaluators, tmp_path):
    """--ablations views,gate: DreamCache rows at the main row's sI ramp whose cache adds views made from the
    reference image alone (mirror, zoomed out) or whose cached rows run at another adapter gate; gate 1 and
    no views are the main row itself, bad specs are refused before anything runs."""
    out, res, _ = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "2",
        "--rows", "dreamcache", "--image-scale", "3", "--image-scale-end", "1", "--ablations", "views,gate",
        "--views", "flip,flip+zoom", "--gates", "1,1.5"])
    r = res["results"]
    assert r["gate 1"]["dino"] == r["DreamCache"]["dino"] and r["gate 1"]["s_img_end"] == 1
    assert r["gate 1.5"]["dino"] != r["DreamCache"]["dino"] and r["gate 1.5"]["gate"] == 1.5
    assert r["views ref+flip"]["views"] == ["flip"] and r["views ref+flip"]["n"] == 2
    assert r["views ref+flip+zoom"]["dino"] != r["views ref+flip"]["dino"] != r["DreamCache"]["dino"]
    # --self-views: the main row caches the reference with those views, as the views row does
    (tmp_path / "sv").mkdir()
    out2, res2, _ = toy_bench(tmp_path / "sv", evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "2",
        "--rows", "dreamcache", "--image-scale", "3", "--image-scale-end", "1", "--ablations", "none",
        "--self-views", "flip"])
    assert res2["results"]["DreamCache"]["views"] == ["flip"]
    assert res2["results"]["DreamCache"]["dino"] == r["views ref+flip"]["dino"]
    with pytest.raises(SystemExit):   # resuming those records without the views would mix two caches
        bench.main(["--weights", str(tmp_path / "weights"), "--preset", "dev-tiny", "--evaluators", evaluators,
                    "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps",
                    "2", "--rows", "dreamcache", "--ablations", "none", "--out", out2])
    for flag, bad in (("--views", "flip+blur"), ("--views", "flip,+"), ("--gates", "x"), ("--gates", "-1"),
                      ("--self-views", "render"), ("--rescales", "0"), ("--rescales", "1.5"), ("--rescales", "x")):
        with pytest.raises(SystemExit):
            bench.main(["--weights", str(tmp_path / "weights"), "--evaluators", evaluators, "--ablations",
                        "views,gate", flag, bad, "--out", str(tmp_path / "bad")])
    assert not os.path.exists(str(tmp_path / "bad"))


def test_bench_rescale_rows_are_the_main_row_with_guidance_rescale(webp_dir, evaluators, tmp_path):
    """--ablations rescale: DreamCache rows at the main row's sI ramp and self views, the guided prediction
    rescaled towards e_c's spread by each phi of --rescales."""
    out, res, _ = toy_bench(tmp_path, evaluators, [
        "--webp", webp_dir, "--limit-subjects", "2", "--limit-prompts", "1", "--seeds", "1", "--steps", "2",
        "--rows", "dreamcache", "--image-scale", "3", "--image-scale-end", "1", "--self-views", "flip",
        "--ablations", "rescale", "--rescales", "0.5,1"])
    r = res["results"]
    for name, phi in (("rescale 0.5", 0.5), ("rescale 1", 1.0)):
        assert r[name]["rescale"] == phi and r[name]["views"] == ["flip"] and r[name]["s_img_end"] == 1
        assert r[name]["group"] == "rescale" and r[name]["n"] == 2
    assert r["DreamCache"]["rescale"] == 0.0
    assert r["rescale 0.5"]["dino"] != r["DreamCache"]["dino"] != r["rescale 1"]["dino"]


def test_self_views_are_made_from_the_image_alone():
    from dreamcache.self_views import self_view, with_self_views
    ref = torch.full((2, 3, 20, 20), 1.0)
    ref[:, :, 5:15, 2:8] = -1.0                                  # a dark block left of centre on white
    flip = self_view(ref, "flip")
    assert torch.equal(flip, torch.flip(ref, dims=[-1])) and float(flip[0, 0, 10, 15]) == -1.0
    zoom = self_view(ref, "zoom")
    assert zoom.shape == ref.shape and float(zoom[0, 0, 0, 0]) == 1.0 and float(zoom[0, 0, 10, 5]) < 0
    assert float((zoom < 0).float().sum()) < float((ref < 0).float().sum())   # the subject is smaller
    with pytest.raises(ValueError):
        self_view(ref, "render")
    both = with_self_views(ref, ["flip"])
    assert both.shape == (2, 2, 3, 20, 20) and torch.equal(both[:, 0], ref) and torch.equal(both[:, 1], flip)


def test_parity_can_sample_from_the_runtimes_cache_and_compare_a_subset(tmp_path):
    """--runtime-cache: PyTorch samples from the cache the runtime dumped, so a difference of the cache
    pass and one of the sampling loop can be told apart; --only: a subset, reported beside the full run."""
    out = str(tmp_path / "parity")
    shutil.copytree(FIXTURE, out)
    models = parity.load_models(TINY, None)
    for m in models.unet.modules():
        if getattr(m, "has_adapter", False):
            reset_adapter(m)
    full = parity.compare(models, out)
    with pytest.raises(FileNotFoundError):   # the fixture keeps no cache dumps
        parity.compare(models, out, runtime_cache=True)
    with pytest.raises(ValueError):
        parity.compare(models, out, only=["c99"])
    # dump PyTorch's own cache as the runtime's: sampling from it changes nothing
    case = json.load(open(os.path.join(out, "cases.json")))[0]
    S = models.cfg.vae.sample_size
    ref = parity.from_rgba_bytes(open(os.path.join(out, case["reference"]), "rb").read(), S)[None, None]
    cn = parity.f32(os.path.join(out, f"cachenoise_{case['id']}.f32")).view((1,) + models.latent)
    with torch.no_grad():
        cache = parity.build_caches(models.unet, models.vae, ref, models.empty, 1, cn, models.acp, half_round=True)
    for k, v in cache.items():
        v.numpy().astype("<f4").tofile(os.path.join(out, f"cache_{case['id']}_{k}.f32"))
    same = parity.compare(models, out, runtime_cache=True, only=[case["id"]])
    assert same["report"] == f"parity-runtime-cache-{case['id']}"
    assert os.path.isfile(os.path.join(out, same["report"] + ".md"))
    assert json.load(open(os.path.join(out, "parity.json")))["mean_abs"] == full["mean_abs"], "the full report stays"
    assert same["cache_max_abs"] == 0 and same["mean_abs"] == full["mean_abs"]
    # a different dumped cache reaches the image: the sampler reads the dump, not its own cache (with adapters
    # that use the cache: the cache pass runs at gate 0, so it is the same cache)
    live = parity.load_models(TINY, os.path.join(ROOT, "training", "checkpoints", "adapters-v16-w8"))
    own = parity.compare(live, out, runtime_cache=True)
    for k, v in cache.items():
        (v * 0).numpy().astype("<f4").tofile(os.path.join(out, f"cache_{case['id']}_{k}.f32"))
    moved = parity.compare(live, out, runtime_cache=True)
    assert own["cache_max_abs"] == 0 and moved["cache_max_abs"] > 0 and moved["mean_abs"] != own["mean_abs"]
