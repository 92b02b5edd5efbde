"""A dev-tiny "trained" weights folder in the trainers' format, for the tests that run the bench or the
exporter on CPU (random base weights, small random adapters)."""
import json
import os

import torch

from dreamcache.export import build_models
from dreamcache.models.config import PRESETS
from dreamcache.train.common import save_split


def dev_tiny_weights(folder: str, every_adapter_tensor: bool = False, adapter_width: int = 1) -> None:
    """every_adapter_tensor: perturb the adapters' vectors (norms, biases) too, so no adapter tensor
    equals another, as in trained adapters (the ONNX exporter merges equal tensors). adapter_width
    other than 1 is written to adapters.json, where the exporter reads it."""
    cfg = PRESETS["dev-tiny"](4096)
    cfg.unet.adapter_width = adapter_width
    unet, vae, te, seg = build_models(cfg, seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in unet.adapter_parameters():
            if every_adapter_tensor or p.dim() > 1:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    state = unet.state_dict()
    save_split({k: v for k, v in state.items() if "_mem." not in k}, folder, "unet")
    save_split({k: v for k, v in state.items() if "_mem." in k}, folder, "adapters")
    if adapter_width != 1:
        json.dump({"step": 1, "adapter_width": adapter_width}, open(os.path.join(folder, "adapters.json"), "w"))
    save_split(te.state_dict(), folder, "text_encoder")
    save_split(vae.state_dict(), folder, "vae")
    save_split(seg.state_dict(), folder, "segmenter")
    json.dump({"config": cfg.vae.to_dict(), "scaling_factor": 0.5}, open(os.path.join(folder, "vae.json"), "w"))
    json.dump({"config": cfg.segmenter.to_dict()}, open(os.path.join(folder, "segmenter.json"), "w"))
