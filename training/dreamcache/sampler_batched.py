"""Batched DDIM sampling for evaluation: n different (subject, prompt, noise) rows in one call,
each with its own cache, the same guidance as sampler.py (and the app's runtime)."""
from typing import Dict, Optional

import torch

from .sampler import combine, ddim_step, ddim_timesteps, image_scales, rescale_guidance
from .schedule import alphas_cumprod, q_sample


@torch.no_grad()
def sample_batch(unet, ctx_prompt: torch.Tensor, ctx_empty: torch.Tensor, noise: torch.Tensor, steps: int = 50,
                 s_text: float = 7.5, s_img: float = 1.0, caches: Optional[Dict[str, torch.Tensor]] = None,
                 acp: Optional[torch.Tensor] = None, guidance: str = "combined",
                 s_img_end: Optional[float] = None, gate_scale: float = 1.0, rescale: float = 0.0) -> torch.Tensor:
    """ctx_prompt [n, L, D]; ctx_empty [1 or n, L, D]; noise = x_T [n, C, h, w];
    caches {layer: [n, N, C]} (row i is sample i's subject) or None for plain CFG at gate 0.
    guidance "combined" (the method's): e_u + sT(e_c − e_i) + sI(e_i − e_u); "prompted":
    e_u + sT(e_t − e_u) + sI(e_c − e_t), e_t = no cache + prompt (sampler.combine). s_img_end: sI ramps
    from s_img to it over the steps (sampler.image_scales). gate_scale: the adapter gate of the cached rows
    (trained at 1; above 1 extrapolates each adapter's step away from the base model's features).
    rescale: guidance rescale's phi against e_c (sampler.rescale_guidance), cached rows only.
    Returns x_0 latents [n, C, h, w]."""
    if guidance not in ("combined", "prompted"):
        raise ValueError(f"guidance must be 'combined' or 'prompted', got {guidance!r}")
    dev, n = noise.device, noise.shape[0]
    acp = (acp if acp is not None else alphas_cumprod()).to(dev)
    empty = ctx_empty.expand(n, -1, -1)
    ctx = torch.cat([empty, ctx_prompt])   # the encoder rows
    if caches is None:
        mode, gate, cache, encoder_row = "plain", torch.zeros(2 * n, device=dev), None, None
    else:
        mode = guidance
        cache = {k: torch.cat([v, v, v]) for k, v in caches.items()}   # gate-0 rows ignore it
        if guidance == "combined":
            # [e_u, e_i, e_c]: e_u and e_i differ only in gate, so they share the encoder (UNet.forward)
            gate = torch.cat([torch.zeros(n, device=dev), torch.full((2 * n,), float(gate_scale), device=dev)])
            encoder_row = torch.cat([torch.arange(n), torch.arange(n), torch.arange(n, 2 * n)]).to(dev)
        else:
            # [e_u, e_t, e_c]: e_t and e_c share the prompt's encoder rows
            gate = torch.cat([torch.zeros(2 * n, device=dev), torch.full((n,), float(gate_scale), device=dev)])
            encoder_row = torch.cat([torch.arange(n), torch.arange(n, 2 * n), torch.arange(n, 2 * n)]).to(dev)
    ratio = acp.shape[0] // steps
    x = noise
    for t, s_i in zip(ddim_timesteps(steps, acp.shape[0]), image_scales(steps, s_img, s_img_end)):
        xin = torch.cat([x, x])
        e = unet(xin, torch.full((2 * n,), float(t), device=dev), ctx, gate, cache, encoder_row=encoder_row).float()
        guided = combine(e, mode, s_text, s_i, n)
        if caches is not None:
            guided = rescale_guidance(guided, e[-n:], rescale)   # e_c: the last n rows in either order
        x = ddim_step(guided, t, x, acp, ratio)
    return x


@torch.no_grad()
def build_caches(unet, vae, references: torch.Tensor, ctx_empty: torch.Tensor, timestep: int, noise: torch.Tensor,
                 acp: Optional[torch.Tensor] = None, half_round: bool = True) -> Dict[str, torch.Tensor]:
    """references [n, K, 3, S, S] in [−1, 1] (K renders of each subject on white), noise
    [n·K, C, h, w] → {layer: [n, K·H·W, C]}, the K caches of a subject concatenated along N as
    the runtime does. half_round: values rounded to float16 like the runtime's caches."""
    n, k = references.shape[:2]
    dev = references.device
    acp = (acp if acp is not None else alphas_cumprod()).to(dev)
    x0 = vae.encode_moments(references.flatten(0, 1))[0].float() * vae.config.scaling_factor
    t = torch.full((n * k,), timestep, device=dev, dtype=torch.long)
    xt = q_sample(x0, t, noise.to(dev), acp)
    _, feats = unet(xt, t.float(), ctx_empty.expand(n * k, -1, -1), torch.zeros(n * k, device=dev), {},
                    return_features=True)
    out = {}
    for name, f in feats.items():
        f = f.float().reshape(n, k * f.shape[1], f.shape[2])
        out[name] = f.half().float() if half_round else f
    return out


def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents → images [n, 3, S, S] clamped to [−1, 1]."""
    return vae.decode(latents / vae.config.scaling_factor).float().clamp(-1, 1)
