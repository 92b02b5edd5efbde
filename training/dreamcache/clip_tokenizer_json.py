"""CLIP's tokenizer (vocab.json + merges.txt, as SD 1.5 folders ship it) as a Hugging Face
`tokenizers` JSON that @huggingface/tokenizers loads.

The layout is the one openai/clip-vit-large-patch14's own tokenizer.json uses: NFC, whitespace
runs to one space, lowercase; CLIP's split regex; byte-level alphabet; BPE with "</w>" word ends;
<|startoftext|> … <|endoftext|> around the text. CLIP has no pad token: SD pads with
<|endoftext|>, which `export.tokenizer_meta` picks when no pad token exists."""
import json
import os
from typing import Dict, List, Tuple

from .tokenizer import END_OF_WORD, SPLIT_PATTERN, WHITESPACE_PATTERN

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


class TokenizerFilesError(Exception):
    """vocab.json / merges.txt are missing or do not describe a CLIP BPE tokenizer."""


def read_merges(path: str) -> List[Tuple[str, str]]:
    merges = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise TokenizerFilesError(f"{path}:{i + 1}: a merge is two symbols separated by one space, got {line!r}")
            merges.append((parts[0], parts[1]))
    return merges


def clip_tokenizer_json(vocab: Dict[str, int], merges: List[Tuple[str, str]]) -> Dict:
    for tok in (BOS, EOS):
        if tok not in vocab:
            raise TokenizerFilesError(f"vocab.json has no {tok} (not a CLIP vocabulary)")
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        raise TokenizerFilesError("vocab.json ids are not 0..n-1 without gaps")
    for a, b in merges:
        if a + b not in vocab:
            raise TokenizerFilesError(f"merge {a!r} {b!r} makes {a + b!r}, which is not in vocab.json")
    if not any(t.endswith(END_OF_WORD) for t in vocab):
        raise TokenizerFilesError(f"vocab.json has no {END_OF_WORD} tokens (not CLIP-style BPE)")
    special = lambda t: {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(BOS), special(EOS)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": WHITESPACE_PATTERN}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS, vocab[EOS]], "cls": [BOS, vocab[BOS]],
                           "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOS, "continuing_subword_prefix": "",
                  "end_of_word_suffix": END_OF_WORD, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_json_from_folder(folder: str) -> Dict:
    """tokenizer/ of a diffusers SD folder → tokenizers JSON."""
    vp, mp = os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")
    for p in (vp, mp):
        if not os.path.isfile(p):
            raise TokenizerFilesError(f"{p} is missing")
    vocab = json.load(open(vp, encoding="utf-8"))
    return clip_tokenizer_json(vocab, read_merges(mp))


def max_length_of(folder: str, default: int) -> int:
    cfg = os.path.join(folder, "tokenizer_config.json")
    if os.path.isfile(cfg):
        n = json.load(open(cfg, encoding="utf-8")).get("model_max_length")
        if isinstance(n, int) and 1 < n < 10000:
            return n
    return default
