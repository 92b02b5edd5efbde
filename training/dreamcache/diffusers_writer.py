"""Write in-memory models as a diffusers-layout SD 1.x folder (config.json field names as
diffusers / transformers write them). Used by the converter's tests and by the GPU benchmark,
which needs SD 1.5-shaped weights without downloading any."""
import json
import os
from typing import Dict, List, Tuple

import torch

from .models import AutoencoderKL, CLIPTextModel, UNet, is_adapter_param
from .safetensors_io import write_safetensors
from .tokenizer import bytes_to_unicode, END_OF_WORD

_LEGACY_VAE = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def unet_config_json(unet: UNet) -> Dict:
    c = unet.config
    heads = c.num_attention_heads if isinstance(c.num_attention_heads, int) else list(c.num_attention_heads)
    # SD 1.5's own file (diffusers 0.6): the head count sits under attention_head_dim.
    return {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
            "attention_head_dim": heads, "block_out_channels": list(c.block_out_channels), "center_input_sample": False,
            "cross_attention_dim": c.cross_attention_dim, "down_block_types": list(c.down_block_types),
            "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": c.in_channels,
            "layers_per_block": c.layers_per_block, "mid_block_scale_factor": 1, "norm_eps": c.norm_eps,
            "norm_num_groups": c.norm_num_groups, "out_channels": c.out_channels, "sample_size": c.sample_size,
            "up_block_types": list(c.up_block_types)}


def vae_config_json(vae: AutoencoderKL, with_scaling_factor: bool = False) -> Dict:
    c = vae.config
    n = len(c.block_out_channels)
    out = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu",
           "block_out_channels": list(c.block_out_channels), "down_block_types": ["DownEncoderBlock2D"] * n,
           "in_channels": c.in_channels, "latent_channels": c.latent_channels, "layers_per_block": c.layers_per_block,
           "norm_num_groups": c.norm_num_groups, "out_channels": c.out_channels, "sample_size": c.sample_size,
           "up_block_types": ["UpDecoderBlock2D"] * n}
    if with_scaling_factor:
        out["scaling_factor"] = c.scaling_factor
    return out


def text_encoder_config_json(te: CLIPTextModel) -> Dict:
    c = te.config
    return {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"],
            "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": c.hidden_act,
            "hidden_size": c.hidden_size, "initializer_factor": 1.0, "initializer_range": 0.02,
            "intermediate_size": c.intermediate_size, "layer_norm_eps": c.layer_norm_eps,
            "max_position_embeddings": c.max_position_embeddings, "model_type": "clip_text_model",
            "num_attention_heads": c.num_attention_heads, "num_hidden_layers": c.num_hidden_layers, "pad_token_id": 1,
            "projection_dim": c.hidden_size, "torch_dtype": "float32", "transformers_version": "4.22.0.dev0",
            "vocab_size": c.vocab_size}


SCHEDULER_CONFIG = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
                    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
                    "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
                    "steps_offset": 1, "trained_betas": None}


def clip_style_vocab(words: List[str], size: int) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """A CLIP-ordered vocabulary (bytes, bytes+</w>, merges, then <|startoftext|> <|endoftext|>)
    whose merges spell `words` letter by letter, padded with filler merges to exactly `size` ids."""
    syms = list(bytes_to_unicode().values())
    vocab: Dict[str, int] = {}
    for s in syms + [s + END_OF_WORD for s in syms]:
        vocab[s] = len(vocab)
    merges: List[Tuple[str, str]] = []

    def add(a, b):
        if a + b not in vocab:
            merges.append((a, b))
            vocab[a + b] = len(vocab)

    for w in words:
        parts = list(w)
        parts[-1] += END_OF_WORD
        acc = parts[0]
        for p in parts[1:]:
            add(acc, p)
            acc += p
    # Two-symbol merges over the byte alphabet: 65,536 distinct fillers, enough for CLIP's 49,408.
    filler = iter((a, b) for a in syms for b in syms)
    while len(vocab) < size - 2:
        a, b = next(filler)
        add(a, b)
    if len(vocab) != size - 2:
        raise ValueError(f"vocabulary of {size} is too small for the words given")
    vocab["<|startoftext|>"] = size - 2
    vocab["<|endoftext|>"] = size - 1
    return vocab, merges


