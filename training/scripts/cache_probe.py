"""Does a trained adapter use the cache? The noise-prediction loss on class-noun-captioned training
triplets with the subject's own cache, another subject's cache, no cache (a zero cache, gate 1) and
the base model (gate 0), at fixed timesteps and noise. A cache the adapters use gives the lowest
loss with the right subject. CPU is enough (48 triplets, four timesteps).

    cd training && /usr/bin/python3 scripts/cache_probe.py --adapters checkpoints/adapters-v2 \
        --webp ../.carry/webp [--base checkpoints/tiny-emoji-v1] [--n 48]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dreamcache.adapter_width import read_adapter_width  # noqa: E402
from dreamcache.data import SubjectBank, TripletGenerator  # noqa: E402
from dreamcache.schedule import alphas_cumprod, q_sample  # noqa: E402
from dreamcache.tokenizer_any import load_tokenizer  # noqa: E402
from dreamcache.train.adapters import init_adapters, load_base, reference_cache, AdapterState  # noqa: E402
from dreamcache.train.base import load_vae  # noqa: E402
from dreamcache.train.common import EMA  # noqa: E402

HERE = os.path.dirname(__file__)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapters", required=True, help="folder with adapters.partNN")
    ap.add_argument("--base", default=os.path.join(HERE, "..", "checkpoints", "tiny-emoji-v1"))
    ap.add_argument("--webp", required=True)
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", "data", "tokenizer.json"))
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok = load_tokenizer(a.tokenizer)
    _, unet, te = load_base(a.base, "tiny", tok.vocab_size, "cpu", read_adapter_width(a.adapters))
    vae = load_vae(a.base, "tiny", "cpu")
    adapters = AdapterState(unet)
    init_adapters(adapters, EMA(adapters, 0.999), a.adapters)
    unet.eval()
    gen = TripletGenerator(SubjectBank.load(a.webp, split="train", size=128, limit=200), size=128)
    gen.p_generic_name = 1.0
    g = torch.Generator().manual_seed(a.seed)
    b = gen.batch(a.n, g)
    acp = alphas_cumprod()
    n = a.n
    with torch.no_grad():
        empty = te(tok.encode_batch([""]))
        ctx = te(tok.encode_batch(b["caption"]))
        cache = reference_cache(unet, vae, b["reference"], empty.expand(n, -1, -1), acp, g)
        x0 = vae.encode_moments(b["target"])[0] * vae.config.scaling_factor
        variants = {"right cache": (cache, 1.0),
                    "another subject's cache": ({k: torch.roll(v, 1, 0) for k, v in cache.items()}, 1.0),
                    "zero cache": ({k: v * 0 for k, v in cache.items()}, 1.0),
                    "base (gate 0)": (cache, 0.0)}
        print("| t | " + " | ".join(variants) + " |\n|---|" + "---|" * len(variants))
        for t in (200, 400, 600, 800):
            tt = torch.full((n,), t)
            noise = torch.randn(x0.shape, generator=g)
            xt = q_sample(x0, tt, noise, acp)
            losses = [(unet(xt, tt.float(), ctx, torch.full((n,), gate), c) - noise).pow(2).mean().item()
                      for c, gate in variants.values()]
            print(f"| {t} | " + " | ".join(f"{v:.5f}" for v in losses) + " |")


if __name__ == "__main__":
    main()
