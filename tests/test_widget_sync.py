"""The widget's pure parts without a viewer: prompt synchronisation (layer contents read and diffed
against what the session was sent), output synchronisation (the user's edits kept), the job queue's
cancel tokens."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from napari_sam2.gui.jobs import OTHER, PROMPT, TRACK, Job, JobQueue
from napari_sam2.gui.output_sync import OutputSync, frames_with
from napari_sam2.gui.prompt_sync import Place, diff_prompts, prompt_update, read_prompts

# ------------------------------------------------------------------------------------------- no Qt


def test_sync_and_queue_modules_import_without_qt_or_napari():
    code = (
        "import sys; import napari_sam2.gui.prompt_sync, napari_sam2.gui.output_sync, "
        "napari_sam2.gui.jobs, napari_sam2.gui.words, napari_sam2.gui.palette; bad = sorted(m for "
        "m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt5', 'PySide2', 'PyQt6', "
        "'PySide6', 'torch')); print(bad); assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_controller_imports_without_qt_or_torch():
    """The controller and its parts are plain Python over napari's layers: no Qt, and torch only in
    jobs."""
    code = (
        "import sys; import napari_sam2.gui.controller; bad = sorted(m for m in sys.modules if "
        "m.split('.')[0] in ('qtpy', 'PyQt5', 'PySide2', 'PyQt6', 'PySide6', 'magicgui', "
        "'torch')); print(bad); assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# ----------------------------------------------------------------------------------------- prompts


def clicks(rows):
    """A Points layer's data and features: rows of (frame, y, x, obj, positive)."""
    data = np.array([[f, y, x] for f, y, x, _, _ in rows], float).reshape(-1, 3)
    feats = pd.DataFrame({"obj_id": [o for *_, o, _ in rows], "positive": [p for *_, p in rows]})
    return data, feats


def box(frame, y0, x0, y1, x1):
    return np.array([[frame, y0, x0], [frame, y0, x1], [frame, y1, x1], [frame, y1, x0]], float)


def test_place_maps_frames_and_coordinates_of_4d_data():
    place = Place(ndim=4, track_dim=1, fixed={0: 2}, unit="slice")
    coords = place.coords(3, 2)
    assert coords.shape == (2, 4) and (coords[:, 0] == 2).all() and (coords[:, 1] == 3).all()
    assert place.frame_of([2, 3.2, 10, 10], num_frames=5) == 3
    assert place.frame_of([1, 3, 10, 10], num_frames=5) is None  # another time point
    assert place.frame_of([2, 5, 10, 10], num_frames=5) is None  # past the last slice
    assert place.frame_of([2, -0.6, 10, 10], num_frames=5) is None


def test_read_prompts_groups_clicks_and_boxes_per_object_and_frame():
    data, feats = clicks(
        [(0, 10, 20, 1, True), (0, 12, 22, 1, False), (3, 5, 6, 2, True), (9, 1, 1, 1, True)]
    )
    boxes = [box(3, 4, 5, 14, 25)]
    bfeats = pd.DataFrame({"obj_id": [2]})
    place = Place()
    prompts = read_prompts(data, feats, boxes, bfeats, lambda c: place.frame_of(c, num_frames=5))
    assert set(prompts) == {(1, 0), (2, 3)}  # the click on frame 9 is outside the 5 frames
    assert prompts[(1, 0)] == {
        "points": [[20.0, 10.0], [22.0, 12.0]],
        "labels": [1, 0],
        "box": None,
    }
    assert prompts[(2, 3)] == {"points": [[6.0, 5.0]], "labels": [1], "box": [5.0, 4.0, 25.0, 14.0]}


def test_read_prompts_of_empty_layers_and_plain_feature_dicts():
    assert (
        read_prompts(
            np.zeros((0, 3)), {"obj_id": [], "positive": []}, [], {"obj_id": []}, lambda c: 0
        )
        == {}
    )
    prompts = read_prompts(
        np.array([[1, 2.0, 3.0]]),
        {"obj_id": np.array([4]), "positive": np.array([False])},
        [],
        {"obj_id": []},
        lambda c: int(c[0]),
    )
    assert prompts == {(4, 1): {"points": [[3.0, 2.0]], "labels": [0], "box": None}}


def test_diff_gives_added_removed_and_changed_prompts():
    frame_of = Place().frame_of
    old_data, old_feats = clicks([(0, 10, 20, 1, True), (2, 5, 5, 2, True), (4, 8, 8, 3, True)])
    sent = read_prompts(old_data, old_feats, [], {"obj_id": []}, lambda c: frame_of(c, 8))
    # the user removes object 2's click, adds a negative click to object 1 and a first click for
    # object 5, and leaves object 3 alone
    data, feats = clicks(
        [(0, 10, 20, 1, True), (0, 11, 24, 1, False), (4, 8, 8, 3, True), (6, 1, 2, 5, True)]
    )
    now = read_prompts(data, feats, [], {"obj_id": []}, lambda c: frame_of(c, 8))
    changes = diff_prompts(now, sent)
    assert [(o, f) for o, f, _, _ in changes] == [(1, 0), (2, 2), (5, 6)]
    (_, _, new1, old1), (_, _, new2, old2), (_, _, new5, old5) = changes
    assert new1["labels"] == [1, 0] and old1["labels"] == [1]
    assert new2 is None and old2["points"] == [[5.0, 5.0]]  # removed
    assert old5 is None and new5["points"] == [[2.0, 1.0]]  # added
    assert diff_prompts(now, now) == []
    # one click added after the old ones refines the frame's last mask; a removal resends the frame
    step = prompt_update(old1, new1)
    assert not step.clear and step.points == [[24.0, 11.0]] and step.labels == [0]
    again = prompt_update(new1, old1)
    assert again.clear and again.points == [[20.0, 10.0]]
    assert prompt_update(old2, None).remove


