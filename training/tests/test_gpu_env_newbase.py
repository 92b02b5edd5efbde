"""gpu_env.sh newbase_weights: the folder the benchmark and the adapter trainer read for session 36's base holds
tiny-emoji-v2's U-Net, v1's text encoder, the shipped VAE and segmenter, and stays so when a warm box calls it
again (where shipped_weights on the same folder puts v1's U-Net back, the mistake of session 36's run 111)."""
import os
import subprocess

from gpu_box_env import TRAINING, box_env

CK = os.path.join(TRAINING, "checkpoints")


def source_and_run(tmp_path, snippet):
    r = subprocess.run(["bash", "-c", f"source scripts/gpu_env.sh && {snippet}"], cwd=TRAINING,
                       env=box_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def same(a, b):
    return open(a, "rb").read() == open(b, "rb").read()


def test_newbase_folder_has_v2_unet_v1_text_encoder_and_shipped_vae_and_survives_a_second_call(tmp_path):
    for _ in range(2):
        w = source_and_run(tmp_path, "newbase_weights")
        assert w == str(tmp_path / "runs" / "newbase")
        for part in ("unet.part00", "unet.part01", "base.json"):
            assert same(os.path.join(w, part), os.path.join(CK, "tiny-emoji-v2", part))
        assert not same(os.path.join(w, "unet.part00"), os.path.join(CK, "tiny-emoji-v1", "unet.part00"))
        assert same(os.path.join(w, "text_encoder.part00"), os.path.join(CK, "tiny-emoji-v1", "text_encoder.part00"))
        assert same(os.path.join(w, "vae.part00"), os.path.join(CK, "vae-v3", "vae.part00"))
        assert same(os.path.join(w, "segmenter.part00"), os.path.join(CK, "tiny-emoji-v1", "segmenter.part00"))
