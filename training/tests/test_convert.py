"""SD 1.5 converter: diffusers-layout folder (safetensors / pickles, legacy VAE names, CLIP
vocab.json + merges.txt) → pack; the pack passes the contract and matches PyTorch in
onnxruntime-web; our module names match an independently written SD 1.5 key list."""
import contextlib
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from dreamcache import pack_check
from dreamcache.clip_tokenizer_json import TokenizerFilesError, clip_tokenizer_json
from dreamcache.convert_sd15 import convert
from dreamcache.diffusers_sd import ConversionError, rename_vae_key
from dreamcache.diffusers_writer import (adapter_state_dict, clip_style_vocab, round_to, write_sd_folder)
from dreamcache.export import randomize_adapters
from dreamcache.models import AutoencoderKL, CLIPTextModel, UNet
from dreamcache.models.config import TextEncoderConfig, UNetConfig, VAEConfig, sd15
from dreamcache.models.vae import ScaledDecoder, ScaledEncoder
from dreamcache.safetensors_io import read_safetensors, write_safetensors

from test_export import DEV_PACK, ROOT, max_diff, run_ort

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = ["a", "photo", "of", "cat", "dog", "on", "the", "beach", "red"]
VOCAB_SIZE = 1000


def small_models(seed=0):
    """SD architecture (CrossAttn down/up blocks, mid transformer, GEGLU, CLIP text, f=8 VAE), tiny widths."""
    torch.manual_seed(seed)
    # Two levels keep the ONNX export (most of this file's time) short; every SD block kind is there.
    ucfg = UNetConfig(sample_size=8, block_out_channels=(32, 64),
                      down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                      up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                      layers_per_block=2, num_attention_heads=2, cross_attention_dim=48, norm_num_groups=8)
    unet = UNet(ucfg).eval()
    randomize_adapters(unet, scale=0.2)
    vae = AutoencoderKL(VAEConfig(block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8,
                                  sample_size=64)).eval()
    te = CLIPTextModel(TextEncoderConfig(vocab_size=VOCAB_SIZE, hidden_size=48, intermediate_size=96,
                                         num_hidden_layers=2, num_attention_heads=2)).eval()
    round_to(unet, torch.float16)  # the U-Net is stored as F16: the reference holds the same values
    return unet, vae, te


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("sd"))
    unet, vae, te = small_models()
    vocab, merges = clip_style_vocab(WORDS, VOCAB_SIZE)
    src = os.path.join(tmp, "sd-small")
    write_sd_folder(src, unet, vae, te, vocab, merges, formats={"vae": "bin"}, dtypes={"unet": torch.float16},
                    legacy_vae=True)
    adapters = os.path.join(tmp, "adapters.safetensors")
    write_safetensors(adapters, adapter_state_dict(unet))
    out = os.path.join(tmp, "pack")
    # A tiny external-data threshold sends the U-Net down the >2 GB path (unet.onnx + unet.onnx.data).
    manifest = convert(src, out, adapters=adapters, segmenter_from=DEV_PACK, name="sd-small", fp16_storage=False,
                       external_over=1_000_000, log=lambda *_: None)
    return tmp, src, out, manifest, (unet, vae, te), vocab


