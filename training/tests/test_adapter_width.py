"""Wider DreamCache adapters (UNetConfig.adapter_width): a fresh wide adapter is exactly the base
model and learns, every attention backend runs it, a wide pack exports (fused MultiHeadAttention
with the wider head count) and matches PyTorch in onnxruntime, the width travels through
adapters.json, and width 1 leaves configs and manifests as they were."""
import json
import os

import onnx
import pytest
import torch

from dreamcache import pack_check
from dreamcache.adapter_width import AdapterWidthError, grow_adapters, read_adapter_width
from dreamcache.export import build_models, main as export_main, tokenizer_meta
from dreamcache.models import UNet, is_adapter_param
from dreamcache.models.attention import _HAS_SDPA, attention_backend, set_attention_backend
from dreamcache.models.config import dev_tiny, tiny
from dreamcache.models.unet import reset_adapter
from dreamcache.train import adapters as adapter_trainer
from dreamcache.train.common import Checkpoint, load_split, save_split
from test_export import ROOT, TOKENIZER, max_diff, run_ort, unet_case
from test_models import perturb_adapters, random_inputs, small_unet


def with_base_of(width, seed=0):
    """A width-`width` U-Net carrying a base U-Net's weights, and that base."""
    base = small_unet(adapters=False, seed=seed)
    full = small_unet(width=width, seed=seed + 1)
    missing, unexpected = full.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(is_adapter_param(k) for k in missing)
    return full, base


@pytest.fixture
def backend():
    before = attention_backend()
    yield set_attention_backend
    set_attention_backend(before)


def test_wide_memory_attention_has_more_heads_of_the_same_size():
    unet = small_unet(width=2)
    blocks = [m for m in unet.modules() if getattr(m, "has_adapter", False)]
    assert len(blocks) == 4
    for b in blocks:
        assert b.attn_mem.heads == 2 * b.attn1.heads
        assert b.attn_mem.to_q.out_features == 2 * b.attn1.to_q.out_features
        assert b.proj_mem.weight.shape == (b.attn1.to_q.in_features, 2 * b.attn1.to_q.in_features)


@pytest.mark.parametrize("name", ["math", "mha", "sdpa"])
def test_fresh_wide_adapter_is_exactly_the_base_model(name, backend):
    if name == "sdpa" and not _HAS_SDPA:
        pytest.skip("sdpa needs torch >= 2")
    backend(name)
    full, base = with_base_of(2)
    x, t, ctx, caches = random_inputs(full)
    with torch.no_grad():
        assert torch.equal(full(x, t, ctx, torch.ones(3), caches), base(x, t, ctx))


def test_reset_restores_a_wide_adapter_to_the_base_model():
    full, base = with_base_of(2)
    perturb_adapters(full)
    x, t, ctx, caches = random_inputs(full)
    with torch.no_grad():
        assert (full(x, t, ctx, torch.ones(3), caches) - base(x, t, ctx)).abs().max() > 1e-3
        for m in full.modules():
            if getattr(m, "has_adapter", False):
                reset_adapter(m)
        assert torch.equal(full(x, t, ctx, torch.ones(3), caches), base(x, t, ctx))


def test_backends_agree_on_a_wide_adapter(backend):
    full, _ = with_base_of(2)
    perturb_adapters(full)
    x, t, ctx, caches = random_inputs(full)
    out = {}
    for name in ("math", "mha") + (("sdpa",) if _HAS_SDPA else ()):
        backend(name)
        with torch.no_grad():
            out[name] = full(x, t, ctx, torch.ones(3), caches)
    for name, y in out.items():
        assert max_diff(y, out["math"]) < 1e-5, name


def test_tiny_adapter_parameter_counts():
    # per cached layer of C channels: (4·width + 2)·C² + 4·C (q, k, v, out; proj_mem; norm, biases)
    counts = {}
    for w in (1, 2, 4):
        cfg = tiny(4096).unet
        cfg.adapter_width = w
        counts[w] = sum(p.numel() for p in UNet(cfg).adapter_parameters())
    assert counts == {1: 370_432, 2: 616_192, 4: 1_107_712}


def test_width_one_leaves_configs_and_manifests_as_they_were():
    assert "adapter_width" not in tiny(4096).unet.to_dict()
    cfg = dev_tiny(100).unet
    cfg.adapter_width = 3
    assert cfg.to_dict()["adapter_width"] == 3
    # the committed packs: the preset's config at the width they record (none recorded = width 1)
    for pack, preset in (("dev-tiny", dev_tiny), ("tiny-emoji", tiny)):
        path = os.path.join(ROOT, "public", "models", pack, "manifest.json")
        if os.path.isfile(path):
            recorded = json.load(open(path))["unet"]["config"]
            want = preset(100).unet
            want.adapter_width = recorded.get("adapter_width", 1)
            assert json.loads(json.dumps(want.to_dict())) == recorded, pack


