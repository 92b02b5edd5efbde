"""Generic background distractors for segmenter training: procedural backdrops and shapes
drawn into the background BEFORE subjects are composited, so they never enter the mask.

Why: trained on 24 painted scenes only, the segmenter learns those scenes as "background" and
calls any big unfamiliar shape (a mountain, a tiled counter) foreground. Random polygons, ellipses,
stripes, tile grids, noise blobs and gradients with no mask teach it that shape and contrast alone
do not make a subject. Nothing here imitates a particular scene of scenes.py.

All draws come from one Rng (one torch.Generator), batched on its device; Python loops run over
shape slots and painter kinds, never over pixels.
"""
from __future__ import annotations

import hashlib
import math
from typing import Callable, Optional

import torch

from .imageops import fractal_noise, grid, lerp, value_noise
from .placement import warp
from .rng import Rng

N_SHAPE_SLOTS = 6            # at most this many shapes per image
NOISE_CELLS = (3, 6, 12, 24)  # texture scales, cycled over shape slots and backdrops
BACKDROP_KINDS = ("noise", "gradient", "stripes", "tiles", "checker", "blobs")


def fork_generator(g: torch.Generator) -> torch.Generator:
    """A child generator seeded from g's current state WITHOUT drawing from g: the parent's
    sequence (subjects, placements, masks) is the same whether or not distractors are drawn."""
    digest = hashlib.blake2b(g.get_state().cpu().numpy().tobytes(), digest_size=8).digest()
    child = torch.Generator(device=g.device)
    child.manual_seed(int.from_bytes(digest, "little") & (2 ** 63 - 1))
    return child


def _coords(S: int, device) -> tuple:
    """Pixel-centre coordinates in [0,1]: y [1,S,1], x [1,1,S]."""
    y, x = grid(S, S, device)
    return y[:, 0], x[:, 0]


def random_colors(r: Rng, n: int) -> torch.Tensor:
    """[n,3,1,1] colours: uniform RGB, half of them pulled toward grey (muted tones are common)."""
    c = r.uniform((n, 3, 1, 1))
    grey = c.mean(1, keepdim=True)
    mute = r.uniform((n, 1, 1, 1), 0.0, 0.8) * r.bernoulli(0.5, (n, 1, 1, 1)).float()
    return lerp(c, grey.expand_as(c), mute)


def _two_tone(r: Rng, n: int) -> tuple:
    """Two colours, the second either random or a small step from the first (low contrast)."""
    c1 = random_colors(r, n)
    near = (c1 + r.uniform((n, 3, 1, 1), -0.2, 0.2)).clamp(0, 1)
    c2 = torch.where(r.bernoulli(0.5, (n, 1, 1, 1)), near, random_colors(r, n))
    return c1, c2


def _rotated(r: Rng, n: int, S: int, device) -> tuple:
    """Pixel coordinates (u, v) in [0,1]-frame units, rotated by a random angle per image: [n,S,S]."""
    y, x = _coords(S, device)
    th = r.uniform((n, 1, 1), 0, math.pi)
    c, s = torch.cos(th), torch.sin(th)
    return x * c + y * s, -x * s + y * c


def random_fill(r: Rng, n: int, S: int, cells: int) -> torch.Tensor:
    """[n,3,S,S] fill: flat, a linear gradient, or a two-tone noise texture."""
    dev = r.device
    c1, c2 = _two_tone(r, n)
    kind = r.randint(3, (n, 1, 1, 1))
    u, _ = _rotated(r, n, S, dev)
    grad = lerp(c1, c2, ((u - u.amin((1, 2), keepdim=True))
                         / (u.amax((1, 2), keepdim=True) - u.amin((1, 2), keepdim=True)).clamp_min(1e-3)
                         ).unsqueeze(1))
    tex = lerp(c1, c2, value_noise(r, n, S, cells))
    flat = c1.expand(n, 3, S, S)
    return torch.where(kind == 0, flat, torch.where(kind == 1, grad, tex))


