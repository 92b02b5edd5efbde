"""Terrain silhouettes with rims, and thin polyline strokes, for segmenter training: drawn into the
background BEFORE any subject is composited, so the mask is untouched.

Why: segmenter v5's remaining held-out errors are thin contrasting line structures taken for the
subject — a bright rim along a jagged skyline, the dark edge line of a surface (scripts/
seg_compare_grid.py on v5). Emoji subjects have lit rims and outlines, and nothing in training shows
such lines without a mask. Profiles here are generic random polylines (any number of knots, any
roughness, any way up, sideways too): skylines, terrain, shelf and table edges, cables, cracks.
Nothing imitates a particular scene of scenes.py. All draws come from one Rng, batched on its device.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .distractors import random_colors, random_fill
from .imageops import grid, lerp
from .rng import Rng

KNOTS = (3, 4, 6, 10, 16)       # polyline detail, cycled over layers
MAX_STROKES = 3


def profile(r: Rng, n: int, S: int, knots: int) -> torch.Tensor:
    """[n,1,1,S] heights in [0,1]-frame units along x: a polyline through `knots` random heights
    (a random level ± a random amplitude) plus small-scale roughness."""
    level = r.uniform((n, 1, 1), 0.15, 0.85)
    amp = r.uniform((n, 1, 1), 0.02, 0.35)
    pts = level + amp * r.uniform((n, 1, knots), -1.0, 1.0)
    h = F.interpolate(pts, size=S, mode="linear", align_corners=True)
    rough = F.interpolate(r.uniform((n, 1, S // 4), -1.0, 1.0), size=S, mode="linear", align_corners=True)
    h = h + rough * r.uniform((n, 1, 1), 0.0, 0.015)
    return h.unsqueeze(1)


def normal_distance(h: torch.Tensor, S: int) -> torch.Tensor:
    """[n,1,S,S] signed distance (frame units, + below the line) of each pixel to the polyline
    y = h(x), measured along the line's normal so that steep rims are as thick as flat ones."""
    y, _ = grid(S, S, h.device)
    slope = torch.gradient(h, dim=-1)[0] * S
    return (y - h) / torch.sqrt(1 + slope * slope)


def orient(r: Rng, x: torch.Tensor) -> torch.Tensor:
    """[n,C,S,S] → each image turned sideways (p 0.25), upside down (p 0.3), mirrored (p 0.5)."""
    n = x.shape[0]
    x = torch.where(r.bernoulli(0.25, (n, 1, 1, 1)), x.transpose(-1, -2), x)
    x = torch.where(r.bernoulli(0.3, (n, 1, 1, 1)), x.flip(-2), x)
    return torch.where(r.bernoulli(0.5, (n, 1, 1, 1)), x.flip(-1), x)


def _rim_color(r: Rng, n: int) -> torch.Tensor:
    """[n,3,1,1]: near white (snow, light), near black (shadow edge) or any colour, 1:1:1."""
    light = r.uniform((n, 1, 1, 1), 0.85, 1.0).expand(n, 3, 1, 1)
    dark = r.uniform((n, 1, 1, 1), 0.0, 0.25).expand(n, 3, 1, 1)
    kind = r.randint(3, (n, 1, 1, 1))
    return torch.where(kind == 0, light, torch.where(kind == 1, dark, random_colors(r, n)))


def terrain(r: Rng, img: torch.Tensor, knots: int) -> torch.Tensor:
    """Fill everything below a random polyline with a flat, gradient or textured fill; with p 0.7
    a rim of 1–7 px along the line in a contrasting colour."""
    n, _, S, _ = img.shape
    px = 1.0 / S
    d = normal_distance(profile(r, n, S, knots), S)
    below = (d / px + 0.5).clamp(0, 1)
    width = r.uniform((n, 1, 1, 1), 1.0, 7.0) * px
    rim = below * ((width - d) / px + 0.5).clamp(0, 1) * r.bernoulli(0.7, (n, 1, 1, 1)).float()
    fill = random_fill(r, n, S, 8)
    layer = lerp(fill, _rim_color(r, n).expand_as(fill), rim)
    cov = orient(r, torch.cat([layer, below], 1))
    return lerp(img, cov[:, :3], cov[:, 3:])


def strokes(r: Rng, img: torch.Tensor, k0: int) -> torch.Tensor:
    """1..MAX_STROKES thin polylines per image, 0.6–4 px wide, in light, dark or any colour."""
    n, _, S, _ = img.shape
    px = 1.0 / S
    count = 1 + r.randint(MAX_STROKES, (n, 1, 1, 1))
    for k in range(MAX_STROKES):
        d = normal_distance(profile(r, n, S, KNOTS[(k0 + k) % len(KNOTS)]), S)
        half = r.uniform((n, 1, 1, 1), 0.3, 2.0) * px
        cov = ((half - d.abs()) / px + 0.5).clamp(0, 1) * (count > k).float()
        cov = orient(r, cov)
        img = lerp(img, _rim_color(r, n).expand_as(img), cov)
    return img


def add_ridges(r: Rng, img: torch.Tensor, p: float) -> torch.Tensor:
    """Background [n,3,S,S] → with probability p per image: a terrain layer (p 0.7), a second one
    (p 0.3) and thin strokes (p 0.5; always when no terrain was drawn)."""
    n = img.shape[0]
    chosen = r.bernoulli(p, (n,)).nonzero().flatten()
    if chosen.numel() == 0:
        return img
    k = chosen.numel()
    x = img[chosen]
    knots = int(r.randint(len(KNOTS), (1,)).item())
    t1 = r.bernoulli(0.7, (k, 1, 1, 1))
    x = torch.where(t1, terrain(r, x, KNOTS[knots]), x)
    t2 = t1 & r.bernoulli(0.3, (k, 1, 1, 1))
    x = torch.where(t2, terrain(r, x, KNOTS[(knots + 2) % len(KNOTS)]), x)
    s = ~t1 | r.bernoulli(0.5, (k, 1, 1, 1))
    x = torch.where(s, strokes(r, x, knots), x)
    out = img.clone()
    out[chosen] = x.clamp(0, 1)
    return out
