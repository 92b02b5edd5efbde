"""The VAE's encoder alone, for base training on the GPU box (the base trainer only encodes).

A call carries at most 64 MiB. The bigger base's resume weights (tiny-wide's U-Net in bf16, 51.6 MB) leave no room
for the whole VAE (4.8 MB, 2.9 MB of it the decoder): docs/evaluation.md, next steps c6. This writes vae.json
(marked `encoder_only`, so nothing that decodes takes it) and the encoder's parts, each tensor in its stored
dtype, so the latents are bit for bit those of the whole VAE.

    python3 scripts/vae_encoder_only.py checkpoints/tiny-emoji-v1 OUT
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dreamcache.train.base import DECODER_PREFIXES  # noqa: E402
from dreamcache.train.common import load_split, save_split  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="a VAE folder: vae.json and vae.part* (or a run's weights/ beside vae.json)")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    meta = json.load(open(os.path.join(a.src, "vae.json")))
    if meta.get("encoder_only"):
        ap.error(f"{a.src} already holds the encoder alone")
    parts = os.path.join(a.src, "weights") if os.path.isdir(os.path.join(a.src, "weights")) else a.src
    state = load_split(parts, "vae")
    enc = {k: v for k, v in state.items() if not k.startswith(DECODER_PREFIXES)}
    if len(enc) == len(state):
        ap.error(f"{a.src}: no decoder weights found (keys starting {DECODER_PREFIXES})")
    os.makedirs(a.out, exist_ok=True)
    names = save_split(enc, a.out, "vae", dtype=None)
    json.dump(dict(meta, encoder_only=True), open(os.path.join(a.out, "vae.json"), "w"), indent=1)
    size = sum(os.path.getsize(os.path.join(a.out, n)) for n in names)
    print(f"{a.out}: {len(enc)} of {len(state)} tensors, {size:,} bytes in {len(names)} part(s)")


if __name__ == "__main__":
    main()
