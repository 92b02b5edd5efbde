"""How far apart two equally sized sample grids are, tile by tile (e.g. one pack against a variant of
it, same prompts and seeds through scripts/sample-grid.ts):

    /usr/bin/python3 scripts/image_diff.py A.png B.png [--tile 128]

Prints, over RGB levels 0–255: the mean and max absolute difference, the PSNR of B against A, and
the per-tile mean absolute differences (median, 90th percentile, max); --tile 0 skips the tiles (grids
with gutters, e.g. scripts/personalize-grid.ts)."""
import argparse
import math

import numpy as np
from PIL import Image


def tile_means(diff: np.ndarray, tile: int) -> np.ndarray:
    h, w = diff.shape[:2]
    if h % tile or w % tile:
        raise ValueError(f"a {w}×{h} grid does not split into {tile}-pixel tiles")
    return diff.reshape(h // tile, tile, w // tile, tile, -1).mean(axis=(1, 3, 4)).ravel()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tile", type=int, default=128)
    args = ap.parse_args(argv)
    a = np.asarray(Image.open(args.a).convert("RGB"), dtype=np.float64)
    b = np.asarray(Image.open(args.b).convert("RGB"), dtype=np.float64)
    if a.shape != b.shape:
        ap.error(f"the grids differ in size: {a.shape[1]}×{a.shape[0]} vs {b.shape[1]}×{b.shape[0]}")
    d = np.abs(a - b)
    mse = float((d ** 2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)
    line = f"mean |Δ| {d.mean():.2f}  max |Δ| {d.max():.0f}  PSNR {psnr:.1f} dB"
    if args.tile > 0:
        try:
            t = tile_means(d, args.tile)
        except ValueError as e:
            ap.error(f"{e}: give the tile size, or --tile 0 for the whole image only")
        line += (f"  per tile: median {np.median(t):.2f}, p90 {np.percentile(t, 90):.2f}, max {t.max():.2f} "
                 f"({len(t)} tiles)")
    print(line)


if __name__ == "__main__":
    main()
