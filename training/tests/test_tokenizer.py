import json
import re
from pathlib import Path

import pytest

from dreamcache import tokenizer as T
from dreamcache.tokenizer_fixture import parity_captions

TRAINING = Path(__file__).resolve().parents[1]
TOKENIZER_JSON = TRAINING / "data" / "tokenizer.json"
FIXTURE = TRAINING / "tests" / "fixtures" / "tokenizer_parity.json"


@pytest.fixture(scope="module")
def tok():
    return T.ClipBpeTokenizer.load(TOKENIZER_JSON)


EMOJIBASE = TRAINING.parent / "node_modules" / "emojibase-data" / "en" / "data.json"


@pytest.fixture(scope="module")
def corpus():
    if not EMOJIBASE.is_file():
        # The caption corpus is built from emojibase labels (npm); the GPU box has no node_modules.
        pytest.skip("emojibase-data is not installed (npm install brings it)")
    import importlib.util
    spec = importlib.util.spec_from_file_location("train_tokenizer", TRAINING / "scripts" / "train_tokenizer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.corpus()


def test_special_ids_and_layout(tok):
    assert (T.PAD_ID, T.BOS_ID, T.EOS_ID) == (0, 1, 2)
    ids = tok.encode("a photo of a dog")
    assert len(ids) == 77 and ids[0] == T.BOS_ID
    end = ids.index(T.EOS_ID)
    assert end == 6 and set(ids[end + 1:]) == {T.PAD_ID}
    assert tok.encode("") == [T.BOS_ID, T.EOS_ID] + [T.PAD_ID] * 75


def test_truncation_keeps_eos(tok):
    ids = tok.encode("a dog " * 100)
    assert len(ids) == 77 and ids[-1] == T.EOS_ID and T.PAD_ID not in ids
    assert ids[:76] == ([T.BOS_ID] + tok.encode_raw("a dog " * 100))[:76]


def test_vocab_is_contiguous_and_sized(tok):
    assert sorted(tok.vocab.values()) == list(range(len(tok.vocab)))
    assert len(tok.vocab) == 4096
    assert TOKENIZER_JSON.stat().st_size < 1_000_000
    for a, b in tok.merges:
        assert a + b in tok.vocab


def test_round_trip(tok, corpus):
    _, texts = corpus
    for text in texts[:3000] + ["café crème 🐶 #1", "A  DOG,  on\tthe beach!!"]:
        ids = tok.encode(text, max_length=10_000, pad=False)
        words = re.findall(r"\S+", " ".join(_pieces(text)))
        assert tok.decode(ids) == " ".join(words)


def _pieces(text):
    split, _ = T._compiled()
    return [p for s in T.split_special(text) if s not in T.SPECIAL_TOKENS
            for p in split.findall(T.normalize(s))]


def test_plain_captions_decode_exactly(tok, corpus):
    _, texts = corpus
    for text in texts[:2000]:
        if re.fullmatch(r"[a-z ]+", text):
            assert tok.decode(tok.encode(text)) == " ".join(text.split())


def test_unicode_classes():
    split, ws = T._compiled()
    assert split.findall("é½_x2ab,!") == ["é", "½", "_", "x", "2", "ab", ",!"]
    assert ws.sub(" ", "a\u00a0\u3000b\u0085c\ufeffd") == "a b c\ufeffd"  # U+FEFF is not White_Space
    assert T.normalize("  CAFÉ\u0301 ") == " café́ "


def test_special_strings_in_text(tok):
    assert tok.encode("<|startoftext|>x", pad=False)[:2] == [T.BOS_ID, T.BOS_ID]
    upper = tok.encode("<|ENDOFTEXT|>", pad=False)
    assert T.EOS_ID not in upper[1:-1]  # only raw-case strings are special


def test_tokenizer_json_is_reproducible(tok, corpus):
    _, texts = corpus
    fresh = T.train_bpe(texts, vocab_size=4096, min_frequency=1)
    assert fresh.merges == tok.merges and fresh.vocab == tok.vocab


def test_parity_fixture_is_up_to_date(tok, corpus):
    labels, _ = corpus
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert (data["maxLength"], data["padTokenId"], data["bosTokenId"], data["eosTokenId"]) == (77, 0, 1, 2)
    caps = parity_captions(labels)
    assert len(caps) == 1000 and [c["text"] for c in data["cases"]] == caps
    assert [c["ids"] for c in data["cases"]] == [tok.encode(c) for c in caps]
    longest = max(len(tok.encode_raw(c)) for c in caps)
    assert longest > 77


def test_encode_batch(tok):
    import torch
    x = tok.encode_batch(["a dog", "a cat on a beach"])
    assert x.dtype == torch.long and tuple(x.shape) == (2, 77)
    assert x[1].tolist() == tok.encode("a cat on a beach")
