"""Merges the GPU benchmark's JSON results into one bench.json and a markdown table.

    python3 bench/gpu/report.py OUT_DIR torch.json ort_webgpu_fp16.json [...]"""
import json
import os
import sys

PER_CALL = ["unet_b2", "unet_b3", "unet_b1", "dreamcache_b3_k1", "dreamcache_b3_k3", "dreamcache_b3_k1_gpucache", "dreamcache_b3_k3_gpucache",
            "dreamcache_b3_k1_shared", "dreamcache_b3_k3_shared", "dreamcache_b3_k1_gpucache_shared", "dreamcache_b3_k3_gpucache_shared",
            "cache_build_k1", "cache_build_k3", "vae_encode_k1", "vae_encode_k3", "cache_pass_k1", "cache_pass_k3",
            "reference_step_k1", "reference_step_k3", "dreamcache_b3_k1_graphcapture"]
IMAGES = ["image_dreamcache_k1", "image_dreamcache_k1_unshared", "image_reference_k1", "image_dreamcache_k3",
          "image_reference_k3"]


def label(r):
    if r.get("runtime") == "torch":
        return f"torch {r.get('dtype')} {r.get('attention')}"
    version = f" {r['ortVersion']}" if r.get("ortVersion") else ""
    return f"ort-web{version} {r.get('ep')} {r.get('precision')} ({r.get('bundle')}){' profile run' if r.get('profileOnly') else ''}"


def cell(v):
    if not isinstance(v, dict):
        return "–"
    if "error" in v:
        return "error"
    return f"{v['median']:.1f}"


# Issue 5's per-call ratios: (name, numerator(s), denominator, goal or None). A tuple of
# numerators is their sum. cache_build = VAE encode + cache pass, plus host work (noising the
# latents): the last row checks the split. The app feeds the cache from the GPU (gpucache row).
RATIOS = [("DreamCache / base, equal batch 3", "dreamcache_b3_k1", "unet_b3", 1.10),
          ("DreamCache, cache on the GPU / base, equal batch 3", "dreamcache_b3_k1_gpucache", "unet_b3", 1.10),
          ("DreamCache, encoder shared by e_u and e_i (torch) / base, batch 3", "dreamcache_b3_k1_shared", "unet_b3", None),
          ("DreamCache, cache on the GPU, encoder shared (the app) / base, batch 3", "dreamcache_b3_k1_gpucache_shared",
           "unet_b3", None),
          ("cache build incl. VAE encode / one base call (batch 1)", "cache_build_k1", "unet_b1", 1.10),
          ("cache pass (U-Net only) / base call, batch 1", "cache_pass_k1", "unet_b1", 1.10),
          ("(VAE encode + cache pass) / cache build, batch 1", ("vae_encode_k1", "cache_pass_k1"), "cache_build_k1", None)]


def ratio_lines(cols):
    """The ratios per runtime column, where both calls were measured."""
    med = lambda v: v["median"] if isinstance(v, dict) and "median" in v else None
    rows = []
    for name, num, den, goal in RATIOS:
        cells = []
        for _, r, suffix in cols:
            nums = [med(r.get(n + suffix)) for n in (num if isinstance(num, tuple) else (num,))]
            a, b = (sum(nums) if all(nums) else None), med(r.get(den + suffix))
            cells.append(f"{a / b:.2f}" if a and b else "–")
        if any(c != "–" for c in cells):
            rows.append(f"| {name}{f' (goal ≤ {goal:g})' if goal else ''} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["", "Ratios (medians above):", "", "| ratio | " + " | ".join(c[0] for c in cols) + " |",
            "|---|" + "---|" * len(cols)] + rows


def fmt(v, spec=".1f"):
    return format(v, spec) if isinstance(v, (int, float)) else "–"