def test_safetensors_roundtrip(tmp_path):
    ts = {"a": torch.randn(3, 4), "h": torch.randn(5).half(), "b": torch.randn(2, 2).to(torch.bfloat16),
          "i": torch.arange(7)[None], "scalar": torch.tensor(2.5)}
    p = str(tmp_path / "x.safetensors")
    write_safetensors(p, ts, {"format": "pt"})
    back = read_safetensors(p)
    assert list(back) == list(ts)
    for k, v in ts.items():
        want = v.float() if v.dtype == torch.bfloat16 else v
        assert back[k].dtype == want.dtype and back[k].shape == want.shape and torch.equal(back[k], want), k
    # Header layout per the format: u64 length, JSON, data; 8-byte aligned.
    raw = open(p, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and json.loads(raw[8:8 + n])["__metadata__"] == {"format": "pt"}


def test_legacy_vae_names_are_mapped():
    assert rename_vae_key("decoder.mid_block.attentions.0.query.weight") == "decoder.mid_block.attentions.0.to_q.weight"
    assert rename_vae_key("encoder.mid_block.attentions.0.proj_attn.bias") == "encoder.mid_block.attentions.0.to_out.0.bias"
    assert rename_vae_key("decoder.mid_block.attentions.0.group_norm.bias") == "decoder.mid_block.attentions.0.group_norm.bias"
    assert rename_vae_key("decoder.up_blocks.0.resnets.0.conv1.weight") == "decoder.up_blocks.0.resnets.0.conv1.weight"


def test_pack_passes_the_contract(converted):
    _, _, out, m, (unet, _, _), vocab = converted
    assert pack_check.check_pack(out) == []
    assert m["graphs"]["unet"] == {"fp32": "unet.onnx", "fp32Data": "unet.onnx.data"}
    assert sorted(os.listdir(out)) == ["manifest.json", "segmenter.onnx", "text_encoder.onnx", "tokenizer.json",
                                       "unet.onnx", "unet.onnx.data", "vae_decoder.onnx", "vae_encoder.onnx"]
    assert m["tokenizer"] == {"file": "tokenizer.json", "maxLength": 77, "padTokenId": vocab["<|endoftext|>"],
                              "bosTokenId": vocab["<|startoftext|>"], "eosTokenId": vocab["<|endoftext|>"],
                              "vocabSize": VOCAB_SIZE}
    assert m["image"]["size"] == 64 and m["trained"] is True
    assert [l["name"] for l in m["cache"]["layers"]] == ["mid", "dec1"]
    assert m["unet"]["adapterParameters"] == sum(p.numel() for p in unet.adapter_parameters())
    seg = open(os.path.join(DEV_PACK, "segmenter.onnx"), "rb").read()
    assert open(os.path.join(out, "segmenter.onnx"), "rb").read() == seg


def test_unet_matches_pytorch_in_onnxruntime_web(converted):
    tmp, _, out, m, (unet, _, _), _ = converted
    g = torch.Generator().manual_seed(0)
    layers = m["cache"]["layers"]
    x = torch.randn(3, 4, 8, 8, generator=g)
    t = torch.tensor([1.0, 250.0, 981.0])
    ctx = torch.randn(3, 77, 48, generator=g)
    gate = torch.tensor([0.0, 1.0, 1.0])
    caches = {l["name"]: torch.randn(1, 2 * l["height"] * l["width"], l["channels"], generator=g) for l in layers}
    with torch.no_grad():
        ref, feats = unet(x, t, ctx, gate, caches, return_features=True)
    names = [l["name"] for l in layers]
    inputs = {"sample": x.numpy(), "timestep": t.numpy(), "encoder_hidden_states": ctx.numpy(), "adapter_gate": gate.numpy(),
              "encoder_row": np.arange(3, dtype=np.int64)}
    inputs.update({f"cache_{n}": caches[n].numpy() for n in names})
    res = run_ort(tmp, os.path.join(out, "unet.onnx"), inputs,
                  ["noise_pred"] + [f"features_{n}" for n in names], os.path.join(out, "unet.onnx.data"))
    assert max_diff(res["noise_pred"], ref) < 1e-4
    for n in names:
        assert max_diff(res[f"features_{n}"], feats[n]) < 1e-4
    # The adapters really came from the file: the gate-1 rows differ from the base model's.
    with torch.no_grad():
        base = unet(x, t, ctx, torch.zeros(3), caches)
    assert max_diff(base[1:], ref[1:]) > 1e-3


def test_text_encoder_and_vae_match_pytorch(converted):
    tmp, _, out, _, (_, vae, te), _ = converted
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB_SIZE, (2, 77), generator=g)
    img = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    lat = torch.randn(1, 4, 8, 8, generator=g)
    with torch.no_grad():
        cases = [("text_encoder.onnx", {"input_ids": ids.numpy()}, "last_hidden_state", te(ids)),
                 ("vae_encoder.onnx", {"image": img.numpy()}, "latent", ScaledEncoder(vae)(img)),
                 ("vae_decoder.onnx", {"latent": lat.numpy()}, "image", ScaledDecoder(vae)(lat))]
    for f, inputs, name, ref in cases:
        assert max_diff(run_ort(tmp, os.path.join(out, f), inputs, [name])[name], ref) < 1e-4, f