def shape_coverage(r: Rng, n: int, S: int) -> torch.Tensor:
    """[n,1,S,S] anti-aliased coverage of one random shape per image: ellipse, triangle,
    rotated rectangle or a straight band; big ones reach past the frame (mountain-like slopes,
    walls, horizons)."""
    dev = r.device
    y, x = _coords(S, dev)
    px = 1.0 / S
    kind = r.randint(4, (n, 1, 1))
    # ellipse
    cx, cy = r.uniform((n, 1, 1), -0.1, 1.1), r.uniform((n, 1, 1), -0.1, 1.1)
    ra, rb = r.uniform((n, 1, 1), 0.05, 0.6), r.uniform((n, 1, 1), 0.05, 0.6)
    th = r.uniform((n, 1, 1), 0, math.pi)
    c, s = torch.cos(th), torch.sin(th)
    dx, dy = x - cx, y - cy
    eu, ev = (dx * c + dy * s) / ra, (-dx * s + dy * c) / rb
    rad = torch.sqrt(eu * eu + ev * ev).clamp_min(1e-6)
    ell = ((1 - rad) * torch.minimum(ra, rb) / px + 0.5).clamp(0, 1)
    # triangle: vertices may lie outside the frame
    v = r.uniform((n, 3, 2), -0.4, 1.4)
    area = ((v[:, 1, 0] - v[:, 0, 0]) * (v[:, 2, 1] - v[:, 0, 1])
            - (v[:, 1, 1] - v[:, 0, 1]) * (v[:, 2, 0] - v[:, 0, 0]))
    orient = torch.where(area >= 0, 1.0, -1.0).view(n, 1, 1)
    edge = None
    for i in range(3):
        a, b = v[:, i], v[:, (i + 1) % 3]
        ex, ey = (b[:, 0] - a[:, 0]).view(n, 1, 1), (b[:, 1] - a[:, 1]).view(n, 1, 1)
        ln = torch.sqrt(ex * ex + ey * ey).clamp_min(1e-4)
        d = orient * (ex * (y - a[:, 1].view(n, 1, 1)) - ey * (x - a[:, 0].view(n, 1, 1))) / ln
        edge = d if edge is None else torch.minimum(edge, d)
    tri = (edge / px + 0.5).clamp(0, 1)
    # rotated rectangle (two perpendicular bands) and a single band
    hw, hh = r.uniform((n, 1, 1), 0.04, 0.5), r.uniform((n, 1, 1), 0.04, 0.5)
    ru, rv = (dx * c + dy * s), (-dx * s + dy * c)
    rect = (torch.minimum(hw - ru.abs(), hh - rv.abs()) / px + 0.5).clamp(0, 1)
    band = ((hh * 0.5 - rv.abs()) / px + 0.5).clamp(0, 1)
    cov = torch.where(kind == 0, ell, torch.where(kind == 1, tri, torch.where(kind == 2, rect, band)))
    return cov.unsqueeze(1)


def draw_shapes(r: Rng, img: torch.Tensor) -> torch.Tensor:
    """Paint 1..N_SHAPE_SLOTS random shapes (flat, gradient or textured, mostly opaque) over img."""
    n, _, S, _ = img.shape
    count = 1 + r.randint(N_SHAPE_SLOTS, (n,))
    for k in range(N_SHAPE_SLOTS):
        on = (count > k).view(n, 1, 1, 1).float()
        cov = shape_coverage(r, n, S)
        opacity = torch.where(r.bernoulli(0.7, (n, 1, 1, 1)), torch.ones(n, 1, 1, 1, device=r.device),
                              r.uniform((n, 1, 1, 1), 0.3, 1.0))
        img = lerp(img, random_fill(r, n, S, NOISE_CELLS[k % len(NOISE_CELLS)]), cov * opacity * on)
    return img


