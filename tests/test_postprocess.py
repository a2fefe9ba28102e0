"""Hole filling and speck removal on known masks."""

from __future__ import annotations

import numpy as np
import torch

from napari_sam2.predictor.postprocess import fill_holes_and_sprinkles


def _logits(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.where(mask, 5.0, -5.0).astype(np.float32))[None, None]


def test_small_hole_filled_large_hole_kept():
    m = np.zeros((20, 20), bool)
    m[2:18, 2:18] = True
    m[5, 5] = False  # 1 px hole
    m[10:14, 10:14] = False  # 16 px hole
    out = fill_holes_and_sprinkles(_logits(m), max_hole_area=4)[0, 0].numpy() > 0
    expected = m.copy()
    expected[5, 5] = True
    assert np.array_equal(out, expected)


def test_small_speck_removed_with_8_connectivity():
    m = np.zeros((20, 20), bool)
    m[2:10, 2:10] = True
    m[15, 15] = m[16, 16] = True  # diagonal pair: one 2 px component under 8-connectivity
    m[15, 2] = True  # lone pixel
    out = fill_holes_and_sprinkles(_logits(m), max_sprinkle_area=2)[0, 0].numpy() > 0
    expected = np.zeros_like(m)
    expected[2:10, 2:10] = True
    assert np.array_equal(out, expected)
    kept = fill_holes_and_sprinkles(_logits(m), max_sprinkle_area=1)[0, 0].numpy() > 0
    assert kept[15, 15] and kept[16, 16] and not kept[15, 2]


def test_disabled_is_identity():
    t = torch.randn(2, 3, 8, 8)
    assert fill_holes_and_sprinkles(t) is t
