"""scripts/vae_encoder_only.py: the VAE's encoder alone gives the base trainer the same latents as the whole VAE in
under half the bytes (the room a bigger base's resume weights need in a 64 MiB call), and nothing that decodes
takes it. Toy scale on CPU (preset dev-tiny)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from dreamcache.train import base, vae
from dreamcache.train.base import load_vae

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WEBP = os.path.join(TRAINING, "..", "node_modules", "@lobehub", "fluent-emoji-3d", "assets")


def encoder_only(src, out):
    return subprocess.run([sys.executable, "scripts/vae_encoder_only.py", str(src), str(out)], cwd=TRAINING,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    out = tmp_path_factory.mktemp("vae")
    vae.main(["--webp", WEBP, "--preset", "dev-tiny", "--out", str(out), "--max-steps", "1", "--batch", "4",
              "--eval-batches", "1"])
    return out


def test_the_encoder_alone_encodes_bit_for_bit_in_fewer_bytes(vae_run, tmp_path):
    enc = tmp_path / "enc"
    r = encoder_only(vae_run, enc)
    assert r.returncode == 0, r.stderr
    whole = load_vae(str(vae_run), "dev-tiny", "cpu")
    alone = load_vae(str(enc), "dev-tiny", "cpu", encoder_only=True)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(whole.encode_moments(x), alone.encode_moments(x)))
    assert alone.config.scaling_factor == whole.config.scaling_factor
    part_bytes = sum(os.path.getsize(os.path.join(d, n)) for d in [enc] for n in os.listdir(d) if ".part" in n)
    whole_bytes = sum(os.path.getsize(os.path.join(vae_run, "weights", n)) for n in os.listdir(vae_run / "weights"))
    assert part_bytes < 0.8 * whole_bytes
    assert json.load(open(enc / "vae.json"))["encoder_only"] is True


def test_what_decodes_refuses_it_and_it_is_not_made_twice(vae_run, tmp_path):
    enc = tmp_path / "enc"
    assert encoder_only(vae_run, enc).returncode == 0
    with pytest.raises(ValueError, match="encoder alone"):
        load_vae(str(enc), "dev-tiny", "cpu")
    with pytest.raises(TypeError):
        load_vae(str(enc), "dev-tiny", "cpu", encoder_only=True).decode(torch.zeros(1, 4, 4, 4))
    again = encoder_only(enc, tmp_path / "again")
    assert again.returncode != 0 and "already holds the encoder alone" in again.stderr


def test_the_base_trainer_runs_on_the_encoder_alone(vae_run, tmp_path):
    enc = tmp_path / "enc"
    assert encoder_only(vae_run, enc).returncode == 0
    out = tmp_path / "base"
    base.main(["--webp", WEBP, "--preset", "dev-tiny", "--vae", str(enc), "--out", str(out), "--batch", "4",
               "--max-steps", "1"])
    assert json.load(open(out / "base.json"))["step"] == 1
