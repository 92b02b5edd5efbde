"""Held-out personalization benchmark (docs/evaluation.md, "Benchmark").

Subjects (held-out by default; training subjects with --split train, a diagnostic of the base
model's own ceiling, as it learned their names; or any folder of RGBA PNGs) × the 25 prompts of prompts.py ×
seeds. Methods: text-only base model (subject named in the prompt, gate 0, plain CFG),
DreamCache (cache of the subject's clean reference on white at t = 1, combined guidance) and the
generator's ground-truth composite (upper bound). Ablations on the first --ablation-seeds seeds:
caching timestep, mid-only cache, image-guidance scale sweep, three references concatenated, the
other guidance order, image-guidance scales that ramp over the steps, and two knobs the app could turn
without new weights: extra cache views made from the one reference (its mirror image, a zoomed-out copy)
and the adapter gate of the cached rows.
DreamCache's prompts name the subject by its class noun by default ("a photo of an animal on a
beach", as DreamBench's prompts do and as the adapters were trained); a second main row names it
as text-only does. Every image gets DINO-like, CLIP-I-like, CLIP-T-like, masked DINO-/CLIP-I-like and
scene/modifier hits (scorer.py). torchrun ranks take interleaved batches; records are appended
per batch, so a time-boxed run resumes where it stopped.

    torchrun --nproc_per_node=4 -m dreamcache.eval.bench --weights W --evaluators E --webp WEBP --out runs/bench
    python3 -m dreamcache.eval.bench ... --subject-dir my_pngs/    # other subjects, name from file name
"""
import argparse
import contextlib
import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import torch

from ..adapter_width import read_adapter_width
from ..segmenter_channels import read_segmenter_config
from ..export import build_models, load_trained
from ..models import is_adapter_param, set_attention_backend
from ..models.config import PRESETS
from ..onnx_export import round_as_int8, round_unet_as_int8
from ..schedule import alphas_cumprod
from ..tokenizer_any import load_tokenizer
from ..train.common import Dist, TimeBox, autocast, load_split, setup_fast_math
from ..sampler_batched import build_caches, decode, sample_batch
from ..self_views import SELF_VIEWS, parse_self_views, self_view
from . import plots
from .data import augmented_references, clean_reference, composite, eval_generator, load_bank, load_folder_bank
from .prompts import GRID_PROMPTS, PROMPTS
from .scorer import Scorer
from .trainer import TOKENIZER

# The ground-truth composites encoded and decoded by the pack's VAE: a ceiling for generation, as
# every generated image leaves through that decoder, which cannot show what its latents do not carry.
GT_VAE = "ground truth through the VAE"
METRICS = ["dino", "clip_i", "clip_t", "masked_dino", "masked_clip_i", "scene_ok", "modifier_ok"]


@dataclass(frozen=True)
class Config:
    name: str
    method: str                       # "text" | "dreamcache" | "gt" | "gt_vae"
    seeds: int
    steps: int
    cache_t: int = 1
    layers: Optional[Tuple[str, ...]] = None   # None: every cached layer
    s_img: float = 1.0
    s_img_end: Optional[float] = None  # sI ramps from s_img (first step) to this (last): sampler.image_scales
    refs: int = 1
    views: Tuple[str, ...] = ()       # extra cache views of the one reference (self_view); () = the method's
    gate: float = 1.0                 # the adapter gate of the cached rows (e_i, e_c); 1 = as trained
    group: str = "main"               # "main" | "cache_t" | "layers" | "scale" | "refs" | "prompted" | "ramp" | "views" | "gate" | "rescale"
    noun: str = "name"                # how the prompt names the subject: "name" | "category" (class noun)
    guidance: str = "combined"        # "combined" (the method's) | "prompted" (sampler.combine)
    rescale: float = 0.0              # guidance rescale's phi (sampler.rescale_guidance); 0 = the method's


