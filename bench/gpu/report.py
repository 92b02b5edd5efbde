"""Merges the GPU benchmark's JSON results into one bench.json and a markdown table.

    python3 bench/gpu/report.py OUT_DIR torch.json ort_webgpu_fp16.json [...]"""
import json
import os
import sys

PER_CALL = ["unet_b2", "unet_b3", "unet_b1", "dreamcache_b3_k1", "dreamcache_b3_k3", "dreamcache_b3_k1_gpucache", "dreamcache_b3_k3_gpucache",
            "cache_build_k1", "cache_build_k3",
            "reference_step_k1", "reference_step_k3", "dreamcache_b3_k1_graphcapture"]
IMAGES = ["image_dreamcache_k1", "image_reference_k1", "image_dreamcache_k3", "image_reference_k3"]


def label(r):
    if r.get("runtime") == "torch":
        return f"torch {r.get('dtype')} {r.get('attention')}"
    return f"ort-web {r.get('ep')} {r.get('precision')} ({r.get('bundle')})"


def cell(v):
    if not isinstance(v, dict):
        return "–"
    if "error" in v:
        return "error"
    return f"{v['median']:.1f}"


# Issue 5's per-call ratios: (name, numerator, denominator, goal).
RATIOS = [("DreamCache / base, equal batch 3", "dreamcache_b3_k1", "unet_b3", 1.10),
          ("cache build / one base call (batch 1)", "cache_build_k1", "unet_b1", 1.10)]


def ratio_lines(cols):
    """The ratios per runtime column, where both calls were measured."""
    med = lambda v: v["median"] if isinstance(v, dict) and "median" in v else None
    rows = []
    for name, num, den, goal in RATIOS:
        cells = []
        for _, r, suffix in cols:
            a, b = med(r.get(num + suffix)), med(r.get(den + suffix))
            cells.append(f"{a / b:.2f}" if a and b else "–")
        if any(c != "–" for c in cells):
            rows.append(f"| {name} (goal ≤ {goal:g}) | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["", "Ratios (medians above):", "", "| ratio | " + " | ".join(c[0] for c in cols) + " |",
            "|---|" + "---|" * len(cols)] + rows


def main(argv):
    out_dir, files = argv[0], argv[1:]
    results = []
    for f in files:
        if os.path.isfile(f):
            r = json.load(open(f))
            r["_file"] = os.path.basename(f)
            results.append(r)
    json.dump(results, open(os.path.join(out_dir, "bench.json"), "w"), indent=2)
    cols = []
    for r in results:
        cols.append((label(r), r, ""))
        if r.get("runtime") == "torch" and any(k.endswith("_cudagraph") for k in r):
            cols.append((label(r) + " CUDA graph", r, "_cudagraph"))
    lines = [f"# DreamCache GPU benchmark ({results[0].get('device', '') if results else ''})", "",
             "Per call, median ms (image size %s):" % (results[0].get("imageSize") if results else "?"), "",
             "| call | " + " | ".join(c[0] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for k in PER_CALL:
        if any(k + s in r for _, r, s in cols):
            lines.append(f"| {k} | " + " | ".join(cell(r.get(k + s)) for _, r, s in cols) + " |")
    lines += ratio_lines(cols)
    lines += ["", "Whole personalized image (text encoding, personalization, all steps, VAE decode), ms:", "",
              "| image | runtime | total | personalize | steps | decode | steps/s | peak memory MB |",
              "|---|---|---|---|---|---|---|---|"]
    for k in IMAGES:
        for r in results:
            v = r.get(k)
            if isinstance(v, dict) and "totalMs" in v:
                mem = v.get("peakMemoryMB", r.get("peakRssMB"))
                lines.append(f"| {k} | {label(r)} | {v['totalMs']:.0f} | {v['personalizeMs']:.0f} | {v['stepsMs']:.0f} | "
                             f"{v['decodeMs']:.0f} | {v['steps'] / v['stepsMs'] * 1e3:.1f} | "
                             f"{'%.0f' % mem if mem else '–'}{' (process RSS)' if mem and 'peakMemoryMB' not in v else ''} |")
    lines += ["", "Session creation, ms:", ""]
    for r in results:
        for role, s in (r.get("sessions") or {}).items():
            ops = s.get("ops")
            ops = f" (MultiHeadAttention {ops['MultiHeadAttention']}, Softmax {ops['Softmax']})" if ops else ""
            lines.append(f"- {label(r)} {role} ({s['file']}): {s['createMs']:.0f}{ops}")
        for k, v in r.items():
            if isinstance(v, dict) and "error" in v:
                lines.append(f"- {label(r)} stage {k} failed: `{v['error'].splitlines()[0][:200]}`")
        if r.get("error"):
            lines.append(f"- {label(r)} stopped with: `{r['error'].splitlines()[0][:200]}`")
    open(os.path.join(out_dir, "bench.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
