"""Metrics of generated images against their subject's reference and their prompt, from the
evaluators (trainer.py) and the pack's segmenter.

DINO-like  = cos(identity(generated), identity(reference))
CLIP-I-like = cos(clip_image(generated), clip_image(reference))
CLIP-T-like = cos(clip_image(generated), clip_text(prompt))
masked variants: the generated image cut onto white with the segmenter's mask first (the
reference is already on white), so the background cannot add or take away similarity.
scene / modifier: the classifier's argmax equals the prompt's scene / modifier."""
import json
import os
from typing import Dict, List

import torch

from ..models import Segmenter
from ..models.config import SegmenterConfig
from ..train.common import load_split
from .trainer import load_evaluator


def load_segmenter(folder: str, device) -> Segmenter:
    meta = json.load(open(os.path.join(folder, "segmenter.json")))
    cfg = SegmenterConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("config", {}).items()})
    seg = Segmenter(cfg)
    seg.load_state_dict({k: v.float() for k, v in load_split(folder, "segmenter").items()})
    return seg.to(device).eval().requires_grad_(False)


class Scorer:
    def __init__(self, evaluators: str, segmenter_folder: str, tokenizer, device):
        self.identity = load_evaluator(evaluators, "identity", device)
        self.clip = load_evaluator(evaluators, "clip", device)
        self.scene = load_evaluator(evaluators, "scene", device)
        self.segmenter = load_segmenter(segmenter_folder, device)
        self.tok = tokenizer
        self.device = device

    @torch.no_grad()
    def cut_onto_white(self, images: torch.Tensor) -> torch.Tensor:
        mask = self.segmenter((images + 1) / 2)
        return images * mask + (1 - mask)

    @torch.no_grad()
    def score(self, images: torch.Tensor, references: torch.Tensor, prompts: List[str], scene_ids: torch.Tensor,
              modifier_ids: torch.Tensor) -> Dict[str, torch.Tensor]:
        """images, references [n, 3, S, S] in [−1, 1]; scene_ids / modifier_ids [n] (−1: none).
        Returns per-image metrics, each [n]."""
        images, references = images.to(self.device).float(), references.to(self.device).float()
        masked = self.cut_onto_white(images)
        idn, idr, idm = self.identity(images), self.identity(references), self.identity(masked)
        ci, cr, cm = self.clip.image(images), self.clip.image(references), self.clip.image(masked)
        ct = self.clip.text(self.tok.encode_batch(prompts).to(self.device))
        s, m = self.scene(images)
        return {
            "dino": (idn * idr).sum(1), "clip_i": (ci * cr).sum(1), "clip_t": (ci * ct).sum(1),
            "masked_dino": (idm * idr).sum(1), "masked_clip_i": (cm * cr).sum(1),
            "scene_ok": (s.argmax(1) == scene_ids.to(self.device)).float(),
            "modifier_ok": (m.argmax(1) == modifier_ids.to(self.device) + 1).float(),
        }
