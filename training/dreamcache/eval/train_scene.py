"""Scene / modifier classifier: a text-control sanity check. Heads over SCENES (28) and
MODIFIERS (8, plus "none") on generated targets of training subjects; cross-entropy on both.
Held-out report: scene accuracy, modifier accuracy (all samples, and samples with a modifier)
on held-out subjects.

    torchrun --nproc_per_node=4 -m dreamcache.eval.train_scene --webp W --out runs/eval-scene --minutes 3
"""
import argparse

import torch.nn.functional as F

from . import nets
from .trainer import add_args, heldout_batches, image_config, run


def loss_fn(model, b, g):
    s, m = model(b["target"])
    ls = F.cross_entropy(s, b["scene"])
    lm = F.cross_entropy(m, b["modifier"] + 1)
    return {"loss": ls + lm, "scene_loss": ls.detach(), "modifier_loss": lm.detach()}


def evaluate(model, gen, n_batches, batch):
    sc = mo = mo_on = n_on = total = 0
    for b in heldout_batches(gen, n_batches, batch):
        s, m = model(b["target"])
        sc += (s.argmax(1) == b["scene"]).sum().item()
        ok = m.argmax(1) == b["modifier"] + 1
        mo += ok.sum().item()
        on = b["modifier"] >= 0
        mo_on += (ok & on).sum().item()
        n_on += on.sum().item()
        total += s.shape[0]
    return {"scene_accuracy": sc / total, "modifier_accuracy": mo / total,
            "modifier_accuracy_when_present": mo_on / max(1, n_on), "samples": total}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(ap, batch=128)
    a = ap.parse_args(argv)
    cfg = image_config(a)
    run("scene", a, {"image": cfg.to_dict(), "scenes": nets.N_SCENE, "modifiers": nets.N_MODIFIER},
        nets.SceneModifierNet(cfg), loss_fn, evaluate)


if __name__ == "__main__":
    main()
