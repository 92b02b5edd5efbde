"""Write a complete model pack (docs/model-pack.md) from in-memory models.

    python3 -m dreamcache.export --preset dev-tiny --random --tokenizer data/tokenizer.json --out ../public/models/dev-tiny
    python3 -m dreamcache.export --checkpoint ckpt/ --out ../public/models/tiny-emoji
"""
import argparse
import json
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from . import pack_check, unet_compat
from .adapter_width import read_adapter_width
from .models import AutoencoderKL, CLIPTextModel, PackConfig, Segmenter, UNet, is_adapter_param
from .models.config import PRESETS
from .models.vae import ScaledDecoder, ScaledEncoder
from .onnx_export import export_graph, store_weights_fp16, store_weights_int8
from .pack_check import RUNTIME_SELF_VIEWS
from .self_views import parse_self_views
from .segmenter_channels import read_segmenter_config
from .train.common import load_split


class UNetGraph(nn.Module):
    """Positional wrapper fixing the graph's input/output order to the contract."""

    def __init__(self, unet: UNet, layers: List[str]):
        super().__init__()
        self.unet = unet
        self.layers = layers

    def forward(self, sample, timestep, encoder_hidden_states, adapter_gate, encoder_row, *caches):
        cache = {n: c for n, c in zip(self.layers, caches)}
        out, feats = self.unet(sample, timestep, encoder_hidden_states, adapter_gate, cache, return_features=True,
                               encoder_row=encoder_row)
        return (out,) + tuple(feats[n] for n in self.layers)


def unet_graph_spec(unet: UNet, latent: int, tokens: int, hidden: int, generator: torch.Generator = None) -> Dict:
    """Example args, input/output names and dynamic axes of the contract's unet graph. The example
    is a DreamCache step: 2 encoder rows (empty prompt, prompt) fanned out to 3 rows [e_u, e_i, e_c],
    so the trace keeps the encoder's `rows` apart from the output `batch`."""
    layers = unet.cache_layers(latent)
    names = [l["name"] for l in layers]
    g = generator
    args = (
        torch.randn(2, unet.config.in_channels, latent, latent, generator=g),
        torch.tensor([10.0, 500.0]),
        torch.randn(2, tokens, hidden, generator=g),
        torch.tensor([0.0, 1.0, 1.0]),
        torch.tensor([0, 0, 1], dtype=torch.long),
    ) + tuple(torch.randn(1, l["height"] * l["width"], l["channels"], generator=g) for l in layers)
    dyn = {k: {0: "rows"} for k in ["sample", "timestep", "encoder_hidden_states"]}
    dyn.update({k: {0: "batch"} for k in ["adapter_gate", "encoder_row", "noise_pred"]})
    for n in names:
        dyn[f"cache_{n}"] = {1: f"n_{n}"}
        dyn[f"features_{n}"] = {0: "batch"}
    return dict(module=UNetGraph(unet, names), args=args, inputs=pack_check.UNET_INPUTS + [f"cache_{n}" for n in names],
                outputs=["noise_pred"] + [f"features_{n}" for n in names], dyn=dyn, layers=layers)


class SegmenterGraph(nn.Module):
    def __init__(self, seg: Segmenter):
        super().__init__()
        self.seg = seg

    def forward(self, image):
        return self.seg(image)


