"""Where two benchmark runs differ, by subject and by prompt, from their per-image records.

Each `bench-NAME.tar` of gpu_evaluators_bench.sh holds `main/records.jsonl.gz`: one line per scored image
(config, subject, prompt, seed and the judges' scores). The table's one number (the share of the DINO-like gap
closed) hides whether a change helps every subject a little or a few a lot; this reads it off without a GPU.

    python3 -m dreamcache.eval.compare_records A/records.jsonl.gz B/records.jsonl.gz [--top 8]

Each run's gap is measured against its own text-only and ground-truth rows, as the benchmark's table does. Per
subject and per prompt, the DreamCache DINO-like difference B − A is taken over the (subject, prompt, seed)
images both runs scored, so a run cut short by its time box is compared only where it has images.
"""
import argparse
import gzip
import json
from collections import defaultdict
from typing import Dict, Iterable, List, Tuple

from .bench import aggregate

MAIN, TEXT, GT = "DreamCache", "text-only", "ground truth"


def load(path: str) -> List[Dict]:
    """Records from a .jsonl or .jsonl.gz file; blank lines skipped."""
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        return [json.loads(l) for l in f if l.strip()]


def mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def summary(records: List[Dict], config: str = MAIN) -> Dict[str, float]:
    """The benchmark's headline for one run: gap closed and CLIP-T ratio of `config` against the text-only and
    ground-truth rows of the same records."""
    t, d, g = (aggregate(records, c) for c in (TEXT, config, GT))
    missing = [c for c, r in ((TEXT, t), (config, d), (GT, g)) if not r["n"]]
    if missing:
        raise ValueError(f"records lack the rows {missing}; configs present: {sorted({r['config'] for r in records})}")
    return {"gap": (d["dino"] - t["dino"]) / (g["dino"] - t["dino"]), "clip_t_ratio": d["clip_t"] / t["clip_t"],
            "dino": d["dino"], "images": d["n"]}


def paired(a: List[Dict], b: List[Dict], config_a: str = MAIN, config_b: str = MAIN) -> List[Tuple[Dict, Dict]]:
    """(A, B) records of the same (subject, prompt, seed), in A's order."""
    ib = {(r["subject"], r["prompt"], r["seed"]): r for r in b if r["config"] == config_b}
    return [(r, ib[k]) for r in a if r["config"] == config_a
            and (k := (r["subject"], r["prompt"], r["seed"])) in ib]


def differences(pairs: List[Tuple[Dict, Dict]], field: str, metric: str = "dino") -> List[Tuple[str, float, int]]:
    """Mean B − A of `metric` grouped by `field` ("subject" or "prompt"), largest gain first:
    (group, mean difference, images)."""
    by = defaultdict(list)
    for ra, rb in pairs:
        by[ra[field]].append(rb[metric] - ra[metric])
    return sorted(((k, mean(v), len(v)) for k, v in by.items()), key=lambda x: -x[1])


def share_improved(diffs: List[Tuple[str, float, int]]) -> float:
    return mean(1.0 if d > 0 else 0.0 for _, d, _ in diffs)


def report(a: List[Dict], b: List[Dict], top: int = 8, config_a: str = MAIN, config_b: str = MAIN) -> str:
    sa, sb = summary(a, config_a), summary(b, config_b)
    pairs = paired(a, b, config_a, config_b)
    if not pairs:
        raise ValueError("the two runs share no (subject, prompt, seed) image")
    lines = [f"A ({config_a}): gap {100 * sa['gap']:.1f} % at CLIP-T {sa['clip_t_ratio']:.3f} x, {sa['images']} images",
             f"B ({config_b}): gap {100 * sb['gap']:.1f} % at CLIP-T {sb['clip_t_ratio']:.3f} x, {sb['images']} images",
             f"paired images: {len(pairs)}; DINO-like B - A {mean(rb['dino'] - ra['dino'] for ra, rb in pairs):+.4f}, "
             f"CLIP-T B - A {mean(rb['clip_t'] - ra['clip_t'] for ra, rb in pairs):+.4f}"]
    for field in ("subject", "prompt"):
        d = differences(pairs, field)
        lines.append(f"\nby {field}: {len(d)} groups, B ahead in {100 * share_improved(d):.0f} %")
        shown = d if len(d) <= 2 * top else d[:top] + [("...", float("nan"), 0)] + d[-top:]
        lines += [f"  {k:<28} {v:+.4f}  ({n} images)" if n else "  ..." for k, v, n in shown]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="records of run A (.jsonl or .jsonl.gz)")
    ap.add_argument("b", help="records of run B")
    ap.add_argument("--top", type=int, default=8, help="groups shown at each end of a ranking")
    ap.add_argument("--config-a", default=MAIN, help="A's row to compare (an ablation row's name, say)")
    ap.add_argument("--config-b", default=MAIN)
    a = ap.parse_args(argv)
    try:
        print(report(load(a.a), load(a.b), a.top, a.config_a, a.config_b))
    except ValueError as e:
        ap.error(str(e))


if __name__ == "__main__":
    main()
