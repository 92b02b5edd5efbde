"""Build training/data/subjects.json + heldout.txt, or copy the subject WebPs for the GPU box.

  /usr/bin/python3 training/scripts/build_subjects.py                 # (re)write the subject files
  /usr/bin/python3 training/scripts/build_subjects.py --copy-webp DIR # copy the kept WebPs to DIR
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamcache.data.subjects import (  # noqa: E402
    SUBJECTS_JSON, build_subjects, copy_subject_webps, load_subjects, write_subject_files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--copy-webp", metavar="DIR", help="copy the kept subject WebPs into DIR")
    ap.add_argument("--subjects-json", default=str(SUBJECTS_JSON))
    args = ap.parse_args()
    if args.copy_webp:
        total = copy_subject_webps(Path(args.copy_webp), Path(args.subjects_json))
        n = len(load_subjects(Path(args.subjects_json)))
        print(f"copied {n} WebP files, {total / 1e6:.2f} MB, to {args.copy_webp}")
        return
    subjects = build_subjects()
    write_subject_files(subjects)
    counts = collections.Counter((s.category, s.split) for s in subjects)
    cats = sorted({s.category for s in subjects})
    for c in cats:
        print(f"{c:12s} train {counts[(c, 'train')]:4d}  heldout {counts[(c, 'heldout')]:4d}")
    n_held = sum(1 for s in subjects if s.split == "heldout")
    print(f"total {len(subjects)} subjects, {n_held} held out")


if __name__ == "__main__":
    main()
