"""Parameter-free post-processing of the segmenter's probability map (issue 3).

Foreground is 8-connected and background 4-connected (the usual dual pair, so a diagonal
gap never both separates two blobs and leaks a hole to the border). Everything is batched
torch on CPU: components and border reachability are computed by propagating to a fixed
point with 3×3 max-pooling, which is exact (the fixed point IS the connected component) and
needs no scipy. The app applies only the flip average (src/runtime/mask-flip.ts).
Measured on segmenter-v2 (scripts/seg_post_eval.py): flip averaging helps a little; component
removal and hole filling hurt, because real masks hold small second subjects and real holes.
"""
from typing import Optional

import torch
import torch.nn.functional as F

THRESHOLD = 0.5
MIN_COMPONENT_SHARE = 0.10  # of the largest component's area, fixed a priori


def flip_average(prob: torch.Tensor, flip_prob: torch.Tensor) -> torch.Tensor:
    """Mean of prob and the segmenter's output on the mirrored image, mirrored back.
    `flip_prob` is seg(image.flip(-1)) as returned, i.e. still in mirrored coordinates."""
    return 0.5 * (prob + flip_prob.flip(-1))


def _cross_pool(x: torch.Tensor) -> torch.Tensor:
    """Max over the 4-neighbourhood plus centre (3×3 cross), zero outside the image."""
    p = F.pad(x, (1, 1, 1, 1))
    return torch.stack([p[..., 1:-1, 1:-1], p[..., :-2, 1:-1], p[..., 2:, 1:-1],
                        p[..., 1:-1, :-2], p[..., 1:-1, 2:]]).amax(0)


def label_components(fg: torch.Tensor) -> torch.Tensor:
    """8-connected component labels of a bool map [B,1,H,W]: each component's pixels share a
    positive label (the largest flat index + 1 in it), background is 0."""
    B, _, H, W = fg.shape
    idx = torch.arange(1, H * W + 1, dtype=torch.float32).view(1, 1, H, W).expand(B, 1, H, W)
    lab = torch.where(fg, idx, torch.zeros(()))
    mask = fg.float()
    while True:
        nxt = F.max_pool2d(lab, 3, stride=1, padding=1) * mask
        if torch.equal(nxt, lab):
            return lab.long()
        lab = nxt


def keep_large_components(fg: torch.Tensor, min_share: float = MIN_COMPONENT_SHARE) -> torch.Tensor:
    """Drops 8-connected components smaller than `min_share` of the image's largest one."""
    lab = label_components(fg)
    out = torch.zeros_like(fg)
    for b in range(fg.shape[0]):
        ids, counts = torch.unique(lab[b], return_counts=True)
        fgc = ids > 0
        if fgc.any():
            keep = ids[fgc & (counts >= min_share * counts[fgc].max())]
            out[b] = torch.isin(lab[b], keep)
    return out


def fill_mask_holes(fg: torch.Tensor) -> torch.Tensor:
    """Background not 4-connected to the image border becomes foreground."""
    bg = ~fg
    border = torch.zeros_like(fg)
    border[..., 0, :] = border[..., -1, :] = True
    border[..., :, 0] = border[..., :, -1] = True
    reach = (bg & border).float()
    bgf = bg.float()
    while True:
        nxt = _cross_pool(reach) * bgf
        if torch.equal(nxt, reach):
            return fg | ~(reach > 0)
        reach = nxt


def postprocess(prob: torch.Tensor, flip_prob: Optional[torch.Tensor] = None, components: bool = True,
                fill_holes: bool = True, threshold: float = THRESHOLD) -> torch.Tensor:
    """Bool mask [B,1,H,W] from the probability map: optional flip averaging, threshold,
    small-component removal, then hole filling (a dropped speck inside a hole is refilled)."""
    if prob.dim() != 4 or prob.shape[1] != 1:
        raise ValueError(f"prob must be [B,1,H,W], got {tuple(prob.shape)}")
    p = flip_average(prob, flip_prob) if flip_prob is not None else prob
    fg = (p > threshold).cpu()
    if components:
        fg = keep_large_components(fg)
    if fill_holes:
        fg = fill_mask_holes(fg)
    return fg
