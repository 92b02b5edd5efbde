"""Subjects for evaluation: the training-bank guard, held-out / folder subject banks, clean and
augmented references on white, and the generator's ground-truth composite for a given prompt."""
import re
from pathlib import Path
from typing import Optional

import torch

from ..data import SubjectBank, TripletGenerator
from ..data import modifiers as M
from ..data.bank import load_square_rgba
from ..data.captions import SCENES
from ..data.placement import warp
from ..data.rng import Rng
from ..data.scenes import GROUND_SCENES, paint_scenes
from ..data.subjects import Subject, SubjectSetError, load_heldout_ids
from ..data.imageops import soft_blur


class HeldoutLeakError(SubjectSetError):
    """An evaluator was about to train on a bank that is not purely training subjects."""


def check_training_bank(bank) -> None:
    """Refuses any bank that is not the training split or that holds a held-out subject id."""
    if getattr(bank, "split", None) != "train":
        raise HeldoutLeakError(f"evaluators train on split 'train' only, got {getattr(bank, 'split', None)!r}")
    held = load_heldout_ids() or set()
    if not held:
        raise HeldoutLeakError("heldout.txt is missing: cannot prove the training bank is clean")
    leaked = [i for i in bank.ids if i in held]
    if leaked:
        raise HeldoutLeakError(f"held-out subjects {leaked[:5]} in an evaluator's training bank")


def load_bank(webp: str, split: str, size: int, device, subjects_json: Optional[str] = None,
              limit: Optional[int] = None) -> SubjectBank:
    kw = {"split": split, "size": size, "device": device, "limit": limit}
    if subjects_json:
        kw["subjects_json"] = subjects_json
    bank = SubjectBank.load(webp, **kw)
    if split == "train":
        check_training_bank(bank)
    return bank


def name_from_file(path: Path) -> str:
    """'red_apple.png' → 'red apple' (underscores, dashes and digits-only suffixes dropped)."""
    stem = re.sub(r"[_\-]+", " ", path.stem)
    stem = re.sub(r"\s+\d+$", "", stem).strip()
    return stem.lower() or path.stem


def load_folder_bank(folder: str, size: int, device) -> SubjectBank:
    """Any folder of RGBA PNG/WebP subjects (alpha = cut-out), one subject per file; the caption
    name comes from the file name. Marked held-out: never a training bank."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".webp"))
    if not files:
        raise SubjectSetError(f"no .png/.webp subjects in {folder}")
    subjects = [Subject(id=f"file:{p.name}", file=p.name, label=name_from_file(p), tags=[], category="custom",
                        split="heldout") for p in files]
    rgba = torch.stack([load_square_rgba(p, size) for p in files]).to(device)
    return SubjectBank(subjects, rgba, "heldout")


def eval_generator(bank: SubjectBank, device) -> TripletGenerator:
    gen = TripletGenerator(bank, size=bank.size, device=device)
    gen.p_ref_erase = 0.0     # evaluation references show the whole subject
    gen.p_ref_jitter = 0.0
    return gen


def clean_reference(gen: TripletGenerator, subject: torch.Tensor, scale: float = 0.85) -> torch.Tensor:
    """[B,3,S,S] in [−1, 1]: the subject centred on white, its long side `scale` of the frame."""
    layer = warp(gen._layers(subject.to(gen.device)), torch.full((subject.shape[0],), scale, device=gen.device),
                 torch.zeros(subject.shape[0], device=gen.device), torch.zeros(subject.shape[0], device=gen.device))
    img = (1 - layer[:, 3:]) + layer[:, :3]
    return img.clamp(0, 1) * 2 - 1


def augmented_references(gen: TripletGenerator, subject: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Other renders of the same subjects on white: the generator's reference augmentation
    (scale 0.7–0.95, shift, flip) without erasing or colour jitter; [B,3,S,S] in [−1, 1]."""
    img, _, _ = gen._reference(Rng(g, gen.device), subject.to(gen.device))
    return img * 2 - 1


def composite(gen: TripletGenerator, subject: torch.Tensor, scene: torch.Tensor, modifier: torch.Tensor,
              g: torch.Generator):
    """The generator's ground truth for a prompt: `subject` in `scene` with `modifier` (−1: none),
    placed, shadowed and modified as TripletGenerator.batch does (no second subject).
    Returns (image [B,3,S,S] in [−1, 1], subject mask [B,1,S,S])."""
    r = Rng(g, gen.device)
    dev, S, B = gen.device, gen.size, subject.shape[0]
    subject, scene, modifier = subject.to(dev), scene.to(dev), modifier.to(dev)
    hat = modifier == M.MOD_ID["party_hat"]
    scale = torch.where(hat, r.uniform((B,), 0.45, 0.65), r.uniform((B,), 0.4, 0.85))
    room = 1 - scale
    cx = r.uniform((B,), -1, 1) * room
    cy = torch.where(hat, r.uniform((B,), 0.45, 1.0), r.uniform((B,), -0.5, 1.0)) * room
    angle = torch.where(r.bernoulli(gen.p_rotate, (B,)), r.uniform((B,), -gen.max_angle, gen.max_angle),
                        torch.zeros(B, device=dev))
    flip = r.bernoulli(0.5, (B,))
    bg = paint_scenes(r, scene, S)
    main = warp(gen._layers(subject), scale, cx, cy, angle, flip)
    rgb_p, alpha = main[:, :3].clone(), main[:, 3:].clone()
    ground = torch.tensor([i in GROUND_SCENES for i in range(len(SCENES))], device=dev)[scene]
    idx = ground.nonzero().flatten()
    if idx.numel():
        sh = torch.roll(alpha[idx], shifts=(max(1, S // 40), max(1, S // 64)), dims=(2, 3))
        sh = soft_blur(sh, 9)
        bg[idx] = bg[idx] * (1 - 0.4 * sh)
    M.modify_subject(r, modifier, bg, rgb_p, alpha)
    img, alpha = M.modify_image(r, modifier, bg * (1 - alpha) + rgb_p, alpha)
    return img.clamp(0, 1) * 2 - 1, alpha.clamp(0, 1)

