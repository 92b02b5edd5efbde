"""SubjectBank: the RGBA subjects of one split, tight-cropped, square, on one device."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch

from .captions import generic_label
from .subjects import (EMOJI_ASSETS, SPLITS, SUBJECTS_JSON, Subject, SubjectSetError,
                       load_heldout_ids, load_subjects)


class SubjectBank:
    """rgba: uint8 [N, 4, size, size]; each subject's alpha bounding box is centred and its
    longer side fills the frame, so a placement scale s gives a subject s·size pixels long."""

    def __init__(self, subjects: Sequence[Subject], rgba: torch.Tensor, split: str):
        if split not in SPLITS:
            raise SubjectSetError(f"split must be one of {SPLITS}, got {split!r}")
        if rgba.dtype != torch.uint8 or rgba.dim() != 4 or rgba.shape[1] != 4:
            raise SubjectSetError("rgba must be uint8 [N, 4, S, S]")
        if len(subjects) != rgba.shape[0] or len(subjects) == 0:
            raise SubjectSetError("one RGBA image per subject, at least one subject")
        wrong = [s.id for s in subjects if s.split != split]
        if wrong:
            raise SubjectSetError(f"subjects {wrong[:5]} are not in split {split!r}")
        if split == "train":
            held = load_heldout_ids() or set()
            leaked = [s.id for s in subjects if s.id in held]
            if leaked:
                raise SubjectSetError(f"held-out subjects {leaked[:5]} in a training bank")
        self.subjects = list(subjects)
        self.rgba = rgba
        self.split = split
        # premultiplied float copy: every batch gathers from it (4 B/channel, ~160 MB at 128 px)
        x = rgba.float() / 255.0
        self.prem = torch.cat([x[:, :3] * x[:, 3:], x[:, 3:]], 1)

    @property
    def ids(self) -> List[str]:
        return [s.id for s in self.subjects]

    @property
    def labels(self) -> List[str]:
        return [s.label for s in self.subjects]

    def words(self, index: int, noun: str) -> str:
        """How a caption or prompt names subject `index`: "name" (its label) or "category" (its
        category noun, "animal", "food", …: when the name must not carry the subject's identity)."""
        return self.subjects[index].label if noun == "name" else generic_label(self.subjects[index].category)

    @property
    def size(self) -> int:
        return int(self.rgba.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.rgba.device

    def __len__(self) -> int:
        return len(self.subjects)

    def premultiplied(self, index: torch.Tensor) -> torch.Tensor:
        """float [B, 4, S, S] in [0, 1]: RGB premultiplied by alpha, then alpha."""
        return self.prem[index.to(self.prem.device)]

    @classmethod
    def load(cls, webp_dir: Union[str, Path] = EMOJI_ASSETS,
             subjects_json: Union[str, Path] = SUBJECTS_JSON, split: str = "train",
             size: int = 128, device: Union[str, torch.device] = "cpu",
             limit: Optional[int] = None) -> "SubjectBank":
        subjects = load_subjects(Path(subjects_json), split=split)
        if limit is not None:
            subjects = subjects[:limit]
        # Pillow releases the GIL while decoding and resampling: threads cut load time
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
            imgs = list(pool.map(lambda s: load_square_rgba(Path(webp_dir) / s.file, size), subjects))
        rgba = torch.stack(imgs).to(device)
        return cls(subjects, rgba, split)


def load_square_rgba(path: Path, size: int) -> torch.Tensor:
    """uint8 [4, size, size]: alpha bbox cropped, centred on a transparent square, resized."""
    import numpy as np
    from PIL import Image

    if not path.is_file():
        raise SubjectSetError(f"missing subject image {path}")
    with Image.open(path) as im:
        im = im.convert("RGBA")
        box = im.getchannel("A").point(lambda v: 255 if v > 8 else 0).getbbox()
        if box is None:
            raise SubjectSetError(f"{path} is fully transparent")
        im = im.crop(box)
        side = max(im.size)
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        canvas.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        # Pillow resamples RGBA premultiplied, so edges carry no dark fringe
        canvas = canvas.resize((size, size), getattr(Image, "Resampling", Image).LANCZOS)
        arr = np.asarray(canvas, dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()
