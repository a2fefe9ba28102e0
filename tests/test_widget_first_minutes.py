"""What a new user meets in the widget's first five minutes (issue 30): no ghost objects, work never
replaced without asking, buttons that mean what they show, a status line that ends, clicks on
another slice answered, counts that add up. (The reader that claimed every file:
tests/test_plugin.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from widget_fixtures import centre, click_and_track, docked_widget, start, wait

pytestmark = pytest.mark.gui


def test_a_deleted_object_never_comes_back_on_the_next_click(ready, qtbot):
    """napari's Points layer takes a selected point's features as the defaults of the next point:
    the deletion selects the object's clicks to remove them, and a click after it used to carry the
    deleted id."""
    viewer, widget, truth = ready
    c, clicks = widget.controller, viewer.layers["SAM2 clicks"]
    c.add_click(0, *centre(truth, 0, 1))
    c.add_object()
    c.add_click(0, *centre(truth, 0, 2))
    wait(qtbot, widget)
    c.select_object(1)
    widget.objects.delete.native.click()
    wait(qtbot, widget)
    assert c.object_ids == [2] and c.selected == 2 and 1 not in c.session.objects
    clicks.add([0, *centre(truth, 0, 2)])  # what napari's add mode does with a click in the viewer
    wait(qtbot, widget)
    assert clicks.features["obj_id"].tolist() == [2, 2] and 1 not in c.session.objects
    widget.objects.delete.native.click()  # the last object: a new one is ready, with a new id
    wait(qtbot, widget)
    assert c.object_ids == [3] and c.selected == 3
    clicks.add([0, *centre(truth, 0, 1)])
    wait(qtbot, widget)
    assert clicks.features["obj_id"].tolist() == [3] and sorted(c.session.objects) == [3]


def test_load_session_asks_before_replacing_the_tracking(ready, qtbot, answers, tmp_path):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    c, out = widget.controller, viewer.layers["SAM2 labels"]
    asked, reply = answers
    click_and_track(widget, qtbot, truth)
    c.save_session(tmp_path / "s.json")
    c.add_object()
    click_and_track(widget, qtbot, truth, obj=2)
    labels = out.data.copy()
    c.load_session(tmp_path / "s.json")  # answered No: nothing changes
    wait(qtbot, widget)
    assert len(asked) == 1 and "Load" in asked[0] and "replaced" in asked[0]
    assert sorted(c.session.objects) == [1, 2] and np.array_equal(out.data, labels)
    reply[0] = QMessageBox.Yes
    c.load_session(tmp_path / "s.json")
    wait(qtbot, widget)
    assert len(asked) == 2 and sorted(c.session.objects) == [1] and not (out.data == 2).any()


def test_recreate_labels_is_off_after_a_new_session(ready, qtbot, answers):
    from qtpy.QtWidgets import QMessageBox

    viewer, widget, truth = ready
    c = widget.controller
    click_and_track(widget, qtbot, truth)
    answers[1][0] = QMessageBox.Yes
    old = c.session
    widget.setup.start_button.native.click()
    qtbot.waitUntil(lambda: c.session is not old and not widget.busy, timeout=60000)
    assert not c.can_recreate and not widget.tracking.recreate.enabled
    assert widget.status.text.startswith("Session ready")


def test_the_status_line_says_when_an_object_is_gone(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    click_and_track(widget, qtbot, truth)
    c.add_object()
    c.add_click(0, *centre(truth, 0, 2))
    wait(qtbot, widget)
    widget.objects.clear.native.click()  # object 2's prompts and masks go, it stays listed
    wait(qtbot, widget)
    assert "removing" not in widget.status.text and "object 2" in widget.status.text, (
        widget.status.text
    )
    c.select_object(1)
    widget.objects.delete.native.click()
    wait(qtbot, widget)
    assert "removing" not in widget.status.text and "object 1" in widget.status.text, (
        widget.status.text
    )
    assert not widget.status.running


@pytest.fixture
def movie4d():
    from widget_fixtures import cells

    image, truth = cells(n_frames=3)
    return np.repeat(image[:, None], 5, axis=1), truth  # (T, Z, Y, X): every slice alike


def test_a_click_on_another_slice_of_a_4d_stack_is_answered(
    make_napari_viewer, qtbot, checkpoint, movie4d
):
    image, truth = movie4d
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    viewer.dims.set_current_step(1, 3)
    start(qtbot, widget)  # tracks t at z = 3
    c, clicks = widget.controller, viewer.layers["SAM2 clicks"]
    viewer.dims.set_current_step(1, 1)
    clicks.add([1, 1, *centre(truth, 1, 1)])  # a click at z = 1
    wait(qtbot, widget)
    assert c.session.obj_ids == [] and len(clicks.data) == 0  # not used, and not left as if it were
    text = widget.status.text
    assert "z = 1" in text and "z = 3" in text and "not used" in text, text
    clicks.add([1, 3, *centre(truth, 1, 1)])  # on the session's slice: used
    wait(qtbot, widget)
    assert c.session.obj_ids == [1] and len(clicks.data) == 1


def test_progress_and_summary_count_the_frames_of_the_movie(ready, qtbot):
    """Both directions from a click on frame 0 of 8 frames: the progress counts 8 frames (it said
    9: the backward pass starts again on frame 0), and the summary adds up as the command line's."""
    viewer, widget, truth = ready
    c = widget.controller
    seen = []
    c.progress.connect(lambda done, total, text: total and seen.append((done, total)))
    c.add_click(0, *centre(truth, 0, 1))
    c.add_object()
    c.add_click(0, *centre(truth, 0, 2))
    widget.tracking.both.native.click()
    wait(qtbot, widget)
    assert seen and all(total == 8 for _, total in seen) and seen[-1] == (8, 8), seen
    lost = sum(int((line.lost | (line.hidden > 0)).sum()) for line in c.timelines.values())
    assert widget.status.text.startswith(
        f"both: done. 2 objects tracked over 8 frames: 16 object-frames, {lost} lost"
    ), widget.status.text


