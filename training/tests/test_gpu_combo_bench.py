"""gpu_combo_bench.sh: each (adapters, decoder) pair is scored on the shipped base with its own decoder,
rendezvous port and bench arguments (every pair's BENCH_ARGS, then its own @ARGS), and a wrong spec
anywhere stops the call before any pair starts (GPU minutes are the scarce thing on the box).
The benchmark itself is replaced by EVALUATORS_BENCH, a script that records what it was handed."""
import hashlib
import os
import subprocess
import tarfile

from gpu_box_env import TRAINING, box_env

SHIPPED_VAE = os.path.join(TRAINING, "checkpoints", "vae-v3")
SHIPPED_ADAPTERS = os.path.join(TRAINING, "checkpoints", "adapters-v16-w8")

RECORDER = """#!/usr/bin/env bash
# what gpu_evaluators_bench.sh would have been asked to score, written where its bench.tar goes
mkdir -p "$OUT"
{ echo "ADAPTERS=$ADAPTERS"; echo "BENCH_PORT=$BENCH_PORT"; echo "BENCH_ARGS=$BENCH_ARGS"; echo "ARGV=$*"
  echo "VAE_SHA=$(sha256sum "$BASE/vae.part00" | cut -d' ' -f1)"; } > "$OUT/record.txt"
tar -cf "$OUT/bench.tar" -C "$OUT" record.txt && rm "$OUT/record.txt"     # bench.tar alone, as the real one leaves
"""


def run_combo(tmp_path, *specs, bench_args="--int8-text-encoder"):
    rec = tmp_path / "recorder.sh"
    rec.write_text(RECORDER)
    env = box_env(tmp_path, EVALUATORS_BENCH=str(rec), BENCH_ARGS=bench_args, COMBO_PORT="29990")
    return subprocess.run(["bash", "scripts/gpu_combo_bench.sh", "2.5", *specs], cwd=TRAINING, env=env,
                          capture_output=True, text=True, timeout=300)


def record(tmp_path, name):
    with tarfile.open(tmp_path / "out" / f"bench-{name}.tar") as t:
        text = t.extractfile("record.txt").read().decode()
    return dict(line.split("=", 1) for line in text.strip().splitlines())


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_pairs_get_their_adapters_decoder_port_and_own_arguments(tmp_path):
    other_vae = tmp_path / "vaeP" / "weights"          # a decoder run's layout: vae.json beside weights/
    other_vae.mkdir(parents=True)
    (tmp_path / "vaeP" / "vae.json").write_text(open(os.path.join(SHIPPED_VAE, "vae.json")).read())
    (other_vae / "vae.part00").write_bytes(b"a decoder of another run")
    r = run_combo(tmp_path, "S=-:-", f"P=-:{tmp_path / 'vaeP'}",
                  "V12=-:-@--image-scale 12 --image-scale-end 6 --steps 50")
    assert r.returncode == 0, r.stderr
    s, p, v = record(tmp_path, "S"), record(tmp_path, "P"), record(tmp_path, "V12")
    assert s["ADAPTERS"] == p["ADAPTERS"] == v["ADAPTERS"] == SHIPPED_ADAPTERS
    assert [s["BENCH_PORT"], p["BENCH_PORT"], v["BENCH_PORT"]] == ["29990", "29991", "29992"]
    assert s["VAE_SHA"] == v["VAE_SHA"] == sha256(os.path.join(SHIPPED_VAE, "vae.part00"))
    assert p["VAE_SHA"] == sha256(other_vae / "vae.part00")
    assert s["BENCH_ARGS"].split() == p["BENCH_ARGS"].split() == ["--int8-text-encoder"]
    # the pair's own arguments come after everyone's, so its flags win in argparse
    assert v["BENCH_ARGS"].split() == ["--int8-text-encoder", "--image-scale", "12", "--image-scale-end", "6",
                                       "--steps", "50"]
    assert s["ARGV"] == "0 2.5 0"
    assert sorted(os.listdir(tmp_path / "out")) == ["bench-P.tar", "bench-S.tar", "bench-V12.tar"]


def test_a_wrong_pair_anywhere_stops_the_call_before_any_pair_starts(tmp_path):
    for specs, message in ((["S=-:-", "bad"], "NAME=ADAPTERS:VAE"),
                           (["S=-:-", "X=-"], "NAME=ADAPTERS:VAE"),
                           (["S=-:-", f"X={tmp_path}:-"], "needs adapters.json"),
                           (["S=-:-", "S=-:-@--steps 50"], "named twice"),
                           ([], "no pairs")):
        r = run_combo(tmp_path, *specs)
        assert r.returncode == 2 and message in r.stderr, (specs, r.stderr)
        assert not (tmp_path / "out" / "c-S").exists() and not (tmp_path / "runs" / "w-S").exists()
