"""Who owns a frame's pixels: a prompted object over tracked neighbours; objects hidden under others;
the confidence strip never calling an object "present" where it has no pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import present_model
from napari_sam2.engine import TrackingSession
from napari_sam2.engine.results import FrameResult
from napari_sam2.engine.visibility import Patch, Visible, compose_labels

SIZE = 128
GRID = SIZE // 4


@pytest.fixture(scope="module")
def model():
    return present_model(SIZE, seed=5)


def disc(cy, cx, r):
    yy, xx = np.mgrid[:GRID, :GRID]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


def result(mask, high=10.0, score=5.0, direction="forward"):
    logits = torch.where(torch.as_tensor(mask), high, -10.0).float()[None, None]
    return FrameResult(logits, torch.zeros(1, 256), score, 0.9, direction)


@pytest.fixture
def session(model):
    """Object 1 (small cell) and object 2 (a drifting neighbour, larger and more confident, covering
    object 1) on frames 1-3; object 1 is prompted on frame 1 only."""
    s = TrackingSession(model, np.zeros((4, SIZE, SIZE), np.uint16), fill_hole_area=0)
    s.add_points(0, 1, [[40.0, 40.0]], [1])
    s.add_points(1, 1, [[64.0, 64.0]], [1])
    s.add_points(0, 2, [[90.0, 90.0]], [1])
    small, big = disc(16, 16, 4), disc(16, 18, 9)
    s.objects[1].results[0] = result(disc(5, 5, 3), direction=None)  # apart on frame 0
    s.objects[2].results[0] = result(disc(25, 25, 3), direction=None)
    s.objects[1].results.update(
        {1: result(small, 10.0, direction=None), 2: result(small), 3: result(small)}
    )
    s.objects[2].results.update(
        {1: result(big, 20.0), 2: result(big, 20.0), 3: result(disc(16, 16, 1), 20.0)}
    )
    return s


def test_prompted_object_owns_its_pixels_on_its_prompted_frame(session):
    own = session.object_logits(1, 1) > 0
    labels = session.label_frame(1)
    assert (
        own.sum() > 100 and (labels[own] == 1).all()
    )  # the prompt wins over the neighbour's higher logits
    assert (
        (labels == 2) == ((session.object_logits(1, 2) > 0) & ~own)
    ).all()  # the neighbour keeps the rest
    # on a frame where both are only tracked, the highest logit still wins
    assert not (session.label_frame(2) == 1).any()


def test_compose_labels_rules():
    a, b, c = (Patch(0, 0, np.array([v], np.float32)) for v in ((5, -1, 2), (9, 9, -1), (1, 3, 1)))
    # only tracked objects: highest positive logit
    assert compose_labels([(1, a, False), (2, b, False)], (1, 3)).tolist() == [[2, 2, 1]]
    # a prompted object wins its pixels; two prompted: the higher logit
    assert compose_labels([(1, a, True), (2, b, False)], (1, 3)).tolist() == [[1, 2, 1]]
    layers = [(1, a, True), (2, b, False), (3, c, True)]
    assert compose_labels(layers, (1, 3)).tolist() == [[1, 3, 1]]
    assert compose_labels([], (2, 2)).tolist() == [[0, 0], [0, 0]]


def test_patches_compose_as_the_same_logits_pasted_into_the_frame():
    """Window mode hands each object's window only: the labels must be those of the whole-frame
    logits with no object outside the window, for patches that overlap, touch the frame's edge and
    are prompted or not."""
    rng = np.random.default_rng(5)
    shape = (40, 50)
    layers, whole = [], []
    for oid, (y0, x0, h, w) in enumerate([(0, 0, 16, 16), (8, 6, 16, 16), (30, 40, 10, 10)], 1):
        logits = rng.normal(size=(h, w)).astype(np.float32)
        frame = np.full(shape, -1024.0, np.float32)
        frame[y0 : y0 + h, x0 : x0 + w] = logits
        layers.append((oid, Patch(y0, x0, logits), oid == 2))
        whole.append((oid, Patch(0, 0, frame), oid == 2))
    labels = compose_labels(layers, shape)
    assert np.array_equal(labels, compose_labels(whole, shape))
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_patches_cut_to_their_positive_part_give_the_same_labels_and_visibility():
    """Each object's patch is cut to where its upsampled logits can be positive: labels and visibility
    must be those of the uncut patches, for small and large masks in windows (at the frame's edge too),
    whole-frame masks resized by a scale that is not whole, and an empty mask."""
    from napari_sam2.engine.views import positive_part
    from napari_sam2.engine.visibility import _visible
    from napari_sam2.engine.windows import Window, window_logits

    rng = np.random.default_rng(11)
    shape = (300, 310)
    cut_layers, full_layers = [], []
    windows = [Window(0, 0, 128), Window(32, 48, 128), Window(224, 240, 128), Window(64, 64, 128)]
    for oid, window in enumerate(windows, 1):
        low = torch.full((1, 1, GRID, GRID), -8.0)
        if oid != 4:  # the last one is empty
            cy, cx, r = rng.integers(4, GRID - 4, 2).tolist() + [int(rng.integers(2, 9))]
            low = low + 16.0 * torch.as_tensor(disc(cy, cx, r), dtype=torch.float32)
            low = low + torch.as_tensor(rng.normal(size=(GRID, GRID)), dtype=torch.float32)
        full = Patch(window.y0, window.x0, window_logits(low, window, shape))
        cut = positive_part(full, low, window.size)
        assert cut.logits.size < full.logits.size
        cut_layers.append((oid, cut, oid == 2))
        full_layers.append((oid, full, oid == 2))
    low = torch.as_tensor(rng.normal(size=(1, 1, GRID, GRID)) - 1.5, dtype=torch.float32)
    frame = torch.nn.functional.interpolate(low, size=shape, mode="bilinear", align_corners=False)
    full = Patch(0, 0, frame[0, 0].numpy())
    cut_layers.append((5, positive_part(full, low), False))
    full_layers.append((5, full, False))
    labels = compose_labels(cut_layers, shape)
    assert np.array_equal(labels, compose_labels(full_layers, shape))
    assert set(np.unique(labels)) == {0, 1, 2, 3, 5}
    assert _visible(labels, {o: p for o, p, _ in cut_layers}) == _visible(
        labels, {o: p for o, p, _ in full_layers}
    )


def test_hidden_objects_are_named_with_the_object_covering_them(session):
    assert session.visibility(2) == {
        1: Visible(0, 2),
        2: Visible(int((session.label_frame(2) == 2).sum()), None),
    }
    assert session.visibility(1)[1].pixels == int((session.object_logits(1, 1) > 0).sum())
    line = session.timeline(1)
    assert (
        line.hidden.tolist() == [0, 0, 2, 0] and not line.lost.any()
    )  # present there, but under object 2
    assert session.timelines()[2].hidden.tolist() == [0, 0, 0, 0]
    # the cache follows new results: object 2 moves away from object 1 on frame 2
    session.objects[2].results[2] = result(disc(3, 3, 2), 20.0)
    assert session.visibility(2)[1] == Visible(int((session.object_logits(2, 1) > 0).sum()), None)
    assert session.timeline(1).hidden[2] == 0


def test_a_mask_with_no_pixel_at_the_frame_size_is_lost(model):
    """A barely positive speck on the model's grid can vanish when resized to the frame: nothing to show."""
    s = TrackingSession(model, np.zeros((2, SIZE, SIZE), np.uint16), fill_hole_area=0)
    s.add_points(0, 1, [[40.0, 40.0]], [1])
    speck = torch.full((1, 1, GRID, GRID), -10.0)
    speck[0, 0, 10, 10] = 0.1
    s.objects[1].results[1] = FrameResult(speck, torch.zeros(1, 256), 5.0, 0.9, "forward")
    assert not s.objects[1].results[1].lost and not (s.label_frame(1) == 1).any()
    assert s.visibility(1) == {1: Visible(0, None)}
    line = s.timeline(1)
    assert line.lost.tolist() == [False, True] and line.hidden.tolist() == [0, 0]


@pytest.mark.gui
def test_strip_shows_hidden_frames_and_never_present_without_pixels(session, qapp):
    from napari_sam2.gui.timeline import COLORS, ConfidenceTimeline

    strip = ConfidenceTimeline()
    line = session.timeline(1)
    strip.set_data(line.scores, line.prompted, lost=line.lost, hidden=line.hidden)
    assert [strip.kind(f) for f in range(4)] == ["prompted", "prompted", "hidden", "present"]
    assert (
        strip.tooltip(2)
        == "frame 2: hidden under object 2 \u2014 click on it on this frame to correct"
    )
    assert COLORS["hidden"] not in (
        COLORS["present"],
        COLORS["lost"],
        COLORS["prompted"],
        COLORS["none"],
    )
    # a score above the threshold is not "present" where the engine found no pixel
    strip.set_data(np.array([1.0, 2.0, np.nan]), (), lost=np.array([False, True, False]))
    assert [strip.kind(f) for f in range(3)] == ["present", "lost", "none"]
    assert "lost" in strip.tooltip(1) and "not tracked" in strip.tooltip(2)
    strip.resize(300, 36)
    strip.grab()  # paints every kind without error
    strip.close()
    from napari_sam2.gui.object_list import entry_text

    assert entry_text(1, "cell", line, "frame") == "1: cell \u2014 hidden on 1 frame"
