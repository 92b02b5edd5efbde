"""Bottleneck context blocks for the segmenter (--context-layers): blocks added to trained weights
start as the identity, learn, are recorded and resumed, refused when they disagree, and export to a
segmenter.onnx that onnxruntime-web runs like PyTorch. CPU, seconds."""
import json

import numpy as np
import pytest
import torch

from dreamcache import pack_check
from dreamcache.export import main as export_main
from dreamcache.models import Segmenter
from dreamcache.models.config import SegmenterConfig
from dreamcache.segmenter_channels import SegmenterChannelsError, context_of_tensors, read_segmenter_config
from dreamcache.train import segmenter
from dreamcache.train.common import load_split, save_split
from test_export import run_ort
from test_segmenter_channels import TOKENIZER, tiny_trainer_args, write_dev_tiny_weights

DEV = dict(input_size=128, channels=(8, 16, 32))    # dev-tiny's segmenter


def trained_like(cfg: SegmenterConfig, seed: int) -> Segmenter:
    """A segmenter with every weight random (as if trained), zero-initialised outputs included."""
    seg = Segmenter(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in seg.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return seg.eval()


def test_new_blocks_start_as_identity_then_learn():
    base = trained_like(SegmenterConfig(**DEV), 1)
    grown = Segmenter(SegmenterConfig(**DEV, context_layers=2))
    missing, unexpected = grown.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("context.") for k in missing)
    grown.eval()
    photo = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(grown(photo), base(photo))
    # the zero outputs get gradients at once; the attention's own weights once those move
    grown.train()
    grown.logits(photo).mean().backward()
    assert grown.context[0].out.weight.grad.abs().sum() > 0
    assert grown.context[1].ff2.weight.grad.abs().sum() > 0


def test_trainer_grows_records_resumes_refuses_and_exports(tmp_path):
    common = tiny_trainer_args()
    plain = str(tmp_path / "plain")
    segmenter.main(common + ["--out", plain, "--max-steps", "1"])
    assert context_of_tensors(load_split(f"{plain}/weights", "segmenter")) == 0

    grown = str(tmp_path / "grown")
    segmenter.main(common + ["--out", grown, "--max-steps", "1", "--init-from", f"{plain}/weights",
                             "--context-layers", "2"])
    meta = json.load(open(f"{grown}/segmenter.json"))
    assert meta["config"]["context_layers"] == 2 and meta["config"]["context_heads"] == 4
    w = load_split(f"{grown}/weights", "segmenter")
    assert context_of_tensors(w) == 2
    # one AdamW step in, the new blocks' zero-initialised outputs have moved
    assert w["context.0.out.weight"].abs().sum() > 0
    # resumed without the flag keeps 2; another count is refused, as is losing blocks on --init-from
    segmenter.main(common + ["--out", grown, "--max-steps", "2"])
    assert context_of_tensors(load_split(f"{grown}/weights", "segmenter")) == 2
    with pytest.raises(SegmenterChannelsError, match="--context-layers 1 does not match the run's checkpoint"):
        segmenter.main(common + ["--out", grown, "--max-steps", "3", "--context-layers", "1"])
    with pytest.raises(SegmenterChannelsError, match="can gain blocks, not lose them"):
        segmenter.main(common + ["--out", str(tmp_path / "c"), "--init-from", f"{grown}/weights",
                                 "--context-layers", "0"])

    # the exporter builds the blocks from the weights folder; onnxruntime-web matches PyTorch
    weights = str(tmp_path / "weights")
    write_dev_tiny_weights(weights, f"{grown}/weights")
    cfg = read_segmenter_config(weights, SegmenterConfig(input_size=128))
    assert cfg.context_layers == 2 and cfg.channels == DEV["channels"]
    pack = str(tmp_path / "pack")
    export_main(["--preset", "dev-tiny", "--weights", weights, "--tokenizer", TOKENIZER, "--out", pack,
                 "--name", "context-seg-test"])
    assert pack_check.check_pack(pack) == []
    seg = Segmenter(cfg).eval()
    seg.load_state_dict({k: v.float() for k, v in load_split(weights, "segmenter").items()})
    photo = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(4))
    out = run_ort(str(tmp_path), f"{pack}/segmenter.onnx", {"image": photo.numpy()}, ["mask"])
    with torch.no_grad():
        assert float(np.abs(out["mask"] - seg(photo).numpy()).max()) < 1e-4

    json.dump({"config": {**DEV, "channels": list(DEV["channels"]), "context_layers": 1}},
              open(f"{weights}/segmenter.json", "w"))
    with pytest.raises(SegmenterChannelsError, match="records 1 context blocks but segmenter.partNN has 2"):
        read_segmenter_config(weights, SegmenterConfig(input_size=128))
