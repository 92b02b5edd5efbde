"""A wider segmenter from a flag: --channels on the trainer (fresh runs; recorded in the checkpoint
and segmenter.json), refused against resumed or --init-from weights of other widths, and the
exporter building the segmenter at the weights folder's widths. CPU, seconds."""
import json
import os
import shutil

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from dreamcache import pack_check
from dreamcache.export import build_models, main as export_main, tokenizer_meta
from dreamcache.models import Segmenter
from dreamcache.models.config import SegmenterConfig, dev_tiny
from dreamcache.segmenter_channels import (SegmenterChannelsError, channels_of_tensors, parse_channels,
                                           read_channels, validate_channels)
from dreamcache.train import segmenter
from dreamcache.train.common import load_split, save_split
from test_export import run_ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")
TOKENIZER = os.path.join(ROOT, "training", "data", "tokenizer.json")
WIDE = (16, 24, 48)                     # dev-tiny's preset is (8, 16, 32)


def test_channels_parse_validate_and_read_from_tensors(tmp_path):
    assert parse_channels("24,48,96,144") == (24, 48, 96, 144)
    assert validate_channels((24, 48, 96, 144), 128) == (24, 48, 96, 144)
    with pytest.raises(SegmenterChannelsError, match="comma-separated integers"):
        parse_channels("24;48")
    with pytest.raises(SegmenterChannelsError, match="width 36 does not split"):
        validate_channels((16, 36), 128)        # GroupNorm(8, 36)
    with pytest.raises(SegmenterChannelsError, match="not whole"):
        validate_channels((8,) * 9, 128)
    seg = Segmenter(SegmenterConfig(input_size=128, channels=WIDE))
    assert channels_of_tensors(seg.state_dict()) == WIDE
    folder = str(tmp_path / "run" / "weights")
    save_split(seg.state_dict(), folder, "segmenter", dtype=torch.float32)
    assert read_channels(folder, 128) == WIDE                       # no segmenter.json: the tensors
    json.dump({"config": {"input_size": 128, "channels": list(WIDE)}}, open(tmp_path / "run" / "segmenter.json", "w"))
    assert read_channels(folder, 128) == WIDE                       # the trainer's layout: json one up
    json.dump({"config": {"input_size": 128, "channels": [8, 16, 32]}}, open(tmp_path / "run" / "segmenter.json", "w"))
    with pytest.raises(SegmenterChannelsError, match="records channels 8,16,32 but .* channels 16,24,48"):
        read_channels(folder, 128)


def write_dev_tiny_weights(folder: str, seg_weights: str) -> None:
    """A --weights folder as the trainers write it: random dev-tiny VAE/U-Net/text encoder plus
    the trained segmenter run's parts (without its segmenter.json: the tensors decide)."""
    vocab = tokenizer_meta(json.load(open(TOKENIZER)))["vocabSize"]
    unet, vae, te, _ = build_models(dev_tiny(vocab), seed=3)
    for stem, m in (("unet", unet), ("vae", vae), ("text_encoder", te)):
        save_split(m.state_dict(), folder, stem, dtype=torch.float32)
    json.dump({"scaling_factor": 0.5}, open(os.path.join(folder, "vae.json"), "w"))
    for f in os.listdir(seg_weights):
        shutil.copy(os.path.join(seg_weights, f), folder)


def tiny_trainer_args() -> list:
    """Segmenter trainer arguments for one-step CPU runs on dev-tiny; skips without the subject art."""
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    return ["--webp", WEBP, "--preset", "dev-tiny", "--log-every", "1", "--batch", "4", "--eval-batches", "1",
            "--size", "64", "--distractors", "0"]


def test_wide_fresh_run_records_exports_and_refuses_mismatches(tmp_path):
    common = tiny_trainer_args()
    run = str(tmp_path / "wide")
    segmenter.main(common + ["--out", run, "--max-steps", "1", "--channels", ",".join(map(str, WIDE))])
    meta = json.load(open(f"{run}/segmenter.json"))
    assert meta["config"] == {"input_size": 128, "channels": list(WIDE), "context_layers": 0, "context_heads": 4}
    assert torch.load(f"{run}/ckpt/state.pt")["config"]["channels"] == WIDE
    assert channels_of_tensors(load_split(f"{run}/weights", "segmenter")) == WIDE

    # a resumed run keeps the checkpoint's widths without the flag and refuses another flag
    segmenter.main(common + ["--out", run, "--max-steps", "2"])
    assert [json.loads(l)["step"] for l in open(f"{run}/log.jsonl") if '"done"' in l] == [1, 2]
    with pytest.raises(SegmenterChannelsError, match="--channels 8,16,32 does not match the run's checkpoint"):
        segmenter.main(common + ["--out", run, "--max-steps", "3", "--channels", "8,16,32"])
    # --init-from weights of other widths: refused before any model is built or loaded
    with pytest.raises(SegmenterChannelsError, match=r"--channels 8,16,32 does not match --init-from .*16,24,48"):
        segmenter.main(["--webp", str(tmp_path / "none"), "--preset", "dev-tiny", "--out", str(tmp_path / "b"),
                        "--init-from", f"{run}/weights", "--channels", "8,16,32"])
    with pytest.raises(SystemExit):                                 # widths GroupNorm cannot split
        segmenter.main(common + ["--out", str(tmp_path / "c"), "--channels", "8,16,36"])

    weights = str(tmp_path / "weights")
    write_dev_tiny_weights(weights, f"{run}/weights")
    pack = str(tmp_path / "pack")
    export_main(["--preset", "dev-tiny", "--weights", weights, "--tokenizer", TOKENIZER, "--out", pack,
                 "--name", "wide-seg-test"])
    assert pack_check.check_pack(pack) == []
    assert json.load(open(f"{pack}/manifest.json"))["segmenter"] == {"inputSize": 128}
    trained = {k: v.float() for k, v in load_split(weights, "segmenter").items()}
    graph = {i.name: numpy_helper.to_array(i) for i in onnx.load(f"{pack}/segmenter.onnx").graph.initializer}
    # every conv weight is a named initialiser holding the trained tensor
    convs = [k for k, v in trained.items() if k.endswith("weight") and v.dim() == 4]
    assert len(convs) == 2 * (2 * len(WIDE) - 1) + 1
    for k in convs:
        assert np.array_equal(graph[f"seg.{k}"], trained[k].numpy()), k
    assert graph["seg.down.2.0.weight"].shape == (WIDE[2], WIDE[1], 3, 3)
    seg = Segmenter(SegmenterConfig(input_size=128, channels=WIDE)).eval()
    seg.load_state_dict(trained)
    photo = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(2))
    out = run_ort(str(tmp_path), f"{pack}/segmenter.onnx", {"image": photo.numpy()}, ["mask"])
    with torch.no_grad():
        assert float(np.abs(out["mask"] - seg(photo).numpy()).max()) < 1e-4

    json.dump({"config": {"input_size": 128, "channels": [8, 16, 32]}}, open(f"{weights}/segmenter.json", "w"))
    with pytest.raises(SegmenterChannelsError, match="records channels 8,16,32"):
        export_main(["--preset", "dev-tiny", "--weights", weights, "--tokenizer", TOKENIZER, "--out", pack])
