"""One ONNX graph run through onnxruntime-web (wasm) in Node — the runtime the app ships — for checks
that compare it with PyTorch or with another graph. The work is done by training/tests/onnx_run.mjs,
which reads <dir>/spec.json and the raw input files and writes the outputs beside them."""
import json
import os
import shutil
import subprocess
from typing import Dict, List, Optional

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNNER = os.path.join(ROOT, "training", "tests", "onnx_run.mjs")


class NodeMissing(RuntimeError):
    pass


def run_ort(tmp: str, model: str, inputs: Dict[str, np.ndarray], outputs: List[str],
            data_file: Optional[str] = None) -> Dict[str, np.ndarray]:
    """{output name: ndarray} of `model` on `inputs` (int64 arrays stay int64, the rest float32), using
    tmp/io as the exchange folder. data_file: the graph's ONNX external data, if it has any."""
    if shutil.which("node") is None:
        # The GPU box has no Node unless carried (bench/gpu/prepare_carry.sh packs one).
        raise NodeMissing("node is not installed: onnxruntime-web runs in Node")
    d = os.path.join(tmp, "io")
    os.makedirs(d, exist_ok=True)
    spec = {"model": model, "inputs": {}, "outputs": outputs}
    if data_file:
        spec["externalData"] = [{"path": os.path.basename(data_file), "file": data_file}]
    for name, arr in inputs.items():
        dtype = "int64" if arr.dtype == np.int64 else "float32"
        arr.astype(np.int64 if dtype == "int64" else np.float32).tofile(os.path.join(d, name + ".bin"))
        spec["inputs"][name] = {"file": name + ".bin", "dtype": dtype, "dims": list(arr.shape)}
    json.dump(spec, open(os.path.join(d, "spec.json"), "w"))
    subprocess.run(["node", RUNNER, d], check=True, cwd=ROOT, timeout=300)
    dims = json.load(open(os.path.join(d, "outputs.json")))
    return {n: np.fromfile(os.path.join(d, n + ".out.bin"), dtype=np.float32).reshape(dims[n]) for n in outputs}
