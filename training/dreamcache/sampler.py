"""PyTorch reference sampler (DDIM, eta 0) with the app's guidance modes; used for training
previews, evaluation and the runtime parity check."""
from typing import Dict, List, Optional

import torch

from .schedule import alphas_cumprod


def ddim_timesteps(steps: int, train_steps: int = 1000, offset: int = 1) -> List[int]:
    """SD 1.5's DDIM spacing ("leading", steps_offset 1): 981, 961, …, 1 for 50 steps."""
    ratio = train_steps // steps
    return [int(i * ratio + offset) for i in range(steps)][::-1]


def ddim_step(eps, t: int, x, acp, ratio: int):
    prev = t - ratio
    a_t = acp[t]
    a_prev = acp[prev] if prev >= 0 else acp[0]
    x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def image_scales(steps: int, start: float, end: Optional[float] = None) -> List[float]:
    """sI for each DDIM step, the noisiest first: `start` throughout, or a straight ramp from `start`
    to `end` (mean (start + end) / 2). A ramp asks whether the subject's pull matters more while the
    layout forms (early) or while details sharpen (late), at the same mean scale."""
    if end is None or steps < 2:
        return [float(start)] * steps
    return [start + (end - start) * i / (steps - 1) for i in range(steps)]


def combine(e: torch.Tensor, mode: str, s_text: float, s_img: float, n: int) -> torch.Tensor:
    """Rows come as [e_u, e_i, e_c] (combined), [e_u, e_t, e_c] (prompted), [e_u, e_c] (joint / plain
    CFG), n samples each. "prompted" orders the two guidances the other way round: text first
    (e_t = no cache + prompt), then the image direction measured under the prompt, so a large sI
    pulls towards the subject in the prompt's scene rather than towards the reference on white."""
    if mode == "combined":
        eu, ei, ec = e[:n], e[n:2 * n], e[2 * n:]
        return eu + s_text * (ec - ei) + s_img * (ei - eu)
    if mode == "prompted":
        eu, et, ec = e[:n], e[n:2 * n], e[2 * n:]
        return eu + s_text * (et - eu) + s_img * (ec - et)
    eu, ec = e[:n], e[n:]
    return eu + s_text * (ec - eu)


def rescale_guidance(guided: torch.Tensor, reference: torch.Tensor, phi: float) -> torch.Tensor:
    """Guidance rescale (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed",
    eqs. 15–16): each sample's guided prediction scaled to the spread of `reference` (the fully conditioned
    branch, e_c), blended back with weight 1 − phi. Strong combined guidance (sT 7.5 on top of sI ≈ 10)
    inflates the prediction's spread, and DDIM here does not clip x0, so the overshoot reaches the latents.
    The ratio of two standard deviations over the same elements does not depend on Bessel's correction."""
    if phi <= 0:
        return guided
    dims = tuple(range(1, guided.dim()))
    scaled = guided * (reference.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True))
    return phi * scaled + (1 - phi) * guided


@torch.no_grad()
def sample(unet, ctx_prompt: torch.Tensor, ctx_empty: torch.Tensor, steps: int = 50, s_text: float = 7.5,
           s_img: float = 1.0, cache: Optional[Dict[str, torch.Tensor]] = None, mode: str = "combined",
           generator: Optional[torch.Generator] = None, latent_shape=(4, 16, 16), acp=None,
           noise: Optional[torch.Tensor] = None, s_img_end: Optional[float] = None,
           rescale: float = 0.0) -> torch.Tensor:
    """ctx_* [n, L, D]. cache: {layer: [1, N, C]} or None (plain CFG). s_img_end: sI ramps from s_img to
    it over the steps (image_scales). rescale: guidance rescale's phi against e_c (rescale_guidance), for
    the rows with a subject only. Returns latents [n, ...]."""
    dev = ctx_prompt.device
    n = ctx_prompt.shape[0]
    acp = (acp if acp is not None else alphas_cumprod()).to(dev)
    x = noise if noise is not None else torch.randn((n,) + tuple(latent_shape), generator=generator, device=dev)
    if cache is None:
        mode = "plain"
        ctx = torch.cat([ctx_empty, ctx_prompt])
        gate = torch.zeros(2 * n, device=dev)
    elif mode == "combined":
        ctx = torch.cat([ctx_empty, ctx_empty, ctx_prompt])
        gate = torch.cat([torch.zeros(n), torch.ones(2 * n)]).to(dev)
    elif mode == "prompted":
        ctx = torch.cat([ctx_empty, ctx_prompt, ctx_prompt])
        gate = torch.cat([torch.zeros(2 * n), torch.ones(n)]).to(dev)
    else:
        ctx = torch.cat([ctx_empty, ctx_prompt])
        gate = torch.cat([torch.zeros(n), torch.ones(n)]).to(dev)
    rows = ctx.shape[0] // n
    ts = ddim_timesteps(steps, acp.shape[0])
    ratio = acp.shape[0] // steps
    for t, s_i in zip(ts, image_scales(steps, s_img, s_img_end)):
        xin = torch.cat([x] * rows)
        tt = torch.full((xin.shape[0],), float(t), device=dev)
        e = unet(xin, tt, ctx, gate, cache).float()
        guided = combine(e, mode, s_text, s_i, n)
        if cache is not None:
            guided = rescale_guidance(guided, e[-n:], rescale)
        x = ddim_step(guided, t, x, acp, ratio)
    return x
