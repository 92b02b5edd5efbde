import collections
import os
from pathlib import Path

import pytest

from dreamcache.data import subjects as S

TRAINING = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def all_subjects():
    return S.load_subjects()


def test_subject_files_are_reproducible(all_subjects):
    if not os.path.isfile(os.path.join(os.path.dirname(__file__), "..", "..", "node_modules", "emojibase-data", "en",
                                       "data.json")):
        pytest.skip("emojibase-data is not installed (npm install brings it): the subject list is built from it")
    assert S.build_subjects() == all_subjects


def test_heldout_split_is_fixed_and_stratified(all_subjects):
    held = [s for s in all_subjects if s.split == "heldout"]
    assert len(held) >= 150
    assert 0.18 <= len(held) / len(all_subjects) <= 0.25
    by_cat = collections.defaultdict(lambda: [0, 0])
    for s in all_subjects:
        by_cat[s.category][s.split == "heldout"] += 1
    for cat, (n_train, n_held) in by_cat.items():
        assert n_held >= 1 and n_train >= 1, cat
        assert abs(n_held / (n_train + n_held) - 0.2) < 0.1, cat
    assert S.load_heldout_ids() == {s.id for s in held}
    train = S.load_subjects(split="train")
    assert not ({s.id for s in train} & S.load_heldout_ids())
    assert len(train) + len(held) == len(all_subjects)


def test_subjects_are_objects_with_images(all_subjects):
    assert len({s.id for s in all_subjects}) == len(all_subjects)
    labels = {s.label for s in all_subjects}
    for must in ("dog", "pizza", "bicycle", "cactus", "hammer"):
        assert must in labels
    for banned in ("grinning face", "thumbs up", "keycap: 1", "flag: Japan", "one o'clock"):
        assert banned not in labels
    for s in all_subjects:
        assert (S.EMOJI_ASSETS / s.file).is_file(), s.file
        assert s.category in set(S.SUBGROUP_CATEGORY.values())


def test_copy_webps(tmp_path, all_subjects):
    total = S.copy_subject_webps(tmp_path / "webp")
    files = list((tmp_path / "webp").iterdir())
    assert len(files) == len(all_subjects) and total < 10_000_000
    from PIL import Image
    with Image.open(files[0]) as im:
        assert im.mode == "RGBA" and im.size == (256, 256)


# -- SubjectBank / TripletGenerator -------------------------------------------------------------
import torch  # noqa: E402

from dreamcache.data import MODIFIERS, SCENES, SubjectBank, TripletGenerator  # noqa: E402
from dreamcache.data.captions import generic_label  # noqa: E402
from dreamcache.data.cpu_tuning import keep_freed_memory  # noqa: E402
from dreamcache.data.imageops import jpeg_like  # noqa: E402
from dreamcache.data.rng import Rng  # noqa: E402
from dreamcache.data.scenes import PAINTER_LIST  # noqa: E402

keep_freed_memory()
torch.set_num_threads(1)
SIZE = 64


@pytest.fixture(scope="module")
def bank():
    return SubjectBank.load(split="train", size=SIZE, limit=48)


@pytest.fixture(scope="module")
def gen(bank):
    return TripletGenerator(bank, size=SIZE)


@pytest.fixture(scope="module")
def batch(gen):
    return gen.batch(96, torch.Generator().manual_seed(123))


def test_train_bank_refuses_heldout_subjects():
    train = S.load_subjects(split="train")
    held = S.load_subjects(split="heldout")
    blank = torch.zeros(len(train), 4, 8, 8, dtype=torch.uint8)
    bank = SubjectBank(train, blank, "train")
    assert not (set(bank.ids) & S.load_heldout_ids())
    with pytest.raises(S.SubjectSetError):
        SubjectBank(train[:3] + held[:1], blank[:4], "train")
    leaked = [S.Subject(**{**held[0].__dict__, "split": "train"})]
    with pytest.raises(S.SubjectSetError):
        SubjectBank(leaked, blank[:1], "train")
    with pytest.raises(S.SubjectSetError):
        S.load_subjects(split="test")


