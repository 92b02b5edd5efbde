"""How healthy is a base model's text encoder? Compares weight folders on CPU (docs/training.md, session 33).

Run 107 continued tiny-emoji-v1 and its text-only images stopped following the prompts. This reads, per
weight folder:
- `te_qk` per text layer (|W_q|·|W_k|, the bound on its attention logits, as the base trainer logs it);
- how distinct prompts stay: mean and min cosine between the mean-pooled embeddings of 36 different
  prompts, and the embedding's spread over a prompt's tokens, float and rounded as the int8 export stores it;
- the diffusion loss of the whole model on the same training batches (training subjects only), and for
  every text layer's query and key weights cos(−grad, W): positive means a descent step grows them.

    cd training && /usr/bin/python3 scripts/text_encoder_probe.py checkpoints/tiny-emoji-v1 RUN/weights [--batches 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dreamcache.eval.prompts import PROMPTS  # noqa: E402
from dreamcache.onnx_export import round_as_int8  # noqa: E402
from dreamcache.models import CLIPTextModel, UNet  # noqa: E402
from dreamcache.models.config import PRESETS  # noqa: E402
from dreamcache.schedule import alphas_cumprod, q_sample  # noqa: E402
from dreamcache.tokenizer_any import load_tokenizer  # noqa: E402
from dreamcache.train.base import TextToImage, diffusion_loss, load_base, load_vae, qk_scales  # noqa: E402
from dreamcache.train.common import seeded_generator  # noqa: E402
from dreamcache.train.data import make_generator  # noqa: E402

NAMES = ["a red apple", "a dog", "a teapot", "a guitar"]


def load_net(folder: str, cfg) -> TextToImage:
    net = TextToImage(UNet(cfg.unet), CLIPTextModel(cfg.text_encoder))
    load_base(net, folder)
    return net


def spread(te: CLIPTextModel, ids: torch.Tensor) -> tuple[float, float, float]:
    """(mean, min) cosine between different prompts' mean-pooled embeddings; mean std over tokens."""
    with torch.no_grad():
        e = te(ids)
    p = F.normalize(e.mean(1), dim=-1)
    off = (p @ p.T)[~torch.eye(len(p), dtype=torch.bool, device=p.device)]
    return off.mean().item(), off.min().item(), e.std(1).mean().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+", help="folders with unet and text_encoder parts")
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--webp", default=str(TRAINING.parent / ".carry" / "webp"))
    ap.add_argument("--vae", default=str(TRAINING / "checkpoints" / "vae-v3"))
    ap.add_argument("--tokenizer", default=str(TRAINING / "data" / "tokenizer.json"))
    ap.add_argument("--device", default="cpu", help="cuda on the GPU box: many batches in seconds")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    tok = load_tokenizer(a.tokenizer)
    cfg = PRESETS["tiny"](tok.vocab_size)
    cfg.unet.adapters = False
    nets = {w: load_net(w, cfg).to(a.device) for w in a.weights}
    texts = [p.text(n) for n in NAMES for p in PROMPTS[:25:3]]
    ids = tok.encode_batch(texts).to(a.device)
    for w, net in nets.items():
        layers = qk_scales(net.text_encoder)
        print(f"{w}\n  te_qk per layer {[round(x, 1) for x in layers.tolist()]} (max {layers.max().item():.1f})")
        m, lo, sd = spread(net.text_encoder, ids)
        i8 = CLIPTextModel(cfg.text_encoder).to(a.device)
        i8.load_state_dict(net.text_encoder.state_dict())
        round_as_int8(i8)
        m8, lo8, sd8 = spread(i8, ids)
        print(f"  prompts' cosine mean {m:.3f} min {lo:.3f}, token std {sd:.3f}; "
              f"int8: {m8:.3f} / {lo8:.3f} / {sd8:.3f}")
    # the same training batches for every folder
    gen = make_generator(argparse.Namespace(webp=a.webp, subjects=None, size=128), a.device, "train")
    vae = load_vae(a.vae, "tiny", a.device)
    acp = alphas_cumprod().to(a.device)
    losses = {w: [] for w in nets}
    cos = {w: {} for w in nets}
    for i in range(a.batches):
        g = seeded_generator(7, 0, i, a.device)
        b = gen.batch(a.batch, g)
        tid = tok.encode_batch(b["caption"]).to(a.device)
        with torch.no_grad():
            x0 = vae.encode_moments(b["target"])[0].float() * vae.config.scaling_factor
        t = torch.randint(0, acp.shape[0], (a.batch,), generator=g, device=a.device)
        noise = torch.randn(x0.shape, generator=g, device=a.device)
        x_t = q_sample(x0, t, noise, acp)
        for w, net in nets.items():   # the base trainer's loss at its default min-SNR 5
            net.zero_grad()
            loss = diffusion_loss(net(x_t, t.float(), tid), noise, t, acp, 5.0)
            loss.backward()
            losses[w].append(loss.item())
            for k, p in net.text_encoder.named_parameters():
                if k.endswith(("q_proj.weight", "k_proj.weight")):
                    c = torch.dot(-p.grad.flatten(), p.detach().flatten()) / (p.grad.norm() * p.norm() + 1e-12)
                    cos[w].setdefault(k.replace("text_model.encoder.", ""), []).append(round(c.item(), 3))
    for w in nets:
        print(f"{w}\n  loss per batch {[round(x, 4) for x in losses[w]]} (mean {sum(losses[w]) / len(losses[w]):.4f})")
        for k, v in cos[w].items():
            print(f"  {k:32} cos(-grad, W) {v}")


if __name__ == "__main__":
    main()
