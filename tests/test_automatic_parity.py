"""Parity of our automatic mask generator with the official one on identical random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import SAM2AutomaticMaskGenerator

import oracle

pytestmark = pytest.mark.oracle
TOL = 1e-4
NAME = "sam2.1_hiera_tiny"

# Random weights give near-constant logits (about +-0.2) that are almost the same for every click,
# so every grid point yields one whole-image mask. Scaling the mask head and moving its zero gives
# masks of tens to thousands of pixels with spread scores (measured: 2-12 records per case below).
LOGIT_SCALE, LOGIT_SHIFT = 300.0, -55.0
# few points and batches of 16 keep each case at a few seconds while still running several batches
BASE = dict(
    points_per_side=6, points_per_batch=16, pred_iou_thresh=0.45, stability_score_thresh=0.5
)


@pytest.fixture(scope="module")
def models():
    off = oracle.build_official(NAME, 256)
    oracle.shape_mask_logits(off, LOGIT_SCALE, LOGIT_SHIFT)
    return off, oracle.ours_like(off, NAME)


def assert_same_records(theirs: list[dict], mine: list[dict]) -> None:
    assert len(mine) == len(theirs), f"{len(mine)} records, official {len(theirs)}"
    for i, (a, b) in enumerate(zip(theirs, mine)):
        assert set(a) == set(b), f"record {i}: keys {sorted(b)} vs {sorted(a)}"
        seg_a, seg_b = a["segmentation"], b["segmentation"]
        if isinstance(seg_a, np.ndarray):
            assert seg_b.dtype == bool and seg_b.shape == seg_a.shape
            assert np.array_equal(seg_a, seg_b), (
                f"record {i}: segmentations differ in {np.sum(seg_a != seg_b)} px"
            )
        else:
            assert seg_a == seg_b, f"record {i}: RLEs differ"
        assert a["area"] == b["area"] and isinstance(b["area"], int)
        for key in ("bbox", "crop_box"):
            assert a[key] == b[key], f"record {i}: {key} {b[key]} vs {a[key]}"
        assert np.abs(np.subtract(a["point_coords"], b["point_coords"])).max() <= TOL
        for key in ("predicted_iou", "stability_score"):
            assert abs(a[key] - b[key]) <= TOL, f"record {i}: {key} {b[key]} vs {a[key]}"


def _both(monkeypatch, models, image, **options):
    off, ours = models
    theirs = oracle.official_mask_generator(monkeypatch, off, **options).generate(image)
    mine = SAM2AutomaticMaskGenerator(ours, **options).generate(image)
    return theirs, mine


CASES = {
    "defaults": {},
    "one crop layer": dict(crop_n_layers=1, crop_n_points_downscale_factor=2),
    "min_mask_region_area": dict(min_mask_region_area=25),
    # refined and single masks are scattered (large, overlapping boxes): a higher NMS cut-off keeps several
    "use_m2m": dict(use_m2m=True, stability_score_thresh=0.0, box_nms_thresh=0.95),
    "single mask": dict(
        multimask_output=False, pred_iou_thresh=0.4, stability_score_thresh=0.0, box_nms_thresh=0.95
    ),
    "uncompressed_rle": dict(output_mode="uncompressed_rle"),
}


@pytest.fixture(scope="module")
def default_masks(models, rgb_image_module):
    return [
        r["segmentation"]
        for r in SAM2AutomaticMaskGenerator(models[1], **BASE).generate(rgb_image_module)
    ]


@pytest.fixture(scope="module")
def rgb_image_module():
    rng = np.random.default_rng(0)  # conftest's rgb_image, for module-scoped fixtures
    img = rng.integers(0, 120, (300, 400, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:300, :400]
    img[(yy - 140) ** 2 + (xx - 180) ** 2 < 60**2] += 120
    return img


@pytest.mark.parametrize("case", list(CASES))
def test_generator_matches_official(case, models, rgb_image, default_masks, monkeypatch):
    theirs, mine = _both(monkeypatch, models, rgb_image, **{**BASE, **CASES[case]})
    assert len(theirs) >= 2, "the case should produce several masks, or it tests little"
    assert_same_records(theirs, mine)
    if case not in ("defaults", "uncompressed_rle"):
        # the option changes the result, so a generator that ignored it would fail here
        segs = [r["segmentation"] for r in mine]
        assert len(segs) != len(default_masks) or any(
            not np.array_equal(a, b) for a, b in zip(segs, default_masks)
        )


def test_nonzero_mask_threshold_on_grey_rgb_matches(models, rgb_image, monkeypatch):
    """A mask threshold other than 0 (binarisation and stability) on a grey float image given as RGB."""
    grey = rgb_image.mean(-1).astype(np.uint8)
    image = np.repeat(grey[..., None], 3, -1)
    theirs, mine = _both(
        monkeypatch, models, image, **BASE, mask_threshold=3.0, stability_score_offset=2.0
    )
    assert len(theirs) >= 3
    assert_same_records(theirs, mine)


def test_postprocess_small_regions_matches_official(models, rgb_image, monkeypatch):
    """The official full-resolution clean-up (holes, then islands, 8-connected; NMS prefers unchanged masks)."""
    cls = oracle.official_mask_generator_class(monkeypatch)
    from sam2.utils.amg import MaskData, mask_to_rle_pytorch

    rng = np.random.default_rng(3)
    masks = np.zeros((6, 40, 50), bool)
    masks[:, 5:30, 8:40] = True
    masks[0, 10:13, 12:14] = False  # a 6 px hole
    masks[1, 35:37, 45:47] = True  # a 4 px island
    masks[2, 15, 20] = False
    masks[2, 16, 21] = False  # a diagonal 2 px hole: one region only when 8-connected
    masks[3] = rng.random((40, 50)) < 0.5  # noise: many holes and islands
    masks[4, :] = False
    masks[4, 0:2, 0:2] = True  # only small islands: the largest stays
    masks[4, 20, 20] = True
    masks[5, 5:30, 8:12] = False  # a near-duplicate of mask 0 after its hole is filled
    rles = mask_to_rle_pytorch(torch.from_numpy(masks))
    boxes = torch.tensor([[8, 5, 39, 29]] * 6)
    data = MaskData(rles=[dict(r) for r in rles], boxes=boxes.clone(), iou_preds=torch.arange(6.0))
    cls.postprocess_small_regions(data, 7, 0.7)

    records = [
        {"segmentation": r, "area": int(m.sum()), "bbox": [8.0, 5.0, 31.0, 24.0]}
        for r, m in zip(rles, masks)
    ]
    mine = SAM2AutomaticMaskGenerator.postprocess_small_regions(records, 7, 0.7)
    assert [r["segmentation"] for r in mine] == data["rles"]
    for rec, box in zip(mine, data["boxes"].tolist()):
        assert rec["bbox"] == [box[0], box[1], box[2] - box[0], box[3] - box[1]]
