"""PyTorch sampler ↔ app runtime parity (issue 4, item 6; docs/evaluation.md, "Parity").

For N (held-out subject, prompt, seed) cases: writes each case's reference (raw RGBA, subject on
white) and cases.json, runs the app's engine in Node (scripts/parity.ts: onnxruntime-web wasm,
src/runtime/engine.ts), then rebuilds every case in PyTorch from the SAME numbers — the runtime's
x_T and cache-pass noise (src/runtime/rng.ts), read back from the files parity.ts wrote — with
the reference sampler (sampler.sample, DDIM, combined guidance) and reports the max and mean
absolute pixel difference (0–255) of the final images and the max abs difference of the caches.

    python3 -m dreamcache.eval.parity --pack ../public/models/tiny-emoji --weights checkpoints/tiny-emoji-v1 \
        --webp ../node_modules/@lobehub/fluent-emoji-3d/assets --cases 20 --steps 50 --out /tmp/parity

A case over the bound can be looked into with `--skip-node --only ID --runtime-cache`: PyTorch then samples
from the runtime's own cache, so what remains is the sampling loop's difference, not the cache pass's.
"""
import argparse
import json
import os
import shutil
import subprocess
import types
from typing import Dict, List, Sequence

import numpy as np
import torch

from ..sampler import sample
from ..sampler_batched import build_caches, decode
from ..self_views import with_self_views
from .data import clean_reference, eval_generator, load_bank
from .prompts import PROMPTS
from .trainer import TOKENIZER

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def to_rgba_bytes(img: torch.Tensor) -> bytes:
    """[3, S, S] in [−1, 1] → opaque RGBA bytes, rounded as the runtime's nchwToRgba."""
    a = torch.round((img.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).permute(1, 2, 0)
    return torch.cat([a, torch.full_like(a[..., :1], 255)], -1).contiguous().numpy().tobytes()


def from_rgba_bytes(data: bytes, S: int) -> torch.Tensor:
    """RGBA bytes → [3, S, S] in [−1, 1] as the runtime's rgbaToNchw (alpha ignored: opaque)."""
    a = torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy()).view(S, S, 4)[..., :3].float()
    return (a / 255 * 2 - 1).permute(2, 0, 1)


def prepare(a, out: str) -> List[Dict]:
    """cases.json + ref_<id>.rgba: subjects spread over the held-out set, prompts cycled through
    the benchmark's 25, every fifth case text-only (no cache) to cover the plain-CFG path too."""
    bank = load_bank(a.webp, "heldout", a.size, "cpu", a.subjects)
    gen = eval_generator(bank, "cpu")
    cases = []
    for i in range(a.cases):
        s = (i * 37) % len(bank)
        p = PROMPTS[(i * 7) % len(PROMPTS)]
        c = {"id": f"c{i:02d}", "subject": bank.ids[s], "prompt": p.text(bank.labels[s]), "seed": 1000 + i,
             "cacheSeed": 2000 + i, "steps": a.steps, "textScale": a.text_scale, "imageScale": a.image_scale,
             **({"imageScaleEnd": a.image_scale_end} if a.image_scale_end is not None else {}),
             "reference": None if i % 5 == 4 else f"ref_c{i:02d}.rgba"}
        if c["reference"]:
            ref = clean_reference(gen, torch.tensor([s]))[0]
            open(os.path.join(out, c["reference"]), "wb").write(to_rgba_bytes(ref))
        cases.append(c)
    json.dump(cases, open(os.path.join(out, "cases.json"), "w"), indent=1)
    return cases


def run_node(pack: str, out: str):
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed: run scripts/parity.ts elsewhere and pass --skip-node")
    subprocess.run([node, "scripts/run-ts.mjs", "scripts/parity.ts", "--pack", os.path.abspath(pack), "--dir",
                    os.path.abspath(out)], cwd=REPO, check=True)


def f32(path: str) -> torch.Tensor:
    return torch.from_numpy(np.fromfile(path, dtype="<f4").copy())


