"""Train the salient-object segmenter on generated composites with exact masks.

    torchrun --nproc_per_node=4 -m dreamcache.train.segmenter --webp W --out runs/seg --minutes 3

--channels 24,48,96,144 (fresh runs) builds a wider net than the preset's; a resumed checkpoint or
--init-from weights fix the widths, and a flag that disagrees is refused. The widths are recorded in
the checkpoint and in segmenter.json's config, where the exporter reads them.
"""
import argparse
import json
import os
from dataclasses import replace
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ..data.captions import SCENES
from ..models import Segmenter
from ..models.config import PRESETS, SegmenterConfig
from ..segmenter_channels import (Channels, SegmenterChannelsError, channels_of_tensors, check_channels, check_context,
                                  context_of_tensors, parse_channels, read_channels, read_segmenter_config,
                                  validate_channels)
from .common import (EMA, Checkpoint, Dist, Log, StepLoop, TimeBox, autocast, cycle_lr, load_split, save_split,
                     seeded_generator, setup_fast_math)
from .data import add_data_args, add_run_args, make_generator


def seg_batch(gen, batch, g, scenes, distractors: float = 0.0, mix: float = 0.0, style: float = 0.0,
              ridges: float = 0.0):
    kw = {"scenes": scenes} if scenes is not None else {}
    if distractors > 0:
        kw["distractors"] = distractors
    if mix > 0:
        kw["mix"] = mix
    if style > 0:
        kw["style"] = style
    if ridges > 0:
        kw["ridges"] = ridges
    return gen.segmenter_batch(batch, g, **kw)


def recolor(img, g):
    """Per-image RGB permutation, optional grey and inversion: the 24 training scenes become
    many more colourings, so the net learns objectness rather than the scenes' palettes."""
    b = img.shape[0]
    perms = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]], device=img.device)
    pick = perms[torch.randint(0, 6, (b,), generator=g, device=img.device)]
    out = torch.gather(img, 1, pick[:, :, None, None].expand_as(img))
    grey = torch.rand(b, 1, 1, 1, generator=g, device=img.device) < 0.15
    out = torch.where(grey, out.mean(1, keepdim=True).expand_as(out), out)
    inv = torch.rand(b, 1, 1, 1, generator=g, device=img.device) < 0.1
    return torch.where(inv, 1 - out, out)


@torch.no_grad()
def evaluate_iou(seg, gen, device, scenes=None, n_batches=8, batch=64, seed=777):
    """Mean per-image IoU of (prob > 0.5) against the exact mask."""
    seg.eval()
    ious = []
    for i in range(n_batches):
        img, mask = seg_batch(gen, batch, seeded_generator(seed, 0, i, device), scenes)
        pred = seg(img) > 0.5
        truth = mask > 0.5
        inter = (pred & truth).flatten(1).sum(1).float()
        union = (pred | truth).flatten(1).sum(1).float().clamp_min(1)
        ious.append(inter / union)
    seg.train()
    return float(torch.cat(ious).mean())


def run_channels(requested: Optional[Channels], preset: SegmenterConfig, ck: Checkpoint, init_from) -> Channels:
    """The widths to build, before any model exists: a resumed checkpoint's (its recorded config,
    else its tensors'), else --init-from's, else the flag's (default the preset's)."""
    if ck.exists():
        state = torch.load(ck.path, map_location="cpu")
        found = (tuple(state["config"]["channels"]) if "config" in state
                 else channels_of_tensors(state["model"], ck.path))
        return check_channels(requested, found, f"the run's checkpoint {ck.path}")
    if init_from:
        return check_channels(requested, read_channels(init_from, preset.input_size), f"--init-from {init_from}")
    return preset.channels if requested is None else requested


def run_context(requested: Optional[int], preset: SegmenterConfig, ck: Checkpoint, init_from) -> Tuple[int, int]:
    """(context blocks, heads) to build: a resumed checkpoint's, else --init-from's plus any blocks the
    flag adds (new blocks start as the identity), else the flag's (default none) at the preset's heads.
    Heads leave no trace in tensor shapes, so they come from the recorded configs."""
    if ck.exists():
        state = torch.load(ck.path, map_location="cpu")
        rec = state.get("config", {})
        found = int(rec["context_layers"]) if "context_layers" in rec else context_of_tensors(state["model"])
        return (check_context(requested, found, f"the run's checkpoint {ck.path}", grow=False),
                int(rec.get("context_heads", preset.context_heads)))
    if init_from:
        init = read_segmenter_config(init_from, preset)
        return check_context(requested, init.context_layers, f"--init-from {init_from}", grow=True), init.context_heads
    return requested or 0, preset.context_heads


