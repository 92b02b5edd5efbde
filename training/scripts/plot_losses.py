"""Loss curves from trainer logs (log.jsonl) as a PNG, with PIL only (no matplotlib on CI).

    python3 scripts/plot_losses.py OUT.png "title" LOG [LOG ...] [--key loss[,loss_ref,...]] [--smooth N]
                                   [--from-step S]
Several logs of one resumed run are concatenated by step; --smooth averages N logged points
(the adapter trainer's loss_ref / loss_noref differ by less than their noise per log line).
Logs given as NAME=LOG are arms trained side by side: each gets its own curve per key, and
--from-step keeps the steps they share (the arms' logs carry the history they started from)."""
import argparse
import json

from PIL import Image, ImageDraw


def read(paths, key, from_step=0):
    pts = {}
    for p in paths:
        for line in open(p):
            r = json.loads(line)
            if "step" in r and key in r and r["step"] >= from_step:
                pts[r["step"]] = r[key]
    return sorted(pts.items())


def curves(logs, keys, n, from_step=0):
    """{label: points}: one curve per key over the joined logs, or per arm and key when logs are NAME=LOG."""
    arms = [lg.split("=", 1) for lg in logs if "=" in lg]
    if not arms:
        return {k: smooth(read(logs, k, from_step), n) for k in keys}
    if len(arms) != len(logs):
        raise SystemExit("give every log as NAME=LOG, or none")
    return {f"{name} {k}": smooth(read([path], k, from_step), n) for name, path in arms for k in keys}


# PIL's built-in bitmap font encodes latin-1 only; titles are typed like the docs, with arrows and dashes.
_ASCII = {"\u2192": "->", "\u2190": "<-", "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2248": "~",
          "\u2264": "<=", "\u2265": ">=", "\u2026": "...", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}


def drawable(text):
    """The text as PIL's default font can draw it: common typography spelled in ASCII, anything else '?'."""
    text = "".join(_ASCII.get(c, c) for c in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def plot(series, title, out, w=640, h=360):
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, w - 20, 30, h - 40
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    # a whole run's axis starts at 0; a late stretch of one (--from-step) at its own first step
    x0, x1 = (0 if min(xs) < 0.2 * max(xs) else min(xs)), max(xs)
    y0, y1 = min(ys) * 0.95, max(ys) * 1.05
    d.rectangle([left, top, right, bottom], outline="black")
    d.text((left, 8), drawable(title), fill="black")
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        yp = bottom - (bottom - top) * i / 4
        d.line([left - 4, yp, left, yp], fill="black")
        d.text((4, yp - 6), f"{yv:.3g}", fill="black")
        xv = x0 + (x1 - x0) * i / 4
        xp = left + (right - left) * i / 4
        d.text((xp - 10, bottom + 6), f"{int(xv)}", fill="black")
    d.text(((left + right) // 2 - 10, bottom + 22), "step", fill="black")
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for k, (name, s) in enumerate(series.items()):
        pts = [(left + (right - left) * (x - x0) / max(1, x1 - x0), bottom - (bottom - top) * (y - y0) / (y1 - y0))
               for x, y in s]
        d.line(pts, fill=colors[k % 4], width=2)
        d.text((right - 200, top + 8 + 14 * k), drawable(name), fill=colors[k % 4])
    img.save(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("title")
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--key", default="loss", help="one key or a comma list (one curve each)")
    ap.add_argument("--smooth", type=int, default=1)
    ap.add_argument("--from-step", type=int, default=0, help="leave out steps before this one")
    a = ap.parse_args()
    plot(curves(a.logs, a.key.split(","), a.smooth, a.from_step), a.title, a.out)


def smooth(pts, n):
    """Trailing mean over n points (n = 1: unchanged)."""
    if n <= 1:
        return pts
    return [(x, sum(y for _, y in pts[max(0, i - n + 1):i + 1]) / len(pts[max(0, i - n + 1):i + 1]))
            for i, (x, _) in enumerate(pts)]


if __name__ == "__main__":
    main()
