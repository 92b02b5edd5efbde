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


def add_run_args(ap: argparse.ArgumentParser, minutes: float, batch: int, lr: float):
    """The options every trainer takes: output folder, preset, time box, batch, learning rate."""
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--minutes", type=float, default=minutes)
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--batch", type=int, default=batch, help="samples per GPU")
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
