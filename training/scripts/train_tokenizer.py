"""Train the CLIP-style BPE on the caption corpus; write training/data/tokenizer.json and the
parity fixture training/tests/fixtures/tokenizer_parity.json.

  /usr/bin/python3 training/scripts/train_tokenizer.py [--vocab-size 4096] [--fixture-only]

Corpus: template captions over training-split labels, their tags, and the labels/tags of emoji
that are not subjects (people, smileys, symbols, flags). Held-out subjects' text never enters.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))

from dreamcache.data.captions import caption_corpus  # noqa: E402
from dreamcache.data.subjects import EMOJIBASE_DATA, clean_label, load_subjects  # noqa: E402
from dreamcache.tokenizer import (  # noqa: E402
    BOS_ID, EOS_ID, MAX_LENGTH, PAD_ID, ClipBpeTokenizer, train_bpe)
from dreamcache.tokenizer_fixture import parity_captions  # noqa: E402

TOKENIZER_JSON = TRAINING / "data" / "tokenizer.json"
FIXTURE_JSON = TRAINING / "tests" / "fixtures" / "tokenizer_parity.json"


def other_emoji_text(exclude_ids) -> list:
    """Labels + tags of emoji that are not subjects at all (people, smileys, symbols, flags):
    general English words, none describing a held-out subject's image."""
    entries = json.loads(EMOJIBASE_DATA.read_text(encoding="utf-8"))
    return [clean_label(e["label"]) + " " + " ".join(e.get("tags", []))
            for e in entries if e["hexcode"].upper() not in exclude_ids]


def corpus():
    subjects = load_subjects(split="train")
    all_ids = {s.id for s in load_subjects()}
    labels = [s.label for s in subjects]
    tags = [" ".join(s.tags) for s in subjects]
    extra = tags + other_emoji_text(all_ids)
    return labels, caption_corpus(labels, extra_words=extra, n=60000, seed=0)


def fixture(tok: ClipBpeTokenizer, labels) -> dict:
    caps = parity_captions(labels)
    return {"maxLength": MAX_LENGTH, "padTokenId": PAD_ID, "bosTokenId": BOS_ID,
            "eosTokenId": EOS_ID, "cases": [{"text": c, "ids": tok.encode(c)} for c in caps]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--fixture-only", action="store_true")
    args = ap.parse_args()
    labels, texts = corpus()
    if args.fixture_only:
        tok = ClipBpeTokenizer.load(TOKENIZER_JSON)
    else:
        t0 = time.time()
        tok = train_bpe(texts, vocab_size=args.vocab_size, min_frequency=1)
        tok.save(TOKENIZER_JSON)
        print(f"trained vocab {tok.vocab_size} ({len(tok.merges)} merges) in {time.time() - t0:.1f}s"
              f" -> {TOKENIZER_JSON} ({TOKENIZER_JSON.stat().st_size / 1e3:.0f} kB)")
    FIXTURE_JSON.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE_JSON.write_text(json.dumps(fixture(tok, labels), ensure_ascii=False) + "\n",
                            encoding="utf-8")
    print(f"wrote {FIXTURE_JSON}")


if __name__ == "__main__":
    main()
