"""Read a diffusers-layout Stable Diffusion 1.x folder into this project's models.

    SRC/unet/config.json          + diffusion_pytorch_model[.fp16].safetensors | .bin | .safetensors.index.json
    SRC/vae/config.json           + diffusion_pytorch_model…
    SRC/text_encoder/config.json  + model[.fp16].safetensors | pytorch_model[.fp16].bin
    SRC/tokenizer/vocab.json, merges.txt
    SRC/scheduler/scheduler_config.json (optional)

Every config field that changes the architecture is checked against what the models here
implement; every weight must be present once with the shape the model expects."""
import json
import os
from typing import Dict, List, Optional, Tuple

import torch

from .models import AutoencoderKL, CLIPTextModel, UNet, is_adapter_param
from .models.config import TextEncoderConfig, UNetConfig, VAEConfig
from .safetensors_io import read_safetensors


class ConversionError(Exception):
    """The source folder is not an SD 1.x model this converter can translate (the message says why)."""


WEIGHT_STEMS = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model"}
# transformers names torch pickles pytorch_model.bin, safetensors model.safetensors.
BIN_STEMS = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "pytorch_model"}
IGNORED_KEYS = {"text_model.embeddings.position_ids"}
# Older diffusers VAEs name the mid-block attention as the original LDM code did.
_VAE_LEGACY = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def read_config(folder: str) -> Dict:
    p = os.path.join(folder, "config.json")
    if not os.path.isfile(p):
        raise ConversionError(f"{p} is missing")
    try:
        return json.load(open(p, encoding="utf-8"))
    except ValueError as err:
        raise ConversionError(f"{p} is not valid JSON: {err}") from None


def weight_file(folder: str, component: str) -> str:
    """Full-precision file first, then the fp16 variant; safetensors before pickles."""
    s, b = WEIGHT_STEMS[component], BIN_STEMS[component]
    names = [f"{s}.safetensors", f"{s}.safetensors.index.json", f"{b}.bin", f"{b}.bin.index.json",
             f"{s}.fp16.safetensors", f"{s}.fp16.safetensors.index.json", f"{b}.fp16.bin"]
    for n in names:
        p = os.path.join(folder, n)
        if os.path.isfile(p):
            return p
    raise ConversionError(f"{folder}: no weights (looked for {', '.join(names)})")


