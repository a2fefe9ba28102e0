"""Window mode in the dock widget, in a real napari viewer under Xvfb, with the bundled demo
model."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.io.evaluate import mask_iou
from napari_sam2.synthetic import synthetic_cells
from widget_fixtures import start, warnings_of

pytestmark = pytest.mark.gui


def _start(make_napari_viewer, qtbot, image, window):
    from napari_sam2.gui.widget import SAM2Widget

    viewer = make_napari_viewer()
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    shown = warnings_of(widget)
    setup = widget.setup
    setup.image.value = viewer.add_image(image, name="cells")
    setup.control("model").value, setup.control("device").value = "napari_sam2_demo", "cpu"
    setup.control("window").value = window
    start(qtbot, widget)
    return viewer, widget, shown


def test_window_setting_tracks_small_cells_at_native_scale(make_napari_viewer, qtbot):
    """A 512 px movie with cells of the demo's size: the widget says windows exist in whole-frame
    mode; with 'window' 256 a click far from the frame's corner gives a mask in the right place,
    tracked on."""
    image, truth = synthetic_cells(n_frames=5, size=(512, 512), n_cells=8, seed=3)
    _, whole, shown = _start(make_napari_viewer, qtbot, image, None)
    assert whole.controller.session.window is None
    assert any("window mode" in t and "512x512" in t for t in shown), shown
    tip = whole.setup.control("window").tooltip
    assert "native scale" in tip or "own scale" in tip

    viewer, widget, shown = _start(make_napari_viewer, qtbot, image, 256)
    c = widget.controller
    assert c.session.window == 256 and c.session.model.image_size == 256
    assert not any("window mode" in t for t in shown), shown
    assert "256 px windows" in widget.status.text
    far = max(
        (i for i in np.unique(truth[0]) if i),
        key=lambda i: np.argwhere(truth[0] == i).mean(0).sum(),
    )
    y, x = np.argwhere(truth[0] == far).mean(0)
    c.add_click(0, y, x)
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    c.propagate("forward")
    qtbot.waitUntil(lambda: not widget.busy, timeout=120000)
    out = viewer.layers["SAM2 labels"].data
    ious = [mask_iou(out[f] == 1, truth[f] == far) for f in range(5)]
    assert min(ious) >= 0.75, ious
