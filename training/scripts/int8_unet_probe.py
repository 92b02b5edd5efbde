"""Which part of an int8 U-Net moves the images: the frozen base's weights or the adapters'?

Session 19 measured that `--int8-storage unet` draws 2.5 grey levels from PyTorch on average (48 at
worst) with adapters-v9 grown to width 8, where session 8 measured < 1 with weaker adapters. Image
guidance multiplies (e_i − e_u) by sI = 8, and only e_i and e_c go through the adapters, so the
adapters' rounding may be what is amplified. This rounds the U-Net's weights in PyTorch exactly as
the exporter's int8 storage does (onnx_export.round_as_int8, quantize_int8: symmetric, one scale per output
channel, convolution and matrix-product weights of >= INT8_MIN_ELEMENTS elements) — all of them,
only the base's, or only the adapters' — samples the same held-out cases as the float model
(DDIM, combined guidance, the cache pass through the rounded U-Net too) and prints each variant's
pixel differences from the float images (0–255).

    /usr/bin/python3 scripts/int8_unet_probe.py --weights W --adapters checkpoints/adapters-v10-w8 \
        --webp ../.carry/webp --cases 4 --steps 50 --image-scale 8
"""
import argparse
import copy
import os
import sys
import time
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dreamcache.eval.data import clean_reference, eval_generator, load_bank  # noqa: E402
from dreamcache.eval.parity import load_models, to_rgba_bytes  # noqa: E402
from dreamcache.eval.prompts import PROMPTS  # noqa: E402
from dreamcache.models.unet import is_adapter_param  # noqa: E402
from dreamcache.onnx_export import round_unet_as_int8  # noqa: E402
from dreamcache.sampler import sample  # noqa: E402
from dreamcache.sampler_batched import build_caches, decode  # noqa: E402


@torch.no_grad()
def images(models, unet, cases: List[Dict], steps: int, s_img: float) -> List[np.ndarray]:
    out = []
    for c in cases:
        cache = None
        if c["ref"] is not None:
            cache = build_caches(unet, models.vae, c["ref"][None, None], models.empty, 1, c["cache_noise"],
                                 models.acp, half_round=True)
        lat = sample(unet, models.embed([c["prompt"]]), models.empty, steps=steps, s_text=7.5, s_img=s_img,
                     cache=cache, mode="combined", acp=models.acp, noise=c["noise"])
        out.append(np.frombuffer(to_rgba_bytes(decode(models.vae, lat)[0]), dtype=np.uint8).astype(np.int32))
    return out


@torch.no_grad()      # scoped, not torch.set_grad_enabled: tests call main() in their process
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="the base model's checkpoint folder")
    ap.add_argument("--adapters", default=None, help="adapters folder (default: those in --weights)")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--tokenizer", default=None, help="default: the trainers' (data/tokenizer.json)")
    ap.add_argument("--webp", required=True)
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--image-scale", type=float, default=8.0)
    a = ap.parse_args(argv)
    models = load_models(a.weights, a.adapters, a.preset, **({"tokenizer": a.tokenizer} if a.tokenizer else {}))
    bank = load_bank(a.webp, "heldout", models.cfg.vae.sample_size, "cpu")
    gen = eval_generator(bank, "cpu")
    shape = (1,) + models.latent
    cases = []
    for i in range(a.cases):          # spread like the parity check's cases, all with a reference
        s = (i * 37) % len(bank)
        g = torch.Generator().manual_seed(1000 + i)
        cases.append({"prompt": PROMPTS[(i * 7) % len(PROMPTS)].text(bank.labels[s]),
                      "ref": clean_reference(gen, torch.tensor([s]))[0], "noise": torch.randn(shape, generator=g),
                      "cache_noise": torch.randn(shape, generator=g)})
    t0 = time.time()
    ref = images(models, models.unet, cases, a.steps, a.image_scale)
    print(f"float images: {time.time() - t0:.0f} s", flush=True)
    print("| int8 weights | tensors | max abs | mean abs (per case) |\n|---|---|---|---|")
    rows = {}
    for label, take in (("all (--int8-storage unet)", lambda n: True),
                        ("base only, adapters float", lambda n: not is_adapter_param(n)),
                        ("adapters only", is_adapter_param)):
        unet = copy.deepcopy(models.unet)
        n = len(round_unet_as_int8(unet, take))
        diffs = [np.abs(x - y).reshape(-1, 4)[:, :3] for x, y in zip(ref, images(models, unet, cases, a.steps,
                                                                                 a.image_scale))]
        rows[label] = {"tensors": n, "max_abs": max(int(d.max()) for d in diffs),
                       "mean_abs": [float(d.mean()) for d in diffs]}
        print(f"| {label} | {n} | {rows[label]['max_abs']} | {np.mean(rows[label]['mean_abs']):.2f} "
              f"({', '.join(f'{m:.2f}' for m in rows[label]['mean_abs'])}) |", flush=True)
    return rows


if __name__ == "__main__":
    main()
