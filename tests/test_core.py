"""The tracker core: typed memory entries, keyword-only steps, one core under the predictor and the engine,
and models built for images switched to the video settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import build_sam2
from napari_sam2.engine import TrackingSession
from napari_sam2.model.memory_bank import MemoryEntry
from napari_sam2.predictor import build_sam2_video_predictor
from napari_sam2.predictor.core import FeatureCache, TrackerCore
from napari_sam2.predictor.frames import FrameSource
import test_engine
from conftest import attention_inputs

SIZE = test_engine.SIZE
model, movie = test_engine.model, test_engine.movie  # the engine tests' module fixtures


def _click(labels, frame=0, obj=1):
    y, x = np.argwhere(labels[frame] == obj).mean(0)
    return [[float(x), float(y)]]


def test_track_step_takes_keywords_only(model):
    feats = TrackerCore(model, FrameSource(np.zeros((2, 32, 32), np.uint16), SIZE)).features(0)
    with pytest.raises(TypeError):
        model.track_step(0, feats, 2)  # the old positional call
    with torch.inference_mode():
        out = model.track_step(
            frame_idx=0,
            feats=feats,
            num_frames=2,
            is_init_cond_frame=True,
            mask_inputs=torch.ones(1, 1, SIZE, SIZE),
        )
    assert out.memory.shape == (1, model.mem_dim, SIZE // 16, SIZE // 16)
    assert out.memory_pos.shape == out.memory.shape and out.masks.shape == (
        1,
        1,
        SIZE // 4,
        SIZE // 4,
    )


def test_pointer_only_entry_adds_no_spatial_memory(model, movie):
    """A MemoryEntry without features feeds only its pointer tokens to the memory attention."""
    image, labels = movie
    core = TrackerCore(model, FrameSource(image, SIZE), fill_hole_area=0)
    mask = torch.nn.functional.interpolate(
        torch.as_tensor(labels[0] == 1, dtype=torch.float32)[None, None], size=(SIZE, SIZE)
    )
    first = core.prompt(0, mask=mask)
    memory = core.memory(0, first.masks, first.object_score, from_prompt=True)

    def both():
        core.track(
            1, batch=1, cond={0: core.entry(first.obj_ptr, memory)}, non_cond={}, reverse=False
        )
        core.track(1, batch=1, cond={0: MemoryEntry(first.obj_ptr)}, non_cond={}, reverse=False)

    (_, full), (_, pointer_only) = attention_inputs(model, both)
    assert (
        full[0] - pointer_only[0] == (SIZE // 16) ** 2
    )  # one frame's spatial memory less, the pointer kept


def test_feature_cache_is_bounded_in_megabytes(model, movie):
    image, _ = movie
    cache = FeatureCache(model, FrameSource(image, SIZE), max_mb=0)
    for f in (0, 1, 2, 1):
        cache(f)
    assert (
        cache.cached() == [1] and cache.encoded == 4
    )  # only the last frame stays at a zero budget
    roomy = FeatureCache(model, FrameSource(image, SIZE), max_mb=1024)
    for f in (0, 1, 2, 1, 0):
        roomy(f)
    assert (
        roomy.cached() == [2, 1, 0] and roomy.encoded == 3
    )  # hits move to the end, nothing re-encoded
    one = cache(0).nbytes()
    assert (
        roomy.nbytes() == 3 * one and cache.nbytes() == one
    )  # a running total, evictions taken off
    two_frames = FeatureCache(model, FrameSource(image, SIZE), max_mb=2.5 * one / 2**20)
    for f in (0, 1, 2, 3, 2):
        two_frames(f)
    two_frames(1, (0, 0))  # a window of frame 1: cached apart, the same size
    assert two_frames.cached() == [2, (1, 0, 0)] and two_frames.nbytes() == 2 * one


def test_predictor_and_engine_share_the_core(model, movie):
    """The same prompt through the official-API predictor and through the engine gives identical logits
    on every frame: both compute with TrackerCore."""
    image, labels = movie
    predictor = build_sam2_video_predictor(
        "sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE, fill_hole_area=0
    )
    predictor.model.load_state_dict(model.state_dict())
    state = predictor.init_state(image)
    assert isinstance(state.core, TrackerCore)
    predictor.add_new_points_or_box(state, 0, 1, points=_click(labels), labels=[1])
    theirs = {f: m[0, 0].numpy() for f, _, m in predictor.propagate_in_video(state)}
    session = TrackingSession(predictor.model, image, fill_hole_area=0)
    assert isinstance(session.core, TrackerCore)
    session.add_points(0, 1, _click(labels), [1])
    session.propagate()
    for f in range(len(image)):
        assert np.array_equal(theirs[f], session.object_logits(f, 1)), f


def test_a_model_built_for_images_is_switched_to_video_settings(model, movie):
    image, labels = movie
    torch.manual_seed(0)
    for_images = build_sam2("sam2.1_hiera_tiny", checkpoint=None, image_size=SIZE)
    for_images.load_state_dict(model.state_dict())
    assert not for_images.cfg.binarize_mask_from_pts_for_mem_enc
    with pytest.warns(UserWarning, match="built for images.*binarize_mask_from_pts_for_mem_enc"):
        converted = TrackingSession(for_images, image)
    assert for_images.cfg.binarize_mask_from_pts_for_mem_enc
    video = TrackingSession(model, image)
    for s in (converted, video):
        s.add_points(0, 1, _click(labels), [1])
        s.propagate()
    assert np.array_equal(converted.labels(), video.labels())
