"""VAE fine-tuning (train/vae.py --init-from/--anchor-weight/--chroma-weight/--crop) and the colour
probe (scripts/vae_colour_probe.py) that motivated it."""
import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch

from dreamcache.train import vae as V

TRAINING = Path(__file__).resolve().parents[1]
WEBP = TRAINING.parent / "node_modules" / "@lobehub" / "fluent-emoji-3d" / "assets"


def probe_module():
    spec = importlib.util.spec_from_file_location("vae_colour_probe", TRAINING / "scripts" / "vae_colour_probe.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_chroma_l1_ignores_luminance_and_sees_green():
    x = torch.rand(2, 3, 8, 8)
    assert V.chroma_l1(x + 0.1, x).item() < 1e-6            # a grey shift has no chroma
    greener = x.clone()
    greener[:, 1] += 0.2
    assert V.chroma_l1(greener, x).item() > 0.05


def test_random_crops_are_aligned_and_seeded():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    a = V.random_crops(x, 16, torch.Generator().manual_seed(3))
    b = V.random_crops(x, 16, torch.Generator().manual_seed(3))
    assert a.shape == (2, 3, 16, 16) and torch.equal(a, b)
    for i in range(2):   # every crop starts on the 8-pixel latent grid
        start = int(a[i, 0, 0, 0].item()) - i * 3 * 32 * 32
        assert (start // 32) % 8 == 0 and (start % 32) % 8 == 0
    assert V.random_crops(x, 32, torch.Generator()) is x


def test_opponent_axes_and_slopes():
    P = probe_module()
    rgb = torch.rand(4, 3, 6, 6)
    opp = P.opponent(rgb)
    assert torch.allclose((opp ** 2).sum(1), (rgb ** 2).sum(1), atol=1e-5)   # orthonormal
    mask = torch.ones(4, 1, 6, 6, dtype=torch.bool)
    same = P.axis_stats(rgb, rgb, mask)
    assert all(abs(v["slope"] - 1) < 1e-5 and v["rms"] < 1e-6 for v in same.values())
    # green–magenta flattened to its mean: that slope drops to 0, the others stay 1
    flat = P.opponent(rgb)
    flat[:, 2] = flat[:, 2].mean()
    m_t = P.opponent(torch.eye(3).view(3, 3, 1, 1)).view(3, 3)    # row j = M e_j, i.e. Mᵀ = M⁻¹
    back = torch.einsum("ij,bjhw->bihw", m_t, flat)
    stats = P.axis_stats(rgb, back, mask)
    assert abs(stats["green-magenta"]["slope"]) < 1e-4
    assert abs(stats["luma"]["slope"] - 1) < 1e-4 and abs(stats["warm-cool"]["slope"] - 1) < 1e-4


def test_fine_tune_keeps_the_scaling_factor_and_starts_at_zero_drift(tmp_path):
    if not WEBP.is_dir():
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    common = ["--webp", str(WEBP), "--preset", "dev-tiny", "--log-every", "1", "--eval-batches", "1", "--batch", "4"]
    V.main(common + ["--out", str(tmp_path / "vae"), "--max-steps", "1"])
    first = json.load(open(tmp_path / "vae" / "vae.json"))
    V.main(common + ["--out", str(tmp_path / "ft"), "--max-steps", "2", "--init-from", str(tmp_path / "vae"),
                     "--anchor-weight", "1", "--chroma-weight", "1", "--crop", "64"])
    meta = json.load(open(tmp_path / "ft" / "vae.json"))
    assert meta["scaling_factor"] == first["scaling_factor"]
    assert meta["init_from"] == str(tmp_path / "vae") and meta["crop"] == 64
    steps = [json.loads(l) for l in open(tmp_path / "ft" / "log.jsonl") if '"loss"' in l]
    # the first step's encoder is the anchor itself; the chroma term is logged
    assert steps[0]["latent_drift_rms"] < 1e-6 and steps[0]["chroma"] > 0
    with pytest.raises(SystemExit):
        V.main(common + ["--out", str(tmp_path / "bad"), "--anchor-weight", "1"])
    assert os.path.isfile(tmp_path / "ft" / "weights" / "vae.part00")


def test_decoder_only_fine_tune_keeps_every_latent(tmp_path):
    """--freeze-encoder: the decoder learns, the encoder (and so the U-Net's latent space) is unchanged."""
    if not WEBP.is_dir():
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    from dreamcache.train.base import load_vae
    common = ["--webp", str(WEBP), "--preset", "dev-tiny", "--log-every", "1", "--eval-batches", "1", "--batch", "4"]
    V.main(common + ["--out", str(tmp_path / "vae"), "--max-steps", "1"])
    V.main(common + ["--out", str(tmp_path / "dec"), "--max-steps", "2", "--lr", "1e-2", "--init-from",
                     str(tmp_path / "vae"), "--freeze-encoder", "--chroma-weight", "1"])
    before, after = load_vae(str(tmp_path / "vae"), "dev-tiny", "cpu"), load_vae(str(tmp_path / "dec"), "dev-tiny", "cpu")
    b, a = before.state_dict(), after.state_dict()
    assert all(torch.equal(b[k], a[k]) for k in b if k.startswith(("encoder.", "quant_conv.")))
    assert any(not torch.equal(b[k], a[k]) for k in b if k.startswith(("decoder.", "post_quant_conv.")))
    assert json.load(open(tmp_path / "dec" / "vae.json"))["freeze_encoder"] is True
    for bad in (["--freeze-encoder"], ["--freeze-encoder", "--init-from", str(tmp_path / "vae"), "--anchor-weight", "1"]):
        with pytest.raises(SystemExit):
            V.main(common + ["--out", str(tmp_path / "bad")] + bad)


class FoldedEncoder:
    """A stand-in encoder at f = 8 that keeps luma and warm–cool linearly but green–magenta only folded
    (its square, and a soft sign of it): what the probe found in the pack's VAE."""

    def encode_moments(self, x):
        probe = probe_module()
        o = probe.opponent(torch.nn.functional.avg_pool2d((x + 1) / 2, 8))
        gm = o[:, 2:3]
        return torch.cat([o[:, :2], gm * gm * 10, torch.tanh(30 * gm)], 1), None


def test_latent_readout_tells_a_folded_axis_from_a_linear_one():
    torch.manual_seed(0)
    out = probe_module().latent_readout(FoldedEncoder(), 64, n_train=512, n_test=256, steps=800)
    assert out["luma"]["linear_r2"] > 0.99 and out["warm-cool"]["linear_r2"] > 0.99
    gm = out["green-magenta"]
    assert gm["mlp_r2"] > 0.9 and gm["mlp_r2"] > gm["linear_r2"] + 0.05, gm


def test_patch_discriminator_scores_patches_and_hinge_saturates():
    from dreamcache.train import patch_gan as G
    disc = G.PatchDiscriminator()
    logits = disc(torch.rand(2, 3, 128, 128))
    assert logits.shape[:2] == (2, 1) and logits.shape[-1] > 1   # a map of patch scores, not one number
    sure = torch.full((2, 1, 4, 4), 3.0)
    assert G.hinge_d_loss(sure, -sure).item() == 0.0             # past the margins: nothing to learn
    assert G.hinge_d_loss(-sure, sure).item() == 4.0
    assert G.generator_loss(sure).item() == -3.0


def test_adaptive_weight_matches_the_gradient_scales_at_the_last_layer():
    from dreamcache.train import patch_gan as G
    torch.manual_seed(0)
    w = torch.randn(4, 4, requires_grad=True)
    y = torch.randn(8, 4) @ w
    rec, adv = y.abs().mean(), 50.0 * y.sum()
    k = G.adaptive_weight(rec, adv, w)
    g_rec = torch.autograd.grad(rec, w, retain_graph=True)[0].norm()
    g_adv = torch.autograd.grad(k * adv, w)[0].norm()
    assert not k.requires_grad and torch.allclose(g_rec, g_adv, rtol=1e-3)


def test_adversarial_decoder_fine_tune_logs_its_terms_and_resumes_its_discriminator(tmp_path):
    if not WEBP.is_dir():
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    from dreamcache.train.base import load_vae
    common = ["--webp", str(WEBP), "--preset", "dev-tiny", "--log-every", "1", "--eval-batches", "1", "--batch", "4"]
    V.main(common + ["--out", str(tmp_path / "vae"), "--max-steps", "1"])
    adv = common + ["--out", str(tmp_path / "gan"), "--init-from", str(tmp_path / "vae"), "--freeze-encoder",
                    "--adv-weight", "0.5", "--adv-start", "1"]
    V.main(adv + ["--max-steps", "2"])
    saved = torch.load(tmp_path / "gan" / "ckpt" / "state.pt")
    assert saved["step"] == 2 and "disc" in saved and "dopt" in saved
    V.main(adv + ["--max-steps", "3"])   # resumes model and discriminator
    rows = [json.loads(l) for l in open(tmp_path / "gan" / "log.jsonl") if '"loss"' in l]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert "g_loss" not in rows[0] and all("d_loss" in r for r in rows)   # step 0 < --adv-start
    assert all(r["adv_w"] > 0 and "g_loss" in r for r in rows[1:])
    resumed = torch.load(tmp_path / "gan" / "ckpt" / "state.pt")
    assert any(not torch.equal(saved["disc"][k], resumed["disc"][k]) for k in saved["disc"])
    before, after = load_vae(str(tmp_path / "vae"), "dev-tiny", "cpu"), load_vae(str(tmp_path / "gan"), "dev-tiny", "cpu")
    assert all(torch.equal(before.state_dict()[k], v) for k, v in after.state_dict().items() if k.startswith("encoder."))
    assert json.load(open(tmp_path / "gan" / "vae.json"))["adv_weight"] == 0.5
    with pytest.raises(SystemExit):
        V.main(common + ["--out", str(tmp_path / "bad"), "--adv-weight", "1"])   # no decoder to start from
