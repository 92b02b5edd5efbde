"""SD-architecture conditional U-Net with DreamCache adapters.

Module and parameter names follow diffusers' UNet2DConditionModel, so a diffusers SD 1.5
state dict loads into `UNet(sd15().unet)` without renaming (adapter weights are extra keys)."""
import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention
from .config import UNetConfig


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding as diffusers' Timesteps(dim, flip_sin_to_cos=True, shift=0)."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    emb = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, out: int):
        super().__init__()
        self.linear_1 = nn.Linear(dim, out)
        self.linear_2 = nn.Linear(out, out)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin: int, cout: int, temb: Optional[int], groups: int, eps: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    """Self-attention, text cross-attention, feed-forward. With `adapter=True` it also holds the
    DreamCache memory attention: x + proj(concat[selfattn(norm1 x), attn_mem(norm_mem x, cache)]).
    adapter_width multiplies attn_mem's heads (same head size, so the same softmax scale and the
    same fused-attention kernel shape); proj_mem stays 2·dim → dim, so reset_adapter holds."""

    def __init__(self, dim: int, heads: int, context_dim: int, adapter: bool, adapter_width: int = 1):
        super().__init__()
        if not isinstance(adapter_width, int) or adapter_width < 1:
            raise ValueError(f"adapter_width must be an integer >= 1, got {adapter_width!r}")
        d = dim // heads
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, d)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, d, context_dim=context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)
        self.has_adapter = adapter
        if adapter:
            self.norm_mem = nn.LayerNorm(dim)
            self.attn_mem = Attention(dim, heads * adapter_width, d, context_dim=dim)
            self.proj_mem = nn.Linear(2 * dim, dim)
            reset_adapter(self)

    def forward(self, x, context, gate=None, cache=None):
        sa = self.attn1(self.norm1(x))
        if self.has_adapter and gate is not None and cache is not None:
            mem = self.attn_mem(self.norm_mem(x), cache.expand(x.shape[0], -1, -1))
            mixed = self.proj_mem(torch.cat([sa, mem], dim=-1))
            # gate 0 leaves sa bit-identical (sa + 0·finite), so one graph serves base and adapter.
            sa = sa + gate.to(sa.dtype)[:, None, None] * (mixed - sa)
        x = x + sa
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


def reset_adapter(block: BasicTransformerBlock) -> None:
    """proj_mem = [I | 0]: a fresh adapter is the base model. Only proj_mem's memory half starts
    at zero; zeroing attn_mem's output too would make both factors' gradients zero for ever (each
    is the other's gradient path), and the adapter could never learn."""
    dim = block.proj_mem.out_features
    with torch.no_grad():
        block.proj_mem.weight.zero_()
        block.proj_mem.weight[:, :dim].copy_(torch.eye(dim))
        block.proj_mem.bias.zero_()


class Transformer2DModel(nn.Module):
    def __init__(self, channels: int, heads: int, context_dim: int, groups: int, adapter: bool):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, heads, context_dim, adapter)])
        self.proj_out = nn.Conv2d(channels, channels, 1)
        # Set by UNet: "mid", "dec1", ... when this block is cached, else None.
        self.cache_name: Optional[str] = None

    def forward(self, x, context, gate, caches, features):
        b, c, hgt, wid = x.shape
        h = self.proj_in(self.norm(x))
        h = h.reshape(b, c, hgt * wid).transpose(1, 2)
        name = self.cache_name
        if name is not None and features is not None:
            features[name] = h
        cache = caches.get(name) if (name is not None and caches is not None) else None
        for blk in self.transformer_blocks:
            h = blk(h, context, gate, cache)
        h = h.transpose(1, 2).reshape(b, c, hgt, wid)
        return self.proj_out(h) + x


