"""Held-out subjects as the benchmark's clean references on white, for scripts/personalize-grid.ts.

  /usr/bin/python3 training/scripts/heldout_refs.py --out /tmp/refs [--n 8] [--prompts beach,snow]

Writes DIR/refs.json = [{id, label, noun, file, prompts: [{key, textOnly, dreamcache}]}] and one raw
S×S RGBA file (opaque) per subject. The prompts are the benchmark's own (eval/prompts.py): text-only
names the subject, DreamCache uses its class noun, as in the benchmark's main rows.
Subjects are spread over the held-out list as the benchmark's grid picks them (index round(i·N/n));
the reference is the benchmark's own (eval.data.clean_reference), so the app sees what the bench saw.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
REPO = TRAINING.parent
sys.path.insert(0, str(TRAINING))

import torch  # noqa: E402

from dreamcache.eval.bench import spread  # noqa: E402
from dreamcache.eval.data import clean_reference, eval_generator, load_bank  # noqa: E402
from dreamcache.eval.parity import to_rgba_bytes  # noqa: E402
from dreamcache.eval.prompts import PROMPTS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--webp", default=str(REPO / "node_modules" / "@lobehub" / "fluent-emoji-3d" / "assets"))
    ap.add_argument("--subjects", default=None, help="subjects.json (default: training/data/subjects.json)")
    ap.add_argument("--prompts", default="beach,snow", help="comma list of the benchmark's prompt keys")
    a = ap.parse_args()
    by_key = {p.key: p for p in PROMPTS}
    keys = [k.strip() for k in a.prompts.split(",") if k.strip()]
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        ap.error(f"unknown prompt keys {unknown}; known: {', '.join(by_key)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bank = load_bank(a.webp, "heldout", a.size, "cpu", a.subjects)
    gen = eval_generator(bank, "cpu")
    refs = []
    with torch.no_grad():
        for s in spread(len(bank), a.n):
            subj = bank.subjects[s]
            ref = clean_reference(gen, torch.tensor([s]))[0]
            file = f"ref_{subj.id}.rgba"
            (out / file).write_bytes(to_rgba_bytes(ref))
            noun = bank.words(s, "category")
            prompts = [{"key": k, "textOnly": by_key[k].text(subj.label), "dreamcache": by_key[k].text(noun)}
                       for k in keys]
            refs.append({"id": subj.id, "label": subj.label, "noun": noun, "file": file, "prompts": prompts})
            print(f"{subj.id}: {subj.label} ({subj.category} → {refs[-1]['noun']})")
    (out / "refs.json").write_text(json.dumps(refs, indent=1))
    print(f"wrote {len(refs)} references of {len(bank)} held-out subjects to {out}")


if __name__ == "__main__":
    main()
