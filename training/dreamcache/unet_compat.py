"""Whether a new U-Net file makes the same subject caches as an earlier pack's.

A subject's cache is one U-Net pass at gate 0 (adapter_gate = 0), where every adapter's output is
multiplied by zero: new adapter weights leave caches as they were. Packs that differ only in their
adapters can then list each other's fingerprints in cache.compatibleFingerprints, so users keep their
subjects when the adapters improve. The exporter proves it in three steps before it does so:

1. the new U-Net at gate 0 gives the same output and cached features in PyTorch when its adapter
   weights are replaced by others (gate0_ignores_adapters);
2. the initializers of the exported graph that depend on adapter weights are those that change when
   the same U-Net is exported a second time with those other adapter weights (adapter_initializers);
3. the earlier unet.onnx has the same graph (nodes, inputs, outputs, initializer names, shapes and
   types) and differs from the new one only in those initializers, which are finite (0 × inf would
   not be 0) — same_caches.
"""
import contextlib
import os
import tempfile
from typing import Callable, Dict, Iterable, Optional, Set, Tuple

import numpy as np
import onnx
import torch
from onnx import numpy_helper


@contextlib.contextmanager
def _perturbed_adapters(unet, seed: int = 7):
    """The U-Net's adapter weights replaced by other (random, finite) ones, restored on exit."""
    saved = [p.detach().clone() for p in unet.adapter_parameters()]
    g = torch.Generator().manual_seed(seed)
    try:
        with torch.no_grad():
            for p in unet.adapter_parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.5 + 0.25)
        yield unet
    finally:
        with torch.no_grad():
            for p, s in zip(unet.adapter_parameters(), saved):
                p.copy_(s)


@torch.no_grad()
def gate0_ignores_adapters(graph, args: Tuple) -> Optional[str]:
    """None when the U-Net's gate-0 rows (output and features) do not move with its adapter weights.
    graph, args: the exporter's UNetGraph and example arguments (unet_graph_spec); gates set to 0 here."""
    args = list(args)
    args[3] = torch.zeros_like(args[3])
    graph.eval()
    before = [t.clone() for t in graph(*args)]
    with _perturbed_adapters(graph.unet):
        after = graph(*args)
    for i, (a, b) in enumerate(zip(before, after)):
        if not torch.equal(a, b):
            return f"output {i} of the U-Net at gate 0 changes with its adapter weights"
    return None


def _initializers(model: onnx.ModelProto) -> Dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def adapter_initializers(export: Callable[[str], None], unet, reference: str) -> Set[str]:
    """Names of the initializers of `reference` (a unet.onnx written by export(path) from `unet`) that
    depend on adapter weights: those that differ when export runs again with other adapter weights."""
    with tempfile.TemporaryDirectory() as tmp:
        other = os.path.join(tmp, "unet.onnx")
        with _perturbed_adapters(unet):
            export(other)
        a, b = _initializers(onnx.load(reference)), _initializers(onnx.load(other))
    if set(a) != set(b):
        raise ValueError("exporting the U-Net with other adapter weights changed its initializer names (the ONNX "
                         "exporter merges weight tensors of equal values, as untrained adapters have), so the "
                         "adapter weights cannot be told apart in the graph")
    return {n for n in a if a[n].SerializeToString() != b[n].SerializeToString()}


def _structure(model: onnx.ModelProto):
    g = model.graph
    inits = {t.name: (tuple(t.dims), t.data_type) for t in g.initializer}
    return ([n.SerializeToString() for n in g.node], [v.SerializeToString() for v in g.input],
            [v.SerializeToString() for v in g.output], inits)


def same_caches(old_path: str, new_path: str, adapter_names: Iterable[str]) -> Optional[str]:
    """None when the two unet.onnx files make the same caches (module docstring, step 3), else why not."""
    old, new = onnx.load(old_path), onnx.load(new_path)
    so, sn = _structure(old), _structure(new)
    for what, a, b in zip(("nodes", "inputs", "outputs", "initializer names, shapes or types"), so, sn):
        if a != b:
            return f"the U-Net graphs differ in their {what}"
    io, inew = _initializers(old), _initializers(new)
    differ = {n for n in inew if io[n].SerializeToString() != inew[n].SerializeToString()}
    base = sorted(differ - set(adapter_names))
    if base:
        return f"{len(base)} non-adapter weight tensor(s) of the U-Net differ (e.g. {base[0]})"
    for n in sorted(differ):
        if not np.isfinite(numpy_helper.to_array(inew[n]).astype(np.float64)).all():
            return f"adapter weight tensor {n} is not finite: at gate 0 its product with zero is not zero"
    return None
