"""Validate a model pack folder against docs/model-pack.md.

    python3 -m dreamcache.pack_check public/models/dev-tiny
Prints every violation and exits 1 if there is any."""
import hashlib
import json
import os
import re
import sys
from typing import Callable, Dict, List, Optional

# the views of a reference the runtime makes from the image alone (cache.selfViews; src/runtime/pack.ts SELF_VIEWS)
RUNTIME_SELF_VIEWS = ("flip",)

ROLES = ["text_encoder", "vae_encoder", "vae_decoder", "unet", "segmenter"]
# The unet graph's inputs before its cache_<layer> inputs (docs/model-pack.md).
UNET_INPUTS = ["sample", "timestep", "encoder_hidden_states", "adapter_gate", "encoder_row"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
LAYER_RE = re.compile(r"^(mid|dec[0-9]+)$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def largest_tensor_bytes(path: str) -> int:
    """Bytes of the graph's largest weight as the runtime holds it: one GPU buffer each. A float16
    weight stored for a Cast to float32 (onnx_export.store_weights_fp16) or an int8 one stored for a
    DequantizeLinear (store_weights_int8) counts at 4 bytes: the float32 tensor the graph computes
    from it is what the runtime holds."""
    import onnx  # only for .onnx files
    m = onnx.load(path, load_external_data=False)
    to_float = {n.input[0] for n in m.graph.node if n.op_type == "Cast"
                and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in n.attribute)}
    to_float |= {n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    best = 0
    for t in m.graph.initializer:
        count = 1
        for d in t.dims:
            count *= d
        size = 4 if t.name in to_float else _ELEMENT_BYTES.get(t.data_type, 4)
        best = max(best, count * size)
    return best


def file_entries(folder: str) -> List[Dict]:
    """manifest `files`: every file but the manifest, with size and sha256; ONNX graphs also
    carry `largestTensorBytes` (the device check compares it with the GPU's buffer limits)."""
    out = []
    for n in sorted(os.listdir(folder)):
        if n == "manifest.json":
            continue
        p = os.path.join(folder, n)
        e = {"path": n, "bytes": os.path.getsize(p), "sha256": sha256_file(p)}
        if n.endswith(".onnx"):
            e["largestTensorBytes"] = largest_tensor_bytes(p)
        out.append(e)
    return out


def pack_fingerprint(manifest: Dict) -> str:
    unet_file = manifest["graphs"]["unet"]["fp32"]
    unet_sha = next(f["sha256"] for f in manifest["files"] if f["path"] == unet_file)
    layers = ",".join(f"{l['name']}:{l['channels']}:{l['height']}:{l['width']}" for l in manifest["cache"]["layers"])
    s = f"{manifest['name']}\n{manifest['version']}\n{unet_sha}\n{layers}"
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


# The graphs a subject cache passes through: the reference is VAE-encoded, the empty prompt encoded, and
# the U-Net's features at t = cache.timestep kept.
CACHE_GRAPHS = ("unet", "text_encoder", "vae_encoder")


def cache_inputs(manifest: Dict) -> Dict:
    """Everything a subject cache depends on: packs with equal cache_inputs make identical caches."""
    sha = {f["path"]: f["sha256"] for f in manifest["files"]}
    return {
        "graphs": {r: {k: sha.get(v) for k, v in manifest["graphs"][r].items()} for r in CACHE_GRAPHS},
        "tokenizer": {**manifest["tokenizer"], "sha256": sha.get(manifest["tokenizer"]["file"])},
        "cache": {"timestep": manifest["cache"]["timestep"],
                  "layers": [[l["name"], l["channels"], l["height"], l["width"]] for l in manifest["cache"]["layers"]]},
        "latent": manifest["latent"], "scheduler": manifest["scheduler"], "image": manifest["image"],
    }


def compatible_fingerprints(manifest: Dict, earlier: List[Dict],
                            unet_same_caches: Optional[Callable[[Dict], Optional[str]]] = None) -> List[str]:
    """cache.compatibleFingerprints for a new pack: the fingerprints of the earlier packs (and those they
    accepted in turn) whose caches it can use. ValueError names the first input that differs.
    unet_same_caches(old manifest) -> None | reason: asked when the U-Net file is the only difference
    (new adapters: unet_compat.same_caches); without it a different U-Net file is refused."""
    mine, out = cache_inputs(manifest), []
    for old in earlier:
        theirs = cache_inputs(old)
        only_unet = (unet_same_caches is not None and
                     {k for k in mine if mine[k] != theirs[k]} == {"graphs"} and
                     {r for r in CACHE_GRAPHS if mine["graphs"][r] != theirs["graphs"][r]} == {"unet"} and
                     set(mine["graphs"]["unet"]) == set(theirs["graphs"]["unet"]))
        if only_unet:
            why = unet_same_caches(old)
            if why:
                raise ValueError(f"{old['name']} {old['version']} makes other caches: {why}")
        for k in mine:
            if mine[k] != theirs[k] and not only_unet:
                raise ValueError(f"{old['name']} {old['version']} makes other caches: its {k} differs "
                                 f"({theirs[k]} vs {mine[k]})")
        for fp in [pack_fingerprint(old)] + list(old["cache"].get("compatibleFingerprints", [])):
            if fp != pack_fingerprint(manifest) and fp not in out:
                out.append(fp)
    return out


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_manifest(m: Dict) -> List[str]:
    """Rules that need only the manifest."""
    e = []
    req = lambda cond, msg: None if cond else e.append(msg)
    if not isinstance(m, dict):
        return ["manifest is not a JSON object"]
    req(m.get("format") == "dreamcache-pack", "format must be 'dreamcache-pack'")
    req(m.get("formatVersion") == 1, "formatVersion must be 1")
    req(isinstance(m.get("name"), str) and NAME_RE.match(m.get("name", "")), "name must match ^[a-z0-9][a-z0-9._-]*$")
    req(isinstance(m.get("version"), str) and m.get("version"), "version must be a non-empty string")
    req(isinstance(m.get("license"), str) and m.get("license"), "license must be a non-empty string")
    req(isinstance(m.get("trained"), bool), "trained must be a boolean")
    img, lat = m.get("image") or {}, m.get("latent") or {}
    req(_is_int(img.get("size")) and img.get("size", 0) > 0, "image.size must be a positive integer")
    req(_is_int(lat.get("channels")) and lat.get("channels", 0) > 0, "latent.channels must be a positive integer")
    req(_is_int(lat.get("downsample")) and lat.get("downsample", 0) > 0, "latent.downsample must be a positive integer")
    if _is_int(img.get("size")) and _is_int(lat.get("downsample")) and lat["downsample"] > 0:
        req(img["size"] % lat["downsample"] == 0, "image.size must be divisible by latent.downsample")
    req(isinstance(lat.get("scalingFactor"), (int, float)) and lat.get("scalingFactor", 0) > 0, "latent.scalingFactor must be > 0")
    s = m.get("scheduler") or {}
    req(_is_int(s.get("numTrainTimesteps")) and s.get("numTrainTimesteps", 0) > 1, "scheduler.numTrainTimesteps must be an integer > 1")
    req(s.get("betaSchedule") in ("linear", "scaled_linear"), "scheduler.betaSchedule must be linear or scaled_linear")
    req(isinstance(s.get("betaStart"), (int, float)) and isinstance(s.get("betaEnd"), (int, float)), "scheduler.betaStart/betaEnd must be numbers")
    req(s.get("predictionType") == "epsilon", "scheduler.predictionType must be epsilon")
    t = m.get("tokenizer") or {}
    req(isinstance(t.get("file"), str), "tokenizer.file must be a string")
    for k in ("maxLength", "padTokenId", "bosTokenId", "eosTokenId"):
        req(_is_int(t.get(k)) and t.get(k, -1) >= 0, f"tokenizer.{k} must be a non-negative integer")
    req(_is_int((m.get("textEncoder") or {}).get("hiddenSize")), "textEncoder.hiddenSize must be an integer")
    c = m.get("cache") or {}
    nt = s.get("numTrainTimesteps") if _is_int(s.get("numTrainTimesteps")) else 1000
    req(_is_int(c.get("timestep")) and 0 <= c.get("timestep", -1) < nt, "cache.timestep must be an integer in [0, numTrainTimesteps)")
    layers = c.get("layers")
    if not isinstance(layers, list) or not layers:
        e.append("cache.layers must be a non-empty list")
    else:
        names = [l.get("name") if isinstance(l, dict) else None for l in layers]
        req(len(set(names)) == len(names), "cache.layers names must be unique")
        for l in layers:
            if not isinstance(l, dict) or not isinstance(l.get("name"), str) or not LAYER_RE.match(l["name"]):
                e.append(f"cache layer {l!r}: name must match ^(mid|dec[0-9]+)$")
                continue
            for k in ("channels", "height", "width"):
                req(_is_int(l.get(k)) and l.get(k, 0) > 0, f"cache layer {l['name']}: {k} must be a positive integer")
    if "compatibleFingerprints" in c:
        fps = c["compatibleFingerprints"]
        req(isinstance(fps, list) and all(isinstance(f, str) and SHA_RE.match(f) for f in fps),
            "cache.compatibleFingerprints must be a list of sha256 hex strings")
    if "selfViews" in c:
        sv = c["selfViews"]
        req(isinstance(sv, list) and all(v in RUNTIME_SELF_VIEWS for v in sv) and len(set(sv)) == len(sv),
            f"cache.selfViews must be a list of distinct views of {', '.join(RUNTIME_SELF_VIEWS)}")
    g = m.get("guidance") or {}
    req(isinstance(g.get("textScale"), (int, float)) and isinstance(g.get("imageScale"), (int, float)), "guidance.textScale/imageScale must be numbers")
    req("imageScaleEnd" not in g or isinstance(g["imageScaleEnd"], (int, float)), "guidance.imageScaleEnd must be a number when present")
    req(_is_int((m.get("segmenter") or {}).get("inputSize")), "segmenter.inputSize must be an integer")
    graphs = m.get("graphs") or {}
    files = m.get("files")
    if not isinstance(files, list):
        e.append("files must be a list")
        files = []
    listed = {}
    for f in files:
        if not (isinstance(f, dict) and isinstance(f.get("path"), str) and _is_int(f.get("bytes"))
                and isinstance(f.get("sha256"), str) and SHA_RE.match(f["sha256"])):
            e.append(f"files entry {f!r} needs path, bytes and a lowercase hex sha256")
            continue
        p = f["path"]
        req("/" not in p and "\\" not in p and p not in ("", ".", "..") and p != "manifest.json", f"file path {p!r} must be a plain name")
        req(p not in listed, f"file {p} is listed twice")
        listed[p] = f
    for role in ROLES:
        gr = graphs.get(role)
        if not isinstance(gr, dict) or not isinstance(gr.get("fp32"), str):
            e.append(f"graphs.{role}.fp32 is required")
            continue
        for k, v in gr.items():
            req(k in ("fp32", "fp16", "fp32Data", "fp16Data"), f"graphs.{role}.{k} is not a known key")
            req(isinstance(v, str) and v in listed, f"graphs.{role}.{k} names {v!r}, which is not in files")
    if isinstance(t.get("file"), str):
        req(t["file"] in listed, f"tokenizer.file {t['file']!r} is not in files")
    return e


def check_pack(folder: str, check_graphs: bool = True) -> List[str]:
    mp = os.path.join(folder, "manifest.json")
    if not os.path.isfile(mp):
        return [f"{folder}: no manifest.json"]
    try:
        m = json.load(open(mp, encoding="utf-8"))
    except ValueError as err:
        return [f"manifest.json is not valid JSON: {err}"]
    e = check_manifest(m)
    if e:
        return e
    present = sorted(n for n in os.listdir(folder) if n != "manifest.json")
    listed = {f["path"]: f for f in m["files"]}
    for n in present:
        if n not in listed:
            e.append(f"{n} is in the folder but not in files")
    for n, f in listed.items():
        fp = os.path.join(folder, n)
        if not os.path.isfile(fp):
            e.append(f"{n} is listed but missing")
            continue
        if os.path.getsize(fp) != f["bytes"]:
            e.append(f"{n}: size {os.path.getsize(fp)} != manifest {f['bytes']}")
        elif sha256_file(fp) != f["sha256"]:
            e.append(f"{n}: sha256 differs from the manifest")
    if not e and check_graphs:
        e.extend(check_graph_io(folder, m))
    return e


def check_graph_io(folder: str, m: Dict) -> List[str]:
    from .onnx_export import io_signature  # needs onnx; the manifest rules above do not
    e = []
    layers = [l["name"] for l in m["cache"]["layers"]]
    want = {
        "text_encoder": (["input_ids"], ["last_hidden_state"]),
        "vae_encoder": (["image"], ["latent"]),
        "vae_decoder": (["latent"], ["image"]),
        "segmenter": (["image"], ["mask"]),
        "unet": (UNET_INPUTS + [f"cache_{n}" for n in layers], ["noise_pred"] + [f"features_{n}" for n in layers]),
    }
    for role, (ins, outs) in want.items():
        for prec in ("fp32", "fp16"):
            fname = m["graphs"][role].get(prec)
            if not fname:
                continue
            sig = io_signature(os.path.join(folder, fname))
            got = list(sig["inputs"])
            # encoder_row is optional: packs exported before it feed every row through the encoder
            if got != ins and not (role == "unet" and got == [n for n in ins if n != "encoder_row"]):
                e.append(f"{fname}: inputs {got} != contract {ins}")
            if list(sig["outputs"]) != outs:
                e.append(f"{fname}: outputs {list(sig['outputs'])} != contract {outs}")
            for name, (dtype, _) in list(sig["inputs"].items()) + list(sig["outputs"].items()):
                expect = 7 if name in ("input_ids", "encoder_row") else 1  # int64 ids and rows, float32 the rest
                if dtype != expect:
                    e.append(f"{fname}: {name} has element type {dtype}, contract says {expect}")
    return e


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 1:
        print(__doc__)
        return 2
    errors = check_pack(argv[0])
    for err in errors:
        print("error:", err)
    if not errors:
        m = json.load(open(os.path.join(argv[0], "manifest.json")))
        print(f"ok: {m['name']} {m['version']} fingerprint {pack_fingerprint(m)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