def test_tokenizer_json_encodes_like_clip_in_huggingface_tokenizers(converted):
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the check runs @huggingface/tokenizers in Node")
    _, _, out, m, _, vocab = converted
    texts = ["a photo of a cat", "A  RED Dog on the BEACH!", ""]
    res = subprocess.run(["node", os.path.join(HERE, "tokenize_run.mjs"), os.path.join(out, "tokenizer.json"),
                          json.dumps(texts)], check=True, cwd=ROOT, capture_output=True, text=True, timeout=60)
    ids = json.loads(res.stdout)
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    v = lambda *ws: [vocab[w + "</w>"] for w in ws]
    assert ids[0] == [bos] + v("a", "photo", "of", "a", "cat") + [eos]
    assert ids[1] == [bos] + v("a", "red", "dog", "on", "the", "beach", "!") + [eos]
    assert ids[2] == [bos, eos]


def test_tokenizer_files_are_checked():
    vocab, merges = clip_style_vocab(WORDS, VOCAB_SIZE)
    with pytest.raises(TokenizerFilesError, match="not in vocab.json"):
        clip_tokenizer_json(vocab, merges + [("zz", "qq")])
    del vocab["<|startoftext|>"]
    with pytest.raises(TokenizerFilesError, match="startoftext"):
        clip_tokenizer_json(vocab, merges)


def test_converter_refuses_mismatched_weights(converted, tmp_path):
    _, src, _, _, (unet, _, _), _ = converted
    bad = str(tmp_path / "bad")
    subprocess.run(["cp", "-r", src, bad], check=True)
    sd = read_safetensors(os.path.join(bad, "unet", "diffusion_pytorch_model.safetensors"))
    del sd["conv_in.bias"]
    sd["mid_block.attentions.0.proj_in.weight"] = sd["mid_block.attentions.0.proj_in.weight"][:, :, 0, 0]
    write_safetensors(os.path.join(bad, "unet", "diffusion_pytorch_model.safetensors"), sd)
    with pytest.raises(ConversionError, match=r"1 missing: conv_in.bias(.|\n)*proj_in.weight: shape"):
        convert(bad, str(tmp_path / "p"), segmenter_from=DEV_PACK, log=lambda *_: None)
    cfg = json.load(open(os.path.join(src, "unet", "config.json")))
    cfg["use_linear_projection"] = True
    json.dump(cfg, open(os.path.join(bad, "unet", "config.json"), "w"))
    with pytest.raises(ConversionError, match="use_linear_projection"):
        convert(bad, str(tmp_path / "p"), segmenter_from=DEV_PACK, log=lambda *_: None)
    subprocess.run(["cp", os.path.join(src, "unet", "diffusion_pytorch_model.safetensors"), os.path.join(bad, "unet")], check=True)
    sched = os.path.join(bad, "scheduler", "scheduler_config.json")
    json.dump({"prediction_type": "v_prediction"}, open(sched, "w"))
    json.dump(json.load(open(os.path.join(src, "unet", "config.json"))), open(os.path.join(bad, "unet", "config.json"), "w"))
    with pytest.raises(ConversionError, match="epsilon"):
        convert(bad, str(tmp_path / "p"), segmenter_from=DEV_PACK, log=lambda *_: None)


