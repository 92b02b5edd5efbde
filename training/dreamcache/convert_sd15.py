"""Convert a diffusers-layout Stable Diffusion 1.5 folder (plus optional DreamCache adapter
weights) into a model pack (docs/model-pack.md, docs/sd15.md).

    python3 -m dreamcache.convert_sd15 --src stable-diffusion-v1-5/ --out packs/sd15 \\
        [--adapters dreamcache_adapters.safetensors] [--segmenter-from ../public/models/dev-tiny] \\
        [--fp16-storage] [--fp16-graph | --fp16-only]

--fp16-storage  every fp32 graph keeps its weights as float16 + Cast (half the download, float32
                arithmetic; works on any machine).
--fp16-graph    additionally writes true float16 graphs (`*.fp16.onnx`, float32 inputs/outputs)
                for WebGPU with shader-f16. Tracing float16 convolutions needs CUDA: torch's CPU
                kernels have no float16 convolution (torch 1.13), so this flag refuses to run
                without a GPU.
--fp16-only     add those float16 graphs to a pack already converted (on a CPU machine, say).
--fused-attention  U-Net attention as com.microsoft::MultiHeadAttention nodes (fused kernels in
                onnxruntime-web, WebGPU and wasm); use it for --fp16-only too, so both variants match.
Graphs whose weights pass 2 GB (the fp32 SD 1.5 U-Net, 3.4 GB) are written with ONNX external
data: `unet.onnx` + `unet.onnx.data`, both listed in the manifest."""
import argparse
import glob
import json
import os
import shutil
import sys
import time
from typing import Dict, List, Optional

import torch

from . import pack_check
from .clip_tokenizer_json import max_length_of, tokenizer_json_from_folder
from .diffusers_sd import ConversionError, load_sd_folder, scheduler_settings
from .export import tokenizer_meta, unet_graph_spec
from .models import AutoencoderKL, CLIPTextModel, UNet
from .models.attention import set_attention_backend
from .models.config import PackConfig, SegmenterConfig
from .models.vae import ScaledDecoder, ScaledEncoder
from .pack_graphs import EXTERNAL_DATA_OVER, HalfGraph, to_device, write_graph

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_LICENSE = "CreativeML-OpenRAIL-M"  # SD 1.5's licence; pass --license for other weights


def default_segmenter_pack() -> str:
    """The embedded pack under public/models (a trained one first)."""
    packs = sorted(glob.glob(os.path.join(ROOT, "public", "models", "*", "manifest.json")))
    if not packs:
        raise ConversionError("no pack under public/models to take segmenter.onnx from: pass --segmenter-from")
    packs.sort(key=lambda p: not json.load(open(p)).get("trained", False))
    return os.path.dirname(packs[0])


def copy_segmenter(pack: str, out_dir: str) -> int:
    """Copies the segmenter graph of an existing pack; returns its input size."""
    mp = os.path.join(pack, "manifest.json")
    if not os.path.isfile(mp):
        raise ConversionError(f"--segmenter-from {pack}: no manifest.json")
    m = json.load(open(mp, encoding="utf-8"))
    g = m.get("graphs", {}).get("segmenter", {})
    if "fp32" not in g or "fp32Data" in g:
        raise ConversionError(f"{pack}: its segmenter graph is missing or uses external data")
    shutil.copyfile(os.path.join(pack, g["fp32"]), os.path.join(out_dir, "segmenter.onnx"))
    return int(m["segmenter"]["inputSize"])


def graph_specs(unet: UNet, vae: AutoencoderKL, te: CLIPTextModel, size: int, max_len: int) -> List[dict]:
    """(role, module, example args, input names, output names, dynamic axes, float32-kept input indices)."""
    down = vae.config.downsample
    lat = size // down
    g = torch.Generator().manual_seed(0)
    unet_spec = unet_graph_spec(unet, lat, max_len, te.config.hidden_size, g)
    return [
        dict(role="text_encoder", module=te, args=(torch.zeros(1, max_len, dtype=torch.long),), inputs=["input_ids"],
             outputs=["last_hidden_state"], dyn={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}}, keep=()),
        dict(role="vae_encoder", module=ScaledEncoder(vae), args=(torch.rand(1, 3, size, size, generator=g) * 2 - 1,),
             inputs=["image"], outputs=["latent"], dyn={"image": {0: "batch"}, "latent": {0: "batch"}}, keep=()),
        dict(role="vae_decoder", module=ScaledDecoder(vae),
             args=(torch.randn(1, vae.config.latent_channels, lat, lat, generator=g),),
             inputs=["latent"], outputs=["image"], dyn={"latent": {0: "batch"}, "image": {0: "batch"}}, keep=()),
        dict(role="unet", keep=(1,), **unet_spec),
    ]