def write_tokenizer(folder: str, vocab: Dict[str, int], merges: List[Tuple[str, str]], max_length: int = 77) -> None:
    os.makedirs(folder, exist_ok=True)
    json.dump(vocab, open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    tok = lambda t: {"__type": "AddedToken", "content": t, "lstrip": False, "normalized": True, "rstrip": False,
                     "single_word": False}
    json.dump({"add_prefix_space": False, "bos_token": tok("<|startoftext|>"), "do_lower_case": True,
               "eos_token": tok("<|endoftext|>"), "errors": "replace", "model_max_length": max_length,
               "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer", "unk_token": tok("<|endoftext|>")},
              open(os.path.join(folder, "tokenizer_config.json"), "w"), indent=2)
    json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}, open(os.path.join(folder, "special_tokens_map.json"), "w"), indent=2)


def base_state_dict(unet: UNet) -> Dict[str, torch.Tensor]:
    return {k: v for k, v in unet.state_dict().items() if not is_adapter_param(k)}


def adapter_state_dict(unet: UNet) -> Dict[str, torch.Tensor]:
    return {k: v for k, v in unet.state_dict().items() if is_adapter_param(k)}


def legacy_vae_names(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        for new, old in _LEGACY_VAE.items():
            k = k.replace(f"mid_block.attentions.0.{new}.", f"mid_block.attentions.0.{old}.")
        out[k] = v
    return out


def _save(sd: Dict[str, torch.Tensor], folder: str, stem_st: str, stem_bin: str, fmt: str, dtype) -> None:
    os.makedirs(folder, exist_ok=True)
    sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}
    if fmt == "safetensors":
        write_safetensors(os.path.join(folder, stem_st + ".safetensors"), sd, {"format": "pt"})
    else:
        torch.save(sd, os.path.join(folder, stem_bin + ".bin"))


def write_sd_folder(root: str, unet: UNet, vae: AutoencoderKL, te: CLIPTextModel, vocab: Dict[str, int],
                    merges: List[Tuple[str, str]], formats: Dict[str, str] = None, dtypes: Dict[str, torch.dtype] = None,
                    legacy_vae: bool = False) -> None:
    """formats: component -> "safetensors" | "bin"; dtypes: component -> stored float dtype."""
    formats = {"unet": "safetensors", "vae": "safetensors", "text_encoder": "safetensors", **(formats or {})}
    dtypes = {"unet": torch.float32, "vae": torch.float32, "text_encoder": torch.float32, **(dtypes or {})}
    os.makedirs(root, exist_ok=True)
    json.dump({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.6.0",
               "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
               "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
               "vae": ["diffusers", "AutoencoderKL"]}, open(os.path.join(root, "model_index.json"), "w"), indent=2)
    cfgs = {"unet": unet_config_json(unet), "vae": vae_config_json(vae), "text_encoder": text_encoder_config_json(te)}
    for comp, cfg in cfgs.items():
        os.makedirs(os.path.join(root, comp), exist_ok=True)
        json.dump(cfg, open(os.path.join(root, comp, "config.json"), "w"), indent=2)
    vsd = vae.state_dict()
    _save(base_state_dict(unet), os.path.join(root, "unet"), "diffusion_pytorch_model", "diffusion_pytorch_model",
          formats["unet"], dtypes["unet"])
    _save(legacy_vae_names(vsd) if legacy_vae else vsd, os.path.join(root, "vae"), "diffusion_pytorch_model",
          "diffusion_pytorch_model", formats["vae"], dtypes["vae"])
    tsd = dict(te.state_dict())
    # transformers < 4.31 saved this buffer; the converter must skip it.
    tsd["text_model.embeddings.position_ids"] = torch.arange(te.config.max_position_embeddings)[None]
    _save(tsd, os.path.join(root, "text_encoder"), "model", "pytorch_model", formats["text_encoder"], dtypes["text_encoder"])
    write_tokenizer(os.path.join(root, "tokenizer"), vocab, merges, 77)
    os.makedirs(os.path.join(root, "scheduler"), exist_ok=True)
    json.dump(SCHEDULER_CONFIG, open(os.path.join(root, "scheduler", "scheduler_config.json"), "w"), indent=2)


def round_to(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Rounds float weights in place to what storing them as dtype keeps (a bit-exact reference)."""
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.to(dtype).float())
