"""Is a run's loss falling? Mean loss per window of updates from a trainer's log.jsonl, and a verdict.

Run 107 (session 33) continued the base model and its loss rose window after window (0.0442 → 0.0506 per 400
updates) while its text encoder's first-layer attention ran away; a lease has no time to plot, so this prints the
windows, the last `te_qk` of each (the base trainer's attention-scale watch) and one line to act on.

    python3 scripts/loss_trend.py RUNS/base/log.jsonl [--every 400] [--key loss] [--skip 1]
"""
import argparse
import json
from typing import Dict, List


def windows(records: List[Dict], every: int, key: str = "loss") -> List[Dict]:
    """Consecutive windows of `every` steps (by the log's step numbers) over the lines that carry `key`."""
    lines = [r for r in records if key in r and "step" in r]
    if not lines:
        return []
    first = lines[0]["step"]
    out: Dict[int, List[Dict]] = {}
    for r in lines:
        out.setdefault((r["step"] - first) // every, []).append(r)
    return [{"from": ls[0]["step"], "to": ls[-1]["step"], "mean": sum(r[key] for r in ls) / len(ls),
             "lines": len(ls), "te_qk": ls[-1].get("te_qk")} for _, ls in sorted(out.items())]


def verdict(ws: List[Dict], skip: int = 1, tolerance: float = 0.01) -> str:
    """'falling', 'flat' or 'rising': the last window against the first after `skip` warm-up windows, within a
    relative `tolerance`; a partial last window is left out when there is a full one before it."""
    ws = ws[skip:]
    if len(ws) >= 3 and ws[-1]["lines"] < ws[-2]["lines"] / 2:
        ws = ws[:-1]
    if len(ws) < 2:
        return "too short"
    change = (ws[-1]["mean"] - ws[0]["mean"]) / ws[0]["mean"]
    return "rising" if change > tolerance else "falling" if change < -tolerance else "flat"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("--every", type=int, default=400, help="updates per window")
    ap.add_argument("--key", default="loss")
    ap.add_argument("--skip", type=int, default=1, help="warm-up windows left out of the verdict")
    a = ap.parse_args(argv)
    records = [json.loads(l) for l in open(a.log) if l.strip()]
    ws = windows(records, a.every, a.key)
    for w in ws:
        qk = f"  te_qk {w['te_qk']:.1f}" if w["te_qk"] is not None else ""
        print(f"{w['from']:>8} – {w['to']:>8}  {a.key} {w['mean']:.4f}  ({w['lines']} lines){qk}")
    qks = [w["te_qk"] for w in ws if w["te_qk"] is not None]
    grew = f"; te_qk {qks[0]:.1f} → {qks[-1]:.1f}" if qks else ""
    print(f"verdict: {verdict(ws, a.skip)} (last window against window {a.skip + 1}){grew}")


if __name__ == "__main__":
    main()
