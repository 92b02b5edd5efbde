"""Image–text encoder ("CLIP-like"): symmetric InfoNCE between generated images and captions.

Pairs per batch: each target with its caption, and each reference on white with the plain
subject phrase ("a dog"), so the image tower also knows cut-out subjects (CLIP-I-like compares
a generated image with its reference). Text side: the pack tokenizer (training/data/tokenizer.json).
Training subjects only. Held-out report: image→text and text→image top-1 among the batch's
captions (held-out subjects, fixed seed).

    torchrun --nproc_per_node=4 -m dreamcache.eval.train_clip --webp W --out runs/eval-clip --minutes 3
"""
import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.captions import article
from ..data.subjects import SUBJECTS_JSON, load_subjects
from . import nets
from .trainer import add_args, heldout_batches, image_config, run, tokenizer


def clip_loss(zi, zt, scale):
    logits = scale * zi.float() @ zt.float().t()
    y = torch.arange(zi.shape[0], device=zi.device)
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.t(), y)) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(ap, batch=128)
    a = ap.parse_args(argv)
    tok = tokenizer(a)
    img_cfg = image_config(a)
    txt_cfg = nets.TextConfig(vocab_size=tok.vocab_size, width=a.text_width, heads=max(1, a.text_width // 32))

    def loss_fn(model, b, g):
        names = [article(model_labels[i]) for i in b["subject"].tolist()]
        ids = tok.encode_batch(list(b["caption"]) + names).to(b["target"].device)
        zi, zt, scale = model(torch.cat([b["target"], b["reference"]]), ids)
        return {"loss": clip_loss(zi, zt, scale), "scale": scale.detach()}

    def evaluate(model, gen, n_batches, batch):
        i2t = t2i = total = 0
        cos = []
        for b in heldout_batches(gen, n_batches, batch):
            zi, zt, _ = model(b["target"], tok.encode_batch(b["caption"]).to(gen.device))
            sim = zi @ zt.t()
            y = torch.arange(sim.shape[0], device=sim.device)
            # a caption repeated in the batch counts as a hit for either image
            same = torch.tensor([[x == z for z in b["caption"]] for x in b["caption"]], device=sim.device)
            i2t += same[y, sim.argmax(1)].sum().item()
            t2i += same[sim.argmax(0), y].sum().item()
            cos.append(sim.diagonal())
            total += sim.shape[0]
        return {"image_to_text_top1": i2t / total, "text_to_image_top1": t2i / total, "candidates": batch,
                "queries": total, "mean_matched_cosine": torch.cat(cos).mean().item()}

    # SubjectBank.load keeps load_subjects' order, so bank index i has label model_labels[i]
    model_labels = [s.label for s in load_subjects(Path(a.subjects or SUBJECTS_JSON), split="train")]
    run("clip", a, {"image": img_cfg.to_dict(), "text": txt_cfg.to_dict(), "objective": "infonce"},
        nets.ClipModel(img_cfg, txt_cfg), loss_fn, evaluate)


if __name__ == "__main__":
    main()