def paint_backdrop(r: Rng, kind: int, n: int, S: int) -> torch.Tensor:
    """[n,3,S,S] in [0,1]: one generic procedural backdrop kind (index into BACKDROP_KINDS)."""
    dev = r.device
    name = BACKDROP_KINDS[kind]
    c1, c2 = _two_tone(r, n)
    if name == "noise":
        cells = NOISE_CELLS[int(r.randint(len(NOISE_CELLS), (1,)).item())]
        t = fractal_noise(r, n, S, base_cells=cells, octaves=3)
        return lerp(c1, c2, t)
    if name == "gradient":
        u, _ = _rotated(r, n, S, dev)
        lo, hi = u.amin((1, 2), keepdim=True), u.amax((1, 2), keepdim=True)
        return lerp(c1, c2, ((u - lo) / (hi - lo).clamp_min(1e-3)).unsqueeze(1))
    if name == "stripes":
        u, _ = _rotated(r, n, S, dev)
        period = r.uniform((n, 1, 1), 0.03, 0.3)
        phase = r.uniform((n, 1, 1), 0, 1)
        wave = torch.sin(2 * math.pi * (u / period + phase))
        hard = r.bernoulli(0.5, (n, 1, 1))
        t = torch.where(hard, (wave * 4).clamp(-1, 1), wave) * 0.5 + 0.5
        return lerp(c1, c2, t.unsqueeze(1))
    if name in ("tiles", "checker"):
        u, v = _rotated(r, n, S, dev)
        period = r.uniform((n, 1, 1), 0.04, 0.3)
        tu, tv = u / period, v / period
        iu, iv = torch.floor(tu), torch.floor(tv)
        if name == "checker":
            t = torch.remainder(iu + iv, 2.0)
            return lerp(c1, c2, t.unsqueeze(1))
        # tiles with grout lines and a per-tile shade (hash of the tile index)
        grout_w = r.uniform((n, 1, 1), 0.03, 0.15)
        fu, fv = tu - iu, tv - iv
        grout = ((fu < grout_w) | (fv < grout_w)).float()
        h = torch.frac(torch.sin(iu * 12.9898 + iv * 78.233) * 43758.5453).abs()
        shade = 1 + (h - 0.5) * r.uniform((n, 1, 1), 0.0, 0.3)
        tile = (c1 * shade.unsqueeze(1)).clamp(0, 1)
        return lerp(tile, c2.expand_as(tile), grout.unsqueeze(1))
    # blobs: a base colour with a few thresholded noise blobs of other colours
    img = c1.expand(n, 3, S, S).clone()
    for i in range(3):
        t = value_noise(r, n, S, NOISE_CELLS[i % 3])
        thr = r.uniform((n, 1, 1, 1), 0.45, 0.7)
        m = ((t - thr) * 20).clamp(0, 1)
        img = lerp(img, random_colors(r, n), m)
    return img


def paint_backdrops(r: Rng, n: int, S: int) -> torch.Tensor:
    """[n,3,S,S]: a random generic backdrop kind per image."""
    kind = r.randint(len(BACKDROP_KINDS), (n,))
    out = torch.zeros(n, 3, S, S, device=r.device)
    for k in range(len(BACKDROP_KINDS)):
        idx = (kind == k).nonzero().flatten()
        if idx.numel():
            out[idx] = paint_backdrop(r, k, idx.numel(), S)
    return out


def flat_silhouettes(r: Rng, img: torch.Tensor, layers: torch.Tensor) -> torch.Tensor:
    """Paste one subject outline per image as a FLAT, low-contrast patch: the background's mean
    colour nudged a little, at partial opacity. It keeps the outline but none of a subject's
    shading, so a silhouette alone never reads as a subject. `layers` are premultiplied RGBA
    [n,4,S,S] of training subjects."""
    n = img.shape[0]
    scale = r.uniform((n,), 0.3, 0.9)
    cx, cy = r.uniform((n,), -1, 1) * (1 - scale * 0.5), r.uniform((n,), -1, 1) * (1 - scale * 0.5)
    a = warp(layers, scale, cx, cy, r.uniform((n,), -0.8, 0.8), r.bernoulli(0.5, (n,)))[:, 3:]
    color = (img.mean((2, 3), keepdim=True) + r.uniform((n, 3, 1, 1), -0.15, 0.15)).clamp(0, 1)
    return lerp(img, color.expand_as(img), a * r.uniform((n, 1, 1, 1), 0.4, 0.9))


def add_distractors(r: Rng, img: torch.Tensor, p: float,
                    subject_layers: Optional[Callable[[int], torch.Tensor]] = None,
                    p_backdrop: float = 0.35, p_silhouette: float = 0.2) -> torch.Tensor:
    """Background [n,3,S,S] → background with distractors. With probability p an image gets
    distractors: its scene is replaced by a generic backdrop (p_backdrop of those), then shapes
    are drawn (always), then one flat silhouette (p_silhouette; `subject_layers(k)` returns k
    premultiplied training-subject layers [k,4,S,S])."""
    n, _, S, _ = img.shape
    chosen = r.bernoulli(p, (n,))
    backdrop = chosen & r.bernoulli(p_backdrop, (n,))
    silhouette = chosen & r.bernoulli(p_silhouette, (n,))
    img = img.clone()
    idx = backdrop.nonzero().flatten()
    if idx.numel():
        img[idx] = paint_backdrops(r, idx.numel(), S)
    idx = chosen.nonzero().flatten()
    if idx.numel():
        img[idx] = draw_shapes(r, img[idx])
    if subject_layers is not None:
        idx = silhouette.nonzero().flatten()
        if idx.numel():
            img[idx] = flat_silhouettes(r, img[idx], subject_layers(idx.numel()))
    return img.clamp(0, 1)