def write_fp16_graphs(unet: UNet, vae: AutoencoderKL, te: CLIPTextModel, out_dir: str, graphs: Dict, size: int,
                      max_len: int, external_over: int, log) -> None:
    """Traces the models in float16 on the GPU and adds `*.fp16.onnx` entries to `graphs`."""
    if not torch.cuda.is_available():
        raise ConversionError("float16 graphs are traced on a CUDA GPU (torch has no float16 convolution on CPU); "
                              "use --fp16-storage here")
    dev = torch.device("cuda")
    for m in (unet, vae, te):
        m.to(dev).half()
    for spec in graph_specs(unet, vae, te, size, max_len):
        t = time.time()
        r = write_graph(HalfGraph(spec["module"], spec["keep"]), to_device(spec["args"], dev), out_dir,
                        f"{spec['role']}.fp16.onnx", spec["inputs"], spec["outputs"], spec["dyn"],
                        external_over=external_over)
        graphs[spec["role"]].update({"fp16": r["file"], **({"fp16Data": r["data"]} if r["data"] else {})})
        log(f"  {r['file']} in {time.time() - t:.0f} s")
    for m in (unet, vae, te):
        m.float().cpu()


def add_fp16_graphs(src: str, out_dir: str, adapters: Optional[str] = None, external_over: int = EXTERNAL_DATA_OVER,
                    log=print) -> Dict:
    """Adds float16 graphs to a pack this converter wrote from the same weights (e.g. converted on a
    CPU machine, fp16 added on a GPU one); the fingerprint (fp32 U-Net) does not change."""
    mp = os.path.join(out_dir, "manifest.json")
    if not os.path.isfile(mp):
        raise ConversionError(f"{out_dir}: no manifest.json to add float16 graphs to")
    manifest = json.load(open(mp, encoding="utf-8"))
    torch.manual_seed(0)
    unet, vae, te, _ = load_sd_folder(src, adapters)
    if sum(p.numel() for p in unet.parameters()) - manifest["unet"]["adapterParameters"] != manifest["unet"]["parameters"]:
        raise ConversionError(f"{src} is not the model the pack at {out_dir} was converted from")
    write_fp16_graphs(unet, vae, te, out_dir, manifest["graphs"], manifest["image"]["size"],
                      manifest["tokenizer"]["maxLength"], external_over, log)
    manifest["files"] = pack_check.file_entries(out_dir)
    with open(mp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    errors = pack_check.check_pack(out_dir)
    if errors:
        raise ConversionError("the pack fails the contract after adding float16 graphs:\n  " + "\n  ".join(errors))
    log(f"added float16 graphs to {out_dir}")
    return manifest


def convert(src: str, out_dir: str, adapters: Optional[str] = None, segmenter_from: Optional[str] = None,
            name: str = "sd15", version: str = "1.0.0", description: str = "", license_: str = DEFAULT_LICENSE,
            fp16_storage: bool = False, fp16_graph: bool = False, image_size: Optional[int] = None,
            external_over: int = EXTERNAL_DATA_OVER, log=print) -> Dict:
    """Writes the pack and returns its manifest; raises ConversionError on anything it cannot translate."""
    if fp16_graph and not torch.cuda.is_available():
        raise ConversionError("--fp16-graph traces the models in float16, which needs a CUDA GPU "
                              "(torch has no float16 convolution on CPU); use --fp16-storage here")
    t0 = time.time()
    scheduler = scheduler_settings(src)  # cheap checks before minutes of loading
    tok = tokenizer_json_from_folder(os.path.join(src, "tokenizer"))
    torch.manual_seed(0)  # fresh adapters' attention weights: a reproducible unet.onnx hash
    unet, vae, te, report = load_sd_folder(src, adapters)
    log(f"loaded {src} in {time.time() - t0:.0f} s: " + ", ".join(f"{k}={v}" for k, v in report.items()))
    meta = tokenizer_meta(tok)
    if meta["vocabSize"] != te.config.vocab_size:
        raise ConversionError(f"tokenizer has {meta['vocabSize']} tokens, text encoder vocab_size is {te.config.vocab_size}")
    max_len = max_length_of(os.path.join(src, "tokenizer"), te.config.max_position_embeddings)
    if max_len > te.config.max_position_embeddings:
        raise ConversionError(f"tokenizer max length {max_len} > text encoder positions {te.config.max_position_embeddings}")
    down = vae.config.downsample
    size = image_size or unet.config.sample_size * down
    if size % (down * 2 ** (len(unet.config.block_out_channels) - 1)):
        raise ConversionError(f"image size {size} must be divisible by {down * 2 ** (len(unet.config.block_out_channels) - 1)}")

    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    seg_size = copy_segmenter(segmenter_from or default_segmenter_pack(), out_dir)

    graphs: Dict[str, Dict[str, str]] = {}
    layers = None
    for spec in graph_specs(unet, vae, te, size, max_len):
        t = time.time()
        r = write_graph(spec["module"], spec["args"], out_dir, f"{spec['role']}.onnx", spec["inputs"], spec["outputs"],
                        spec["dyn"], fp16_storage=fp16_storage, external_over=external_over)
        graphs[spec["role"]] = {"fp32": r["file"], **({"fp32Data": r["data"]} if r["data"] else {})}
        log(f"  {r['file']}{' + ' + r['data'] if r['data'] else ''} in {time.time() - t:.0f} s")
        layers = spec.get("layers", layers)
    graphs["segmenter"] = {"fp32": "segmenter.onnx"}
    if fp16_graph:
        write_fp16_graphs(unet, vae, te, out_dir, graphs, size, max_len, external_over, log)

    n_adapter = sum(p.numel() for p in unet.adapter_parameters())
    trained_adapters = adapters is not None
    cfg = PackConfig(unet=unet.config, vae=vae.config, text_encoder=te.config, segmenter=SegmenterConfig(input_size=seg_size))
    manifest = {
        "format": "dreamcache-pack",
        "formatVersion": 1,
        "name": name,
        "version": version,
        "description": description or (
            f"Stable Diffusion 1.5 weights from {os.path.basename(os.path.normpath(src))}"
            + (" with trained DreamCache adapters." if trained_adapters else
               ": no DreamCache adapters given, so personalization leaves images unchanged.")),
        "license": license_,
        # The badge is about personalization: base weights without trained adapters cannot personalize.
        "trained": trained_adapters,
        "image": {"size": size},
        "latent": {"channels": vae.config.latent_channels, "downsample": down, "scalingFactor": vae.config.scaling_factor},
        "scheduler": scheduler,
        "tokenizer": dict(file="tokenizer.json", maxLength=max_len, **meta),
        "textEncoder": {"hiddenSize": te.config.hidden_size},
        "unet": {"parameters": sum(p.numel() for p in unet.parameters()) - n_adapter,
                 "adapterParameters": n_adapter, "config": cfg.unet.to_dict()},
        "cache": {"timestep": 1, "layers": layers},
        "guidance": {"textScale": 7.5, "imageScale": 1.0},
        "segmenter": {"inputSize": seg_size},
        "weightStorage": "float16" if fp16_storage else "float32",
        "graphs": graphs,
    }
    manifest["files"] = pack_check.file_entries(out_dir)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    errors = pack_check.check_pack(out_dir)
    if errors:
        raise ConversionError("the written pack fails the contract:\n  " + "\n  ".join(errors))
    log(f"wrote {out_dir} in {time.time() - t0:.0f} s: {sum(f['bytes'] for f in manifest['files']) / 1e6:.1f} MB, "
        f"fingerprint {pack_check.pack_fingerprint(manifest)}")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="diffusers-layout SD 1.5 folder")
    ap.add_argument("--out", required=True, help="pack folder to write (emptied first)")
    ap.add_argument("--adapters", help="DreamCache adapter weights (.safetensors, .pt or .bin)")
    ap.add_argument("--segmenter-from", help="pack whose segmenter.onnx to reuse (default: the embedded pack)")
    ap.add_argument("--name", default="sd15")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--description", default="")
    ap.add_argument("--license", default=DEFAULT_LICENSE)
    ap.add_argument("--image-size", type=int, help="pixels (default: unet sample_size x VAE downsampling, 512)")
    ap.add_argument("--fp16-storage", action="store_true", help="float16 weights + Cast in the fp32 graphs")
    ap.add_argument("--fp16-graph", action="store_true", help="also write true float16 graphs (needs CUDA)")
    ap.add_argument("--fp16-only", action="store_true",
                    help="add float16 graphs (needs CUDA) to the pack already at --out, converted from the same --src")
    ap.add_argument("--fused-attention", action="store_true",
                    help="export every U-Net attention as one com.microsoft::MultiHeadAttention node "
                         "(onnxruntime-web's fused kernel: about 2x faster on WebGPU)")
    a = ap.parse_args(argv)
    if a.fused_attention:
        set_attention_backend("mha")
    try:
        if a.fp16_only:
            add_fp16_graphs(a.src, a.out, a.adapters)
            return 0
        convert(a.src, a.out, a.adapters, a.segmenter_from, a.name, a.version, a.description, a.license,
                a.fp16_storage, a.fp16_graph, a.image_size)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
