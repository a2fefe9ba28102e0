"""Exclusive pixels (issue 16): each pixel belongs to at most one tracked object, and the memory encoder
sees the exclusive masks. Off by default, where nothing changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
import test_many_objects

from napari_sam2.cli import main
from napari_sam2.engine import TrackingSession
from napari_sam2.synthetic import synthetic_cells

SIZE = test_many_objects.SIZE
model, cells = test_many_objects.model, test_many_objects.cells  # 7 cells, a present random model


def tracked(model, cells, **kwargs) -> TrackingSession:
    s = TrackingSession(model, cells[0], **kwargs)
    s.add_labels(0, cells[1][0])
    s.propagate("forward")
    return s


def positive_twice(s: TrackingSession, frame: int) -> int:
    """Low-res pixels of ``frame`` with a positive logit in two or more objects (stored results)."""
    stack = torch.cat([o.results[frame].logits for o in s.objects.values() if frame in o.results])
    return int(((stack > 0).sum(0) > 1).sum())


@pytest.fixture(scope="module")
def plain(model, cells):
    return tracked(model, cells)


@pytest.fixture(scope="module")
def exclusive(model, cells):
    return tracked(model, cells, exclusive=True)


def test_off_changes_nothing(model, cells, plain):
    off = tracked(model, cells, exclusive=False)
    assert not off.tracking.exclusive and off.prompts_dict()["tracking"]["exclusive"] is False
    for oid, obj in plain.objects.items():
        assert sorted(obj.results) == sorted(off.objects[oid].results)
        for f, r in obj.results.items():
            other = off.objects[oid].results[f]
            assert torch.equal(r.logits, other.logits) and torch.equal(r.obj_ptr, other.obj_ptr)


def test_no_pixel_is_positive_in_two_objects(cells, plain, exclusive):
    frames = range(1, len(cells[0]))
    assert sum(positive_twice(plain, f) for f in frames) > 0  # the random model's masks do overlap
    assert all(positive_twice(exclusive, f) == 0 for f in frames)
    assert exclusive.prompts_dict()["tracking"]["exclusive"] is True
    # the label image is made from these masks: every object that keeps a pixel shows in it
    last = len(cells[0]) - 1
    labels = exclusive.label_frame(last)
    for oid, obj in exclusive.objects.items():
        if (obj.results[last].logits > 1).sum() > 4:
            assert (labels == oid).any()


def test_memory_encoder_sees_the_exclusive_masks(cells, plain, exclusive):
    f = len(cells[0]) - 1  # the last frame's memory is still held
    changed = []
    for oid, obj in exclusive.objects.items():
        r, p = obj.results[f], plain.objects[oid].results[f]
        assert r.memory is not None and p.memory is not None and r.memory.dtype == torch.bfloat16
        changed.append(not torch.equal(r.memory, p.memory))
    assert any(changed)
    # a dropped memory is rebuilt from the stored (exclusive) logits: the same computation, one object at a
    # time instead of the batch of 7 (float rounding by batch size, then bfloat16 storage: one bf16 step)
    obj = next(iter(exclusive.objects.values()))
    kept = obj.results[f].memory
    obj.results[f].memory = None
    assert (exclusive.tracker.memory(obj, f).float() - kept.float()).abs().max() < 0.02


def test_bounded_batches_stay_exclusive(model, cells, exclusive):
    small = tracked(model, cells, exclusive=True, max_batch=2)
    for f in range(1, len(cells[0])):
        assert positive_twice(small, f) == 0
        for oid, obj in small.objects.items():
            # float rounding by batch size only (about 1e-7) moves logits near the clamp boundary
            a, b = obj.results[f].logits, exclusive.objects[oid].results[f].logits
            assert ((a > 0) != (b > 0)).float().mean() < 0.01


def test_prompted_objects_own_their_pixels(model, cells):
    image, labels = cells
    s = TrackingSession(model, image, exclusive=True)
    s.add_labels(0, labels[0])
    s.add_mask(
        2, 1, labels[2] == 1
    )  # object 1 is prompted on frame 2; the others are tracked there
    s.propagate("forward")
    shown = s.core.filled(s.objects[1].results[2].logits) > 0
    assert shown.any()
    for oid, obj in s.objects.items():
        if oid != 1:
            assert not (obj.results[2].logits[shown] > 0).any()


def test_exclusive_must_be_a_bool(model, cells):
    with pytest.raises(ValueError, match="exclusive must be true or false"):
        TrackingSession(model, cells[0], exclusive="yes")


def test_cli_exclusive_reaches_the_session(tmp_path, cells, capsys):
    image, labels = cells
    base = [
        *test_many_objects.track_args(tmp_path, image, labels),
        "--memory",
        "official",
    ]  # resolved is exclusive
    for name, option in (("on", ["--exclusive"]), ("off", [])):
        assert (
            main(
                [
                    *base,
                    "--out",
                    str(tmp_path / f"{name}.tif"),
                    "--session",
                    str(tmp_path / f"{name}.json"),
                    *option,
                ]
            )
            == 0
        ), capsys.readouterr().err
        assert json.loads((tmp_path / f"{name}.json").read_text())["tracking"]["exclusive"] is (
            name == "on"
        )
    assert not np.array_equal(
        tifffile.imread(tmp_path / "on.tif"), tifffile.imread(tmp_path / "off.tif")
    )


def test_demo_model_on_touching_cells():
    """Measured, not assumed (docs/engine.md, "Exclusive pixels"): on this crowded movie exclusive pixels
    do not help the demo model: mean IoU 0.569 against 0.584 without, 4 of 9 cells lost in both. Over six
    seeds the mean IoU was 0.01-0.03 lower with it, and lost cells went either way, so only "not much worse"
    is asserted, on the seed measured."""
    from napari_sam2.predictor.video_predictor import build_sam2_video_predictor

    demo = build_sam2_video_predictor("demo", device="cpu").model
    image, truth = synthetic_cells(
        n_frames=12, size=(128, 128), n_cells=9, seed=0, radius=(8.0, 13.0), step=3.0
    )
    scores = {}
    for exclusive in (False, True):
        s = TrackingSession(demo, image, exclusive=exclusive)
        s.add_labels(0, truth[0])
        s.propagate("forward")
        labels = s.labels()
        ious, lost = [], 0
        for k in range(1, 10):
            per = [
                ((labels[t] == k) & (truth[t] == k)).sum()
                / max(((labels[t] == k) | (truth[t] == k)).sum(), 1)
                for t in range(1, len(truth))
            ]
            ious.append(np.mean(per))
            lost += per[-1] < 0.1
        scores[exclusive] = float(np.mean(ious)), lost
    assert scores[False][0] > 0.4  # the movie is trackable at all
    assert scores[True][0] >= scores[False][0] - 0.03 and scores[True][1] <= scores[False][1]
