"""onnx_export.round_as_int8 (scripts/int8_unet_probe.py, bench and parity --int8-text-encoder) rounds
in PyTorch exactly the weights that the exporter's int8 storage keeps as int8, to the same values, so
what it scores is what an int8 graph runs."""
import copy
import json
import os

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from dreamcache.export import build_models, export_unet, randomize_adapters
from dreamcache.models.config import dev_tiny
from dreamcache.models.unet import is_adapter_param
from dreamcache.onnx_export import (FP16_MIN_ELEMENTS, dequantize_int8, gemm_linears, round_as_int8, round_unet_as_int8,
                                    store_weights_int8)
from test_export import TOKENIZER


def stored_int8(path):
    """{int8 initializer's base name: its dequantized float32 weight, in ONNX layout}."""
    g = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    return {n.output[0]: dequantize_int8(inits[n.input[0]], inits[n.input[1]],
                                         next(a.i for a in n.attribute if a.name == "axis"))
            for n in g.node if n.op_type == "DequantizeLinear"}


def test_rounding_matches_what_the_int8_unet_stores(tmp_path):
    cfg = dev_tiny(len(json.load(open(TOKENIZER))["model"]["vocab"]) + 8)
    unet = build_models(cfg, seed=7)[0].eval()
    randomize_adapters(unet, scale=0.2)
    path = str(tmp_path / "unet.onnx")
    export_unet(unet, cfg, path, 77)
    store_weights_int8(path)
    stored = stored_int8(path)

    x = torch.randn(1, cfg.unet.in_channels, 16, 16)
    ctx = torch.randn(1, 77, cfg.text_encoder.hidden_size)
    gemm = gemm_linears(unet, x, torch.ones(1), ctx, torch.zeros(1), None)
    assert gemm and all("time_emb" in n for n in gemm)       # the time embedding's Linear layers
    rounded = copy.deepcopy(unet)
    names = round_as_int8(rounded, lambda n: True, gemm)
    assert len(names) == len(stored) > 0
    assert any(is_adapter_param(n) for n in names) and any(not is_adapter_param(n) for n in names)
    by_config = copy.deepcopy(unet).train()          # finds the Gemm layers itself, from the config's shapes
    assert round_unet_as_int8(by_config) == names and by_config.training
    assert all(torch.equal(p, q) for p, q in zip(by_config.parameters(), rounded.parameters()))
    onnx_layout = lambda p: p.detach().numpy().T if p.dim() == 2 else p.detach().numpy()  # Linear → MatMul
    params, floats = dict(rounded.named_parameters()), dict(unet.named_parameters())
    unmatched = list(stored.values())
    for n in names:
        w = onnx_layout(params[n])
        hit = next((i for i, s in enumerate(unmatched) if s.shape == w.shape and np.array_equal(s, w)), None)
        assert hit is not None, f"{n}: rounded differently from the stored int8 weight"
        unmatched.pop(hit)
        assert not np.array_equal(w, onnx_layout(floats[n]))   # the rounding is real
    # only what `take` selects is rounded
    adapters_only = copy.deepcopy(unet)
    taken = round_as_int8(adapters_only, is_adapter_param, gemm)
    assert taken == [n for n in names if is_adapter_param(n)]
    base = dict(unet.named_parameters())
    for n, p in adapters_only.named_parameters():
        assert torch.equal(p, base[n]) == (n not in taken)


def test_rounded_text_encoder_is_what_the_int8_text_encoder_graph_runs(tmp_path):
    from dreamcache.export import export_pack
    from test_export import max_diff, run_ort
    cfg = dev_tiny(len(json.load(open(TOKENIZER))["model"]["vocab"]) + 8)
    models = build_models(cfg, seed=9)
    meta = {"name": "int8-te-test", "version": "0.0.1", "trained": False}
    export_pack(str(tmp_path / "p"), cfg, *models, TOKENIZER, meta, fp16_storage=True, int8_roles=["text_encoder"])
    te = models[2].eval()
    rounded = copy.deepcopy(te)
    names = round_as_int8(rounded)
    assert len(names) == len(stored_int8(str(tmp_path / "p" / "text_encoder.onnx"))) > 0
    # the pack keeps the rest in float16: random float32 weights round there too (trained checkpoints are
    # bf16, which float16 holds but for the tiniest values), so only the int8 part is compared
    for n, p in rounded.named_parameters():
        if n not in names and p.numel() >= FP16_MIN_ELEMENTS:
            p.data = p.data.half().float()
    ids = torch.randint(0, cfg.text_encoder.vocab_size, (1, 77), generator=torch.Generator().manual_seed(2))
    out = run_ort(str(tmp_path), str(tmp_path / "p" / "text_encoder.onnx"), {"input_ids": ids.numpy()},
                  ["last_hidden_state"])["last_hidden_state"]
    with torch.no_grad():
        assert max_diff(out, rounded(ids)) < 1e-4
        assert max_diff(out, te(ids)) > 1e-4            # the rounding is real


