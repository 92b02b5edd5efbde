"""Does a trained adapter use the cache? The noise-prediction loss on class-noun-captioned
triplets with the subject's own cache, another subject's cache, no cache (a zero cache, gate 1) and
the base model (gate 0), at fixed timesteps and noise. A cache the adapters use gives the lowest
loss with the right subject. CPU is enough (48 triplets, four timesteps).

The loss is printed over the whole latent and, with --masked, over the latent pixels the target's
subject covers (the mask average-pooled to the latent grid, > 0.5): the subject's look is what the
cache should carry, and the scene dilutes it in the whole-image mean. --split heldout scores
held-out subjects (evaluation only: nothing here trains).

    cd training && /usr/bin/python3 scripts/cache_probe.py --adapters checkpoints/adapters-v2 \
        --webp ../.carry/webp [--base checkpoints/tiny-emoji-v1] [--n 48] [--split heldout] [--masked] \
        [--recolour 1]
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
    ap.add_argument("--split", choices=("train", "heldout"), default="train")
    ap.add_argument("--masked", action="store_true", help="also the loss inside the subject's mask")
    ap.add_argument("--timesteps", default="200,400,600,800")
    ap.add_argument("--named", action="store_true",
                    help="also caption the subject by its own name (training split: the base model learned those "
                         "names): what knowing the subject is worth to the base model, beside what the cache gives")
    ap.add_argument("--recolour", type=float, default=0.0,
                    help="recolour the subjects (target and reference alike, data/recolour.py) with this probability")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok = load_tokenizer(a.tokenizer)
    _, unet, te = load_base(a.base, "tiny", tok.vocab_size, "cpu", read_adapter_width(a.adapters))
    vae = load_vae(a.base, "tiny", "cpu")
    adapters = AdapterState(unet)
    init_adapters(adapters, EMA(adapters, 0.999), a.adapters)
    unet.eval()
    gen = TripletGenerator(SubjectBank.load(a.webp, split=a.split, size=128, limit=200), size=128)
    gen.p_generic_name = 1.0
    gen.p_recolour = a.recolour
    g = torch.Generator().manual_seed(a.seed)
    b = gen.batch(a.n, g)
    acp = alphas_cumprod()
    n = a.n
    with torch.no_grad():
        empty = te(tok.encode_batch([""]))
        ctx = te(tok.encode_batch(b["caption"]))
        cache = reference_cache(unet, vae, b["reference"], empty.expand(n, -1, -1), acp, g)
        x0 = vae.encode_moments(b["target"])[0] * vae.config.scaling_factor
        variants = {"right cache": (cache, 1.0, ctx),
                    "another subject's cache": ({k: torch.roll(v, 1, 0) for k, v in cache.items()}, 1.0, ctx),
                    "zero cache": ({k: v * 0 for k, v in cache.items()}, 1.0, ctx),
                    "base (gate 0)": (cache, 0.0, ctx)}
        if a.named:
            gen.p_generic_name = 0.0   # same seed: the same pixels, the captions name the subject
            named = gen.batch(a.n, torch.Generator().manual_seed(a.seed))
            assert torch.equal(named["target"], b["target"]), "named captions must not change the images"
            ctx_named = te(tok.encode_batch(named["caption"]))
            variants["base, subject named"] = (cache, 0.0, ctx_named)
            variants["right cache, subject named"] = (cache, 1.0, ctx_named)
        inside = subject_latent_mask(b["mask"], x0.shape[-1])
        cols = [f"{v}" for v in variants] + ([f"{v}, subject" for v in variants] if a.masked else [])
        print(f"split {a.split}, recolour {a.recolour}, {n} triplets, subject covers {inside.float().mean().item():.3f} of the latent")
        print("| t | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
        for t in (int(x) for x in a.timesteps.split(",")):
            tt = torch.full((n,), t)
            noise = torch.randn(x0.shape, generator=g)
            xt = q_sample(x0, tt, noise, acp)
            errs = [(unet(xt, tt.float(), cx, torch.full((n,), gate), c) - noise).pow(2).mean(1, keepdim=True)
                    for c, gate, cx in variants.values()]
            losses = [e.mean().item() for e in errs]
            if a.masked:
                losses += [masked_mean(e, inside) for e in errs]
            print(f"| {t} | " + " | ".join(f"{v:.5f}" for v in losses) + " |")


def subject_latent_mask(mask: torch.Tensor, size: int) -> torch.Tensor:
    """[B, 1, S, S] subject alpha → [B, 1, size, size] bool: latent pixels mostly covered by it."""
    m = mask if mask.dim() == 4 else mask[:, None]
    return torch.nn.functional.adaptive_avg_pool2d(m.float(), size) > 0.5


def masked_mean(err: torch.Tensor, inside: torch.Tensor) -> float:
    return (err * inside).sum().item() / max(inside.sum().item(), 1.0)


if __name__ == "__main__":
    main()
