"""Suspect object-frames in the widget: the summary and the object list count them, the confidence strip
marks them in their own colour, and Previous/Next suspect (buttons and keys) go there and select the
object; the widget starts with the microscopy defaults of `napari-sam2 track`."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.settings import MICROSCOPY
from napari_sam2.synthetic import synthetic_passing_pairs
from widget_fixtures import no_unanswered_dialogs, start, wait  # noqa: F401

pytestmark = pytest.mark.gui


@pytest.fixture
def pairs_widget(make_napari_viewer, qtbot):
    """The demo model on two pairs of look-alike cells that pass each other (16 frames), seeded from the
    first frame's labels, tracked forward with the official memory (which lets them drift: suspects)."""
    from napari_sam2.gui.widget import SAM2Widget

    image, truth = synthetic_passing_pairs(n_frames=16, size=(256, 256), n_pairs=2, seed=0)
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="pairs")
    seeds = viewer.add_labels(truth[0], name="seeds")
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    assert (
        widget.controller.settings.tracking == MICROSCOPY
    )  # what a user gets without touching a setting
    widget.setup.image.value = layer
    for name, value in (
        ("model", "napari_sam2_demo"),
        ("device", "cpu"),
        ("window", None),
        ("memory", "official"),
    ):
        widget.setup.control(name).value = value
    start(qtbot, widget)
    widget.controller.objects_from_labels(seeds)
    wait(qtbot, widget)
    widget.tracking.forward.native.click()
    wait(qtbot, widget, timeout=180000)
    return viewer, widget


def test_suspects_are_counted_marked_and_visited(pairs_widget, qtbot):
    viewer, widget = pairs_widget
    c = widget.controller
    found = c.suspect_frames()
    assert found, "passing look-alikes with the official memory give suspect object-frames"
    assert f"{len(found)} suspect in " in widget.status.text  # the summary, beside the lost count
    assert " lost" in widget.status.text
    counted = {o: len(line.suspects) for o, line in c.timelines.items() if line.suspects}
    texts = [widget.objects.objects.item(i).text() for i in range(widget.objects.objects.count())]
    assert all(
        any(t.startswith(f"{o}:") and f"{n} suspect" in t for t in texts)
        for o, n in counted.items()
    )
    widget.controller.go_to_frame(0)
    widget.tracking.next.native.click()  # Next suspect: the first one after frame 0
    frame, obj = found[0]
    assert (c.current_frame(), c.selected) == (frame, obj)
    assert widget.tracking.strip.kind(
        frame
    ) == "suspect" and "suspect" in widget.tracking.strip.tooltip(frame)
    assert f"object {obj} on frame {frame} is suspect (" in widget.status.text
    from napari.utils.key_bindings import coerce_keybinding

    viewer.keymap[coerce_keybinding("Shift-S")](viewer)  # the key binding: on to the next one
    assert (c.current_frame(), c.selected) == found[1 % len(found)]
    viewer.keymap[coerce_keybinding("Shift-A")](viewer)  # and back
    assert (c.current_frame(), c.selected) == (frame, obj)
    widget.tracking.previous.native.click()  # before the first: round to the last
    assert (c.current_frame(), c.selected) == found[-1]
    widget.controller.go_to_frame(frame)
    widget.controller.select_object(obj)
    strip = widget.tracking.strip  # a lost or hidden frame keeps its own colour
    assert all(strip.kind(f) in ("suspect",) for f in c.timelines[obj].suspects)
    assert np.isfinite(c.timelines[obj].scores).sum() == 16