def test_heldout_bank_loads_only_heldout():
    hb = SubjectBank.load(split="heldout", size=32, limit=5)
    assert set(hb.ids) <= S.load_heldout_ids() and hb.rgba.shape == (5, 4, 32, 32)


def test_batch_shapes_and_ranges(batch, bank):
    B = 96
    assert batch["target"].shape == (B, 3, SIZE, SIZE) and batch["reference"].shape == (B, 3, SIZE, SIZE)
    assert batch["mask"].shape == (B, 1, SIZE, SIZE)
    for k in ("target", "reference"):
        assert batch[k].dtype == torch.float32 and batch[k].min() >= -1 and batch[k].max() <= 1
        assert torch.isfinite(batch[k]).all()
    assert batch["mask"].min() >= 0 and batch["mask"].max() <= 1
    for k in ("subject", "scene", "modifier", "second_subject"):
        assert batch[k].dtype == torch.long and batch[k].shape == (B,)
    assert batch["subject"].max() < len(bank) and batch["second_subject"].max() < len(bank)
    assert batch["modifier"].min() >= -1 and batch["modifier"].max() < len(MODIFIERS)
    assert ((batch["second_subject"] == -1) | (batch["second_subject"] != batch["subject"])).all()
    assert len(batch["caption"]) == B and all(isinstance(c, str) and c for c in batch["caption"])
    assert (batch["mask"].flatten(1).sum(1) > 4).all()                     # the subject is visible


def test_deterministic_per_seed(gen):
    a = gen.batch(8, torch.Generator().manual_seed(7))
    b = gen.batch(8, torch.Generator().manual_seed(7))
    c = gen.batch(8, torch.Generator().manual_seed(8))
    for k, v in a.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b[k]), k
    assert a["caption"] == b["caption"]
    assert not torch.equal(a["target"], c["target"])
    sa = gen.segmenter_batch(4, torch.Generator().manual_seed(3))
    sb = gen.segmenter_batch(4, torch.Generator().manual_seed(3))
    assert torch.equal(sa[0], sb[0]) and torch.equal(sa[1], sb[1])


def _long_side(mask):
    from dreamcache.data.imageops import bbox
    box = bbox(mask).float()
    return torch.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])


def test_reference_is_large_subject_on_white(batch):
    ref = (batch["reference"] + 1) / 2
    rm = batch["reference_mask"]
    kept = ~batch["reference_erased"]
    assert kept.any() and batch["reference_erased"].any()
    assert (_long_side(rm[kept]) >= 0.7 * SIZE - 1).all()
    erased_long = _long_side(rm[~kept])
    assert (erased_long >= 0.5 * 0.7 * SIZE).all()
    # everything outside the subject is white (erased rectangles are white too)
    outside = rm < 1e-4
    assert (ref.expand(-1, 3, -1, -1)[outside.expand(-1, 3, -1, -1)] > 0.999).all()


