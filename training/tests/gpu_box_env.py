"""The environment the GPU-box scripts (scripts/gpu_*.sh) run under in tests: gpu_env.sh asks `python3` for the
GPU count, so `python3` on PATH is the interpreter running the tests (it has torch), and RUNS and OUT point into
the test's own folder."""
import os
import sys

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def box_env(tmp_path, **extra):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    if not (bindir / "python3").exists():
        os.symlink(sys.executable, bindir / "python3")
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", RUNS=str(tmp_path / "runs"),
                OUT=str(tmp_path / "out"), **extra)
