"""'Objects from labels': each label of a napari Labels layer becomes a tracked object with that id,
driven through the dock widget in a real viewer (tiny random-weight model of
tests/widget_fixtures.py)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.gui.panels.objects import CURRENT, EVERY
from napari_sam2.gui.prompt_sync import Place
from napari_sam2.gui.seeding import label_frames, seed_job
from widget_fixtures import wait

pytestmark = pytest.mark.gui
# IoU of each truth cell with its object on the prompted frame, measured with the random-weight test
# model at 64 px: 0.856 and 0.841 on frame 0 (a mask prompt is used as the frame's output, but
# through the model's low-resolution mask, 16 x 16 at 64 px, upsampled: cell borders move by about a
# pixel)
MIN_IOU = 0.8


def iou(a, b) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def seed(widget, qtbot, layer, every=False):
    """Choose ``layer`` and press 'Objects from labels' as a user would, then wait for the job."""
    panel = widget.objects
    panel.seed_layer.value = layer
    panel.seed_frames.value = EVERY if every else CURRENT
    panel.seed.native.click()
    wait(qtbot, widget)


def test_labels_of_the_current_frame_become_objects_and_track(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    cells = viewer.add_labels(truth[0].copy(), name="cellpose")  # (Y, X): prompts the frame shown
    c.go_to_frame(0)  # napari opens a stack in its middle
    assert (
        out not in widget.objects.seed_layer.choices and cells in widget.objects.seed_layer.choices
    )
    seed(widget, qtbot, cells)
    assert widget.objects.objects.ids() == [1, 2]
    assert sorted(c.session.obj_ids) == [1, 2]
    ious = [iou(out.data[0] == obj, truth[0] == obj) for obj in (1, 2)]
    assert min(ious) >= MIN_IOU, ious
    assert np.array_equal(out.data[0], c.session.label_frame(0))
    assert not out.data[1:].any()  # only the prompted frame so far
    assert "2 object(s) added from 'cellpose' on frame 0" in widget.status.text, widget.status.text
    c.propagate("forward")
    wait(qtbot, widget)
    assert all(set(np.unique(out.data[f])) == {0, 1, 2} for f in range(len(truth)))


def test_every_annotated_frame_of_a_sparse_stack_is_prompted(ready, qtbot):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    sparse = np.zeros_like(truth)
    sparse[0], sparse[3] = truth[0], truth[3]
    seed(widget, qtbot, viewer.add_labels(sparse, name="stardist"), every=True)
    session = widget.controller.session
    for obj in (1, 2):
        assert sorted(session.objects[obj].prompts) == [0, 3]
        for f in (0, 3):
            assert iou(out.data[f] == obj, truth[f] == obj) >= MIN_IOU, (obj, f)
    assert not out.data[[1, 2, 4, 5, 6, 7]].any()
    assert "on frames 0, 3" in widget.status.text, widget.status.text


def test_a_clashing_id_is_refused_and_nothing_is_added(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    y, x = np.argwhere(truth[0] == 1).mean(0)
    c.add_click(0, y, x)  # object 1 exists in the session
    wait(qtbot, widget)
    c.go_to_frame(0)
    before, prompts = out.data.copy(), c.session.objects[1].prompts[0]
    seed(widget, qtbot, viewer.add_labels(truth[0].copy(), name="previous run"))
    assert c.session.obj_ids == [1] and c.session.objects[1].prompts[0] == prompts
    assert widget.objects.objects.ids() == [1]
    assert np.array_equal(out.data, before)
    text = widget.status.text
    assert "nothing added from 'previous run'" in text and "id(s) 1 already exist" in text, text


def test_bad_labels_layers_are_refused_naming_the_layer(ready, qtbot):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    seed(
        widget, qtbot, viewer.add_labels(np.zeros((5, 64, 72), np.uint16) + truth[0], name="short")
    )
    assert "'short' has shape (5, 64, 72)" in widget.status.text, widget.status.text
    seed(widget, qtbot, viewer.add_labels(np.zeros((64, 72), np.uint16), name="blank"))
    assert "no objects in labels layer 'blank'" in widget.status.text, widget.status.text
    seed(widget, qtbot, viewer.add_labels(np.zeros_like(truth), name="blank stack"), every=True)
    assert "no objects in labels layer 'blank stack'" in widget.status.text, widget.status.text
    assert widget.controller.session.obj_ids == [] and not out.data.any()
    widget.controller.close_session(ask=False)
    seed(widget, qtbot, viewer.layers["blank"])
    assert "No session" in widget.status.text


def test_float_labels_are_refused_naming_the_layer():
    # napari itself refuses float data in a Labels layer; the check guards any array that gets there
    place = Place()
    with pytest.raises(ValueError, match="'cellpose'.*integers"):
        label_frames(
            np.ones((8, 64, 72), np.float32), "cellpose", place, 8, (64, 72), 0, every=True
        )
    with pytest.raises(ValueError, match="'cellpose'.*integers"):
        label_frames(np.ones((64, 72), np.float32), "cellpose", place, 8, (64, 72), 0, every=False)


def test_a_4d_labels_layer_is_read_at_the_sessions_place():
    # a (T, Z, Y, X) image tracked along t at z = 2: the labels layer is read at z = 2 too
    data = np.zeros((4, 3, 8, 9), np.uint16)
    data[1, 2, 2:4, 2:4] = 5
    data[1, 0, 5:7, 5:7] = 6  # another slice: not this session's
    frames = label_frames(data, "4d", Place(4, 0, {1: 2}), 4, (8, 9), 0, every=True)
    assert list(frames) == [1] and set(np.unique(frames[1])) == {0, 5}
    # a (frames, Y, X) stack along the tracked axis works as well
    assert list(label_frames(data[:, 2], "3d", Place(4, 0, {1: 2}), 4, (8, 9), 0, every=True)) == [
        1
    ]
    with pytest.raises(ValueError, match="uint16"):
        label_frames(np.full((8, 9), 70000, np.uint32), "big", Place(), 4, (8, 9), 0, every=False)


def test_a_frame_that_fails_takes_back_the_frames_before_it():
    class Session:  # refuses frame 3 (as the engine does for a daughter before its division)
        def __init__(self):
            self.objects = {}

        @property
        def obj_ids(self):
            return list(self.objects)

        def add_labels(self, frame, labels):
            if frame == 3:
                raise ValueError("object 2 is a daughter that starts at frame 5")
            self.objects.update({int(i): frame for i in np.unique(labels) if i})

        def remove_object(self, obj):
            del self.objects[obj]

    session, image = Session(), np.array([[0, 1], [2, 2]], np.uint16)
    job, ids = seed_job(session, {0: image, 3: image})
    assert ids == [1, 2]
    with pytest.raises(ValueError, match="daughter"):
        job(None)
    assert session.obj_ids == []
    session.objects[2] = 0  # an id the session has: refused before anything is added
    assert job(None) == ([2], []) and session.obj_ids == [2]
