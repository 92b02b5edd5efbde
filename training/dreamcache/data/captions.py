"""Scene / modifier vocabularies and the caption templates (documented in docs/training.md).

SCENES and MODIFIERS are ordered: a scene id / modifier id in a batch is an index into them,
and evaluation code relies on that order, so only ever append.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence


@dataclass(frozen=True)
class Scene:
    name: str     # identifier, used by the scene painters
    phrase: str   # words the caption uses, e.g. "on a beach"


@dataclass(frozen=True)
class Modifier:
    name: str
    kind: str     # "style": whole image restyled, caption prefix; "subject": subject only, suffix
    phrase: str   # style: noun phrase ("pencil sketch"); subject: suffix ("wearing a party hat")


SCENES: List[Scene] = [
    Scene("beach", "on a beach"),
    Scene("beach_sunset", "on a beach at sunset"),
    Scene("snow", "in the snow"),
    Scene("forest", "in a forest"),
    Scene("desert", "in the desert"),
    Scene("night_sky", "under a starry night sky"),
    Scene("outer_space", "in outer space"),
    Scene("underwater", "underwater"),
    Scene("city_street", "on a city street"),
    Scene("kitchen_counter", "on a kitchen counter"),
    Scene("wooden_table", "on a wooden table"),
    Scene("grass_field", "in a grass field"),
    Scene("mountain_lake", "by a mountain lake"),
    Scene("red_backdrop", "on a red background"),
    Scene("blue_backdrop", "on a blue background"),
    Scene("green_backdrop", "on a green background"),
    Scene("yellow_backdrop", "on a yellow background"),
    Scene("pink_backdrop", "on a pink background"),
    Scene("grey_backdrop", "on a grey background"),
    Scene("black_backdrop", "on a black background"),
    Scene("purple_backdrop", "on a purple background"),
    Scene("orange_backdrop", "on an orange background"),
    Scene("brick_wall", "in front of a brick wall"),
    Scene("checkered_floor", "on a checkered floor"),
    Scene("cloudy_sky", "in the sky among clouds"),
    Scene("flower_field", "in a field of flowers"),
    Scene("autumn_leaves", "among autumn leaves"),
    Scene("rainy_day", "in the rain"),
]
SCENE_NAMES = [s.name for s in SCENES]

MODIFIERS: List[Modifier] = [
    Modifier("pencil_sketch", "style", "pencil sketch"),
    Modifier("black_and_white", "style", "black and white photo"),
    Modifier("pixel_art", "style", "pixel art picture"),
    Modifier("watercolor", "style", "watercolor painting"),
    Modifier("sepia", "style", "sepia photo"),
    Modifier("neon_glow", "subject", "with a neon glow"),
    Modifier("party_hat", "subject", "wearing a party hat"),
    Modifier("golden", "subject", "made of gold"),
]
MODIFIER_NAMES = [m.name for m in MODIFIERS]

# Templates; {x} is the described content ("a dog wearing a party hat on a beach").
PLAIN_TEMPLATES = [
    "a photo of {x}",
    "a picture of {x}",
    "{x}",
    "an image of {x}",
    "a close-up photo of {x}",
    "a 3d rendering of {x}",
    "a nice photo of {x}",
]
# Style templates; {style} is a style modifier phrase, "a pencil sketch of a dog on a beach".
STYLE_TEMPLATES = [
    "{a_style} of {x}",
    "{x}, {style}",
]
# A category's generic noun: what an adapter-training caption says instead of the subject's name,
# so the reference — not a name the base model has memorised — must carry the subject's identity.
CATEGORY_NOUNS = {
    "food": "food", "animals": "animal", "objects": "object", "vehicles": "vehicle", "places": "building",
    "toys": "toy", "tools": "tool", "clothing": "garment", "sky": "thing", "electronics": "device",
    "household": "object", "plants": "plant", "sports": "sports item", "music": "instrument",
}


def generic_label(category: str) -> str:
    return CATEGORY_NOUNS.get(category, "object")


# How a second subject joins the main one.
PAIR_JOINERS = ["next to", "and", "beside", "with"]


def article(noun: str) -> str:
    """'a'/'an' by the first letter; labels that are plural or proper names still get one."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def subject_phrase(label: str, modifier: Optional[Modifier] = None,
                   second_label: Optional[str] = None, joiner: str = "next to") -> str:
    p = article(label)
    if modifier is not None and modifier.kind == "subject":
        p += " " + modifier.phrase
    if second_label is not None:
        p += f" {joiner} {article(second_label)}"
    return p


def make_caption(label: str, scene: Optional[Scene], modifier: Optional[Modifier],
                 second_label: Optional[str], template_index: int, joiner_index: int = 0) -> str:
    """Deterministic caption from its parts; template_index is taken modulo the template count."""
    x = subject_phrase(label, modifier, second_label, PAIR_JOINERS[joiner_index % len(PAIR_JOINERS)])
    if scene is not None:
        x += " " + scene.phrase
    if modifier is not None and modifier.kind == "style":
        t = STYLE_TEMPLATES[template_index % len(STYLE_TEMPLATES)]
        return t.format(x=x, style=modifier.phrase, a_style=article(modifier.phrase))
    return PLAIN_TEMPLATES[template_index % len(PLAIN_TEMPLATES)].format(x=x)


def caption_corpus(labels: Sequence[str], extra_words: Iterable[str] = (), n: int = 60000,
                   seed: int = 0) -> List[str]:
    """Sampled captions covering every label, scene, modifier and template (tokenizer training)."""
    rng = random.Random(seed)
    out: List[str] = []
    labels = list(labels)
    for i in range(n):
        label = labels[i % len(labels)]
        scene = SCENES[rng.randrange(len(SCENES))] if rng.random() < 0.8 else None
        modifier = MODIFIERS[rng.randrange(len(MODIFIERS))] if rng.random() < 0.4 else None
        second = labels[rng.randrange(len(labels))] if rng.random() < 0.15 else None
        out.append(make_caption(label, scene, modifier, second, rng.randrange(64), rng.randrange(8)))
    out.extend(extra_words)
    return out