def make_configs(a) -> List[Config]:
    other = "name" if a.dreamcache_noun == "category" else "category"
    both = [Config(f"DreamCache ({'subject named' if other == 'name' else 'class noun'})", "dreamcache", a.seeds,
                   a.steps, s_img=a.image_scale, s_img_end=a.image_scale_end, noun=other, views=a.self_views)] \
        if a.both_nouns else []
    main = ([Config("text-only", "text", a.seeds, a.steps, s_img=0.0),
             Config("DreamCache", "dreamcache", a.seeds, a.steps, s_img=a.image_scale, s_img_end=a.image_scale_end,
                    noun=a.dreamcache_noun, views=a.self_views)]
            + both + [Config("ground truth", "gt", a.seeds, a.steps),
                      Config(GT_VAE, "gt_vae", a.seeds, a.steps)])
    main = [c for c in main if c.method in rows_of(a)]
    abl, n, st = [], a.ablation_seeds, a.ablation_steps or a.steps
    # every DreamCache ablation: the main row's image scale and naming unless it varies them
    dc = functools.partial(Config, method="dreamcache", seeds=n, steps=st, s_img=a.image_scale, noun=a.dreamcache_noun)
    want = set(x for x in a.ablations.replace(" ", "").split(",") if x and x != "none")
    if want - set(ABLATIONS):
        raise ValueError(f"--ablations takes a comma list of {', '.join(ABLATIONS)} or 'none'; got {a.ablations!r}")
    if "cache_t" in want:
        abl += [dc(f"cache t={t}", cache_t=t, group="cache_t") for t in (1, 250, 600)]
    if "layers" in want:
        abl += [dc("mid-only cache", layers=("mid",), group="layers")]
    if "scale" in want:
        abl += [dc(f"sI={s:g}", s_img=s, group="scale") for s in a.scales]
        abl += [Config("text-only (sweep ref.)", "text", n, st, s_img=0.0, group="scale")]
    if "refs" in want:
        abl += [dc("3 references", refs=3, group="refs")]
    if "prompted" in want:
        abl += [dc(f"prompted sI={s:g}", s_img=s, guidance="prompted", group="prompted") for s in a.prompted_scales]
    if "ramp" in want:
        abl += [dc(f"sI ramp {s:g}→{e:g}", s_img=s, s_img_end=e, group="ramp") for s, e in a.ramps]
    # runtime knobs that need no new weights: measured against the main row, so at its sI ramp
    if "views" in want:
        abl += [dc(f"views ref+{'+'.join(v)}", s_img_end=a.image_scale_end, views=v, group="views") for v in a.views]
    if "gate" in want:
        abl += [dc(f"gate {g:g}", s_img_end=a.image_scale_end, gate=g, group="gate") for g in a.gates]
    if "rescale" in want:   # the main row's ramp and views, only the rescale differs
        abl += [dc(f"rescale {r:g}", s_img_end=a.image_scale_end, views=a.self_views, rescale=r, group="rescale")
                for r in a.rescales]
    return main + abl


MAIN_ROWS = ("text", "dreamcache", "gt", "gt_vae")
ABLATIONS = ("cache_t", "layers", "scale", "refs", "prompted", "ramp", "views", "gate", "rescale")
VIEW_OPS = SELF_VIEWS + ("render",)


def parse_views(text: str) -> List[Tuple[str, ...]]:
    """'flip,flip+zoom' → [('flip',), ('flip', 'zoom')]: the extra views of each ablation row."""
    out = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        ops = tuple(o.strip() for o in part.split("+"))
        bad = [o for o in ops if o not in VIEW_OPS]
        if bad or not ops:
            raise ValueError(f"--views takes '+'-joined lists of {', '.join(VIEW_OPS)}, comma-separated "
                             f"(e.g. flip,flip+zoom); got {part!r}")
        out.append(ops)
    return out


def parse_numbers(text: str, ok, flag: str, rule: str) -> List[float]:
    """'a,b' → [a, b], each number kept only if ok(number); anything else is refused with --FLAG's rule."""
    out = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        try:
            v = float(part)
        except ValueError:
            v = float("nan")
        if not ok(v):
            raise ValueError(f"{flag} takes {rule}, comma-separated; got {part!r}")
        out.append(v)
    return out


