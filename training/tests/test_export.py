"""Exporter + contract checker: every graph of an exported pack matches PyTorch in onnxruntime-web."""
import json
import os
import shutil

import numpy as np
import pytest
import torch

from dreamcache import ort_web, pack_check
from dreamcache.export import build_models, export_pack, randomize_adapters
from dreamcache.export import main as export_main
from dreamcache.models.config import dev_tiny
from dreamcache.models.vae import ScaledDecoder, ScaledEncoder
from weights_fixture import dev_tiny_weights

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZER = os.path.join(ROOT, "training", "data", "tokenizer.json")
DEV_PACK = os.path.join(ROOT, "public", "models", "dev-tiny")


def run_ort(tmp, model, inputs, outputs, data_file=None):
    """dreamcache.ort_web.run_ort, skipped where Node is missing (the GPU box, unless carried)."""
    try:
        return ort_web.run_ort(tmp, model, inputs, outputs, data_file)
    except ort_web.NodeMissing as e:
        pytest.skip(f"{e}: the parity check needs it")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("pack"))
    tok = json.load(open(TOKENIZER))
    cfg = dev_tiny(len(tok["model"]["vocab"]) + 8)
    unet, vae, te, seg = build_models(cfg, seed=5)
    randomize_adapters(unet, scale=0.2)
    meta = {"name": "parity-test", "version": "0.0.1", "trained": False}
    manifest = export_pack(os.path.join(tmp, "pack"), cfg, unet, vae, te, seg, TOKENIZER, meta)
    return tmp, os.path.join(tmp, "pack"), manifest, cfg, (unet, vae, te, seg)


