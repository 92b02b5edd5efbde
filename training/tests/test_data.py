import collections
from pathlib import Path

import pytest

from dreamcache.data import subjects as S

TRAINING = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def all_subjects():
    return S.load_subjects()


def test_subject_files_are_reproducible(all_subjects):
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
