"""Training data: subject set, scenes, modifiers, captions and the batched triplet generator."""
from .bank import SubjectBank
from .captions import MODIFIER_NAMES, MODIFIERS, SCENE_NAMES, SCENES
from .triplets import TripletGenerator

__all__ = ["SubjectBank", "TripletGenerator", "SCENES", "SCENE_NAMES", "MODIFIERS", "MODIFIER_NAMES"]
