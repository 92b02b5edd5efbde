"""Scene mixing for segmenter training: a background made of two training scenes, each shown in
its own region (soft noise blobs, or a band split across the image with a wavy edge).

Why: the segmenter trains on 20 painted scenes and generalises worst to scene layouts it never
saw; mixing two of them gives many more layouts and unfamiliar boundaries between textures,
none of which carry a mask. Only the scene ids the caller allows are painted (the held-out
scenes stay unseen). All draws come from one Rng, batched on its device.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .imageops import grid, smoothstep, value_noise
from .rng import Rng
from .scenes import paint_scenes


def region_masks(r: Rng, n: int, S: int) -> torch.Tensor:
    """[n,1,S,S] in [0,1]: half blobs of smooth noise, half a band split (a random angle, a
    random offset, an edge wavy by up to a tenth of the image) with a soft 1–3 px edge."""
    blob = value_noise(r, n, S, 4)
    level = r.uniform((n, 1, 1, 1), 0.35, 0.65)
    blobs = smoothstep(-0.04, 0.04, blob - level)
    y, x = grid(S, S, r.device)
    y, x = y[:, 0], x[:, 0]
    ang = r.uniform((n, 1, 1, 1), -0.5, 0.5) + torch.pi / 2 * r.bernoulli(0.25, (n, 1, 1, 1)).float()
    along = (y - 0.5) * torch.cos(ang) - (x - 0.5) * torch.sin(ang)
    wave = (value_noise(r, n, S, 6) - 0.5) * r.uniform((n, 1, 1, 1), 0.0, 0.2)
    offset = r.uniform((n, 1, 1, 1), -0.3, 0.3)
    edge = r.uniform((n, 1, 1, 1), 1.0, 3.0) / S
    bands = ((along + wave - offset) / edge).clamp(-1, 1) * 0.5 + 0.5
    use_band = r.bernoulli(0.5, (n, 1, 1, 1))
    return torch.where(use_band, bands, blobs)


def mix_scenes(r: Rng, img: torch.Tensor, p: float, scenes: Sequence[int]) -> torch.Tensor:
    """Background [n,3,S,S] → with probability p per image, the image shown in one region and a
    second scene (drawn from `scenes`) in the rest."""
    n, _, S, _ = img.shape
    chosen = r.bernoulli(p, (n,)).nonzero().flatten()
    if chosen.numel() == 0:
        return img
    k = chosen.numel()
    allowed = torch.as_tensor(list(scenes), device=r.device)
    other = paint_scenes(r, allowed[r.randint(len(allowed), (k,))], S)
    m = region_masks(r, k, S)
    out = img.clone()
    out[chosen] = img[chosen] * (1 - m) + other * m
    return out
