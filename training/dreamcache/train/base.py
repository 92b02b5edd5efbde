"""Train the base text-to-image model (U-Net + CLIP-style text encoder) from scratch on
latents of the frozen VAE. 10 % empty captions for classifier-free guidance.

A continuation of trained weights can keep the text encoder as it is (--freeze-text-encoder): session 33's
continuation of tiny-emoji-v1 (fresh AdamW at 3e-4, 512 per step) grew the first text layer's query and key
weights 15-fold until its attention saturated, the prompts' embeddings collapsed and text-only CLIP-T fell
from 0.449 to 0.212 (docs/training.md, run 107). Every log line carries `te_qk`, the largest product of a text
layer's query and key weight norms, so such growth shows while it happens.

    torchrun --nproc_per_node=4 -m dreamcache.train.base --webp W --vae runs/vae --out runs/base --minutes 8
"""
import argparse
import json
import os

import torch

from ..models import AutoencoderKL, CLIPTextModel, UNet, set_attention_backend
from ..models.config import PRESETS
from ..schedule import alphas_cumprod, q_sample
from ..tokenizer_any import load_tokenizer
from .common import (EMA, Checkpoint, Dist, Log, PhaseTimer, StepLoop, TimeBox, add_echo_args, autocast, check_echo_args,
                     cycle_lr, load_split, load_split_meta, param_groups_no_decay, save_split, seeded_generator,
                     setup_fast_math)
from .data import add_data_args, add_run_args, make_generator


class TextToImage(torch.nn.Module):
    """One module so DDP syncs U-Net and text encoder gradients together."""

    def __init__(self, unet: UNet, te: CLIPTextModel):
        super().__init__()
        self.unet = unet
        self.text_encoder = te

    def forward(self, x_t, t, ids):
        return self.unet(x_t, t, self.text_encoder(ids))


def load_base(net: TextToImage, folder: str) -> None:
    """The U-Net and text-encoder parts of a weights folder (tiny-emoji-v1, a run's weights/), in float."""
    net.unet.load_state_dict({k: v.float() for k, v in load_split(folder, "unet").items()})
    net.text_encoder.load_state_dict({k: v.float() for k, v in load_split(folder, "text_encoder").items()})


def check_init_preset(ap: argparse.ArgumentParser, folder: str, preset: str, tokenizer: str) -> None:
    """--init-from must hold weights of --preset's shape: a bigger preset resumed from the committed `tiny`
    weights (or the other way round) would fail deep in load_state_dict after the data and VAE have loaded,
    so say which shapes differ first, while nothing has been spent."""
    meta = load_split_meta(folder, "base.json")
    if meta is None:
        ap.error(f"--init-from {folder}: no base.json beside its weights (a base run's weights/ or a committed "
                 "checkpoint holds one)")
    want = PRESETS[preset](load_tokenizer(tokenizer).vocab_size)
    for part, cfg in (("unet", want.unet), ("text_encoder", want.text_encoder)):
        have, need = meta.get(part, {}), json.loads(json.dumps(cfg.to_dict()))   # tuples as base.json has them: lists
        diff = sorted(k for k in need if k != "adapters" and k in have and have[k] != need[k])
        if diff:
            k = diff[0]
            ap.error(f"--init-from {folder} holds a {part} with {k} {have[k]}, but --preset {preset} has "
                     f"{need[k]} ({len(diff)} setting(s) differ): pass the preset those weights were trained as")


def diffusion_loss(pred: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, acp: torch.Tensor,
                   min_snr: float) -> torch.Tensor:
    """Noise-prediction MSE per sample, min-SNR-gamma weighted (0: plain), averaged over the batch."""
    err = (pred.float() - noise).pow(2).flatten(1).mean(1)
    if min_snr > 0:
        snr = acp[t] / (1 - acp[t])
        err = err * (snr.clamp(max=min_snr) / snr)
    return err.mean()


def qk_scales(te: CLIPTextModel) -> torch.Tensor:
    """|W_q|·|W_k| (Frobenius) per text layer: what bounds its attention logits; tiny-emoji-v1 has about 74 in
    every layer, run 107 18,400 in its first, whose attention had saturated."""
    with torch.no_grad():
        return torch.stack([l.self_attn.q_proj.weight.norm() * l.self_attn.k_proj.weight.norm()
                            for l in te.text_model.encoder.layers])


