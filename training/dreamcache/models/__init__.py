from .config import PackConfig, UNetConfig, VAEConfig, TextEncoderConfig, SegmenterConfig, PRESETS
from .unet import UNet, is_adapter_param
from .vae import AutoencoderKL
from .text_encoder import CLIPTextModel
from .segmenter import Segmenter
from .attention import set_attention_backend
