"""The fastest available encoder for a pack's tokenizer.json: Hugging Face `tokenizers` where
installed (the GPU box), else the project's pure-Python CLIP BPE (Debian CI). Both give the same ids
(tests/test_tokenizer.py, and the TypeScript parity fixture)."""
import json

import torch

from .tokenizer import ClipBpeTokenizer, MAX_LENGTH


class _HFTokenizer:
    def __init__(self, path: str):
        from tokenizers import Tokenizer  # type: ignore
        self._t = Tokenizer.from_file(path)
        meta = json.load(open(path))
        added = {t["content"]: t["id"] for t in meta.get("added_tokens", [])}
        self.pad_id = added.get("<|pad|>", 0)
        self.vocab_size = self._t.get_vocab_size()
        self._t.enable_truncation(MAX_LENGTH)
        self._t.enable_padding(length=MAX_LENGTH, pad_id=self.pad_id, pad_token="<|pad|>")

    def encode_batch(self, texts):
        return torch.tensor([e.ids for e in self._t.encode_batch(list(texts))], dtype=torch.long)


_PROBES = ["", "a photo of a dog", "A RED  Apple, on the beach at sunset!", "two cats & 3 dogs: café",
           " ".join(["a very long caption"] * 40)]


def load_tokenizer(path: str):
    py = ClipBpeTokenizer.load(path)
    try:
        hf = _HFTokenizer(path)
    except ImportError:
        return py
    # Use the fast encoder only where it agrees with the reference one.
    return hf if torch.equal(hf.encode_batch(_PROBES), py.encode_batch(_PROBES)) else py
