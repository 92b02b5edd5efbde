"""Model configurations. Field names follow diffusers/transformers configs where one exists,
so a full-size SD 1.5 folder maps onto them without translation."""
from dataclasses import dataclass, field, asdict
from typing import Tuple, Union


@dataclass
class UNetConfig:
    sample_size: int = 16
    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: Tuple[int, ...] = (320, 640, 1280, 1280)
    down_block_types: Tuple[str, ...] = ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",)
    up_block_types: Tuple[str, ...] = ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3
    layers_per_block: int = 2
    num_attention_heads: Union[int, Tuple[int, ...]] = 8
    cross_attention_dim: int = 768
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    # DreamCache adapters in the mid block and every second decoder transformer block.
    adapters: bool = True
    # Memory attention with adapter_width × the block's heads, each of the block's head size
    # (inner dimension adapter_width × channels); 1 is the DreamCache paper's adapter.
    adapter_width: int = 1

    def heads(self, block_index: int) -> int:
        h = self.num_attention_heads
        return h if isinstance(h, int) else h[block_index]

    def to_dict(self):
        d = asdict(self)
        # Absent means 1: manifests and run metadata written at the default stay byte-identical
        # to those written before the field existed.
        if d["adapter_width"] == 1:
            del d["adapter_width"]
        return d


@dataclass
class VAEConfig:
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 4
    block_out_channels: Tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215
    sample_size: int = 512

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)

    def to_dict(self):
        return asdict(self)


@dataclass
class TextEncoderConfig:
    vocab_size: int = 49408
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    max_position_embeddings: int = 77
    layer_norm_eps: float = 1e-5
    hidden_act: str = "quick_gelu"

    def to_dict(self):
        return asdict(self)


@dataclass
class SegmenterConfig:
    input_size: int = 128
    channels: Tuple[int, ...] = (16, 32, 64, 96)
    context_layers: int = 0          # self-attention blocks at the bottleneck (models/segmenter.py)
    context_heads: int = 4

    def to_dict(self):
        return asdict(self)


@dataclass
class PackConfig:
    unet: UNetConfig = field(default_factory=UNetConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)


def sd15() -> PackConfig:
    """Stable Diffusion 1.5 (diffusers defaults above; 512 px, 64x64 latents)."""
    return PackConfig(
        unet=UNetConfig(sample_size=64),
        vae=VAEConfig(sample_size=512),
        text_encoder=TextEncoderConfig(),
        segmenter=SegmenterConfig(),
    )


def dev_tiny(vocab_size: int) -> PackConfig:
    """Random-weight development model: same graph shapes as the trained tiny model's family,
    small enough that CI runs it in seconds."""
    return PackConfig(
        unet=UNetConfig(
            sample_size=16,
            block_out_channels=(32, 64, 64),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            layers_per_block=2,
            num_attention_heads=2,
            cross_attention_dim=64,
            norm_num_groups=8,
        ),
        vae=VAEConfig(block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8,
                      sample_size=128),
        text_encoder=TextEncoderConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=256,
                                       num_hidden_layers=2, num_attention_heads=2),
        segmenter=SegmenterConfig(input_size=128, channels=(8, 16, 32)),
    )


def tiny(vocab_size: int) -> PackConfig:
    """The embedded model trained from scratch: 128 px images, f=8 VAE, 16x16x4 latents."""
    return PackConfig(
        unet=UNetConfig(
            sample_size=16,
            block_out_channels=(64, 128, 192),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            layers_per_block=2,
            num_attention_heads=(2, 4, 6),
            cross_attention_dim=192,
            norm_num_groups=32,
        ),
        vae=VAEConfig(block_out_channels=(32, 64, 96, 96), layers_per_block=1, norm_num_groups=32,
                      sample_size=128),
        text_encoder=TextEncoderConfig(vocab_size=vocab_size, hidden_size=192, intermediate_size=768,
                                       num_hidden_layers=4, num_attention_heads=3),
        segmenter=SegmenterConfig(input_size=128, channels=(16, 32, 64, 96)),
    )


def tiny_wide(vocab_size: int) -> PackConfig:
    """`tiny` with a U-Net of twice the parameters (25.8 M: channels ×1.5/×1.5/×1.33, head size 32):
    the candidate for a retrained base model. Stored as int8 (export --int8-storage unet) it keeps
    the embedded pack under 40 MB (docs/benchmarks.md "A bigger base U-Net")."""
    cfg = tiny(vocab_size)
    cfg.unet.block_out_channels = (96, 192, 256)
    cfg.unet.num_attention_heads = (3, 6, 8)
    return cfg


PRESETS = {"sd15": sd15, "dev-tiny": dev_tiny, "tiny": tiny, "tiny-wide": tiny_wide}