def test_the_widget_shows_status_first_and_the_movie_from_its_start(
    make_napari_viewer, qtbot, checkpoint, answers, tmp_path
):
    """The status sits above the panels' scroll area, always in view; a new session shows frame 0
    (napari opens a stack at its middle), and a loaded session its first prompted frame."""
    from qtpy.QtWidgets import QMessageBox

    from widget_fixtures import cells

    image, truth = cells()
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    c = widget.controller
    assert widget.layout().itemAt(0).widget() is widget.status
    viewer.dims.set_current_step(0, 5)
    start(qtbot, widget)
    assert viewer.dims.current_step[0] == 0
    c.add_click(3, *centre(truth, 3, 1))
    wait(qtbot, widget)
    c.save_session(tmp_path / "s.json")
    c.go_to_frame(6)
    answers[1][0] = QMessageBox.Yes
    c.load_session(tmp_path / "s.json")
    wait(qtbot, widget)
    assert viewer.dims.current_step[0] == 3


def test_tooltips_say_the_thing(make_napari_viewer):
    """Every control explains itself in the widget's words: no documentation file that a user of
    the installed plugin does not have, no command-line flag."""
    from qtpy.QtWidgets import QWidget

    from napari_sam2.gui.widget import SAM2Widget

    widget = SAM2Widget(make_napari_viewer())
    tips = [w.toolTip() for w in widget.findChildren(QWidget) if w.toolTip()]
    tips += [action.toolTip() for action in widget.export.menu.values()]
    assert len(tips) > 40
    bad = [t for t in tips if ".md" in t or "docs/" in t or "--" in t or "CLI" in t]
    assert not bad, bad


def test_docking_imports_no_torch():
    """Docking builds no model and imports no torch (it froze napari for seconds): the model is
    built in the background when a session starts (benchmarks/widget_dock.py has the times)."""
    import subprocess
    import sys

    code = (
        "import sys, napari; v = napari.Viewer(show=False); from napari_sam2.gui.widget import "
        "SAM2Widget; w = SAM2Widget(v); v.window.add_dock_widget(w); print(sorted(m for m in "
        "sys.modules if m.split('.')[0] == 'torch')[:3])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_a_choice_that_means_none_is_taken_when_picked_in_the_box(make_napari_viewer):
    """ "whole frame", "all" and "model" stand for None in their boxes. magicgui says nothing when a box
    turns to None, so picking "whole frame" after "auto" used to leave the widget tracking with auto."""
    from napari_sam2.gui.widget import SAM2Widget

    widget = SAM2Widget(make_napari_viewer())
    settings = lambda: widget.controller.settings  # noqa: E731
    assert settings().tracking.window == "auto"  # the microscopy default
    for name, away, section in (
        ("window", 256, "tracking"),
        ("memory_frames", 2, "tracking"),
        ("image_size", 512, "model"),
    ):
        box = widget.setup.control(name)
        box.value = away
        assert getattr(getattr(settings(), section), name) == away
        box.native.setCurrentIndex(
            box.native.findText(box.native.itemText(0))
        )  # as a user picks it
        assert box.native.currentIndex() == 0 and box.value is None
        assert getattr(getattr(settings(), section), name) is None, name
