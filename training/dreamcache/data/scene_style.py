"""Background restyling for segmenter training: a painted training scene zoomed into, mirrored
(also upside down) and recoloured, BEFORE any subject is composited, so the mask is untouched.

Why: the segmenter's held-out errors are background structures of unseen scenes taken for the
subject (segmenter v4, scripts/seg_post_eval.py --cross: training subjects on held-out scenes score
0.87, held-out subjects on training scenes 0.95). The 24 training scenes show their elements at one
size, one way up and in one palette; zooming makes a tree line or a building a large shape,
flipping turns horizons and ridges around, and a hue turn / inversion of the background alone (the
trainer's `recolor` turns subject and background together) breaks "this palette is background". Nothing here imitates a
particular held-out scene. All draws come from one Rng, batched on its device.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .imageops import saturate
from .rng import Rng

MAX_ZOOM = 2.5


def zoom_flip(r: Rng, img: torch.Tensor) -> torch.Tensor:
    """[n,3,S,S] → each image magnified by a factor in [1, MAX_ZOOM] around a random point inside
    it, mirrored left-right with p 0.5 and upside down with p 0.3 (bilinear, border clamped)."""
    n = img.shape[0]
    zoom = r.uniform((n,), 1.0, MAX_ZOOM)
    half = 1.0 / zoom                                   # window half-size in [-1, 1] coordinates
    cx = r.uniform((n,), -1.0, 1.0) * (1 - half)
    cy = r.uniform((n,), -1.0, 1.0) * (1 - half)
    sx = torch.where(r.bernoulli(0.5, (n,)), -half, half)
    sy = torch.where(r.bernoulli(0.3, (n,)), -half, half)
    theta = torch.zeros(n, 2, 3, device=img.device)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = sy, cy
    flow = F.affine_grid(theta, list(img.shape), align_corners=False)
    return F.grid_sample(img, flow, mode="bilinear", padding_mode="border", align_corners=False)


def hue_turn(img: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate colours about the grey axis by angle [n] (radians): a hue turn that keeps each
    pixel's channel mean, so greys stay grey. Rodrigues' rotation with the unit axis (1,1,1)/√3."""
    c, s = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    k = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], device=img.device) / math.sqrt(3)
    eye = torch.eye(3, device=img.device)
    rot = eye + s * k + (1 - c) * (k @ k)               # [n,3,3]
    return torch.einsum("nij,njhw->nihw", rot, img).clamp(0, 1)


def restyle_scenes(r: Rng, img: torch.Tensor, p: float) -> torch.Tensor:
    """Background [n,3,S,S] in [0,1] → with probability p per image: zoom/flip, then a hue turn
    (any angle), a saturation change in [0.5, 1.5] and, with p 0.2, inversion."""
    n = img.shape[0]
    chosen = r.bernoulli(p, (n,)).nonzero().flatten()
    if chosen.numel() == 0:
        return img
    k = chosen.numel()
    x = zoom_flip(r, img[chosen])
    x = hue_turn(x, r.uniform((k,), 0.0, 2 * math.pi))
    x = saturate(x, r.uniform((k, 1, 1, 1), 0.5, 1.5))
    x = torch.where(r.bernoulli(0.2, (k, 1, 1, 1)), 1 - x, x)
    out = img.clone()
    out[chosen] = x
    return out
