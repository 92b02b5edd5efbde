"""Export single graphs to ONNX the same way under torch 1.13 and torch 2.x."""
import inspect
from typing import Callable, Dict, List, Sequence, Set

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
FP16_MIN_ELEMENTS = 16      # smaller float initializers stay float32 under float16 storage
INT8_MIN_ELEMENTS = 1024    # smaller weights stay as they are under int8 storage


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


def store_weights_fp16(path: str, min_elements: int = FP16_MIN_ELEMENTS) -> None:
    """Keep float initializers as float16 plus a Cast back to float32: half the bytes on disk,
    float32 arithmetic at run time (onnxruntime folds the casts when the session is created)."""
    model = onnx.load(path)
    g = model.graph
    # int8 weights' scales (store_weights_int8) stay float32: DequantizeLinear reads them as they are
    scales = {n.input[1] for n in g.node if n.op_type == "DequantizeLinear"}
    casts = []
    keep = []
    for init in g.initializer:
        if (init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements
                and init.name not in scales):
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__cast"))
        else:
            keep.append(init)
    _save_stored(model, keep, casts, path)


def _save_stored(model, initializers: list, decoders: list, path: str) -> None:
    """Writes the graph with its initializers replaced and the nodes that decode stored weights
    (Cast, DequantizeLinear) placed first, where every consumer comes after them."""
    g = model.graph
    del g.initializer[:]
    g.initializer.extend(initializers)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(decoders + nodes)
    onnx.save(model, path)


# Weight operand index and per-output-channel axis of the ops whose weights int8 storage takes.
_INT8_WEIGHT_AXIS = {"Conv": (1, 0), "ConvTranspose": (1, 1), "MatMul": (1, -1)}


def quantize_int8(w: np.ndarray, axis: int):
    """(int8 values, float32 scale per index of `axis`), symmetric: w ≈ q * scale along axis.
    The exporter stores exactly these; evaluations use dequantize_int8 to score what the app runs."""
    w = np.asarray(w, dtype=np.float32)
    reduce = tuple(d for d in range(w.ndim) if d != axis)
    scale = np.abs(w).max(axis=reduce) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / _along(scale, axis, w.ndim)), -127, 127).astype(np.int8)
    return q, scale


def dequantize_int8(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """What DequantizeLinear computes from quantize_int8's output (zero point 0), in float32."""
    return q.astype(np.float32) * _along(scale, axis, q.ndim)


def _along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def store_weights_int8(path: str, min_elements: int = INT8_MIN_ELEMENTS) -> List[str]:
    """Keep the weights of convolutions and matrix products as int8 with one float32 scale per
    output channel (symmetric, zero point 0) plus a DequantizeLinear back to float32: a quarter of
    the bytes, float32 arithmetic. Only initializers used by exactly one such op as its weight are
    taken; biases, norms and anything shared keep their storage. Returns the names taken.
    Why per output channel: one scale per filter keeps a filter with small weights from being
    rounded to zero by a neighbour's large ones (the usual weight-only recipe)."""
    model = onnx.load(path)
    g = model.graph
    users: Dict[str, List[tuple]] = {}
    for node in g.node:
        for i, name in enumerate(node.input):
            users.setdefault(name, []).append((node.op_type, i))
    deq, keep, taken = [], [], []
    for init in g.initializer:
        use = users.get(init.name, [])
        rule = _INT8_WEIGHT_AXIS.get(use[0][0]) if len(use) == 1 else None
        if (init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements or rule is None
                or use[0][1] != rule[0] or len(init.dims) < 2):
            keep.append(init)
            continue
        w = numpy_helper.to_array(init)
        axis = rule[1] % w.ndim
        q, scale = quantize_int8(w, axis)
        qi = numpy_helper.from_array(q, init.name + "__int8")
        si = numpy_helper.from_array(scale, init.name + "__scale")
        zi = numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), init.name + "__zero")
        keep += [qi, si, zi]
        deq.append(helper.make_node("DequantizeLinear", [qi.name, si.name, zi.name], [init.name], axis=axis,
                                    name=init.name + "__dequantize"))
        taken.append(init.name)
    _save_stored(model, keep, deq, path)
    return taken


