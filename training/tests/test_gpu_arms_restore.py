"""gpu_adapter_arms.sh restore: an arm committed from an earlier lease becomes a runnable arm folder
on a bare box (the GPU box starts empty every lease), and a wrong spec fails before anything runs;
fork: a new arm from another arm's weights as they are on the box."""
import json
import os
import subprocess

import pytest
import torch

from dreamcache.train.common import save_split
from gpu_box_env import TRAINING, box_env


@pytest.fixture
def arm(tmp_path):
    """A committed arm's layout (as training/checkpoints/adapters-s16-arms/*): weights, meta, args, log."""
    d = tmp_path / "committed-arm"
    d.mkdir()
    save_split({"w": torch.arange(6.0).reshape(2, 3)}, str(d), "adapters")
    (d / "adapters.json").write_text(json.dumps({"step": 26655, "adapter_width": 4, "reuse": 4}))
    (d / "args.txt").write_text("--reuse 4\n")
    (d / "log.jsonl").write_text('{"event": "done", "step": 26655}\n')
    return str(d)


def run_script(tmp_path, *args):
    return subprocess.run(["bash", "scripts/gpu_adapter_arms.sh", *args], cwd=TRAINING, env=box_env(tmp_path),
                          capture_output=True, text=True, timeout=120)


def test_restore_makes_a_committed_arm_runnable_from_its_own_weights_and_step(tmp_path, arm):
    r = run_script(tmp_path, "restore", f"C={arm}")
    assert r.returncode == 0, r.stderr
    dest = tmp_path / "runs" / "arm-C"
    assert "step 26655" in r.stdout
    assert (dest / "init.txt").read_text().strip() == str(dest / "weights")
    assert json.load(open(dest / "weights" / "adapters.json"))["step"] == 26655   # the trainer resumes the count
    assert (dest / "weights" / "adapters.part00").read_bytes() == open(os.path.join(arm, "adapters.part00"), "rb").read()
    assert (dest / "args.txt").read_text() == "--reuse 4\n"
    assert (dest / "log.jsonl").exists()


def test_restore_refuses_a_folder_without_an_arm(tmp_path, arm):
    partial = tmp_path / "no-weights"        # adapters.json and args.txt but no adapters.partNN
    partial.mkdir()
    for f in ("adapters.json", "args.txt"):
        (partial / f).write_text(open(os.path.join(arm, f)).read())
    for spec in (f"X={tmp_path}", f"X={partial}", "X"):
        r = run_script(tmp_path, "restore", spec)
        assert r.returncode == 2 and "is not NAME=FOLDER" in r.stderr
        assert not (tmp_path / "runs" / "arm-X").exists()


def test_fork_starts_a_new_arm_from_an_arms_current_weights_step_args_and_log(tmp_path, arm):
    assert run_script(tmp_path, "restore", f"C={arm}").returncode == 0
    src = tmp_path / "runs" / "arm-C"
    # as after a train call: the trainer's later weights and step in weights/, and more log lines
    save_split({"w": torch.full((2, 3), 7.0)}, str(src / "weights"), "adapters")
    meta = {"step": 30000, "adapter_width": 4, "reuse": 4}
    for f in (src / "adapters.json", src / "weights" / "adapters.json"):
        f.write_text(json.dumps(meta))
    (src / "log.jsonl").write_text('{"event": "done", "step": 30000}\n')
    r = run_script(tmp_path, "fork", "D=C")
    assert r.returncode == 0, r.stderr
    assert "arm D: --reuse 4" in r.stdout and "step 30000" in r.stdout
    dest = tmp_path / "runs" / "arm-D"
    assert (dest / "init.txt").read_text().strip() == str(dest / "weights")
    assert (dest / "weights" / "adapters.part00").read_bytes() == (src / "weights" / "adapters.part00").read_bytes()
    assert json.load(open(dest / "weights" / "adapters.json"))["step"] == 30000
    assert (dest / "log.jsonl").read_text() == (src / "log.jsonl").read_text()
    assert (src / "weights" / "adapters.part00").exists()          # the source arm is left as it was


def test_fork_refuses_an_unknown_arm_or_itself(tmp_path, arm):
    assert run_script(tmp_path, "restore", f"C={arm}").returncode == 0
    for spec in ("D=nope", "C=C", "D", "bad name=C"):
        r = run_script(tmp_path, "fork", spec)
        assert r.returncode == 2 and "is not NEW=ARM" in r.stderr, (spec, r.stderr)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["arm-C"]


def test_combo_bench_refuses_a_pair_it_cannot_score_before_any_bench_runs(tmp_path, arm):
    env = box_env(tmp_path)

    def combo(*specs):
        return subprocess.run(["bash", "scripts/gpu_combo_bench.sh", "1", *specs], cwd=TRAINING, env=env,
                              capture_output=True, text=True, timeout=120)
    r = combo("A=-")
    assert r.returncode == 2 and "NAME=ADAPTERS:VAE" in r.stderr
    r = combo(f"A={arm}:{tmp_path / 'no-vae'}")
    assert r.returncode == 2 and "vae.json" in r.stderr
    assert not os.path.exists(tmp_path / "runs" / "c-A"), "nothing is benched for a pair it cannot score"
