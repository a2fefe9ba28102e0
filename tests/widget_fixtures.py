"""What the GUI tests share: a tiny random model, the dock widget set up through its controls, a
session on two synthetic cells, and waiting for the widget's jobs. Import the fixtures by name in a
test module."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import present_checkpoint
from napari_sam2.synthetic import synthetic_cells

SIZE = 64  # the test model's input size: 16 x 16 features, fast on a CPU


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return present_checkpoint(tmp_path_factory.mktemp("ckpt"), SIZE, seed=4)


def cells(n_frames: int = 8):
    """A (n_frames, 64, 72) movie of two cells and their labels."""
    return synthetic_cells(n_frames=n_frames, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))


def docked_widget(viewer, layer, checkpoint, axis: str = "t", dock: bool = True):
    """The widget in ``viewer``, set through its controls to ``layer`` along ``axis`` with the test
    model on the CPU (no session yet)."""
    from napari_sam2.gui.widget import SAM2Widget

    widget = SAM2Widget(viewer)
    if dock:
        viewer.window.add_dock_widget(widget)
    setup = widget.setup
    setup.image.value = layer
    setup.control("axis").value = axis
    setup.control("checkpoint").value = str(checkpoint)
    setup.control("image_size").value = SIZE
    setup.control("device").value = "cpu"
    # the official tracking rules: these tests check the widget's behaviour on a tiny random model
    # (test_widget_suspects.py checks the microscopy defaults)
    setup.control("window").value = None
    setup.control("memory").value = "official"
    return widget


def wait(qtbot, widget, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


def start(qtbot, widget, timeout: int = 60000) -> None:
    """Press Start session and wait for the session."""
    widget.setup.start_button.native.click()
    qtbot.waitUntil(
        lambda: widget.controller.session is not None and not widget.busy, timeout=timeout
    )


@pytest.fixture
def ready(make_napari_viewer, qtbot, checkpoint):
    """(viewer, widget, truth): a session on 8 frames of two cells."""
    image, truth = cells()
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint)
    start(qtbot, widget)
    return viewer, widget, truth


@pytest.fixture(autouse=True)
def no_unanswered_dialogs(request, monkeypatch):
    """In a GUI test, a question or file dialog the test did not arrange fails at once (it would
    wait for a click that never comes); the ``answers`` fixture and a test's own patches answer
    them."""
    if request.node.get_closest_marker("gui") is None:
        return
    from qtpy.QtWidgets import QFileDialog, QMessageBox

    def unexpected(*args, **kwargs):
        raise AssertionError(f"a dialog the test did not arrange: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", staticmethod(unexpected))
    for name in ("getSaveFileName", "getOpenFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(unexpected))


@pytest.fixture
def answers(monkeypatch):
    """Every yes/no question is recorded (its text) and answered from ``answers[1][0]`` (No unless
    set)."""
    from qtpy.QtWidgets import QMessageBox

    asked, reply = [], [QMessageBox.No]
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or reply[0])
    )
    return asked, reply


def warnings_of(widget) -> list[str]:
    """A list that collects every warning and error the widget shows from now on."""
    shown = []
    widget.controller.warned.connect(lambda level, text: shown.append(text))
    return shown


def centre(truth, frame, obj):
    return np.argwhere(truth[frame] == obj).mean(0)


def click_and_track(widget, qtbot, truth, obj: int = 1) -> None:
    """Click object ``obj``'s cell on frame 0 (for the selected object) and track forward."""
    y, x = centre(truth, 0, obj)
    widget.controller.add_click(0, y, x)
    widget.controller.propagate("forward")
    wait(qtbot, widget)


def slow_frames(session, seconds: float = 0.25) -> None:
    """Make each tracked frame of ``session`` take a while, so that a test can act during a run."""
    import time

    track = session.track_frame

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return track(*args, **kwargs)

    session.track_frame = slow