# ------------------------------------------------------------------------------------------ labels


def test_output_sync_keeps_frames_the_user_painted_and_replaces_model_frames():
    stack = np.zeros((3, 8, 8), np.uint16)
    sync = OutputSync((8, 8), np.uint16)
    model = np.zeros((8, 8), np.int64)
    model[2:5, 2:5] = 1
    assert sync.write(stack, [(0, model), (1, model)]) == []
    assert (stack[0] == model).all() and (stack[1] == model).all() and stack.dtype == np.uint16
    stack[1, 6, 6] = 7  # the user paints on frame 1
    moved = np.zeros((8, 8), np.int64)
    moved[3:6, 3:6] = 1
    assert sync.write(stack, [(0, moved), (1, moved), (2, moved)]) == [1]
    assert (stack[0] == moved).all() and (
        stack[2] == moved
    ).all()  # the model's own pixels are replaced
    assert stack[1, 6, 6] == 7 and (stack[1, 2:5, 2:5] == 1).all()  # the user's frame is kept whole
    stack[2, 0, 0] = 9  # an edit on a frame never written by the model is found too
    fresh = np.zeros((3, 8, 8), np.uint16)
    fresh[2, 0, 0] = 9
    assert OutputSync((8, 8), np.uint16).write(fresh, [(2, moved)]) == [2] and fresh[2, 0, 0] == 9
    sync.accept(stack, [1])  # the user agreed to replace frame 1
    assert sync.write(stack, [(1, moved)]) == [] and (stack[1] == moved).all()


def test_output_sync_erase_takes_one_label_out_and_keeps_edits_marked():
    stack = np.zeros((3, 6, 6), np.uint16)
    sync = OutputSync((6, 6), np.uint16)
    frame = np.zeros((6, 6), np.uint16)
    frame[0:2, 0:2], frame[3:5, 3:5] = 1, 2
    sync.write(stack, [(0, frame), (1, frame)])
    stack[1, 5, 5] = 4  # user edit on frame 1
    assert frames_with(stack, 2) == [0, 1]
    assert sync.erase(stack, 2) == [0, 1]
    assert not (stack == 2).any() and (stack[:2, 0:2, 0:2] == 1).all() and stack[1, 5, 5] == 4
    # erasing did not make frame 1 the model's
    assert sync.ours(stack, 0) and not sync.ours(stack, 1)
    assert sync.write(stack, [(0, frame), (1, frame)]) == [1]


# -------------------------------------------------------------------------------------------- jobs


class FakeSignal:
    def __init__(self):
        self.slots = []

    def connect(self, slot):
        self.slots.append(slot)

    def emit(self, *args):
        for slot in list(self.slots):
            slot(*args)


class FakeWorker:
    """A worker that runs only when the test says so (``run``), on the test's thread."""

    def __init__(self, func, started):
        self.func, self._started = func, started
        self.returned, self.yielded, self.errored, self.finished = (FakeSignal() for _ in range(4))

    def start(self):
        self._started.append(self)

    def run(self):
        self.returned.emit(self.func())
        self.finished.emit()


def make_queue():
    started, results = [], []
    queue = JobQueue(
        lambda job: lambda: job.func(job),
        lambda job: None,
        lambda job, value: results.append((job.label, value)),
        lambda job: None,
        lambda exc: None,
        make_worker=lambda func: FakeWorker(func, started),
    )
    return queue, started, results


def test_each_job_has_its_own_cancel_token():
    a, b = Job(lambda j: None, "a"), Job(lambda j: None, "b")
    a.cancel()
    assert a.is_cancelled() and not b.is_cancelled()


def test_cancelling_tracking_stops_the_running_job_only_and_keeps_prompt_edits():
    queue, started, results = make_queue()
    seen = {}

    def track(job):
        seen[job.label] = job.is_cancelled()  # what the engine's frame loop would poll
        return job.label

    first = queue.submit(Job(track, "track 1", TRACK))
    edit = queue.submit(Job(track, "prompt", PROMPT))
    later = queue.submit(Job(track, "track 2", TRACK))
    other = queue.submit(Job(track, "suggest", OTHER))
    assert queue.running is first and len(started) == 1 and queue.busy
    dropped = queue.cancel_tracking()
    assert dropped == [later] and queue.pending == [edit, other]
    assert first.is_cancelled() and not edit.is_cancelled() and not other.is_cancelled()
    started[
        0
    ].run()  # the cancelled job ends; the prompt edit starts next with its own, clear token
    assert queue.running is edit and len(started) == 2
    started[1].run()
    started[2].run()
    assert seen == {"track 1": True, "prompt": False, "suggest": False}
    assert [label for label, _ in results] == ["track 1", "prompt", "suggest"] and not queue.busy


def test_a_closed_queue_cancels_its_job_and_ignores_results():
    queue, started, results = make_queue()
    job = queue.submit(Job(lambda j: 1, "x", PROMPT))
    queue.submit(Job(lambda j: 2, "y"))
    queue.close()
    assert job.is_cancelled() and queue.pending == []
    started[0].run()
    assert results == [] and len(started) == 1
    assert queue.submit(Job(lambda j: 3, "z")) is not None and len(started) == 1
