"""The benchmark's 25 DreamBench-like prompt templates, built from the generator's own scenes and
modifiers so the scene/modifier classifier can check each one (docs/evaluation.md lists them).

DreamBench's object prompts come in three families — recontextualisation, accessories and
property changes; here: 17 contexts (scene only), 5 styles (style modifier + scene) and 3
subject changes / accessories (subject modifier + scene). Text = make_caption with template 0:
"a photo of {a/an} {label} [modifier] {scene phrase}" or "{a/an} {style} of {a/an} {label} {scene}"."""
from dataclasses import dataclass
from typing import List, Optional

from ..data.captions import MODIFIER_NAMES, MODIFIERS, SCENE_NAMES, SCENES, make_caption


@dataclass(frozen=True)
class BenchPrompt:
    key: str
    family: str                 # "context" | "style" | "accessory"
    scene: str                  # SCENES name
    modifier: Optional[str]     # MODIFIERS name or None

    @property
    def scene_id(self) -> int:
        return SCENE_NAMES.index(self.scene)

    @property
    def modifier_id(self) -> int:
        return -1 if self.modifier is None else MODIFIER_NAMES.index(self.modifier)

    def text(self, label: str) -> str:
        m = None if self.modifier is None else MODIFIERS[self.modifier_id]
        return make_caption(label, SCENES[self.scene_id], m, None, 0)


_CONTEXTS = ["beach", "snow", "forest", "desert", "night_sky", "outer_space", "underwater", "city_street",
             "wooden_table", "grass_field", "mountain_lake", "brick_wall", "flower_field", "autumn_leaves",
             "cloudy_sky", "red_backdrop", "blue_backdrop"]
_STYLES = [("pencil_sketch", "grass_field"), ("black_and_white", "city_street"), ("pixel_art", "outer_space"),
           ("watercolor", "flower_field"), ("sepia", "desert")]
_ACCESSORIES = [("party_hat", "yellow_backdrop"), ("neon_glow", "night_sky"), ("golden", "black_backdrop")]

PROMPTS: List[BenchPrompt] = (
    [BenchPrompt(s, "context", s, None) for s in _CONTEXTS]
    + [BenchPrompt(f"{m}@{s}", "style", s, m) for m, s in _STYLES]
    + [BenchPrompt(f"{m}@{s}", "accessory", s, m) for m, s in _ACCESSORIES]
)
assert len(PROMPTS) == 25 and len({p.key for p in PROMPTS}) == 25

# The four prompts of the PNG grid: two contexts, one style, one accessory.
GRID_PROMPTS = ["beach", "snow", "pencil_sketch@grass_field", "party_hat@yellow_backdrop"]
