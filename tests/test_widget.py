"""The dock widget driven as a user would, in a real napari viewer under Xvfb (tiny random model)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from conftest import present_checkpoint

from napari_sam2.synthetic import synthetic_cells

pytestmark = pytest.mark.gui
SIZE = 64


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return present_checkpoint(tmp_path_factory.mktemp("ckpt"), SIZE, seed=4)


def docked_widget(viewer, layer, checkpoint, axis: str = "t"):
    """The widget docked in ``viewer``, set to ``layer`` along ``axis`` with the test model on the CPU
    (the session not started yet)."""
    from napari_sam2._widget import SAM2Widget

    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget._controls.image.value, widget._controls.axis.value = layer, axis
    widget._controls.checkpoint.value = str(checkpoint)
    widget._controls.image_size.value = SIZE
    widget._controls.device.value = "cpu"
    return widget


@pytest.fixture
def ready(make_napari_viewer, qtbot, checkpoint):
    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    widget.start_session()
    qtbot.waitUntil(lambda: widget.session is not None and not widget.busy, timeout=60000)
    return viewer, widget, truth


def wait(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)


def centre(truth, frame, obj):
    return np.argwhere(truth[frame] == obj).mean(0)


def click_and_track(widget, qtbot, truth):
    """Click object 1 on frame 0 and track it forward."""
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    widget.propagate("forward")
    wait(qtbot, widget)


def test_click_shows_mask_then_propagate_fills_all_frames(ready, qtbot):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    assert {"SAM2 clicks", "SAM2 boxes"} <= {layer.name for layer in viewer.layers}
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    assert (out.data[0] == 1).any() and not out.data[1:].any()
    assert np.array_equal(out.data[0], widget.session.label_frame(0))
    assert all(b.enabled for b in widget._controls.cands)  # a single click offers three masks
    widget.propagate("forward")
    wait(qtbot, widget)
    assert all((out.data[f] == 1).any() for f in range(8))
    assert np.array_equal(out.data, widget.session.labels().astype(out.data.dtype))
    assert np.isfinite(widget._controls.timeline.scores).all() and len(widget._controls.timeline.scores) == 8
    assert widget._status.value.startswith("forward: done"), widget._status.value


def test_negative_click_box_and_second_object(ready, qtbot):
    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    widget.add_click(0, 2.0, 2.0, positive=False)
    widget.add_object()
    ys, xs = np.nonzero(truth[0] == 2)
    widget.add_box(0, ys.min(), xs.min(), ys.max(), xs.max())
    wait(qtbot, widget)
    session = widget.session
    assert [lab for step in session.objects[1].prompts[0] for lab in step["labels"]] == [1, 0]
    assert session.objects[2].prompts[0][-1]["box"] is not None
    colors = np.asarray(viewer.layers["SAM2 clicks"].face_color)
    assert colors[0][1] > colors[0][0] and colors[1][0] > colors[1][1]  # green positive, red negative
    assert set(np.unique(viewer.layers["SAM2 labels"].data[0])) >= {1, 2}


def test_cancel_keeps_done_frames(ready, qtbot):
    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    written = []
    original = widget._labels.write

    def spy(frames):
        original(frames)
        written.extend(f for f, _ in frames)
        if len(written) == 2:
            widget.cancel()

    widget._labels.write = spy
    widget.propagate("forward")
    wait(qtbot, widget)
    tracked = sorted(widget.session.objects[1].results)
    assert len(tracked) < 8 and tracked == sorted(set(written))
    assert "cancelled" in widget._status.value


def test_correction_retracks_only_later_frames_and_keeps_manual_edits(ready, qtbot):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    before = out.data.copy()
    out.data[6, :5, :5] = 9  # the user paints on frame 6
    y4, x4 = centre(truth, 4, 1)
    widget.add_click(4, y4 + 1, x4)
    wait(qtbot, widget)
    assert widget.last_report.frames == [5, 6, 7]
    assert np.array_equal(out.data[:4], before[:4])  # nothing before the correction changed
    assert (out.data[6, :5, :5] == 9).all() and 6 in widget.edited_frames  # edits kept
    assert widget._controls.overwrite.enabled
    widget.overwrite_edited_frames()
    wait(qtbot, widget)
    assert np.array_equal(out.data[6], widget.session.label_frame(6)) and not widget._controls.overwrite.enabled


def test_candidate_choice_and_painted_mask(ready, qtbot):
    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    cands = widget._actions.candidates[2]
    pick = next(i for i in range(3) if cands[i][0].any())
    widget.choose_candidate(pick)
    wait(qtbot, widget)
    assert "mask" in widget.session.objects[1].prompts[0][-1]
    widget.add_paint_layer()
    paint = viewer.layers["SAM2 paint"]
    paint.data[truth[2] == 2] = 3
    viewer.dims.set_current_step(0, 2)
    widget.use_painted_mask()
    wait(qtbot, widget)
    assert 3 in widget.session.objects and 2 in widget.session.objects[3].prompts
    assert (viewer.layers["SAM2 labels"].data[2] == 3).any()


def test_exports_timeline_jump_and_session_reload(ready, qtbot, tmp_path):
    viewer, widget, truth = ready
    click_and_track(widget, qtbot, truth)
    out = viewer.layers["SAM2 labels"].data.copy()
    paths = iter([str(tmp_path / "l.tif"), str(tmp_path / "t.csv"), str(tmp_path), str(tmp_path / "g"),
                  str(tmp_path / "tm"), str(tmp_path / "s.json"), str(tmp_path / "s.json")])
    widget._files.ask_path = lambda *a, **k: next(paths)
    widget.export_tiff()
    wait(qtbot, widget)
    assert np.array_equal(tifffile.imread(tmp_path / "l.tif"), out)
    widget.export_table()
    wait(qtbot, widget)
    assert (tmp_path / "t.csv").read_text().count("\n") >= 9
    widget.export_ctc()
    wait(qtbot, widget)
    assert (tmp_path / "RES" / "res_track.txt").read_text().startswith("1 0 7 0")
    widget.export_geff()
    wait(qtbot, widget)
    from napari_sam2.io.lineage_io import read_geff

    assert read_geff(tmp_path / "g.zarr").number_of_nodes() == 8
    widget.export_trackmate()
    wait(qtbot, widget)
    from napari_sam2.io.trackmate import read_trackmate

    tm = read_trackmate(tmp_path / "tm.xml")  # ".xml" added to the chosen name
    assert sorted(tm["spots"]) == list(range(8)) and all(len(spots) == 1 for spots in tm["spots"].values())
    assert len(tm["edges"]) == 7 and len(tm["tracks"]) == 1 and tm["spatial_units"] == "pixel"
    ys, xs = np.nonzero(out[5] == 1)
    spot = tm["spots"][5][0]
    assert abs(spot["x"] - xs.mean()) < 0.5 and abs(spot["y"] - ys.mean()) < 0.5  # the mask's centroid
    widget.add_tracks_layer()
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].data.shape == (8, 4)
    widget.save_session()
    widget._controls.timeline.frameClicked.emit(5)
    assert viewer.dims.current_step[0] == 5
    widget.delete_object()
    wait(qtbot, widget)
    assert not viewer.layers["SAM2 labels"].data.any() and not widget.session.objects
    widget.load_session()
    wait(qtbot, widget)
    assert 1 in widget.session.objects and len(viewer.layers["SAM2 clicks"].data) == 1
    assert np.array_equal(viewer.layers["SAM2 labels"].data[0], out[0])


def test_shortcuts_and_bad_layers(ready, qtbot, make_napari_viewer):
    viewer, widget, truth = ready
    n = widget._controls.objects.count()
    from napari.utils.key_bindings import coerce_keybinding

    viewer.keymap[coerce_keybinding("Shift-N")](viewer)
    assert widget._controls.objects.count() == n + 1
    viewer.keymap[coerce_keybinding("Shift-X")](viewer)
    assert widget._controls.negative.value
    flat = viewer.add_image(np.zeros((32, 32), np.uint16), name="flat")
    widget._controls.image.value = flat
    widget.start_session()  # a 2D image: refused with a message, session unchanged
    assert widget.session is not None and widget._layer.name == "cells"
    viewer.layers.remove("cells")
    assert widget.session is None


def test_widget_opens_from_the_plugins_menu(make_napari_viewer):
    from napari_sam2._widget import SAM2Widget

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    assert isinstance(widget, SAM2Widget)
    assert widget._status.value == "No session."
    c = widget._controls
    controls = [c.image, c.axis, c.channel, c.contrast, c.model, c.checkpoint, c.image_size, c.device, c.precision,
                c.memory, c.threads, c.start, c.add, c.delete, c.clear, c.negative, c.paint, c.use_paint, c.divide,
                c.suggest, c.dismiss, c.suggestions, c.forward, c.backward, c.both, c.stop, c.overwrite, *c.cands,
                *widget._controls.exports.values()]
    untipped = [c.label or c.text for c in controls if len(c.tooltip or "") < 20]
    assert not untipped, untipped
    assert "Shift-N" in widget._controls.add.tooltip and "Shift-C" in widget._controls.stop.tooltip


def test_layers_removed_mid_run_stop_cleanly(ready, qtbot):
    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    widget.propagate("forward")
    qtbot.waitUntil(lambda: (viewer.layers["SAM2 labels"].data[1] > 0).any(), timeout=60000)
    viewer.layers.remove("SAM2 labels")
    wait(qtbot, widget)
    assert len(widget.session.objects[1].results) < 8  # stopped within a frame or two
    viewer.layers.remove("cells")
    assert widget.session is None and "removed" in widget._status.value


def test_contrast_channel_and_fast_mode_settings(make_napari_viewer, qtbot, checkpoint, monkeypatch):
    import napari_sam2.engine.session as session_module
    from napari_sam2._widget import SAM2Widget

    monkeypatch.setattr(session_module, "bf16_is_fast", lambda device: False)
    viewer = make_napari_viewer()
    rgb = np.random.default_rng(0).integers(0, 255, (4, 40, 48, 3), dtype=np.uint8)
    layer = viewer.add_image(rgb, name="rgb")
    widget = SAM2Widget(viewer)
    widget._controls.image.value = layer
    widget._controls.checkpoint.value = str(checkpoint)
    widget._controls.image_size.value = SIZE
    widget._controls.contrast.value = "10, 5"
    widget.start_session()
    assert widget.session is None and not widget.busy  # refused with a message
    widget._controls.contrast.value = "layer"
    widget._controls.channel.value = "1"
    widget._controls.precision.value = "bf16"  # a fast mode this machine is said not to support: refused, named
    widget.start_session()
    wait(qtbot, widget)
    assert widget.session is None and "precision 'bf16' needs native bfloat16" in widget._status.value
    widget._controls.precision.value, widget._controls.memory.value = "fp32", 2
    widget.start_session()
    qtbot.waitUntil(lambda: widget.session is not None and not widget.busy, timeout=60000)
    assert (widget.session.precision, widget.session.memory_frames) == ("fp32", 2)
    assert widget.session.frames.data.shape == (4, 40, 48)  # one channel of the RGB stack
    assert np.array_equal(widget.session.frames.raw(2), rgb[2, ..., 1])


def test_division_flow_lineage_and_suggestions(make_napari_viewer, qtbot, checkpoint):
    from napari_sam2._widget import SAM2Widget
    from napari_sam2.synthetic import synthetic_dividing_cells

    image, truth, parents = synthetic_dividing_cells(n_frames=8, size=(64, 72), n_cells=1, seed=2,
                                                     divide=((1, 4),), radius=(7.0, 9.0))
    viewer = make_napari_viewer()
    widget = SAM2Widget(viewer)
    widget._controls.image.value = viewer.add_image(image, name="dividing")
    widget._controls.checkpoint.value, widget._controls.image_size.value = str(checkpoint), SIZE
    widget.start_session()
    wait(qtbot, widget)
    click_and_track(widget, qtbot, truth)
    viewer.dims.set_current_step(0, 4)
    widget.divide_here()
    wait(qtbot, widget)
    assert widget.current_object == 2 and widget.session.parents == {2: 1, 3: 1}
    assert not (viewer.layers["SAM2 labels"].data[4:] == 1).any()  # the parent's track ends at frame 3
    for daughter, obj in ((2, 2), (3, 3)):
        y, x = centre(truth, 4, obj)
        widget.add_click(4, y, x, obj=daughter)
    widget.propagate("forward")
    wait(qtbot, widget)
    assert sorted(widget.session.objects[2].results) == [4, 5, 6, 7]
    widget.add_tracks_layer()
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].graph == {2: [1], 3: [1]}
    assert widget.current_object == 2
    widget.delete_object()  # removing daughter 2 updates the lineage
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].graph == {3: [1]}
    widget.suggest_divisions()
    wait(qtbot, widget)
    found = widget.session.division_suggestions()

    def listed():
        return [c for c in widget._controls.suggestions.choices if c is not None]

    assert len(listed()) == len(found)
    # make a suggestion certain: daughter 3 is confidently present on frame 4, then its score collapses on 5
    # and stays collapsed (a cue must last 3 frames)
    session = widget.session
    with session._lock:
        for f, score in ((4, 4.0), (5, -4.0), (6, -4.0), (7, -4.0)):
            session.objects[3].results[f].score = score
    widget.suggest_divisions()
    wait(qtbot, widget)
    choice = next(c for c in listed() if c.startswith("frame 5: object 3"))
    assert "score collapse" in choice
    viewer.dims.set_current_step(0, 0)
    widget._controls.objects.setCurrentRow(0)
    widget._controls.suggestions.value = None
    widget._controls.suggestions.value = choice  # choosing it goes to that frame and object
    assert viewer.dims.current_step[0] == 5 and widget.current_object == 3
    assert 5 in widget._controls.timeline.marks  # flagged on the confidence strip
    n = len(listed())
    widget.dismiss_suggestion()
    assert choice not in listed() and len(listed()) == n - 1 and 5 not in widget._controls.timeline.marks


def test_rapid_corrections_end_consistent(ready, qtbot):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    y2, x2 = centre(truth, 2, 1)
    widget.add_click(2, y2, x2)          # starts re-tracking frames 3..7
    widget.add_click(2, y2 + 2, x2 + 1)  # supersedes it
    wait(qtbot, widget)
    session = widget.session
    steps = session.objects[1].prompts[2]
    assert np.allclose([p for step in steps for p in step["points"]], [[x2, y2], [x2 + 1, y2 + 2]])
    assert sorted(session.objects[1].results) == list(range(8))
    assert np.array_equal(out.data, session.labels().astype(out.data.dtype))


def slow_frames(session, seconds=0.25):
    """Make each tracked frame of this session take a while, so that the test can act during a run."""
    import time

    track = session._track_frame

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return track(*args, **kwargs)

    session._track_frame = slow


def test_click_made_while_tracking_survives_cancel(ready, qtbot, monkeypatch):
    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(widget.session)
    widget.propagate("forward")
    qtbot.waitUntil(lambda: (out.data[1] > 0).any(), timeout=60000)
    widget.add_object()
    y2, x2 = centre(truth, 0, 2)
    widget.add_click(0, y2, x2)  # waits behind the tracking job
    assert [job.kind for job in widget._jobs.pending] == ["prompt"]
    widget.cancel()
    wait(qtbot, widget)
    session = widget.session
    assert len(session.objects[1].results) < 8  # the tracking stopped
    assert session.objects[2].prompts[0] == [{"points": [[x2, y2]], "labels": [1], "box": None}]
    assert (out.data[0] == 2).any() and np.array_equal(out.data[0], session.label_frame(0))


def test_second_click_refines_the_frames_last_mask(ready, qtbot):
    from napari_sam2.engine import TrackingSession

    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    first, second = [x, y], [x + 4.0, y - 3.0]
    widget.add_click(0, y, x)
    widget.add_click(0, second[1], second[0])
    wait(qtbot, widget)
    s = widget.session
    assert len(s.objects[1].prompts[0]) == 2  # two steps: the second click was sent alone
    # the engine, click by click (the second continues from the first's mask) ...
    stepwise = TrackingSession(s.model, s.frames)
    stepwise.add_points(0, 1, [first], [1])
    stepwise.add_points(0, 1, [second], [1], clear=False)
    # ... and both clicks decoded at once from scratch
    replay = TrackingSession(s.model, s.frames)
    replay.add_points(0, 1, [first, second], [1, 1], clear=True)
    ours = s.object_logits(0, 1)
    assert np.allclose(ours, stepwise.object_logits(0, 1), atol=1e-4)
    assert np.abs(ours - replay.object_logits(0, 1)).max() > 1e-2
    assert np.array_equal(viewer.layers["SAM2 labels"].data[0], s.label_frame(0))
    # moving a click is not an added click: the frame starts over with all its clicks
    clicks = viewer.layers["SAM2 clicks"]
    data = clicks.data.copy()
    data[0, -1] += 1.0
    clicks.data = data
    wait(qtbot, widget)
    assert len(s.objects[1].prompts[0]) == 1 and len(s.objects[1].prompts[0][0]["points"]) == 2


def test_removing_the_last_click_removes_the_object_from_every_frame(ready, qtbot, tmp_path):
    import csv

    viewer, widget, truth = ready
    out = viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    assert all((out.data[f] == 1).any() for f in range(8))
    out.data[6, :3, :3] = 9  # the user paints another label on frame 6
    clicks = viewer.layers["SAM2 clicks"]
    clicks.selected_data = {0}
    clicks.remove_selected()
    wait(qtbot, widget)
    assert 1 not in widget.session.objects
    assert not (out.data == 1).any()  # gone from every frame, the edited one included
    assert (out.data[6, :3, :3] == 9).all() and (out.data == 9).sum() == 9  # the user's label untouched
    widget._files.ask_path = lambda *a, **k: str(tmp_path / "t.csv")
    widget.export_table()
    wait(qtbot, widget)
    with open(tmp_path / "t.csv", newline="") as f:
        assert {row["object_id"] for row in csv.DictReader(f)} == {"9"}


def test_lost_frames_show_on_the_strip_and_in_the_list_during_a_run(ready, qtbot, monkeypatch):
    import torch

    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(widget.session, 0.1)
    seen = []
    draw = widget._controls.timeline.set_data

    def spy(scores, *args, **kwargs):
        running = widget._jobs.running
        if running is not None and running.kind == "track":
            seen.append(int(np.isfinite(scores).sum()))
        draw(scores, *args, **kwargs)

    monkeypatch.setattr(widget._controls.timeline, "set_data", spy)
    widget.propagate("forward")
    wait(qtbot, widget)
    assert set(range(2, 8)) <= set(seen)  # the strip grew frame by frame while tracking ran
    session = widget.session
    with session._lock:  # frame 5: the object head says present, but the mask is empty
        r = session.objects[1].results[5]
        r.logits = torch.full_like(r.logits, -10.0)
        assert r.score > 0
    widget.suggest_divisions()  # any job hands the GUI a fresh snapshot
    wait(qtbot, widget)
    assert widget._controls.timeline.kind(5) == "lost" and widget._controls.timeline.kind(4) == "present"
    item = widget._controls.objects.item(0)
    assert item.text() == "1: object 1 \u2014 1 lost frame" and "5" in item.toolTip()
    item.setText(item.text().replace("object 1", "mother"))  # renaming keeps the name only
    assert widget.names[1] == "mother"


def test_quality_warnings_reach_the_user(make_napari_viewer, qtbot, monkeypatch):
    import napari_sam2._widget_status as widget_module
    from napari_sam2._widget import SAM2Widget

    shown = []
    monkeypatch.setattr(widget_module, "show_warning", lambda text: shown.append(text))
    viewer = make_napari_viewer()
    widget = SAM2Widget(viewer)
    widget._controls.image.value = viewer.add_image(np.zeros((3, 32, 32), np.uint16), name="dark")
    widget._controls.checkpoint.value = "none"
    widget._controls.image_size.value = SIZE
    widget._controls.device.value = "cpu"
    widget.start_session()
    wait(qtbot, widget)
    assert widget.session is not None
    assert any("random weights" in t for t in shown), shown
    assert "Session ready" in widget._status.value and "random weights" in widget._status.value


def test_threads_setting_applies_in_the_workers(ready, qtbot):
    import torch

    from napari_sam2.threads import default_threads

    viewer, widget, truth = ready
    assert widget._controls.threads.value == default_threads()
    seen = []
    for n in (1, 2):
        widget._controls.threads.value = n
        widget._run(lambda job: torch.get_num_threads(), on_return=seen.append)
        wait(qtbot, widget)
    assert seen == [1, 2]
    assert "threads" in widget._controls.threads.tooltip.lower() or "CPU" in widget._controls.threads.tooltip


def test_exports_replace_only_what_the_user_confirmed(ready, qtbot, tmp_path, monkeypatch):
    """Exports replace only outputs of this plugin, and only after a yes: never a folder holding the user's
    own files (not even after a yes), and never the image's own file."""
    import zarr
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    click_and_track(widget, qtbot, truth)
    labels = viewer.layers["SAM2 labels"].data.copy()
    asked, answer = [], [QMessageBox.Yes]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or answer[0]))
    for name, export in (("x", widget.export_zarr), ("g", widget.export_geff)):
        store = tmp_path / f"{name}.zarr"
        store.mkdir()
        (store / "mine.txt").write_text("precious")
        widget._files.ask_path = lambda *a, n=name, **k: str(tmp_path / n)  # the dialog confirmed "x", not "x.zarr"
        export()
        wait(qtbot, widget)
        assert (store / "mine.txt").read_text() == "precious" and not asked  # refused, even with a yes ready
        assert "not written" in widget._status.value and "mine.txt" in widget._status.value
        (store / "mine.txt").unlink()
        (store.rmdir())
    widget._files.ask_path = lambda *a, **k: str(tmp_path / "x")
    widget.export_zarr()  # nothing there: written without a question
    wait(qtbot, widget)
    assert np.array_equal(zarr.open_array(str(tmp_path / "x.zarr"), mode="r")[:], labels) and not asked
    answer[0] = QMessageBox.No
    widget.export_zarr()  # our own store: asked, and kept on a no
    wait(qtbot, widget)
    assert str(tmp_path / "x.zarr") in asked[-1] and "not written" in widget._status.value
    res = tmp_path / "RES"
    res.mkdir()
    (res / "mine.txt").write_text("precious")
    widget._files.ask_path = lambda *a, **k: str(tmp_path)
    answer[0] = QMessageBox.Yes
    widget.export_ctc()
    wait(qtbot, widget)
    assert (res / "mine.txt").exists() and not (res / "res_track.txt").exists() and len(asked) == 1
    (res / "mine.txt").unlink()
    widget.export_ctc()  # an empty folder holds nothing of the user's: replaced after a yes
    wait(qtbot, widget)
    assert (res / "res_track.txt").read_text().startswith("1 0 7 0") and len(asked) == 2
    n = len(asked)
    xml = tmp_path / "tm.xml"  # TrackMate: "tm" was confirmed by the dialog, "tm.xml" was not
    xml.write_text("precious")
    widget._files.ask_path = lambda *a, **k: str(tmp_path / "tm")
    answer[0] = QMessageBox.No
    widget.export_trackmate()
    wait(qtbot, widget)
    assert xml.read_text() == "precious" and str(xml) in asked[-1] and len(asked) == n + 1
    widget._files.ask_path = lambda *a, **k: str(xml)  # the very file the dialog confirmed: no second question
    widget.export_trackmate()
    wait(qtbot, widget)
    assert xml.read_text().lstrip().startswith("<?xml") and len(asked) == n + 1
    folder = tmp_path / "plain.tif"  # a folder where a file is written: refused, nothing asked
    folder.mkdir()
    (folder / "mine.txt").write_text("precious")
    widget._files.ask_path = lambda *a, **k: str(folder)
    widget.export_tiff()
    wait(qtbot, widget)
    assert (folder / "mine.txt").read_text() == "precious" and "is a folder" in widget._status.value
    image_file = tmp_path / "movie.tif"  # the image's own file (as napari records it for an opened file)
    image_file.write_bytes(b"pixels")
    monkeypatch.setattr(widget._files, "_inputs", lambda: [image_file])
    widget._files.ask_path = lambda *a, **k: str(image_file)
    widget.export_tiff()
    wait(qtbot, widget)
    assert image_file.read_bytes() == b"pixels" and "is an input" in widget._status.value
    assert len(asked) == n + 1


