"""Floating-point work of one U-Net call, by op kind and by stage, counted on the real modules
(forward hooks on a randomly initialised model of the preset; 2 FLOP per multiply-add).

    cd training && /usr/bin/python3 ../bench/gpu/unet_flops.py --preset sd15 --batch 2

Op kinds: 3×3 convolutions, 1×1 convolutions, linear layers, attention products (QKᵀ and AV).
Stages: the encoder (down blocks + the mid block's first resnet: what rows that differ only in
adapter_gate can share through `encoder_row`) and the rest. The adapters (gate 0 here) are not counted."""
import argparse
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))
from dreamcache.models import attention  # noqa: E402
from dreamcache.models.config import PRESETS  # noqa: E402
from dreamcache.models.unet import UNet  # noqa: E402


def count(preset: str, batch: int):
    cfg = PRESETS[preset]() if preset == "sd15" else PRESETS[preset](1000)
    unet = UNet(cfg.unet).eval()
    kinds, stages = collections.Counter(), collections.Counter()
    where = ["encoder"]  # the time embedding too: it depends on the timestep only

    def enter(name):
        return lambda m, i: where.__setitem__(0, name)

    unet.conv_in.register_forward_pre_hook(enter("encoder"))
    unet.mid_block.attentions[0].register_forward_pre_hook(enter("rest"))

    def add(kind, flops):
        kinds[kind] += flops
        stages[where[0]] += flops

    def conv(m, i, o):
        k = m.kernel_size[0] * m.kernel_size[1]
        add("conv3x3" if k == 9 else "conv1x1", 2 * o.numel() * m.in_channels // m.groups * k)

    for m in unet.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(conv)
        elif isinstance(m, torch.nn.Linear):
            m.register_forward_hook(lambda m, i, o: add("linear", 2 * o.numel() * m.in_features))
    plain = attention._heads_attention

    def counted(q, k, v, heads, sdpa):
        add("attention", 4 * q.shape[0] * q.shape[1] * k.shape[1] * q.shape[2])
        return plain(q, k, v, heads, sdpa)

    attention._heads_attention = counted
    try:
        s = cfg.unet.sample_size
        with torch.no_grad():
            unet(torch.randn(batch, 4, s, s), torch.full((batch,), 500.0),
                 torch.randn(batch, 77, cfg.unet.cross_attention_dim))
    finally:
        attention._heads_attention = plain
    return kinds, stages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="sd15", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args(argv)
    kinds, stages = count(a.preset, a.batch)
    total = sum(kinds.values())
    print(f"{a.preset}, batch {a.batch}: {total / 1e9:.1f} GFLOP per U-Net call")
    for k, v in kinds.most_common():
        print(f"  {k:10s} {v / 1e9:8.1f} GFLOP  {v / total:6.1%}")
    enc = stages["encoder"] / total
    print(f"  encoder (shareable) {enc:.1%}; a 3-row DreamCache step with e_u and e_i sharing it does "
          f"{(3 - enc) / 3:.1%} of the work of three whole rows")


if __name__ == "__main__":
    main()
