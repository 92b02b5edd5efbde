"""Train the DreamCache adapters on the frozen base model (U-Net, text encoder, VAE).

For each triplet: the reference (subject cut out on white, augmented) is VAE-encoded, noised to
t = 1 and run through the frozen U-Net with the empty prompt at gate 0; the transformer inputs
of the cached layers are the per-sample cache. The target is then denoised at gate 1 with that
cache and its caption (empty with p = 0.07). Only adapter parameters (norm_mem, attn_mem,
proj_mem) train. Reference dropout (p = 0.1) swaps the cache for the runtime's "no subject"
input — one zero row — so adapters given no reference learn to leave the base model's
prediction alone, which keeps e_i − e_u a pure image-guidance direction. --self-views flip caches
each reference beside its mirror image, the two-view cache a pack with cache.selfViews ["flip"]
builds from a user's one photo.

The base model was trained on these very subjects, one image each, so a caption that names the
subject already fixes its look and the reference adds nothing to learn from (2,414 steps of that
left the adapters unused). With p = --generic-name the caption names the subject by its category
noun instead ("a photo of an animal on a beach"): then only the cache can tell which animal, as it
must for a held-out subject whose name the base model never learned.

    torchrun --nproc_per_node=4 -m dreamcache.train.adapters --webp W --base checkpoints/tiny-emoji-v1 --out runs/adapters --minutes 8

--adapter-width N (fresh runs) builds memory attentions with N× the heads (UNetConfig.adapter_width);
a resumed checkpoint or --init-from weights fix the width, and a flag that disagrees is refused —
except a multiple of --init-from's width: the trained heads then seed the wider adapter, which
starts out computing exactly what they did (adapter_width.grow_adapters).
adapters.json records the width for export, bench, parity and cache_probe.
"""
import argparse
import json
import os

import torch

from ..adapter_width import (AdapterWidthError, can_grow, check_width, grow_adapters, read_adapter_width,
                             width_of_tensors)
from ..models import CLIPTextModel, UNet, is_adapter_param, set_attention_backend
from ..models.config import PRESETS
from ..onnx_export import round_as_int8, round_unet_as_int8
from ..schedule import alphas_cumprod, q_sample
from ..self_views import parse_self_views, with_self_views
from ..tokenizer_any import load_tokenizer
from .base import load_vae
from .common import (EMA, Checkpoint, Dist, Log, PhaseTimer, StepLoop, TimeBox, add_echo_args, autocast, check_echo_args,
                     cooldown, cycle_lr, load_split, save_split, seeded_generator, setup_fast_math)
from .data import add_data_args, add_run_args, make_generator

CACHE_TIMESTEP = 1


class AdapterState(torch.nn.Module):
    """The trainable part only, so EMA and checkpoints hold adapter tensors alone."""

    def __init__(self, unet: UNet):
        super().__init__()
        self.names = [n for n, _ in unet.named_parameters() if is_adapter_param(n)]
        self.params = torch.nn.ParameterList([p for n, p in unet.named_parameters() if is_adapter_param(n)])

    def state(self):
        return {n: p for n, p in zip(self.names, self.params)}


def load_base(folder: str, preset: str, vocab: int, device, adapter_width: int = 1, int8_base: bool = False):
    """The frozen U-Net (adapters fresh) and text encoder. int8_base rounds both as a pack exported with
    `--int8-storage unet,text_encoder` stores them (the adapters' own weights stay float), so the adapters
    learn against the base the app runs."""
    cfg = PRESETS[preset](vocab)
    cfg.unet.adapter_width = adapter_width
    unet = UNet(cfg.unet)
    base = {k: v.float() for k, v in load_split(folder, "unet").items()}
    missing, unexpected = unet.load_state_dict(base, strict=False)
    assert not unexpected and all(is_adapter_param(k) for k in missing), (missing[:3], unexpected[:3])
    te = CLIPTextModel(cfg.text_encoder)
    te.load_state_dict({k: v.float() for k, v in load_split(folder, "text_encoder").items()})
    if int8_base:
        round_unet_as_int8(unet, lambda n: not is_adapter_param(n))
        round_as_int8(te)
    for n, p in unet.named_parameters():
        p.requires_grad_(is_adapter_param(n))
    te.requires_grad_(False)
    return cfg, unet.to(device), te.to(device).eval()