def parse_rescales(text: str) -> List[float]:
    """'0.3,0.7' → [0.3, 0.7]; guidance rescale's phi must lie in (0, 1] (0 is the main row)."""
    return parse_numbers(text, lambda r: 0 < r <= 1, "--rescales", "numbers in (0, 1] (e.g. 0.3,0.7)")


def parse_gates(text: str) -> List[float]:
    """'1.25,1.5' → [1.25, 1.5]; a gate must be a finite number ≥ 0 (0 is the base model)."""
    return parse_numbers(text, lambda g: g >= 0 and g != float("inf"), "--gates",
                         "finite numbers ≥ 0 (e.g. 1.25,1.5)")


def parse_ramps(text: str) -> List[Tuple[float, float]]:
    """'6:12,12:6' → [(6.0, 12.0), (12.0, 6.0)]."""
    out = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        bits = part.split(":")
        try:
            if len(bits) != 2:
                raise ValueError
            out.append((float(bits[0]), float(bits[1])))
        except ValueError:
            raise ValueError(f"--ramps takes FIRST:LAST pairs of numbers, comma-separated (e.g. 6:12,12:6); "
                             f"got {part!r}") from None
    return out


def rows_of(a) -> List[str]:
    """The main rows --rows asks for (methods: text, dreamcache, gt, gt_vae)."""
    rows = [r for r in a.rows.replace(" ", "").split(",") if r]
    bad = [r for r in rows if r not in MAIN_ROWS]
    if bad or not rows:
        raise ValueError(f"--rows takes a comma list of {', '.join(MAIN_ROWS)}; got {a.rows!r}")
    return rows


def spread(n_total: int, n: int) -> List[int]:
    """n indices evenly over range(n_total): the subjects of the PNG grids."""
    k = min(n, n_total)
    return sorted({round(i * n_total / k) for i in range(k)})


def seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:7], "big")


def cpu_randn(shape, *key) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed_of(*key)))


