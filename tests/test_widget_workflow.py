"""The dock widget's workflow: work is never lost without asking, dialogs open where and how they should,
and the widget says what it is doing (real napari viewer under Xvfb, tiny random model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import present_checkpoint
from test_widget import docked_widget

from napari_sam2.synthetic import synthetic_cells

pytestmark = pytest.mark.gui
SIZE = 64


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return present_checkpoint(tmp_path_factory.mktemp("ckpt"), SIZE, seed=4)


def open_widget(viewer, layer, checkpoint, qtbot, axis="t"):
    widget = docked_widget(viewer, layer, checkpoint, axis)
    widget.start_session()
    qtbot.waitUntil(lambda: widget.session is not None and not widget.busy, timeout=60000)
    return widget


@pytest.fixture
def ready(make_napari_viewer, qtbot, checkpoint):
    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="cells")
    return viewer, open_widget(viewer, layer, checkpoint, qtbot), truth


@pytest.fixture
def answers(monkeypatch):
    """Every yes/no question is recorded (its text) and answered from ``answers[0]`` (No unless set)."""
    from qtpy.QtWidgets import QMessageBox

    asked, reply = [], [QMessageBox.No]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or reply[0]))
    return asked, reply


def wait(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)


def click_and_track(widget, qtbot, truth, obj=1):
    y, x = np.argwhere(truth[0] == obj).mean(0)
    widget.add_click(0, y, x)
    widget.propagate("forward")
    wait(qtbot, widget)


def test_new_session_asks_first_and_then_cleans_up_fully(ready, qtbot, answers):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    asked, reply = answers
    click_and_track(widget, qtbot, truth)
    widget.add_object()
    click_and_track(widget, qtbot, truth, obj=2)
    widget.names[2] = "mother"
    widget.add_tracks_layer()
    wait(qtbot, widget)
    old, labels = widget.session, viewer.layers["SAM2 labels"].data.copy()
    widget.start_session()  # answered No: nothing changes
    wait(qtbot, widget)
    assert len(asked) == 1 and "discarded" in asked[0]
    assert widget.session is old and np.array_equal(viewer.layers["SAM2 labels"].data, labels)
    assert "SAM2 tracks" in viewer.layers and widget._controls.objects.count() == 2
    reply[0] = QMessageBox.Yes
    widget.start_session()
    qtbot.waitUntil(lambda: widget.session is not old and not widget.busy, timeout=60000)
    assert not viewer.layers["SAM2 labels"].data.any() and len(viewer.layers["SAM2 clicks"].data) == 0
    assert "SAM2 tracks" not in viewer.layers
    assert widget._controls.objects.ids() == [1] and widget.names == {1: "object 1"}
    assert widget._timelines == {} and widget.edited_frames == set() and not widget._controls.timeline.scores.size


def test_a_removed_labels_layer_is_recreated_from_the_session(ready, qtbot):
    viewer, widget, truth = ready
    click_and_track(widget, qtbot, truth)
    labels = viewer.layers["SAM2 labels"].data.copy()
    assert not widget._controls.recreate.enabled
    viewer.layers.remove("SAM2 labels")
    assert widget._controls.recreate.enabled and "Recreate labels layer" in widget._status.value
    assert "Start session" not in widget._status.value
    widget._controls.recreate.native.click()
    wait(qtbot, widget)
    out = viewer.layers["SAM2 labels"]
    assert np.array_equal(out.data, labels) and (out.data == 1).sum() > 0 and not widget._controls.recreate.enabled
    y, x = np.argwhere(truth[3] == 1).mean(0)
    widget.add_click(3, y + 1, x)  # the session goes on writing into the new layer
    wait(qtbot, widget)
    assert np.array_equal(out.data[3], widget.session.label_frame(3))


def test_the_session_keeps_its_image_and_says_so(ready, qtbot, answers, monkeypatch):
    import napari_sam2._widget_session as session_module

    viewer, widget, truth = ready
    asked, _ = answers
    warned = []
    monkeypatch.setattr(session_module, "show_warning", warned.append)
    click_and_track(widget, qtbot, truth)
    assert "'cells'" in widget._controls.session_info.value
    assert not any(c.enabled for c in widget._controls.session_settings()) and widget._controls.close.enabled
    other = viewer.add_image(np.zeros((8, 64, 72), np.uint8), name="other")
    widget._controls.image.value = other
    assert warned and "'cells'" in warned[-1] and "'other'" in warned[-1]
    assert widget._layer.name == "cells" and "'cells'" in widget._controls.session_info.value
    viewer.layers.remove("cells")
    assert widget.session is None and "'cells' was removed" in warned[-1]
    assert all(c.enabled for c in widget._controls.session_settings())
    assert "No session" in widget._controls.session_info.value
    widget._controls.image.value = other
    widget.start_session()  # the labels of the closed session are still on screen: asked, No
    wait(qtbot, widget)
    assert asked and widget.session is None and viewer.layers["SAM2 labels"].data.any()


def test_close_session_asks_and_frees_the_settings(ready, qtbot, answers):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    asked, reply = answers
    widget._controls.close.native.click()
    assert asked and widget.session is not None
    reply[0] = QMessageBox.Yes
    widget._controls.close.native.click()
    assert widget.session is None and widget._controls.image.enabled and "SAM2 labels" in viewer.layers


def test_file_dialogs_mode_folder_and_extensions(make_napari_viewer, qtbot, checkpoint, answers, monkeypatch,
                                                 tmp_path):
    from napari.layers._source import layer_source
    from qtpy.QtWidgets import QFileDialog

    asked, _ = answers
    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    viewer = make_napari_viewer()
    images = tmp_path / "images"
    images.mkdir()
    with layer_source(path=str(images / "cells.tif")):
        layer = viewer.add_image(image, name="cells")
    widget = open_widget(viewer, layer, checkpoint, qtbot)
    click_and_track(widget, qtbot, truth)
    calls, answer = [], [None]

    def dialog(kind):
        def show(parent, title, where="", filter_=""):
            calls.append((kind, title, where))
            return answer[0], filter_
        return staticmethod(show)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog("save"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog("open"))
    out = tmp_path / "out"
    out.mkdir()
    answer[0] = str(out / "table")  # no extension typed
    widget._controls.exports["Table CSV"].trigger()
    wait(qtbot, widget)
    assert calls[-1][0] == "save" and calls[-1][2] == str(images / "objects.csv")  # the image's folder
    assert (out / "table.csv").read_text().startswith("object") and not (out / "table").exists()
    answer[0] = str(out / "labels")
    widget.export_tiff()
    wait(qtbot, widget)
    assert calls[-1][2] == str(out / "labels.tif") and (out / "labels.tif").is_file()  # the folder used last
    (out / "session.json").write_text("precious")
    answer[0] = str(out / "session")  # the dialog confirmed "session", not "session.json": asked, No
    widget.save_session()
    assert (out / "session.json").read_text() == "precious" and "session.json" in asked[-1]
    answer[0] = str(out / "mine")
    widget.save_session()
    assert (out / "mine.json").is_file()
    answer[0] = str(out / "mine.json")
    widget._controls.exports["Load session"].trigger()
    wait(qtbot, widget)
    assert calls[-1][:2] == ("open", "Load session") and 1 in widget.session.objects


def test_forward_twice_is_merged_and_queued_work_is_named(ready, qtbot):
    viewer, widget, truth = ready
    y, x = np.argwhere(truth[0] == 1).mean(0)
    widget.add_click(0, y, x)  # a prompt job runs; the tracking waits behind it
    widget.propagate("forward")
    assert "queued" in widget._status.value
    widget.propagate("forward")
    assert [j.key for j in widget._jobs.pending].count(("track", "forward")) == 1
    assert "already queued" in widget._status.value
    wait(qtbot, widget)
    assert widget._status.value.startswith("forward: done")


def test_hints_before_a_session(make_napari_viewer, qtbot):
    from napari_sam2._widget import SAM2Widget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 32, 32), np.uint8), name="cells")
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.propagate("forward")
    assert "Start session" in widget._status.value and "prompts" not in widget._status.value
    widget._status.show("")
    for callback in list(viewer.mouse_drag_callbacks):  # a click on the image
        callback(viewer, type("Event", (), {"button": 1, "position": (0, 5, 5), "type": "mouse_press"})())
    assert "Start session" in widget._status.value


def test_progress_in_the_dock_and_slices_in_a_volume(make_napari_viewer, qtbot, checkpoint):
    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="volume")
    widget = open_widget(viewer, layer, checkpoint, qtbot, axis="z")
    assert "8 slices" in widget._status.value
    seen = []
    bar = widget._controls.progress
    original = bar.setValue
    bar.setValue = lambda v: (seen.append((v, bar.maximum(), bar.format())), original(v))[-1]
    y, x = np.argwhere(truth[0] == 1).mean(0)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    assert "slice 0" in widget._status.value
    widget.propagate("forward")
    wait(qtbot, widget)
    assert [v for v, _, _ in seen] == list(range(1, 9)) and all(m == 8 for _, m, _ in seen)
    assert all(f == "forward: %v/%m slices" for _, _, f in seen)
    assert bar.value() == -1 and widget._status.value.startswith("forward: done")
    # the object list and the strip speak of slices too
    strip = widget._controls.timeline
    assert strip.tooltip(0) == "slice 0: prompted" and strip.tooltip(3).startswith("slice 3: ")
    widget._controls.objects.show_lost({1: dataclasses.replace(widget.session.timeline(1), lost=np.ones(8, bool))})
    assert widget._controls.objects.item(0).text().endswith("8 lost slices")
    assert widget._controls.objects.item(0).toolTip().startswith("lost on slice(s) 0, 1, 2")


def test_controls_grouped_and_named(ready):
    viewer, widget, truth = ready
    c = widget._controls
    assert list(c.groups) == ["Setup", "Objects", "Track", "Divisions", "Export"]
    assert c.advanced.native.isHidden() and not widget._controls.image.native.isHidden()  # folded by default
    c.advanced_toggle.setChecked(True)
    assert not c.advanced.native.isHidden()
    assert widget._controls.both.text == "Both directions" and widget._controls.dismiss.text == "Dismiss suggestion"
    assert "object" in widget._controls.delete.text.lower() and "object" in widget._controls.clear.text.lower()
    assert widget._controls.suggestions.label and widget._controls.objects.minimumHeight() >= 150
    assert widget._controls.model_info.value.startswith("Model: ")
    assert [a.text for a in c.export_menu.actions()] == list(widget._controls.exports)


def test_quality_warnings_are_collected_per_worker_thread():
    """Two jobs at once (a model job and an export beside it) each get their own QualityWarnings, the
    GUI thread's warnings are untouched, and no job changes the process-wide warning filters
    (warnings.catch_warnings in a worker swapped them for every thread)."""
    import threading
    import warnings

    from napari_sam2._widget_jobs import _QualityWarnings
    from napari_sam2.notices import QualityWarning

    _QualityWarnings.install()
    filters = list(warnings.filters)
    inside, warned, release, got = threading.Barrier(3), threading.Barrier(3), threading.Event(), {}

    def job(name):
        with _QualityWarnings.collect() as caught:
            inside.wait(10)  # both jobs collecting at once
            warnings.warn(f"from {name}", QualityWarning, stacklevel=1)
            warnings.warn(f"from {name}", QualityWarning, stacklevel=1)  # again: every time, not once per line
            warned.wait(10)
            release.wait(10)  # still collecting while the GUI thread warns
        got[name] = caught

    threads = [threading.Thread(target=job, args=(n,)) for n in ("model", "export")]
    for t in threads:
        t.start()
    inside.wait(10)
    warned.wait(10)
    with pytest.warns(QualityWarning, match="from the GUI"):  # not swallowed into a job's list
        warnings.warn("from the GUI", QualityWarning, stacklevel=1)
    release.set()
    for t in threads:
        t.join(10)
    assert got == {"model": ["from model", "from model"], "export": ["from export", "from export"]}
    assert list(warnings.filters) == filters
