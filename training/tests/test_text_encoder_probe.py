"""scripts/text_encoder_probe.py: reads a base model's text-encoder health (session 33's collapse) on CPU."""
import os
import sys

import pytest
import torch

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROOT = os.path.dirname(TRAINING)
sys.path.insert(0, os.path.join(TRAINING, "scripts"))
import text_encoder_probe as probe  # noqa: E402

from dreamcache.models import CLIPTextModel  # noqa: E402
from dreamcache.models.config import PRESETS  # noqa: E402

WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")
V1 = os.path.join(TRAINING, "checkpoints", "tiny-emoji-v1")


def test_spread_sees_prompts_collapse_when_first_layer_attention_saturates():
    torch.manual_seed(0)
    te = CLIPTextModel(PRESETS["dev-tiny"](300).text_encoder).eval()
    ids = torch.randint(1, 300, (12, 10))
    mean0, _, std0 = probe.spread(te, ids)
    with torch.no_grad():   # what run 107 did to layer 0: queries and keys 15 times larger
        for p in ("q_proj", "k_proj"):
            getattr(te.text_model.encoder.layers[0].self_attn, p).weight.mul_(15)
    mean1, _, std1 = probe.spread(te, ids)
    assert -1 <= mean0 <= 1 and -1 <= mean1 <= 1 and std0 > 0 and std1 > 0
    assert (mean1, std1) != pytest.approx((mean0, std0))


def test_cli_reads_the_shipped_base(capsys):
    if not os.path.isdir(WEBP) or not os.path.exists(os.path.join(V1, "unet.part00")):
        pytest.skip("subject art or tiny-emoji-v1 not present")
    probe.main([V1, "--batches", "1", "--batch", "2", "--webp", WEBP])
    out = capsys.readouterr().out
    assert "te_qk per layer [73.2, 73.7, 73.9, 73.4]" in out
    assert "loss per batch" in out and out.count("cos(-grad, W)") == 8
