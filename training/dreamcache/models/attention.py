"""Multi-head attention with diffusers parameter names (to_q, to_k, to_v, to_out.0)."""
import math

import torch
import torch.nn.functional as F
from torch import nn

_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")

# "math" exports as plain MatMul/Softmax (works with every ONNX consumer and torch 1.13);
# "sdpa" uses the fused kernel for training speed on torch >= 2 and is the form that
# onnxruntime's U-Net attention fusion matches on export;
# "mha" computes like "math" (or sdpa where present) but exports each attention as one
# com.microsoft::MultiHeadAttention node: the fused kernel onnxruntime-web runs on WebGPU
# (≈2× faster SD U-Net on an H100, /work/shared/notes/gpu-box.md) and on wasm, without the
# Python onnxruntime optimizer (whose fusion only matches the sdpa export).
_BACKEND = {"name": "math"}
BACKENDS = ("math", "sdpa", "mha")


def set_attention_backend(name: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}")
    if name == "sdpa" and not _HAS_SDPA:
        raise RuntimeError("scaled_dot_product_attention needs torch >= 2.0")
    _BACKEND["name"] = name


def attention_backend() -> str:
    return _BACKEND["name"]


def _heads_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, sdpa: bool) -> torch.Tensor:
    b, t, inner = q.shape
    d = inner // heads
    q = q.reshape(b, t, heads, d).transpose(1, 2)
    k = k.reshape(k.shape[0], k.shape[1], heads, d).transpose(1, 2)
    v = v.reshape(v.shape[0], v.shape[1], heads, d).transpose(1, 2)
    if sdpa:
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        w = torch.matmul(q * (1.0 / math.sqrt(d)), k.transpose(-1, -2)).softmax(dim=-1)
        out = torch.matmul(w, v)
    return out.transpose(1, 2).reshape(b, t, inner)


class _MultiHeadAttention(torch.autograd.Function):
    """Plain attention in torch; one com.microsoft::MultiHeadAttention node in ONNX (unpacked
    query/key/value [B,S,H*d], scale 1/sqrt(d): the same arithmetic)."""

    @staticmethod
    def forward(ctx, q, k, v, heads: int):
        return _heads_attention(q, k, v, heads, _HAS_SDPA)

    @staticmethod
    def symbolic(g, q, k, v, heads: int):
        out = g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)
        out.setType(q.type())  # same shape and dtype as the query: keeps shape inference going
        return out


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """q [B,T,H*d], k/v [B,N,H*d] -> [B,T,H*d]."""
    if _BACKEND["name"] == "mha":
        return _MultiHeadAttention.apply(q, k, v, heads)
    return _heads_attention(q, k, v, heads, _BACKEND["name"] == "sdpa")


class Attention(nn.Module):
    def __init__(self, query_dim: int, heads: int, dim_head: int, context_dim: int = None,
                 bias: bool = False):
        super().__init__()
        inner = heads * dim_head
        context_dim = context_dim or query_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(context_dim, inner, bias=bias)
        self.to_v = nn.Linear(context_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, context: torch.Tensor = None) -> torch.Tensor:
        context = x if context is None else context
        out = attend(self.to_q(x), self.to_k(context), self.to_v(context), self.heads)
        return self.to_out[0](out)