class Downsample2D(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, temb, cfg: UNetConfig, heads, attn: bool, add_down: bool):
        super().__init__()
        g, e = cfg.norm_num_groups, cfg.norm_eps
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(cin if i == 0 else cout, cout, temb, g, e) for i in range(cfg.layers_per_block)])
        if attn:
            self.attentions = nn.ModuleList(
                [Transformer2DModel(cout, heads, cfg.cross_attention_dim, g, False)
                 for _ in range(cfg.layers_per_block)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if add_down else None

    def forward(self, x, temb, ctx, gate, caches, features):
        skips = []
        for i, res in enumerate(self.resnets):
            x = res(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx, gate, caches, features)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpBlock(nn.Module):
    def __init__(self, cin, prev, cout, temb, cfg: UNetConfig, heads, attn: bool, add_up: bool):
        super().__init__()
        g, e = cfg.norm_num_groups, cfg.norm_eps
        n = cfg.layers_per_block + 1
        self.resnets = nn.ModuleList()
        for i in range(n):
            skip = cin if i == n - 1 else cout
            rin = prev if i == 0 else cout
            self.resnets.append(ResnetBlock2D(rin + skip, cout, temb, g, e))
        if attn:
            self.attentions = nn.ModuleList(
                [Transformer2DModel(cout, heads, cfg.cross_attention_dim, g, False) for _ in range(n)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if add_up else None

    def forward(self, x, skips, temb, ctx, gate, caches, features):
        for i, res in enumerate(self.resnets):
            x = res(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx, gate, caches, features)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class MidBlock(nn.Module):
    def __init__(self, ch, temb, cfg: UNetConfig, heads):
        super().__init__()
        g, e = cfg.norm_num_groups, cfg.norm_eps
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, temb, g, e), ResnetBlock2D(ch, ch, temb, g, e)])
        self.attentions = nn.ModuleList([Transformer2DModel(ch, heads, cfg.cross_attention_dim, g, False)])

    # No forward(): UNet runs resnets[0], may regroup rows (encoder_row), then tail().
    def tail(self, x, temb, ctx, gate, caches, features):
        """From the first adapter on: the part rows that differ only in adapter_gate cannot share."""
        x = self.attentions[0](x, ctx, gate, caches, features)
        return self.resnets[1](x, temb)


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.config = cfg
        ch = cfg.block_out_channels
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        prev = ch[0]
        for i, kind in enumerate(cfg.down_block_types):
            self.down_blocks.append(DownBlock(prev, ch[i], temb, cfg, cfg.heads(i),
                                              kind.startswith("CrossAttn"), i < len(ch) - 1))
            prev = ch[i]
        self.mid_block = MidBlock(ch[-1], temb, cfg, cfg.heads(len(ch) - 1))
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList()
        prev = rev[0]
        for i, kind in enumerate(cfg.up_block_types):
            cin = rev[min(i + 1, len(ch) - 1)]
            self.up_blocks.append(UpBlock(cin, prev, rev[i], temb, cfg, cfg.heads(len(ch) - 1 - i),
                                          kind.startswith("CrossAttn"), i < len(ch) - 1))
            prev = rev[i]
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=cfg.norm_eps)
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)
        self.cached_modules: Dict[str, str] = {}
        self._mark_cached_layers()

    def _mark_cached_layers(self):
        """Cache the mid-block transformer and decoder transformers with local index 1, 3, 5…"""
        mods = dict(self.named_modules())
        names = ["mid_block.attentions.0"]
        k = 0
        for bi, blk in enumerate(self.up_blocks):
            if blk.attentions is None:
                continue
            for ai in range(len(blk.attentions)):
                if k % 2 == 1:
                    names.append(f"up_blocks.{bi}.attentions.{ai}")
                k += 1
        for n in names:
            layer = "mid" if n.startswith("mid") else "dec" + str(self._decoder_index(n))
            mods[n].cache_name = layer
            self.cached_modules[layer] = n
            if self.config.adapters:
                blk = mods[n].transformer_blocks[0]
                adapted = BasicTransformerBlock(blk.norm1.normalized_shape[0], blk.attn1.heads,
                                                self.config.cross_attention_dim, True, self.config.adapter_width)
                mods[n].transformer_blocks[0] = adapted

    def _decoder_index(self, module_name: str) -> int:
        k = 0
        for bi, blk in enumerate(self.up_blocks):
            if blk.attentions is None:
                continue
            for ai in range(len(blk.attentions)):
                if module_name == f"up_blocks.{bi}.attentions.{ai}":
                    return k
                k += 1
        raise KeyError(module_name)

    def cache_layers(self, latent_size: int) -> List[dict]:
        """[{name, module, channels, height, width}] in forward order for a latent of that size."""
        mods = dict(self.named_modules())
        out = []
        for layer, n in self.cached_modules.items():
            ch = mods[n].proj_in.out_channels
            if n.startswith("mid"):
                s = latent_size // 2 ** (len(self.config.block_out_channels) - 1)
            else:
                bi = int(n.split(".")[1])
                s = latent_size // 2 ** (len(self.config.block_out_channels) - 1 - bi)
            out.append({"name": layer, "module": n, "channels": ch, "height": s, "width": s})
        return out

    def adapter_parameters(self):
        return [p for n, p in self.named_parameters() if is_adapter_param(n)]

    def base_parameters(self):
        return [p for n, p in self.named_parameters() if not is_adapter_param(n)]

    def forward(self, sample, timestep, encoder_hidden_states, adapter_gate=None,
                caches: Optional[Dict[str, torch.Tensor]] = None, return_features: bool = False,
                encoder_row: Optional[torch.Tensor] = None):
        """encoder_row (int64 [B]), when given: sample, timestep and encoder_hidden_states hold the
        S distinct encoder rows and output row b continues encoder row encoder_row[b]. Adapters act
        from the mid-block transformer on, so DreamCache's e_u and e_i rows (same latent, same empty
        prompt, gates 0 and 1) share the encoder: a batch-3 step runs it at batch 2."""
        if timestep.dim() == 0:
            timestep = timestep.expand(sample.shape[0])
        temb = self.time_embedding(timestep_embedding(timestep, self.config.block_out_channels[0]).to(sample.dtype))
        features: Optional[Dict[str, torch.Tensor]] = {} if return_features else None
        gate = adapter_gate if caches is not None else None
        x = self.conv_in(sample)
        skips = [x]
        for blk in self.down_blocks:
            x, s = blk(x, temb, encoder_hidden_states, gate, caches, features)
            skips.extend(s)
        x = self.mid_block.resnets[0](x, temb)
        if encoder_row is not None:
            x, temb, encoder_hidden_states = (t.index_select(0, encoder_row) for t in (x, temb, encoder_hidden_states))
            skips = [s.index_select(0, encoder_row) for s in skips]
        x = self.mid_block.tail(x, temb, encoder_hidden_states, gate, caches, features)
        for blk in self.up_blocks:
            n = len(blk.resnets)
            x = blk(x, skips[-n:], temb, encoder_hidden_states, gate, caches, features)
            skips = skips[:-n]
        x = self.conv_out(F.silu(self.conv_norm_out(x)))
        if return_features:
            return x, features
        return x


def is_adapter_param(name: str) -> bool:
    return ".norm_mem." in name or ".attn_mem." in name or ".proj_mem." in name
