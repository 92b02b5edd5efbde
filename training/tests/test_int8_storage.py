"""int8 weight storage (onnx_export.store_weights_int8, export --int8-storage): what onnxruntime-web
computes from the stored graph is what PyTorch computes from conv_state_as_stored's weights, so the
IoU scripts/seg_post_eval.py --storage reports is the app's. CPU, seconds."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from dreamcache import pack_check
from dreamcache.export import build_models, export_pack
from dreamcache.export import main as export_main
from dreamcache.models.config import dev_tiny
from dreamcache.onnx_export import conv_state_as_stored, dequantize_int8, quantize_int8
from test_export import TOKENIZER, max_diff, run_ort


def test_quantize_int8_is_symmetric_per_output_channel():
    g = torch.Generator().manual_seed(0)
    w = (torch.randn(6, 3, 3, 3, generator=g) * torch.tensor([1e-4, 1e-2, 1, 10, 0, 3]).view(6, 1, 1, 1)).numpy()
    q, scale = quantize_int8(w, 0)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (6,)
    # each filter's largest weight maps to ±127; a small filter keeps its own resolution
    assert list(np.abs(q).reshape(6, -1).max(1)) == [127, 127, 127, 127, 0, 127]
    back = dequantize_int8(q, scale, 0)
    err = np.abs(back - w).reshape(6, -1).max(1)
    assert np.all(err <= scale / 2 + 1e-12)
    assert np.all(back[4] == 0)          # an all-zero filter stays zero (scale 1, not 0)
    # another axis: one scale per column of a MatMul weight
    m = np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)
    q2, s2 = quantize_int8(m, 1)
    assert s2.shape == (7,) and np.allclose(dequantize_int8(q2, s2, 1), m, atol=float(s2.max()) / 2 + 1e-7)


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("int8"))
    tok = json.load(open(TOKENIZER))
    cfg = dev_tiny(len(tok["model"]["vocab"]) + 8)
    models = build_models(cfg, seed=3)
    meta = {"name": "int8-test", "version": "0.0.1", "trained": False}
    half = export_pack(os.path.join(tmp, "half"), cfg, *models, TOKENIZER, meta, fp16_storage=True)
    q = export_pack(os.path.join(tmp, "q"), cfg, *models, TOKENIZER, meta, fp16_storage=True,
                    int8_roles=["segmenter"])
    return tmp, cfg, models, half, q


def test_int8_segmenter_pack_keeps_the_contract_and_shrinks(packs):
    tmp, _, _, half, q = packs
    assert pack_check.check_pack(os.path.join(tmp, "q")) == []
    assert q["int8Weights"] == ["segmenter"] and "int8Weights" not in half
    size = lambda m, p: next(f["bytes"] for f in m["files"] if f["path"] == p)
    # dev-tiny's narrow segmenter keeps many weights under INT8_MIN_ELEMENTS as float16 (0.56 for v5)
    assert size(q, "segmenter.onnx") < 0.75 * size(half, "segmenter.onnx")
    for role in ("unet", "text_encoder", "vae_encoder", "vae_decoder"):   # only the named graph changes
        assert size(q, f"{role}.onnx") == size(half, f"{role}.onnx")
    g = onnx.load(os.path.join(tmp, "q", "segmenter.onnx")).graph
    deq = [n for n in g.node if n.op_type == "DequantizeLinear"]
    ints = {i.name for i in g.initializer if i.data_type == onnx.TensorProto.INT8}
    assert deq and all(n.input[0] in ints for n in deq)
    # the device check sees the float32 the runtime holds, as for float16 + Cast
    largest = lambda m: next(f["largestTensorBytes"] for f in m["files"] if f["path"] == "segmenter.onnx")
    assert largest(q) == largest(half)


def test_onnxruntime_web_runs_what_conv_state_as_stored_scores(packs):
    tmp, _, (_, _, _, seg), _, _ = packs
    photo = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(4))
    out = run_ort(tmp, os.path.join(tmp, "q", "segmenter.onnx"), {"image": photo[:1].numpy()}, ["mask"])["mask"]
    stored = type(seg)(seg.config).eval()
    stored.load_state_dict(conv_state_as_stored(seg.state_dict(), fp16=True, int8=True))
    with torch.no_grad():
        assert max_diff(out, stored(photo[:1])) < 1e-4
        # and the rounding is real: the float32 net differs by more than the runtime tolerance
        assert max_diff(out, seg(photo[:1])) > 1e-4


def test_unknown_int8_role_is_refused_before_the_folder_is_touched(packs, tmp_path):
    _, cfg, models, _, _ = packs
    out = tmp_path / "keep"
    out.mkdir()
    (out / "mine.txt").write_text("user file")
    with pytest.raises(ValueError, match="no graph role segmentor"):
        export_pack(str(out), cfg, *models, TOKENIZER, {"name": "x"}, int8_roles=["segmentor"])
    assert (out / "mine.txt").read_text() == "user file"
    with pytest.raises(SystemExit):     # the command line says it as a usage error
        export_main(["--preset", "dev-tiny", "--random", "--tokenizer", TOKENIZER, "--out", str(out),
                     "--int8-storage", "segmenter,segmentor"])
    assert sorted(os.listdir(out)) == ["mine.txt"]


def test_seg_post_eval_scores_the_stored_weights_and_scales(tmp_path):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import seg_post_eval
    from test_train import WEBP
    ckpt = os.path.join(os.path.dirname(__file__), "..", "checkpoints", "segmenter-v5")
    out = tmp_path / "r.json"
    seg_post_eval.main(["--ckpt", ckpt, "--webp", WEBP, "--batches", "1", "--batch", "2", "--validation-only",
                        "--storage", "int8+float16", "--scales", "1.25", "--out", str(out)])
    r = json.load(open(out))
    assert r["storage"] == "int8+float16" and r["scales"] == [1.25]
    val = r["validation_train_subjects_train_scenes"]
    assert 0 < val["flip"] <= 1 and 0 < val["flip+x1.25"] <= 1
    with pytest.raises(SystemExit):
        seg_post_eval.main(["--ckpt", ckpt, "--webp", WEBP, "--scales", "big"])
