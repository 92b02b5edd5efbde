"""Throughput of the triplet generator on the available device (a benchmark, not a test)."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dreamcache.data import SubjectBank, TripletGenerator  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webp", required=True)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    t0 = time.time()
    gen = TripletGenerator(SubjectBank.load(a.webp, split="train", size=128, device=dev), size=128, device=dev)
    print(f"bank load {time.time() - t0:.1f}s on {dev}")
    g = torch.Generator(device=dev).manual_seed(0)
    for name, fn in (("triplets", lambda: gen.batch(a.batch, g)), ("segmenter", lambda: gen.segmenter_batch(a.batch, g))):
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.time()
        for _ in range(a.iters):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = (time.time() - t0) / a.iters
        print(f"{name}: {dt * 1000:.1f} ms per batch of {a.batch} = {a.batch / dt:.0f} samples/s")


if __name__ == "__main__":
    main()
