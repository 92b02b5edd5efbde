"""Runs two packs' unet.onnx in onnxruntime-web (wasm, Node) on the same random inputs and prints the
largest difference of the gate-0 rows (what a subject cache is made of) and of the gate-1 row.

    /usr/bin/python3 scripts/unet_gate0_diff.py OLD_PACK NEW_PACK

Equal gate-0 rows: the two U-Nets make the same caches (docs/model-pack.md, cache.compatibleFingerprints)."""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dreamcache.ort_web import NodeMissing, run_ort  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    a = ap.parse_args(argv)
    m = json.load(open(os.path.join(a.new, "manifest.json")))
    lat, hidden = m["unet"]["config"]["sample_size"], m["textEncoder"]["hiddenSize"]
    rng = np.random.default_rng(0)
    feeds = {"sample": rng.standard_normal((2, m["latent"]["channels"], lat, lat)).astype(np.float32),
             "timestep": np.array([1.0, 500.0], np.float32),
             "encoder_hidden_states": rng.standard_normal((2, m["tokenizer"]["maxLength"], hidden)).astype(np.float32),
             "adapter_gate": np.array([0.0, 0.0, 1.0], np.float32),
             "encoder_row": np.array([0, 1, 1], np.int64)}
    for l in m["cache"]["layers"]:
        feeds[f"cache_{l['name']}"] = rng.standard_normal((1, l["height"] * l["width"], l["channels"])).astype(np.float32)
    outs = ["noise_pred"] + [f"features_{l['name']}" for l in m["cache"]["layers"]]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            r = [run_ort(os.path.join(tmp, k), os.path.abspath(os.path.join(p, m["graphs"]["unet"]["fp32"])), feeds,
                         outs) for k, p in (("old", a.old), ("new", a.new))]
    except NodeMissing as e:
        raise SystemExit(str(e))
    for n in outs:
        g0 = float(np.abs(r[0][n][:2] - r[1][n][:2]).max())
        g1 = float(np.abs(r[0][n][2:] - r[1][n][2:]).max())
        print(f"{n}: gate-0 rows max diff {g0:.3g}, gate-1 row max diff {g1:.3g}")


if __name__ == "__main__":
    main()
