"""The dock widget driven as a user would, in a real napari viewer under Xvfb (tiny random model):
through its controller's actions and its panels' controls, with results read from the layers and the
session."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from widget_fixtures import (
    SIZE,
    centre,
    click_and_track,
    docked_widget,
    slow_frames,
    start,
    wait,
    warnings_of,
)

pytestmark = pytest.mark.gui


def test_click_shows_mask_then_propagate_fills_all_frames(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    assert {"SAM2 clicks", "SAM2 boxes"} <= {layer.name for layer in viewer.layers}
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    assert (out.data[0] == 1).any() and not out.data[1:].any()
    assert np.array_equal(out.data[0], c.session.label_frame(0))
    assert all(b.enabled for b in widget.objects.candidates)  # a single click offers three masks
    widget.tracking.forward.native.click()
    wait(qtbot, widget)
    assert all((out.data[f] == 1).any() for f in range(8))
    assert np.array_equal(out.data, c.session.labels().astype(out.data.dtype))
    strip = widget.tracking.strip
    assert np.isfinite(strip.scores).all() and len(strip.scores) == 8
    assert widget.status.text.startswith("forward: done"), widget.status.text


def test_negative_click_box_and_second_object(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    c.add_click(0, 2.0, 2.0, positive=False)
    widget.objects.add.native.click()
    ys, xs = np.nonzero(truth[0] == 2)
    c.add_box(0, ys.min(), xs.min(), ys.max(), xs.max())
    wait(qtbot, widget)
    session = c.session
    assert [lab for step in session.objects[1].prompts[0] for lab in step["labels"]] == [1, 0]
    assert session.objects[2].prompts[0][-1]["box"] is not None
    colors = np.asarray(viewer.layers["SAM2 clicks"].face_color)
    # green positive, red negative
    assert colors[0][1] > colors[0][0] and colors[1][0] > colors[1][1]
    assert set(np.unique(viewer.layers["SAM2 labels"].data[0])) >= {1, 2}


def test_cancel_keeps_done_frames(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    c.progress.connect(lambda done, total, text: done == 2 and widget.tracking.stop.native.click())
    c.propagate("forward")
    wait(qtbot, widget)
    tracked = sorted(c.session.objects[1].results)
    written = [f for f in range(8) if (out.data[f] == 1).any()]
    assert len(tracked) < 8 and tracked == written
    assert "cancelled" in widget.status.text


def test_correction_retracks_only_later_frames_and_keeps_manual_edits(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    before = out.data.copy()
    out.data[6, :5, :5] = 9  # the user paints on frame 6
    y4, x4 = centre(truth, 4, 1)
    c.add_click(4, y4 + 1, x4)
    wait(qtbot, widget)
    assert c.last_report.frames == [5, 6, 7]
    assert np.array_equal(out.data[:4], before[:4])  # nothing before the correction changed
    assert (out.data[6, :5, :5] == 9).all() and 6 in c.edited_frames  # edits kept
    assert widget.tracking.overwrite.enabled
    widget.tracking.overwrite.native.click()
    wait(qtbot, widget)
    assert (
        np.array_equal(out.data[6], c.session.label_frame(6))
        and not widget.tracking.overwrite.enabled
    )


def test_candidate_choice_and_painted_mask(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    cands = c.candidates[2]
    pick = next(i for i in range(3) if cands[i][0].any())
    widget.objects.candidates[pick].native.click()
    wait(qtbot, widget)
    assert "mask" in c.session.objects[1].prompts[0][-1]
    widget.objects.paint.native.click()
    paint = viewer.layers["SAM2 paint"]
    paint.data[truth[2] == 2] = 3
    viewer.dims.set_current_step(0, 2)
    widget.objects.use_paint.native.click()
    wait(qtbot, widget)
    assert 3 in c.session.objects and 2 in c.session.objects[3].prompts
    assert (viewer.layers["SAM2 labels"].data[2] == 3).any()


def test_exports_timeline_jump_and_session_reload(ready, qtbot, tmp_path):
    from qtpy.QtCore import QPoint, Qt

    from napari_sam2.io.lineage_io import read_geff
    from napari_sam2.io.trackmate import read_trackmate

    viewer, widget, truth = ready
    c = widget.controller
    click_and_track(widget, qtbot, truth)
    out = viewer.layers["SAM2 labels"].data.copy()
    c.export_tiff(tmp_path / "l.tif")
    wait(qtbot, widget)
    assert np.array_equal(tifffile.imread(tmp_path / "l.tif"), out)
    c.export_table(tmp_path / "t.csv")
    wait(qtbot, widget)
    assert (tmp_path / "t.csv").read_text().count("\n") >= 9
    c.export_ctc(tmp_path)
    wait(qtbot, widget)
    assert (tmp_path / "RES" / "res_track.txt").read_text().startswith("1 0 7 0")
    c.export_geff(tmp_path / "g")
    wait(qtbot, widget)
    assert read_geff(tmp_path / "g.zarr").number_of_nodes() == 8
    c.export_trackmate(tmp_path / "tm")
    wait(qtbot, widget)
    tm = read_trackmate(tmp_path / "tm.xml")  # ".xml" added to the chosen name
    assert sorted(tm["spots"]) == list(range(8)) and all(
        len(spots) == 1 for spots in tm["spots"].values()
    )
    assert len(tm["edges"]) == 7 and len(tm["tracks"]) == 1 and tm["spatial_units"] == "pixel"
    ys, xs = np.nonzero(out[5] == 1)
    spot = tm["spots"][5][0]
    # the mask's centroid
    assert abs(spot["x"] - xs.mean()) < 0.5 and abs(spot["y"] - ys.mean()) < 0.5
    widget.export.menu["Tracks layer"].trigger()
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].data.shape == (8, 4)
    c.save_session(tmp_path / "s.json")
    strip = widget.tracking.strip
    qtbot.mouseClick(
        strip, Qt.LeftButton, pos=QPoint(int(strip.width() * 5.5 / 8), strip.height() // 2)
    )
    assert viewer.dims.current_step[0] == 5  # a click on the strip goes to that frame
    widget.objects.delete.native.click()
    wait(qtbot, widget)
    assert not viewer.layers["SAM2 labels"].data.any() and not c.session.objects
    c.load_session(tmp_path / "s.json")
    wait(qtbot, widget)
    assert 1 in c.session.objects and len(viewer.layers["SAM2 clicks"].data) == 1
    assert np.array_equal(viewer.layers["SAM2 labels"].data[0], out[0])


def test_shortcuts_and_bad_layers(ready, qtbot):
    from napari.utils.key_bindings import coerce_keybinding

    viewer, widget, truth = ready
    c = widget.controller
    n = len(c.object_ids)
    viewer.keymap[coerce_keybinding("Shift-N")](viewer)
    assert len(c.object_ids) == n + 1 and widget.objects.objects.count() == n + 1
    viewer.keymap[coerce_keybinding("Shift-X")](viewer)
    assert c.negative and widget.objects.negative.value
    flat = viewer.add_image(np.zeros((32, 32), np.uint16), name="flat")
    widget.setup.image.value = flat
    c.start_session()  # a 2D image: refused with a message, session unchanged
    assert c.session is not None and c.layer.name == "cells"
    viewer.layers.remove("cells")
    assert c.session is None


def test_widget_opens_from_the_plugins_menu(make_napari_viewer):
    from napari_sam2.gui.widget import SAM2Widget

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    assert isinstance(widget, SAM2Widget)
    assert widget.status.text == "No session."
    s, o, t, a, li = widget.setup, widget.objects, widget.tracking, widget.automatic, widget.lineage
    controls = [
        s.image,
        s.contrast,
        *(c for form in s.forms.values() for c in form.controls.values()),
        s.start_button,
        s.close_button,
        o.add,
        o.delete,
        o.clear,
        o.negative,
        o.paint,
        o.use_paint,
        o.seed_layer,
        o.seed_frames,
        o.seed,
        *o.candidates,
        li.divide,
        li.suggest,
        li.dismiss,
        li.suggestions,
        t.forward,
        t.backward,
        t.both,
        t.stop,
        t.overwrite,
        t.recreate,
        a.segment_all,
        a.accept_all,
        a.discard,
        *a.form.controls.values(),
        a.find_new,
        a.new_on,
        a.new_every,
        a.new_cells,
        a.accept_new,
        a.dismiss_new,
        widget.export.save,
        widget.export.load,
    ]
    untipped = [c.label or c.text for c in controls if len(c.tooltip or "") < 20]
    assert not untipped, untipped
    untipped = [name for name, action in widget.export.menu.items() if len(action.toolTip()) < 20]
    assert not untipped, untipped
    assert "Shift-N" in o.add.tooltip and "Shift-C" in t.stop.tooltip


def test_layers_removed_mid_run_stop_cleanly(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    c.propagate("forward")
    qtbot.waitUntil(lambda: (viewer.layers["SAM2 labels"].data[1] > 0).any(), timeout=60000)
    viewer.layers.remove("SAM2 labels")
    wait(qtbot, widget)
    assert len(c.session.objects[1].results) < 8  # stopped within a frame or two
    viewer.layers.remove("cells")
    assert c.session is None and "removed" in widget.status.text


def test_contrast_channel_and_fast_mode_settings(
    make_napari_viewer, qtbot, checkpoint, monkeypatch
):
    from qtpy.QtCore import Qt

    import napari_sam2.device as device_module

    monkeypatch.setattr(device_module, "bf16_is_fast", lambda device: False)
    viewer = make_napari_viewer()
    rgb = np.random.default_rng(0).integers(0, 255, (4, 40, 48, 3), dtype=np.uint8)
    widget = docked_widget(viewer, viewer.add_image(rgb, name="rgb"), checkpoint, dock=False)
    c, setup = widget.controller, widget.setup
    setup.contrast.native.clear()
    qtbot.keyClicks(setup.contrast.native, "10, 5")
    # refused, naming the control, and shown as it was
    qtbot.keyClick(setup.contrast.native, Qt.Key_Return)
    assert "contrast must be 'layer' or 'low, high'" in widget.status.text
    assert setup.contrast.value == "layer" and c.settings.stack.contrast_limits is None
    setup.control("channel").value = 1
    setup.control(
        "precision"
    ).value = "bf16"  # a fast mode this machine is said not to support: refused, named
    c.start_session()
    wait(qtbot, widget)
    assert c.session is None and "precision 'bf16' needs native bfloat16" in widget.status.text
    setup.control("precision").value, setup.control("memory_frames").value = "fp32", 2
    start(qtbot, widget)
    assert (c.session.tracking.precision, c.session.tracking.memory_frames) == ("fp32", 2)
    assert c.session.frames.data.shape == (4, 40, 48)  # one channel of the RGB stack
    assert np.array_equal(c.session.frames.raw(2), rgb[2, ..., 1])


def test_division_flow_lineage_and_suggestions(make_napari_viewer, qtbot, checkpoint):
    from napari_sam2.synthetic import Look, synthetic_dividing_cells

    image, truth, parents = synthetic_dividing_cells(
        n_frames=8, size=(64, 72), n_cells=1, seed=2, divide=((1, 4),), look=Look(radius=(7.0, 9.0))
    )
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="dividing"), checkpoint, dock=False)
    c, lineage = widget.controller, widget.lineage
    start(qtbot, widget)
    click_and_track(widget, qtbot, truth)
    viewer.dims.set_current_step(0, 4)
    lineage.divide.native.click()
    wait(qtbot, widget)
    assert c.selected == 2 and c.session.parents == {2: 1, 3: 1}
    assert not (
        viewer.layers["SAM2 labels"].data[4:] == 1
    ).any()  # the parent's track ends at frame 3
    for daughter, obj in ((2, 2), (3, 3)):
        y, x = centre(truth, 4, obj)
        c.add_click(4, y, x, obj=daughter)
    c.propagate("forward")
    wait(qtbot, widget)
    assert sorted(c.session.objects[2].results) == [4, 5, 6, 7]
    c.add_tracks_layer()
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].graph == {2: [1], 3: [1]}
    assert c.selected == 2
    c.delete_object()  # removing daughter 2 updates the lineage
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].graph == {3: [1]}
    lineage.suggest.native.click()
    wait(qtbot, widget)
    assert len(lineage.listed()) == len(c.session.division_suggestions())
    # make a suggestion certain: daughter 3 is confidently present on frame 4, then its score
    # collapses on 5 and stays collapsed (a cue must last 3 frames)
    session = c.session
    with session.lock:
        for f, score in ((4, 4.0), (5, -4.0), (6, -4.0), (7, -4.0)):
            session.objects[3].results[f].score = score
    lineage.suggest.native.click()
    wait(qtbot, widget)
    choice = next(s for s in lineage.listed() if s.startswith("frame 5: object 3"))
    assert "score collapse" in choice
    viewer.dims.set_current_step(0, 0)
    c.select_object(1)
    lineage.suggestions.value = choice  # choosing it goes to that frame and object
    assert viewer.dims.current_step[0] == 5 and c.selected == 3
    assert 5 in widget.tracking.strip.marks  # flagged on the confidence strip
    n = len(lineage.listed())
    lineage.dismiss.native.click()
    assert choice not in lineage.listed() and len(lineage.listed()) == n - 1
    assert 5 not in widget.tracking.strip.marks


def test_rapid_corrections_end_consistent(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    y2, x2 = centre(truth, 2, 1)
    c.add_click(2, y2, x2)  # starts re-tracking frames 3..7
    c.add_click(2, y2 + 2, x2 + 1)  # supersedes it
    wait(qtbot, widget)
    session = c.session
    steps = session.objects[1].prompts[2]
    assert np.allclose([p for step in steps for p in step["points"]], [[x2, y2], [x2 + 1, y2 + 2]])
    assert sorted(session.objects[1].results) == list(range(8))
    assert np.array_equal(out.data, session.labels().astype(out.data.dtype))


def test_click_made_while_tracking_survives_cancel(ready, qtbot):
    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(c.session)
    c.propagate("forward")
    qtbot.waitUntil(lambda: (out.data[1] > 0).any(), timeout=60000)
    c.add_object()
    y2, x2 = centre(truth, 0, 2)
    c.add_click(0, y2, x2)  # waits behind the tracking job
    assert [job.kind for job in c.queue.pending] == ["prompt"]
    c.cancel()
    wait(qtbot, widget)
    session = c.session
    assert len(session.objects[1].results) < 8  # the tracking stopped
    assert session.objects[2].prompts[0] == [{"points": [[x2, y2]], "labels": [1], "box": None}]
    assert (out.data[0] == 2).any() and np.array_equal(out.data[0], session.label_frame(0))


def test_second_click_refines_the_frames_last_mask(ready, qtbot):
    from napari_sam2.engine import TrackingSession

    viewer, widget, truth = ready
    c = widget.controller
    y, x = centre(truth, 0, 1)
    first, second = [x, y], [x + 4.0, y - 3.0]
    c.add_click(0, y, x)
    c.add_click(0, second[1], second[0])
    wait(qtbot, widget)
    s = c.session
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
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    click_and_track(widget, qtbot, truth)
    assert all((out.data[f] == 1).any() for f in range(8))
    out.data[6, :3, :3] = 9  # the user paints another label on frame 6
    clicks = viewer.layers["SAM2 clicks"]
    clicks.selected_data = {0}
    clicks.remove_selected()
    wait(qtbot, widget)
    assert 1 not in c.session.objects
    assert not (out.data == 1).any()  # gone from every frame, the edited one included
    assert (out.data[6, :3, :3] == 9).all() and (
        out.data == 9
    ).sum() == 9  # the user's label untouched
    c.export_table(tmp_path / "t.csv")
    wait(qtbot, widget)
    with open(tmp_path / "t.csv", newline="") as f:
        assert {row["object_id"] for row in csv.DictReader(f)} == {"9"}


def test_lost_frames_show_on_the_strip_and_in_the_list_during_a_run(ready, qtbot, monkeypatch):
    import torch

    viewer, widget, truth = ready
    c, strip = widget.controller, widget.tracking.strip
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(c.session, 0.1)
    seen = []
    draw = strip.set_data

    def spy(scores, *args, **kwargs):
        running = c.queue.running
        if running is not None and running.kind == "track":
            seen.append(int(np.isfinite(scores).sum()))
        draw(scores, *args, **kwargs)

    monkeypatch.setattr(strip, "set_data", spy)
    c.propagate("forward")
    wait(qtbot, widget)
    assert set(range(2, 8)) <= set(seen)  # the strip grew frame by frame while tracking ran
    session = c.session
    with session.lock:  # frame 5: the object head says present, but the mask is empty
        r = session.objects[1].results[5]
        r.logits = torch.full_like(r.logits, -10.0)
        assert r.score > 0
    c.suggest_divisions()  # any job hands the GUI a fresh snapshot
    wait(qtbot, widget)
    assert strip.kind(5) == "lost" and strip.kind(4) == "present"
    item = widget.objects.objects.item(0)
    n_suspect = len(
        session.suspects()[1]
    )  # the tiny 64 px fixture gives fragmented masks, said beside it
    said = ", {} suspect".format(n_suspect) if n_suspect else ""
    assert item.text() == "1: object 1 \u2014 1 lost frame" + said and "5" in item.toolTip()
    item.setText(item.text().replace("object 1", "mother"))  # renaming keeps the name only
    assert c.names[1] == "mother"


def test_quality_warnings_reach_the_user(make_napari_viewer, qtbot):
    from napari_sam2.gui.widget import SAM2Widget

    viewer = make_napari_viewer()
    widget = SAM2Widget(viewer)
    shown = warnings_of(widget)
    setup = widget.setup
    setup.image.value = viewer.add_image(np.zeros((3, 32, 32), np.uint16), name="dark")
    setup.control("checkpoint").value = "none"
    setup.control("image_size").value = SIZE
    setup.control("device").value = "cpu"
    start(qtbot, widget)
    assert any("random weights" in t for t in shown), shown
    assert "Session ready" in widget.status.text and "random weights" in widget.status.text


def test_threads_setting_applies_in_the_workers(ready, qtbot):
    import torch

    from napari_sam2.threads import default_threads

    viewer, widget, truth = ready
    c, threads = widget.controller, widget.setup.control("threads")
    assert threads.value == default_threads() and threads.enabled  # the one setting open to change
    seen = []
    for n in (1, 2, 0):  # 0: the default
        threads.value = n
        c.submit(lambda job: torch.get_num_threads(), on_return=seen.append)
        wait(qtbot, widget)
    assert seen == [1, 2, default_threads()] and c.settings.model.threads is None
    assert "threads" in threads.tooltip.lower() and "0: one less than the cores" in threads.tooltip


def test_exports_replace_only_what_the_user_confirmed(
    make_napari_viewer, qtbot, checkpoint, answers, tmp_path
):
    """Exports replace only outputs of this plugin, and only after a yes: never a folder holding the
    user's own files (not even after a yes), and never the image's own file."""
    import zarr
    from napari.layers._source import layer_source
    from qtpy.QtWidgets import QMessageBox

    from widget_fixtures import cells

    asked, answer = answers
    answer[0] = QMessageBox.Yes
    image, truth = cells()
    # the image's own file, as napari records it for an opened file
    image_file = tmp_path / "movie.tif"
    image_file.write_bytes(b"pixels")
    viewer = make_napari_viewer()
    with layer_source(path=str(image_file)):
        layer = viewer.add_image(image, name="cells")
    widget = docked_widget(viewer, layer, checkpoint)
    c = widget.controller
    start(qtbot, widget)
    click_and_track(widget, qtbot, truth)
    labels = viewer.layers["SAM2 labels"].data.copy()
    for name, export in (("x", c.export_zarr), ("g", c.export_geff)):
        store = tmp_path / f"{name}.zarr"
        store.mkdir()
        (store / "mine.txt").write_text("precious")
        export(tmp_path / name, confirmed=True)  # the dialog confirmed "x", not "x.zarr"
        wait(qtbot, widget)
        assert (
            store / "mine.txt"
        ).read_text() == "precious" and not asked  # refused, even with a yes ready
        assert "not written" in widget.status.text and "mine.txt" in widget.status.text
        (store / "mine.txt").unlink()
        store.rmdir()
    c.export_zarr(tmp_path / "x", confirmed=True)  # nothing there: written without a question
    wait(qtbot, widget)
    assert (
        np.array_equal(zarr.open_array(str(tmp_path / "x.zarr"), mode="r")[:], labels) and not asked
    )
    answer[0] = QMessageBox.No
    c.export_zarr(tmp_path / "x", confirmed=True)  # our own store: asked, and kept on a no
    wait(qtbot, widget)
    assert str(tmp_path / "x.zarr") in asked[-1] and "not written" in widget.status.text
    res = tmp_path / "RES"
    res.mkdir()
    (res / "mine.txt").write_text("precious")
    answer[0] = QMessageBox.Yes
    c.export_ctc(tmp_path)
    wait(qtbot, widget)
    assert (res / "mine.txt").exists() and not (res / "res_track.txt").exists() and len(asked) == 1
    (res / "mine.txt").unlink()
    c.export_ctc(tmp_path)  # an empty folder holds nothing of the user's: replaced after a yes
    wait(qtbot, widget)
    assert (res / "res_track.txt").read_text().startswith("1 0 7 0") and len(asked) == 2
    n = len(asked)
    xml = tmp_path / "tm.xml"  # TrackMate: "tm" was confirmed by the dialog, "tm.xml" was not
    xml.write_text("precious")
    answer[0] = QMessageBox.No
    c.export_trackmate(tmp_path / "tm", confirmed=True)
    wait(qtbot, widget)
    assert xml.read_text() == "precious" and str(xml) in asked[-1] and len(asked) == n + 1
    # the very file the dialog confirmed: no second question
    c.export_trackmate(xml, confirmed=True)
    wait(qtbot, widget)
    assert xml.read_text().lstrip().startswith("<?xml") and len(asked) == n + 1
    folder = tmp_path / "plain.tif"  # a folder where a file is written: refused, nothing asked
    folder.mkdir()
    (folder / "mine.txt").write_text("precious")
    c.export_tiff(folder, confirmed=True)
    wait(qtbot, widget)
    assert (folder / "mine.txt").read_text() == "precious" and "is a folder" in widget.status.text
    c.export_tiff(image_file, confirmed=True)
    wait(qtbot, widget)
    assert image_file.read_bytes() == b"pixels" and "is an input" in widget.status.text
    assert len(asked) == n + 1


def test_closed_widget_lets_go_of_the_viewer_and_session(
    make_napari_viewer, qtbot, checkpoint, monkeypatch
):
    import gc
    import weakref

    from napari.utils.key_bindings import coerce_keybinding

    from napari_sam2.gui.controller import Controller
    from widget_fixtures import cells

    viewer = make_napari_viewer()

    def mine(v):
        return None

    viewer.bind_key("Shift-N", mine)
    image, truth = cells()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    c = widget.controller
    start(qtbot, widget)
    assert viewer.keymap[coerce_keybinding("Shift-N")] is not mine  # ours while open
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    slow_frames(c.session)
    c.propagate("forward")
    queue = c.queue
    qtbot.waitUntil(lambda: queue.running is not None and queue.running.kind == "track")
    job = queue.running
    session_ref = weakref.ref(c.session)
    viewer.window.remove_dock_widget(widget)  # the dock's close button does this
    assert job.cancelled and c.session is None
    qtbot.waitUntil(lambda: queue.running is None, timeout=60000)
    assert viewer.keymap[coerce_keybinding("Shift-N")] is mine  # the replaced binding is back
    assert coerce_keybinding("Shift-F") not in viewer.keymap
    calls = []
    monkeypatch.setattr(Controller, "layer_removed", lambda self, layer: calls.append(layer))
    c.frame_changed.connect(calls.append)
    viewer.dims.set_current_step(0, 3)
    viewer.layers.remove("SAM2 boxes")
    assert calls == []  # viewer events no longer reach it
    viewer.layers["SAM2 clicks"].add([0, 5.0, 5.0])  # nor do prompt layer edits
    assert not widget.busy
    widget_ref, controller_ref = weakref.ref(widget), weakref.ref(c)
    widget = c = job = queue = (
        None  # drop the test's own references: widget and session must be collectable
    )
    for _ in range(3):
        qtbot.wait(10)
        gc.collect()
    assert session_ref() is None and widget_ref() is None and controller_ref() is None