@torch.no_grad()
def reference_cache(unet, vae, reference, ctx_empty, acp, g, views=()):
    """Per-sample caches {layer: [B, K·H·W, C]} from one frozen U-Net pass at t = CACHE_TIMESTEP over
    each reference and its K − 1 self views (each its own noise), concatenated along the tokens in the
    order the runtime caches them (sampler_batched.build_caches)."""
    B = reference.shape[0]
    refs = with_self_views(reference, views).flatten(0, 1) if views else reference
    x0 = vae.encode_moments(refs)[0].float() * vae.config.scaling_factor
    t = torch.full((x0.shape[0],), CACHE_TIMESTEP, device=x0.device, dtype=torch.long)
    noise = torch.randn(x0.shape, generator=g, device=x0.device)
    x1 = q_sample(x0, t, noise, acp)
    gate = torch.zeros(x0.shape[0], device=x0.device)
    ctx = ctx_empty[:1].expand(x0.shape[0], -1, -1)
    _, feats = unet(x1, t.float(), ctx, gate, {}, return_features=True)
    return {k: v.float().reshape(B, -1, v.shape[-1]) for k, v in feats.items()}


def subject_loss_weight(mask: torch.Tensor, size: int, weight: float) -> torch.Tensor:
    """[B, 1, S, S] target alpha → [B, 1, size, size] per-latent-pixel weights 1 + (weight − 1)·coverage;
    the loss divides by their sum, so the scale of the loss (and of the lr) stays that of the plain loss."""
    m = mask if mask.dim() == 4 else mask[:, None]
    cover = torch.nn.functional.adaptive_avg_pool2d(m.float(), size)
    return 1.0 + (weight - 1.0) * cover


def init_adapters(adapters: AdapterState, ema: EMA, folder: str) -> int:
    """Starts from earlier adapter weights (adapters.partNN, e.g. a committed bf16 resume point);
    the optimizer restarts, the step count continues from the folder's adapters.json. Narrower
    weights whose width divides the model's grow into it (adapter_width.grow_adapters)."""
    saved = load_split(folder, "adapters")
    state = adapters.state()
    have = width_of_tensors(state, "the model")
    found = width_of_tensors(saved, folder)
    if found != have:
        if not can_grow(found, have):
            raise AdapterWidthError(f"{folder} holds width-{found} adapters; the model was built with width {have}")
        saved = grow_adapters(saved, state, folder)
    with torch.no_grad():
        for n, p in state.items():
            p.copy_(saved[n].float())
    ema.shadow = {k: v.detach().clone().float() for k, v in adapters.state_dict().items()}
    meta = os.path.join(folder, "adapters.json")
    return int(json.load(open(meta))["step"]) if os.path.isfile(meta) else 0


