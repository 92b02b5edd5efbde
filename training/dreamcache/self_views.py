"""Views of a reference image made from the image alone, cached beside it (a pack's cache.selfViews,
docs/model-pack.md). Adapters trained with one reference per cache attend over any number: a second
view of the one photo a user gives lifts subject fidelity without new weights (docs/evaluation.md,
session 28); `train.adapters --self-views` trains with the caches the runtime then builds."""
import torch
import torch.nn.functional as F

# a pack may list only what src/runtime/engine.ts makes (pack_check.RUNTIME_SELF_VIEWS); "zoom" is measured
# by the benchmark, but its resampling has no bit-exact twin in the runtime yet
from .pack_check import RUNTIME_SELF_VIEWS  # noqa: F401
SELF_VIEWS = ("flip", "zoom")


def self_view(ref: torch.Tensor, op: str) -> torch.Tensor:
    """Another view of references [n, 3, S, S] in [−1, 1] on white: "flip", its mirror image (exactly
    the runtime's mirrorRgba); "zoom", the subject shrunk to 80 % about the centre, on white."""
    if op == "flip":
        return torch.flip(ref, dims=[-1])
    if op == "zoom":
        S = ref.shape[-1]
        k = max(1, round(S * 0.8))
        small = F.interpolate(ref, size=(k, k), mode="bilinear", align_corners=False, antialias=True)
        out = torch.ones_like(ref)
        o = (S - k) // 2
        out[..., o:o + k, o:o + k] = small
        return out
    raise ValueError(f"no self view {op!r}; known: {', '.join(SELF_VIEWS)}")


def parse_self_views(text, known=SELF_VIEWS) -> tuple:
    """"flip", "flip+zoom" or "flip,zoom" (or a sequence of names) → a tuple of distinct views of `known`
    (the pack exporter passes the runtime's, RUNTIME_SELF_VIEWS); "" → ()."""
    views = tuple(v.strip() for v in text.replace(",", "+").split("+") if v.strip()) if isinstance(text, str) \
        else tuple(text)
    if any(v not in known for v in views) or len(set(views)) != len(views):
        raise ValueError(f"self views are distinct views made from the reference image alone ({', '.join(known)}), "
                         f"'+'-joined; got {'+'.join(views)!r}")
    return views


def with_self_views(refs: torch.Tensor, views) -> torch.Tensor:
    """refs [n, 3, S, S] → [n, 1 + len(views), 3, S, S]: each reference, then its views, in the order
    the runtime caches them."""
    return torch.stack([refs] + [self_view(refs, v) for v in views], 1)
