"""The "mha" attention backend: every U-Net attention exports as one
com.microsoft::MultiHeadAttention node (the fused kernel onnxruntime-web runs on WebGPU and
wasm), and the graph still matches PyTorch in onnxruntime-web."""
import os

import onnx
import pytest
import torch

from dreamcache.export import build_models, export_pack, randomize_adapters
from dreamcache.models.attention import attention_backend, set_attention_backend
from dreamcache.models.config import dev_tiny
from test_export import TOKENIZER, max_diff, run_ort, unet_case


@pytest.fixture
def mha_backend():
    before = attention_backend()
    set_attention_backend("mha")
    yield
    set_attention_backend(before)


def test_mha_export_is_fused_and_matches_pytorch(tmp_path, mha_backend):
    import json
    tok = json.load(open(TOKENIZER))
    cfg = dev_tiny(len(tok["model"]["vocab"]) + 8)
    unet, vae, te, seg = build_models(cfg, seed=7)
    randomize_adapters(unet, scale=0.2)
    pack = str(tmp_path / "pack")
    manifest = export_pack(pack, cfg, unet, vae, te, seg, TOKENIZER, {"name": "mha-test", "version": "0.0.1", "trained": False})
    g = onnx.load(os.path.join(pack, "unet.onnx")).graph
    ops = [n.op_type for n in g.node]
    n_attn = sum(1 for m in unet.modules() if type(m).__name__ == "Attention")
    assert ops.count("MultiHeadAttention") == n_attn > 0
    assert "Softmax" not in ops  # no unfused attention left in the U-Net

    layers = manifest["cache"]["layers"]
    args, inputs = unet_case(layers, cfg.text_encoder.hidden_size)
    set_attention_backend("math")  # the reference: plain attention in torch
    with torch.no_grad():
        ref, feats = unet(*args, return_features=True)
    names = [l["name"] for l in layers]
    out = run_ort(str(tmp_path), os.path.join(pack, "unet.onnx"), inputs, ["noise_pred"] + [f"features_{n}" for n in names])
    assert max_diff(out["noise_pred"], ref) < 1e-4
    for n in names:
        assert max_diff(out[f"features_{n}"], feats[n]) < 1e-4
