"""Subject recolouring for adapter training (data/recolour.py, TripletGenerator.p_recolour)."""
import math

import pytest
import torch

from dreamcache.data import SubjectBank, TripletGenerator
from dreamcache.data.recolour import hue_rotation, recolour_layers
from dreamcache.data.rng import Rng

SIZE = 64


@pytest.fixture(scope="module")
def bank():
    return SubjectBank.load(split="train", size=SIZE, limit=32)


def draw(bank, p, seed=5, n=48, **attrs):
    gen = TripletGenerator(bank, size=SIZE)
    gen.p_recolour = p
    for k, v in attrs.items():
        setattr(gen, k, v)
    return gen.batch(n, torch.Generator().manual_seed(seed))


def test_hue_rotation_is_a_rotation_about_grey():
    angles = torch.tensor([0.0, 0.4, -2.0, math.pi])
    rot = hue_rotation(angles)
    eye = torch.eye(3).expand(4, 3, 3)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=1e-6)
    assert torch.allclose(torch.det(rot), torch.ones(4), atol=1e-6)
    grey = torch.full((3,), 0.37)
    assert torch.allclose(rot @ grey, grey.expand(4, 3), atol=1e-6)
    assert torch.allclose(rot[0], torch.eye(3), atol=1e-7)
    # a third of a turn cycles the primaries: red → green → blue
    third = hue_rotation(torch.tensor([2 * math.pi / 3]))[0]
    assert torch.allclose(third @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_recolour_layers_changes_colour_only_where_chosen():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(16, 3, 8, 8, generator=g)
    alpha = (torch.rand(16, 1, 8, 8, generator=g) > 0.3).float()
    layers = torch.cat([rgb * alpha, alpha], 1)
    out, on = recolour_layers(Rng(torch.Generator().manual_seed(1), "cpu"), layers, 0.5)
    assert 0 < int(on.sum()) < 16
    assert torch.equal(out[:, 3:], alpha)
    assert torch.equal(out[~on], layers[~on])
    assert (out[on, :3] - layers[on, :3]).abs().amax() > 0.05
    assert out.min() >= 0 and out.max() <= 1
    assert torch.all(out[:, :3] <= out[:, 3:] + 1e-6)          # still premultiplied
    same, none = recolour_layers(Rng(torch.Generator().manual_seed(1), "cpu"), layers, 0.0)
    assert same is layers and not none.any()


def test_p0_batches_are_unchanged_and_p1_changes_only_the_subjects_colour(bank):
    plain = draw(bank, 0.0, p_modifier=0.0)
    again = draw(bank, 0.0, p_modifier=0.0)
    for k in ("target", "reference", "mask", "reference_mask"):
        assert torch.equal(plain[k], again[k]), k
    assert not plain["recoloured"].any()
    turned = draw(bank, 1.0, p_modifier=0.0)
    assert turned["recoloured"].all()
    # same draws for everything but the colour map: captions, placement, masks, scenes
    assert turned["caption"] == plain["caption"]
    for k in ("mask", "reference_mask", "subject", "scene", "second_subject"):
        assert torch.equal(turned[k], plain[k]), k
    # the background (where no subject covers the pixel) is untouched
    outside = (plain["mask"] == 0).expand_as(plain["target"])
    assert torch.equal(turned["target"][outside], plain["target"][outside])
    white = (plain["reference_mask"] == 0).expand_as(plain["reference"])
    assert torch.equal(turned["reference"][white], plain["reference"][white])
    inside = plain["mask"] > 0.99
    assert (turned["target"] - plain["target"]).abs()[inside.expand_as(plain["target"])].mean() > 0.05


def subject_mean(img, mask):
    """[B, 3] mean colour over the pixels the mask fully covers."""
    m = (mask > 0.99).float()
    return (img * m).sum((2, 3)) / m.sum((2, 3)).clamp(min=1)


def test_target_and_reference_share_the_recolouring(bank):
    """The reference is the same recoloured subject: its mean colour follows the target's, not
    the bank's (no modifiers, jitter or second subject to blur the comparison)."""
    kw = dict(p_modifier=0.0, p_ref_jitter=0.0, p_second=0.0)
    plain, turned = draw(bank, 0.0, **kw), draw(bank, 1.0, **kw)
    t_plain = subject_mean(plain["target"], plain["mask"])
    t_turn = subject_mean(turned["target"], turned["mask"])
    r_turn = subject_mean(turned["reference"], turned["reference_mask"])
    r_plain = subject_mean(plain["reference"], plain["reference_mask"])
    moved = (t_turn - t_plain).abs().amax(1) > 0.1   # samples whose map visibly moved the mean colour
    assert moved.sum() >= 10
    same = (t_turn - r_turn).abs().amax(1)[moved]
    other = (t_turn - r_plain).abs().amax(1)[moved]
    assert same.median() < 0.06 and same.median() < other.median() / 3, (same, other)