def _load_pickle(path: str) -> Dict[str, torch.Tensor]:
    try:
        # weights_only refuses arbitrary code in downloaded pickles (torch >= 1.13).
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:
        sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ConversionError(f"{path}: not a state dict")
    return sd


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Any of the weight layouts above → {name: float32 tensor} (integer buffers kept as they are)."""
    if path.endswith(".index.json"):
        index = json.load(open(path, encoding="utf-8"))
        out: Dict[str, torch.Tensor] = {}
        for shard in sorted(set(index.get("weight_map", {}).values())):
            out.update(load_state_dict(os.path.join(os.path.dirname(path), shard)))
        return out
    sd = read_safetensors(path) if path.endswith(".safetensors") else _load_pickle(path)
    return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}


def _require(cfg: Dict, name: str, ok, want: str, component: str) -> None:
    if name in cfg and not ok(cfg[name]):
        raise ConversionError(f"{component}/config.json: {name}={cfg[name]!r} is not supported (need {want})")


def unet_config(cfg: Dict) -> UNetConfig:
    c = "unet"
    blocks = tuple(cfg.get("block_out_channels", ()))
    down, up = tuple(cfg.get("down_block_types", ())), tuple(cfg.get("up_block_types", ()))
    if not blocks or len(down) != len(blocks) or len(up) != len(blocks):
        raise ConversionError("unet/config.json: block_out_channels, down_block_types and up_block_types must have one entry per level")
    for t in down:
        if t not in ("CrossAttnDownBlock2D", "DownBlock2D"):
            raise ConversionError(f"unet/config.json: down block {t!r} is not supported")
    for t in up:
        if t not in ("CrossAttnUpBlock2D", "UpBlock2D"):
            raise ConversionError(f"unet/config.json: up block {t!r} is not supported")
    _require(cfg, "mid_block_type", lambda v: v in (None, "UNetMidBlock2DCrossAttn"), "UNetMidBlock2DCrossAttn", c)
    _require(cfg, "use_linear_projection", lambda v: v is False, "false (SD 2.x style linear proj_in is not implemented)", c)
    _require(cfg, "only_cross_attention", lambda v: v in (False, None) or (isinstance(v, list) and not any(v)), "false", c)
    _require(cfg, "dual_cross_attention", lambda v: v is False, "false", c)
    _require(cfg, "upcast_attention", lambda v: v in (False, None), "false", c)
    _require(cfg, "center_input_sample", lambda v: v is False, "false", c)
    _require(cfg, "flip_sin_to_cos", lambda v: v is True, "true", c)
    _require(cfg, "freq_shift", lambda v: v == 0, "0", c)
    _require(cfg, "act_fn", lambda v: v == "silu", "silu", c)
    _require(cfg, "class_embed_type", lambda v: v is None, "null", c)
    _require(cfg, "addition_embed_type", lambda v: v is None, "null", c)
    _require(cfg, "encoder_hid_dim", lambda v: v is None, "null", c)
    _require(cfg, "time_embedding_type", lambda v: v == "positional", "positional", c)
    _require(cfg, "resnet_time_scale_shift", lambda v: v == "default", "default", c)
    _require(cfg, "transformer_layers_per_block", lambda v: v == 1 or (isinstance(v, list) and set(v) == {1}), "1", c)
    _require(cfg, "conv_in_kernel", lambda v: v == 3, "3", c)
    _require(cfg, "conv_out_kernel", lambda v: v == 3, "3", c)
    _require(cfg, "downsample_padding", lambda v: v == 1, "1", c)
    _require(cfg, "mid_block_scale_factor", lambda v: v == 1, "1", c)
    # diffusers' SD 1.x configs store the head count under attention_head_dim (a historical
    # misnomer diffusers keeps reading the same way): num_attention_heads wins when set.
    heads = cfg.get("num_attention_heads") or cfg.get("attention_head_dim") or 8
    heads = tuple(heads) if isinstance(heads, list) else int(heads)
    return UNetConfig(
        sample_size=int(cfg.get("sample_size", 64)), in_channels=int(cfg.get("in_channels", 4)),
        out_channels=int(cfg.get("out_channels", 4)), block_out_channels=blocks, down_block_types=down,
        up_block_types=up, layers_per_block=int(cfg.get("layers_per_block", 2)), num_attention_heads=heads,
        cross_attention_dim=int(cfg.get("cross_attention_dim", 768)), norm_num_groups=int(cfg.get("norm_num_groups", 32)),
        norm_eps=float(cfg.get("norm_eps", 1e-5)), adapters=True)


def vae_config(cfg: Dict) -> VAEConfig:
    c = "vae"
    blocks = tuple(cfg.get("block_out_channels", ()))
    if not blocks:
        raise ConversionError("vae/config.json: block_out_channels is missing")
    _require(cfg, "down_block_types", lambda v: all(t == "DownEncoderBlock2D" for t in v), "DownEncoderBlock2D", c)
    _require(cfg, "up_block_types", lambda v: all(t == "UpDecoderBlock2D" for t in v), "UpDecoderBlock2D", c)
    _require(cfg, "act_fn", lambda v: v == "silu", "silu", c)
    _require(cfg, "mid_block_add_attention", lambda v: v is True, "true", c)
    _require(cfg, "use_quant_conv", lambda v: v is True, "true", c)
    _require(cfg, "use_post_quant_conv", lambda v: v is True, "true", c)
    # scaling_factor arrived in diffusers' configs after SD 1.5 shipped: older folders lack it.
    return VAEConfig(in_channels=int(cfg.get("in_channels", 3)), out_channels=int(cfg.get("out_channels", 3)),
                     latent_channels=int(cfg.get("latent_channels", 4)), block_out_channels=blocks,
                     layers_per_block=int(cfg.get("layers_per_block", 2)), norm_num_groups=int(cfg.get("norm_num_groups", 32)),
                     scaling_factor=float(cfg.get("scaling_factor", 0.18215)), sample_size=int(cfg.get("sample_size", 512)))


def text_encoder_config(cfg: Dict) -> TextEncoderConfig:
    c = "text_encoder"
    _require(cfg, "hidden_act", lambda v: v in ("quick_gelu", "gelu"), "quick_gelu or gelu", c)
    arch = cfg.get("architectures") or ["CLIPTextModel"]
    if not any(a.startswith("CLIPTextModel") for a in arch):
        raise ConversionError(f"text_encoder/config.json: architectures {arch} is not a CLIP text model")
    return TextEncoderConfig(vocab_size=int(cfg.get("vocab_size", 49408)), hidden_size=int(cfg.get("hidden_size", 768)),
                             intermediate_size=int(cfg.get("intermediate_size", 3072)),
                             num_hidden_layers=int(cfg.get("num_hidden_layers", 12)),
                             num_attention_heads=int(cfg.get("num_attention_heads", 12)),
                             max_position_embeddings=int(cfg.get("max_position_embeddings", 77)),
                             layer_norm_eps=float(cfg.get("layer_norm_eps", 1e-5)),
                             hidden_act=cfg.get("hidden_act", "quick_gelu"))


def scheduler_settings(src: str) -> Dict:
    """The manifest's scheduler block from scheduler/scheduler_config.json (SD 1.5 values when absent)."""
    out = {"numTrainTimesteps": 1000, "betaSchedule": "scaled_linear", "betaStart": 0.00085, "betaEnd": 0.012,
           "predictionType": "epsilon"}
    p = os.path.join(src, "scheduler", "scheduler_config.json")
    if not os.path.isfile(p):
        return out
    cfg = json.load(open(p, encoding="utf-8"))
    if cfg.get("prediction_type", "epsilon") != "epsilon":
        raise ConversionError(f"scheduler: prediction_type {cfg['prediction_type']!r}: packs are epsilon-prediction only")
    if cfg.get("beta_schedule", "scaled_linear") not in ("linear", "scaled_linear"):
        raise ConversionError(f"scheduler: beta_schedule {cfg['beta_schedule']!r} is not linear or scaled_linear")
    if cfg.get("trained_betas"):
        raise ConversionError("scheduler: explicit trained_betas are not supported")
    out.update(numTrainTimesteps=int(cfg.get("num_train_timesteps", 1000)),
               betaSchedule=cfg.get("beta_schedule", "scaled_linear"),
               betaStart=float(cfg.get("beta_start", 0.00085)), betaEnd=float(cfg.get("beta_end", 0.012)))
    return out


