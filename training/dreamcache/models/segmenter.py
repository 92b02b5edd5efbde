"""Small salient-object segmenter: a U-Net with GroupNorm; image [B,3,R,R] in [0,1] -> mask probability."""
import torch
import torch.nn.functional as F
from torch import nn

from .config import SegmenterConfig


def _block(cin, cout):
    g = min(8, cout // 4)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(g, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(g, cout), nn.SiLU())


class Segmenter(nn.Module):
    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.config = cfg
        ch = cfg.channels
        self.down = nn.ModuleList([_block(3 if i == 0 else ch[i - 1], c) for i, c in enumerate(ch)])
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
        for blk in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = blk(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)

    def forward(self, image, return_logits: bool = False):
        z = self.logits(image)
        return z if return_logits else torch.sigmoid(z)