class Models:
    def __init__(self, a, device):
        tok = load_tokenizer(a.tokenizer)
        self.cfg = PRESETS[a.preset](tok.vocab_size)
        # the adapters that will be used decide the width: --adapters' (adapters.json or tensors)
        self.cfg.unet.adapter_width = read_adapter_width(a.adapters or a.weights)
        self.cfg.segmenter = read_segmenter_config(a.weights, self.cfg.segmenter)
        self.unet, self.vae, self.te, self.seg = build_models(self.cfg)
        load_trained(a.weights, self.cfg, self.unet, self.vae, self.te, self.seg, load_adapters=not a.adapters)
        if a.adapters:
            ad = {k: v.float() for k, v in load_split(a.adapters, "adapters").items()}
            bad = [k for k in ad if not is_adapter_param(k)]
            if bad:
                raise ValueError(f"{a.adapters}: not adapter weights: {bad[:3]}")
            self.unet.load_state_dict(ad, strict=False)
        if a.int8_text_encoder:   # as `export --int8-storage text_encoder` stores it
            round_as_int8(self.te)
        if getattr(a, "int8_unet", False):   # as `export --int8-storage unet` stores it: base and adapters
            round_unet_as_int8(self.unet)
        for m in (self.unet, self.vae, self.te):
            m.to(device).eval().requires_grad_(False)
        self.tok = tok
        self.device = device
        self.acp = alphas_cumprod().to(device)
        self.latent = (self.cfg.unet.in_channels, self.cfg.vae.sample_size // self.cfg.vae.downsample,
                       self.cfg.vae.sample_size // self.cfg.vae.downsample)
        self.empty = self.embed([""])

    @torch.no_grad()
    def embed(self, texts: List[str]) -> torch.Tensor:
        return self.te(self.tok.encode_batch(texts).to(self.device)).float()


def run_batch(c: Config, items, bank, gen, models: Models, a) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images and clean references [n, 3, S, S] in [−1, 1] for items [(subject, prompt, seed)]."""
    dev = models.device
    subj = torch.tensor([s for s, _, _ in items], device=dev)
    ids = [bank.ids[s] for s in subj.tolist()]
    refs = clean_reference(gen, subj)
    if c.method in ("gt", "gt_vae"):
        g = torch.Generator(device=gen.device).manual_seed(seed_of("gt", *[f"{i}/{p}/{s}" for i, (_, p, s) in zip(ids, items)]) % (2 ** 62))
        scene = torch.tensor([PROMPTS[p].scene_id for _, p, _ in items])
        mod = torch.tensor([PROMPTS[p].modifier_id for _, p, _ in items])
        img = composite(gen, subj, scene, mod, g)[0]
        if c.method == "gt_vae":
            with torch.no_grad():
                lat = models.vae.encode_moments(img.to(dev))[0].float() * models.vae.config.scaling_factor
            img = decode(models.vae, lat)
        return img, refs
    prompts = [PROMPTS[p].text(bank.words(s, c.noun)) for s, p, _ in items]
    noise = torch.stack([cpu_randn(models.latent, "xT", i, PROMPTS[p].key, sd) for i, (_, p, sd) in zip(ids, items)]).to(dev)
    ctx = models.embed(prompts)
    caches = None
    if c.method == "dreamcache":
        views = [refs]
        for k, op in enumerate(("render",) * (c.refs - 1) + tuple(c.views), start=1):
            if op == "render":   # another render of the subject: a second photo, which the one-photo user lacks
                g = torch.Generator(device=gen.device).manual_seed(seed_of("ref", k, *ids) % (2 ** 62))
                views.append(augmented_references(gen, subj, g))
            else:
                views.append(self_view(refs, op))
        stack = torch.stack(views, 1)                                   # [n, K, 3, S, S]
        cnoise = torch.stack([cpu_randn(models.latent, "cache", i, k) for i in ids for k in range(len(views))]).to(dev)
        caches = build_caches(models.unet, models.vae, stack, models.empty, c.cache_t, cnoise, models.acp)
        if c.layers is not None:
            caches = {k: v for k, v in caches.items() if k in c.layers}
    lat = sample_batch(models.unet, ctx, models.empty, noise, c.steps, a.text_scale, c.s_img, caches, models.acp,
                       guidance=c.guidance, s_img_end=c.s_img_end, gate_scale=c.gate, rescale=c.rescale)
    return decode(models.vae, lat), refs


def key(c: Config, bank, item) -> str:
    return f"{c.name}|{bank.ids[item[0]]}|{PROMPTS[item[1]].key}|{item[2]}"


def read_records(folder: str) -> List[Dict]:
    out = []
    if os.path.isdir(folder):
        for f in sorted(os.listdir(folder)):
            if f.endswith(".jsonl"):
                out += [json.loads(l) for l in open(os.path.join(folder, f)) if l.strip()]
    return out


def aggregate(records: List[Dict], name: str, seeds: Optional[int] = None) -> Dict[str, float]:
    rs = [r for r in records if r["config"] == name and (seeds is None or r["seed"] < seeds)]
    out = {"n": len(rs)}
    for m in METRICS:
        vals = [r[m] for r in rs if not (m == "modifier_ok" and r["modifier"] < 0)]
        out[m] = sum(vals) / len(vals) if vals else float("nan")
    return out


def fmt(v: float) -> str:
    return "–" if v != v else f"{v:.3f}"


def check_scoring(ap, a, done, write: bool) -> None:
    """Records resumed in --out must come from the same text-encoder storage and the same main-row cache
    views: refuses a mix, and records both for a fresh --out (folders without the file were float, no views)."""
    path = os.path.join(a.out, "scoring.json")
    want = {"text_encoder": "int8" if a.int8_text_encoder else "float",
            **({"unet": "int8"} if a.int8_unet else {}),
            **({"self_views": "+".join(a.self_views)} if a.self_views else {})}
    had = json.load(open(path)) if os.path.isfile(path) else ({"text_encoder": "float"} if done else None)
    if had is not None and had.get("text_encoder") != want["text_encoder"]:
        ap.error(f"{a.out} holds records scored with the {had['text_encoder']} text encoder; this run asks for "
                 f"the {want['text_encoder']} one: give another --out")
    if had is not None and had.get("unet", "float") != want.get("unet", "float"):
        ap.error(f"{a.out} holds records scored with the {had.get('unet', 'float')} U-Net; this run asks for the "
                 f"{want.get('unet', 'float')} one: give another --out")
    if had is not None and had.get("self_views", "") != want.get("self_views", ""):
        ap.error(f"{a.out} holds DreamCache records cached with self views {had.get('self_views') or 'none'!r}; "
                 f"this run asks for {want.get('self_views') or 'none'!r}: give another --out")
    if write:
        json.dump(want, open(path, "w"))


def report(a, configs: List[Config], records: List[Dict], expected: Dict[str, int]):
    res = {c.name: dict(aggregate(records, c.name), **{k: v for k, v in asdict(c).items() if k != "name"},
                        expected=expected[c.name]) for c in configs}
    main = [c for c in configs if c.group == "main"]
    abl = [c for c in configs if c.group != "main"]
    head = "| method | DINO-like | CLIP-I-like | CLIP-T-like | masked DINO | masked CLIP-I | scene acc | modifier acc | images |\n|---|---|---|---|---|---|---|---|---|\n"
    row = lambda n, r: (f"| {n} | " + " | ".join(fmt(r[m]) for m in METRICS) + f" | {r['n']} |\n")
    subjects = "subjects of --subject-dir" if a.subject_dir else ("held-out subjects" if a.split == "heldout" else
                                                                  "TRAINING subjects (diagnostic, not the benchmark)")
    if a.grid_only:
        subjects += ", GRID ONLY: the grid's images, not the benchmark"
    md = (f"### Main ({subjects}; {1 if a.grid_only else a.seeds} seeds, {a.steps} DDIM steps, sT {a.text_scale}, sI {a.image_scale:g}"
          f"{f' → {a.image_scale_end:g}' if a.image_scale_end is not None else ''}"
          f"{'; int8 text encoder' if a.int8_text_encoder else ''}{'; int8 U-Net' if a.int8_unet else ''})\n\n"
          + head)
    md += "".join(row(c.name, res[c.name]) for c in main)
    t, d, g = (res.get(n) for n in ("text-only", "DreamCache", "ground truth"))
    summary = {}
    if t and d and g and t["n"] and d["n"] and g["n"]:
        gap = g["dino"] - t["dino"]
        summary = {"dino_gap_closed": (d["dino"] - t["dino"]) / gap if gap else float("nan"),
                   "clip_t_ratio": d["clip_t"] / t["clip_t"] if t["clip_t"] else float("nan")}
        md += (f"\nDINO-like gap closed by DreamCache: {fmt(summary['dino_gap_closed'])} (goal ≥ 0.70); "
               f"CLIP-T-like DreamCache / text-only: {fmt(summary['clip_t_ratio'])} (goal ≥ 0.90).\n")
        v = res.get(GT_VAE)
        if v and v["n"] and gap:
            summary["dino_gap_vae_ceiling"] = (v["dino"] - t["dino"]) / gap
            md += (f"Ground truth through the VAE closes {fmt(summary['dino_gap_vae_ceiling'])} of that gap: about the "
                   f"most a generation decoded by this VAE can reach.\n")
    if abl:
        md += f"\n### Ablations ({a.ablation_seeds} seed(s), {a.ablation_steps or a.steps} steps)\n\n" + head
        for c in abl:
            md += row(f"{c.group}: {c.name}", res[c.name])
    partial = {n: (res[n]["n"], expected[n]) for n in res if res[n]["n"] < expected[n]}
    if partial:
        md += f"\n**Partial run**: configs with fewer images than planned: {partial}\n"
    json.dump({"results": res, "summary": summary, "partial": partial, "args": vars(a)},
              open(os.path.join(a.out, "bench.json"), "w"), indent=1)
    open(os.path.join(a.out, "bench.md"), "w").write(md)
    print(md, flush=True)
    sweep = [c for c in configs if c.group == "scale" and c.method == "dreamcache" and res[c.name]["n"]]
    prompted = [c for c in configs if c.group == "prompted" and res[c.name]["n"]]
    if sweep or prompted:
        pts = {}
        if sweep:
            pts["DreamCache, sI sweep"] = [(res[c.name]["clip_t"], res[c.name]["dino"], f"{c.s_img:g}") for c in sweep]
        if prompted:
            pts["image guidance under the prompt"] = [(res[c.name]["clip_t"], res[c.name]["dino"], f"{c.s_img:g}")
                                                      for c in prompted]
        ref = res.get("text-only (sweep ref.)")
        if ref and ref["n"]:
            pts["text-only"] = [(ref["clip_t"], ref["dino"], "text")]
        plots.tradeoff(pts, os.path.join(a.out, "sweep.png"), "CLIP-T-like (text alignment)",
                       "DINO-like (subject fidelity)", f"Image-guidance scale sweep ({subjects})")


def save_grid(a, bank, grid_subjects: List[int]):
    tiles = os.path.join(a.out, "tiles")
    if not os.path.isdir(tiles):
        return
    from PIL import Image
    pkeys = [p for p in GRID_PROMPTS if any(q.key == p for q in PROMPTS[: a.limit_prompts or len(PROMPTS)])]
    rows, labels = [], []
    for s in grid_subjects:
        f = lambda n: os.path.join(tiles, n)
        names = [f"ref__{s}.png"] + [f"{m}__{s}__{p}.png" for p in pkeys for m in ("text-only", "DreamCache")]
        if not all(os.path.isfile(f(n)) for n in names):
            continue
        rows.append([Image.open(f(n)).convert("RGB") for n in names])
        labels.append(bank.labels[s])
    if rows:
        header = ["reference"] + [f"{m}: {p}" for p in pkeys for m in ("text", "DreamCache")]
        plots.grid(rows, header, bank.size, os.path.join(a.out, "grid.png"), labels)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="trained pack weights (unet, text_encoder, vae + vae.json, "
                    "segmenter + segmenter.json, optional adapters partNN), e.g. checkpoints/tiny-emoji-v1")
    ap.add_argument("--adapters", default=None, help="folder with adapters.partNN (overrides --weights' adapters)")
    ap.add_argument("--evaluators", required=True, help="folder with identity/clip/scene .json + .partNN")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--tokenizer", default=TOKENIZER)
    ap.add_argument("--webp", default=None, help="subject WebPs (held-out subjects of subjects.json)")
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout",
                    help="which subjects of --webp: held-out (the benchmark) or training subjects (a diagnostic: "
                         "the base model learned their names and the evaluators were trained on them)")
    ap.add_argument("--subjects", default=None, help="subjects.json")
    ap.add_argument("--subject-dir", default=None, help="score any folder of RGBA PNG subjects instead")
    ap.add_argument("--limit-subjects", type=int, default=0)
    ap.add_argument("--limit-prompts", type=int, default=0, help="first N of the 25 prompts (0: all)")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--text-scale", type=float, default=7.5)
    ap.add_argument("--image-scale", type=float, default=1.0)
    ap.add_argument("--image-scale-end", type=float, default=None,
                    help="the main DreamCache rows' sI at the last step (a ramp from --image-scale, as a pack's "
                         "guidance.imageScaleEnd); ablation rows keep a constant --image-scale")
    ap.add_argument("--dreamcache-noun", choices=["category", "name"], default="category",
                    help="DreamCache prompts name the subject by its class noun (DreamBench-style) or its name")
    ap.add_argument("--both-nouns", action="store_true", help="a second DreamCache main row with the other naming")
    ap.add_argument("--rows", default=",".join(MAIN_ROWS),
                    help="main rows to run (text, dreamcache, gt, gt_vae); 'gt,gt_vae' scores a VAE's ceiling "
                         "alone, no diffusion: minutes on a CPU")
    ap.add_argument("--ablations", default="cache_t,layers,scale,refs",
                    help="comma list of cache_t, layers, scale, refs, prompted (image guidance under the prompt, "
                         "at --prompted-scales), ramp (sI changing linearly over the steps, --ramps), views (extra "
                         "cache views of the reference, --views), gate (the adapter gate, --gates), rescale "
                         "(guidance rescale against e_c, --rescales), or 'none'")
    ap.add_argument("--ablation-seeds", type=int, default=1)
    ap.add_argument("--ablation-steps", type=int, default=0, help="0: same as --steps")
    ap.add_argument("--scales", default="0,0.5,1,2,3,5")
    ap.add_argument("--prompted-scales", default="8,12,16", help="sI of the 'prompted' ablation rows")
    ap.add_argument("--ramps", default="6:12,12:6",
                    help="FIRST:LAST sI pairs of the 'ramp' ablation rows, comma-separated (sI goes linearly "
                         "from FIRST at the noisiest step to LAST at the final one)")
    ap.add_argument("--self-views", default="",
                    help="the main DreamCache rows cache these views of the reference beside it, '+'-joined (a "
                         "pack's cache.selfViews, e.g. flip); default: the reference alone, as the method does")
    ap.add_argument("--views", default="flip,flip+zoom",
                    help="the 'views' ablation rows: extra cache views of the one reference, '+'-joined (flip: its "
                         "mirror image; zoom: shrunk to 80 %% on white; render: another render of the subject, "
                         "i.e. a second photo), comma-separated rows")
    ap.add_argument("--gates", default="1.25,1.5",
                    help="the 'gate' ablation rows: adapter gate of the cached rows at sampling (1 = as trained)")
    ap.add_argument("--rescales", default="0.3,0.5,0.7",
                    help="the 'rescale' ablation rows: guidance rescale's phi (Lin et al. 2024), each prediction "
                         "scaled towards e_c's spread; the main row's sI ramp and self views")
    ap.add_argument("--batch", type=int, default=128, help="images per sampler call (×3 U-Net rows)")
    ap.add_argument("--grid-subjects", type=int, default=12)
    ap.add_argument("--grid-only", action="store_true",
                    help="only the images of the PNG grid (its subjects × its 4 prompts, seed 0, main rows): the "
                         "grid on a machine too slow for the benchmark; the table then scores those few images")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for the diffusion models on CUDA "
                    "(faster; the default fp32/TF32 is what parity compares with)")
    ap.add_argument("--minutes", type=float, default=1e9, help="time box; rerun the same command to resume")
    ap.add_argument("--int8-text-encoder", action="store_true",
                    help="score the text encoder as a pack exported with --int8-storage text_encoder runs it")
    ap.add_argument("--int8-unet", action="store_true",
                    help="score the U-Net (base and adapters) as a pack exported with --int8-storage unet runs it")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    a.scales = [float(x) for x in a.scales.split(",")] if isinstance(a.scales, str) else a.scales
    a.prompted_scales = ([float(x) for x in a.prompted_scales.split(",") if x]
                         if isinstance(a.prompted_scales, str) else a.prompted_scales)
    try:
        a.ramps = parse_ramps(a.ramps) if isinstance(a.ramps, str) else a.ramps
        a.views = parse_views(a.views) if isinstance(a.views, str) else a.views
        a.self_views = parse_self_views(a.self_views)
        a.gates = parse_gates(a.gates) if isinstance(a.gates, str) else a.gates
        a.rescales = parse_rescales(a.rescales) if isinstance(a.rescales, str) else a.rescales
    except ValueError as e:
        ap.error(str(e))
    if a.grid_only and a.grid_subjects < 1:
        ap.error("--grid-only needs --grid-subjects of 1 or more")
    try:
        make_configs(a)     # checks --rows and --ablations
    except ValueError as e:
        ap.error(str(e))
    setup_fast_math()
    if torch.cuda.is_available():
        set_attention_backend("sdpa")
    d = Dist()
    box = TimeBox(a.minutes)
    size = PRESETS[a.preset](4096).vae.sample_size
    if a.subject_dir:
        bank = load_folder_bank(a.subject_dir, size, d.device)
    elif a.webp:
        bank = load_bank(a.webp, a.split, size, d.device, a.subjects)
    else:
        ap.error("give --webp (held-out subjects) or --subject-dir")
    n_subj = min(len(bank), a.limit_subjects or len(bank))
    n_prompts = min(len(PROMPTS), a.limit_prompts or len(PROMPTS))
    gen = eval_generator(bank, d.device)
    models = Models(a, d.device)
    scorer = Scorer(a.evaluators, a.weights, models.tok, d.device)
    # the grid shows the main rows only
    configs = [c for c in make_configs(a) if c.group == "main" or not a.grid_only]
    grid_subjects = spread(n_subj, a.grid_subjects)
    grid_prompts = {i for i, p in enumerate(PROMPTS[:n_prompts]) if p.key in GRID_PROMPTS}
    rec_dir = os.path.join(a.out, "records")
    tiles = os.path.join(a.out, "tiles")
    os.makedirs(tiles, exist_ok=True)
    done = {r["key"] for r in read_records(rec_dir)}
    check_scoring(ap, a, done, d.main)
    d.barrier()
    os.makedirs(rec_dir, exist_ok=True)
    rec = open(os.path.join(rec_dir, f"rank{d.rank}.jsonl"), "a")
    expected, work = {}, []
    for c in configs:
        if a.grid_only:
            items = [(s, p, 0) for s in grid_subjects for p in sorted(grid_prompts)]
        else:
            items = [(s, p, sd) for s in range(n_subj) for p in range(n_prompts) for sd in range(c.seeds)]
        expected[c.name] = len(items)
        todo = [it for it in items if key(c, bank, it) not in done]
        work += [(c, todo[i:i + a.batch]) for i in range(0, len(todo), a.batch)]
    if d.main:
        print(json.dumps({"event": "start", "subjects": n_subj, "prompts": n_prompts, "configs": len(configs),
                          "batches_left": len(work), "world": d.world}), flush=True)
    for bi, (c, items) in enumerate(work):
        if bi % d.world != d.rank:
            continue
        if box.over():
            break
        with (autocast(d.device) if a.bf16 else contextlib.nullcontext()):
            imgs, refs = run_batch(c, items, bank, gen, models, a)
        imgs = imgs.float()
        sc = scorer.score(imgs, refs, [PROMPTS[p].text(bank.labels[s]) for s, p, _ in items],
                          torch.tensor([PROMPTS[p].scene_id for _, p, _ in items]),
                          torch.tensor([PROMPTS[p].modifier_id for _, p, _ in items]))
        for j, it in enumerate(items):
            r = {"key": key(c, bank, it), "config": c.name, "subject": bank.ids[it[0]], "prompt": PROMPTS[it[1]].key,
                 "seed": it[2], "modifier": PROMPTS[it[1]].modifier_id}
            r.update({m: round(float(sc[m][j]), 5) for m in METRICS})
            rec.write(json.dumps(r) + "\n")
            if c.group == "main" and it[0] in grid_subjects and it[1] in grid_prompts and it[2] == 0:
                plots.to_pil(imgs[j]).save(os.path.join(tiles, f"{c.name}__{it[0]}__{PROMPTS[it[1]].key}.png"))
                plots.to_pil(refs[j]).save(os.path.join(tiles, f"ref__{it[0]}.png"))
        rec.flush()
        if d.main and bi % (10 * d.world) == 0:
            print(json.dumps({"batch": bi, "of": len(work), "config": c.name, "sec": round(box.elapsed(), 1)}), flush=True)
    rec.close()
    d.barrier()
    if d.main:
        report(a, configs, read_records(rec_dir), expected)
        save_grid(a, bank, grid_subjects)
    d.close()


if __name__ == "__main__":
    main()
