"""Mask post-processing variants measured by scripts/seg_post_eval.py (dreamcache/eval/seg_post.py). CPU, < 1 s."""

import pytest
import torch

from dreamcache.eval.seg_post import fill_mask_holes, flip_average, keep_large_components, label_components, postprocess


def grid(rows):
    """Bool [1,1,H,W] from strings of '#' and '.'."""
    return torch.tensor([[c == "#" for c in r] for r in rows]).view(1, 1, len(rows), len(rows[0]))


def test_labels_are_8_connected():
    fg = grid(["#...",
               ".#..",
               "...#",
               "...#"])
    lab = label_components(fg)[0, 0]
    assert lab[0, 0] == lab[1, 1] > 0  # diagonal neighbours join
    assert lab[2, 3] == lab[3, 3] > 0
    assert lab[0, 0] != lab[2, 3]  # (1,1) and (2,3) are two columns apart
    assert (lab[~fg[0, 0]] == 0).all()


def test_small_components_dropped_relative_to_largest():
    fg = torch.zeros(2, 1, 20, 20, dtype=torch.bool)
    fg[0, 0, 2:12, 2:12] = True   # 100 px
    fg[0, 0, 15:18, 15:18] = True  # 9 px < 10 %: dropped
    fg[0, 0, 15:17, 2:7] = True    # 10 px = 10 %: kept
    fg[1, 0, 0, 0] = True          # image 2: a lone pixel is its own largest component
    out = keep_large_components(fg)
    assert out[0, 0, 2:12, 2:12].all() and out[0, 0, 15:17, 2:7].all()
    assert not out[0, 0, 15:18, 15:18].any()
    assert out[1].sum() == 1
    assert not keep_large_components(torch.zeros(1, 1, 5, 5, dtype=torch.bool)).any()


def test_fill_holes_uses_4_connected_background():
    fg = grid(["#####.",
               "#...#.",
               "#.#.#.",
               "#...#.",
               "###.#.",  # gap at (4,3) connects the hole to the bottom border
               "......"])
    assert torch.equal(fill_mask_holes(fg), fg)
    closed = fg.clone()
    closed[0, 0, 4, 3] = True
    filled = fill_mask_holes(closed)
    assert filled[0, 0, 1:4, 1:4].all() and not filled[0, 0, :, 5].any()
    # a hole whose only way out is diagonal stays a hole (background is 4-connected)
    diag = grid(["###.",
                 "#.#.",
                 "##..",
                 "...."])
    assert fill_mask_holes(diag)[0, 0, 1, 1]


def test_flip_average_is_symmetric_and_mirrors_back():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(2, 1, 6, 7, generator=g)
    q = torch.rand(2, 1, 6, 7, generator=g)
    a = flip_average(p, q)
    assert torch.allclose(a.flip(-1), flip_average(q, p))
    # a flip-equivariant net (q = mirrored p) averages to p itself
    assert torch.allclose(flip_average(p, p.flip(-1)), p)


def test_postprocess_order_and_shape_check():
    p = torch.full((1, 1, 12, 12), 0.1)
    p[..., 1:11, 1:11] = 0.9
    p[..., 4:8, 4:8] = 0.2
    p[..., 5, 5] = 0.8  # speck inside the hole: dropped, then refilled with the hole
    out = postprocess(p)
    assert out.dtype == torch.bool and out[0, 0, 1:11, 1:11].all() and out.sum() == 100
    only_cc = postprocess(p, fill_holes=False)
    assert not only_cc[0, 0, 5, 5] and only_cc.sum() == 100 - 16
    with pytest.raises(ValueError):
        postprocess(torch.zeros(1, 12, 12))
