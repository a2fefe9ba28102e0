"""The automatic mask generator on its own: NMS, RLE, small regions, input handling, and quality with the demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import SAM2AutomaticMaskGenerator, build_sam2
from napari_sam2.predictor import amg_utils as amg
from napari_sam2.predictor.preprocess import robust_limits
from napari_sam2.synthetic import synthetic_cells

import oracle


def _random_boxes(rng, n, grid=6):
    # coarse integer corners: many identical boxes, equal IoUs and IoUs exactly at the threshold
    xy = rng.integers(0, grid, (n, 2))
    wh = rng.integers(0, 4, (n, 2))  # zero widths too (zero-area boxes)
    return torch.tensor(np.concatenate([xy, xy + wh], 1), dtype=torch.float32)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.7])
def test_batched_nms_equals_brute_force(seed, threshold):
    rng = np.random.default_rng(seed)
    n = 60
    boxes = _random_boxes(rng, n)
    scores = torch.tensor(rng.integers(0, 5, n) / 4, dtype=torch.float32)  # many ties
    categories = torch.tensor(rng.integers(0, 3, n))
    mine = amg.batched_nms(boxes, scores, categories, threshold).tolist()
    assert mine == oracle.reference_batched_nms(
        boxes.numpy(), scores.numpy(), categories.numpy(), threshold
    )
    # and with one category, as the generator calls it
    zeros = torch.zeros(n)
    assert amg.batched_nms(
        boxes, scores, zeros, threshold
    ).tolist() == oracle.reference_batched_nms(
        boxes.numpy(), scores.numpy(), zeros.numpy(), threshold
    )


def test_nms_keeps_an_iou_equal_to_the_threshold_and_separates_categories():
    boxes = torch.tensor(
        [[0, 0, 3, 1], [1, 0, 4, 1], [0, 0, 3, 1]], dtype=torch.float32
    )  # IoU 0.5; 1
    scores = torch.tensor([1.0, 0.9, 0.8])
    assert amg.batched_nms(boxes, scores, torch.zeros(3), 0.5).tolist() == [0, 1]
    assert amg.batched_nms(boxes, scores, torch.zeros(3), 0.4).tolist() == [0]
    assert amg.batched_nms(boxes, scores, torch.tensor([0, 0, 1]), 0.4).tolist() == [0, 2]
    # the float32 IoU 1/3 (0.33333334) exceeds the threshold 1/3 in double precision, as in torchvision
    thirds = torch.tensor([[0, 0, 2, 1], [1, 0, 3, 1]], dtype=torch.float32)
    assert amg.batched_nms(thirds, scores[:2], torch.zeros(2), 1 / 3).tolist() == [0]


def test_rle_round_trip_and_column_major_runs():
    mask = np.array([[1, 0, 0], [1, 1, 0]], bool)
    rle = amg.mask_to_rle(mask)
    assert rle == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}  # column by column: 1 1 | 0 1 | 0 0
    assert amg.rle_area(rle) == 3
    rng = np.random.default_rng(0)
    for _ in range(5):
        m = rng.random((7, 11)) < 0.4
        assert np.array_equal(amg.rle_to_mask(amg.mask_to_rle(m)), m)


def test_small_regions_are_eight_connected():
    mask = np.ones((8, 8), bool)
    mask[3, 3] = mask[4, 4] = False  # one diagonal 2 px hole
    filled, changed = amg.remove_small_regions(mask, 2, "holes")
    assert not changed  # 2 px is not below 2
    filled, changed = amg.remove_small_regions(mask, 3, "holes")
    assert changed and filled.all()
    islands = np.zeros((8, 8), bool)
    islands[0, 0] = True
    islands[5:8, 5:8] = True
    kept, changed = amg.remove_small_regions(islands, 2, "islands")
    assert changed and kept.sum() == 9 and not kept[0, 0]
    tiny = np.zeros((8, 8), bool)
    tiny[0, 0] = tiny[3, 3] = tiny[4, 4] = True  # all small: the largest (the diagonal pair) stays
    kept, _ = amg.remove_small_regions(tiny, 5, "islands")
    assert kept.sum() == 2 and kept[3, 3] and kept[4, 4]


def test_grid_and_crops():
    grid = amg.point_grid(2)
    assert np.allclose(grid, [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    assert [len(g) for g in amg.layer_point_grids(8, 2, 2)] == [64, 16, 4]
    boxes, layers = amg.crop_boxes(300, 400, 1, 512 / 1500)
    assert layers == [0, 1, 1, 1, 1] and boxes[0] == [0, 0, 400, 300]
    # overlap int(512/1500 * 300) = 102 px; crops ceil((102 + 400) / 2) x ceil((102 + 300) / 2); x0 is the outer loop
    assert boxes[1:] == [
        [0, 0, 251, 201],
        [0, 99, 251, 300],
        [149, 0, 400, 201],
        [149, 99, 400, 300],
    ]


def test_bad_options_are_refused():
    model = build_sam2("demo")
    with pytest.raises(ValueError, match="exactly one"):
        SAM2AutomaticMaskGenerator(model, points_per_side=None)
    with pytest.raises(ValueError, match="exactly one"):
        SAM2AutomaticMaskGenerator(model, point_grids=[amg.point_grid(4)])
    with pytest.raises(ValueError, match="output_mode"):
        SAM2AutomaticMaskGenerator(model, output_mode="png")
    with pytest.raises(ValueError, match="crop_n_layers"):
        SAM2AutomaticMaskGenerator(
            model, points_per_side=None, point_grids=[amg.point_grid(4)], crop_n_layers=1
        )
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pycocotools"):
            SAM2AutomaticMaskGenerator(model, output_mode="coco_rle")


@pytest.fixture(scope="module")
def demo():
    return build_sam2("demo")


def _cells(seed):
    image, labels = synthetic_cells(n_frames=1, size=(256, 256), n_cells=8, seed=seed)
    return image[0], labels[0]


def _iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def test_demo_finds_the_cells(demo):
    """Measured: 16/16 cells (seeds 0, 1) matched at IoU >= 0.5 (31/32 over seeds 0-3; 91% of masks are cells)."""
    generator = SAM2AutomaticMaskGenerator(
        demo, points_per_side=16, pred_iou_thresh=0.7, stability_score_thresh=0.9
    )
    found = total = 0
    for seed in (0, 1):
        image, labels = _cells(seed)
        records = generator.generate(image)  # uint16: one contrast window for the whole frame
        for cell in (i for i in np.unique(labels) if i):
            found += (
                max((_iou(labels == cell, r["segmentation"]) for r in records), default=0) >= 0.5
            )
            total += 1
    assert found / total >= 0.85, f"{found}/{total} cells found"


def test_grey_input_equals_its_rgb_copy_and_crops_share_one_contrast_window(demo, monkeypatch):
    image, _ = _cells(2)
    small = image[:128, :160]
    generator = SAM2AutomaticMaskGenerator(
        demo, points_per_side=4, pred_iou_thresh=0.5, stability_score_thresh=0.5, crop_n_layers=1
    )
    seen = []
    set_image = generator.predictor.set_image
    monkeypatch.setattr(
        generator.predictor,
        "set_image",
        lambda im, contrast_limits=None, channel=None: (
            seen.append(contrast_limits),
            set_image(im, contrast_limits),
        )[1],
    )
    generator.generate(small)
    assert seen == [robust_limits(small)] * 5  # the whole frame's window, for every crop
    generator.options.crop_n_layers = (
        0  # (the grid list still has the crop layer's grid; only the first is used)
    )
    seen.clear()
    grey = generator.generate(small, contrast_limits=(300.0, 3000.0))
    assert seen == [(300.0, 3000.0)]  # explicit limits are used as given
    rgb = generator.generate(np.repeat(small[..., None], 3, -1), contrast_limits=(300.0, 3000.0))
    assert len(grey) == len(rgb) > 0
    for a, b in zip(grey, rgb):
        assert (
            np.array_equal(a["segmentation"], b["segmentation"])
            and a["predicted_iou"] == b["predicted_iou"]
        )


def test_records_have_the_official_form(demo):
    image, _ = _cells(0)
    rle_gen = SAM2AutomaticMaskGenerator(
        demo,
        points_per_side=8,
        pred_iou_thresh=0.7,
        stability_score_thresh=0.9,
        output_mode="uncompressed_rle",
    )
    records = rle_gen.generate(image)
    assert records
    for r in records:
        assert set(r) == {
            "segmentation",
            "area",
            "bbox",
            "predicted_iou",
            "point_coords",
            "stability_score",
            "crop_box",
        }
        mask = amg.rle_to_mask(r["segmentation"])
        ys, xs = np.nonzero(mask)
        assert r["area"] == mask.sum()
        assert r["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        assert r["crop_box"] == [0, 0, 256, 256]
        assert len(r["point_coords"]) == 1 and len(r["point_coords"][0]) == 2
    ious = [r["predicted_iou"] for r in records]
    assert ious == sorted(ious, reverse=True)  # the box NMS orders by predicted IoU
