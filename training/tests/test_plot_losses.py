"""scripts/plot_losses.py: log reading, smoothing and a title the default font cannot encode."""
import importlib.util
import json
from pathlib import Path

from PIL import Image

_spec = importlib.util.spec_from_file_location("plot_losses", Path(__file__).parents[1] / "scripts" / "plot_losses.py")
plot_losses = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_losses)


def _log(path, steps, key="loss_ref"):
    with open(path, "w") as f:
        f.write(json.dumps({"event": "start", "step": steps[0]}) + "\n")
        for s in steps:
            f.write(json.dumps({"step": s, key: 0.1 + s / 1000}) + "\n")
    return str(path)


def test_resumed_logs_are_joined_by_step_and_smoothed(tmp_path):
    a = _log(tmp_path / "a.jsonl", [10, 20, 30])
    b = _log(tmp_path / "b.jsonl", [30, 40])   # a resumed call repeats its first step
    pts = plot_losses.read([a, b], "loss_ref")
    assert [x for x, _ in pts] == [10, 20, 30, 40]
    sm = plot_losses.smooth([(1, 1.0), (2, 3.0), (3, 5.0)], 2)
    assert sm == [(1, 1.0), (2, 2.0), (3, 4.0)]


def test_a_title_with_arrows_and_dashes_draws(tmp_path):
    log = _log(tmp_path / "log.jsonl", [100, 200, 300, 400])
    out = tmp_path / "loss.png"
    title = "adapters v8 \u2192 v9 \u2013 loss \u2248 0.064, 30 \u00d7 \u4e00"
    plot_losses.plot({"loss_ref": plot_losses.read([log], "loss_ref")}, title, str(out))
    assert Image.open(out).size == (640, 360)
    assert plot_losses.drawable(title) == "adapters v8 -> v9 - loss ~ 0.064, 30 \u00d7 ?"


def test_named_logs_are_arms_each_with_its_own_curve_from_a_shared_step(tmp_path):
    b = _log(tmp_path / "b.jsonl", [100, 200, 300, 400])
    c = _log(tmp_path / "c.jsonl", [100, 300, 500])
    got = plot_losses.curves([f"B={b}", f"C={c}"], ["loss_ref"], 1, from_step=300)
    assert list(got) == ["B loss_ref", "C loss_ref"]
    assert [x for x, _ in got["B loss_ref"]] == [300, 400]
    assert [x for x, _ in got["C loss_ref"]] == [300, 500]
    out = tmp_path / "arms.png"
    plot_losses.plot(got, "arms", str(out))
    assert Image.open(out).size == (640, 360)
