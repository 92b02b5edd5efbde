"""gpu_adapter_arms.sh restore: an arm committed from an earlier lease becomes a runnable arm folder
on a bare box (the GPU box starts empty every lease), and a wrong spec fails before anything runs."""
import json
import os
import subprocess
import sys

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARM = os.path.join(TRAINING, "checkpoints", "adapters-s16-arms", "C")


def run_script(tmp_path, *args):
    # gpu_env.sh asks `python3` for the GPU count: the interpreter running the tests has torch
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    if not (bindir / "python3").exists():
        os.symlink(sys.executable, bindir / "python3")
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", RUNS=str(tmp_path / "runs"), OUT=str(tmp_path / "out"))
    return subprocess.run(["bash", "scripts/gpu_adapter_arms.sh", *args], cwd=TRAINING, env=env,
                          capture_output=True, text=True, timeout=120)


def test_restore_makes_a_committed_arm_runnable_from_its_own_weights_and_step(tmp_path):
    r = run_script(tmp_path, "restore", f"C={ARM}")
    assert r.returncode == 0, r.stderr
    arm = tmp_path / "runs" / "arm-C"
    step = json.load(open(os.path.join(ARM, "adapters.json")))["step"]
    assert f"step {step}" in r.stdout
    assert (arm / "init.txt").read_text().strip() == str(arm / "weights")
    assert json.load(open(arm / "weights" / "adapters.json"))["step"] == step   # the trainer resumes the count
    assert (arm / "weights" / "adapters.part00").read_bytes() == open(os.path.join(ARM, "adapters.part00"), "rb").read()
    assert (arm / "args.txt").read_text() == open(os.path.join(ARM, "args.txt")).read()
    assert (arm / "log.jsonl").exists()


def test_restore_refuses_a_folder_without_an_arm(tmp_path):
    partial = tmp_path / "no-weights"        # adapters.json and args.txt but no adapters.partNN
    partial.mkdir()
    for f in ("adapters.json", "args.txt"):
        (partial / f).write_text(open(os.path.join(ARM, f)).read())
    for spec in (f"X={tmp_path}", f"X={partial}", "X"):
        r = run_script(tmp_path, "restore", spec)
        assert r.returncode == 2 and "is not NAME=FOLDER" in r.stderr
        assert not (tmp_path / "runs" / "arm-X").exists()
