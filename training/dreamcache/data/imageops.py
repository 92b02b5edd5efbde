"""Batched image operations on [B, C, H, W] float tensors in [0, 1] (device-agnostic)."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Tuple

import torch
import torch.nn.functional as F

from .rng import Rng

LUMA = (0.299, 0.587, 0.114)


def grid(n_rows: int, n_cols: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [0, 1]: y [1,1,H,1], x [1,1,1,W]."""
    y = (torch.arange(n_rows, device=device, dtype=torch.float32) + 0.5) / n_rows
    x = (torch.arange(n_cols, device=device, dtype=torch.float32) + 0.5) / n_cols
    return y.view(1, 1, n_rows, 1), x.view(1, 1, 1, n_cols)


def col(rgb, device) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32, device=device).view(1, 3, 1, 1)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


def smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def luminance(img: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(LUMA, device=img.device, dtype=img.dtype).view(1, 3, 1, 1)
    return (img * w).sum(1, keepdim=True)


def value_noise(rng: Rng, n: int, size: int, cells: int, channels: int = 1) -> torch.Tensor:
    """Smooth noise in [0, 1]: a random cells×cells grid, bicubic-upsampled."""
    g = rng.uniform((n, channels, cells, cells))
    return F.interpolate(g, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def fractal_noise(rng: Rng, n: int, size: int, base_cells: int = 4, octaves: int = 4) -> torch.Tensor:
    out = torch.zeros(n, 1, size, size, device=rng.device)
    amp, total = 1.0, 0.0
    cells = base_cells
    for _ in range(octaves):
        out = out + amp * value_noise(rng, n, size, min(cells, size))
        total += amp
        amp *= 0.5
        cells *= 2
    return out / total


def box_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """k×k mean, separable (two 1-D passes) so its cost grows with k, not k²."""
    if k <= 1:
        return x
    lo, hi = k // 2, (k - 1) // 2
    x = F.avg_pool2d(F.pad(x, [lo, hi, 0, 0], mode="replicate"), (1, k), stride=1)
    return F.avg_pool2d(F.pad(x, [0, 0, lo, hi], mode="replicate"), (k, 1), stride=1)


def soft_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """Two box passes: close to a Gaussian of std ~ k/2.5, cheap on any device."""
    return box_blur(box_blur(x, k), k)


def gaussian_blur_per_sample(x: torch.Tensor, sigma: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Separable Gaussian with one sigma per sample (sigma <= 0.05 leaves the sample as is)."""
    b, c, h, w = x.shape
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype).view(1, -1)
    s = sigma.clamp(min=0.05).view(-1, 1).to(x.dtype)
    k = torch.exp(-0.5 * (t / s) ** 2)
    k = k / k.sum(1, keepdim=True)                                  # [B, K]
    k = k.repeat_interleave(c, 0)                                   # [B*C, K]
    y = F.pad(x.reshape(1, b * c, h, w), [radius] * 4, mode="replicate")
    y = F.conv2d(y, k.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, -1, 1), groups=b * c)
    return y.view(b, c, h, w)


def erode(alpha: torch.Tensor, k: int) -> torch.Tensor:
    return -F.max_pool2d(-alpha, k, stride=1, padding=k // 2)


def dilate(alpha: torch.Tensor, k: int) -> torch.Tensor:
    return F.max_pool2d(alpha, k, stride=1, padding=k // 2)


def bbox(alpha: torch.Tensor, thresh: float = 0.5) -> torch.Tensor:
    """[B, 4] = (x0, y0, x1, y1) in pixels (x1, y1 exclusive); an empty mask gives (0, 0, 0, 0)."""
    b, _, h, w = alpha.shape
    on = alpha[:, 0] > thresh
    rows, cols = on.any(2), on.any(1)
    ar_h = torch.arange(h, device=alpha.device)
    ar_w = torch.arange(w, device=alpha.device)
    big = 1 << 30
    y0 = torch.where(rows, ar_h, torch.full_like(ar_h, big)).min(1).values
    y1 = torch.where(rows, ar_h + 1, torch.zeros_like(ar_h)).max(1).values
    x0 = torch.where(cols, ar_w, torch.full_like(ar_w, big)).min(1).values
    x1 = torch.where(cols, ar_w + 1, torch.zeros_like(ar_w)).max(1).values
    empty = ~rows.any(1)
    box = torch.stack([x0, y0, x1, y1], 1)
    return torch.where(empty.view(-1, 1), torch.zeros_like(box), box)


def saturate(img: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Saturation scaled about the luminance (amount [B,1,1,1]; 1 = unchanged)."""
    lum = luminance(img)
    return (lum + (img - lum) * amount).clamp(0, 1)


@lru_cache(maxsize=4)
def _dct_matrix(device_str: str) -> torch.Tensor:
    d = torch.zeros(8, 8)
    for k in range(8):
        a = math.sqrt(1 / 8) if k == 0 else math.sqrt(2 / 8)
        for i in range(8):
            d[k, i] = a * math.cos(math.pi * (2 * i + 1) * k / 16)
    return d.to(device_str)


_JPEG_LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
                57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24,
                35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98,
                112, 100, 103, 99]
_JPEG_CHROMA_Q = [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5 \
    + [47, 66] + [99] * 6 + [99] * 32


def jpeg_like(img: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """8×8 block DCT quantisation in YCbCr with the JPEG tables scaled for quality [B] (1-100)."""
    b, c, h, w = img.shape
    if h % 8 or w % 8:
        raise ValueError("jpeg_like needs sides divisible by 8")
    dev = img.device
    m = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                     device=dev)
    ycc = torch.einsum("ij,bjhw->bihw", m, img * 255.0)
    ycc[:, 0] -= 128.0
    q = quality.clamp(1, 100).to(dev).float()
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2 * q) / 100.0                  # [B]
    qt = torch.stack([torch.tensor(_JPEG_LUMA_Q, device=dev, dtype=torch.float32),
                      torch.tensor(_JPEG_CHROMA_Q, device=dev, dtype=torch.float32),
                      torch.tensor(_JPEG_CHROMA_Q, device=dev, dtype=torch.float32)]).view(1, 3, 1, 1, 8, 8)
    qt = (qt * scale.view(b, 1, 1, 1, 1, 1)).clamp(min=1.0)
    d = _dct_matrix(str(dev))
    blocks = ycc.view(b, 3, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)         # [B,3,nh,nw,8,8]
    coef = d @ blocks @ d.t()
    coef = torch.round(coef / qt) * qt
    rec = d.t() @ coef @ d
    ycc = rec.permute(0, 1, 2, 4, 3, 5).reshape(b, 3, h, w)
    ycc[:, 0] += 128.0
    inv = torch.linalg.inv(m)
    return (torch.einsum("ij,bjhw->bihw", inv, ycc) / 255.0).clamp(0, 1)
