"""The 1,000 captions of the tokenizer parity fixture (Python ids vs @huggingface/tokenizers)."""
from __future__ import annotations

import random
from typing import List, Sequence

from .data.captions import caption_corpus

ODD_CAPTIONS = [
    "", " ", "   ", "\t\n", "A DOG ON A BEACH", "a  dog   on\ta\nbeach", "  leading and trailing  ",
    "a dog, a cat; a pizza!", "what's that? it's a dog's toy, isn't it?", "they're we've I'm you'll he'd",
    "3 dogs and 12 cats, 2024-11-27 at 10:30pm", "½ pizza and ⅓ cake, ²nd place", "1,000,000 $ 99.95% #1 @home",
    "café crème brûlée à la mode", "naïve résumé über straße", "ÉCOLE ÇA ÅNGSTRÖM", "e\u0301cole (decomposed accent)",
    "a 🐶 on a 🏖️ with 🍕🍕", "👩‍👩‍👧 family emoji zwj", "北京 東京 서울", "Ελληνικά ΣΟΦΟΣ λέξη",
    "русский текст про собаку", "עברית وعربي", "a dog\u00a0on\u2003a\u3000beach", "tab\tseparated\tcaption",
    "<|startoftext|> a dog <|endoftext|>", "<|pad|><|pad|>", "<|STARTOFTEXT|> upper special", "a <|endoftext",
    "don't stop 'quoted' \"double\"", "snake_case and kebab-case and CamelCase", "x" * 300,
    "a very long caption " + " ".join(f"word{i}" for i in range(120)),
    "a photo of a dog " * 20, "....!!!???,,,", "~`^*()[]{}<>|\\/", "e-mail: dog@example.com http://x.y/z",
    "İstanbul ıi İI", "ﬁne ligature ﬀ", "ＦＵＬＬＷＩＤＴＨ text", "zero\u200bwidth\u200bspace", "soft\u00adhyphen",
    "line\u2028separator", "a\u0085next line", "mixed 123abc abc123 a1b2c3", "h₂o x² 10³", "Ⅻ roman ⅻ",
    "é" * 100, "😀" * 90,
]


def parity_captions(train_labels: Sequence[str], n: int = 1000, seed: int = 1) -> List[str]:
    """ODD_CAPTIONS, then deterministic mutations of template captions, n in all."""
    rng = random.Random(seed)
    base = caption_corpus(train_labels, n=n, seed=seed)
    out = list(ODD_CAPTIONS)
    i = 0
    while len(out) < n:
        c = base[i % len(base)]
        i += 1
        r = rng.random()
        if r < 0.15:
            c = c.upper()
        elif r < 0.25:
            c = c.title()
        elif r < 0.35:
            c = "  " + c.replace(" ", "   ") + " "
        elif r < 0.42:
            c = c + rng.choice(["!", "?", ".", "...", " :)", " 🐾", " #2", " (4k)"])
        elif r < 0.47:
            c = " ".join([c] * rng.randint(3, 6))  # past 77 tokens
        out.append(c)
    return out[:n]
