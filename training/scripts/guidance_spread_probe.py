"""How much the pack's guidance widens each noise prediction beyond the fully conditioned branch's.

Guidance rescale (sampler.rescale_guidance, bench `--ablations rescale`) pulls each guided prediction's
standard deviation towards e_c's; it can only matter where the guided prediction is wider. This runs the
benchmark (any of its arguments; a few subjects on the CPU are enough) with the rescale step wrapped to
record std(guided) / std(e_c) for every image at every DDIM step, and prints the mean, min and max per step.
Give a fresh --out: the benchmark skips the images an earlier run there already scored.

    cd training && OMP_NUM_THREADS=2 /usr/bin/python3 scripts/guidance_spread_probe.py --weights W \
        --evaluators checkpoints/evaluators-v2 --webp ../.carry/webp --out /tmp/spread --limit-subjects 8 \
        --limit-prompts 2 --seeds 1 --steps 25 --image-scale 11.5 --image-scale-end 5.5 --self-views flip \
        --int8-text-encoder --rows dreamcache --ablations none --grid-subjects 0 --batch 16
"""
import os
import sys
from typing import Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dreamcache import sampler_batched  # noqa: E402
from dreamcache.eval import bench  # noqa: E402


def spread_by_step(steps: int, argv: List[str]) -> Dict[int, List[float]]:
    """{DDIM step index (0 = noisiest): [std ratio of each image]} over one benchmark run."""
    ratios: Dict[int, List[float]] = {}
    calls = [0]
    real = sampler_batched.rescale_guidance

    def spy(guided, reference, phi):
        dims = tuple(range(1, guided.dim()))
        ratios.setdefault(calls[0] % steps, []).extend((guided.std(dim=dims) / reference.std(dim=dims)).tolist())
        calls[0] += 1
        return real(guided, reference, phi)

    sampler_batched.rescale_guidance = spy
    try:
        bench.main(argv)
    finally:
        sampler_batched.rescale_guidance = real
    return ratios


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 50
    for k, v in sorted(spread_by_step(steps, argv).items()):
        print(f"step {k:2d}: std(guided) / std(e_c) mean {sum(v) / len(v):.3f}, min {min(v):.3f}, max {max(v):.3f}")


if __name__ == "__main__":
    main()
