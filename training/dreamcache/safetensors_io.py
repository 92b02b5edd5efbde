"""Read and write `.safetensors` files without the `safetensors` package (Debian's python3 has none).

The format: an 8-byte little-endian header length n, n bytes of UTF-8 JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
little-endian tensor bytes, offsets relative to the end of the header."""
import json
import struct
from typing import Dict, Optional

import numpy as np
import torch


class SafetensorsError(Exception):
    """A .safetensors file is malformed or holds a dtype this reader does not know."""


# bf16 has no numpy dtype: it is read as uint16 and widened to float32 (its top 16 bits).
_NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_TORCH = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
          torch.uint8: "U8", torch.bool: "BOOL"}
_MAX_HEADER = 100 * 1024 * 1024


def read_header(path: str) -> Dict:
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", raw)
        if n > _MAX_HEADER:
            raise SafetensorsError(f"{path}: header length {n} is implausible (not a safetensors file?)")
        try:
            return json.loads(f.read(n).decode("utf-8"))
        except ValueError as err:
            raise SafetensorsError(f"{path}: header is not JSON: {err}") from None


def read_safetensors(path: str, dtype: Optional[torch.dtype] = None) -> Dict[str, torch.Tensor]:
    """{name: tensor} in file order; floats converted to `dtype` when given (bf16 always widens)."""
    header = read_header(path)
    (n,) = struct.unpack("<Q", open(path, "rb").read(8))
    # A memory map keeps a 3 GB U-Net file from being read twice into memory.
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        kind = info.get("dtype")
        if kind not in _NUMPY:
            raise SafetensorsError(f"{path}: tensor {name} has dtype {kind!r}, not one of {sorted(_NUMPY)}")
        begin, end = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        npdt = np.dtype(_NUMPY[kind]).newbyteorder("<")
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * npdt.itemsize or end > data.shape[0]:
            raise SafetensorsError(f"{path}: tensor {name} byte range {begin}:{end} does not fit {kind}{shape}")
        arr = np.frombuffer(data[begin:end], dtype=npdt).reshape(shape)
        if kind == "BF16":
            t = torch.from_numpy(arr.astype(np.int32) << 16).view(torch.float32)
        else:
            t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t
    return out


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes tensors in the given order, 8-byte aligned header as the reference writer does."""
    header: Dict = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in _TORCH:
            raise SafetensorsError(f"tensor {name}: dtype {t.dtype} cannot be stored")
        if t.dtype == torch.bfloat16:
            b = (t.view(torch.int16).numpy().astype("<i2")).tobytes()
        else:
            b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _TORCH[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