def qk_scale(te: CLIPTextModel) -> torch.Tensor:
    """The largest of qk_scales: the `te_qk` the base trainer logs."""
    return qk_scales(te).max()


DECODER_PREFIXES = ("decoder.", "post_quant_conv.")


def load_vae(folder: str, preset: str, device, encoder_only: bool = False) -> AutoencoderKL:
    """A trained VAE, frozen. encoder_only: the caller only encodes (the base trainer), so a folder written by
    scripts/vae_encoder_only.py will do, and the decoder is left out either way (decoding then fails loudly)
    where a randomly initialised one would decode garbage."""
    meta = json.load(open(os.path.join(folder, "vae.json")))
    if meta.get("encoder_only") and not encoder_only:
        raise ValueError(f"{folder} holds the VAE's encoder alone (scripts/vae_encoder_only.py); this needs the "
                         "whole VAE: pass a folder with its decoder")
    cfg = PRESETS[preset](4096).vae
    for k, v in meta["config"].items():
        setattr(cfg, k, tuple(v) if isinstance(v, list) else v)
    cfg.scaling_factor = float(meta["scaling_factor"])
    vae = AutoencoderKL(cfg)
    parts = os.path.join(folder, "weights") if os.path.isdir(os.path.join(folder, "weights")) else folder
    state = {k: v.float() for k, v in load_split(parts, "vae").items()}
    if encoder_only:
        state = {k: v for k, v in state.items() if not k.startswith(DECODER_PREFIXES)}
        missing, unexpected = vae.load_state_dict(state, strict=False)
        assert not unexpected and all(k.startswith(DECODER_PREFIXES) for k in missing), (missing[:3], unexpected[:3])
        vae.decoder, vae.post_quant_conv = None, None
    else:
        vae.load_state_dict(state)
    return vae.to(device).eval().requires_grad_(False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap)
    ap.add_argument("--vae", required=True, help="VAE run folder (vae.json + weights/)")
    ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "tokenizer.json"))
    add_run_args(ap, minutes=8.0, batch=256, lr=3e-4)
    ap.add_argument("--empty", type=float, default=0.10, help="fraction of empty captions")
    ap.add_argument("--min-snr", type=float, default=5.0, help="min-SNR-gamma loss weight (0 = plain MSE)")
    ap.add_argument("--ckpt-every-min", type=float, default=3.0)
    ap.add_argument("--init-from", default=None, help="weights/ folder (unet + text_encoder parts) to start from "
                    "when no checkpoint exists, e.g. on a fresh GPU box")
    ap.add_argument("--ema-decay", type=float, default=0.9995,
                    help="EMA decay of the saved weights; a short continuation needs less (0.998 forgets the "
                    "start in ~1,000 steps, 0.9995 keeps 78 %% of it after 500)")
    ap.add_argument("--warmup", type=int, default=500, help="lr warm-up steps (counted from the first step of this "
                    "run when --init-from starts a fresh optimizer)")
    ap.add_argument("--freeze-text-encoder", action="store_true",
                    help="train the U-Net alone; the text encoder keeps its --init-from (or checkpoint) weights, as "
                    "SD keeps CLIP's")
    add_echo_args(ap, "the VAE encoder (each update draws its own dropped captions)", "the U-Net and text encoder")
    a = ap.parse_args(argv)
    check_echo_args(ap, a)
    if a.freeze_text_encoder and not (a.init_from or os.path.isdir(os.path.join(a.out, "ckpt"))):
        ap.error("--freeze-text-encoder needs trained weights to keep (--init-from, or a checkpoint in --out)")
    if a.init_from:
        check_init_preset(ap, a.init_from, a.preset, a.tokenizer)
    setup_fast_math()
    if torch.cuda.is_available():
        set_attention_backend("sdpa")
    d = Dist()
    box = TimeBox(a.minutes)
    tok = load_tokenizer(a.tokenizer)
    cfg = PRESETS[a.preset](tok.vocab_size)
    cfg.unet.adapters = False
    gen = make_generator(a, d.device, "train")
    vae = load_vae(a.vae, a.preset, d.device, encoder_only=True)
    torch.manual_seed(a.seed)
    net = TextToImage(UNet(cfg.unet), CLIPTextModel(cfg.text_encoder)).to(d.device)
    ema = EMA(net, a.ema_decay)
    opt = torch.optim.AdamW(param_groups_no_decay(net.parameters(), 0.01), lr=a.lr, betas=(0.9, 0.99))
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    step = ck.resume(d.device, net, opt, ema)
    # The step the lr warm-up counts from: a fresh AdamW on trained weights needs its warm-up again
    # (its first updates are ±lr on every weight), a resumed optimizer does not.
    warm_from = 0
    if not ck.exists() and a.init_from:
        load_base(net, a.init_from)
        ema = EMA(net, a.ema_decay)
        meta = load_split_meta(a.init_from, "base.json")
        step = meta["step"] if meta else 0
        warm_from = step
    # Frozen parameters get no gradient, so AdamW skips them: the optimizer's layout (and a checkpoint's)
    # stays that of a run training both.
    net.text_encoder.requires_grad_(not a.freeze_text_encoder)
    model = d.wrap(net)
    if a.compile:
        model = torch.compile(model)
    acp = alphas_cumprod().to(d.device)
    log = Log(a.out, d.main)
    log.write(event="start", step=step, world=d.world, batch=a.batch, ema_decay=a.ema_decay, warm_from=warm_from,
              reuse=a.reuse, compile=a.compile, freeze_text_encoder=a.freeze_text_encoder,
              unet_params=sum(p.numel() for p in net.unet.parameters()),
              text_params=sum(p.numel() for p in net.text_encoder.parameters()))
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every, a.ckpt_every_min)
    timer = PhaseTimer(d.device, a.log_every)
    # With --reuse K a generated batch and its latents serve K updates; the draws that make each update
    # differ (which captions are dropped, t, noise) are made every step, in the order K = 1 makes them.
    b, x0, uses = None, None, 0
    while True:
        fresh = b is None or uses >= a.reuse
        # the profile samples a step that makes its batch, so ms_gen and ms_frozen mean the same at any K
        timer.start(step, sample=fresh and (step + a.reuse) // a.log_every > step // a.log_every)
        g = seeded_generator(a.seed, d.rank, step, d.device)
        if fresh:
            b = gen.batch(a.batch, g)
            uses = 0
        uses += 1
        timer.mark("gen")
        caps = [c if float(u) >= a.empty else "" for c, u in zip(b["caption"], torch.rand(len(b["caption"]), generator=g, device=d.device).tolist())]
        ids = tok.encode_batch(caps).to(d.device)
        if fresh:
            with torch.no_grad(), autocast(d.device):
                x0 = vae.encode_moments(b["target"])[0].float() * vae.config.scaling_factor
        timer.mark("frozen")
        t = torch.randint(0, acp.shape[0], (x0.shape[0],), generator=g, device=d.device)
        noise = torch.randn(x0.shape, generator=g, device=d.device)
        x_t = q_sample(x0, t, noise, acp)
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step - warm_from, a.lr, a.warmup)
        with autocast(d.device):
            pred = model(x_t, t.float(), ids)
        loss = diffusion_loss(pred, noise, t, acp, a.min_snr)
        step = loop.update(loss, opt, net.parameters(), ema, net, step)
        timer.mark("train")
        if loop.finish(step, lambda: dict(model=net.state_dict(), opt=opt.state_dict(), ema=ema.shadow, step=step),
                       loss=loss.detach(), lr=opt.param_groups[0]["lr"], te_qk=lambda: qk_scale(net.text_encoder),
                       **timer.fields()):
            break
    if d.main:
        un = {k[len("unet."):]: v for k, v in ema.shadow.items() if k.startswith("unet.")}
        te = {k[len("text_encoder."):]: v for k, v in ema.shadow.items() if k.startswith("text_encoder.")}
        save_split(un, os.path.join(a.out, "weights"), "unet")
        save_split(te, os.path.join(a.out, "weights"), "text_encoder")
        json.dump({"step": step, "unet": cfg.unet.to_dict(), "text_encoder": cfg.text_encoder.to_dict()},
                  open(os.path.join(a.out, "base.json"), "w"), indent=1)
        log.write(event="done", step=step)
    d.close()


if __name__ == "__main__":
    main()
