"""Which channel widths a segmenter was built with (SegmenterConfig.channels), and how many
bottleneck context blocks (SegmenterConfig.context_layers).

The widths must be known before the Segmenter is built, so every loader of segmenter weights
(trainer --init-from and resume, export, bench) asks here first. The trainer records its config
in segmenter.json and in its checkpoint; the tensors themselves are the ground truth
(down.i.0.weight is [channels[i], in, 3, 3]), so a folder without segmenter.json still resolves,
and a record that disagrees with its tensors is refused rather than half-loaded."""
import re
from dataclasses import replace
from typing import Dict, Optional, Tuple

import torch

from .train.common import load_split, load_split_meta

Channels = Tuple[int, ...]
_DOWN = re.compile(r"^down\.(\d+)\.0\.weight$")
_CONTEXT = re.compile(r"^context\.(\d+)\.qkv\.weight$")


class SegmenterChannelsError(ValueError):
    """Segmenter weights and the requested or recorded channel widths disagree, or the widths
    cannot build a segmenter."""


def format_channels(channels: Channels) -> str:
    return ",".join(str(c) for c in channels)


def validate_channels(channels: Channels, input_size: int) -> Channels:
    """Refuses widths the Segmenter cannot build: each block's GroupNorm uses min(8, c // 4)
    groups, which must divide c; every level halves the input, which must stay whole."""
    channels = tuple(int(c) for c in channels)
    if not channels:
        raise SegmenterChannelsError("segmenter channels: at least one width is needed")
    for c in channels:
        groups = min(8, c // 4)
        if c < 4 or c % groups:
            raise SegmenterChannelsError(
                f"segmenter channels {format_channels(channels)}: width {c} does not split into its "
                f"GroupNorm's min(8, {c} // 4) groups; multiples of 8 always do")
    if input_size % 2 ** (len(channels) - 1):
        raise SegmenterChannelsError(f"segmenter channels {format_channels(channels)}: {len(channels)} levels halve "
                                     f"the {input_size} px input {len(channels) - 1} times, which is not whole")
    return channels


def parse_channels(text: str) -> Channels:
    """'24,48,96,144' → (24, 48, 96, 144)."""
    try:
        channels = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise SegmenterChannelsError(f"segmenter channels {text!r}: expected comma-separated integers, "
                                     f"e.g. 24,48,96,144") from None
    if not channels or any(c <= 0 for c in channels):
        raise SegmenterChannelsError(f"segmenter channels {text!r}: expected positive widths, e.g. 24,48,96,144")
    return channels


def channels_of_tensors(state: Dict[str, torch.Tensor], where: str = "segmenter weights") -> Channels:
    """The widths a segmenter state dict was built with."""
    found = {int(m.group(1)): t.shape[0] for k, t in state.items() if (m := _DOWN.match(k))}
    if not found or sorted(found) != list(range(len(found))):
        raise SegmenterChannelsError(f"{where}: not segmenter weights (down.i.0.weight missing)")
    return tuple(int(found[i]) for i in range(len(found)))


def read_channels(folder: str, input_size: int) -> Channels:
    """The folder's segmenter widths: segmenter.json's record checked against segmenter.partNN.
    input_size: the preset's; weights recorded at another input size are refused (the trainer
    always trains at the preset's)."""
    actual = channels_of_tensors(load_split(folder, "segmenter"), f"{folder}/segmenter.partNN")
    cfg = (load_split_meta(folder, "segmenter.json") or {}).get("config")
    if cfg is not None:
        if "channels" in cfg and tuple(cfg["channels"]) != actual:
            raise SegmenterChannelsError(f"{folder}: segmenter.json records channels "
                                         f"{format_channels(cfg['channels'])} but segmenter.partNN has channels "
                                         f"{format_channels(actual)}")
        if "input_size" in cfg and int(cfg["input_size"]) != input_size:
            raise SegmenterChannelsError(f"{folder}: segmenter.json records input_size {cfg['input_size']}, "
                                         f"the preset's is {input_size}")
    return actual


def check_channels(requested: Optional[Channels], found: Channels, source: str) -> Channels:
    """requested (a --channels flag, None when not given) against the widths of existing
    weights; returns the widths to build."""
    if requested is not None and tuple(requested) != tuple(found):
        raise SegmenterChannelsError(
            f"--channels {format_channels(requested)} does not match {source}, which holds a segmenter with "
            f"channels {format_channels(found)}; --channels picks the widths of a fresh run only (drop the flag "
            f"to continue at {format_channels(found)}, or start a new --out without --init-from)")
    return tuple(found)


def context_of_tensors(state: Dict[str, torch.Tensor], where: str = "segmenter weights") -> int:
    """How many context blocks a segmenter state dict holds (their heads leave no trace in the
    tensors' shapes: a recorded config supplies them)."""
    found = sorted(int(m.group(1)) for k in state if (m := _CONTEXT.match(k)))
    if found != list(range(len(found))):
        raise SegmenterChannelsError(f"{where}: context blocks {found} are not numbered 0..n-1")
    return len(found)


def read_segmenter_config(folder: str, preset) -> "SegmenterConfig":
    """The SegmenterConfig of the folder's weights: widths as read_channels, context blocks from the
    tensors (heads from segmenter.json's record, else the preset's), a record that disagrees refused."""
    channels = read_channels(folder, preset.input_size)
    layers = context_of_tensors(load_split(folder, "segmenter"), f"{folder}/segmenter.partNN")
    cfg = (load_split_meta(folder, "segmenter.json") or {}).get("config") or {}
    if int(cfg.get("context_layers", layers)) != layers:
        raise SegmenterChannelsError(f"{folder}: segmenter.json records {cfg['context_layers']} context blocks but "
                                     f"segmenter.partNN has {layers}")
    return replace(preset, channels=channels, context_layers=layers,
                   context_heads=int(cfg.get("context_heads", preset.context_heads)))


def check_context(requested: Optional[int], found: int, source: str, grow: bool) -> int:
    """requested (a --context-layers flag, None when not given) against existing weights' blocks.
    grow: the weights only initialise a new run (--init-from), which may add blocks (they start as
    the identity); a resumed checkpoint must match."""
    if requested is None or requested == found:
        return found
    if grow and requested > found:
        return requested
    raise SegmenterChannelsError(
        f"--context-layers {requested} does not match {source}, which holds {found} context blocks"
        + (" (--init-from weights can gain blocks, not lose them)" if grow else
           f" (drop the flag to continue with {found}, or start a new --out)"))
