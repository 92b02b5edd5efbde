"""Train the KL autoencoder on generated targets and references.

    torchrun --nproc_per_node=4 -m dreamcache.train.vae --webp W --out runs/vae --minutes 4

Fine-tuning a trained VAE (the U-Net was trained on its latents, so they must not drift far):
--init-from FOLDER starts from its weights and keeps its scaling factor; --anchor-weight λ adds
λ·MSE(posterior mean, the starting encoder's posterior mean) so the latent space stays the one the
U-Net knows; --chroma-weight w adds w·L1 on the two opponent chroma axes (warm–cool and
green–magenta, scripts/vae_colour_probe.py), the colour the first VAE flattened; --crop C trains on
random C×C crops (the autoencoder is convolutional; a quarter of the pixels per sample at C = S/2);
--freeze-encoder trains the decoder alone, so the latents (and the U-Net trained on them) stay exactly.
--adv-weight w adds a patch discriminator's hinge loss (train/patch_gan.py), scaled by w times the
ratio of gradient norms at the decoder's last layer, from step --adv-start on (the discriminator
learns from the first step), for texture the pixel losses average away (measured in session 27 at
w = 0.5: no benchmark gain over the pixel losses alone, docs/evaluation.md "Embedded pack 0.18.0").

    torchrun --nproc_per_node=N -m dreamcache.train.vae --webp W --out runs/vae2 \
        --init-from checkpoints/tiny-emoji-v1 --anchor-weight 1 --chroma-weight 1 --lr 1e-4 --minutes 8

(scripts/gpu_vae_finetune.sh runs this and the colour probe; two short CPU runs did not yet recover
green–magenta, docs/training.md session 11.)
"""
import argparse
import copy
import json
import math
import os

import torch

from ..models import AutoencoderKL
from ..models.config import PRESETS
from .common import (EMA, Checkpoint, Dist, Log, StepLoop, TimeBox, autocast, cycle_lr, save_split, seeded_generator,
                     setup_fast_math)
from .base import load_vae
from .data import add_data_args, add_run_args, make_generator
from .patch_gan import PatchDiscriminator, adaptive_weight, generator_loss, hinge_d_loss


def edge_loss(x, y):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (dx(x) - dx(y)).abs().mean() + (dy(x) - dy(y)).abs().mean()