def max_diff(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def unet_case(layers, hidden_size, seed=0):
    """A batch-3 U-Net call (gate 0, 1, 1) on random latents and text, with two references
    concatenated along N so the dynamic cache length is exercised: the torch arguments
    (x, t, ctx, gate, caches) and the same values as the graph's feeds."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 16, 16, generator=g)
    t = torch.tensor([1.0, 250.0, 981.0])
    ctx = torch.randn(3, 77, hidden_size, generator=g)
    gate = torch.tensor([0.0, 1.0, 1.0])
    caches = {l["name"]: torch.randn(1, 2 * l["height"] * l["width"], l["channels"], generator=g) for l in layers}
    feeds = {"sample": x.numpy(), "timestep": t.numpy(), "encoder_hidden_states": ctx.numpy(), "adapter_gate": gate.numpy(),
             "encoder_row": np.arange(3, dtype=np.int64)}
    feeds.update({f"cache_{name}": c.numpy() for name, c in caches.items()})
    return (x, t, ctx, gate, caches), feeds


def test_exported_pack_passes_the_contract(exported):
    _, pack, manifest, _, _ = exported
    assert pack_check.check_pack(pack) == []
    assert [l["name"] for l in manifest["cache"]["layers"]] == ["mid", "dec1", "dec3", "dec5"]


def test_unet_matches_pytorch(exported):
    tmp, pack, manifest, cfg, (unet, _, _, _) = exported
    layers = manifest["cache"]["layers"]
    args, inputs = unet_case(layers, cfg.text_encoder.hidden_size)
    with torch.no_grad():
        ref, feats = unet(*args, return_features=True)
    names = [l["name"] for l in layers]
    out = run_ort(tmp, os.path.join(pack, "unet.onnx"), inputs, ["noise_pred"] + [f"features_{n}" for n in names])
    assert max_diff(out["noise_pred"], ref) < 1e-4
    for n in names:
        assert max_diff(out[f"features_{n}"], feats[n]) < 1e-4


def test_unet_shares_the_encoder_of_rows_that_differ_only_in_gate(exported):
    """A DreamCache step's rows [e_u, e_i, e_c] = (empty prompt, gate 0), (empty prompt, gate 1),
    (prompt, gate 1) on one latent: fed as 2 encoder rows fanned out by encoder_row [0, 0, 1], the
    graph gives what PyTorch gives for the 3 rows run through the whole U-Net each."""
    tmp, pack, manifest, cfg, (unet, _, _, _) = exported
    layers = manifest["cache"]["layers"]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1, 4, 16, 16, generator=g)
    text = torch.randn(2, 77, cfg.text_encoder.hidden_size, generator=g)  # empty prompt, prompt
    gate = torch.tensor([0.0, 1.0, 1.0])
    caches = {l["name"]: torch.randn(1, l["height"] * l["width"], l["channels"], generator=g) for l in layers}
    with torch.no_grad():
        full = unet(x.repeat(3, 1, 1, 1), torch.full((3,), 421.0), text[[0, 0, 1]], gate, caches)
        shared = unet(x.repeat(2, 1, 1, 1), torch.full((2,), 421.0), text, gate, caches,
                      encoder_row=torch.tensor([0, 0, 1]))
    assert max_diff(shared, full) < 1e-5
    assert max_diff(full[0], full[1]) > 1e-2  # the adapters do change e_i: the rows are not trivially equal
    feeds = {"sample": x.repeat(2, 1, 1, 1).numpy(), "timestep": np.full(2, 421.0, np.float32),
             "encoder_hidden_states": text.numpy(), "adapter_gate": gate.numpy(),
             "encoder_row": np.array([0, 0, 1], np.int64)}
    feeds.update({f"cache_{n}": c.numpy() for n, c in caches.items()})
    out = run_ort(tmp, os.path.join(pack, "unet.onnx"), feeds, ["noise_pred"])
    assert out["noise_pred"].shape == (3, 4, 16, 16)
    assert max_diff(out["noise_pred"], full) < 1e-4


def test_text_vae_segmenter_match_pytorch(exported):
    tmp, pack, _, cfg, (_, vae, te, seg) = exported
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg.text_encoder.vocab_size, (2, 77), generator=g)
    img = torch.rand(2, 3, 128, 128, generator=g) * 2 - 1
    lat = torch.randn(2, 4, 16, 16, generator=g)
    photo = torch.rand(1, 3, 128, 128, generator=g)
    with torch.no_grad():
        cases = [
            ("text_encoder.onnx", {"input_ids": ids.numpy()}, "last_hidden_state", te(ids)),
            ("vae_encoder.onnx", {"image": img.numpy()}, "latent", ScaledEncoder(vae)(img)),
            ("vae_decoder.onnx", {"latent": lat.numpy()}, "image", ScaledDecoder(vae)(lat)),
            ("segmenter.onnx", {"image": photo.numpy()}, "mask", seg(photo)),
        ]
    for f, inputs, out_name, ref in cases:
        out = run_ort(tmp, os.path.join(pack, f), inputs, [out_name])
        assert max_diff(out[out_name], ref) < 1e-4, f


def test_checker_refuses_broken_packs(exported, tmp_path):
    _, pack, manifest, _, _ = exported
    bad = str(tmp_path / "bad")
    shutil.copytree(pack, bad)
    with open(os.path.join(bad, "segmenter.onnx"), "ab") as f:
        f.write(b"x")
    assert any("segmenter.onnx: size" in e for e in pack_check.check_pack(bad))
    m = dict(manifest)
    m["cache"] = {"timestep": 1, "layers": [{"name": "up3", "channels": 4, "height": 2, "width": 2}]}
    assert any("cache layer" in e for e in pack_check.check_manifest(m))
    m = json.loads(json.dumps(manifest))
    del m["graphs"]["segmenter"]
    assert "graphs.segmenter.fp32 is required" in pack_check.check_manifest(m)
    m = json.loads(json.dumps(manifest))
    m["files"][0]["path"] = "../escape.onnx"
    assert any("plain name" in e for e in pack_check.check_manifest(m))


@pytest.mark.skipif(not os.path.isdir(DEV_PACK), reason="development pack not built yet")
def test_committed_development_pack_is_valid():
    assert pack_check.check_pack(DEV_PACK) == []
    m = json.load(open(os.path.join(DEV_PACK, "manifest.json")))
    assert m["trained"] is False


EMBEDDED_PACK = os.path.join(ROOT, "public", "models", "tiny-emoji")
EMBEDDED_BUDGET_BYTES = 40_000_000   # issue 2: the app's default pack stays within 40 MB


@pytest.mark.skipif(not os.path.isdir(EMBEDDED_PACK), reason="embedded pack not in this checkout")
def test_committed_embedded_pack_is_valid_trained_and_within_budget():
    assert pack_check.check_pack(EMBEDDED_PACK) == []
    m = json.load(open(os.path.join(EMBEDDED_PACK, "manifest.json")))
    assert m["trained"] is True
    total = sum(f["bytes"] for f in m["files"]) + os.path.getsize(os.path.join(EMBEDDED_PACK, "manifest.json"))
    assert total <= EMBEDDED_BUDGET_BYTES, f"tiny-emoji is {total:,} bytes, over the {EMBEDDED_BUDGET_BYTES:,} budget"
    # an adapter-only upgrade lists earlier packs' fingerprints, never its own
    own = pack_check.pack_fingerprint(m)
    compat = m["cache"].get("compatibleFingerprints", [])
    assert own not in compat and len(set(compat)) == len(compat)


def _manifest_copy(**edits):
    m = json.load(open(os.path.join(DEV_PACK, "manifest.json")))
    for path, value in edits.items():
        *keys, last = path.split(".")
        d = m
        for k in keys:
            d = d[k]
        d[last] = value
    return m


def _set_sha(m, file_name, sha):
    next(f for f in m["files"] if f["path"] == file_name)["sha256"] = sha


def test_compatible_fingerprints_only_for_packs_that_make_the_same_caches():
    new = _manifest_copy(version="9.0.0")
    _set_sha(new, new["graphs"]["vae_decoder"]["fp32"], "d" * 64)  # a new decoder: caches unaffected
    old = _manifest_copy(version="8.0.0")
    older = _manifest_copy(version="7.0.0")
    old["cache"]["compatibleFingerprints"] = [pack_check.pack_fingerprint(older)]
    assert pack_check.compatible_fingerprints(new, [old]) == [pack_check.pack_fingerprint(old),
                                                             pack_check.pack_fingerprint(older)]
    m = dict(new, cache=dict(new["cache"], compatibleFingerprints=pack_check.compatible_fingerprints(new, [old])))
    assert pack_check.check_manifest(m) == []
    # anything a cache passes through differs: refused, naming it
    for edit, what in ((lambda o: _set_sha(o, o["graphs"]["unet"]["fp32"], "e" * 64), "graphs"),
                       (lambda o: _set_sha(o, o["graphs"]["vae_encoder"]["fp32"], "e" * 64), "graphs"),
                       (lambda o: _set_sha(o, o["tokenizer"]["file"], "e" * 64), "tokenizer"),
                       (lambda o: o["latent"].update(scalingFactor=0.5), "latent"),
                       (lambda o: o["cache"].update(timestep=600), "cache")):
        bad = _manifest_copy(version="8.0.0")
        edit(bad)
        with pytest.raises(ValueError, match=what):
            pack_check.compatible_fingerprints(new, [bad])


def _edit_weights(src: str, dst: str, stem: str, edit):
    from dreamcache.train.common import load_split, save_split
    shutil.copytree(src, dst)
    state = load_split(dst, stem)
    edit(state)
    save_split(state, dst, stem)


def test_new_adapters_keep_the_earlier_packs_caches_when_only_adapter_weights_differ(tmp_path):
    """--accept-caches-from across an adapter update: the exporter proves that the earlier unet.onnx
    differs only in adapter-dependent weights (gate 0, so caches, untouched) and lists its fingerprint;
    a changed base weight, or an earlier pack whose unet.onnx it cannot read, is refused."""
    from dreamcache.export import main as export_main
    w_old, w_new, w_base = (str(tmp_path / n) for n in ("w-old", "w-new", "w-base"))
    dev_tiny_weights(w_old, every_adapter_tensor=True)
    _edit_weights(w_old, w_new, "adapters", lambda st: [v.add_(0.01) for v in st.values()])
    _edit_weights(w_old, w_base, "unet", lambda st: st["conv_in.weight"].mul_(1.5))
    common = ["--preset", "dev-tiny", "--tokenizer", TOKENIZER, "--fp16-storage", "--name", "t"]
    old = str(tmp_path / "old")
    export_main(common + ["--weights", w_old, "--out", old, "--version", "1.0.0"])
    old_m = json.load(open(os.path.join(old, "manifest.json")))
    new = str(tmp_path / "new")
    export_main(common + ["--weights", w_new, "--out", new, "--version", "1.1.0",
                          "--accept-caches-from", os.path.join(old, "manifest.json")])
    new_m = json.load(open(os.path.join(new, "manifest.json")))
    unet_sha = lambda m: next(f["sha256"] for f in m["files"] if f["path"] == "unet.onnx")
    assert unet_sha(new_m) != unet_sha(old_m)
    assert new_m["cache"]["compatibleFingerprints"] == [pack_check.pack_fingerprint(old_m)]
    assert pack_check.check_pack(new) == []
    # in place: --out is the earlier pack's own folder, whose unet.onnx the export overwrites
    inplace = str(tmp_path / "inplace")
    shutil.copytree(old, inplace)
    export_main(common + ["--weights", w_new, "--out", inplace, "--version", "1.1.0",
                          "--accept-caches-from", os.path.join(inplace, "manifest.json")])
    assert json.load(open(os.path.join(inplace, "manifest.json")))["cache"]["compatibleFingerprints"] == \
        [pack_check.pack_fingerprint(old_m)]
    # a base weight changed: the caches change, refused with the reason
    with pytest.raises(SystemExit, match="non-adapter weight"):
        export_main(common + ["--weights", w_base, "--out", str(tmp_path / "base"), "--version", "1.2.0",
                              "--accept-caches-from", os.path.join(old, "manifest.json")])
    # the earlier manifest alone: the exporter cannot check the U-Net, so it refuses
    lone = str(tmp_path / "lone")
    os.makedirs(lone)
    shutil.copy(os.path.join(old, "manifest.json"), lone)
    with pytest.raises(SystemExit, match="not beside its manifest"):
        export_main(common + ["--weights", w_new, "--out", str(tmp_path / "lone-out"), "--version", "1.3.0",
                              "--accept-caches-from", os.path.join(lone, "manifest.json")])


def test_wider_adapters_are_refused_as_the_proof_needs_the_earlier_graph(tmp_path):
    """Growing the adapters (width 4 → 8 on the GPU box) changes the U-Net graph's nodes, so the
    exporter cannot prove the caches unchanged and refuses the earlier fingerprints: a width change
    costs users their subjects whatever the storage (docs/evaluation.md runbook)."""
    from dreamcache.export import main as export_main
    w_old, w_wide, wide = (str(tmp_path / n) for n in ("w-old", "w-wide", "wide-adapters"))
    dev_tiny_weights(w_old, every_adapter_tensor=True)
    dev_tiny_weights(wide, every_adapter_tensor=True, adapter_width=2)
    shutil.copytree(w_old, w_wide)      # the same base weights; only the adapters grow
    for f in os.listdir(w_wide):
        if f.startswith("adapters."):
            os.remove(os.path.join(w_wide, f))
    for f in os.listdir(wide):
        if f.startswith("adapters."):
            shutil.copy(os.path.join(wide, f), w_wide)
    common = ["--preset", "dev-tiny", "--tokenizer", TOKENIZER, "--fp16-storage", "--name", "t"]
    old = str(tmp_path / "old")
    export_main(common + ["--weights", w_old, "--out", old, "--version", "1.0.0"])
    with pytest.raises(SystemExit, match="graphs differ in their nodes"):
        export_main(common + ["--weights", w_wide, "--out", str(tmp_path / "wide"), "--version", "1.1.0",
                              "--accept-caches-from", os.path.join(old, "manifest.json")])


def test_gate0_check_notices_a_u_net_whose_gate_0_reads_adapter_weights():
    from dreamcache import unet_compat

    class Adapters(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def adapter_parameters(self):
            return [self.w]

    class Leaky(torch.nn.Module):
        """A graph whose gate-0 rows read an adapter weight: what the check must refuse."""
        def __init__(self):
            super().__init__()
            self.unet = Adapters()

        def forward(self, x, t, ctx, gate, row):
            return (x * self.unet.w.sum() + gate.sum(),)

    args = (torch.ones(2), None, None, torch.ones(2), None)
    m = Leaky()
    assert "changes with its adapter weights" in unet_compat.gate0_ignores_adapters(m, args)
    assert torch.equal(m.unet.w, torch.ones(3))     # the weights are restored after the check


def test_checker_refuses_malformed_compatible_fingerprints():
    m = _manifest_copy()
    m["cache"]["compatibleFingerprints"] = ["abc"]
    assert any("compatibleFingerprints" in e for e in pack_check.check_manifest(m))


def test_image_scale_ramp_is_written_and_checked(exported, tmp_path):
    """--image-scale-end becomes guidance.imageScaleEnd (the runtime's default ramp); without it the
    manifest has no such key (constant sI); the checker refuses a non-number."""
    _, _, _, cfg, models = exported
    meta = {"name": "ramp-test", "version": "0.0.1", "trained": False, "imageScale": 12.0, "imageScaleEnd": 6.0}
    m = export_pack(str(tmp_path / "ramp"), cfg, *models, TOKENIZER, meta)
    assert m["guidance"] == {"textScale": 7.5, "imageScale": 12.0, "imageScaleEnd": 6.0}
    assert pack_check.check_pack(str(tmp_path / "ramp")) == []
    assert "imageScaleEnd" not in _manifest_copy()["guidance"]
    m["guidance"]["imageScaleEnd"] = "6"
    assert "guidance.imageScaleEnd must be a number when present" in pack_check.check_manifest(m)


def test_self_views_are_written_and_checked(exported, tmp_path):
    """--self-views flip becomes cache.selfViews (the runtime caches each reference beside its mirror
    image); without it the manifest has no such key; views the runtime cannot make are refused."""
    _, _, _, cfg, models = exported
    meta = {"name": "views-test", "version": "0.0.1", "trained": False, "selfViews": ["flip"]}
    m = export_pack(str(tmp_path / "views"), cfg, *models, TOKENIZER, meta)
    assert m["cache"]["selfViews"] == ["flip"]
    assert pack_check.check_pack(str(tmp_path / "views")) == []
    assert "selfViews" not in _manifest_copy()["cache"]
    for bad in (["zoom"], ["flip", "flip"], "flip"):
        m["cache"]["selfViews"] = bad
        assert any("cache.selfViews" in e for e in pack_check.check_manifest(m))
    for bad in ("flip,zoom", "flip,flip"):
        with pytest.raises(SystemExit):
            export_main(["--preset", "dev-tiny", "--random", "--self-views", bad, "--out", str(tmp_path / "bad")])
    assert not os.path.exists(str(tmp_path / "bad"))
