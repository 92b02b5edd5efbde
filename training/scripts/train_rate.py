"""Updates per minute of each call (one trainer start) in an adapter trainer's log.jsonl.

A lease compares recipes by their speed on one card, and a call's first minute (data workers, a
torch.compile) says little about the steady rate, so besides the whole call (start to done) this
reports the second half of the call's log lines alone, and how long the first log line took.

    python3 scripts/train_rate.py RUNS/arm-A/log.jsonl [--last N]
"""
import argparse
import json
import sys


def call_rates(records):
    """One dict per trainer start: its flags, steps, and updates per minute (whole call and steady)."""
    calls = []
    for r in records:
        if r.get("event") == "start":
            calls.append({"start": r, "lines": [], "done": None})
        elif not calls:
            continue
        elif r.get("event") == "done":
            calls[-1]["done"] = r
        elif "sec" in r and "step" in r:
            calls[-1]["lines"].append(r)
    out = []
    for c in calls:
        s, lines, d = c["start"], c["lines"], c["done"]
        end = d or (lines[-1] if lines else s)
        row = {"from": s["step"], "to": end["step"], "reuse": s.get("reuse", 1), "compile": bool(s.get("compile")),
               "first_line_s": lines[0]["sec"] if lines else None, "per_min": None, "steady_per_min": None}
        if d is not None and d["time"] > s["time"]:
            row["per_min"] = (d["step"] - s["step"]) / (d["time"] - s["time"]) * 60
        half = lines[len(lines) // 2:]
        if len(half) >= 2 and half[-1]["sec"] > half[0]["sec"]:
            row["steady_per_min"] = (half[-1]["step"] - half[0]["step"]) / (half[-1]["sec"] - half[0]["sec"]) * 60
        out.append(row)
    return out


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--last", type=int, default=0, help="only the last N calls (0: all)")
    a = ap.parse_args(argv)
    with open(a.log) as f:
        records = [json.loads(line) for line in f if line.strip()]
    rows = call_rates(records)[-a.last:] if a.last else call_rates(records)
    print("| steps | reuse | compile | first log line (s) | updates/min (call) | updates/min (second half) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['from']:,} → {r['to']:,} | {r['reuse']} | {'yes' if r['compile'] else 'no'} | "
              f"{fmt(r['first_line_s'], '.0f')} | {fmt(r['per_min'], ',.0f')} | {fmt(r['steady_per_min'], ',.0f')} |")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