def images(gen, batch, g):
    b = gen.batch(batch // 2, g)
    return torch.cat([b["target"], b["reference"]], 0)


def chroma_l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean |difference| along the warm–cool (R − B)/√2 and green–magenta (2G − R − B)/√6 axes."""
    d = x - y
    warm = (d[:, 0] - d[:, 2]) / math.sqrt(2)
    green = (2 * d[:, 1] - d[:, 0] - d[:, 2]) / math.sqrt(6)
    return (warm.abs().mean() + green.abs().mean()) / 2


def random_crops(x: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """One random size×size crop per image (offsets multiples of 8: latent pixels stay aligned)."""
    n, _, h, w = x.shape
    if size >= h and size >= w:
        return x
    oy = torch.randint(0, (h - size) // 8 + 1, (n,), generator=g, device=g.device).tolist()
    ox = torch.randint(0, (w - size) // 8 + 1, (n,), generator=g, device=g.device).tolist()
    return torch.stack([x[i, :, 8 * a:8 * a + size, 8 * b:8 * b + size] for i, (a, b) in enumerate(zip(oy, ox))])


def load_init(vae: AutoencoderKL, folder: str, preset: str) -> dict:
    """Weights of a trained VAE (base.load_vae's folder layouts) into vae; returns its vae.json."""
    vae.load_state_dict(load_vae(folder, preset, "cpu").state_dict())
    return json.load(open(os.path.join(folder, "vae.json")))


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
    ap.add_argument("--init-from", default=None, help="trained VAE to fine-tune (vae.json + vae.partNN); "
                    "its scaling factor is kept")
    ap.add_argument("--anchor-weight", type=float, default=0.0,
                    help="with --init-from: weight of MSE(posterior mean, the starting encoder's)")
    ap.add_argument("--chroma-weight", type=float, default=0.0, help="weight of the opponent-chroma L1")
    ap.add_argument("--crop", type=int, default=0, help="train on random crops of this side (0: whole images)")
    ap.add_argument("--freeze-encoder", action="store_true",
                    help="with --init-from: train the decoder only, so every latent (and the U-Net trained on "
                    "them) stays exactly as it was")
    ap.add_argument("--adv-weight", type=float, default=0.0,
                    help="weight of the patch discriminator's term (times the adaptive gradient-norm ratio; 0: none)")
    ap.add_argument("--adv-start", type=int, default=500,
                    help="step from which the decoder feels the discriminator (it trains from step 0)")
    ap.add_argument("--disc-lr", type=float, default=None, help="the discriminator's lr (default: --lr)")
    a = ap.parse_args(argv)
    if a.adv_weight < 0:
        ap.error("--adv-weight must be ≥ 0")
    if a.adv_weight and not a.init_from:
        ap.error("--adv-weight needs --init-from (a discriminator cannot teach a decoder that does not yet reconstruct)")
    if a.freeze_encoder and not a.init_from:
        ap.error("--freeze-encoder needs --init-from (a trained encoder to keep)")
    if a.freeze_encoder and a.anchor_weight:
        ap.error("--anchor-weight has nothing to hold with --freeze-encoder (the latents cannot move)")
    if a.anchor_weight and not a.init_from:
        ap.error("--anchor-weight needs --init-from (the encoder to stay close to)")
    setup_fast_math()
    d = Dist()
    box = TimeBox(a.minutes)
    cfg = PRESETS[a.preset](4096).vae
    cfg.sample_size = a.size
    gen = make_generator(a, d.device, "train")
    torch.manual_seed(a.seed)
    vae = AutoencoderKL(cfg)
    init_meta = load_init(vae, a.init_from, a.preset) if a.init_from else None
    vae = vae.to(d.device)
    anchor = copy.deepcopy(vae.encoder).eval().requires_grad_(False) if a.anchor_weight else None
    anchor_qc = copy.deepcopy(vae.quant_conv).eval().requires_grad_(False) if a.anchor_weight else None
    if a.freeze_encoder:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    ema = EMA(vae, 0.999)
    opt = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=a.lr, betas=(0.9, 0.99), weight_decay=0.0)
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    disc = dopt = None
    if a.adv_weight:
        disc = PatchDiscriminator().to(d.device)
        dopt = torch.optim.AdamW(disc.parameters(), lr=a.disc_lr or a.lr, betas=(0.5, 0.9), weight_decay=0.0)
    step = ck.resume(d.device, vae, opt, ema, extras=dict(disc=disc, dopt=dopt) if disc is not None else None)
    model = d.wrap(vae)
    log = Log(a.out, d.main)
    log.write(event="start", step=step, world=d.world, batch=a.batch, params=sum(p.numel() for p in vae.parameters()),
              init_from=a.init_from, anchor_weight=a.anchor_weight, chroma_weight=a.chroma_weight, crop=a.crop,
              freeze_encoder=a.freeze_encoder, adv_weight=a.adv_weight, adv_start=a.adv_start)
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every)

    def state():   # read when a checkpoint is due: the step and weights of that moment
        s = dict(model=vae.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step)
        if disc is not None:
            s.update(disc=disc.state_dict(), dopt=dopt.state_dict())
        return s
    while True:
        g = seeded_generator(a.seed, d.rank, step, d.device)
        x = images(gen, a.batch, g)
        if a.crop:
            x = random_crops(x, a.crop, g)
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step, a.lr, 200)
        with autocast(d.device):
            rec, mean, logvar = model(x)
        rec = rec.float()
        l1 = (rec - x).abs().mean()
        l2 = (rec - x).pow(2).mean()
        kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).mean()
        pixel = l1 + l2 + 0.5 * edge_loss(rec, x)
        extra = {}
        if a.chroma_weight:
            chroma = chroma_l1(rec, x)
            pixel = pixel + a.chroma_weight * chroma
            extra["chroma"] = chroma.detach()
        loss = pixel + a.kl * kl * mean[0].numel()
        if disc is not None and step >= a.adv_start:
            with autocast(d.device):
                g_loss = generator_loss(disc(rec).float())
            w = a.adv_weight * adaptive_weight(pixel, g_loss, vae.decoder.conv_out.weight)
            loss = loss + w * g_loss
            extra.update(g_loss=g_loss.detach(), adv_w=w)
        if anchor is not None:
            with torch.no_grad(), autocast(d.device):
                ref, _ = anchor_qc(anchor(x)).chunk(2, dim=1)
            drift = (mean.float() - ref.float()).pow(2).mean()
            loss = loss + a.anchor_weight * drift
            extra["latent_drift_rms"] = drift.sqrt().detach()
        step = loop.update(loss, opt, vae.parameters(), ema, vae, step)
        if disc is not None:
            with autocast(d.device):
                d_loss = hinge_d_loss(disc(x).float(), disc(rec.detach()).float())
            dopt.zero_grad(set_to_none=True)   # also drops what the generator's term left on it
            d_loss.backward()
            if d.world > 1:   # not DDP-wrapped: it runs three forwards per step, DDP expects one
                for p in disc.parameters():
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= d.world
            dopt.step()
            extra["d_loss"] = d_loss.detach()
        if loop.finish(step, state, loss=loss.detach(), l1=l1.detach(), kl=kl.detach(), **extra):
            break
    if d.main:
        final = AutoencoderKL(cfg).to(d.device)
        final.load_state_dict(ema.shadow)
        train_eval = evaluate(final, gen, d.device, a.eval_batches)
        held = evaluate(final, make_generator(a, d.device, "heldout"), d.device, a.eval_batches)
        # a fine-tuned VAE keeps the scaling factor the U-Net was trained with
        scaling = float(init_meta["scaling_factor"]) if init_meta else 1.0 / train_eval["latent_std"]
        meta = {"step": step, "psnr_train": train_eval["psnr"], "psnr_heldout": held["psnr"],
                "latent_std": train_eval["latent_std"], "scaling_factor": scaling, "config": cfg.to_dict(),
                "init_from": a.init_from, "anchor_weight": a.anchor_weight, "chroma_weight": a.chroma_weight,
                "crop": a.crop, "freeze_encoder": a.freeze_encoder, "adv_weight": a.adv_weight}
        json.dump(meta, open(os.path.join(a.out, "vae.json"), "w"), indent=1)
        save_split(ema.shadow, os.path.join(a.out, "weights"), "vae", dtype=torch.float32)
        log.write(event="done", **{k: v for k, v in meta.items() if k != "config"})
    d.close()


if __name__ == "__main__":
    main()