def test_int8_unet_probe_splits_the_rounding_between_base_and_adapters(tmp_path):
    import sys
    from test_train import WEBP
    from weights_fixture import dev_tiny_weights
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import int8_unet_probe
    dev_tiny_weights(str(tmp_path / "w"), every_adapter_tensor=True)
    rows = int8_unet_probe.main(["--weights", str(tmp_path / "w"), "--preset", "dev-tiny", "--tokenizer", TOKENIZER,
                                 "--webp", WEBP, "--cases", "2", "--steps", "2", "--image-scale", "8"])
    every, base, adapters = (rows[k] for k in ("all (--int8-storage unet)", "base only, adapters float",
                                                "adapters only"))
    assert base["tensors"] > 0 and adapters["tensors"] > 0
    assert every["tensors"] == base["tensors"] + adapters["tensors"]
    assert all(len(r["mean_abs"]) == 2 for r in rows.values())
    assert every["max_abs"] > 0                     # rounding every weight moves the images
    assert torch.is_grad_enabled()                  # the probe leaves the process's grad mode as it was


def test_bench_and_parity_int8_unet_round_every_stored_int8_weight(tmp_path):
    """--int8-unet (bench and parity) scores the U-Net as `--int8-storage unet` stores it: every weight that
    round_as_int8 takes, base and adapters, and not the time embedding's Gemm layers."""
    from weights_fixture import dev_tiny_weights
    from dreamcache.eval.parity import load_models
    dev_tiny_weights(str(tmp_path / "w"), every_adapter_tensor=True)
    flt = load_models(str(tmp_path / "w"), None, "dev-tiny", TOKENIZER)
    q = load_models(str(tmp_path / "w"), None, "dev-tiny", TOKENIZER, int8_unet=True)
    expect = copy.deepcopy(flt.unet)
    x = torch.zeros((1,) + flt.latent)
    names = set(round_as_int8(expect, gemm=gemm_linears(expect, x, torch.ones(1), flt.empty, torch.zeros(1), None)))
    assert any(is_adapter_param(n) for n in names) and any(not is_adapter_param(n) for n in names)
    want, got, base = (dict(m.named_parameters()) for m in (expect, q.unet, flt.unet))
    for n in want:
        assert torch.equal(got[n], want[n]), n
        assert torch.equal(got[n], base[n]) == (n not in names), n
    assert not any("time_emb" in n for n in names)
    for a, b in zip(q.te.parameters(), flt.te.parameters()):    # the text encoder stays as it was asked
        assert torch.equal(a, b)


def test_int8_base_trains_adapters_against_the_base_the_int8_pack_runs(tmp_path):
    """train.adapters --int8-base: the frozen U-Net's weights and the text encoder are rounded exactly as the
    bench's --int8-unet / --int8-text-encoder round them (what `--int8-storage unet,text_encoder` stores), the
    adapters are left float to learn, and the run records the flag."""
    from test_adapter_width import write_weights
    from test_train import WEBP
    from dreamcache.eval.parity import load_models
    from dreamcache.train import adapters as adapter_trainer
    base = str(tmp_path / "base")
    write_weights(base, 1)
    from dreamcache.export import tokenizer_meta
    vocab = tokenizer_meta(json.load(open(TOKENIZER)))["vocabSize"]
    torch.manual_seed(3)             # the same fresh adapters in both
    _, unet, te = adapter_trainer.load_base(base, "dev-tiny", vocab, "cpu", 1, int8_base=True)
    torch.manual_seed(3)
    _, unet_f, te_f = adapter_trainer.load_base(base, "dev-tiny", vocab, "cpu", 1)
    bench = load_models(base, None, "dev-tiny", TOKENIZER, int8_text_encoder=True, int8_unet=True)
    rounded, fresh, want = (dict(m.named_parameters()) for m in (unet, unet_f, bench.unet))
    changed = [n for n in rounded if not torch.equal(rounded[n], fresh[n])]
    assert changed and not any(is_adapter_param(n) for n in changed)
    for n in rounded:
        if not is_adapter_param(n):
            assert torch.equal(rounded[n], want[n]), n
    assert all(p.requires_grad == is_adapter_param(n) for n, p in unet.named_parameters())
    for n, p in te.named_parameters():
        assert torch.equal(p, dict(bench.te.named_parameters())[n]), n
    assert any(not torch.equal(a, b) for a, b in zip(te.parameters(), te_f.parameters()))
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    out = tmp_path / "run"
    adapter_trainer.main(["--webp", WEBP, "--base", base, "--preset", "dev-tiny", "--out", str(out), "--batch", "2",
                          "--log-every", "1", "--max-steps", "1", "--int8-base"])
    assert json.load(open(out / "adapters.json"))["int8_base"] is True
    assert '"int8_base": true' in open(out / "log.jsonl").read()