def test_adapter_file_must_fit_the_unet(converted, tmp_path):
    _, src, _, _, (unet, _, _), _ = converted
    sd = adapter_state_dict(unet)
    k = next(iter(sd))
    bad = str(tmp_path / "a.safetensors")
    write_safetensors(bad, {kk: v for kk, v in sd.items() if kk != k})
    with pytest.raises(ConversionError, match="missing"):
        convert(src, str(tmp_path / "p"), adapters=bad, segmenter_from=DEV_PACK, log=lambda *_: None)
    write_safetensors(bad, {**sd, "conv_in.weight": torch.zeros(1)})
    with pytest.raises(ConversionError, match="not adapter weights"):
        convert(src, str(tmp_path / "p"), adapters=bad, segmenter_from=DEV_PACK, log=lambda *_: None)


@contextlib.contextmanager
def no_init():
    """Skips weight initialisation: the key test needs names and shapes only (860M params in < 1 s)."""
    classes = (nn.Linear, nn.modules.conv._ConvNd, nn.LayerNorm, nn.GroupNorm, nn.Embedding)
    saved = {c: c.reset_parameters for c in classes}
    for c in classes:
        c.reset_parameters = lambda self: None
    try:
        yield
    finally:
        for c, f in saved.items():
            c.reset_parameters = f


def read_key_fixture():
    sections, cur = {}, None
    for line in open(os.path.join(HERE, "fixtures", "sd15_keys.txt")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            cur = line[1:line.index("]")]
            sections[cur] = {}
            continue
        name, shape = line.split(" ")
        sections[cur][name] = tuple(int(s) for s in shape.split("x"))
    return sections


def test_sd15_names_and_shapes_match_diffusers():
    want = read_key_fixture()
    cfg = sd15()
    cfg.unet.adapters = False
    with no_init():
        models = {"unet": UNet(cfg.unet), "vae": AutoencoderKL(cfg.vae), "text_encoder": CLIPTextModel(cfg.text_encoder)}
    for section, model in models.items():
        got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert sorted(set(want[section]) - set(got)) == [], f"{section}: missing"
        assert sorted(set(got) - set(want[section])) == [], f"{section}: extra"
        assert {k: s for k, s in got.items() if want[section][k] != s} == {}, f"{section}: shapes"
    assert sum(int(np.prod(s)) for s in want["unet"].values()) == 859_520_964


def test_graphs_torch_spilled_into_many_files_become_one_data_file(tmp_path):
    """torch writes a >2 GB export as one external file per tensor; the pack wants one."""
    import onnx
    from dreamcache.pack_graphs import external_files, place_graph
    from dreamcache.onnx_export import export_graph
    lin = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 8))
    src = tmp_path / "export"
    src.mkdir()
    p = str(src / "g.onnx")
    export_graph(lin, (torch.randn(2, 64),), p, ["x"], ["y"], {})
    m = onnx.load(p)
    onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
    assert len(external_files(p)) >= 4
    out = tmp_path / "pack"
    out.mkdir()
    data = place_graph(p, str(out), "g.onnx", external_over=10 ** 9)
    assert data == "g.onnx.data" and sorted(os.listdir(out)) == ["g.onnx", "g.onnx.data"]
    assert external_files(str(out / "g.onnx")) == ["g.onnx.data"]
    x = torch.randn(2, 64)
    got = run_ort(str(tmp_path), str(out / "g.onnx"), {"x": x.numpy()}, ["y"], str(out / "g.onnx.data"))
    with torch.no_grad():
        assert max_diff(got["y"], lin(x)) < 1e-5


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_float16_graphs_need_cuda(converted, tmp_path):
    from dreamcache.convert_sd15 import add_fp16_graphs
    _, src, out, _, _, _ = converted
    with pytest.raises(ConversionError, match="CUDA"):
        convert(src, str(tmp_path / "p"), segmenter_from=DEV_PACK, fp16_graph=True, log=lambda *_: None)
    with pytest.raises(ConversionError, match="CUDA"):
        add_fp16_graphs(src, out, os.path.join(os.path.dirname(src), "adapters.safetensors"), log=lambda *_: None)
    assert pack_check.check_pack(out) == []
