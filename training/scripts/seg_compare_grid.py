"""Segmenters side by side on the same held-out composites, as a PNG: per row the image, the exact
mask, then each segmenter's mask (prob > 0.5) with errors coloured (red: background taken for the
subject, green: subject missed), and the row's IoU per segmenter printed.

    /usr/bin/python3 scripts/seg_compare_grid.py --ckpt checkpoints/segmenter-v3 checkpoints/segmenter-v4 \
        --webp ../.carry/webp --scenes mountain_lake,kitchen_counter --rows 6 --out ../docs/training-runs/seg-v3-v4.png

Held-out subjects over held-out scenes at seed 777 (train/segmenter.py's evaluate_iou draws)."""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dreamcache.data.captions import SCENES  # noqa: E402
from dreamcache.models import Segmenter  # noqa: E402
from dreamcache.models.config import SegmenterConfig  # noqa: E402
from dreamcache.segmenter_channels import read_segmenter_config  # noqa: E402
from dreamcache.train.common import load_split, seeded_generator  # noqa: E402
from dreamcache.train.data import make_generator  # noqa: E402
from dreamcache.train.segmenter import seg_batch  # noqa: E402


def load(folder: str) -> Segmenter:
    seg = Segmenter(read_segmenter_config(folder, SegmenterConfig()))
    seg.load_state_dict({k: v.float() for k, v in load_split(folder, "segmenter").items()})
    return seg.eval()


def error_tile(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """White where both agree on the subject, red for false subject, green for missed subject."""
    both = (pred & truth).float()
    fp, fn = (pred & ~truth).float(), (truth & ~pred).float()
    return torch.cat([both + fp, both + fn, both], 0).clamp(0, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", nargs="+", required=True)
    ap.add_argument("--webp", required=True)
    ap.add_argument("--subjects", default=None)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--scenes", default="mountain_lake,kitchen_counter")
    ap.add_argument("--rows", type=int, default=6, help="images per scene")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    segs = [load(c) for c in a.ckpt]
    held = make_generator(a, "cpu", "heldout")
    by_name = {s.name: i for i, s in enumerate(SCENES)}
    rows = []
    for name in a.scenes.split(","):
        img, mask = seg_batch(held, a.rows, seeded_generator(777, 0, 0, "cpu"), [by_name[name]])
        truth = mask > 0.5
        with torch.no_grad():
            preds = [s(img) > 0.5 for s in segs]
        for i in range(a.rows):
            ious = [float((p[i] & truth[i]).sum() / (p[i] | truth[i]).sum().clamp_min(1)) for p in preds]
            print(name, i, " ".join(f"{c}: {v:.3f}" for c, v in zip(a.ckpt, ious)))
            rows.append(torch.cat([img[i], truth[i].float().expand(3, -1, -1)]
                                  + [error_tile(p[i], truth[i]) for p in preds], 2))
    grid = torch.cat(rows, 1).permute(1, 2, 0).clamp(0, 1).numpy()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    # 256 colours: the docs keep the grid small in git history
    Image.fromarray((grid * 255).astype(np.uint8)).quantize(256).save(a.out, optimize=True)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
