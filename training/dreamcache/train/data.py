"""Builds the subject bank and generator for a trainer from CLI arguments (training split only)."""
import argparse

from ..data import SubjectBank, TripletGenerator


def add_data_args(ap: argparse.ArgumentParser):
    ap.add_argument("--webp", required=True, help="folder of subject WebP files (build_subjects.py --copy-webp)")
    ap.add_argument("--subjects", default=None, help="subjects.json (default: training/data/subjects.json)")
    ap.add_argument("--size", type=int, default=128)


def make_generator(args, device, split: str = "train") -> TripletGenerator:
    kw = {"split": split, "size": args.size, "device": device}
    if args.subjects:
        kw["subjects_json"] = args.subjects
    bank = SubjectBank.load(args.webp, **kw)
    return TripletGenerator(bank, size=args.size, device=device)
