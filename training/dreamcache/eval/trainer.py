"""The evaluators' shared training run: DDP, time box, resume, EMA, split weights, and a
held-out report at the end — the same plumbing as dreamcache/train/*.py (common.py).

Every evaluator trains on the generator over the TRAINING bank only (check_training_bank) and is
scored at the end on held-out subjects, which it never saw."""
import argparse
import json
import os
from typing import Callable, Dict

import torch

from ..data import TripletGenerator
from ..tokenizer_any import load_tokenizer
from ..train.common import (EMA, Checkpoint, Dist, Log, StepLoop, TimeBox, autocast, cycle_lr, load_split,
                            param_groups_no_decay, save_split, seeded_generator, setup_fast_math, unwrap)
from . import nets
from .data import check_training_bank, eval_generator, load_bank

TOKENIZER = os.path.join(os.path.dirname(__file__), "..", "..", "data", "tokenizer.json")
HELDOUT_SEED = 12345


def add_args(ap: argparse.ArgumentParser, batch: int):
    ap.add_argument("--webp", required=True, help="folder of subject WebP files (build_subjects.py --copy-webp)")
    ap.add_argument("--subjects", default=None, help="subjects.json (default: training/data/subjects.json)")
    ap.add_argument("--tokenizer", default=TOKENIZER)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--batch", type=int, default=batch, help="samples per GPU")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ckpt-every-min", type=float, default=2.0)
    ap.add_argument("--eval-batches", type=int, default=4, help="held-out batches scored at the end")
    ap.add_argument("--eval-batch", type=int, default=256)
    ap.add_argument("--width", type=int, default=0, help="scale the ConvNet widths (0: default)")
    ap.add_argument("--text-width", type=int, default=128, help="text tower width (clip only)")


def image_config(a) -> nets.EncoderConfig:
    cfg = nets.EncoderConfig()
    if a.width:
        cfg.widths = tuple(max(8, w * a.width // 32) for w in cfg.widths)
    return cfg


LossFn = Callable[[torch.nn.Module, Dict, torch.Generator], Dict[str, torch.Tensor]]
EvalFn = Callable[[torch.nn.Module, TripletGenerator, int, int], Dict[str, float]]


def run(kind: str, a, meta: Dict, model: torch.nn.Module, loss_fn: LossFn, evaluate: EvalFn):
    """Trains `model` with loss_fn(model, batch, g) → {"loss": …, other logged scalars} until the
    time box or step cap; writes {out}/{kind}.json (meta + step + held-out metrics) and
    {out}/weights/{kind}.partNN (EMA, float32)."""
    setup_fast_math()
    d = Dist()
    box = TimeBox(a.minutes)
    bank = load_bank(a.webp, "train", a.size, d.device, a.subjects)
    check_training_bank(bank)
    gen = TripletGenerator(bank, size=a.size, device=d.device)
    model = model.to(d.device)
    ema = EMA(model, 0.999)
    opt = torch.optim.AdamW(param_groups_no_decay(model.parameters(), 0.05), lr=a.lr, betas=(0.9, 0.99))
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    step = ck.resume(d.device, model, opt, ema)
    wrapped = d.wrap(model)
    log = Log(a.out, d.main)
    log.write(event="start", kind=kind, step=step, world=d.world, batch=a.batch, subjects=len(bank),
              params=sum(p.numel() for p in model.parameters()))
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every, a.ckpt_every_min)
    while True:
        g = seeded_generator(a.seed, d.rank, step, d.device)
        b = gen.batch(a.batch, g)
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step, a.lr, 200)
        with autocast(d.device):
            out = loss_fn(wrapped, b, g)
        step = loop.update(out["loss"], opt, model.parameters(), ema, model, step)
        if loop.finish(step, lambda: dict(model=model.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step),
                       **{k: float(v) for k, v in out.items()}):
            break
    if d.main:
        model.load_state_dict(ema.shadow)
        model.eval()
        held = load_bank(a.webp, "heldout", a.size, d.device, a.subjects)
        with torch.no_grad():
            metrics = evaluate(model, eval_generator(held, d.device), a.eval_batches, a.eval_batch)
        save_split(ema.shadow, os.path.join(a.out, "weights"), kind, dtype=None)
        info = dict(meta, kind=kind, step=step, train_subjects=len(bank), heldout_subjects=len(held),
                    heldout=metrics)
        json.dump(info, open(os.path.join(a.out, f"{kind}.json"), "w"), indent=1)
        log.write(event="done", step=step, **{f"heldout_{k}": v for k, v in metrics.items()})
    d.close()


def heldout_batches(gen: TripletGenerator, n: int, batch: int):
    """Fixed held-out batches (same seed every run, so numbers compare across runs)."""
    g = torch.Generator(device=gen.device).manual_seed(HELDOUT_SEED)
    for _ in range(n):
        yield gen.batch(batch, g)


def load_evaluator(folder: str, kind: str, device="cpu") -> torch.nn.Module:
    """An evaluator saved by run(): {folder}/{kind}.json and {kind}.partNN in folder or folder/weights."""
    meta = json.load(open(os.path.join(folder, f"{kind}.json")))
    net = nets.build(kind, meta)
    parts = folder if any(n.startswith(kind + ".part") for n in os.listdir(folder)) else os.path.join(folder, "weights")
    net.load_state_dict({k: v.float() for k, v in load_split(parts, kind).items()})
    return net.to(device).eval().requires_grad_(False)


def tokenizer(a):
    return load_tokenizer(a.tokenizer)


__all__ = ["add_args", "run", "heldout_batches", "load_evaluator", "image_config", "tokenizer", "unwrap"]