def rename_vae_key(k: str) -> str:
    parts = k.split(".")
    if "mid_block" in parts and "attentions" in parts:
        i = parts.index("attentions") + 2  # mid_block.attentions.0.<name>.weight
        if i < len(parts) and parts[i] in _VAE_LEGACY:
            parts[i:i + 1] = _VAE_LEGACY[parts[i]].split(".")
    return ".".join(parts)


def _fit(name: str, value: torch.Tensor, want: torch.Size) -> torch.Tensor:
    # Some converted VAEs keep the LDM 1×1-conv form of the attention projections.
    if value.shape != want and value.dim() == 4 and value.shape[2:] == (1, 1) and value.shape[:2] == want:
        return value[:, :, 0, 0]
    return value


def load_into(model: torch.nn.Module, sd: Dict[str, torch.Tensor], component: str,
              allow_missing=lambda k: False) -> List[str]:
    """Copies sd into model after checking names, shapes and finiteness; returns the names loaded."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not allow_missing(k)]
    unexpected = [k for k in sd if k not in own]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected[:8])}{' …' if len(unexpected) > 8 else ''}")
    fitted = {}
    for k, v in sd.items():
        if k not in own:
            continue
        v = _fit(k, v, own[k].shape)
        if v.shape != own[k].shape:
            problems.append(f"{k}: shape {list(v.shape)} != expected {list(own[k].shape)}")
        elif v.is_floating_point() and not torch.isfinite(v).all():
            problems.append(f"{k}: contains NaN or Inf")
        fitted[k] = v
    if problems:
        raise ConversionError(f"{component} weights do not match the {component} config:\n  " + "\n  ".join(problems[:20]))
    with torch.no_grad():
        for k, v in fitted.items():
            own[k].copy_(v.to(own[k].dtype))
    return sorted(fitted)


def load_adapters(unet: UNet, path: str) -> int:
    """DreamCache adapter weights (keys as UNet.named_parameters, optional `unet.` prefix). All
    adapter parameters must be present; base weights in the file are refused so an adapter file
    can never silently replace the model it was trained for."""
    sd = read_safetensors(path) if path.endswith(".safetensors") else _load_pickle(path)
    sd = {(k[5:] if k.startswith("unet.") else k): v.float() for k, v in sd.items()}
    base = [k for k in sd if not is_adapter_param(k)]
    if base:
        raise ConversionError(f"{path}: {len(base)} keys are not adapter weights: {', '.join(base[:5])}")
    want = {n for n, _ in unet.named_parameters() if is_adapter_param(n)}
    missing = sorted(want - set(sd))
    extra = sorted(set(sd) - want)
    if missing or extra:
        raise ConversionError(f"{path}: adapter keys do not match this U-Net "
                              f"(missing {missing[:5]}, unknown {extra[:5]}): trained for another architecture?")
    load_into(unet, sd, "adapter", allow_missing=lambda k: not is_adapter_param(k))
    return sum(v.numel() for v in sd.values())


def load_sd_folder(src: str, adapters: Optional[str] = None) -> Tuple[UNet, AutoencoderKL, CLIPTextModel, Dict]:
    """Builds and fills the three models; returns them and a report {component: weight file}."""
    if not os.path.isdir(src):
        raise ConversionError(f"{src} is not a folder")
    report: Dict = {}
    ucfg = unet_config(read_config(os.path.join(src, "unet")))
    vcfg = vae_config(read_config(os.path.join(src, "vae")))
    tcfg = text_encoder_config(read_config(os.path.join(src, "text_encoder")))
    if ucfg.cross_attention_dim != tcfg.hidden_size:
        raise ConversionError(f"unet cross_attention_dim {ucfg.cross_attention_dim} != text encoder hidden_size {tcfg.hidden_size}")
    if ucfg.in_channels != vcfg.latent_channels:
        raise ConversionError(f"unet in_channels {ucfg.in_channels} != vae latent_channels {vcfg.latent_channels}")
    unet, vae, te = UNet(ucfg), AutoencoderKL(vcfg), CLIPTextModel(tcfg)
    for comp, model, rename, allow in (
            ("unet", unet, lambda k: k, is_adapter_param),
            ("vae", vae, rename_vae_key, lambda k: False),
            ("text_encoder", te, lambda k: k, lambda k: False)):
        path = weight_file(os.path.join(src, comp), comp)
        sd = {rename(k): v for k, v in load_state_dict(path).items() if k not in IGNORED_KEYS}
        load_into(model, sd, comp, allow_missing=allow)
        report[comp] = os.path.relpath(path, src)
        del sd
    if adapters:
        report["adapterParameters"] = load_adapters(unet, adapters)
        report["adapters"] = adapters
    for m in (unet, vae, te):
        m.eval()
    return unet, vae, te, report
