"""Random SD 1.5-shaped weights as a diffusers folder, then the converter's pack (the path a
user's real weights take), for the GPU benchmark. The folder doubles as torch_bench.py's
weights, so both runtimes time the same numbers.

    python3 bench/gpu/make_sd15_pack.py --work DIR [--preset sd15|small] [--stage weights|fp32|fp16|all]
writes DIR/sd-folder (diffusers layout) and DIR/pack (model pack: fp32 graphs, then float16
graphs added on a CUDA machine). Each stage skips work already done, so the steps fit separate
10-minute calls on the GPU box."""
import argparse
import contextlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "training"))

import torch  # noqa: E402

from dreamcache import pack_check  # noqa: E402
from dreamcache.convert_sd15 import add_fp16_graphs, convert  # noqa: E402
from dreamcache.diffusers_writer import adapter_state_dict, clip_style_vocab, write_sd_folder  # noqa: E402
from dreamcache.export import randomize_adapters  # noqa: E402
from dreamcache.models import AutoencoderKL, CLIPTextModel, UNet  # noqa: E402
from dreamcache.models.attention import set_attention_backend  # noqa: E402
from dreamcache.models.config import TextEncoderConfig, UNetConfig, VAEConfig, sd15  # noqa: E402
from dreamcache.safetensors_io import write_safetensors  # noqa: E402


def configs(preset: str):
    if preset == "sd15":
        c = sd15()
        return c.unet, c.vae, c.text_encoder
    # CPU-sized stand-in with the same block kinds (proves the code path before GPU minutes).
    return (UNetConfig(sample_size=8, block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), num_attention_heads=2,
                       cross_attention_dim=48, norm_num_groups=8),
            VAEConfig(block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8, sample_size=64),
            TextEncoderConfig(vocab_size=1000, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                              num_attention_heads=2))


@contextlib.contextmanager
def fast_init(device):
    """Default init is minutes of CPU for 860M parameters: build on the GPU when there is one."""
    if device.type != "cuda":
        yield
        return
    torch.set_default_device("cuda")  # torch >= 2.0, as on the GPU box
    try:
        yield
    finally:
        torch.set_default_device("cpu")


def write_weights(src: str, preset: str) -> None:
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ucfg, vcfg, tcfg = configs(preset)
    torch.manual_seed(0)
    with fast_init(dev):
        unet, vae, te = UNet(ucfg), AutoencoderKL(vcfg), CLIPTextModel(tcfg)
    unet, vae, te = unet.cpu(), vae.cpu(), te.cpu()
    randomize_adapters(unet, scale=0.02)
    vocab, merges = clip_style_vocab(["a", "photo", "of", "dog", "cat", "sks"], tcfg.vocab_size)
    # fp16 files: what SD 1.5 downloads are, and half the disk and write time.
    write_sd_folder(src, unet, vae, te, vocab, merges,
                    dtypes={"unet": torch.float16, "vae": torch.float16, "text_encoder": torch.float16})
    write_safetensors(os.path.join(src, "adapters.safetensors"),
                      {k: v.half() for k, v in adapter_state_dict(unet).items()})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--preset", default="sd15", choices=["sd15", "small"])
    ap.add_argument("--stage", default="all", choices=["weights", "fp32", "fp16", "all"],
                    help="one step at a time (each resumable), or all; fp16 needs CUDA")
    ap.add_argument("--fp16-storage", action="store_true")
    ap.add_argument("--attention", default="mha", choices=["math", "sdpa", "mha"],
                    help="mha (default): every U-Net attention exported as one com.microsoft::MultiHeadAttention "
                         "node, the fused kernel onnxruntime-web runs; math: plain MatMul/Softmax (the first "
                         "GPU run's unfused graph); sdpa: the pattern onnxruntime's Python U-Net fusion matches")
    ap.add_argument("--segmenter-from", default=os.path.join(HERE, "..", "..", "public", "models", "dev-tiny"))
    a = ap.parse_args(argv)
    src, pack = os.path.join(a.work, "sd-folder"), os.path.join(a.work, "pack")
    adapters = os.path.join(src, "adapters.safetensors")
    log = lambda s: print(s, flush=True)
    t0 = time.time()
    set_attention_backend(a.attention)
    if a.stage in ("weights", "all", "fp32") and not os.path.isfile(adapters):
        write_weights(src, a.preset)
        log(f"weights written to {src} in {time.time() - t0:.0f} s")
    manifest = os.path.join(pack, "manifest.json")
    done = os.path.isfile(manifest) and not pack_check.check_pack(pack, check_graphs=False)
    if a.stage in ("fp32", "all") and not done:
        convert(src, pack, adapters=adapters, segmenter_from=a.segmenter_from, name=f"bench-{a.preset}",
                version="0.0.1", description="Random SD 1.5-shaped weights for benchmarks.", license_="MIT",
                fp16_storage=a.fp16_storage, log=log)
    if a.stage in ("fp16", "all") and torch.cuda.is_available():
        if "fp16" in json.load(open(manifest))["graphs"]["unet"]:
            log(f"{pack} already has float16 graphs")
        else:
            add_fp16_graphs(src, pack, adapters, log=log)
    log(f"make_sd15_pack --stage {a.stage} done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