def test_mask_is_exact_alpha_of_main_subject():
    """A magenta square subject: the target is magenta exactly where the mask is 1."""
    sq = torch.zeros(1, 4, SIZE, SIZE, dtype=torch.uint8)
    sq[0, 0] = 255
    sq[0, 2] = 255
    sq[0, 3, 8:56, 8:56] = 255
    fake = [S.Subject(id="TEST-SQUARE", file="-", label="square", tags=[], category="objects", split="train")]
    g = TripletGenerator(SubjectBank(fake, sq, "train"), size=SIZE)
    g.p_modifier = 0.0
    g.p_second = 0.0
    out = g.batch(32, torch.Generator().manual_seed(0))
    m = out["mask"]
    tgt = (out["target"] + 1) / 2
    magenta = torch.tensor([1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    on, off = m > 0.999, m < 0.001
    assert on.any() and off.any()
    dist = (tgt - magenta).abs().amax(1, keepdim=True)
    assert (dist[on] < 1e-3).all()
    assert (dist[off] > 0.05).float().mean() > 0.99
    fuzzy = ((m > 0.02) & (m < 0.98)).float().sum() / (m > 0.5).float().sum()
    assert fuzzy < 0.25                                                        # binary-ish: edges only


def test_every_scene_and_modifier_reachable(bank):
    small = TripletGenerator(bank, size=32)
    g = torch.Generator().manual_seed(1)
    scenes, mods, named, second = set(), set(), set(), 0
    for _ in range(4):
        out = small.batch(160, g)
        scenes |= set(out["scene"].tolist())
        mods |= set(out["modifier"].tolist())
        named |= set(out["scene_named"].tolist())
        second += int((out["second_subject"] >= 0).sum())
    assert scenes == set(range(len(SCENES)))
    assert mods == set(range(-1, len(MODIFIERS)))
    assert named == {True, False}
    assert 0.08 < second / 640 < 0.25


def test_every_painter_draws_a_varied_image():
    rng = Rng(torch.Generator().manual_seed(0), "cpu")
    for painter, scene in zip(PAINTER_LIST, SCENES):
        img = painter(rng, 2, SIZE).expand(2, 3, SIZE, SIZE)
        assert img.min() >= 0 and img.max() <= 1 and torch.isfinite(img).all(), scene.name
        assert img.std() > 0.01, scene.name


def test_captions_name_label_scene_modifier(batch, bank):
    for i, cap in enumerate(batch["caption"]):
        assert bank.labels[int(batch["subject"][i])] in cap
        s2 = int(batch["second_subject"][i])
        if s2 >= 0:
            assert bank.labels[s2] in cap
        phrase = SCENES[int(batch["scene"][i])].phrase
        assert (phrase in cap) == bool(batch["scene_named"][i]) or phrase in bank.labels[int(batch["subject"][i])]
        m = int(batch["modifier"][i])
        if m >= 0:
            assert MODIFIERS[m].phrase in cap


def test_segmenter_batch(gen):
    img, mask = gen.segmenter_batch(24, torch.Generator().manual_seed(5))
    assert img.shape == (24, 3, SIZE, SIZE) and mask.shape == (24, 1, SIZE, SIZE)
    assert img.min() >= 0 and img.max() <= 1 and mask.min() >= 0 and mask.max() <= 1
    assert (mask.flatten(1).amax(1) > 0.99).all()               # at least one subject each
    assert mask.mean() > 0.03


def test_jpeg_like_quantises_blocks():
    x = torch.rand(2, 3, 16, 16)
    hi = jpeg_like(x, torch.tensor([100.0, 100.0]))
    lo = jpeg_like(x, torch.tensor([5.0, 5.0]))
    assert (hi - x).abs().max() < 0.03
    assert (lo - x).abs().mean() > 0.1


def test_generic_name_captions_hide_the_label_only(gen, bank, batch):
    """Adapter-training captions name the main subject by its category noun; every other draw
    (pixels, scene, modifier, second subject) is unchanged, and p = 0 changes nothing."""
    again = gen.batch(96, torch.Generator().manual_seed(123))
    assert again["caption"] == batch["caption"] and not batch["generic_name"].any()
    gen.p_generic_name = 1.0
    try:
        hidden = gen.batch(96, torch.Generator().manual_seed(123))
    finally:
        gen.p_generic_name = 0.0
    assert torch.equal(hidden["target"], batch["target"]) and torch.equal(hidden["reference"], batch["reference"])
    assert hidden["generic_name"].all()
    for i, cap in enumerate(hidden["caption"]):
        s = int(hidden["subject"][i])
        assert generic_label(bank.subjects[s].category) in cap, cap
        if int(hidden["second_subject"][i]) < 0:
            assert f" {bank.labels[s]} " not in f" {cap} ", cap