def export_unet(unet: UNet, cfg: PackConfig, path: str, tokens: int) -> List[dict]:
    spec = unet_graph_spec(unet, cfg.vae.sample_size // cfg.vae.downsample, tokens, cfg.text_encoder.hidden_size)
    export_graph(spec["module"], spec["args"], path, spec["inputs"], spec["outputs"], spec["dyn"])
    return spec["layers"]


def store_weights(path: str, fp16: bool, int8: bool) -> None:
    """A written graph's weights as the pack stores them: int8 first, then float16."""
    if int8:
        store_weights_int8(path)
    if fp16:
        store_weights_fp16(path)


def unet_cache_check(unet: UNet, cfg: PackConfig, new_path: str, fp16_storage: bool, int8: bool):
    """For --accept-caches-from: a function (earlier unet.onnx path) -> None | reason, true when that file
    makes the caches new_path makes (dreamcache.unet_compat). The costly proofs run once, on first use."""
    done: Dict[str, object] = {}

    def check(old_path: str) -> Optional[str]:
        if "names" not in done:
            spec = unet_graph_spec(unet, cfg.vae.sample_size // cfg.vae.downsample, 77, cfg.text_encoder.hidden_size,
                                   torch.Generator().manual_seed(3))
            done["why"] = unet_compat.gate0_ignores_adapters(spec["module"], spec["args"])
            done["names"] = unet_compat.adapter_initializers(
                lambda p: (export_unet(unet, cfg, p, 77), store_weights(p, fp16_storage, int8)), unet, new_path)
        return done["why"] or unet_compat.same_caches(old_path, new_path, done["names"])
    return check


def export_pack(out_dir: str, cfg: PackConfig, unet: UNet, vae: AutoencoderKL, text_encoder: CLIPTextModel,
                segmenter: Segmenter, tokenizer_json: str, meta: Dict, fp16_storage: bool = False,
                scheduler: Optional[Dict] = None, int8_roles: Sequence[str] = ()) -> Dict:
    """Writes every graph, tokenizer.json and manifest.json; returns the manifest. Graphs named in
    int8_roles keep their convolution and matrix-product weights as int8 (store_weights_int8)."""
    unknown = sorted(set(int8_roles) - set(pack_check.ROLES))
    if unknown:  # before the folder is emptied
        raise ValueError(f"int8 storage: no graph role {', '.join(unknown)} (roles: {', '.join(pack_check.ROLES)})")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    tok = json.load(open(tokenizer_json))
    tokmeta = tokenizer_meta(tok)
    shutil.copyfile(tokenizer_json, os.path.join(out_dir, "tokenizer.json"))
    for m in (unet, vae, text_encoder, segmenter):
        m.float().eval()
    size, max_len = cfg.vae.sample_size, 77
    p = lambda n: os.path.join(out_dir, n)
    export_graph(text_encoder, (torch.zeros(1, max_len, dtype=torch.long),), p("text_encoder.onnx"),
                 ["input_ids"], ["last_hidden_state"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    export_graph(ScaledEncoder(vae), (torch.randn(1, 3, size, size),), p("vae_encoder.onnx"),
                 ["image"], ["latent"], {"image": {0: "batch"}, "latent": {0: "batch"}})
    lat = size // cfg.vae.downsample
    export_graph(ScaledDecoder(vae), (torch.randn(1, cfg.vae.latent_channels, lat, lat),), p("vae_decoder.onnx"),
                 ["latent"], ["image"], {"latent": {0: "batch"}, "image": {0: "batch"}})
    rs = cfg.segmenter.input_size
    export_graph(SegmenterGraph(segmenter), (torch.rand(1, 3, rs, rs),), p("segmenter.onnx"),
                 ["image"], ["mask"], {})
    layers = export_unet(unet, cfg, p("unet.onnx"), max_len)
    graphs = {k: {"fp32": f"{k}.onnx"} for k in ["text_encoder", "vae_encoder", "vae_decoder", "unet", "segmenter"]}
    for role, g in graphs.items():
        store_weights(p(g["fp32"]), fp16_storage, role in int8_roles)
    n_adapter = sum(x.numel() for x in unet.adapter_parameters())
    manifest = {
        "format": "dreamcache-pack",
        "formatVersion": 1,
        "name": meta["name"],
        "version": meta.get("version", "0.1.0"),
        "description": meta.get("description", ""),
        "license": meta.get("license", "MIT"),
        "trained": bool(meta.get("trained", False)),
        "image": {"size": size},
        "latent": {"channels": cfg.vae.latent_channels, "downsample": cfg.vae.downsample,
                   "scalingFactor": cfg.vae.scaling_factor},
        "scheduler": scheduler or {"numTrainTimesteps": 1000, "betaSchedule": "scaled_linear",
                                   "betaStart": 0.00085, "betaEnd": 0.012, "predictionType": "epsilon"},
        "tokenizer": dict(file="tokenizer.json", maxLength=max_len, **tokmeta),
        "textEncoder": {"hiddenSize": cfg.text_encoder.hidden_size},
        "unet": {"parameters": sum(x.numel() for x in unet.parameters()) - n_adapter,
                 "adapterParameters": n_adapter, "config": cfg.unet.to_dict()},
        "cache": {"timestep": 1, "layers": layers, **({"selfViews": list(meta["selfViews"])} if meta.get("selfViews") else {})},
        "guidance": {"textScale": meta.get("textScale", 7.5), "imageScale": meta.get("imageScale", 1.0),
                     **({"imageScaleEnd": meta["imageScaleEnd"]} if meta.get("imageScaleEnd") is not None else {})},
        "segmenter": {"inputSize": rs},
        "weightStorage": "float16" if fp16_storage else "float32",
        **({"int8Weights": [r for r in graphs if r in int8_roles]} if int8_roles else {}),
        "graphs": graphs,
    }
    manifest["files"] = pack_check.file_entries(out_dir)
    with open(p("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def tokenizer_meta(tok: Dict) -> Dict:
    """padTokenId / bosTokenId / eosTokenId read from a tokenizers JSON (added tokens + post-processor)."""
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    vocab = tok.get("model", {}).get("vocab", {})
    find = lambda *names: next((added.get(n, vocab.get(n)) for n in names if n in added or n in vocab), None)
    bos = find("<|startoftext|>", "<s>", "[CLS]")
    eos = find("<|endoftext|>", "</s>", "[SEP]")
    pad = find("<|pad|>", "<pad>", "[PAD]")
    if pad is None:
        pad = eos  # CLIP pads with its end-of-text token.
    if bos is None or eos is None:
        raise ValueError("tokenizer.json has no BOS/EOS token")
    return {"padTokenId": pad, "bosTokenId": bos, "eosTokenId": eos,
            "vocabSize": len(vocab) + sum(1 for t in tok.get("added_tokens", []) if t["content"] not in vocab)}


def load_trained(folder: str, cfg: PackConfig, unet: UNet, vae: AutoencoderKL, te: CLIPTextModel,
                 seg: Segmenter, load_adapters: bool = True) -> None:
    """Loads trainer outputs (split weight files) into freshly built models. The VAE's measured
    scaling factor comes from vae.json. Without adapters.partNN (or with load_adapters False:
    the caller loads other adapters, possibly of another width) the adapters keep their identity
    initialisation, so the U-Net is exactly the base model at any gate."""
    meta = json.load(open(os.path.join(folder, "vae.json")))
    cfg.vae.scaling_factor = float(meta["scaling_factor"])
    f32 = lambda sd: {k: v.float() for k, v in sd.items()}
    vae.load_state_dict(f32(load_split(folder, "vae")))
    vae.config.scaling_factor = cfg.vae.scaling_factor
    te.load_state_dict(f32(load_split(folder, "text_encoder")))
    seg.load_state_dict(f32(load_split(folder, "segmenter")))
    base = f32(load_split(folder, "unet"))
    adapters = {}
    if load_adapters and any(n.startswith("adapters.part") for n in os.listdir(folder)):
        adapters = f32(load_split(folder, "adapters"))
    missing, unexpected = unet.load_state_dict({**base, **adapters}, strict=False)
    if unexpected or any(not is_adapter_param(k) for k in missing):
        raise ValueError(f"U-Net weights do not fit the config: missing {missing[:5]}, unexpected {unexpected[:5]}")


def build_models(cfg: PackConfig, seed: int = 0):
    torch.manual_seed(seed)
    return UNet(cfg.unet), AutoencoderKL(cfg.vae), CLIPTextModel(cfg.text_encoder), Segmenter(cfg.segmenter)


def randomize_adapters(unet: UNet, scale: float = 0.02, seed: int = 1) -> None:
    """A random (untrained) pack should still exercise the adapter path: give adapters small
    random weights instead of the identity initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in unet.adapter_parameters():
            if p.dim() > 1:
                p.add_(torch.randn(p.shape, generator=g) * scale)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json to embed")
    ap.add_argument("--preset", default="dev-tiny", choices=sorted(PRESETS))
    ap.add_argument("--random", action="store_true", help="random weights (development pack)")
    ap.add_argument("--weights", help="folder of trained weights as the trainers write them: vae.json + vae.partNN, "
                    "unet.partNN, text_encoder.partNN, segmenter.partNN, optional adapters.partNN")
    ap.add_argument("--name", default=None)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--description", default="")
    ap.add_argument("--fp16-storage", action="store_true")
    ap.add_argument("--int8-storage", default="",
                    help="comma-separated graph roles (e.g. segmenter) whose convolution and matrix-product "
                         "weights are stored as int8 with a scale per output channel (a quarter of float32)")
    ap.add_argument("--text-scale", type=float, default=7.5, help="the pack's default text guidance sT")
    ap.add_argument("--image-scale", type=float, default=1.0,
                    help="the pack's default image guidance sI (the benchmark's chosen operating point)")
    ap.add_argument("--image-scale-end", type=float, default=None,
                    help="the pack's default sI at the last step: sI ramps linearly from --image-scale (first, "
                         "noisiest step) to this (guidance.imageScaleEnd); default: constant --image-scale")
    ap.add_argument("--self-views", default="",
                    help="comma list of views the app caches beside every reference, made from the image alone "
                         f"(cache.selfViews; known: {', '.join(RUNTIME_SELF_VIEWS)}); default: the reference alone")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--accept-caches-from", action="append", default=[], metavar="MANIFEST",
                    help="manifest.json of an earlier pack whose subject caches this one should use as its own "
                         "(cache.compatibleFingerprints); refused unless everything a cache depends on is "
                         "identical (pack_check.cache_inputs) or only the U-Net's adapter weights differ, which "
                         "needs that pack's unet.onnx beside its manifest (dreamcache.unet_compat). Repeatable; "
                         "read before --out is overwritten")
    a = ap.parse_args(argv)
    try:
        self_views = list(parse_self_views(a.self_views, RUNTIME_SELF_VIEWS))
    except ValueError as e:
        ap.error(f"--self-views: {e}")
    earlier, old_unets = [], {}
    keep = tempfile.TemporaryDirectory()    # earlier U-Net files, in case --out is their folder
    for i, path in enumerate(a.accept_caches_from):
        try:
            old = json.load(open(path))
        except (OSError, ValueError) as e:
            ap.error(f"--accept-caches-from {path}: {e}")
        earlier.append(old)
        f = os.path.join(os.path.dirname(os.path.abspath(path)), str(old.get("graphs", {}).get("unet", {}).get("fp32", "")))
        if os.path.isfile(f):
            old_unets[id(old)] = shutil.copyfile(f, os.path.join(keep.name, f"unet{i}.onnx"))
    tok = json.load(open(a.tokenizer))
    cfg = PRESETS[a.preset](tokenizer_meta(tok)["vocabSize"]) if a.preset != "sd15" else PRESETS[a.preset]()
    if a.weights:
        # adapters.json or the adapter tensors themselves; 1 without adapters
        cfg.unet.adapter_width = read_adapter_width(a.weights)
        # segmenter.json's channels (a --channels run) or the tensors'; the preset's at the default
        cfg.segmenter = read_segmenter_config(a.weights, cfg.segmenter)
    unet, vae, te, seg = build_models(cfg, a.seed)
    trained = False
    if a.weights:
        load_trained(a.weights, cfg, unet, vae, te, seg)
        trained = True
    elif a.random:
        randomize_adapters(unet)
    else:
        ap.error("give --weights or --random")
    meta = {"name": a.name or a.preset, "version": a.version, "trained": trained,
            "textScale": a.text_scale, "imageScale": a.image_scale, "imageScaleEnd": a.image_scale_end,
            "selfViews": self_views,
            "description": a.description or ("Random weights for development: images are noise." if not trained else "")}
    int8_roles = [r for r in a.int8_storage.replace(" ", "").split(",") if r]
    try:
        m = export_pack(a.out, cfg, unet, vae, te, seg, a.tokenizer, meta, fp16_storage=a.fp16_storage,
                        int8_roles=int8_roles)
    except ValueError as e:
        ap.error(str(e))
    if earlier:
        check = unet_cache_check(unet, cfg, os.path.join(a.out, m["graphs"]["unet"]["fp32"]), a.fp16_storage,
                                 "unet" in int8_roles)

        def unet_same_caches(old: Dict) -> Optional[str]:
            if set(old["graphs"]["unet"]) != {"fp32"}:
                return "its U-Net has several graph files; the exporter checks single-file U-Nets only"
            if id(old) not in old_unets:
                return ("its unet.onnx differs and is not beside its manifest, so the exporter cannot check "
                        "that only adapter weights changed")
            return check(old_unets[id(old)])
        try:
            m["cache"]["compatibleFingerprints"] = pack_check.compatible_fingerprints(m, earlier, unet_same_caches)
        except ValueError as e:
            raise SystemExit(f"--accept-caches-from: {e}; the pack in {a.out} was written without "
                             "cache.compatibleFingerprints")
        with open(os.path.join(a.out, "manifest.json"), "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
        print(f"subject caches of {', '.join(o['name'] + ' ' + o['version'] for o in earlier)} stay valid: "
              f"{len(m['cache']['compatibleFingerprints'])} compatible fingerprint(s)")
    errors = pack_check.check_pack(a.out)
    if errors:
        raise SystemExit("pack check failed:\n" + "\n".join(errors))
    total = sum(f["bytes"] for f in m["files"])
    print(f"wrote {a.out}: {len(m['files'])} files, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
