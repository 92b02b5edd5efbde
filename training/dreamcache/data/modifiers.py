"""Appearance modifiers named in captions (MODIFIERS in captions.py).

Style modifiers restyle the finished image; subject modifiers change the main subject layer
(and, for neon, its surroundings). All are batched over the samples that carry them.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

from .captions import MODIFIERS
from .imageops import bbox, col, dilate, erode, grid, lerp, luminance, saturate, soft_blur, value_noise
from .rng import Rng


# -- style modifiers: [n,3,S,S] -> [n,3,S,S] --------------------------------------------------
def pencil_sketch(rng: Rng, img: torch.Tensor) -> torch.Tensor:
    n, _, S, _ = img.shape
    gray = luminance(img)
    k = max(3, S // 24) | 1
    dodge = (gray / (1.0 - soft_blur(1.0 - gray, k) + 1e-2)).clamp(0, 1)   # colour-dodge: dark edges
    y, x = grid(S, S, img.device)
    hatch = (torch.sin((x + y) * S * 1.3 + rng.uniform((n, 1, 1, 1), 0, 6.3)) > 0.6).float()
    shade = (1 - gray) * hatch * 0.25
    paper = 0.96 + 0.04 * value_noise(rng, n, S, S // 4)
    out = (dodge ** 2 - shade).clamp(0, 1) * paper
    return out * col((1.0, 0.99, 0.96), img.device)


def black_and_white(rng: Rng, img: torch.Tensor) -> torch.Tensor:
    n = img.shape[0]
    g = luminance(img)
    contrast = rng.uniform((n, 1, 1, 1), 1.0, 1.4)
    return ((g - 0.5) * contrast + 0.5).clamp(0, 1).expand_as(img).contiguous()


def pixel_art(rng: Rng, img: torch.Tensor) -> torch.Tensor:
    n, _, S, _ = img.shape
    out = torch.empty_like(img)
    choice = rng.randint(3, (n,))
    for c, cells in enumerate((S // 8, S // 6, S // 4)):
        idx = (choice == c).nonzero().flatten()
        if idx.numel() == 0:
            continue
        small = F.interpolate(img[idx], size=(cells, cells), mode="area")
        small = saturate(small, torch.full((idx.numel(), 1, 1, 1), 1.3, device=img.device))
        small = torch.round(small * 5) / 5                                  # 6 levels per channel
        out[idx] = F.interpolate(small, size=(S, S), mode="nearest")
    return out


def watercolor(rng: Rng, img: torch.Tensor) -> torch.Tensor:
    n, _, S, _ = img.shape
    k = max(3, S // 32) | 1
    soft = soft_blur(img, k)
    soft = torch.round(soft * 8) / 8 * 0.5 + soft * 0.5                       # pigment pooling
    edges = (soft_blur(luminance(soft), 3) - luminance(soft)).abs() * 4
    wash = lerp(soft, torch.ones_like(soft), 0.18)
    paper = 0.93 + 0.07 * value_noise(rng, n, S, S // 3)
    bleed = 0.9 + 0.2 * value_noise(rng, n, S, 6)
    return ((wash * bleed - edges.clamp(0, 0.3)) * paper).clamp(0, 1)


def sepia(rng: Rng, img: torch.Tensor) -> torch.Tensor:
    m = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]],
                     device=img.device)
    out = torch.einsum("ij,bjhw->bihw", m, img)
    fade = rng.uniform((img.shape[0], 1, 1, 1), 0.0, 0.15)
    return lerp(out, torch.full_like(out, 0.75), fade).clamp(0, 1)


# -- subject modifiers -----------------------------------------------------------------------
def golden(rng: Rng, rgb_p: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Premultiplied subject colours remapped to a metallic gold ramp by luminance."""
    straight = rgb_p / alpha.clamp(min=1e-3)
    lum = luminance(straight).clamp(0, 1)
    dark, mid, bright = col((0.3, 0.18, 0.03), rgb_p.device), col((0.85, 0.62, 0.15), rgb_p.device), \
        col((1.0, 0.93, 0.6), rgb_p.device)
    t = lum ** 0.8
    gold = torch.where(t < 0.5, lerp(dark, mid, t * 2), lerp(mid, bright, (t - 0.5) * 2))
    spec = ((lum - 0.8) * 5).clamp(0, 1)
    gold = lerp(gold, torch.ones_like(gold), spec * 0.6)
    return gold * alpha


NEON_COLORS = torch.tensor([[1.0, 0.1, 0.8], [0.1, 0.95, 1.0], [0.3, 1.0, 0.2], [1.0, 0.9, 0.1],
                            [0.6, 0.3, 1.0]])