def test_closed_widget_lets_go_of_the_viewer_and_session(make_napari_viewer, qtbot, checkpoint, monkeypatch):
    import gc
    import weakref

    from napari.utils.key_bindings import coerce_keybinding

    from napari_sam2._widget_session import SessionFlow
    from napari_sam2._widget_tracking import Tracking
    from napari_sam2.synthetic import synthetic_cells

    viewer = make_napari_viewer()

    def mine(v):
        return None

    viewer.bind_key("Shift-N", mine)
    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    widget.start_session()
    wait(qtbot, widget)
    assert viewer.keymap[coerce_keybinding("Shift-N")] is not mine  # ours while open
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(widget.session)
    widget.propagate("forward")
    jobs = widget._jobs
    qtbot.waitUntil(lambda: jobs.running is not None and jobs.running.kind == "track")
    job = jobs.running
    session_ref = weakref.ref(widget.session)
    viewer.window.remove_dock_widget(widget)  # the dock's close button does this
    assert job.cancelled and widget.session is None
    qtbot.waitUntil(lambda: jobs.running is None, timeout=60000)
    assert viewer.keymap[coerce_keybinding("Shift-N")] is mine  # the replaced binding is back
    assert coerce_keybinding("Shift-F") not in viewer.keymap
    calls = []
    monkeypatch.setattr(Tracking, "refresh_timeline", lambda self, event=None: calls.append(event))
    monkeypatch.setattr(SessionFlow, "layer_removed", lambda self, event=None: calls.append(event))
    viewer.dims.set_current_step(0, 3)
    viewer.layers.remove("SAM2 paint") if "SAM2 paint" in viewer.layers else viewer.layers.remove("SAM2 boxes")
    assert calls == []  # viewer events no longer reach it
    viewer.layers["SAM2 clicks"].add([0, 5.0, 5.0])  # nor do prompt layer edits
    assert not widget.busy
    widget_ref = weakref.ref(widget)
    widget = job = jobs = None  # drop the test's own references: the widget and session must be collectable
    for _ in range(3):
        qtbot.wait(10)
        gc.collect()
    assert session_ref() is None and widget_ref() is None  # nothing in the viewer keeps them alive
