"""Which colours survive the VAE? A round trip (posterior mean → decode) of flat colour patches and
of the held-out subjects' clean references, measured along three opponent axes:

  luma         (R + G + B) / √3
  warm–cool    (R − B) / √2          orange/red against blue
  green–magenta (2G − R − B) / √6    green against purple/pink

For each axis over the subjects' pixels (alpha > 0.5): the slope of reconstructed on original
(1 = the axis is kept, 0 = flattened to its mean) and the RMS error. Held-out subjects are only
scored here (no training). CPU: about half a minute.

    cd training && /usr/bin/python3 scripts/vae_colour_probe.py --webp ../.carry/webp [--vae checkpoints/tiny-emoji-v1] \
        [--grid out.png] [--grid-vae other/vae] [--drift-from checkpoints/tiny-emoji-v1] [--latent-readout]

--grid writes a PNG: 12 held-out references (the benchmark's grid subjects) and the patches, each
row followed by its round trip (and by a second VAE's with --grid-vae), 256 colours.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Dict

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dreamcache.data.placement import warp  # noqa: E402
from dreamcache.eval.data import eval_generator, load_bank  # noqa: E402
from dreamcache.train.base import load_vae  # noqa: E402

HERE = os.path.dirname(__file__)
AXES = ("luma", "warm-cool", "green-magenta")
PATCHES = {"grey": (0.6, 0.6, 0.6), "red": (0.9, 0.2, 0.2), "orange": (0.95, 0.6, 0.2),
           "yellow": (0.95, 0.9, 0.3), "green": (0.45, 0.85, 0.45), "dark green": (0.1, 0.5, 0.2),
           "cyan": (0.2, 0.8, 0.85), "blue": (0.2, 0.3, 0.9), "purple": (0.6, 0.3, 0.8), "pink": (0.95, 0.5, 0.75)}


def opponent(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB → [..., 3, H, W] (luma, warm–cool, green–magenta), an orthonormal basis."""
    m = torch.tensor([[1 / math.sqrt(3)] * 3,
                      [1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)],
                      [-1 / math.sqrt(6), 2 / math.sqrt(6), -1 / math.sqrt(6)]], dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("ij,...jhw->...ihw", m, rgb)


def axis_stats(orig: torch.Tensor, rec: torch.Tensor, mask: torch.Tensor) -> Dict[str, Dict[str, float]]:
    """orig, rec [B, 3, H, W] RGB in [0, 1]; mask [B, 1, H, W] bool → per axis slope and RMS error."""
    o, r = opponent(orig), opponent(rec)
    out = {}
    for i, name in enumerate(AXES):
        x, y = o[:, i][mask[:, 0]], r[:, i][mask[:, 0]]
        xc = x - x.mean()
        slope = float((xc * (y - y.mean())).sum() / (xc * xc).sum().clamp_min(1e-12))
        out[name] = {"slope": slope, "rms": float((y - x).pow(2).mean().sqrt()), "spread": float(x.std())}
    return out


@torch.no_grad()
def round_trip(vae, x: torch.Tensor) -> torch.Tensor:
    """[B, 3, S, S] in [−1, 1] → the VAE's reconstruction from the posterior mean, in [−1, 1]."""
    return vae.decode(vae.encode_moments(x)[0]).clamp(-1, 1)


