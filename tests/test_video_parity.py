"""Parity of our video predictor with the official SAM2VideoPredictor on identical random weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import oracle
from napari_sam2.predictor.frames import FrameSource
from napari_sam2.synthetic import synthetic_cells

pytestmark = pytest.mark.oracle
TOL = 1e-4


def _frames(n=12, size=(96, 128)):
    image, labels = synthetic_cells(n_frames=n, size=size, n_cells=3, seed=7)
    grey = (image.astype(np.float32) / image.max() * 255).astype(np.uint8)
    rgb = np.stack([grey, grey // 2 + 60, 255 - grey], axis=-1)  # three different channels
    return rgb, labels


class Pair:
    """Runs the same calls on the official predictor and ours and compares every output."""

    def __init__(
        self, name, frames, image_size=256, object_bias=3.0, apply_postprocessing=True, **options
    ):
        self.off = oracle.build_official_video(
            name, image_size, object_bias=object_bias, apply_postprocessing=apply_postprocessing
        )
        self.ours = oracle.ours_video_like(
            self.off, name, apply_postprocessing=apply_postprocessing, **options
        )
        src = FrameSource(frames, self.off.image_size)
        stacked = torch.stack([src[i] for i in range(len(src))])
        self.s_off = self.off.init_state((stacked, src.height, src.width))
        self.s_ours = self.ours.init_state(frames)
        self.max_delta = 0.0
        self.frames_compared = 0

    def _same(self, a, b, what):
        fa, ids_a, ma = a
        fb, ids_b, mb = b
        assert fa == fb and list(ids_a) == list(ids_b), what
        ma, mb = ma.float(), mb.float()
        assert ma.shape == mb.shape, what
        delta = (ma - mb).abs().max().item()
        self.max_delta = max(self.max_delta, delta)
        assert delta <= TOL, f"{what}: logits differ by {delta}"
        assert torch.equal(ma > 0, mb > 0), f"{what}: binary masks differ"
        self.frames_compared += 1

    def call(self, method, *args, **kwargs):
        a = getattr(self.off, method)(self.s_off, *args, **kwargs)
        b = getattr(self.ours, method)(self.s_ours, *args, **kwargs)
        self._same(a, b, f"{method}{args}")
        return b

    def propagate(self, **kwargs):
        a = list(self.off.propagate_in_video(self.s_off, **kwargs))
        b = list(self.ours.propagate_in_video(self.s_ours, **kwargs))
        assert [x[0] for x in a] == [x[0] for x in b], "frame order differs"
        for x, y in zip(a, b):
            self._same(x, y, f"propagate {kwargs} frame {x[0]}")
        return b


@pytest.fixture(scope="module")
def frames():
    return _frames()


@pytest.mark.parametrize("name", ["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def test_one_object_clicked_on_frame_0(name, frames):
    rgb, labels = frames
    pair = Pair(name, rgb)
    y, x = np.argwhere(labels[0] == 1).mean(0)
    pair.call("add_new_points_or_box", frame_idx=0, obj_id=1, points=[[x, y]], labels=[1])
    out = pair.propagate()
    assert [f for f, _, _ in out] == list(range(12))
    assert pair.frames_compared == 13
    # the run exercised real masks, not only "object absent" frames
    assert sum(float((m > 0).float().mean()) > 0 for _, _, m in out) >= 6


@pytest.mark.parametrize("name", ["sam2.1_hiera_tiny", "sam2_hiera_small"])
def test_three_objects_points_box_mask_on_different_frames(name, frames):
    rgb, labels = frames
    pair = Pair(name, rgb)
    y, x = np.argwhere(labels[0] == 1).mean(0)
    pair.call(
        "add_new_points_or_box", frame_idx=0, obj_id=1, points=[[x, y], [5.0, 5.0]], labels=[1, 0]
    )
    ys, xs = np.nonzero(labels[3] == 2)
    pair.call(
        "add_new_points_or_box", frame_idx=3, obj_id=2, box=[xs.min(), ys.min(), xs.max(), ys.max()]
    )
    pair.call("add_new_mask", frame_idx=5, obj_id=7, mask=labels[5] == 3)
    pair.propagate()
    # backwards from the later prompts, as a user would to fill the start of the movie
    pair.propagate(start_frame_idx=5, reverse=True)


def test_correction_then_propagate_again(frames):
    rgb, labels = frames
    pair = Pair("sam2.1_hiera_tiny", rgb)
    y, x = np.argwhere(labels[0] == 1).mean(0)
    pair.call("add_new_points_or_box", frame_idx=0, obj_id=1, points=[[x, y]], labels=[1])
    pair.call("add_new_points_or_box", frame_idx=0, obj_id=2, points=[[20.0, 20.0]], labels=[1])
    pair.propagate()
    y6, x6 = np.argwhere(labels[6] == 1).mean(0)
    # a click on an already tracked frame refines it from memory (not a new prompted frame)
    pair.call(
        "add_new_points_or_box",
        frame_idx=6,
        obj_id=1,
        points=[[x6, y6 + 3]],
        labels=[1],
        clear_old_points=False,
    )
    pair.call(
        "add_new_points_or_box",
        frame_idx=6,
        obj_id=1,
        points=[[60.0, 10.0]],
        labels=[0],
        clear_old_points=False,
    )
    pair.propagate(start_frame_idx=6)
    pair.propagate()


def test_reverse_and_middle_start_with_limit(frames):
    rgb, labels = frames
    pair = Pair("sam2.1_hiera_tiny", rgb)
    y, x = np.argwhere(labels[8] == 2).mean(0)
    pair.call("add_new_points_or_box", frame_idx=8, obj_id=3, points=[[x, y]], labels=[1])
    out = pair.propagate(reverse=True)
    assert [f for f, _, _ in out] == list(range(8, -1, -1))
    out = pair.propagate(start_frame_idx=4, max_frame_num_to_track=3)
    assert [f for f, _, _ in out] == [4, 5, 6, 7]


def test_remove_object_and_clear_prompts(frames):
    rgb, labels = frames
    pair = Pair("sam2.1_hiera_tiny", rgb)
    for obj, frame in ((1, 0), (2, 2), (3, 4)):
        y, x = np.argwhere(labels[frame] == obj).mean(0)
        pair.call("add_new_points_or_box", frame_idx=frame, obj_id=obj, points=[[x, y]], labels=[1])
    pair.propagate(max_frame_num_to_track=5)
    ids_a, upd_a = pair.off.remove_object(pair.s_off, 2)
    ids_b, upd_b = pair.ours.remove_object(pair.s_ours, 2)
    assert ids_a == ids_b == [1, 3]
    assert [f for f, _ in upd_a] == [f for f, _ in upd_b] == [2]
    assert (upd_a[0][1] - upd_b[0][1]).abs().max() <= TOL
    pair.call("clear_all_prompts_in_frame", 4, 3)
    y, x = np.argwhere(labels[7] == 3).mean(0)
    pair.call("add_new_points_or_box", frame_idx=7, obj_id=3, points=[[x, y]], labels=[1])
    pair.propagate()


def test_apply_postprocessing_off(frames):
    """Without the video builder's post-processing, a clicked frame's memory is made from the mask
    logits (not the binarised mask) and single masks have no stability fallback, on both sides."""
    rgb, labels = frames
    pair = Pair("sam2.1_hiera_tiny", rgb[:4], image_size=128, apply_postprocessing=False)
    assert not pair.ours.model.cfg.binarize_mask_from_pts_for_mem_enc
    assert pair.ours.fill_hole_area == 0
    y, x = np.argwhere(labels[0] == 1).mean(0)
    clicks = dict(frame_idx=0, obj_id=1, points=[[x, y], [x + 4, y]], labels=[1, 1])
    pair.call("add_new_points_or_box", **clicks)
    off = pair.propagate()
    # the setting matters: with the memory of the binarised mask (what apply_postprocessing adds)
    # the tracking differs
    pair.ours.model.cfg = replace(pair.ours.model.cfg, binarize_mask_from_pts_for_mem_enc=True)
    state = pair.ours.init_state(rgb[:4])
    pair.ours.add_new_points_or_box(state, **clicks)
    on = list(pair.ours.propagate_in_video(state))
    assert max((a[2] - b[2]).abs().max().item() for a, b in zip(off, on)) > 1e-3


def test_absent_objects_path(frames):
    """With the default random object head most frames judge the object absent: the
    'no object' pointer and spatial embedding paths must match too."""
    rgb, _ = frames
    pair = Pair("sam2.1_hiera_tiny", rgb, object_bias=None)
    pair.call("add_new_points_or_box", frame_idx=2, obj_id=1, points=[[40.0, 40.0]], labels=[1])
    pair.call("add_new_points_or_box", frame_idx=2, obj_id=2, box=[10.0, 10.0, 60.0, 50.0])
    pair.propagate()
    pair.propagate(reverse=True)


@pytest.mark.slow
def test_parity_at_1024(frames):
    rgb, labels = frames
    pair = Pair("sam2.1_hiera_tiny", rgb[:4], image_size=None)
    y, x = np.argwhere(labels[0] == 1).mean(0)
    pair.call("add_new_points_or_box", frame_idx=0, obj_id=1, points=[[x, y]], labels=[1])
    pair.call("add_new_mask", frame_idx=1, obj_id=2, mask=labels[1] == 2)
    pair.propagate()
