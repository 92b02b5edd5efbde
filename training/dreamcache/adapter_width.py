"""Which adapter width a folder of trained adapters was built with.

The width (UNetConfig.adapter_width) must be known before the U-Net is built, so every loader of
adapter weights (trainer --init-from, export, bench, parity, cache_probe) asks here first. The
trainer records it in adapters.json; the tensors themselves are the ground truth (attn_mem.to_q
is [width·C, C]), so a folder without the field (every run before it existed: width 1) or a
hand-assembled export folder without adapters.json still resolves, and a json that disagrees
with its tensors is refused rather than half-loaded."""
import os
from typing import Dict, Optional

import torch

from .train.common import load_split, load_split_meta

_PROBE = ".attn_mem.to_q.weight"


class AdapterWidthError(ValueError):
    """Adapter weights and the requested or recorded adapter width disagree."""


def width_of_tensors(state: Dict[str, torch.Tensor], where: str = "adapter weights") -> Optional[int]:
    """The width the adapter tensors were built with; None when there are no memory attentions."""
    widths = set()
    for name, t in state.items():
        if name.endswith(_PROBE):
            inner, dim = t.shape
            if inner % dim:
                raise AdapterWidthError(f"{where}: {name} is {list(t.shape)}, not a whole multiple of {dim}")
            widths.add(inner // dim)
    if len(widths) > 1:
        raise AdapterWidthError(f"{where}: layers disagree on the adapter width: {sorted(widths)}")
    return widths.pop() if widths else None


def read_adapter_width(folder: str) -> int:
    """The folder's adapter width: adapters.json's record, checked against adapters.partNN when
    both exist; the tensors' width without a record; 1 when the folder holds no adapters."""
    meta = load_split_meta(folder, "adapters.json") or {}
    recorded = int(meta["adapter_width"]) if "adapter_width" in meta else None
    has_parts = os.path.isdir(folder) and any(n.startswith("adapters.part") for n in os.listdir(folder))
    actual = width_of_tensors(load_split(folder, "adapters"), folder) if has_parts else None
    if recorded is not None and actual is not None and recorded != actual:
        raise AdapterWidthError(f"{folder}: adapters.json records adapter_width {recorded} but the "
                                f"adapters.partNN weights have width {actual}")
    return actual or recorded or 1


def can_grow(found: int, requested: Optional[int]) -> bool:
    """A width-`found` adapter can seed a wider one when the width is a whole multiple of it."""
    return requested is not None and requested > found and requested % found == 0


def grow_adapters(saved: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor],
                  where: str = "adapter weights") -> Dict[str, torch.Tensor]:
    """Narrow adapter tensors placed into a wider adapter so that it computes exactly what the
    narrow one did: the old heads keep their q/k/v rows (head h is rows h·d…(h+1)·d, so the old
    heads are the first rows), the new heads keep the target's fresh q/k/v rows, and their
    columns of attn_mem.to_out start at zero. Those zero columns still get gradients (the new
    heads' outputs are not zero), so the new heads start learning at once without changing the
    starting point — a trained adapter grows instead of restarting from nothing."""
    found = width_of_tensors(saved, where)
    have = width_of_tensors(target, "the model")
    if found is None or have is None or not can_grow(found, have):
        raise AdapterWidthError(f"{where}: width-{found} adapters cannot grow into width {have}")
    if set(saved) != set(target):
        raise AdapterWidthError(f"{where}: tensor names differ from the model's adapter tensors")
    out = {}
    for name, t in target.items():
        old = saved[name].to(t.dtype)
        new = t.detach().clone()
        if old.shape == new.shape:
            new.copy_(old)
        elif name.endswith(("attn_mem.to_q.weight", "attn_mem.to_k.weight", "attn_mem.to_v.weight")):
            new[:old.shape[0]].copy_(old)
        elif name.endswith("attn_mem.to_out.0.weight"):
            new.zero_()
            new[:, :old.shape[1]].copy_(old)
        else:
            raise AdapterWidthError(f"{where}: {name} is {list(old.shape)}, the model's is {list(new.shape)}")
        out[name] = new
    return out


def check_width(requested: Optional[int], found: int, source: str) -> int:
    """requested (a --adapter-width flag, None when not given) against the width of existing
    weights; returns the width to build."""
    if requested is not None and requested != found:
        raise AdapterWidthError(f"--adapter-width {requested} does not match {source}, which holds width-{found} "
                                f"adapters; --adapter-width picks the width of a fresh run, or of one grown from narrower "
                                f"--init-from weights (a multiple of their width); drop the flag to continue at "
                                f"width {found}, or start a new --out")
    return found