def patch_images(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """[n, 3] colours in [0, 1] → [n, 3, size, size]: each a flat square (the middle half) on white."""
    x = torch.ones(rgb.shape[0], 3, size, size)
    lo, hi = size // 4, 3 * size // 4
    x[:, :, lo:hi, lo:hi] = rgb.view(-1, 3, 1, 1)
    return x


def patch_table(vae, size: int) -> Dict[str, Dict[str, object]]:
    x = patch_images(torch.tensor(list(PATCHES.values())), size)
    lo, hi = size // 4, 3 * size // 4
    rec = (round_trip(vae, x * 2 - 1) + 1) / 2
    inner = slice(lo + size // 16, hi - size // 16)
    return {k: {"in": list(c), "out": [round(v, 3) for v in rec[i, :, inner, inner].mean((1, 2)).tolist()]}
            for i, (k, c) in enumerate(PATCHES.items())}


def subject_stats(vae, webp: str, size: int, n: int = 0) -> Dict[str, Dict[str, float]]:
    gen = heldout_generator(webp, size)
    idx = torch.arange(len(gen.bank) if n <= 0 else min(n, len(gen.bank)))
    orig, rec, masks = [], [], []
    for part in idx.split(32):
        img, mask = references(gen, part)
        orig.append(img)
        rec.append((round_trip(vae, img * 2 - 1) + 1) / 2)
        masks.append(mask)
    return axis_stats(torch.cat(orig), torch.cat(rec), torch.cat(masks))


def heldout_generator(webp: str, size: int):
    return eval_generator(load_bank(webp, "heldout", size, "cpu"), "cpu")


def references(gen, idx: torch.Tensor):
    """Clean references on white [B, 3, S, S] in [0, 1] and their subject masks, as the benchmark draws them."""
    k = idx.shape[0]
    layer = warp(gen._layers(idx), torch.full((k,), 0.85), torch.zeros(k), torch.zeros(k))
    return (1 - layer[:, 3:]) + layer[:, :3], layer[:, 3:] > 0.5


def write_grid(path: str, vaes, webp: str, size: int) -> None:
    from PIL import Image

    from dreamcache.eval.bench import spread
    gen = heldout_generator(webp, size)
    refs, _ = references(gen, torch.tensor(spread(len(gen.bank), 12)))
    patches = patch_images(torch.tensor(list(PATCHES.values())), size)
    rows = []
    for block in (refs, patches):
        rows.append(block)
        rows += [(round_trip(v, block * 2 - 1) + 1) / 2 for v in vaes]
    cols = max(r.shape[0] for r in rows)
    sheet = Image.new("RGB", (cols * size, len(rows) * size), "white")
    for y, row in enumerate(rows):
        for x, img in enumerate(row):
            arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            sheet.paste(Image.fromarray(arr), (x * size, y * size))
    sheet.quantize(256).save(path, optimize=True)


@torch.no_grad()
def latent_drift(vae, before, webp: str, size: int) -> Dict[str, float]:
    """RMS of the posterior-mean difference between two VAEs over the held-out references."""
    gen = heldout_generator(webp, size)
    sq, n, old = 0.0, 0, []
    for part in torch.arange(len(gen.bank)).split(32):
        img, _ = references(gen, part)
        m_new, m_old = vae.encode_moments(img * 2 - 1)[0], before.encode_moments(img * 2 - 1)[0]
        sq += float((m_new - m_old).pow(2).sum())
        n += m_new.numel()
        old.append(m_old.flatten())
    std = float(torch.cat(old).std())
    rms = math.sqrt(sq / n)
    return {"rms": rms, "std": std, "relative": rms / std}


@torch.no_grad()
def patch_latents(vae, n: int, size: int, g: torch.Generator):
    """n flat patches of uniform random RGB on white → (their opponent coordinates [n, 3], the posterior
    mean at the patch's centre [n, C])."""
    rgb = torch.rand(n, 3, generator=g)
    x = patch_images(rgb, size)
    c = size // 16  # the centre 2×2 … 4×4 latent pixels, well inside the patch at f = 8
    lat = torch.cat([vae.encode_moments(part * 2 - 1)[0] for part in x.split(64)])
    mid = lat.shape[-1] // 2
    return opponent(rgb.view(n, 3, 1, 1)).view(n, 3), lat[:, :, mid - c // 2:mid + c // 2 + 1, mid - c // 2:mid + c // 2 + 1].mean((2, 3))


def latent_readout(vae, size: int, n_train: int = 1536, n_test: int = 384, seed: int = 0,
                   steps: int = 3000) -> Dict[str, Dict[str, float]]:
    """Is a colour axis in the latent at all, or only lost by the decoder? R² on fresh patches of a
    linear read-out and of a small MLP read-out (2×128 GELU, fitted here) of each opponent axis from the
    latent of a flat patch. A high MLP R² with a low round-trip slope means the encoder keeps the axis
    folded and a decoder-only fine-tune can bring it back without touching the latent space."""
    g = torch.Generator().manual_seed(seed)
    y_tr, f_tr = patch_latents(vae, n_train, size, g)
    y_te, f_te = patch_latents(vae, n_test, size, g)
    mu, sd = f_tr.mean(0), f_tr.std(0).clamp_min(1e-6)
    f_tr, f_te = (f_tr - mu) / sd, (f_te - mu) / sd

    def r2(pred):
        return 1 - ((pred - y_te) ** 2).sum(0) / ((y_te - y_te.mean(0)) ** 2).sum(0)

    ones = lambda f: torch.cat([f, torch.ones(len(f), 1)], 1)
    linear = r2(ones(f_te) @ torch.linalg.lstsq(ones(f_tr), y_tr).solution)
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(f_tr.shape[1], 128), torch.nn.GELU(), torch.nn.Linear(128, 128),
                              torch.nn.GELU(), torch.nn.Linear(128, 3))
    opt = torch.optim.Adam(mlp.parameters(), 3e-3)
    for _ in range(steps):
        loss = (mlp(f_tr) - y_tr).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        nonlinear = r2(mlp(f_te))
    return {k: {"linear_r2": float(linear[i]), "mlp_r2": float(nonlinear[i])} for i, k in enumerate(AXES)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vae", default=os.path.join(HERE, "..", "checkpoints", "tiny-emoji-v1"),
                    help="folder with vae.json + vae.partNN (or a VAE run folder with weights/)")
    ap.add_argument("--webp", required=True)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--n", type=int, default=0, help="held-out subjects (0: all)")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    ap.add_argument("--grid", default=None, help="write a PNG of references/patches and their round trips")
    ap.add_argument("--grid-vae", default=None, help="a second VAE whose round trips the grid shows too")
    ap.add_argument("--drift-from", default=None,
                    help="another VAE (the one a fine-tune started from): how far this VAE's latents moved from "
                         "its latents on the held-out references (RMS, and as a share of its latent std)")
    ap.add_argument("--latent-readout", action="store_true",
                    help="also fit linear and MLP read-outs of each axis from flat patches' latents (~1 min)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    vae = load_vae(a.vae, a.preset, "cpu")
    size = vae.config.sample_size
    patches = patch_table(vae, size)
    subjects = subject_stats(vae, a.webp, size, a.n)
    print("| patch | in (RGB) | out (RGB) |\n|---|---|---|")
    for k, v in patches.items():
        print(f"| {k} | {tuple(v['in'])} | {tuple(v['out'])} |")
    print("\n| axis (held-out subjects' pixels) | spread (std) | slope kept | RMS error |\n|---|---|---|---|")
    for k, v in subjects.items():
        print(f"| {k} | {v['spread']:.3f} | {v['slope']:.3f} | {v['rms']:.3f} |")
    drift = None
    if a.drift_from:
        drift = latent_drift(vae, load_vae(a.drift_from, a.preset, "cpu"), a.webp, size)
        print(f"\nlatent drift from {a.drift_from}: RMS {drift['rms']:.4f} = {drift['relative']:.3f} of its latent std "
              f"{drift['std']:.3f}")
    readout = None
    if a.latent_readout:
        readout = latent_readout(vae, size)
        print("\n| axis (flat patches) | latent → axis R², linear | R², MLP |\n|---|---|---|")
        for k, v in readout.items():
            print(f"| {k} | {v['linear_r2']:.3f} | {v['mlp_r2']:.3f} |")
    if a.grid:
        vaes = [vae] + ([load_vae(a.grid_vae, a.preset, "cpu")] if a.grid_vae else [])
        write_grid(a.grid, vaes, a.webp, size)
    if a.json:
        json.dump({"vae": a.vae, "patches": patches, "heldout_subjects": subjects, "drift": drift,
                   "latent_readout": readout},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