def profile_lines(results):
    """ort_bench.mjs's profile_unet_b2 stage: where one U-Net call's GPU time goes."""
    lines = []
    for r in results:
        p = r.get("profile_unet_b2")
        if not isinstance(p, dict) or "error" in p:
            continue  # a failed stage is listed with the others below
        if "skipped" in p:
            lines += ["", f"Kernel profile ({label(r)}): skipped, {p['skipped']}"]
            continue
        lines += ["", f"## Where the time goes: unet_b2, {label(r)}", "",
                  f"GPU kernel time {fmt(p.get('gpuKernelMsPerCall'))} ms per call ({fmt(p.get('kernelsPerCall'), '.0f')} dispatches; "
                  f"first-to-last GPU span {fmt(p.get('gpuSpanMsPerCall'))} ms) vs wall {fmt(p.get('unprofiledWallMs'))} ms "
                  f"unprofiled ({fmt(p.get('wallMsPerCall'))} ms with profiling on): GPU busy "
                  f"{fmt(100 * p['gpuBusyOfWall'], '.0f') if isinstance(p.get('gpuBusyOfWall'), (int, float)) else '–'} % "
                  f"of the call → **{p.get('bound', '?')}**. CPU time in ORT kernel calls {fmt(p.get('cpuKernelMsPerCall'))} ms, "
                  f"ORT run {fmt(p.get('ortRunMsPerCall'))} ms per call; {p.get('calls')} profiled calls"
                  f"{'' if p.get('gpuSegmented') else ' (GPU events not split per call: averaged over all runs)'}."]
        if p.get("warning"):
            lines.append(f"Warning: {p['warning']}")
        if (p.get("zeroDurShare") or 0) > 0.3:
            lines.append(f"Warning: {100 * p['zeroDurShare']:.0f} % of dispatches timed 0 µs: timestamps look quantized, "
                         "per-kernel times are coarse (sums stay unbiased).")
        lines += ["", "| op type | GPU ms per call | share | dispatches per call | CPU ms per call |", "|---|---|---|---|---|"]
        for o in p.get("byOpType", []):
            lines.append(f"| {o['opType']} | {fmt(o['msPerCall'], '.2f')} | {fmt(100 * o['share'], '.1f')} % | "
                         f"{fmt(o['kernelsPerCall'], '.0f')} | {fmt(o.get('cpuMsPerCall'), '.2f')} |")
        if not p.get("byOpType") and p.get("cpuByOpType"):
            lines += ["", "No GPU times; CPU time in ORT kernel calls per op type:", "", "| op type | CPU ms per call | calls |", "|---|---|---|"]
            lines += [f"| {o['opType']} | {fmt(o['msPerCall'], '.2f')} | {fmt(o['callsPerRun'], '.0f')} |" for o in p["cpuByOpType"]]
        lines += ["", "Top programs (GPU time):", "",
                  "| program | op types | ms per call | share | dispatches | mean µs | costliest shapes (ms per call) |",
                  "|---|---|---|---|---|---|---|"]
        for g in p.get("topPrograms", []):
            shapes = "; ".join(f"`{s['shapes'][:110]}` ({fmt(s['msPerCall'], '.2f')})" for s in g.get("shapes", [])[:2])
            lines.append(f"| {g['program']} | {', '.join(g['opTypes'])} | {fmt(g['msPerCall'], '.2f')} | "
                         f"{fmt(100 * g['share'], '.1f')} % | {fmt(g['dispatchesPerCall'], '.0f')} | {fmt(g['meanUs'])} | {shapes} |")
    return lines


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
    lines += profile_lines(results)
    for r in results:
        ad = r.get("adapter") or {}
        if "shaderF16" in ad:
            lines += ["", f"WebGPU device of {label(r)}: shader-f16 {'yes' if ad['shaderF16'] else 'NO (fp16 graphs cannot run f16 kernels)'}; "
                      f"maxStorageBufferBindingSize {ad.get('maxStorageBufferBindingSize')}; features: {', '.join(ad.get('deviceFeatures', []))}"]
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
