"""Small salient-object segmenter: a U-Net with GroupNorm; image [B,3,R,R] in [0,1] -> mask probability."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SegmenterConfig


def _block(cin, cout):
    g = min(8, cout // 4)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(g, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(g, cout), nn.SiLU())


class ContextBlock(nn.Module):
    """Self-attention over every bottleneck position, then a 1×1-conv feed-forward, both residual.
    The convolutions relate a pixel only to its neighbourhood (GroupNorm adds global statistics, not
    relations), too little to tell a subject from a large object-like background shape (held-out
    mountains and tiles); attention lets each position compare itself with the whole image. Both
    output convolutions start at zero, so blocks added to a trained segmenter start out as the
    identity (trainer --context-layers)."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"segmenter context: {channels} channels do not split into {heads} heads")
        g = min(8, channels // 4)
        self.heads = heads
        self.norm1 = nn.GroupNorm(g, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        self.norm2 = nn.GroupNorm(g, channels)
        self.ff1 = nn.Conv2d(channels, channels, 1)
        self.ff2 = nn.Conv2d(channels, channels, 1)
        for m in (self.out, self.ff2):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, 3, self.heads, d, h * w).unbind(1)
        att = torch.softmax(q.transpose(-1, -2) @ k * (1.0 / math.sqrt(d)), dim=-1)   # [b, heads, hw, hw]
        y = (v @ att.transpose(-1, -2)).reshape(b, c, h, w)
        x = x + self.out(y)
        return x + self.ff2(F.silu(self.ff1(self.norm2(x))))


class Segmenter(nn.Module):
    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.config = cfg
        ch = cfg.channels
        self.down = nn.ModuleList([_block(3 if i == 0 else ch[i - 1], c) for i, c in enumerate(ch)])
        self.context = nn.ModuleList([ContextBlock(ch[-1], cfg.context_heads) for _ in range(cfg.context_layers)])
        self.up = nn.ModuleList([_block(ch[i + 1] + ch[i], ch[i]) for i in reversed(range(len(ch) - 1))])
        self.head = nn.Conv2d(ch[0], 1, 1)
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))

    def logits(self, image):
        x = (image - self.mean) * 2.0
        skips = []
        for i, blk in enumerate(self.down):
            x = blk(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = F.avg_pool2d(x, 2)
        for blk in self.context:
            x = blk(x)
        for blk in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = blk(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)

    def forward(self, image, return_logits: bool = False):
        z = self.logits(image)
        return z if return_logits else torch.sigmoid(z)
