"""The bundled demo model: shipped, verified, recognised, and good on held-out data: it segments
what is boxed, tracks isolated cells from one click, and corrective clicks do not wreck frames.

Each quality floor below is what the shipped weights (demo v3) measured, minus a margin for rounding
across thread counts and CPUs, written beside it. A new demo model must meet them: they are not moved to
follow a model (a model that measures less is a regression, named in docs/training.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import SAM2ImagePredictor, build_sam2, build_sam2_video_predictor
from napari_sam2.model.configs import DEMO
from napari_sam2.synthetic import synthetic_cells
from napari_sam2.train.demo.quality import (
    correct_worst,
    isolated_cells,
    mask_iou,
    track_from_clicks,
    tracked_mean,
)
from napari_sam2.weights import resolve_checkpoint

# seeds the demo's training never drew (its generators' seeds start at random 31-bit numbers)
HELD_OUT = (101, 202, 303, 404)
CORRECTION_SEEDS = tuple(range(501, 509))

# the floors: measured with demo v3, minus a margin
BOX_IOU = 0.972 - 0.05  # one box per cell, 12 cells (untrained weights: 0.066)
ISOLATED_IOU = (
    0.834 - 0.03
)  # one click per cell, 30 tracked frames, 4 movies (0.81, 0.96, 0.86, 0.71)
COLOUR_IOU, GREY_IOU = 0.856 - 0.05, 0.974 - 0.05  # a red-stained movie, and its luminance
CORRECTIONS_IMPROVED, CORRECTION_MEAN = 2, -0.04 - 0.11  # of 8 worst frames: improved, mean change


@pytest.fixture(scope="module")
def demo_model():
    return build_sam2_video_predictor("demo", checkpoint="auto").model


def test_demo_is_bundled_and_recognised(demo_model):
    assert demo_model.cfg.name == DEMO and demo_model.image_size == 256
    assert resolve_checkpoint("demo").stat().st_size < 20e6
    assert build_sam2("auto", checkpoint=resolve_checkpoint("demo")).cfg.name == DEMO


def _box_ious(model) -> list[float]:
    """One box per cell on held-out frames; IoU of the predicted mask with the cell."""
    predictor = SAM2ImagePredictor(model)
    out = []
    for seed in HELD_OUT:
        image, truth = synthetic_cells(n_frames=1, size=(128, 128), n_cells=3, seed=seed)
        predictor.set_image(image[0])
        for obj in range(1, 4):
            ys, xs = np.nonzero(truth[0] == obj)
            masks, _, _ = predictor.predict(
                box=np.array([xs.min(), ys.min(), xs.max(), ys.max()]), multimask_output=False
            )
            out.append(mask_iou(masks[0] > 0, truth[0] == obj))
    return out


def test_demo_segments_far_better_than_untrained_weights(demo_model):
    torch.manual_seed(0)
    untrained = build_sam2("demo", checkpoint=None)
    trained, random = np.mean(_box_ious(demo_model)), np.mean(_box_ious(untrained))
    assert trained >= BOX_IOU and trained > random + 0.5, (trained, random)


def test_correction_clicks_on_the_worst_frame_do_not_wreck_it(demo_model):
    """One corrective click where the worst tracked object-frame is most wrong (as a user would click), on
    eight held-out 11-frame movies. The demo's corrections are unreliable, and this guards the measured
    level: v3 improved 2 of 8 frames, mean change -0.04 (0.29 -> 0.64 and 0.35 -> 0.95 up; 0.84 -> 0.38
    the worst drop). Demo v2 improved 1 of 8 with a mean change of -0.34 (three frames above 0.85 fell
    to 0.1 or less), and fails this test."""
    changes = []
    for seed in CORRECTION_SEEDS:
        image, truth = synthetic_cells(n_frames=11, size=(128, 128), n_cells=3, seed=seed)
        session, ious = track_from_clicks(demo_model, image, truth)
        _, _, before, after = correct_worst(session, ious, truth)
        changes.append(after - before)
    assert (
        sum(c > 0 for c in changes) >= CORRECTIONS_IMPROVED and np.mean(changes) >= CORRECTION_MEAN
    ), np.round(changes, 2)


def test_demo_tracks_isolated_cells_from_one_click(demo_model):
    """One click per cell on frame 0 of held-out movies, then 30 tracked frames (:data:`ISOLATED_IOU`).
    The issue's target of 0.85 is not reached (docs/training.md)."""
    per_movie = isolated_cells(demo_model, HELD_OUT)
    assert np.mean(per_movie) >= ISOLATED_IOU, per_movie


def _red_movie(seed: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 (T, Y, X, 3) movie: cells bright in red, dim in green and blue (as a stained sample looks)."""
    image, truth = synthetic_cells(n_frames=n_frames, size=(128, 128), n_cells=3, seed=seed)
    lo, hi = np.percentile(image, (0.1, 99.9))
    unit = np.clip((image - lo) / (hi - lo), 0, 1)
    return np.stack([255 * unit, 60 * unit, 60 * unit], -1).astype(np.uint8), truth


def test_colour_movies_track_and_grey_mode_still_works(demo_model):
    """Demo v1 saw grey frames only and lost every cell of a colour movie (mean IoU 0.00 on frames 1-7);
    v2 trained on colour too, and no grey-only warning any more (:data:`COLOUR_IOU`, :data:`GREY_IOU`;
    0.85-0.86 and 0.94-0.97 over the four held-out seeds)."""
    import warnings

    from napari_sam2.engine.stack import stack_view
    from napari_sam2.notices import QualityWarning

    rgb, truth = _red_movie(HELD_OUT[2], n_frames=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QualityWarning)
        _, colour = track_from_clicks(demo_model, stack_view(rgb), truth)
    _, grey = track_from_clicks(demo_model, stack_view(rgb, channel="grey"), truth)
    colour, grey = tracked_mean(colour), tracked_mean(grey)
    assert colour >= COLOUR_IOU and grey >= GREY_IOU, (colour, grey)
