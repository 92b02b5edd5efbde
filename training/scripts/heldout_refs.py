"""Held-out subjects as the benchmark's clean references on white, for scripts/personalize-grid.ts.

  /usr/bin/python3 training/scripts/heldout_refs.py --out /tmp/refs [--n 8]

Writes DIR/refs.json = [{id, label, noun, file}] and one raw S×S RGBA file (opaque) per subject.
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

from dreamcache.data.captions import generic_label  # noqa: E402
from dreamcache.eval.data import clean_reference, eval_generator, load_bank  # noqa: E402
from dreamcache.eval.parity import to_rgba_bytes  # noqa: E402


def spread(n_total: int, n: int) -> list[int]:
    k = min(n, n_total)
    return sorted({round(i * n_total / k) for i in range(k)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--webp", default=str(REPO / "node_modules" / "@lobehub" / "fluent-emoji-3d" / "assets"))
    ap.add_argument("--subjects", default=None, help="subjects.json (default: training/data/subjects.json)")
    a = ap.parse_args()
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
            refs.append({"id": subj.id, "label": subj.label, "noun": generic_label(subj.category), "file": file})
            print(f"{subj.id}: {subj.label} ({subj.category} → {refs[-1]['noun']})")
    (out / "refs.json").write_text(json.dumps(refs, indent=1))
    print(f"wrote {len(refs)} references of {len(bank)} held-out subjects to {out}")


if __name__ == "__main__":
    main()
