"""Export single graphs to ONNX the same way under torch 1.13 and torch 2.x."""
import inspect
from typing import Dict, List, Sequence

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def export_graph(module: torch.nn.Module, args: tuple, path: str, input_names: List[str],
                 output_names: List[str], dynamic_axes: Dict[str, Dict[int, str]]) -> None:
    kwargs = dict(input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                  opset_version=OPSET, do_constant_folding=True)
    # torch >= 2.5 may default to the dynamo exporter; the TorchScript path is the one both
    # torch 1.13 (CI) and 2.x share, so results are comparable.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, **kwargs)


def store_weights_fp16(path: str, min_elements: int = 16) -> None:
    """Keep float initializers as float16 plus a Cast back to float32: half the bytes on disk,
    float32 arithmetic at run time (onnxruntime folds the casts when the session is created)."""
    model = onnx.load(path)
    g = model.graph
    casts = []
    keep = []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__cast"))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.save(model, path)


def io_signature(path: str) -> Dict[str, Dict[str, Sequence]]:
    m = onnx.load(path, load_external_data=False)

    def dims(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    return {
        "inputs": {i.name: (i.type.tensor_type.elem_type, dims(i)) for i in m.graph.input},
        "outputs": {o.name: (o.type.tensor_type.elem_type, dims(o)) for o in m.graph.output},
    }