def load_init(seg: "Segmenter", init_from: str) -> None:
    """--init-from weights into seg; only context blocks the weights lack may stay as built (the
    identity), anything else missing or left over is refused."""
    state = {k: v.float() if v.dtype.is_floating_point else v for k, v in load_split(init_from, "segmenter").items()}
    missing, unexpected = seg.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("context.") for k in missing):
        raise SegmenterChannelsError(f"--init-from {init_from}: weights do not fit the segmenter "
                                     f"(missing {missing[:3]}, unexpected {unexpected[:3]})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap)
    add_run_args(ap, minutes=3.0, batch=64, lr=1e-3)
    ap.add_argument("--eval-batches", type=int, default=8, help="batches of 64 for the final IoU (per scene too)")
    ap.add_argument("--distractors", type=float, default=0.5,
                    help="share of training backgrounds given generic unmasked distractors (0 = off)")
    ap.add_argument("--mix-scenes", type=float, default=0.0,
                    help="share of training backgrounds that mix two training scenes (data/scene_mix.py; 0 = off)")
    ap.add_argument("--bg-style", type=float, default=0.0,
                    help="share of training backgrounds zoomed into, flipped and recoloured before the subjects "
                         "go in (data/scene_style.py; 0 = off)")
    ap.add_argument("--ridges", type=float, default=0.0,
                    help="share of training backgrounds given terrain silhouettes with rims and thin strokes "
                         "(data/ridges.py; 0 = off)")
    ap.add_argument("--ckpt-every-min", type=float, default=3.0, help="checkpoint period: a killed run resumes")
    ap.add_argument("--init-from", default=None, help="folder with segmenter.partNN (e.g. checkpoints/tiny-emoji-v1) "
                    "to fine-tune when no checkpoint exists")
    ap.add_argument("--channels", default=None,
                    help="comma-separated widths per level, e.g. 24,48,96,144, fresh runs only (default the "
                         "preset's; a resumed checkpoint or --init-from weights fix them)")
    ap.add_argument("--context-layers", type=int, default=None,
                    help="self-attention blocks at the bottleneck (models/segmenter.py ContextBlock); with "
                         "--init-from weights that have fewer, the new blocks start as the identity")
    a = ap.parse_args(argv)
    if a.context_layers is not None and a.context_layers < 0:
        ap.error("--context-layers must be 0 or more")
    for flag, share in (("--distractors", a.distractors), ("--mix-scenes", a.mix_scenes), ("--bg-style", a.bg_style),
                        ("--ridges", a.ridges)):
        if not 0.0 <= share <= 1.0:
            ap.error(f"{flag} is a share of training images: give a number from 0 to 1, not {share}")
    preset = PRESETS[a.preset](4096).segmenter
    try:
        requested = validate_channels(parse_channels(a.channels), preset.input_size) if a.channels else None
    except SegmenterChannelsError as e:
        ap.error(str(e))
    setup_fast_math()
    d = Dist()
    box = TimeBox(a.minutes)
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    layers, heads = run_context(a.context_layers, preset, ck, a.init_from)
    cfg = replace(preset, channels=run_channels(requested, preset, ck, a.init_from), context_layers=layers,
                  context_heads=heads)
    gen = make_generator(a, d.device, "train")
    train_scenes, heldout_scenes = gen.scene_split() if hasattr(gen, "scene_split") else (None, None)
    torch.manual_seed(a.seed)
    seg = Segmenter(cfg).to(d.device)
    if not ck.exists() and a.init_from:
        # fp16/bf16 parts → float; a resumed run's checkpoint wins over the init weights
        load_init(seg, a.init_from)
    ema = EMA(seg, 0.998)
    opt = torch.optim.AdamW(seg.parameters(), lr=a.lr, weight_decay=1e-4)
    step = ck.resume(d.device, seg, opt, ema)
    model = d.wrap(seg)
    log = Log(a.out, d.main)
    log.write(event="start", step=step, world=d.world, params=sum(p.numel() for p in seg.parameters()),
              init_from=a.init_from, distractors=a.distractors, mix_scenes=a.mix_scenes, bg_style=a.bg_style,
              ridges=a.ridges, channels=list(cfg.channels),
              context_layers=cfg.context_layers)
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every, a.ckpt_every_min)
    while True:
        g = seeded_generator(a.seed, d.rank, step, d.device)
        img, mask = seg_batch(gen, a.batch, g, train_scenes, a.distractors, a.mix_scenes, a.bg_style, a.ridges)
        img = recolor(img, g)
        if img.shape[-1] != cfg.input_size:
            img = F.interpolate(img, size=cfg.input_size, mode="bilinear", align_corners=False)
            mask = F.interpolate(mask, size=cfg.input_size, mode="bilinear", align_corners=False)
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step, a.lr, 100)
        with autocast(d.device):
            logits = model(img, True)
        logits = logits.float()
        bce = F.binary_cross_entropy_with_logits(logits, mask)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * mask).flatten(1).sum(1) + 1) / (p.flatten(1).sum(1) + mask.flatten(1).sum(1) + 1)
        loss = bce + dice.mean()
        step = loop.update(loss, opt, seg.parameters(), ema, seg, step, clip=0)
        if loop.finish(step, lambda: dict(model=seg.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step,
                                            config=cfg.to_dict()),
                       loss=loss.detach(), bce=bce.detach()):
            break
    if d.main:
        final = Segmenter(cfg).to(d.device)
        final.load_state_dict(ema.shadow)
        held = make_generator(a, d.device, "heldout")
        meta = {"step": step,
                "iou_train_subjects_train_scenes": evaluate_iou(final, gen, d.device, train_scenes, a.eval_batches),
                "iou_heldout_subjects_heldout_scenes": evaluate_iou(final, held, d.device, heldout_scenes, a.eval_batches),
                "heldout_scenes": heldout_scenes, "config": cfg.to_dict(),
                "init_from": a.init_from, "distractors": a.distractors, "mix_scenes": a.mix_scenes,
                "bg_style": a.bg_style, "ridges": a.ridges}
        if heldout_scenes:
            meta["iou_heldout_per_scene"] = {SCENES[s].name: evaluate_iou(final, held, d.device, [s], a.eval_batches)
                                             for s in heldout_scenes}
        json.dump(meta, open(os.path.join(a.out, "segmenter.json"), "w"), indent=1)
        save_split(ema.shadow, os.path.join(a.out, "weights"), "segmenter", dtype=torch.float32)
        log.write(event="done", **{k: v for k, v in meta.items() if k != "config"})
    d.close()


if __name__ == "__main__":
    main()
