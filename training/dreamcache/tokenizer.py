"""CLIP-style byte-level BPE: a pure-Python trainer and encoder, and its tokenizer.json.

The encoder reproduces what @huggingface/tokenizers 0.2.0 does with the tokenizer.json written
here (the app's src/runtime/tokenizer.ts), id for id:
  1. special tokens are split out of the raw text first (leftmost-longest match);
  2. every other piece: NFC, runs of Unicode White_Space -> " ", lowercase;
  3. CLIP's split regex keeps special-token strings, contractions, letter runs, single
     numbers and runs of other non-space characters (whitespace is dropped);
  4. each piece's UTF-8 bytes map to the GPT-2 byte alphabet, "</w>" marks the last symbol;
  5. merges apply lowest rank first, ties to the leftmost pair (tokenizers.js priority queue);
  6. BOS + tokens + EOS, truncated to max_length keeping EOS, padded with PAD.
The regex classes \\p{L}, \\p{N} and \\s (White_Space) are built from unicodedata because
Python's `re` has no Unicode property classes.
"""
from __future__ import annotations

import functools
import heapq
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

PAD_TOKEN = "<|pad|>"
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN)  # ids 0, 1, 2
MAX_LENGTH = 77
END_OF_WORD = "</w>"
DEFAULT_VOCAB_SIZE = 4096

# CLIP's pre-tokenizer pattern as written in its tokenizer.json (Oniguruma syntax).
SPLIT_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]"
                 r"|[^\s\p{L}\p{N}]+")
WHITESPACE_PATTERN = r"\s+"

# Unicode White_Space (what tokenizers.js turns \s into).
_WHITE_SPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class TokenizerError(Exception):
    """A tokenizer file is malformed or inconsistent with this encoder."""


def _escape_cp(cp: int) -> str:
    return "\\U%08x" % cp


@functools.lru_cache(maxsize=None)
def _category_class(prefix: str) -> str:
    """Regex class body (ranges) for all code points whose general category starts with prefix."""
    ranges: List[Tuple[int, int]] = []
    start = None
    for cp in range(0x110000):
        hit = unicodedata.category(chr(cp)).startswith(prefix)
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    return "".join(_escape_cp(a) if a == b else _escape_cp(a) + "-" + _escape_cp(b)
                   for a, b in ranges)


@functools.lru_cache(maxsize=None)
def _compiled() -> Tuple["re.Pattern", "re.Pattern"]:
    ws = "".join(_escape_cp(ord(c)) for c in _WHITE_SPACE)
    letters, numbers = _category_class("L"), _category_class("N")
    split = re.compile(
        r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
        f"|[{letters}]+|[{numbers}]|[^{ws}{letters}{numbers}]+")
    whitespace = re.compile(f"[{ws}]+")
    return split, whitespace


@functools.lru_cache(maxsize=None)
def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2 / CLIP byte alphabet: printable bytes map to themselves, the rest to U+0100+."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def normalize(text: str) -> str:
    _, whitespace = _compiled()
    return whitespace.sub(" ", unicodedata.normalize("NFC", text)).lower()


def pre_tokenize(normalized: str) -> List[str]:
    """Split a normalized piece into words and map each to the byte alphabet."""
    split, _ = _compiled()
    enc = bytes_to_unicode()
    return ["".join(enc[b] for b in w.encode("utf-8")) for w in split.findall(normalized) if w]


def split_special(text: str, specials: Sequence[str] = SPECIAL_TOKENS) -> List[str]:
    """Leftmost-longest split on special-token strings in raw text (tokenizers.js' trie)."""
    out: List[str] = []
    start = i = 0
    n = len(text)
    by_first: Dict[str, List[str]] = {}
    for s in sorted(specials, key=len, reverse=True):
        by_first.setdefault(s[0], []).append(s)
    while i < n:
        match = next((s for s in by_first.get(text[i], ()) if text.startswith(s, i)), None)
        if match:
            if i > start:
                out.append(text[start:i])
            out.append(match)
            i += len(match)
            start = i
        else:
            i += 1
    if start < n:
        out.append(text[start:])
    return out


def words_of(text: str) -> List[str]:
    """Byte-level words of a text (special-token strings in it are dropped): trainer input."""
    words: List[str] = []
    for section in split_special(text):
        if section in SPECIAL_TOKENS:
            continue
        words.extend(pre_tokenize(normalize(section)))
    return words


