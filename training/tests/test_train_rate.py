"""scripts/train_rate.py: a lease compares recipes by their updates per minute, per trainer call."""
import json
import os
import subprocess
import sys

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TRAINING, "scripts"))
from train_rate import call_rates  # noqa: E402


def log_of_two_calls():
    recs = [{"event": "start", "step": 100, "reuse": 8, "compile": False, "time": 1000.0}]
    # first call: a slow first minute, then 600 steps per minute
    recs += [{"step": 150, "sec": 60.0, "loss": 0.1}, {"step": 200, "sec": 65.0, "loss": 0.1},
             {"step": 250, "sec": 70.0, "loss": 0.1}, {"step": 300, "sec": 75.0, "loss": 0.1}]
    recs += [{"event": "done", "step": 310, "time": 1076.0}]
    # second call (compiled) was cut off: no done line
    recs += [{"event": "start", "step": 310, "reuse": 8, "compile": True, "time": 2000.0},
             {"step": 350, "sec": 100.0}, {"step": 400, "sec": 103.0}, {"step": 450, "sec": 106.0}]
    return recs


def test_call_rates_splits_calls_and_measures_whole_and_steady_rates():
    a, b = call_rates(log_of_two_calls())
    assert (a["from"], a["to"], a["compile"], a["reuse"]) == (100, 310, False, 8)
    assert abs(a["per_min"] - 210 / 76 * 60) < 1e-9
    assert abs(a["steady_per_min"] - 600.0) < 1e-9       # lines 250 → 300 in 5 s, the slow start left out
    assert a["first_line_s"] == 60.0
    assert (b["from"], b["to"], b["compile"]) == (310, 450, True)
    assert b["per_min"] is None                           # no done line: no whole-call rate
    assert abs(b["steady_per_min"] - 1000.0) < 1e-9


def test_cli_prints_the_last_call_and_fails_on_an_empty_log(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in log_of_two_calls()) + "\n")
    r = subprocess.run([sys.executable, "scripts/train_rate.py", str(log), "--last", "1"], cwd=TRAINING,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "| 310 → 450 | 8 | yes | 100 | – | 1,000 |"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert subprocess.run([sys.executable, "scripts/train_rate.py", str(empty)], cwd=TRAINING).returncode == 1
