"""Batched synthetic triplets (caption, target, reference) and segmenter samples.

Everything is drawn with tensor ops on the bank's device; Python loops run over scene and
modifier ids (at most a few dozen per batch) and over captions, never over pixels.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from . import modifiers as M
from .bank import SubjectBank
from .captions import MODIFIERS, PAIR_JOINERS, SCENES, make_caption
from .imageops import bbox, gaussian_blur_per_sample, jpeg_like, lerp, saturate, soft_blur
from .placement import warp
from .rng import Rng
from .scenes import GROUND_SCENES, paint_scenes

N_SCENES = len(SCENES)
N_MODIFIERS = len(MODIFIERS)
MOD_ID = M.MOD_ID


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index == b.index or a.index is None or b.index is None)


class TripletGenerator:
    """Draws training triplets from one SubjectBank (so a train bank never yields held-out
    subjects, main or second)."""

    # Probabilities and ranges; documented in docs/training.md ("Triplet generator").
    p_modifier = 0.35
    p_second = 0.15
    p_scene_named = 0.85
    p_rotate = 0.4
    max_angle = 0.35            # radians (20°)
    p_shadow = 0.6
    ref_scale = (0.7, 0.95)     # subject's long side / frame side in the reference
    p_ref_jitter = 0.1
    p_ref_erase = 0.4
    # Adapter training sets this: the caption names the main subject only by its category noun
    # ("a photo of an animal on a beach"). 0 keeps the base model's captions and random stream.
    p_generic_name = 0.0
    # Adapter training may set this: the main subject gets one random hue/saturation map in both
    # target and reference (data/recolour.py), drawn from a forked generator so 0 keeps every
    # other draw of the batch as before.
    p_recolour = 0.0

    def __init__(self, bank: SubjectBank, size: int = 128,
                 device: Union[str, torch.device, None] = None):
        self.bank = bank
        self.size = size
        self.device = torch.device(device) if device is not None else bank.device
        if not _same_device(bank.device, self.device):
            self.bank = SubjectBank(bank.subjects, bank.rgba.to(self.device), bank.split)

    # -- helpers ---------------------------------------------------------------------------
    def _layers(self, idx: torch.Tensor) -> torch.Tensor:
        layer = self.bank.premultiplied(idx)
        if layer.shape[-1] != self.size:
            layer = torch.nn.functional.interpolate(layer, size=(self.size, self.size), mode="area"
                                                    if layer.shape[-1] > self.size else "bilinear",
                                                    align_corners=None if layer.shape[-1] > self.size else False)
        return layer

    # -- triplets --------------------------------------------------------------------------
    def batch(self, batch_size: int, generator: torch.Generator) -> Dict[str, object]:
        B, S, N = batch_size, self.size, len(self.bank)
        dev = self.device
        rc = None
        if self.p_recolour > 0:
            from .distractors import fork_generator
            rc = Rng(fork_generator(generator), dev)   # forked before any draw of the batch
        r = Rng(generator, self.device)

        subject = r.randint(N, (B,))
        scene = r.randint(N_SCENES, (B,))
        modifier = torch.where(r.bernoulli(self.p_modifier, (B,)), r.randint(N_MODIFIERS, (B,)),
                               torch.full((B,), -1, device=dev, dtype=torch.long))
        has_second = r.bernoulli(self.p_second, (B,)) & (N > 1)
        other = (subject + 1 + r.randint(max(N - 1, 1), (B,))) % N
        second = torch.where(has_second, other, torch.full_like(other, -1))
        scene_named = r.bernoulli(self.p_scene_named, (B,))
        template = r.randint(1 << 16, (B,))
        joiner = r.randint(len(PAIR_JOINERS), (B,))

        # placement of the main subject (smaller and to one side when paired)
        # (a party hat needs head room: smaller and lower)
        hat = modifier == MOD_ID["party_hat"]
        scale = torch.where(has_second, r.uniform((B,), 0.35, 0.55), r.uniform((B,), 0.4, 0.85))
        scale = torch.where(hat & ~has_second, r.uniform((B,), 0.45, 0.65), scale)
        room = 1 - scale
        side = r.bernoulli(0.5, (B,)).float() * 2 - 1
        cx = torch.where(has_second, side * r.uniform((B,), 0.35, 1.0) * room, r.uniform((B,), -1, 1) * room)
        cy = torch.where(hat, r.uniform((B,), 0.45, 1.0), r.uniform((B,), -0.5, 1.0)) * room
        angle = torch.where(r.bernoulli(self.p_rotate, (B,)),
                            r.uniform((B,), -self.max_angle, self.max_angle), torch.zeros(B, device=dev))
        flip = r.bernoulli(0.5, (B,))
        s2 = r.uniform((B,), 0.3, 0.5)
        cx2 = -side * r.uniform((B,), 0.35, 1.0) * (1 - s2)
        cy2 = r.uniform((B,), -0.5, 1.0) * (1 - s2)
        flip2 = r.bernoulli(0.5, (B,))
        shadow_on = r.bernoulli(self.p_shadow, (B,))

        bg = paint_scenes(r, scene, S)
        layers = self._layers(subject)
        recoloured = torch.zeros(B, dtype=torch.bool, device=dev)
        if rc is not None:
            from .recolour import recolour_layers
            layers, recoloured = recolour_layers(rc, layers, self.p_recolour)
        main = warp(layers, scale, cx, cy, angle, flip)
        rgb_p, alpha = main[:, :3], main[:, 3:]
        second_layer = torch.zeros_like(main)
        idx2 = has_second.nonzero().flatten()
        if idx2.numel():
            second_layer[idx2] = warp(self._layers(second[idx2]), s2[idx2], cx2[idx2], cy2[idx2],
                                      None, flip2[idx2])
        # soft contact shadow on scenes with a surface
        ground = torch.tensor([i in GROUND_SCENES for i in range(N_SCENES)], device=dev)[scene]
        shadow_idx = (ground & shadow_on).nonzero().flatten()
        if shadow_idx.numel():
            both = 1 - (1 - alpha[shadow_idx]) * (1 - second_layer[shadow_idx, 3:])
            both = torch.roll(both, shifts=(max(1, S // 40), max(1, S // 64)), dims=(2, 3))
            # blurred at quarter resolution: a shadow has no detail worth full-size filtering
            small = soft_blur(F.avg_pool2d(both, 4), 3) if S % 4 == 0 else soft_blur(both, 9)
            sh = F.interpolate(small, size=(S, S), mode="bilinear", align_corners=False)
            bg[shadow_idx] = bg[shadow_idx] * (1 - 0.4 * sh)

        M.modify_subject(r, modifier, bg, rgb_p, alpha)
        img = bg * (1 - second_layer[:, 3:]) + second_layer[:, :3]
        img = img * (1 - alpha) + rgb_p
        img, alpha = M.modify_image(r, modifier, img, alpha)

        reference, ref_mask, erased = self._reference(r, subject, layers)
        generic = (r.bernoulli(self.p_generic_name, (B,)) if self.p_generic_name > 0
                   else torch.zeros(B, dtype=torch.bool, device=dev))
        captions = self._captions(subject, scene, modifier, second, scene_named, template, joiner, generic)
        return {
            "target": img.clamp(0, 1) * 2 - 1,
            "reference": reference * 2 - 1,
            "mask": alpha.clamp(0, 1),
            "reference_mask": ref_mask,
            "reference_erased": erased,
            "caption": captions,
            "subject": subject,
            "scene": scene,
            "scene_named": scene_named,
            "modifier": modifier,
            "second_subject": second,
            "generic_name": generic,
            "recoloured": recoloured,
        }

    def _reference(self, r: Rng, subject: torch.Tensor, layers: Optional[torch.Tensor] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Subject on white: scale in ref_scale, shift inside the frame, hflip, rare colour
        jitter, and a white rectangle erased inside the subject's box (p_ref_erase). layers: the
        subjects' RGBA as the target used them (recoloured), else the bank's."""
        B, S, dev = subject.shape[0], self.size, self.device
        scale = r.uniform((B,), *self.ref_scale)
        cx = r.uniform((B,), -1, 1) * (1 - scale)
        cy = r.uniform((B,), -1, 1) * (1 - scale)
        layer = warp(self._layers(subject) if layers is None else layers, scale, cx, cy, None, r.bernoulli(0.5, (B,)))
        rgb_p, alpha = layer[:, :3], layer[:, 3:]
        jit = r.bernoulli(self.p_ref_jitter, (B,)).nonzero().flatten()
        bright = r.uniform((B, 1, 1, 1), 0.8, 1.2)[jit]
        contrast = r.uniform((B, 1, 1, 1), 0.8, 1.2)[jit]
        sat = r.uniform((B, 1, 1, 1), 0.6, 1.4)[jit]
        tint = r.uniform((B, 3, 1, 1), 0.92, 1.08)[jit]
        if jit.numel():
            a = alpha[jit]
            straight = rgb_p[jit] / a.clamp(min=1e-3)
            straight = saturate(((straight * bright - 0.5) * contrast + 0.5) * tint, sat).clamp(0, 1)
            rgb_p = rgb_p.clone()
            rgb_p[jit] = straight * a
        img = (1 - alpha) + rgb_p
        # random erase: a rectangle at most half the box wide and half the box high
        box = bbox(alpha).float()
        bw, bh = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
        ew = bw * r.uniform((B,), 0.2, 0.5)
        eh = bh * r.uniform((B,), 0.2, 0.5)
        ex0 = box[:, 0] + (bw - ew) * r.uniform((B,))
        ey0 = box[:, 1] + (bh - eh) * r.uniform((B,))
        erased = r.bernoulli(self.p_ref_erase, (B,))
        ys = torch.arange(S, device=dev, dtype=torch.float32).view(1, S, 1) + 0.5
        xs = torch.arange(S, device=dev, dtype=torch.float32).view(1, 1, S) + 0.5
        rect = ((xs >= ex0.view(B, 1, 1)) & (xs < (ex0 + ew).view(B, 1, 1))
                & (ys >= ey0.view(B, 1, 1)) & (ys < (ey0 + eh).view(B, 1, 1)))
        rect = (rect & erased.view(B, 1, 1)).unsqueeze(1).float()
        img = lerp(img, torch.ones_like(img), rect)
        return img.clamp(0, 1), alpha * (1 - rect), erased

    def _captions(self, subject, scene, modifier, second, scene_named, template, joiner, generic) -> List[str]:
        labels = self.bank.labels
        out = []
        for s, sc, m, s2, named, t, j, gen in zip(subject.tolist(), scene.tolist(), modifier.tolist(),
                                                  second.tolist(), scene_named.tolist(), template.tolist(),
                                                  joiner.tolist(), generic.tolist()):
            out.append(make_caption(self.bank.words(s, "category") if gen else labels[s], SCENES[sc] if named else None,
                                    MODIFIERS[m] if m >= 0 else None,
                                    labels[s2] if s2 >= 0 else None, t, j))
        return out

    # -- segmenter -------------------------------------------------------------------------
    # Scenes the segmenter never trains on, so its IoU is measured on unseen backgrounds too.
    segmenter_heldout_scenes = ("mountain_lake", "kitchen_counter", "rainy_day", "pink_backdrop")

    def scene_split(self) -> Tuple[List[int], List[int]]:
        """(training scene ids, held-out scene ids) for the segmenter."""
        held = [i for i, sc in enumerate(SCENES) if sc.name in self.segmenter_heldout_scenes]
        return [i for i in range(N_SCENES) if i not in held], held

    def segmenter_batch(self, batch_size: int, generator: torch.Generator,
                        scenes: Optional[Sequence[int]] = None,
                        distractors: float = 0.0, mix: float = 0.0,
                        style: float = 0.0, ridges: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """(image [B,3,S,S] in [0,1] with noise, blur and JPEG-like blocks, mask [B,1,S,S] of
        every subject in it). `scenes` restricts the backgrounds to those scene ids.
        `distractors` is the share of images whose background gets generic unmasked shapes,
        backdrops and flat silhouettes (data/distractors.py), drawn before the subjects so the
        mask is untouched; they draw from a forked generator, so a seed gives the same subjects
        and masks at any `distractors` (and at 0 exactly the batches of earlier versions).
        `mix` is the share of backgrounds that show a second allowed scene in part of the image
        (data/scene_mix.py), drawn from another forked generator the same way. `style` is the share of
        (possibly mixed) scene backgrounds zoomed into, flipped and recoloured (data/scene_style.py),
        from a third forked generator. `ridges` is the share of backgrounds given terrain silhouettes
        with rims and thin polyline strokes (data/ridges.py), from a fourth."""
        B, S, N, dev = batch_size, self.size, len(self.bank), self.device
        r = Rng(generator, dev)
        if scenes is None:
            scene = r.randint(N_SCENES, (B,))
        else:
            scene = torch.as_tensor(list(scenes), device=dev)[r.randint(len(scenes), (B,))]
        img = paint_scenes(r, scene, S)
        if mix > 0:
            from .distractors import fork_generator
            from .scene_mix import mix_scenes
            # before the plain backdrops, so those stay plain; a forked generator keeps the
            # subjects, masks and distractors of a seed the same with or without mixing (any
            # child stream would do; this one is what segmenter v3 trained on)
            rm = Rng(fork_generator(fork_generator(generator)), dev)
            img = mix_scenes(rm, img, mix, range(N_SCENES) if scenes is None else scenes)
        if style > 0:
            from .distractors import fork_generator
            from .scene_style import restyle_scenes
            rs = Rng(fork_generator(fork_generator(fork_generator(generator))), dev)
            img = restyle_scenes(rs, img, style)
        if ridges > 0:
            from .distractors import fork_generator
            from .ridges import add_ridges
            rr = Rng(fork_generator(fork_generator(fork_generator(fork_generator(generator)))), dev)
            img = add_ridges(rr, img, ridges)
        plain = r.bernoulli(0.15, (B,)).view(B, 1, 1, 1)
        img = torch.where(plain, r.uniform((B, 1, 1, 1), 0.85, 1.0).expand_as(img), img)
        if distractors > 0:
            from .distractors import add_distractors, fork_generator  # local: change stays in this method
            rd = Rng(fork_generator(generator), dev)  # same subjects and masks with or without distractors
            img = add_distractors(rd, img, distractors, lambda k: self._layers(rd.randint(N, (k,))))
        mask = torch.zeros(B, 1, S, S, device=dev)
        for k, (p, lo, hi) in enumerate(((1.0, 0.3, 0.9), (0.3, 0.2, 0.5), (0.1, 0.15, 0.4))):
            present = r.bernoulli(p, (B,))
            subj = r.randint(N, (B,))
            scale = r.uniform((B,), lo, hi)
            cx = r.uniform((B,), -1.1, 1.1) * (1 - scale * 0.6)
            cy = r.uniform((B,), -1.1, 1.1) * (1 - scale * 0.6)
            angle = torch.where(r.bernoulli(0.5, (B,)), r.uniform((B,), -0.6, 0.6), torch.zeros(B, device=dev))
            aspect = r.uniform((B,), 0.8, 1.25)
            flip = r.bernoulli(0.5, (B,))
            idx = present.nonzero().flatten()
            if idx.numel() == 0:
                continue
            layer = warp(self._layers(subj[idx]), scale[idx], cx[idx], cy[idx], angle[idx], flip[idx],
                         aspect[idx])
            a = layer[:, 3:]
            img[idx] = img[idx] * (1 - a) + layer[:, :3]
            mask[idx] = 1 - (1 - mask[idx]) * (1 - a)
        # photometric jitter, then camera-like degradations
        bright = r.uniform((B, 1, 1, 1), 0.8, 1.2)
        contrast = r.uniform((B, 1, 1, 1), 0.8, 1.2)
        img = ((img * bright - 0.5) * contrast + 0.5).clamp(0, 1)
        sigma = torch.where(r.bernoulli(0.5, (B,)), r.uniform((B,), 0.3, 1.3), torch.zeros(B, device=dev))
        img = gaussian_blur_per_sample(img, sigma)
        noise_std = r.uniform((B, 1, 1, 1), 0.0, 0.04)
        img = (img + r.normal((B, 3, S, S)) * noise_std).clamp(0, 1)
        jpeg = r.bernoulli(0.6, (B,))
        quality = r.uniform((B,), 20, 90)
        idx = jpeg.nonzero().flatten()
        if idx.numel() and S % 8 == 0:
            img[idx] = jpeg_like(img[idx], quality[idx])
        return img.clamp(0, 1), mask.clamp(0, 1)
