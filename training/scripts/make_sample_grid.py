"""Write docs/training-samples/triplets.png (64 samples: target | reference | caption) and
docs/training-samples/segmenter.png (32 segmenter samples: image | mask).

  /usr/bin/python3 training/scripts/make_sample_grid.py [--seed 0] [--split train]
  /usr/bin/python3 training/scripts/make_sample_grid.py --recolour 1 [--seed 0]
      (docs/training-samples/triplets-recolour.png only: 16 triplets, subjects recoloured)
  /usr/bin/python3 training/scripts/make_sample_grid.py --bench [--device cuda] [--batch 256]
      (throughput of batch() and segmenter_batch(); writes no images)
"""
from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))

import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from dreamcache.data import SubjectBank, TripletGenerator  # noqa: E402
from dreamcache.data.cpu_tuning import keep_freed_memory  # noqa: E402

OUT_DIR = TRAINING.parent / "docs" / "training-samples"


def to_pil(x: torch.Tensor) -> Image.Image:
    """[3,S,S] in [0,1] or [1,S,S] -> PIL RGB."""
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return Image.fromarray((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy())


def triplet_sheet(out: dict, cols: int = 4, text_w: int = 150) -> Image.Image:
    S = out["target"].shape[-1]
    n = out["target"].shape[0]
    cell_w, cell_h = 2 * S + text_w + 8, S + 6
    rows = (n + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i in range(n):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        sheet.paste(to_pil((out["target"][i] + 1) / 2), (x0, y0))
        sheet.paste(to_pil((out["reference"][i] + 1) / 2), (x0 + S + 2, y0))
        lines = textwrap.wrap(out["caption"][i], width=text_w // 6) or ["(empty)"]
        draw.multiline_text((x0 + 2 * S + 6, y0 + 4), "\n".join(lines[:10]), fill=(20, 20, 20), font=font)
    return sheet


def segmenter_sheet(img: torch.Tensor, mask: torch.Tensor, cols: int = 8) -> Image.Image:
    S = img.shape[-1]
    n = img.shape[0]
    cell_w, cell_h = 2 * S + 6, S + 4
    rows = (n + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), (245, 245, 245))
    for i in range(n):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        sheet.paste(to_pil(img[i]), (x0, y0))
        sheet.paste(to_pil(mask[i]), (x0 + S + 2, y0))
    return sheet


def bench(gen: TripletGenerator, batch: int, device: str, reps: int = 5) -> None:
    g = torch.Generator(device=device).manual_seed(0)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for name, fn in (("batch", gen.batch), ("segmenter_batch", gen.segmenter_batch)):
        fn(batch, g)                                       # warm-up (allocator, kernels)
        sync()
        t = time.perf_counter()
        for _ in range(reps):
            fn(batch, g)
        sync()
        dt = time.perf_counter() - t
        print(f"{name:16s} B={batch:4d} S={gen.size}: {reps * batch / dt:8.1f} samples/s "
              f"({dt / reps * 1000:.0f} ms/batch, {device}, {torch.get_num_threads()} threads)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="train")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--recolour", type=float, default=None,
                    help="write triplets-recolour.png: 16 triplets with TripletGenerator.p_recolour set to this")
    args = ap.parse_args()
    if not args.device.startswith("cuda"):
        keep_freed_memory()
    if args.bench:
        t = time.perf_counter()
        bank = SubjectBank.load(split=args.split, size=args.size, device=args.device)
        print(f"bank: {len(bank)} subjects loaded in {time.perf_counter() - t:.1f}s")
        bench(TripletGenerator(bank, size=args.size), args.batch, args.device)
        return
    bank = SubjectBank.load(split=args.split)
    gen = TripletGenerator(bank)
    g = torch.Generator().manual_seed(args.seed)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if args.recolour is not None:
        gen.p_recolour = args.recolour
        triplet_sheet(gen.batch(16, g)).save(OUT_DIR / "triplets-recolour.png", optimize=True)
        print(f"wrote {OUT_DIR / 'triplets-recolour.png'}")
        return
    triplet_sheet(gen.batch(64, g)).save(OUT_DIR / "triplets.png", optimize=True)
    img, mask = gen.segmenter_batch(32, g)
    segmenter_sheet(img, mask).save(OUT_DIR / "segmenter.png", optimize=True)
    print(f"wrote {OUT_DIR / 'triplets.png'} and {OUT_DIR / 'segmenter.png'}")


if __name__ == "__main__":
    main()
