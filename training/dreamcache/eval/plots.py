"""PNG outputs of the benchmark with PIL only: the subject grid and the fidelity–alignment plot."""
from typing import Dict, List, Sequence, Tuple

import torch
from PIL import Image, ImageDraw


def to_pil(img: torch.Tensor) -> Image.Image:
    """[3, S, S] in [−1, 1] → RGB image (same rounding as the runtime's nchwToRgba)."""
    a = ((img.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(a.permute(1, 2, 0).numpy())


def grid(rows: List[List[Image.Image]], header: Sequence[str], tile: int, out: str, row_labels=()):
    """rows of equal-length tile lists; a text header row above, labels on the left."""
    cols = max(len(r) for r in rows)
    lw = 110 if row_labels else 0
    img = Image.new("RGB", (lw + cols * tile, 28 + len(rows) * tile), "white")
    d = ImageDraw.Draw(img)
    for j, h in enumerate(header):
        d.text((lw + j * tile + 3, 2 + 12 * (j % 2)), h[:22], fill="black")
    for i, r in enumerate(rows):
        if row_labels:
            d.text((3, 28 + i * tile + tile // 2 - 6), row_labels[i][:17], fill="black")
        for j, t in enumerate(r):
            img.paste(t.resize((tile, tile)), (lw + j * tile, 28 + i * tile))
    img.save(out)


def tradeoff(points: Dict[str, List[Tuple[float, float, str]]], out: str, xlabel: str, ylabel: str, title: str,
             w: int = 640, h: int = 420):
    """Scatter + polyline per series: points[name] = [(x, y, label), …]."""
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 64, w - 20, 30, h - 44
    xs = [p[0] for s in points.values() for p in s]
    ys = [p[1] for s in points.values() for p in s]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    px, py = (x1 - x0) * 0.1 or 0.01, (y1 - y0) * 0.1 or 0.01
    x0, x1, y0, y1 = x0 - px, x1 + px, y0 - py, y1 + py
    d.rectangle([left, top, right, bottom], outline="black")
    d.text((left, 8), title, fill="black")
    for i in range(5):
        yv, yp = y0 + (y1 - y0) * i / 4, bottom - (bottom - top) * i / 4
        xv, xp = x0 + (x1 - x0) * i / 4, left + (right - left) * i / 4
        d.text((4, yp - 6), f"{yv:.3f}", fill="black")
        d.text((xp - 14, bottom + 6), f"{xv:.3f}", fill="black")
    d.text(((left + right) // 2 - 40, bottom + 24), xlabel, fill="black")
    d.text((4, top - 18), ylabel, fill="black")
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    pos = lambda x, y: (left + (right - left) * (x - x0) / (x1 - x0), bottom - (bottom - top) * (y - y0) / (y1 - y0))
    for k, (name, s) in enumerate(points.items()):
        c = colors[k % 4]
        pts = [pos(x, y) for x, y, _ in s]
        if len(pts) > 1:
            d.line(pts, fill=c, width=2)
        for (x, y), (_, _, lab) in zip(pts, s):
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=c)
            d.text((x + 5, y - 12), lab, fill=c)
        d.text((right - 170, top + 8 + 14 * k), name, fill=c)
    img.save(out)
