"""The subject set: which fluent-emoji-3d renders are training / held-out subjects.

The held-out split is fixed by a hash of the hexcode (not by a random generator), so it never
changes when the kept set changes elsewhere and no training run can draw a held-out subject.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[3]
TRAINING_DATA = REPO_ROOT / "training" / "data"
SUBJECTS_JSON = TRAINING_DATA / "subjects.json"
HELDOUT_TXT = TRAINING_DATA / "heldout.txt"
EMOJI_ASSETS = REPO_ROOT / "node_modules" / "@lobehub" / "fluent-emoji-3d" / "assets"
EMOJIBASE_DATA = REPO_ROOT / "node_modules" / "emojibase-data" / "en" / "data.json"

SPLITS = ("train", "heldout")
HELDOUT_FRACTION = 0.2
SPLIT_SALT = "dreamcache-heldout-v1"

# emojibase group ids kept: animals-nature, food-drink, travel-places, activities, objects.
KEPT_GROUPS = (3, 4, 5, 6, 7)

# emojibase subgroup -> our coarse category (the stratification unit of the split).
SUBGROUP_CATEGORY: Dict[str, str] = {
    "animal-mammal": "animals", "animal-bird": "animals", "animal-amphibian": "animals",
    "animal-reptile": "animals", "animal-marine": "animals", "animal-bug": "animals",
    "plant-flower": "plants", "plant-other": "plants",
    "food-fruit": "food", "food-vegetable": "food", "food-prepared": "food",
    "food-asian": "food", "food-sweet": "food", "drink": "food", "dishware": "household",
    "place-map": "places", "place-geographic": "places", "place-building": "places",
    "place-religious": "places", "place-other": "places", "hotel": "objects",
    "transport-ground": "vehicles", "transport-water": "vehicles", "transport-air": "vehicles",
    "time": "objects", "sky-weather": "sky",
    "event": "toys", "award-medal": "toys", "sport": "sports", "game": "toys",
    "arts-crafts": "toys",
    "clothing": "clothing", "sound": "music", "music": "music", "musical-instrument": "music",
    "phone": "electronics", "computer": "electronics", "light-video": "electronics",
    "book-paper": "objects", "money": "objects", "mail": "objects", "writing": "tools",
    "office": "objects", "lock": "tools", "tool": "tools", "science": "tools",
    "medical": "tools", "household": "household", "other-object": "objects",
}

# Labels that are glyphs, text, symbols or faces rather than objects, or unsuitable content.
_DROP_LABEL_PATTERNS = [
    r"o’clock", r"-thirty$", r" face$", r"^face ", r" suit$", r"^musical notes?$",
    r"^mahjong", r"^high voltage$", r"^sparkles$", r"^muted speaker$", r"^bell with slash$",
    r"^speaker (low|medium) volume$", r"^mobile phone with arrow$", r"^stop sign$",
    r"^cigarette$", r"^drop of blood$", r"^love hotel$", r"^e-mail$", r"^japanese dolls$",
    r"^performing arts$", r"^envelope with arrow$", r"^incoming envelope$", r"^locked with pen$",
    r"^chart increasing with yen$", r"^airplane (departure|arrival)$", r"^dotted line face$",
    r"^reminder ribbon$", r"^mobile phone off$", r"^ballot box with ballot$", r"^memo$",
]
_DROP_LABEL_RE = re.compile("|".join(_DROP_LABEL_PATTERNS), re.IGNORECASE)


class SubjectSetError(Exception):
    """The subject files are missing or inconsistent."""


@dataclass(frozen=True)
class Subject:
    id: str          # emojibase hexcode, upper case, e.g. "1F436"
    file: str        # WebP file name in the fluent-emoji-3d assets folder
    label: str       # caption name, e.g. "dog"
    tags: List[str]
    category: str
    split: str       # "train" or "heldout"


def clean_label(label: str) -> str:
    return label.replace("’", "'").replace("“", '"').replace("”", '"').strip()


def _asset_file(hexcode: str, files: set) -> Optional[str]:
    h = hexcode.lower()
    for name in (h + ".webp", h + "-fe0f.webp", h.replace("-fe0f", "") + ".webp"):
        if name in files:
            return name
    return None


def heldout_rank(hexcode: str) -> str:
    return hashlib.sha256((SPLIT_SALT + ":" + hexcode).encode("utf-8")).hexdigest()


def assign_splits(items: Sequence[dict], fraction: float = HELDOUT_FRACTION) -> Dict[str, str]:
    """Per category, the ceil(fraction * n) subjects with the smallest salted hash are held out."""
    by_cat: Dict[str, List[str]] = {}
    for it in items:
        by_cat.setdefault(it["category"], []).append(it["id"])
    split: Dict[str, str] = {}
    for cat, ids in by_cat.items():
        ranked = sorted(ids, key=heldout_rank)
        n_held = int(-(-len(ranked) * fraction // 1))  # ceil
        for i, sid in enumerate(ranked):
            split[sid] = "heldout" if i < n_held else "train"
    return split


def build_subjects(emojibase_json: Path = EMOJIBASE_DATA, assets_dir: Path = EMOJI_ASSETS,
                   check_decodes: bool = True) -> List[Subject]:
    """The kept subject list, sorted by id, with its split."""
    if not emojibase_json.is_file():
        raise SubjectSetError(f"emojibase data not found at {emojibase_json} (npm install?)")
    if not assets_dir.is_dir():
        raise SubjectSetError(f"fluent-emoji-3d assets not found at {assets_dir} (npm install?)")
    files = set(os.listdir(assets_dir))
    entries = json.loads(emojibase_json.read_text(encoding="utf-8"))
    groups = json.loads((emojibase_json.parent.parent / "meta" / "groups.json").read_text())
    subgroup_names = groups["subgroups"]
    kept: List[dict] = []
    for e in entries:
        if e.get("group") not in KEPT_GROUPS:
            continue
        sub = subgroup_names[str(e["subgroup"])]
        category = SUBGROUP_CATEGORY.get(sub)
        if category is None:
            continue
        label = clean_label(e["label"])
        if _DROP_LABEL_RE.search(e["label"]) or _DROP_LABEL_RE.search(label):
            continue
        f = _asset_file(e["hexcode"], files)
        if f is None:
            continue
        if check_decodes and not _has_visible_alpha(assets_dir / f):
            continue
        kept.append(dict(id=e["hexcode"].upper(), file=f, label=label,
                         tags=list(e.get("tags", [])), category=category))
    split = assign_splits(kept)
    out = [Subject(split=split[k["id"]], **k) for k in kept]
    out.sort(key=lambda s: s.id)
    return out


def _has_visible_alpha(path: Path, min_fraction: float = 0.05) -> bool:
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGBA")
        alpha = im.getchannel("A")
        hist = alpha.histogram()
        visible = sum(hist[128:])
        return visible >= min_fraction * im.width * im.height


def write_subject_files(subjects: Sequence[Subject], subjects_json: Path = SUBJECTS_JSON,
                        heldout_txt: Path = HELDOUT_TXT) -> None:
    subjects_json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "source": "@lobehub/fluent-emoji-3d 1.1.0 (MIT) + emojibase-data 17.0.0 en (MIT)",
        "heldoutRule": f"per category, ceil({HELDOUT_FRACTION}·n) smallest sha256('{SPLIT_SALT}:'+id)",
        "subjects": [asdict(s) for s in subjects],
    }
    subjects_json.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    lines = [f"{s.id}\t{s.label}" for s in subjects if s.split == "heldout"]
    heldout_txt.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_subjects(subjects_json: Path = SUBJECTS_JSON, split: Optional[str] = None) -> List[Subject]:
    """Subjects of one split (or all when split is None), in file order."""
    if split is not None and split not in SPLITS:
        raise SubjectSetError(f"split must be one of {SPLITS}, got {split!r}")
    payload = json.loads(Path(subjects_json).read_text(encoding="utf-8"))
    subjects = [Subject(**s) for s in payload["subjects"]]
    held = load_heldout_ids(Path(subjects_json).parent / "heldout.txt")
    if held is not None:
        marked = {s.id for s in subjects if s.split == "heldout"}
        if marked != held:
            raise SubjectSetError("subjects.json and heldout.txt disagree on the held-out set")
    if split is None:
        return subjects
    return [s for s in subjects if s.split == split]


def load_heldout_ids(heldout_txt: Path = HELDOUT_TXT) -> Optional[set]:
    if not Path(heldout_txt).is_file():
        return None
    ids = set()
    for line in Path(heldout_txt).read_text(encoding="utf-8").splitlines():
        if line.strip():
            ids.add(line.split("\t", 1)[0].strip())
    return ids


def copy_subject_webps(dest_dir: Path, subjects_json: Path = SUBJECTS_JSON,
                       assets_dir: Path = EMOJI_ASSETS) -> int:
    """Copy every kept subject's WebP (both splits) into dest_dir; returns total bytes."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for s in load_subjects(subjects_json):
        src = Path(assets_dir) / s.file
        if not src.is_file():
            raise SubjectSetError(f"missing subject image {src}")
        shutil.copyfile(src, dest_dir / s.file)
        total += src.stat().st_size
    return total
