"""Segmenter training data with generic background distractors, and the fine-tuning entry point
(--init-from, --distractors, per-held-out-scene IoU in segmenter.json). CPU, seconds."""
import json
import math
import os

import pytest
import torch

from dreamcache.data import SubjectBank, TripletGenerator
from dreamcache.data.distractors import BACKDROP_KINDS, add_distractors, fork_generator, paint_backdrop
from dreamcache.data.rng import Rng
from dreamcache.train import segmenter
from dreamcache.train.common import load_split

SIZE = 64
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEBP = os.path.join(ROOT, "node_modules", "@lobehub", "fluent-emoji-3d", "assets")


def rng(seed: int) -> Rng:
    return Rng(torch.Generator().manual_seed(seed), "cpu")


@pytest.fixture(scope="module")
def gen():
    return TripletGenerator(SubjectBank.load(split="train", size=SIZE, limit=24), size=SIZE)


def test_backdrops_cover_every_kind_in_range():
    for k, name in enumerate(BACKDROP_KINDS):
        out = paint_backdrop(rng(k), k, 3, SIZE)
        assert out.shape == (3, 3, SIZE, SIZE), name
        assert out.min() >= 0 and out.max() <= 1, name
        assert out.flatten(1).std(1).min() > 0.005, f"{name} backdrop must not be a flat fill"


def test_distractors_shape_range_and_determinism():
    bg = torch.full((8, 3, SIZE, SIZE), 0.5)
    a = add_distractors(rng(7), bg, 1.0)
    b = add_distractors(rng(7), bg, 1.0)
    c = add_distractors(rng(8), bg, 1.0)
    assert a.shape == bg.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b), "same seed, same distractors"
    assert not torch.equal(a, c)
    changed = (a - bg).abs().amax(1).flatten(1).gt(0.02).float().mean(1)
    assert changed.min() > 0.01, "every chosen image gets visible distractors"
    assert torch.equal(add_distractors(rng(7), bg, 0.0), bg), "p=0 leaves backgrounds alone"


def test_fork_does_not_advance_the_parent():
    g = torch.Generator().manual_seed(3)
    before = g.get_state().clone()
    c1, c2 = fork_generator(g), fork_generator(g)
    assert torch.equal(g.get_state(), before)
    assert torch.equal(torch.rand(4, generator=c1), torch.rand(4, generator=c2))


def test_distractors_never_touch_the_mask(gen):
    train, _ = gen.scene_split()
    plain_img, plain_mask = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train)
    img, mask = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=1.0)
    again, _ = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=1.0)
    assert torch.equal(mask, plain_mask), "distractors are drawn before subjects: masks identical"
    assert torch.equal(img, again)
    assert img.shape == (16, 3, SIZE, SIZE) and img.min() >= 0 and img.max() <= 1
    bg = plain_mask < 0.01
    assert (img - plain_img).abs().amax(1, keepdim=True)[bg].mean() > 0.05, "backgrounds change"
    # default call is unchanged by the new option (eval batches stay comparable with old numbers)
    d_img, d_mask = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=0.0)
    assert torch.equal(d_img, plain_img) and torch.equal(d_mask, plain_mask)


