"""Subject-identity encoder ("DINO-like"): supervised contrastive learning over subject identity.

Each batch gives three views per sample — the generated target (scene, modifier, pose), the
reference on white (augmented) and the target's subject cut onto white with its exact mask — and
every view of the same subject is a positive (SupCon, τ = 0.1). Training subjects only.
Held-out report: retrieval top-1 of held-out targets against one clean reference per held-out
subject (all 160 are candidates), plain and cut onto white.

    torchrun --nproc_per_node=4 -m dreamcache.eval.train_identity --webp W --out runs/eval-identity --minutes 3
"""
import argparse

import torch

from . import nets
from .data import clean_reference
from .trainer import add_args, heldout_batches, image_config, run

TAU = 0.1


def on_white(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[−1, 1] image with everything outside mask made white."""
    return img * mask + (1 - mask)


def supcon(z: torch.Tensor, labels: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    z = z.float()
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.t() / tau).masked_fill(eye, float("-inf"))
    pos = (labels[:, None] == labels[None]) & ~eye
    logp = logits.log_softmax(1).masked_fill(~pos, 0.0)
    return (-logp.sum(1) / pos.sum(1).clamp(min=1)).mean()


def loss_fn(model, b, g):
    views = torch.cat([b["target"], b["reference"], on_white(b["target"], b["mask"])])
    labels = b["subject"].repeat(3)
    return {"loss": supcon(model(views), labels)}


def evaluate(model, gen, n_batches, batch):
    subjects = torch.arange(len(gen.bank), device=gen.device)
    refs = torch.cat([model(clean_reference(gen, subjects[i:i + 256])) for i in range(0, len(subjects), 256)])
    hits = hits_white = total = 0
    pos = []
    for b in heldout_batches(gen, n_batches, batch):
        for key, img in (("plain", b["target"]), ("white", on_white(b["target"], b["mask"]))):
            z = model(img)
            sim = z @ refs.t()
            ok = (sim.argmax(1) == b["subject"]).sum().item()
            if key == "plain":
                hits += ok
                pos.append(sim.gather(1, b["subject"][:, None]).flatten())
            else:
                hits_white += ok
        total += len(b["caption"])
    return {"retrieval_top1": hits / total, "retrieval_top1_on_white": hits_white / total,
            "candidates": len(subjects), "queries": total, "mean_positive_cosine": torch.cat(pos).mean().item()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(ap, batch=128)
    a = ap.parse_args(argv)
    cfg = image_config(a)
    run("identity", a, {"image": cfg.to_dict(), "objective": "supcon", "tau": TAU}, nets.ConvEncoder(cfg),
        loss_fn, evaluate)


if __name__ == "__main__":
    main()