def conv_state_as_stored(state: Dict[str, torch.Tensor], fp16: bool, int8: bool) -> Dict[str, torch.Tensor]:
    """A convolution-only net's float32 weights rounded the way the pack stores them (int8 first,
    then float16 for the rest, as export_pack applies them), so PyTorch can score what the app runs.
    Assumes every float tensor of 2+ dimensions is a Conv weight (output channels first) — true for
    the segmenter, whose only other weights are GroupNorm and bias vectors."""
    out = {}
    for k, v in state.items():
        v = v.float() if v.dtype.is_floating_point else v
        if int8 and v.dim() >= 2 and v.numel() >= INT8_MIN_ELEMENTS:
            q, scale = quantize_int8(v.numpy(), 0)
            v = torch.from_numpy(dequantize_int8(q, scale, 0))
        elif fp16 and v.dtype == torch.float32 and v.numel() >= FP16_MIN_ELEMENTS:
            v = v.half().float()
        out[k] = v
    return out


# The torch modules whose weights become the ops above, and their output channels' axis in torch's
# layout (an ONNX MatMul holds a Linear's weight transposed, so its last axis is torch's first).
_TORCH_INT8_AXIS = {torch.nn.Linear: 0, torch.nn.Conv2d: 0, torch.nn.ConvTranspose2d: 1}


@torch.no_grad()
def gemm_linears(module: torch.nn.Module, *args) -> Set[str]:
    """Names of the Linear modules that see 2-D inputs in module(*args): the ONNX export writes
    those as Gemm (the U-Net's time embedding), which int8 storage leaves alone."""
    found, hooks = set(), []
    for name, m in module.named_modules():
        if isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: found.add(name) if inp[0].dim() == 2 else None))
    try:
        module(*args)
    finally:
        for h in hooks:
            h.remove()
    return found


def round_as_int8(module: torch.nn.Module, take: Callable[[str], bool] = lambda name: True,
                  gemm: Set[str] = frozenset()) -> List[str]:
    """Rounds in place, as store_weights_int8 stores them, the weights of module's Linear and
    convolution layers that int8 storage takes (not those of `gemm` modules, see gemm_linears)
    and `take` selects by parameter name, so PyTorch can score what an int8 graph runs.
    Returns the names rounded (tests/test_int8_rounding.py matches them with an exported graph)."""
    names = []
    for mname, m in module.named_modules():
        axis = _TORCH_INT8_AXIS.get(type(m))
        w = getattr(m, "weight", None)
        name = f"{mname}.weight"
        if (axis is None or w is None or w.dim() < 2 or w.numel() < INT8_MIN_ELEMENTS or mname in gemm
                or not take(name)):
            continue
        q, scale = quantize_int8(w.detach().float().cpu().numpy(), axis)
        w.data.copy_(torch.from_numpy(dequantize_int8(q, scale, axis)))
        names.append(name)
    return names


def round_unet_as_int8(unet: torch.nn.Module, take: Callable[[str], bool] = lambda name: True) -> List[str]:
    """round_as_int8 for a U-Net, as `--int8-storage unet` stores it: its time embedding's Linear layers
    are Gemm in the graph and stay float (found by one forward pass on zero inputs of the config's shapes)."""
    c, was_training = unet.config, unet.training
    p = next(unet.parameters())
    x = torch.zeros(1, c.in_channels, c.sample_size, c.sample_size, device=p.device)
    ctx = torch.zeros(1, 77, c.cross_attention_dim, device=p.device)
    unet.eval()
    try:
        gemm = gemm_linears(unet, x, torch.ones(1, device=p.device), ctx, torch.zeros(1, device=p.device), None)
    finally:
        unet.train(was_training)
    return round_as_int8(unet, take, gemm)


def io_signature(path: str) -> Dict[str, Dict[str, Sequence]]:
    m = onnx.load(path, load_external_data=False)

    def dims(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    return {
        "inputs": {i.name: (i.type.tensor_type.elem_type, dims(i)) for i in m.graph.input},
        "outputs": {o.name: (o.type.tensor_type.elem_type, dims(o)) for o in m.graph.output},
    }
