"""The base trainer's data echoing (--reuse K) and --compile: a generated batch and its VAE latents serve K
updates, each with its own caption dropout, timesteps and noise; the flags are checked before anything loads.
Toy scale on CPU (preset dev-tiny)."""
import json
import math
import os

import pytest
import torch

from dreamcache.train import base, vae

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    out = str(tmp_path_factory.mktemp("vae"))
    vae.main(["--webp", WEBP, "--preset", "dev-tiny", "--out", out, "--max-steps", "1", "--batch", "4",
              "--eval-batches", "1"])
    return out


def common(vae_dir, out):
    return ["--webp", WEBP, "--preset", "dev-tiny", "--log-every", "1", "--vae", vae_dir, "--out", out, "--batch", "4"]


def rows(out):
    return [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]


def test_reuse_makes_one_batch_per_k_updates(vae_run, tmp_path, monkeypatch):
    made, encoded = [], []
    real_generator = base.make_generator

    def counting_generator(*args, **kwargs):
        gen = real_generator(*args, **kwargs)
        real_batch = gen.batch
        gen.batch = lambda n, g: made.append(n) or real_batch(n, g)
        return gen

    real_load_vae = base.load_vae

    def counting_vae(*args, **kwargs):
        v = real_load_vae(*args, **kwargs)
        real_encode = v.encode_moments
        v.encode_moments = lambda x: encoded.append(len(x)) or real_encode(x)
        return v

    monkeypatch.setattr(base, "make_generator", counting_generator)
    monkeypatch.setattr(base, "load_vae", counting_vae)
    out = str(tmp_path / "base")
    base.main(common(vae_run, out) + ["--max-steps", "5", "--reuse", "2"])
    assert made == [4, 4, 4] and encoded == [4, 4, 4], "steps 0-1, 2-3 and 4 each make one batch"
    log = rows(out)
    start = next(r for r in log if r.get("event") == "start")
    assert start["reuse"] == 2 and start["compile"] is False
    losses = [r for r in log if "loss" in r]
    assert [r["step"] for r in losses] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(r["loss"]) for r in losses)
    # both updates of a batch report the profile of the step that made it
    assert losses[0]["ms_gen"] == losses[1]["ms_gen"] > 0 and losses[2]["ms_gen"] == losses[3]["ms_gen"]
    # the echoed update is not the first one again: fresh timesteps and noise give another loss
    assert losses[0]["loss"] != losses[1]["loss"]
    assert [r["step"] for r in log if r.get("event") == "done"] == [5]
    assert os.path.exists(os.path.join(out, "weights", "unet.part00"))


def test_bad_flags_are_refused_before_anything_loads(vae_run, tmp_path):
    out = str(tmp_path / "bad")
    with pytest.raises(SystemExit):
        base.main(common(vae_run, out) + ["--reuse", "0"])
    assert not os.path.exists(out)
    if not hasattr(torch, "compile"):             # Debian's torch 1.13 (CI)
        with pytest.raises(SystemExit):
            base.main(common(vae_run, out) + ["--compile"])
        assert not os.path.exists(out)
    elif torch.cuda.is_available():               # the GPU box: the compiled passes train
        base.main(common(vae_run, out) + ["--max-steps", "2", "--reuse", "2", "--compile"])
        assert next(r for r in rows(out) if r.get("event") == "start")["compile"] is True


def test_frozen_text_encoder_keeps_its_weights_while_the_unet_trains(vae_run, tmp_path):
    first = str(tmp_path / "first")
    base.main(common(vae_run, first) + ["--max-steps", "1"])
    out = str(tmp_path / "frozen")
    with pytest.raises(SystemExit):    # nothing trained to keep
        base.main(common(vae_run, out) + ["--max-steps", "1", "--freeze-text-encoder"])
    assert not os.path.exists(out)
    base.main(common(vae_run, out) + ["--max-steps", "4", "--lr", "1e-2", "--freeze-text-encoder",
                                      "--init-from", os.path.join(first, "weights")])
    before = {s: base.load_split(os.path.join(first, "weights"), s) for s in ("unet", "text_encoder")}
    after = {s: base.load_split(os.path.join(out, "weights"), s) for s in ("unet", "text_encoder")}
    assert all(torch.equal(before["text_encoder"][k], v) for k, v in after["text_encoder"].items())
    assert any(not torch.equal(before["unet"][k], v) for k, v in after["unet"].items())
    log = rows(out)
    assert next(r for r in log if r.get("event") == "start")["freeze_text_encoder"] is True
    qk = [r["te_qk"] for r in log if "loss" in r]
    assert [r["step"] for r in log if "loss" in r] == [2, 3, 4]   # --max-steps counts from the first run's step
    assert qk[0] > 0 and max(qk) == pytest.approx(min(qk))