def neon_glow(rng: Rng, bg: torch.Tensor, rgb_p: torch.Tensor, alpha: torch.Tensor
              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Darkened surroundings with a coloured halo, and a bright coloured rim on the subject."""
    n, _, S, _ = bg.shape
    neon = rng.choice_colors(NEON_COLORS, n)
    k = max(3, S // 16) | 1
    halo = (soft_blur(dilate(alpha, 3), k) * 1.8).clamp(0, 1)
    bg = lerp(bg * 0.45, neon.expand_as(bg), halo * 0.85)
    rim = (alpha - erode(alpha, max(3, S // 42) | 1)).clamp(0, 1)
    straight = rgb_p / alpha.clamp(min=1e-3)
    lit = saturate(straight, torch.full((n, 1, 1, 1), 1.4, device=bg.device))
    lit = lerp(lit, neon.expand_as(lit), rim)
    return bg, lit * alpha


HAT_COLORS = torch.tensor([[0.95, 0.2, 0.35], [0.2, 0.55, 0.95], [0.3, 0.8, 0.3], [0.98, 0.75, 0.1],
                           [0.7, 0.3, 0.9]])


def party_hat(rng: Rng, alpha: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A striped cone with a pompom standing on the top of the subject's bounding box.
    Returns (hat alpha [n,1,S,S], hat colour [n,3,S,S])."""
    n, _, S, _ = alpha.shape
    dev = alpha.device
    box = bbox(alpha).float() / S                                      # x0, y0, x1, y1 in [0,1]
    bw = (box[:, 2] - box[:, 0]).clamp(min=0.05)
    bh = (box[:, 3] - box[:, 1]).clamp(min=0.05)
    w = (0.4 * bw).clamp(0.1, 0.28).view(n, 1, 1, 1)
    h = w * rng.uniform((n, 1, 1, 1), 1.0, 1.3)
    xc = ((box[:, 0] + box[:, 2]) / 2).view(n, 1, 1, 1) + rng.uniform((n, 1, 1, 1), -0.1, 0.1) * bw.view(n, 1, 1, 1)
    base = (box[:, 1] + 0.1 * bh).view(n, 1, 1, 1)                      # a little into the subject
    y, x = grid(S, S, dev)
    v = (base - y) / h                                                  # 0 at the base, 1 at the apex
    half = (w / 2) * (1 - v)
    inside = ((half - (x - xc).abs()) * S).clamp(0, 1) * ((v * h * S).clamp(0, 1)) * (v <= 1).float()
    c1 = rng.choice_colors(HAT_COLORS, n)
    c2 = rng.choice_colors(HAT_COLORS, n)
    stripes = (torch.sin((v * 6 + (x - xc) / w * 2) * 3.14159) > 0).float()
    shade = 0.8 + 0.2 * (1 - ((x - xc) / (w / 2)).abs().clamp(0, 1))
    color = lerp(c1, c2, stripes) * shade
    r = w * 0.14
    d = ((x - xc) ** 2 + (y - (base - h)) ** 2).sqrt()
    pom = ((r - d) * S).clamp(0, 1)
    color = lerp(color, col((1.0, 0.98, 0.9), dev).expand_as(color), pom)
    hat_a = torch.maximum(inside, pom)
    return hat_a, color


STYLE_FUNCS = {
    "pencil_sketch": pencil_sketch, "black_and_white": black_and_white, "pixel_art": pixel_art,
    "watercolor": watercolor, "sepia": sepia,
}


MOD_ID = {m.name: i for i, m in enumerate(MODIFIERS)}
STYLE_IDS = [i for i, m in enumerate(MODIFIERS) if m.kind == "style"]


def modify_subject(rng: Rng, modifier: torch.Tensor, bg: torch.Tensor, rgb_p: torch.Tensor,
                   alpha: torch.Tensor) -> None:
    """The modifiers that repaint the subject (golden, neon glow; neon lights the background too),
    before compositing. `modifier` holds MODIFIERS ids (−1: none); bg and rgb_p change in place."""
    for name in ("golden", "neon_glow"):
        idx = (modifier == MOD_ID[name]).nonzero().flatten()
        if idx.numel() == 0:
            continue
        if name == "golden":
            rgb_p[idx] = golden(rng, rgb_p[idx], alpha[idx])
        else:
            bg[idx], rgb_p[idx] = neon_glow(rng, bg[idx], rgb_p[idx], alpha[idx])


def modify_image(rng: Rng, modifier: torch.Tensor, img: torch.Tensor,
                 alpha: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The modifiers drawn over the composite: the party hat, then whole-image styles.
    Returns (image, alpha): the hat covers part of the subject, so alpha is what still shows."""
    idx = (modifier == MOD_ID["party_hat"]).nonzero().flatten()
    if idx.numel():
        hat_a, hat_c = party_hat(rng, alpha[idx])
        img[idx] = lerp(img[idx], hat_c, hat_a)
        alpha = alpha.clone()
        alpha[idx] = alpha[idx] * (1 - hat_a)
    for mid in STYLE_IDS:
        idx = (modifier == mid).nonzero().flatten()
        if idx.numel():
            img[idx] = STYLE_FUNCS[MODIFIERS[mid].name](rng, img[idx])
    return img, alpha
