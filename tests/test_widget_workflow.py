"""The dock widget's workflow: work is never lost without asking, dialogs open where and how they
should, and the widget says what it is doing (real napari viewer under Xvfb, tiny random model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from widget_fixtures import cells, click_and_track, docked_widget, start, wait

pytestmark = pytest.mark.gui


def test_new_session_asks_first_and_then_cleans_up_fully(ready, qtbot, answers):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    c = widget.controller
    asked, reply = answers
    click_and_track(widget, qtbot, truth)
    c.add_object()
    click_and_track(widget, qtbot, truth, obj=2)
    c.rename_object(2, "mother")
    c.add_tracks_layer()
    wait(qtbot, widget)
    old, labels = c.session, viewer.layers["SAM2 labels"].data.copy()
    widget.setup.start_button.native.click()  # answered No: nothing changes
    wait(qtbot, widget)
    assert len(asked) == 1 and "discarded" in asked[0]
    assert c.session is old and np.array_equal(viewer.layers["SAM2 labels"].data, labels)
    assert "SAM2 tracks" in viewer.layers and widget.objects.objects.count() == 2
    reply[0] = QMessageBox.Yes
    widget.setup.start_button.native.click()
    qtbot.waitUntil(lambda: c.session is not old and not widget.busy, timeout=60000)
    assert (
        not viewer.layers["SAM2 labels"].data.any() and len(viewer.layers["SAM2 clicks"].data) == 0
    )
    assert "SAM2 tracks" not in viewer.layers
    assert widget.objects.objects.ids() == [1] and c.names == {1: "object 1"}
    assert c.timelines == {} and c.edited_frames == set() and not widget.tracking.strip.scores.size


def test_a_removed_labels_layer_is_recreated_from_the_session(ready, qtbot):
    viewer, widget, truth = ready
    c, recreate = widget.controller, widget.tracking.recreate
    click_and_track(widget, qtbot, truth)
    labels = viewer.layers["SAM2 labels"].data.copy()
    assert not recreate.enabled
    viewer.layers.remove("SAM2 labels")
    assert recreate.enabled and "Recreate labels layer" in widget.status.text
    assert "Start session" not in widget.status.text
    recreate.native.click()
    wait(qtbot, widget)
    out = viewer.layers["SAM2 labels"]
    assert np.array_equal(out.data, labels) and (out.data == 1).sum() > 0 and not recreate.enabled
    y, x = np.argwhere(truth[3] == 1).mean(0)
    c.add_click(3, y + 1, x)  # the session goes on writing into the new layer
    wait(qtbot, widget)
    assert np.array_equal(out.data[3], c.session.label_frame(3))


def test_the_session_keeps_its_image_and_says_so(ready, qtbot, answers):
    from widget_fixtures import warnings_of

    viewer, widget, truth = ready
    c, setup = widget.controller, widget.setup
    asked, _ = answers
    warned = warnings_of(widget)
    click_and_track(widget, qtbot, truth)
    assert "'cells'" in setup.session_info.value
    assert (
        not any(control.enabled for control in setup.fixed_controls())
        and setup.close_button.enabled
    )
    other = viewer.add_image(np.zeros((8, 64, 72), np.uint8), name="other")
    setup.image.value = other
    assert warned and "'cells'" in warned[-1] and "'other'" in warned[-1]
    assert c.layer.name == "cells" and "'cells'" in setup.session_info.value
    viewer.layers.remove("cells")
    assert c.session is None and "'cells' was removed" in warned[-1]
    assert all(control.enabled for control in setup.fixed_controls())
    assert "No session" in setup.session_info.value
    setup.image.value = other
    setup.start_button.native.click()  # the closed session's labels are on screen: asked, No
    wait(qtbot, widget)
    assert asked and c.session is None and viewer.layers["SAM2 labels"].data.any()


def test_close_session_asks_and_frees_the_settings(ready, qtbot, answers):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    asked, reply = answers
    widget.setup.close_button.native.click()
    assert asked and widget.controller.session is not None
    reply[0] = QMessageBox.Yes
    widget.setup.close_button.native.click()
    assert (
        widget.controller.session is None
        and widget.setup.image.enabled
        and "SAM2 labels" in viewer.layers
    )


def test_file_dialogs_mode_folder_and_extensions(
    make_napari_viewer, qtbot, checkpoint, answers, monkeypatch, tmp_path
):
    from napari.layers._source import layer_source
    from qtpy.QtWidgets import QFileDialog, QMessageBox

    asked, reply = answers
    image, truth = cells()
    viewer = make_napari_viewer()
    images = tmp_path / "images"
    images.mkdir()
    with layer_source(path=str(images / "cells.tif")):
        layer = viewer.add_image(image, name="cells")
    widget = docked_widget(viewer, layer, checkpoint)
    start(qtbot, widget)
    click_and_track(widget, qtbot, truth)
    export = widget.export
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
    export.menu["Table CSV"].trigger()
    wait(qtbot, widget)
    # the image's folder
    assert calls[-1][0] == "save" and calls[-1][2] == str(images / "objects.csv")
    assert (out / "table.csv").read_text().startswith("object") and not (out / "table").exists()
    answer[0] = str(out / "labels")
    export.menu["Labels TIFF"].trigger()
    wait(qtbot, widget)
    # the folder used last
    assert calls[-1][2] == str(out / "labels.tif") and (out / "labels.tif").is_file()
    (out / "session.json").write_text("precious")
    # the dialog confirmed "session", not "session.json": asked, No
    answer[0] = str(out / "session")
    export.save.native.click()
    assert (out / "session.json").read_text() == "precious" and "session.json" in asked[-1]
    answer[0] = str(out / "mine")
    export.save.native.click()
    assert (out / "mine.json").is_file()
    answer[0] = str(out / "mine.json")
    reply[0] = QMessageBox.Yes  # replace the session on screen
    export.load.native.click()
    wait(qtbot, widget)
    assert calls[-1][:2] == ("open", "Load session") and 1 in widget.controller.session.objects


def test_forward_twice_is_merged_and_queued_work_is_named(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    y, x = np.argwhere(truth[0] == 1).mean(0)
    c.add_click(0, y, x)  # a prompt job runs; the tracking waits behind it
    widget.tracking.forward.native.click()
    assert "queued" in widget.status.text
    widget.tracking.forward.native.click()
    assert [j.key for j in c.queue.pending].count(("track", "forward")) == 1
    assert "already queued" in widget.status.text
    wait(qtbot, widget)
    assert widget.status.text.startswith("forward: done")


def test_hints_before_a_session(make_napari_viewer, qtbot):
    from napari_sam2.gui.widget import SAM2Widget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 32, 32), np.uint8), name="cells")
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.tracking.forward.native.click()
    assert "Start session" in widget.status.text and "prompts" not in widget.status.text
    widget.controller.say("")
    for callback in list(viewer.mouse_drag_callbacks):  # a click on the image
        callback(
            viewer, type("Event", (), {"button": 1, "position": (0, 5, 5), "type": "mouse_press"})()
        )
    assert "Start session" in widget.status.text


def test_progress_in_the_dock_and_slices_in_a_volume(make_napari_viewer, qtbot, checkpoint):
    image, truth = cells()
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="volume"), checkpoint, axis="z")
    c = widget.controller
    start(qtbot, widget)
    assert "8 slices" in widget.status.text
    seen = []
    bar = widget.status.bar
    original = bar.setValue
    bar.setValue = lambda v: (seen.append((v, bar.maximum(), bar.format())), original(v))[-1]
    y, x = np.argwhere(truth[0] == 1).mean(0)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    assert "slice 0" in widget.status.text
    c.propagate("forward")
    wait(qtbot, widget)
    assert [v for v, _, _ in seen] == list(range(1, 9)) and all(m == 8 for _, m, _ in seen)
    assert all(f == "forward: %v/%m slices" for _, _, f in seen)
    assert bar.value() == -1 and widget.status.text.startswith("forward: done")
    # the object list and the strip speak of slices too
    strip = widget.tracking.strip
    assert strip.tooltip(0) == "slice 0: prompted" and strip.tooltip(3).startswith("slice 3: ")
    c.timelines = {1: dataclasses.replace(c.session.timeline(1), lost=np.ones(8, bool))}
    c.timelines_changed.emit()
    entry = widget.objects.objects.item(0)
    assert entry.text().endswith("8 lost slices") and entry.toolTip().startswith(
        "lost on slice(s) 0, 1, 2"
    )


def test_controls_grouped_and_named(ready):
    from napari_sam2.gui.panels.export import EXPORTS

    viewer, widget, truth = ready
    setup = widget.setup
    assert list(widget.groups) == [
        "Setup",
        "Objects",
        "Tracking",
        "Automatic segmentation",
        "Lineage",
        "Export",
    ]
    # folded by default
    assert setup.advanced.native.isHidden() and not setup.image.native.isHidden()
    setup.advanced_toggle.setChecked(True)
    assert not setup.advanced.native.isHidden()
    assert (
        widget.tracking.both.text == "Both directions"
        and widget.lineage.dismiss.text == "Dismiss suggestion"
    )
    assert (
        "object" in widget.objects.delete.text.lower()
        and "object" in widget.objects.clear.text.lower()
    )
    assert widget.lineage.suggestions.label and widget.objects.objects.minimumHeight() >= 150
    assert setup.model_info.value.startswith("Model: ")
    assert list(widget.export.menu) == list(EXPORTS)
    assert widget.export.save.text == "Save session" and widget.export.load.text == "Load session"


def test_quality_warnings_are_collected_per_worker_thread():
    """Two jobs at once (a model job and an export beside it) each get their own QualityWarnings,
    the GUI thread's warnings are untouched, and no job changes the process-wide warning filters
    (warnings.catch_warnings in a worker swapped them for every thread)."""
    import threading
    import warnings

    from napari_sam2.gui.jobs import WarningCollector
    from napari_sam2.notices import QualityWarning

    WarningCollector.install()
    filters = list(warnings.filters)
    inside, warned, release, got = threading.Barrier(3), threading.Barrier(3), threading.Event(), {}

    def job(name):
        with WarningCollector.collect() as caught:
            inside.wait(10)  # both jobs collecting at once
            warnings.warn(f"from {name}", QualityWarning, stacklevel=1)
            # again: every time, not once per line
            warnings.warn(f"from {name}", QualityWarning, stacklevel=1)
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


def test_a_new_setting_shows_up_as_a_control_made_from_its_field(qapp):
    """The settings form makes a control per field from its Option (label, range, listed values,
    help in the widget's words); an edit goes through the settings type, and a refused one springs
    back."""
    from types import SimpleNamespace

    from psygnal import Signal

    from napari_sam2.gui.settings_form import SettingsForm
    from napari_sam2.settings import SettingError, Settings, opt

    @dataclasses.dataclass(frozen=True)
    class Extra(Settings):
        gap: int = opt(
            3,
            flag="--gap",
            label="gap frames",
            kind=int,
            low=0,
            high=9,
            help="frames an object may be missing (default 3); see --mode",
        )
        mode: str = opt("a", flag="--mode", label="mode", choices=("a", "b"), help="how to bridge")
        limit: int | None = opt(
            None,
            flag="--limit",
            label="limit",
            kind=int,
            low=1,
            none="no limit",
            help="at most this many",
        )
        hidden: int = opt(
            0, flag="--hidden", label="hidden", kind=int, widget=False, help="not shown"
        )

        def check(self) -> None:
            if self.mode == "b" and self.gap > 5:
                raise SettingError(type(self), "gap", "must be at most 5 in mode b")

    class Owner:  # what a form needs of the controller
        settings_changed = Signal(str)

        def __init__(self):
            self.settings, self.said = SimpleNamespace(extra=Extra()), []

        def update(self, section, **changes):
            try:
                self.settings.extra = self.settings.extra.replaced(**changes)
            except SettingError as exc:
                self.said.append(exc.worded("label"))
            self.settings_changed.emit(section)

    owner = Owner()
    form = SettingsForm(owner, "extra")
    assert list(form.controls) == ["gap", "mode", "limit"]  # widget=False stays out
    gap, mode, limit = form["gap"], form["mode"], form["limit"]
    assert (gap.label, gap.min, gap.max, gap.value) == ("gap frames", 0, 9, 3)
    assert list(mode.choices) == ["a", "b"] and limit.value == 0  # 0: None, "no limit"
    assert gap.tooltip == "Frames an object may be missing; see 'mode'."  # flags named as controls
    assert "0: no limit" in limit.tooltip
    mode.value, limit.value = "b", 4
    assert owner.settings.extra == Extra(gap=3, mode="b", limit=4)
    gap.value = 7  # refused by the type: said, naming the control, and shown as it was
    assert owner.said == ["gap frames must be at most 5 in mode b"] and gap.value == 3
