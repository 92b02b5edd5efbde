"""New-looking subjects for adapter training: one random colour map per sample, applied to the
main subject before it is placed in the target AND cut out as the reference.

Why: the base model was trained on these very subjects, so their colours are partly predictable
from the caption or from the shape alone, and the adapters need only learn what the text and the
base model cannot already say. A subject recoloured the same way in target and reference has a
look that only the cache carries, and the 619 training subjects become many more for the
adapters to generalise from — the held-out subjects are new looks too.

The map turns the hue about the grey axis (angle uniform in ±180°) and scales saturation; it
keeps luminance close, so shading, outlines and highlights — what makes a subject recognisable
by shape — survive. Alpha is never touched, so masks are unchanged.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch

from .imageops import saturate
from .rng import Rng

SATURATION = (0.7, 1.3)


def hue_rotation(angle: torch.Tensor) -> torch.Tensor:
    """[B] radians → [B, 3, 3] rotations of RGB about the grey axis (1, 1, 1)/√3 (Rodrigues)."""
    c, s = torch.cos(angle), torch.sin(angle)
    k = 1.0 / math.sqrt(3.0)
    one_third = (1 - c) / 3
    # R = c·I + s·[k]× + (1 − c)·k kᵀ with k = (1, 1, 1)/√3
    eye = torch.eye(3, device=angle.device, dtype=angle.dtype)
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]],
                         device=angle.device, dtype=angle.dtype) * k
    ones = torch.ones(3, 3, device=angle.device, dtype=angle.dtype)
    return c[:, None, None] * eye + s[:, None, None] * cross + one_third[:, None, None] * ones


def recolour_layers(r: Rng, layers: torch.Tensor, p: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """layers: premultiplied RGBA [B, 4, S, S] in [0, 1]. With probability p per sample, the RGB
    is hue-rotated and saturation-scaled (straight colour, then premultiplied again); the rest of
    the batch and every alpha are returned unchanged, with the bool [B] of recoloured samples.
    All draws come from r, for every sample, so which samples change does not shift the others'
    maps."""
    B = layers.shape[0]
    on = r.bernoulli(p, (B,))
    angle = r.uniform((B,), -math.pi, math.pi)
    sat = r.uniform((B, 1, 1, 1), *SATURATION)
    idx = on.nonzero().flatten()
    if p <= 0 or idx.numel() == 0:
        return layers, on & (p > 0)
    alpha = layers[idx, 3:]
    straight = layers[idx, :3] / alpha.clamp(min=1e-3)
    rot = hue_rotation(angle[idx].to(layers.dtype))
    turned = torch.einsum("bij,bjhw->bihw", rot, straight).clamp(0, 1)
    turned = saturate(turned, sat[idx].to(layers.dtype))
    out = layers.clone()
    out[idx, :3] = turned * alpha
    return out, on
