"""Graph writing for large packs: ONNX external data past the 2 GB protobuf limit, float16
weight storage, and true float16 graphs with float32 inputs/outputs (docs/model-pack.md)."""
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import onnx
import torch
from torch import nn

from .onnx_export import export_graph, store_weights_fp16

# protobuf refuses to serialise a message past 2 GiB; stay clear of it.
EXTERNAL_DATA_OVER = 2_000_000_000


class HalfGraph(nn.Module):
    """Runs `inner` in float16 but keeps the graph's float inputs/outputs float32, as the pack
    contract requires. Inputs at `keep_float32` stay float32 (the timestep: its sinusoidal
    embedding loses integer resolution in float16)."""

    def __init__(self, inner: nn.Module, keep_float32: Sequence[int] = ()):
        super().__init__()
        self.inner = inner
        self.keep = set(keep_float32)

    def forward(self, *args):
        args = [a.half() if a.is_floating_point() and i not in self.keep else a for i, a in enumerate(args)]
        out = self.inner(*args)
        if isinstance(out, (tuple, list)):
            return tuple(o.float() for o in out)
        return out.float()


def external_files(path: str) -> List[str]:
    """The external data files an ONNX file refers to (relative locations)."""
    m = onnx.load(path, load_external_data=False)
    locs = set()
    for t in m.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            for e in t.external_data:
                if e.key == "location":
                    locs.add(e.value)
    return sorted(locs)


def graph_bytes(path: str) -> int:
    d = os.path.dirname(path)
    return os.path.getsize(path) + sum(os.path.getsize(os.path.join(d, f)) for f in external_files(path))


def place_graph(tmp_path: str, out_dir: str, name: str, external_over: int) -> Optional[str]:
    """Moves a graph (and whatever external files torch wrote next to it) into the pack as
    `name`, plus ONE `name.data` file when the whole is larger than external_over. Returns the
    data file name or None."""
    dest = os.path.join(out_dir, name)
    if graph_bytes(tmp_path) <= external_over and not external_files(tmp_path):
        shutil.copyfile(tmp_path, dest)
        return None
    model = onnx.load(tmp_path)  # pulls every external tensor into memory
    data = name + ".data"
    for p in (dest, os.path.join(out_dir, data)):
        if os.path.exists(p):
            os.remove(p)
    onnx.save_model(model, dest, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)
    return data


def write_graph(module: nn.Module, args: tuple, out_dir: str, name: str, inputs: List[str], outputs: List[str],
                dynamic_axes: Dict, fp16_storage: bool = False, external_over: int = EXTERNAL_DATA_OVER) -> Dict[str, str]:
    """Exports one graph into out_dir; returns {"file": name, "data": data file or None}."""
    tmp = tempfile.mkdtemp(prefix="graph-")
    try:
        p = os.path.join(tmp, name)
        export_graph(module, args, p, inputs, outputs, dynamic_axes)
        if fp16_storage:
            store_weights_fp16(p)
        return {"file": name, "data": place_graph(p, out_dir, name, external_over)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def to_device(args: tuple, device: torch.device) -> tuple:
    return tuple(a.to(device) for a in args)