def run_width(requested, ck: Checkpoint, init_from) -> int:
    """The width to build, before any model exists: a resumed checkpoint's (those from before
    the field are width 1), else --init-from's, else the flag's (default 1)."""
    if ck.exists():
        found = int(torch.load(ck.path, map_location="cpu").get("adapter_width", 1))
        return check_width(requested, found, f"the run's checkpoint {ck.path}")
    if init_from:
        found = read_adapter_width(init_from)
        return requested if can_grow(found, requested) else check_width(requested, found, f"--init-from {init_from}")
    return 1 if requested is None else requested


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(ap)
    ap.add_argument("--base", required=True, help="folder with unet/text_encoder/vae parts + vae.json")
    ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "tokenizer.json"))
    add_run_args(ap, minutes=8.0, batch=128, lr=1e-4)
    ap.add_argument("--empty", type=float, default=0.07)
    ap.add_argument("--ref-dropout", type=float, default=0.1)
    ap.add_argument("--generic-name", type=float, default=0.6,
                    help="probability that a caption names the subject by its category noun only")
    ap.add_argument("--recolour", type=float, default=0.0,
                    help="probability that the main subject gets one random hue/saturation map in both target "
                         "and reference (data/recolour.py): a look only the cache can tell")
    ap.add_argument("--subject-weight", type=float, default=1.0,
                    help="loss weight of the latent pixels the target's subject covers (1: plain diffusion loss); "
                         "the cache can only help inside the subject, and the scene dilutes that signal")
    ap.add_argument("--ref-erase", type=float, default=None,
                    help="probability of the white rectangle erased inside the reference's subject "
                         "(default: the generator's, 0.4)")
    ap.add_argument("--decay-start", type=int, default=None,
                    help="absolute step from which the lr falls linearly (default: constant lr)")
    ap.add_argument("--decay-steps", type=int, default=5000, help="length of that fall, in steps")
    ap.add_argument("--decay-to", type=float, default=0.05, help="the lr at its end, as a fraction of --lr")
    add_echo_args(ap, "the frozen passes (reference cache, latents, text; reference dropout is drawn every "
                  "step)", "the U-Net")
    ap.add_argument("--self-views", default="",
                    help="cache each reference beside these views of it ('+'-joined: flip, zoom), as a pack's "
                         "cache.selfViews makes the runtime do; reference dropout drops all of them")
    ap.add_argument("--ckpt-every-min", type=float, default=3.0)
    ap.add_argument("--init-from", default=None, help="folder with adapters.partNN (+ adapters.json) to start from")
    ap.add_argument("--adapter-width", type=int, default=None,
                    help="memory-attention heads × the block's heads, fresh runs only (default 1; a resumed "
                         "checkpoint or --init-from weights fix it)")
    ap.add_argument("--int8-base", action="store_true",
                    help="train against the frozen U-Net and text encoder rounded as a pack exported with "
                         "--int8-storage unet,text_encoder stores them (the adapters stay float while training)")
    a = ap.parse_args(argv)
    check_echo_args(ap, a)
    if a.adapter_width is not None and a.adapter_width < 1:
        ap.error("--adapter-width must be >= 1")
    if a.subject_weight <= 0:
        ap.error("--subject-weight must be > 0")
    if a.ref_erase is not None and not 0 <= a.ref_erase <= 1:
        ap.error("--ref-erase must be in [0, 1]")
    if a.decay_steps < 1 or not 0 <= a.decay_to <= 1:
        ap.error("--decay-steps must be >= 1 and --decay-to in [0, 1]")
    try:
        a.self_views = parse_self_views(a.self_views)
    except ValueError as e:
        ap.error(str(e))
    setup_fast_math()
    if torch.cuda.is_available():
        set_attention_backend("sdpa")
    d = Dist()
    box = TimeBox(a.minutes)
    tok = load_tokenizer(a.tokenizer)
    ck = Checkpoint(os.path.join(a.out, "ckpt"))
    width = run_width(a.adapter_width, ck, a.init_from)
    cfg, unet, te = load_base(a.base, a.preset, tok.vocab_size, d.device, width, a.int8_base)
    vae = load_vae(a.base, a.preset, d.device)
    gen = make_generator(a, d.device, "train")
    gen.p_generic_name = a.generic_name
    gen.p_recolour = a.recolour
    if a.ref_erase is not None:
        gen.p_ref_erase = a.ref_erase
    adapters = AdapterState(unet)
    ema = EMA(adapters, 0.999)
    opt = torch.optim.AdamW(adapters.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.0)
    step = ck.resume(d.device, adapters, opt, ema)
    if step == 0 and a.init_from:
        step = init_adapters(adapters, ema, a.init_from)
    model = d.wrap(unet)
    if a.compile:
        # only the training passes; the frozen passes (reference cache, text) run once per --reuse steps
        model = torch.compile(model)
    acp = alphas_cumprod().to(d.device)
    with torch.no_grad():
        empty = te(tok.encode_batch([""]).to(d.device))
    log = Log(a.out, d.main)
    schedule = None if a.decay_start is None else {"start": a.decay_start, "steps": a.decay_steps, "to": a.decay_to}
    log.write(event="start", step=step, world=d.world, batch=a.batch, init_from=a.init_from, recolour=a.recolour,
              generic_name=a.generic_name, subject_weight=a.subject_weight, ref_erase=gen.p_ref_erase,
              decay=schedule, reuse=a.reuse, compile=a.compile, self_views="+".join(a.self_views),
              int8_base=a.int8_base, adapter_params=sum(p.numel() for p in adapters.parameters()), adapter_width=width)
    loop = StepLoop(d, box, log, ck, a.max_steps, a.log_every, a.ckpt_every_min)
    timer = PhaseTimer(d.device, a.log_every)
    # Loss with and without the reference, summed between log lines: the gap is the signal that
    # the adapters use the cache at all (the total loss barely shows it).
    split = torch.zeros(6, device=d.device)
    # With --reuse K a generated batch and its frozen passes (cache, latents, text) serve K updates;
    # the draws that make each update differ (t, noise, reference dropout) are made every step.
    frozen, uses = None, 0
    while True:
        fresh = frozen is None or uses >= a.reuse
        # The profile samples a step that makes its batch (the last before a log line), so ms_gen and
        # ms_frozen mean the same at any --reuse.
        timer.start(step, sample=fresh and (step + a.reuse) // a.log_every > step // a.log_every)
        g = seeded_generator(a.seed, d.rank, step, d.device)
        if fresh:
            b = gen.batch(a.batch, g)
            timer.mark("gen")
            B = len(b["caption"])
            u = torch.rand(B, generator=g, device=d.device).tolist()
            caps = [c if float(x) >= a.empty else "" for c, x in zip(b["caption"], u)]
            with torch.no_grad(), autocast(d.device):
                ctx = te(tok.encode_batch(caps).to(d.device)).float()
                frozen = reference_cache(unet, vae, b["reference"], empty, acp, g, a.self_views)
                x0 = vae.encode_moments(b["target"])[0].float() * vae.config.scaling_factor
            uses = 0
        uses += 1
        timer.mark("frozen")
        drop = torch.rand(B, generator=g, device=d.device) < a.ref_dropout
        # A zeroed cache attends like the runtime's one zero row ("no subject"): zero keys give
        # uniform weights over zero values.
        keep = (~drop).float()[:, None, None]
        cache = {k: v * keep for k, v in frozen.items()}
        t = torch.randint(0, acp.shape[0], (B,), generator=g, device=d.device)
        noise = torch.randn(x0.shape, generator=g, device=d.device)
        x_t = q_sample(x0, t, noise, acp)
        for grp in opt.param_groups:
            grp["lr"] = cycle_lr(step, a.lr, 200) * cooldown(step, a.decay_start, a.decay_steps, a.decay_to)
        with autocast(d.device):
            pred = model(x_t, t.float(), ctx, torch.ones(B, device=d.device), cache)
        se = (pred.float() - noise).pow(2)
        err = se.flatten(1).mean(1)
        if a.subject_weight != 1.0:
            w = subject_loss_weight(b["mask"], se.shape[-1], a.subject_weight)
            loss = ((se * w).flatten(1).sum(1) / (w.flatten(1).sum(1) * se.shape[1])).mean()
        else:
            loss = err.mean()
        with torch.no_grad():
            k = keep.flatten()
            gk = b["generic_name"].float() * k
            split += torch.stack([(err * k).sum(), k.sum(), (err * (1 - k)).sum(), (1 - k).sum(),
                                  (err * gk).sum(), gk.sum()])
        step = loop.update(loss, opt, adapters.parameters(), ema, adapters, step)
        timer.mark("train")
        extra = {}
        if step % a.log_every == 0:
            sums = split.tolist()
            extra = {"loss_ref": sums[0] / max(sums[1], 1.0), "loss_noref": sums[2] / max(sums[3], 1.0),
                     "loss_ref_generic": sums[4] / max(sums[5], 1.0), "lr": opt.param_groups[0]["lr"]}
            split.zero_()
        if loop.finish(step, lambda: dict(model=adapters.state_dict(), opt=opt.state_dict(), ema=ema.shadow,
                                          step=step, adapter_width=width), loss=loss.detach(), **extra, **timer.fields()):
            break
    if d.main:
        names = adapters.names
        shadow = {names[int(k.split(".")[1])]: v for k, v in ema.shadow.items()}
        save_split(shadow, os.path.join(a.out, "weights"), "adapters")
        meta = {"step": step, "adapter_parameters": sum(p.numel() for p in adapters.parameters()),
                "cache_timestep": CACHE_TIMESTEP, "adapter_width": width, "recolour": a.recolour,
                "subject_weight": a.subject_weight, "ref_erase": gen.p_ref_erase, "decay": schedule,
                "reuse": a.reuse, "lr_last": opt.param_groups[0]["lr"], "self_views": "+".join(a.self_views),
                **({"int8_base": True} if a.int8_base else {})}
        # weights/ gets its own copy: a restored arm starts with an earlier one there (its --init-from),
        # which would otherwise describe weights it no longer holds
        for folder in (a.out, os.path.join(a.out, "weights")):
            json.dump(meta, open(os.path.join(folder, "adapters.json"), "w"), indent=1)
        log.write(event="done", step=step)
    d.close()


if __name__ == "__main__":
    main()