class ClipBpeTokenizer:
    def __init__(self, vocab: Dict[str, int], merges: Sequence[Tuple[str, str]],
                 max_length: int = MAX_LENGTH):
        self.vocab = dict(vocab)
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.max_length = max_length
        for tok, want in zip(SPECIAL_TOKENS, (PAD_ID, BOS_ID, EOS_ID)):
            if self.vocab.get(tok) != want:
                raise TokenizerError(f"special token {tok} must have id {want}")
        self._cache: Dict[str, List[str]] = {}

    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # -- BPE -----------------------------------------------------------------------------
    def bpe(self, word: str) -> List[str]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        syms = list(word)
        syms[-1] += END_OF_WORD
        pos = list(range(len(syms)))  # original index of each symbol's first char: tie-break
        ranks = self.ranks
        while len(syms) > 1:
            best = None
            best_i = -1
            for i in range(len(syms) - 1):
                r = ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or (r, pos[i]) < best):
                    best, best_i = (r, pos[i]), i
            if best is None:
                break
            syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
            del pos[best_i + 1]
        if len(self._cache) < 100000:
            self._cache[word] = syms
        return syms

    def tokenize(self, text: str) -> List[str]:
        """Token strings of text, without BOS/EOS or padding."""
        out: List[str] = []
        for section in split_special(text):
            if section in SPECIAL_TOKENS:
                out.append(section)
                continue
            norm = normalize(section)
            for w in pre_tokenize(norm):
                out.extend(self.bpe(w))
        return out

    def encode_raw(self, text: str) -> List[int]:
        unk = self.vocab[EOS_TOKEN]
        return [self.vocab.get(t, unk) for t in self.tokenize(text)]

    def encode(self, text: str, max_length: Optional[int] = None, pad: bool = True) -> List[int]:
        """BOS + ids + EOS, truncated to max_length keeping EOS last, padded with PAD_ID."""
        L = self.max_length if max_length is None else max_length
        ids = [BOS_ID] + self.encode_raw(text) + [EOS_ID]
        if len(ids) > L:
            ids = ids[:L - 1] + [EOS_ID]
        if pad:
            ids = ids + [PAD_ID] * (L - len(ids))
        return ids

    def encode_batch(self, texts: Iterable[str], max_length: Optional[int] = None):
        """int64 tensor [B, max_length] (torch is imported lazily: the trainer needs none)."""
        import torch
        return torch.tensor([self.encode(t, max_length) for t in texts], dtype=torch.long)

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        dec = {c: b for b, c in bytes_to_unicode().items()}
        toks = [self.id_to_token[int(i)] for i in ids]
        if skip_special:
            toks = [t for t in toks if t not in SPECIAL_TOKENS]
        words = "".join(toks).split(END_OF_WORD)
        return " ".join(bytes(dec[c] for c in w if c in dec).decode("utf-8", errors="replace")
                        for w in words if w)

    # -- files ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        return tokenizer_json(self.vocab, self.merges)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")),
                              encoding="utf-8")

    @classmethod
    def from_json(cls, obj: dict, max_length: int = MAX_LENGTH) -> "ClipBpeTokenizer":
        model = obj.get("model", {})
        if model.get("type") != "BPE" or model.get("end_of_word_suffix") != END_OF_WORD:
            raise TokenizerError("not a CLIP-style BPE tokenizer.json (model.type / end_of_word_suffix)")
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        return cls(model["vocab"], merges, max_length)

    @classmethod
    def load(cls, path: Path, max_length: int = MAX_LENGTH) -> "ClipBpeTokenizer":
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")), max_length)


def tokenizer_json(vocab: Dict[str, int], merges: Sequence[Tuple[str, str]]) -> dict:
    """Hugging Face tokenizers layout, as CLIP's tokenizer.json but with our special ids."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t, i in ((PAD_TOKEN, PAD_ID), (BOS_TOKEN, BOS_ID), (EOS_TOKEN, EOS_ID))
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": WHITESPACE_PATTERN}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Removed",
             "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS_TOKEN, EOS_ID],
                           "cls": [BOS_TOKEN, BOS_ID], "trim_offsets": False,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOS_TOKEN,
                  "continuing_subword_prefix": "", "end_of_word_suffix": END_OF_WORD,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def base_vocab() -> Dict[str, int]:
    """Special tokens 0-2, then the 256 byte symbols, then the same with </w> (CLIP order)."""
    vocab: Dict[str, int] = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    syms = list(bytes_to_unicode().values())
    for s in syms + [s + END_OF_WORD for s in syms]:
        vocab[s] = len(vocab)
    return vocab


def train_bpe(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE,
              min_frequency: int = 2) -> ClipBpeTokenizer:
    """Greedy BPE on word counts: merge the most frequent adjacent pair (ties: smallest pair)."""
    counts: Counter = Counter()
    for t in texts:
        counts.update(words_of(t))
    vocab = base_vocab()
    words: List[List[str]] = []
    freqs: List[int] = []
    for w, c in sorted(counts.items()):
        syms = list(w)
        syms[-1] += END_OF_WORD
        words.append(syms)
        freqs.append(c)
    pair_counts: Counter = Counter()
    where: Dict[Tuple[str, str], set] = {}
    for idx, (syms, c) in enumerate(zip(words, freqs)):
        for p in zip(syms, syms[1:]):
            pair_counts[p] += c
            where.setdefault(p, set()).add(idx)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges: List[Tuple[str, str]] = []
    while len(vocab) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negc:
            continue  # stale entry
        if -negc < min_frequency:
            break
        merges.append(pair)
        merged = pair[0] + pair[1]
        if merged not in vocab:
            vocab[merged] = len(vocab)
        touched = set()
        for idx in sorted(where.pop(pair, ())):
            syms, c = words[idx], freqs[idx]
            for p in zip(syms, syms[1:]):
                pair_counts[p] -= c
                touched.add(p)
            new: List[str] = []
            i = 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == pair[0] and syms[i + 1] == pair[1]:
                    new.append(merged)
                    i += 2
                else:
                    new.append(syms[i])
                    i += 1
            words[idx] = new
            for p in zip(new, new[1:]):
                pair_counts[p] += c
                where.setdefault(p, set()).add(idx)
                touched.add(p)
        pair_counts.pop(pair, None)
        for p in touched:
            c = pair_counts.get(p, 0)
            if c > 0 and p != pair:
                heapq.heappush(heap, (-c, p))
            elif c <= 0:
                pair_counts.pop(p, None)
                where.pop(p, None)
    return ClipBpeTokenizer(vocab, merges)
