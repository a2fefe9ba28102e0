"""Demo v2 training: its movies (sizes, crowding, labels), clips made in worker processes, the time
budget and the validation used to pick the best checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.model.build import build_model
from napari_sam2.model.configs import DEMO, get_config
from napari_sam2.synthetic import synthetic_cells
from napari_sam2.train.data import ParallelClipSampler, cut_window, make_clip, movie_clips
from napari_sam2.train.trainer import Stage, TrainConfig, _lr_factor, evaluate, train
from napari_sam2.train.demo.world import MAX_CELLS_256, real_textures, synthetic_world


def _cells_in(labels: np.ndarray) -> int:
    return len(np.unique(labels)) - 1


def test_world_movies_are_deterministic_uint16_with_labels_kept_over_time():
    image, labels, parents = synthetic_world(n_frames=6, size=(200, 160), seed=4)
    again = synthetic_world(n_frames=6, size=(200, 160), seed=4)
    assert image.shape == labels.shape == (6, 200, 160) and image.dtype == labels.dtype == np.uint16
    assert (
        np.array_equal(image, again[0]) and np.array_equal(labels, again[1]) and parents == again[2]
    )
    # a daughter appears only after its parent and never with it; other labels are present from frame 0 or enter
    first_seen = {
        int(v): next(t for t in range(6) if (labels[t] == v).any()) for v in np.unique(labels) if v
    }
    for daughter, parent in parents.items():
        if daughter in first_seen:
            t = first_seen[daughter]
            assert not (labels[t] == parent).any()


def test_world_cell_sizes_follow_the_radius():
    image, labels, _ = synthetic_world(
        n_frames=1, size=(256, 256), seed=1, radius=(6.0, 10.0), n_cells=6, pictures=()
    )
    ids = [v for v in np.unique(labels[0]) if v]
    assert len(ids) >= 4
    inner = [
        v
        for v in ids
        if not np.isin(
            v, np.concatenate([labels[0, [0, -1]].ravel(), labels[0, :, [0, -1]].ravel()])
        )
    ]
    radii = [np.sqrt((labels[0] == v).sum() / np.pi) for v in inner]
    assert 0.6 * 6 < min(radii) and max(radii) < 1.4 * 10, radii
    # cells are brighter or darker than their surroundings: the image shows what the labels say
    inside, outside = image[0][labels[0] > 0].mean(), image[0][labels[0] == 0].mean()
    assert abs(inside - outside) > 3 * image[0][labels[0] == 0].std() / np.sqrt(100)


def test_world_spans_sparse_to_crowded_fields_and_small_to_large_cells():
    counts, radii = [], []
    for seed in range(24):
        _, labels, _ = synthetic_world(n_frames=1, size=(256, 256), seed=seed, pictures=())
        counts.append(_cells_in(labels[0]))
        areas = np.bincount(labels[0].ravel())[1:]
        radii.append(np.sqrt(np.median(areas[areas > 0]) / np.pi))
    assert 1 <= min(counts) <= 5 and 30 <= max(counts) <= MAX_CELLS_256, counts
    assert min(radii) < 8 and max(radii) > 20, radii


def test_real_pictures_are_read_without_a_download():
    pictures = real_textures()
    assert len(pictures) >= 5  # the pictures scikit-image's wheel carries
    assert all(
        p.ndim == 2 and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1 for p in pictures
    )


def test_a_native_window_keeps_cells_at_their_size():
    image, labels = synthetic_cells(n_frames=3, size=(128, 192), n_cells=3, seed=2)
    rng = np.random.default_rng(0)
    window = cut_window(image, labels, 64, rng)
    assert window[0].shape == window[1].shape == (3, 64, 64)
    clip = make_clip(*window, 64, rng, 3, 5, crop=(1.0, 1.0))
    native = [(window[1][0] == v).sum() for v in np.unique(window[1][0]) if v]
    assert sorted(clip.masks[0].flatten(1).sum(1).tolist()) == sorted(
        int(a) for a in native if a >= 12
    )


def _movie(seed):
    image, labels = synthetic_cells(n_frames=5, size=(96, 96), n_cells=2, seed=seed % 1000)
    return image, labels


def test_worker_processes_give_the_same_clips_as_the_main_process():
    made = [
        ParallelClipSampler(_movie, 64, 4, 3, seed=7, workers=w, clips_per_movie=2) for w in (0, 2)
    ]
    try:
        for _ in range(5):
            a, b = (s.draw(4, 3) for s in made)
            assert a.frames.dtype == torch.float16 and a.frames.shape == (4, 3, 64, 64)
            assert torch.equal(a.frames, b.frames) and torch.equal(a.masks, b.masks)
            assert a.masks.dtype == torch.bool and a.masks[0].flatten(1).any(1).all()
    finally:
        for s in made:
            s.close()
    with pytest.raises(ValueError, match="clips of 4 frames"):
        made[0].draw(8, 3)
    packed = movie_clips(_movie, 3, 1, 64, 4, 3)[0]
    assert packed[0].dtype == np.float16 and packed[2][0] == 4


def test_closing_with_large_results_in_flight_returns():
    """Closing right after the first clip, with movies asked ahead whose clips exceed a pipe's buffer (64 KB):
    terminating the pool then deadlocked, now close() lets them finish (a hang here is the failure)."""
    for _ in range(3):
        sampler = ParallelClipSampler(_movie, 96, 4, 3, seed=11, workers=2, clips_per_movie=4)
        sampler.draw(4, 3)
        sampler.close()
        assert sampler.pool is None


def test_training_stops_on_its_time_budget_and_validation_is_repeatable():
    torch.manual_seed(0)
    model = build_model(get_config(DEMO).with_image_size(64))
    sampler = ParallelClipSampler(_movie, 64, 2, 2, seed=1)
    cfg = TrainConfig(stages=[Stage(10_000, 2, 1)], lr=1e-4, warmup=1, corrections=1, budget_s=1.0)
    history = train(model, sampler, cfg)
    # no step starts after the budget (however slow a step is on a busy machine)
    assert (
        1 <= len(history) < 10_000
        and history[-1]["elapsed"] - history[-1]["seconds"] < cfg.budget_s
    )
    # the decay follows the clock when it is further along than the steps
    assert _lr_factor(5, 10_000, 1, 0.05, time_done=1.0) == pytest.approx(0.05)
    assert _lr_factor(5, 10_000, 1, 0.05, time_done=0.5) == pytest.approx(0.525, abs=1e-3)
    val = [sampler.draw(2, 2) for _ in range(3)]
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    first, again = evaluate(model, val, cfg, batch=2), evaluate(model, val, cfg, batch=2)
    assert first == again  # repeatable: no randomness in validation
    assert all(
        torch.equal(v, model.state_dict()[k]) for k, v in weights.items()
    )  # and it trains nothing
    torch.manual_seed(1)
    with (
        torch.no_grad()
    ):  # another model scores otherwise: validation measures the model it is given
        for p in model.sam_mask_decoder.parameters():
            p.add_(torch.randn_like(p))
    assert evaluate(model, val, cfg, batch=2) != first