def test_segmenter_fine_tunes_from_init_weights(tmp_path):
    if not os.path.isdir(WEBP):
        pytest.skip("subject art not installed (npm install brings @lobehub/fluent-emoji-3d)")
    common = ["--webp", WEBP, "--preset", "dev-tiny", "--log-every", "1", "--batch", "4", "--eval-batches", "1",
              "--size", "64"]
    # a different seed from run b: ignoring --init-from would leave b at seed-0 random weights
    segmenter.main(common + ["--out", f"{tmp_path}/a", "--max-steps", "1", "--distractors", "0", "--seed", "3"])
    init = f"{tmp_path}/a/weights"
    # lr 0: three steps from the init weights must leave them (and their EMA) where they were
    segmenter.main(common + ["--out", f"{tmp_path}/b", "--max-steps", "3", "--lr", "0", "--init-from", init,
                             "--distractors", "0.5", "--bg-style", "0.5", "--ridges", "0.5"])
    a, b = load_split(init, "segmenter"), load_split(f"{tmp_path}/b/weights", "segmenter")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k
    meta = json.load(open(f"{tmp_path}/b/segmenter.json"))
    assert meta["step"] == 3 and meta["init_from"] == init and meta["distractors"] == 0.5 and meta["bg_style"] == 0.5
    assert meta["ridges"] == 0.5
    with pytest.raises(SystemExit):  # a share outside [0, 1] is refused before anything runs
        segmenter.main(common + ["--out", f"{tmp_path}/c", "--bg-style", "80"])
    assert not os.path.exists(f"{tmp_path}/c")
    per = meta["iou_heldout_per_scene"]
    assert sorted(per) == sorted(TripletGenerator.segmenter_heldout_scenes)
    assert all(0 <= v <= 1 for v in per.values())


def test_region_masks_are_soft_two_region_layouts():
    from dreamcache.data.scene_mix import region_masks
    m = region_masks(rng(2), 32, SIZE)
    assert m.shape == (32, 1, SIZE, SIZE) and m.min() >= 0 and m.max() <= 1
    share = m.flatten(1).mean(1)
    assert share.min() > 0.02 and share.max() < 0.98, "both scenes show in every mixed image"
    hard = ((m < 0.05) | (m > 0.95)).flatten(1).float().mean(1)
    assert hard.min() > 0.8, "regions, not a cross-fade: the edge is a few pixels wide"


def test_scene_mixing_changes_backgrounds_only_and_paints_allowed_scenes(gen, monkeypatch):
    from dreamcache.data import scene_mix
    train, held = gen.scene_split()
    painted = []
    real = scene_mix.paint_scenes
    monkeypatch.setattr(scene_mix, "paint_scenes", lambda r, ids, S: painted.extend(ids.tolist()) or real(r, ids, S))
    plain_img, plain_mask = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=0.4)
    img, mask = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=0.4, mix=1.0)
    assert torch.equal(mask, plain_mask), "same subjects and masks with or without mixing"
    changed = (img - plain_img).abs().amax(1).flatten(1).gt(0.05).float().mean(1)
    # plain backdrops (15 %) and generic distractor backdrops replace a scene outright
    assert (changed > 0.02).float().mean() > 0.6, "most backgrounds changed somewhere"
    assert len(painted) == 16 and set(painted) <= set(train) and not set(painted) & set(held)
    again, _ = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=0.4, mix=1.0)
    assert torch.equal(again, img), "deterministic per seed"
    none, _ = gen.segmenter_batch(16, torch.Generator().manual_seed(5), train, distractors=0.4, mix=0.0)
    assert torch.equal(none, plain_img), "mix 0 gives exactly the earlier batches"


def test_hue_turn_keeps_greys_and_turns_colours_a_full_circle():
    from dreamcache.data.scene_style import hue_turn
    img = torch.tensor([[0.5, 0.5, 0.5], [0.9, 0.1, 0.1]]).view(2, 3, 1, 1)
    same = hue_turn(img, torch.tensor([1.0, 2 * math.pi]))
    assert torch.allclose(same, img, atol=1e-5), "grey stays grey; a full turn is the identity"
    third = hue_turn(img[1:], torch.tensor([2 * math.pi / 3]))
    assert torch.allclose(third.flatten(), torch.tensor([0.1, 0.9, 0.1]), atol=1e-5), "a third of a turn: red -> green"


def test_zoom_flip_magnifies_within_the_image():
    from dreamcache.data.scene_style import zoom_flip
    y = torch.linspace(0, 1, SIZE).view(1, 1, SIZE, 1).expand(6, 3, SIZE, SIZE)
    out = zoom_flip(rng(3), y.contiguous())
    assert out.shape == y.shape and out.min() >= 0 and out.max() <= 1
    span = out[:, 0, :, 0].amax(1) - out[:, 0, :, 0].amin(1)
    assert (span <= 1.0 + 1e-5).all() and (span >= 1 / 2.5 - 0.05).all(), "a window of 1/zoom of the image"


