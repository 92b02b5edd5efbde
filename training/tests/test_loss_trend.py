"""scripts/loss_trend.py: a lease reads whether a run's loss falls from one line."""
import json
import os
import sys

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TRAINING, "scripts"))
import loss_trend  # noqa: E402


def log(losses, every=50, start=3700, qk=None):
    recs = [{"event": "start", "step": start - 36}]
    recs += [dict({"step": start + i * every, "loss": v}, **({"te_qk": qk[i]} if qk else {})) for i, v in enumerate(losses)]
    return recs + [{"event": "done", "step": start + len(losses) * every}]


def test_windows_average_by_step_and_keep_the_last_te_qk():
    ws = loss_trend.windows(log([1.0, 3.0, 5.0, 7.0, 9.0], qk=[70, 71, 72, 73, 74]), every=100)
    assert [(w["from"], w["to"], w["mean"], w["lines"], w["te_qk"]) for w in ws] == [
        (3700, 3750, 2.0, 2, 71), (3800, 3850, 6.0, 2, 73), (3900, 3900, 9.0, 1, 74)]


def test_verdicts_leave_out_warm_up_and_a_partial_last_window():
    rising = loss_trend.windows(log([0.050] * 8 + [0.044] * 8 + [0.046] * 8 + [0.048] * 8 + [0.030]), every=400)
    assert loss_trend.verdict(rising) == "rising"       # warm-up window and the one-line tail do not count
    falling = loss_trend.windows(log([0.044] * 8 + [0.043] * 8 + [0.042] * 8), every=400)
    assert loss_trend.verdict(falling, skip=0) == "falling"
    flat = loss_trend.windows(log([0.0440] * 8 + [0.0441] * 8), every=400)
    assert loss_trend.verdict(flat, skip=0) == "flat"
    assert loss_trend.verdict(flat, skip=1) == "too short"


def test_cli_prints_windows_and_verdict(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in log([0.05] * 8 + [0.044] * 8 + [0.048] * 8, qk=[73.9] * 24)) + "\n")
    loss_trend.main([str(p)])
    out = capsys.readouterr().out
    assert out.count("(8 lines)") == 3 and "te_qk 73.9" in out
    assert "verdict: rising (last window against window 2); te_qk 73.9 → 73.9" in out
