"""Train the KL autoencoder on generated targets and references.

    torchrun --nproc_per_node=4 -m dreamcache.train.vae --webp W --out runs/vae --minutes 4
"""
import argparse
import json
import os

import torch

from ..models import AutoencoderKL
from ..models.config import PRESETS
from .common import (EMA, Checkpoint, Dist, Log, StepLoop, TimeBox, autocast, cycle_lr, save_split, seeded_generator,
                     setup_fast_math)
from .data import add_data_args, add_run_args, make_generator


def edge_loss(x, y):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (dx(x) - dx(y)).abs().mean() + (dy(x) - dy(y)).abs().mean()


def images(gen, batch, g):
    b = gen.batch(batch // 2, g)
    return torch.cat([b["target"], b["reference"]], 0)


@torch.no_grad()
def evaluate(vae, gen, device, n_batches=4, batch=64, seed=12345):
    """PSNR (dB, images in [0,1]) and the latent std that sets the scaling factor."""
    vae.eval()
    mse, lat = [], []
    for i in range(n_batches):
        x = images(gen, batch, seeded_generator(seed, 0, i, device))
        mean, _ = vae.encode_moments(x)
        rec = vae.decode(mean).clamp(-1, 1)
        mse.append(((rec - x) / 2).pow(2).flatten(1).mean(1))
        lat.append(mean.flatten())
    mse = torch.cat(mse)
    vae.train()
    return {"psnr": float((10 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean()),
            "latent_std": float(torch.cat(lat).std())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap)
    add_run_args(ap, minutes=4.0, batch=64, lr=4e-4)
    ap.add_argument("--kl", type=float, default=1e-6)
    ap.add_argument("--eval-batches", type=int, default=4, help="batches of 64 for the final PSNR")
    a = ap.parse_args(argv)
    setup_fast_math()
    d = Dist()
    box = TimeBox(a.minutes)
    cfg = PRESETS[a.preset](4096).vae
    cfg.sample_size = a.size
    gen = make_generator(a, d.device, "train")
    torch.manual_seed(a.seed)
    vae = AutoencoderKL(cfg).to(d.device)
    ema = EMA(vae, 0.999)
    opt = torch.optim.AdamW(vae.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.0)
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    step = ck.resume(d.device, vae, opt, ema)
    model = d.wrap(vae)
    log = Log(a.out, d.main)
    log.write(event="start", step=step, world=d.world, batch=a.batch, params=sum(p.numel() for p in vae.parameters()))
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every)
    while True:
        x = images(gen, a.batch, seeded_generator(a.seed, d.rank, step, d.device))
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step, a.lr, 200)
        with autocast(d.device):
            rec, mean, logvar = model(x)
        rec = rec.float()
        l1 = (rec - x).abs().mean()
        l2 = (rec - x).pow(2).mean()
        kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).mean()
        loss = l1 + l2 + 0.5 * edge_loss(rec, x) + a.kl * kl * mean[0].numel()
        step = loop.update(loss, opt, vae.parameters(), ema, vae, step)
        if loop.finish(step, lambda: dict(model=vae.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step),
                       loss=loss.item(), l1=l1.item(), kl=kl.item()):
            break
    if d.main:
        final = AutoencoderKL(cfg).to(d.device)
        final.load_state_dict(ema.shadow)
        train_eval = evaluate(final, gen, d.device, a.eval_batches)
        held = evaluate(final, make_generator(a, d.device, "heldout"), d.device, a.eval_batches)
        meta = {"step": step, "psnr_train": train_eval["psnr"], "psnr_heldout": held["psnr"],
                "latent_std": train_eval["latent_std"], "scaling_factor": 1.0 / train_eval["latent_std"],
                "config": cfg.to_dict()}
        json.dump(meta, open(os.path.join(a.out, "vae.json"), "w"), indent=1)
        save_split(ema.shadow, os.path.join(a.out, "weights"), "vae", dtype=torch.float32)
        log.write(event="done", **{k: v for k, v in meta.items() if k != "config"})
    d.close()


if __name__ == "__main__":
    main()
