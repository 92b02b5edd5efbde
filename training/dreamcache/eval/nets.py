"""The evaluators' networks: small ConvNet image encoders and a small text transformer.

None of them is a real DINO or CLIP (no such weights exist offline); they are trained here on
training subjects only, and each reports its own held-out accuracy (docs/evaluation.md)."""
import math
from dataclasses import asdict, dataclass, field
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data import MODIFIERS, SCENES


@dataclass
class EncoderConfig:
    widths: Tuple[int, ...] = (32, 64, 128, 256, 256)
    dim: int = 128                  # embedding size

    def to_dict(self):
        return asdict(self)


@dataclass
class TextConfig:
    vocab_size: int = 4096
    width: int = 128
    layers: int = 2
    heads: int = 4
    max_length: int = 77
    eos_id: int = 2
    dim: int = 128

    def to_dict(self):
        return asdict(self)


def _block(cin: int, cout: int) -> nn.Sequential:
    g = min(8, cout // 4)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(g, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(g, cout), nn.SiLU())


class ConvEncoder(nn.Module):
    """Image [B,3,S,S] in [−1, 1] → features [B, widths[-1]] (mean + max pooled) → embedding."""

    def __init__(self, cfg: EncoderConfig, project: bool = True):
        super().__init__()
        self.config = cfg
        w = (3,) + tuple(cfg.widths)
        self.blocks = nn.Sequential(*[_block(w[i], w[i + 1]) for i in range(len(cfg.widths))])
        # a classifier uses features() only: no unused projection (DDP refuses unused parameters)
        self.proj = nn.Linear(2 * cfg.widths[-1], cfg.dim) if project else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)
        return torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding [B, dim]."""
        return F.normalize(self.proj(self.features(x)).float(), dim=-1)


class _TextBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, pad):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TextTower(nn.Module):
    """Token ids [B, L] (BOS … EOS, pad) → unit-norm embedding [B, dim], pooled at EOS."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.config = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos = nn.Parameter(torch.randn(cfg.max_length, cfg.width) * 0.01)
        self.blocks = nn.ModuleList([_TextBlock(cfg.width, cfg.heads) for _ in range(cfg.layers)])
        self.ln = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        eos = (ids == self.config.eos_id).int().argmax(1)
        # keys after EOS are padding; EOS itself and everything before stay visible
        pad = torch.arange(ids.shape[1], device=ids.device)[None] > eos[:, None]
        x = self.tok(ids) + self.pos[: ids.shape[1]]
        for b in self.blocks:
            x = b(x, pad)
        x = self.ln(x)[torch.arange(ids.shape[0], device=ids.device), eos]
        return F.normalize(self.proj(x).float(), dim=-1)


class ClipModel(nn.Module):
    """Image and text towers with a learned temperature (CLIP's contrastive objective)."""

    def __init__(self, image: EncoderConfig, text: TextConfig):
        super().__init__()
        self.image = ConvEncoder(image)
        self.text = TextTower(text)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, img, ids):
        return self.image(img), self.text(ids), self.logit_scale.exp().clamp(max=100.0)


N_SCENE = len(SCENES)
N_MODIFIER = len(MODIFIERS) + 1  # class 0: no modifier; class m + 1: MODIFIERS[m]


class SceneModifierNet(nn.Module):
    """Image → (scene logits [B, len(SCENES)], modifier logits [B, 1 + len(MODIFIERS)])."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.encoder = ConvEncoder(cfg, project=False)
        f = 2 * cfg.widths[-1]
        self.scene = nn.Linear(f, N_SCENE)
        self.modifier = nn.Linear(f, N_MODIFIER)

    def forward(self, img):
        h = self.encoder.features(img)
        return self.scene(h).float(), self.modifier(h).float()


def build(kind: str, meta: dict) -> nn.Module:
    """An evaluator network from its saved JSON (`{kind}.json`: image/text configs)."""
    enc = EncoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["image"].items()})
    if kind == "identity":
        return ConvEncoder(enc)
    if kind == "clip":
        return ClipModel(enc, TextConfig(**meta["text"]))
    if kind == "scene":
        return SceneModifierNet(enc)
    raise ValueError(f"unknown evaluator kind {kind!r}")