def write_weights(folder, adapter_width, adapters_json=True, seed=5):
    """A trainer-style weights folder for dev-tiny: random base parts + vae.json, and adapters of
    the given width (perturbed so the memory path matters). Returns the in-memory U-Net."""
    tok = json.load(open(TOKENIZER))
    cfg = dev_tiny(tokenizer_meta(tok)["vocabSize"])
    cfg.unet.adapter_width = adapter_width
    unet, vae, te, seg = build_models(cfg, seed)
    perturb_adapters(unet)
    sd = unet.state_dict()
    save_split({k: v for k, v in sd.items() if not is_adapter_param(k)}, folder, "unet", dtype=None)
    save_split({k: v for k, v in sd.items() if is_adapter_param(k)}, folder, "adapters", dtype=None)
    for stem, m in (("vae", vae), ("text_encoder", te), ("segmenter", seg)):
        save_split(m.state_dict(), folder, stem, dtype=None)
    json.dump({"scaling_factor": cfg.vae.scaling_factor, "config": cfg.vae.to_dict()},
              open(os.path.join(folder, "vae.json"), "w"))
    if adapters_json:
        json.dump({"step": 3, "adapter_width": adapter_width}, open(os.path.join(folder, "adapters.json"), "w"))
    return unet.eval(), cfg


def test_wide_pack_exports_fused_records_its_width_and_matches_pytorch(tmp_path, backend):
    weights = str(tmp_path / "weights")
    unet, cfg = write_weights(weights, 2)
    backend("mha")
    pack = str(tmp_path / "pack")
    export_main(["--preset", "dev-tiny", "--weights", weights, "--tokenizer", TOKENIZER, "--out", pack,
                 "--name", "wide-test"])
    assert pack_check.check_pack(pack) == []
    m = json.load(open(os.path.join(pack, "manifest.json")))
    assert m["unet"]["config"]["adapter_width"] == 2
    assert m["unet"]["adapterParameters"] == sum(p.numel() for p in unet.adapter_parameters())

    heads = [next(a.i for a in n.attribute if a.name == "num_heads")
             for n in onnx.load(os.path.join(pack, "unet.onnx")).graph.node if n.op_type == "MultiHeadAttention"]
    n_attn = sum(1 for x in unet.modules() if type(x).__name__ == "Attention")
    assert len(heads) == n_attn and heads.count(4) == 4 and heads.count(2) == n_attn - 4

    args, inputs = unet_case(m["cache"]["layers"], cfg.text_encoder.hidden_size)
    backend("math")
    with torch.no_grad():
        ref = unet(*args)
    out = run_ort(str(tmp_path), os.path.join(pack, "unet.onnx"), inputs, ["noise_pred"])
    assert max_diff(out["noise_pred"], ref) < 1e-4


def test_width_is_read_from_adapters_json_or_the_tensors(tmp_path):
    run = tmp_path / "run"
    weights = str(run / "weights")
    write_weights(weights, 2, adapters_json=False)
    assert read_adapter_width(weights) == 2                     # from the tensors alone
    json.dump({"step": 1, "adapter_width": 2}, open(run / "adapters.json", "w"))
    assert read_adapter_width(weights) == 2                     # the trainer's layout: json one level up
    json.dump({"step": 1, "adapter_width": 1}, open(run / "adapters.json", "w"))
    with pytest.raises(AdapterWidthError, match="records adapter_width 1 but .* width 2"):
        read_adapter_width(weights)
    assert read_adapter_width(str(tmp_path)) == 1               # no adapters at all


def test_trainer_refuses_a_width_that_does_not_match_its_weights(tmp_path):
    init = str(tmp_path / "init")
    write_weights(init, 2)
    # fails on the width, before the (absent) base weights or subject art are touched; 3 is no
    # multiple of 2 and 1 is narrower, so neither can grow from these weights
    for bad in ("3", "1"):
        with pytest.raises(AdapterWidthError, match=rf"--adapter-width {bad} does not match --init-from .*width-2"):
            adapter_trainer.main(["--webp", str(tmp_path / "none"), "--base", str(tmp_path / "none"), "--preset",
                                  "dev-tiny", "--out", str(tmp_path / "out"), "--init-from", init,
                                  "--adapter-width", bad])
    assert adapter_trainer.run_width(4, Checkpoint(str(tmp_path / "fresh")), init) == 4   # grows
    ck = Checkpoint(str(tmp_path / "resumed" / "ckpt"))
    ck.save(step=10)                                              # a checkpoint from before the field: width 1
    with pytest.raises(AdapterWidthError, match="--adapter-width 4 does not match the run's checkpoint"):
        adapter_trainer.run_width(4, ck, None)
    assert adapter_trainer.run_width(None, ck, None) == 1
    assert adapter_trainer.run_width(None, Checkpoint(str(tmp_path / "fresh")), init) == 2
    assert adapter_trainer.run_width(3, Checkpoint(str(tmp_path / "fresh")), None) == 3


def adapter_state(unet):
    return adapter_trainer.AdapterState(unet).state()


