"""Synthetic data: dividing cells and nuclei volumes match their ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.synthetic import (
    Look,
    synthetic_cells,
    synthetic_dividing_cells,
    synthetic_passing_pairs,
    synthetic_volume,
)


def _areas(frame: np.ndarray) -> dict[int, int]:
    ids, counts = np.unique(frame, return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts) if i}


@pytest.mark.parametrize(("cell", "frame"), [(1, 8), (3, 4)])
def test_dividing_cell_is_replaced_by_two_smaller_daughters(cell, frame):
    n_cells = 5
    image, labels, parents = synthetic_dividing_cells(
        n_frames=14, size=(160, 160), n_cells=n_cells, seed=3, divide=((cell, frame),)
    )
    assert image.shape == labels.shape == (14, 160, 160)
    assert image.dtype == labels.dtype == np.uint16
    assert parents == {n_cells + 1: cell, n_cells + 2: cell}
    parent_area = _areas(labels[frame - 1])[cell]
    for t in range(frame):
        assert set(_areas(labels[t])) == set(range(1, n_cells + 1))
    for t in range(frame, 14):
        present = set(_areas(labels[t]))
        assert cell not in present
        assert present == set(range(1, n_cells + 3)) - {cell}
    first = _areas(labels[frame])
    for daughter in parents:
        assert 0.3 * parent_area <= first[daughter] <= 0.8 * parent_area

    # the daughters drift apart
    def gap(t):
        a, b = (np.argwhere(labels[t] == d).mean(0) for d in parents)
        return np.hypot(*(a - b))

    assert gap(13) > gap(frame) + 5


def test_dividing_cells_labels_match_the_image_and_are_deterministic():
    image, labels, parents = synthetic_dividing_cells(seed=4)
    assert image.shape == (20, 256, 256)
    inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
    assert inside > outside + 800
    for t in range(len(image)):  # every cell, daughters included, is brighter than the background
        for cell in _areas(labels[t]):
            assert image[t][labels[t] == cell].mean() > outside + 500
    again = synthetic_dividing_cells(seed=4)
    assert (
        np.array_equal(image, again[0]) and np.array_equal(labels, again[1]) and parents == again[2]
    )
    other = synthetic_dividing_cells(seed=5)
    assert not np.array_equal(labels, other[1])


def test_daughters_can_divide_again():
    _, labels, parents = synthetic_dividing_cells(
        n_frames=12, size=(192, 192), n_cells=3, seed=6, divide=((2, 3), (4, 8))
    )
    assert parents == {4: 2, 5: 2, 6: 4, 7: 4}
    assert set(_areas(labels[-1])) == {1, 3, 5, 6, 7}


def test_without_divisions_it_is_synthetic_cells():
    kwargs = dict(n_frames=5, size=(96, 100), n_cells=3, seed=9)
    look = Look(radius=(6.0, 9.0), step=1.5)
    image, labels, parents = synthetic_dividing_cells(divide=(), look=look, **kwargs)
    expected = synthetic_cells(radius=look.radius, step=look.step, **kwargs)
    assert parents == {}
    assert np.array_equal(image, expected[0]) and np.array_equal(labels, expected[1])


@pytest.mark.parametrize("divide", [((9, 3),), ((1, 0),), ((1, 20),), ((1, 3), (1, 5)), ((1,),)])
def test_bad_divisions_are_refused(divide):
    with pytest.raises(ValueError, match="divide"):
        synthetic_dividing_cells(n_frames=20, size=(128, 128), n_cells=3, divide=divide)


def test_volume_labels_are_3d_nuclei_matching_the_image():
    image, labels = synthetic_volume(shape=(24, 96, 112), n_cells=3, seed=2)
    assert image.shape == labels.shape == (24, 96, 112)
    assert image.dtype == labels.dtype == np.uint16
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    outside = image[labels == 0].mean()
    for cell in (1, 2, 3):
        z_slices = np.flatnonzero((labels == cell).any(axis=(1, 2)))
        assert len(z_slices) >= 5
        assert np.array_equal(z_slices, np.arange(z_slices[0], z_slices[-1] + 1))  # one solid body
        assert image[labels == cell].mean() > outside + 800
    deterministic = synthetic_volume(shape=(24, 96, 112), n_cells=3, seed=2)
    assert np.array_equal(image, deterministic[0]) and np.array_equal(labels, deterministic[1])


def test_volume_blur_is_stronger_along_z():
    """Noise-free, a nucleus edge is less steep along z than along x (same semi-axes scale)."""
    image, labels = synthetic_volume(shape=(40, 96, 96), n_cells=1, seed=1, noise=0.0, z_ratio=1.0)
    z, y, x = (int(round(c)) for c in np.argwhere(labels == 1).mean(0))
    img = image.astype(float)
    steepest_z = np.abs(np.diff(img[:, y, x])).max()
    steepest_x = np.abs(np.diff(img[z, y, :])).max()
    assert steepest_z < 0.7 * steepest_x


def test_passing_pairs_touch_for_a_few_frames_and_look_alike():
    from scipy import ndimage

    image, labels = synthetic_passing_pairs(n_frames=24, size=(384, 384), n_pairs=8, seed=0)
    assert image.shape == labels.shape == (24, 384, 384)
    assert image.dtype == labels.dtype == np.uint16
    for t in range(24):
        assert set(_areas(labels[t])) == set(range(1, 17))
    for k in range(8):
        a, b = 2 * k + 1, 2 * k + 2
        touching = [
            t
            for t in range(24)
            if (ndimage.binary_dilation(labels[t] == a) & (labels[t] == b)).any()
        ]
        assert 3 <= len(touching) <= 6 and touching == list(range(touching[0], touching[-1] + 1))
        assert 5 <= touching[0] and touching[-1] <= 19  # they meet in the middle, not at an end
        first = _areas(labels[0])
        assert abs(first[a] - first[b]) <= 0.05 * first[a]  # the same size
        brightness = [image[0][labels[0] == i].mean() for i in (a, b)]
        assert abs(brightness[0] - brightness[1]) < 150
        ca, cb = (np.argwhere(labels[0] == i).mean(0) for i in (a, b))
        da, db = (np.argwhere(labels[-1] == i).mean(0) - c for i, c in ((a, ca), (b, cb)))
        assert np.dot(da, db) < 0 and np.hypot(*da) > 30  # opposite ways, about 2.5 px a frame
    small = [
        synthetic_passing_pairs(n_frames=4, size=(128, 256), n_pairs=2, seed=s) for s in (0, 0, 1)
    ]
    assert np.array_equal(small[0][0], small[1][0]) and np.array_equal(small[0][1], small[1][1])
    assert not np.array_equal(small[0][1], small[2][1])


def test_passing_pairs_that_approach_and_the_limits():
    _, apart = synthetic_passing_pairs(
        n_frames=20, size=(256, 256), n_pairs=2, seed=1, approach=1.0
    )
    for t in (0, 19):  # far apart at the ends, touching in the middle
        gap = [np.hypot(*(np.argwhere(apart[t] == 1).mean(0) - np.argwhere(apart[t] == 2).mean(0)))]
        assert gap[0] > 30
    with pytest.raises(ValueError, match="do not fit"):
        synthetic_passing_pairs(n_frames=60, size=(128, 128), n_pairs=4)
    with pytest.raises(ValueError, match="n_pairs"):
        synthetic_passing_pairs(n_pairs=0)