def test_background_style_changes_backgrounds_only_and_is_seeded(gen):
    train, _ = gen.scene_split()
    plain_img, plain_mask = gen.segmenter_batch(16, torch.Generator().manual_seed(9), train, distractors=0.4, mix=0.5)
    img, mask = gen.segmenter_batch(16, torch.Generator().manual_seed(9), train, distractors=0.4, mix=0.5, style=1.0)
    assert torch.equal(mask, plain_mask), "same subjects and masks with or without restyling"
    bg = (plain_mask < 0.01).float()
    fg = (plain_mask > 0.99).float()
    d = (img - plain_img).abs().amax(1, keepdim=True)
    bg_changed = (d * bg).flatten(1).sum(1) / bg.flatten(1).sum(1).clamp_min(1)
    assert (bg_changed > 0.05).float().mean() > 0.5, "most backgrounds restyled"
    # subjects are composited after restyling: inside them only the shared noise/JPEG differ
    fg_changed = (d * fg).flatten(1).sum(1) / fg.flatten(1).sum(1).clamp_min(1)
    assert fg_changed.mean() < bg_changed.mean() / 3
    again, _ = gen.segmenter_batch(16, torch.Generator().manual_seed(9), train, distractors=0.4, mix=0.5, style=1.0)
    assert torch.equal(again, img), "deterministic per seed"
    assert img.min() >= 0 and img.max() <= 1


def test_ridge_profiles_and_rims_are_thin_lines_of_the_asked_width():
    from dreamcache.data.ridges import normal_distance, profile
    S = 64
    h = profile(rng(3), 4, S, 6)
    assert h.shape == (4, 1, 1, S)
    # a flat line at 0.5: the distance is y - 0.5, exactly, and so a 2 px band holds 2 rows per column
    d = normal_distance(torch.full((1, 1, 1, S), 0.5), S)
    y = (torch.arange(S) + 0.5) / S
    assert torch.allclose(d[0, 0, :, 0], y - 0.5)
    band = (d.abs() < 1.0 / S).float()
    assert torch.equal(band.sum(2), torch.full((1, 1, S), 2.0))
    # a 45° line: the normal distance is the vertical one over √2
    d45 = normal_distance(((torch.arange(S) + 0.5) / S).view(1, 1, 1, S), S)
    assert abs(d45[0, 0, 10, 40].item() - (10 - 40) / S / math.sqrt(2)) < 1e-4


def test_ridges_change_backgrounds_only_and_are_seeded(gen):
    train, _ = gen.scene_split()
    g = lambda: torch.Generator().manual_seed(11)  # noqa: E731
    plain_img, plain_mask = gen.segmenter_batch(16, g(), train, distractors=0.4, mix=0.5, style=0.8)
    img, mask = gen.segmenter_batch(16, g(), train, distractors=0.4, mix=0.5, style=0.8, ridges=1.0)
    assert torch.equal(mask, plain_mask), "same subjects and masks with or without ridges"
    bg = (plain_mask < 0.01).float()
    fg = (plain_mask > 0.99).float()
    d = (img - plain_img).abs().amax(1, keepdim=True)
    bg_changed = (d * bg).flatten(1).sum(1) / bg.flatten(1).sum(1).clamp_min(1)
    fg_changed = (d * fg).flatten(1).sum(1) / fg.flatten(1).sum(1).clamp_min(1)
    assert (bg_changed > 0.01).float().mean() > 0.5, "most backgrounds get ridges or strokes"
    assert fg_changed.mean() < bg_changed.mean() / 3, "subjects are composited over them"
    again, _ = gen.segmenter_batch(16, g(), train, distractors=0.4, mix=0.5, style=0.8, ridges=1.0)
    assert torch.equal(again, img), "deterministic per seed"
    assert img.min() >= 0 and img.max() <= 1
