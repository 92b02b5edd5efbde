"""Placing subjects in a frame: one batched affine warp per layer."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def warp(layer: torch.Tensor, scale: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor,
         angle: Optional[torch.Tensor] = None, flip: Optional[torch.Tensor] = None,
         aspect: Optional[torch.Tensor] = None, out_size: Optional[int] = None) -> torch.Tensor:
    """Resample premultiplied RGBA [B,4,S,S] so the frame-filling subject becomes `scale` of the
    output side, centred at (cx, cy) in [-1, 1] coordinates, rotated by `angle` (radians,
    counter-clockwise), mirrored where `flip`, stretched horizontally by `aspect`."""
    b = layer.shape[0]
    dev = layer.device
    s = scale.to(dev).float()
    a = torch.zeros(b, device=dev) if angle is None else angle.to(dev).float()
    sx = s * (1.0 if aspect is None else aspect.to(dev).float())
    cos, sin = torch.cos(a), torch.sin(a)
    # output p -> input q = diag(1/sx, 1/s) · R(-a) · (p - c)
    m00, m01 = cos / sx, sin / sx
    m10, m11 = -sin / s, cos / s
    if flip is not None:
        sign = 1.0 - 2.0 * flip.to(dev).float()
        m00, m01 = m00 * sign, m01 * sign
    cxd, cyd = cx.to(dev).float(), cy.to(dev).float()
    t0 = -(m00 * cxd + m01 * cyd)
    t1 = -(m10 * cxd + m11 * cyd)
    theta = torch.stack([torch.stack([m00, m01, t0], 1), torch.stack([m10, m11, t1], 1)], 1)
    n = layer.shape[-1] if out_size is None else out_size
    g = F.affine_grid(theta, [b, layer.shape[1], n, n], align_corners=False)
    return F.grid_sample(layer, g, mode="bilinear", padding_mode="zeros", align_corners=False)