@pytest.mark.parametrize("width", [2, 4])
def test_trained_narrow_adapter_grows_into_a_wide_one_that_computes_the_same(width):
    narrow, base = with_base_of(1, seed=4)
    perturb_adapters(narrow)                                      # a "trained" width-1 adapter
    wide, _ = with_base_of(width, seed=4)
    grown = grow_adapters({k: v.detach() for k, v in adapter_state(narrow).items()}, adapter_state(wide))
    wide.load_state_dict(grown, strict=False)
    x, t, ctx, caches = random_inputs(wide)
    with torch.no_grad():
        want = narrow(x, t, ctx, torch.ones(3), caches)
        assert (want - base(x, t, ctx)).abs().max() > 1e-3         # the adapter does something
        assert max_diff(wide(x, t, ctx, torch.ones(3), caches), want) < 1e-5
    # the new heads learn at once: their to_out columns get gradients although they start at zero
    wide.train()
    wide(x, t, ctx, torch.ones(3), caches).pow(2).mean().backward()
    for n, p in adapter_state(wide).items():
        if n.endswith("attn_mem.to_out.0.weight"):
            c = p.shape[0]
            assert torch.count_nonzero(p[:, c:]) == 0 and p.grad[:, c:].abs().max() > 0


def test_growing_refuses_weights_it_cannot_place():
    narrow, _ = with_base_of(2)
    wide, _ = with_base_of(3)
    with pytest.raises(AdapterWidthError, match="width-2 adapters cannot grow into width 3"):
        grow_adapters(adapter_state(narrow), adapter_state(wide))
    one, _ = with_base_of(1)
    partial = dict(list(adapter_state(one).items())[1:])
    with pytest.raises(AdapterWidthError, match="tensor names differ"):
        grow_adapters(partial, adapter_state(with_base_of(2)[0]))


def test_bench_and_parity_build_the_width_of_their_adapters(tmp_path):
    from dreamcache.eval import parity
    base = str(tmp_path / "base")
    write_weights(base, 1)                                        # base folder with its own width-1 adapters
    wide = small_unet(width=2, seed=9)
    perturb_adapters(wide)
    run = tmp_path / "run"
    save_split({k: v for k, v in wide.state_dict().items() if is_adapter_param(k)}, str(run / "weights"), "adapters",
               dtype=None)
    json.dump({"step": 5, "adapter_width": 2}, open(run / "adapters.json", "w"))
    models = parity.load_models(base, str(run / "weights"), preset="dev-tiny", tokenizer=TOKENIZER)
    assert models.cfg.unet.adapter_width == 2
    got = {k: v for k, v in models.unet.state_dict().items() if is_adapter_param(k)}
    assert all(torch.equal(got[k], v) for k, v in wide.state_dict().items() if is_adapter_param(k))


def test_a_fresh_wide_run_records_its_width_and_resumes_at_it(tmp_path):
    from test_train import WEBP
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    base = str(tmp_path / "base")
    write_weights(base, 1)
    out = tmp_path / "run"
    args = ["--webp", WEBP, "--base", base, "--preset", "dev-tiny", "--out", str(out), "--batch", "2",
            "--log-every", "1"]
    adapter_trainer.main(args + ["--max-steps", "1", "--adapter-width", "2"])
    meta = json.load(open(out / "adapters.json"))
    assert meta["adapter_width"] == 2 and meta["adapter_parameters"] > 0
    assert read_adapter_width(str(out / "weights")) == 2
    adapter_trainer.main(args + ["--max-steps", "2"])              # resumes at width 2 without the flag
    assert [json.loads(l)["step"] for l in open(out / "log.jsonl") if '"done"' in l] == [1, 2]
    with pytest.raises(AdapterWidthError, match="--adapter-width 1 does not match the run's checkpoint"):
        adapter_trainer.main(args + ["--max-steps", "3", "--adapter-width", "1"])


def test_trainer_grows_init_weights_into_a_wider_run(tmp_path):
    from test_train import WEBP
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    base = str(tmp_path / "base")
    write_weights(base, 1)
    json.dump({"step": 7, "adapter_width": 1}, open(os.path.join(base, "adapters.json"), "w"))
    out = tmp_path / "grown"
    adapter_trainer.main(["--webp", WEBP, "--base", base, "--preset", "dev-tiny", "--out", str(out), "--batch", "2",
                          "--log-every", "1", "--init-from", base, "--adapter-width", "2", "--max-steps", "8",
                          "--lr", "0"])
    meta = json.load(open(out / "adapters.json"))
    assert meta["adapter_width"] == 2 and meta["step"] == 8        # the step count continues
    narrow, wide = load_split(base, "adapters"), load_split(str(out / "weights"), "adapters")
    for name, old in narrow.items():                               # lr 0: the grown start, saved in bf16
        new, old = wide[name].float(), old.bfloat16().float()
        close = dict(rtol=1e-2, atol=1e-3)
        if name.endswith("attn_mem.to_out.0.weight"):
            assert torch.allclose(new[:, :old.shape[1]], old, **close) and torch.count_nonzero(new[:, old.shape[1]:]) == 0
        else:
            assert torch.allclose(new[:old.shape[0]], old, **close), name
