"""IoU of the segmenter with each parameter-free post-processing variant (dreamcache/eval/seg_post.py).

    /usr/bin/python3 scripts/seg_post_eval.py --ckpt checkpoints/segmenter-v2 --webp ../.carry/webp \
        --out runs/seg_post.json

Protocol: (a) validation = training subjects × training scenes at --val-seed (not the trainer's 777),
the only numbers a variant may be chosen by; (b) held-out subjects × held-out scenes at seed 777,
batches of 64, as train/segmenter.py's evaluate_iou, overall and per held-out scene. Every variant is
scored on the same images, so the differences are paired. --cross adds (c) training subjects × held-out
scenes and held-out subjects × training scenes at seed 777: which of the two unseen things costs the IoU.
--storage scores the weights rounded as the pack stores them (float16, or int8 convolutions + float16).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dreamcache.data.captions import SCENES  # noqa: E402
from dreamcache.eval.seg_post import THRESHOLD, flip_average, postprocess  # noqa: E402
from dreamcache.models import Segmenter  # noqa: E402
from dreamcache.models.config import SegmenterConfig  # noqa: E402
from dreamcache.onnx_export import conv_state_as_stored  # noqa: E402
from dreamcache.segmenter_channels import read_segmenter_config  # noqa: E402
from dreamcache.train.common import load_split, seeded_generator  # noqa: E402
from dreamcache.train.data import make_generator  # noqa: E402
from dreamcache.train.segmenter import seg_batch  # noqa: E402

# --storage -> (float16, int8) rounding of onnx_export.conv_state_as_stored
STORAGE = {"float32": (False, False), "float16": (True, False), "int8+float16": (True, True)}
# name -> (flip, components, fill_holes); "base" is evaluate_iou's plain (prob > 0.5)
VARIANTS = {"base": (False, False, False), "cc": (False, True, False), "fill": (False, False, True),
            "cc+fill": (False, True, True), "flip": (True, False, False), "flip+cc": (True, True, False),
            "flip+fill": (True, False, True), "flip+cc+fill": (True, True, True)}


def iou(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float().clamp_min(1)
    return inter / union


def flip_prob_at(seg, img: torch.Tensor, factor: float) -> torch.Tensor:
    """The flip-averaged probability of img resized by `factor` (to a multiple of 8, which the
    segmenter's three poolings need), brought back to img's size."""
    size = img.shape[-1]
    n = int(round(size * factor / 8)) * 8
    x = F.interpolate(img, size=n, mode="bilinear", align_corners=False)
    p = flip_average(seg(x), seg(x.flip(-1)))
    return F.interpolate(p, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def score(seg, gen, scenes, seed: int, n_batches: int, batch: int, scales=()):
    """Per-image IoU of every variant on the same n_batches × batch images. Each of `scales` adds
    a variant "flip+xS": the flip average at the input size and at S times it, averaged."""
    out = {k: [] for k in VARIANTS}
    out.update({f"flip+x{s:g}": [] for s in scales})
    for i in range(n_batches):
        img, mask = seg_batch(gen, batch, seeded_generator(seed, 0, i, "cpu"), scenes)
        prob = seg(img)
        flip_prob = seg(img.flip(-1))
        truth = mask > 0.5
        for k, (f, c, h) in VARIANTS.items():
            pred = postprocess(prob, flip_prob if f else None, components=c, fill_holes=h)
            out[k].append(iou(pred, truth))
        for s in scales:
            both = 0.5 * (flip_average(prob, flip_prob) + flip_prob_at(seg, img, s))
            out[f"flip+x{s:g}"].append(iou(both > THRESHOLD, truth))
    return summarize({k: torch.cat(v) for k, v in out.items()})


def summarize(per_image):
    """Mean IoU per variant, plus the paired difference to "base" and its standard error."""
    base = per_image["base"]
    res = {k: float(v.mean()) for k, v in per_image.items()}
    for k, v in per_image.items():
        d = v - base
        res[f"{k}-base"] = float(d.mean())
        res[f"{k}-base_se"] = float(d.std() / len(d) ** 0.5)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="folder with segmenter.partNN and segmenter.json")
    ap.add_argument("--webp", required=True)
    ap.add_argument("--subjects", default=None)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batches", type=int, default=8, help="batches of --batch per split (evaluate_iou: 8)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--val-seed", type=int, default=4242)
    ap.add_argument("--heldout-seed", type=int, default=777)
    ap.add_argument("--validation-only", action="store_true",
                    help="score only training subjects × training scenes (what a variant is chosen on)")
    ap.add_argument("--cross", action="store_true",
                    help="also score training subjects × held-out scenes and held-out subjects × training scenes")
    ap.add_argument("--storage", default="float32", choices=sorted(STORAGE),
                    help="score the weights as a pack stores them: float32 (the checkpoint), float16 "
                         "(export --fp16-storage) or int8+float16 (also --int8-storage segmenter)")
    ap.add_argument("--scales", default="",
                    help="comma-separated input scales, e.g. 1.25,1.5: each adds a multi-scale variant "
                         "flip+xS (the flip average at 1 and at S, averaged)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    a = ap.parse_args(argv)
    try:
        scales = tuple(float(x) for x in a.scales.split(",") if x.strip())
    except ValueError:
        ap.error(f"--scales takes numbers separated by commas, e.g. 1.25,1.5, not {a.scales!r}")
    if any(not 0.25 <= x <= 4 for x in scales):
        ap.error("--scales: each scale must lie in [0.25, 4]")
    torch.set_num_threads(os.cpu_count() or 1)
    meta = json.load(open(os.path.join(a.ckpt, "segmenter.json")))
    cfg = read_segmenter_config(a.ckpt, SegmenterConfig(input_size=meta["config"]["input_size"]))
    seg = Segmenter(cfg)
    seg.load_state_dict(conv_state_as_stored(load_split(a.ckpt, "segmenter"), *STORAGE[a.storage]))
    seg.eval()
    t0 = time.time()
    gen = make_generator(a, "cpu", "train")
    train_scenes, heldout_scenes = gen.scene_split()
    res = {"ckpt": a.ckpt, "storage": a.storage, "scales": list(scales), "batches": a.batches, "batch": a.batch,
           "val_seed": a.val_seed, "heldout_seed": a.heldout_seed,
           "variants": {k: dict(zip(("flip", "components", "fill_holes"), v)) for k, v in VARIANTS.items()},
           "trainer_reported": {k: meta.get(k) for k in ("iou_train_subjects_train_scenes",
                                                         "iou_heldout_subjects_heldout_scenes",
                                                         "iou_heldout_per_scene")}}
    res["validation_train_subjects_train_scenes"] = score(seg, gen, train_scenes, a.val_seed, a.batches, a.batch,
                                                          scales)
    print("validation", json.dumps(res["validation_train_subjects_train_scenes"]), f"{time.time() - t0:.0f}s", flush=True)
    if not a.validation_only:
        held = make_generator(a, "cpu", "heldout")
        res["heldout_subjects_heldout_scenes"] = score(seg, held, heldout_scenes, a.heldout_seed, a.batches,
                                                       a.batch, scales)
        print("heldout", json.dumps(res["heldout_subjects_heldout_scenes"]), f"{time.time() - t0:.0f}s", flush=True)
        res["heldout_per_scene"] = {SCENES[s].name: score(seg, held, [s], a.heldout_seed, a.batches, a.batch,
                                                          scales)
                                    for s in heldout_scenes}
        print("per scene", json.dumps(res["heldout_per_scene"]), f"{time.time() - t0:.0f}s", flush=True)
        if a.cross:
            res["train_subjects_heldout_scenes"] = score(seg, gen, heldout_scenes, a.heldout_seed, a.batches, a.batch)
            res["heldout_subjects_train_scenes"] = score(seg, held, train_scenes, a.heldout_seed, a.batches, a.batch)
            print("cross", json.dumps({k: res[k] for k in ("train_subjects_heldout_scenes",
                                                              "heldout_subjects_train_scenes")}), flush=True)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