@torch.no_grad()
def compare(models, out: str, views: Sequence[str] = (), runtime_cache: bool = False,
            only: Sequence[str] = ()) -> Dict:
    """Rebuilds every case of out/cases.json in PyTorch from the runtime's noise; per-case and
    overall pixel differences. views: the pack's cache.selfViews, cached beside each reference.
    runtime_cache: sample from the cache the runtime dumped (cache_ID_LAYER.f32) instead of PyTorch's
    own, which separates differences of the cache pass from those of the sampling loop. only: case
    ids to compare (default all)."""
    cases = json.load(open(os.path.join(out, "cases.json")))
    if only:
        missing = sorted(set(only) - {c["id"] for c in cases})
        if missing:
            raise ValueError(f"no case {', '.join(missing)} in {out}/cases.json")
        cases = [c for c in cases if c["id"] in set(only)]
    S = models.cfg.vae.sample_size
    shape = (1,) + models.latent
    rows = []
    for c in cases:
        noise = f32(os.path.join(out, f"noise_{c['id']}.f32")).view(shape)
        cache, cache_diff = None, None
        ctx = models.embed([c["prompt"]])
        if c["reference"]:
            ref = with_self_views(from_rgba_bytes(open(os.path.join(out, c["reference"]), "rb").read(), S)[None], views)
            cn = f32(os.path.join(out, f"cachenoise_{c['id']}.f32"))
            if cn.numel() != ref.shape[1] * int(np.prod(shape)):
                raise ValueError(f"cachenoise_{c['id']}.f32 holds {cn.numel()} values, not {ref.shape[1]} view(s) × "
                                 f"{int(np.prod(shape))}: were the dumps made with another pack's cache.selfViews?")
            cn = cn.view((ref.shape[1],) + tuple(shape[1:]))
            cache = build_caches(models.unet, models.vae, ref, models.empty, 1, cn, models.acp, half_round=True)
            files = {k: os.path.join(out, f"cache_{c['id']}_{k}.f32") for k in cache}
            if all(os.path.isfile(f) for f in files.values()):   # the test fixture leaves them out (size)
                dumped = {k: f32(f).view_as(cache[k]) for k, f in files.items()}
                cache_diff = max(float((cache[k] - dumped[k]).abs().max()) for k in cache)
                if runtime_cache:
                    cache = dumped
            elif runtime_cache:
                raise FileNotFoundError(f"--runtime-cache: {out} has no cache dumps of case {c['id']} "
                                        f"(cache_{c['id']}_LAYER.f32, written by scripts/parity.ts)")
        lat = sample(models.unet, ctx, models.empty, steps=c["steps"], s_text=c["textScale"], s_img=c["imageScale"],
                     s_img_end=c.get("imageScaleEnd"), cache=cache, mode="combined", acp=models.acp, noise=noise)
        py = np.frombuffer(to_rgba_bytes(decode(models.vae, lat)[0]), dtype=np.uint8).astype(np.int32)
        ts = np.fromfile(os.path.join(out, f"ts_{c['id']}.rgba"), dtype=np.uint8).astype(np.int32)
        d = np.abs(py - ts).reshape(-1, 4)[:, :3]
        rows.append({"id": c["id"], "method": "DreamCache" if c["reference"] else "text-only", "prompt": c["prompt"],
                     "steps": c["steps"], "max_abs": int(d.max()), "mean_abs": float(d.mean()),
                     "cache_max_abs": cache_diff})
        print(f"{c['id']}: max abs {rows[-1]['max_abs']}, mean abs {rows[-1]['mean_abs']:.4f}", flush=True)
    res = {"cases": rows, "max_abs": max(r["max_abs"] for r in rows),
           "mean_abs": float(np.mean([r["mean_abs"] for r in rows])),
           "cache_max_abs": max((r["cache_max_abs"] for r in rows if r["cache_max_abs"] is not None), default=None)}
    # a subset or the runtime's caches get their own report: the full run's parity.json stays
    stem = "parity" + ("-runtime-cache" if runtime_cache else "") + ("-" + "-".join(c["id"] for c in cases) if only else "")
    res["report"] = stem
    json.dump(res, open(os.path.join(out, stem + ".json"), "w"), indent=1)
    md = "| case | method | steps | max abs (0–255) | mean abs | cache max abs | prompt |\n|---|---|---|---|---|---|---|\n"
    md += "".join(f"| {r['id']} | {r['method']} | {r['steps']} | {r['max_abs']} | {r['mean_abs']:.3f} | "
                  f"{'–' if r['cache_max_abs'] is None else format(r['cache_max_abs'], '.2e')} | {r['prompt']} |\n"
                  for r in rows)
    md += f"\nAll {len(rows)} cases: max abs {res['max_abs']}, mean abs {res['mean_abs']:.3f} (pixel values 0–255).\n"
    open(os.path.join(out, stem + ".md"), "w").write(md)
    return res


def load_models(weights: str, adapters, preset: str = "tiny", tokenizer: str = TOKENIZER,
                int8_text_encoder: bool = False, int8_unet: bool = False):
    from .bench import Models
    return Models(types.SimpleNamespace(weights=weights, adapters=adapters, preset=preset, tokenizer=tokenizer,
                                        int8_text_encoder=int8_text_encoder, int8_unet=int8_unet), "cpu")


@torch.no_grad()      # scoped: a caller's process keeps its grad mode (tests call main())
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", required=True, help="the exported pack the runtime loads")
    ap.add_argument("--weights", required=True, help="the same model's weights for PyTorch (checkpoint folder)")
    ap.add_argument("--adapters", default=None)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--webp", default=None)
    ap.add_argument("--subjects", default=None)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--text-scale", type=float, default=7.5)
    ap.add_argument("--image-scale", type=float, default=1.0)
    ap.add_argument("--image-scale-end", type=float, default=None,
                    help="sI at the last step: a ramp from --image-scale, as a pack's guidance.imageScaleEnd")
    ap.add_argument("--int8-text-encoder", action="store_true",
                    help="PyTorch's text encoder rounded as a pack exported with --int8-storage text_encoder stores it")
    ap.add_argument("--int8-unet", action="store_true",
                    help="PyTorch's U-Net rounded as a pack exported with --int8-storage unet stores it")
    ap.add_argument("--skip-node", action="store_true", help="compare dumps already in --out")
    ap.add_argument("--runtime-cache", action="store_true",
                    help="sample PyTorch from the runtime's dumped caches instead of its own cache pass")
    ap.add_argument("--only", default="", help="comma list of case ids to compare (with --skip-node: a subset)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    if not a.skip_node:
        if not a.webp:
            ap.error("--webp is needed to prepare cases")
        prepare(a, a.out)
        run_node(a.pack, a.out)
    views = json.load(open(os.path.join(a.pack, "manifest.json")))["cache"].get("selfViews", [])
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    try:
        res = compare(load_models(a.weights, a.adapters, a.preset, int8_text_encoder=a.int8_text_encoder,
                                   int8_unet=a.int8_unet), a.out,
                      views, runtime_cache=a.runtime_cache, only=only)
    except (ValueError, FileNotFoundError) as e:
        ap.error(str(e))
    print(open(os.path.join(a.out, res["report"] + ".md")).read())
    return res


if __name__ == "__main__":
    main()
