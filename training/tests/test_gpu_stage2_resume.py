"""gpu_stage2_base.sh on a bare box: a preset other than `tiny` (the bigger base, trained over several leases)
starts from the weights RESUME names, and weights of another preset's shape are refused before anything loads
(a lease's minutes are the scarce thing). Toy scale on CPU (preset dev-tiny). Debian's torch 1.13 torchrun
cannot start workers under this Python, so a one-process launcher stands in for it: it runs the same module
with the same arguments, as `torchrun --nproc_per_node=1` does on one GPU."""
import json
import os
import subprocess

import pytest

from dreamcache.train import base, vae
from gpu_box_env import TRAINING, box_env

WEBP = os.path.join(TRAINING, "..", "node_modules", "@lobehub", "fluent-emoji-3d", "assets")

ONE_PROCESS_LAUNCHER = """#!/usr/bin/env bash
# torchrun's launcher options, then `-m module args…`: run the module in this one process
while [ $# -gt 0 ] && [ "$1" != -m ]; do shift; done
exec python3 "$@"
"""


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A dev-tiny VAE and a dev-tiny base trained 2 steps: the weights a later lease resumes from."""
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    d = tmp_path_factory.mktemp("first")
    vae.main(["--webp", WEBP, "--preset", "dev-tiny", "--out", str(d / "vae"), "--max-steps", "1", "--batch", "4",
              "--eval-batches", "1"])
    base.main(["--webp", WEBP, "--preset", "dev-tiny", "--vae", str(d / "vae"), "--out", str(d / "base"),
               "--batch", "4", "--max-steps", "2"])
    return d


def stage2(tmp_path, first, preset):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    launcher = bindir / "torchrun"
    launcher.write_text(ONE_PROCESS_LAUNCHER)
    launcher.chmod(0o755)
    env = box_env(tmp_path, PRESET=preset, RESUME=str(first / "base" / "weights"), VAE=str(first / "vae"), WEBP=WEBP)
    return subprocess.run(["bash", "scripts/gpu_stage2_base.sh", "1", "4", "0", "--max-steps", "4", "--log-every", "1"],
                          cwd=TRAINING, env=env, capture_output=True, text=True, timeout=300)


def test_a_bare_box_resumes_a_non_tiny_preset_from_the_weights_resume_names(first_run, tmp_path):
    r = stage2(tmp_path, first_run, "dev-tiny")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [json.loads(line) for line in open(tmp_path / "runs" / "base" / "log.jsonl")]
    start = next(row for row in rows if row.get("event") == "start")
    assert start["step"] == 2 and start["warm_from"] == 2, "the run continues the first run's 2 steps"
    assert next(row for row in rows if row.get("event") == "done")["step"] == 4
    assert sorted(os.listdir(tmp_path / "out" / "base")) == ["meta.tar", "text_encoder.part00", "unet.part00"]
    assert json.load(open(tmp_path / "runs" / "base" / "base.json"))["step"] == 4


def test_weights_of_another_preset_are_refused_before_anything_loads(first_run, tmp_path):
    r = stage2(tmp_path, first_run, "tiny")
    assert "holds a unet with block_out_channels" in r.stdout and "--preset tiny has [64, 128, 192]" in r.stdout
    assert not (tmp_path / "runs" / "base" / "log.jsonl").exists(), "no run started"
