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


@pytest.fixture
def ready(make_napari_viewer, qtbot, checkpoint):
    from napari_sam2._widget import SAM2Widget

    image, truth = synthetic_cells(n_frames=8, size=(64, 72), n_cells=2, seed=6, radius=(6.0, 9.0))
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="cells")
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget._image.value = layer
    widget._checkpoint.value = str(checkpoint)
    widget._image_size.value = SIZE
    widget._device.value = "cpu"
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
    assert all(b.enabled for b in widget._cands)  # a single click offers three masks
    widget.propagate("forward")
    wait(qtbot, widget)
    assert all((out.data[f] == 1).any() for f in range(8))
    assert np.array_equal(out.data, widget.session.labels().astype(out.data.dtype))
    assert np.isfinite(widget._timeline.scores).all() and len(widget._timeline.scores) == 8


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
    original = widget._write_frames

    def spy(frames):
        original(frames)
        written.extend(f for f, _ in frames)
        if len(written) == 2:
            widget.cancel()

    widget._write_frames = spy
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
    assert widget._overwrite.enabled
    widget.overwrite_edited_frames()
    wait(qtbot, widget)
    assert np.array_equal(out.data[6], widget.session.label_frame(6)) and not widget._overwrite.enabled


def test_candidate_choice_and_painted_mask(ready, qtbot):
    viewer, widget, truth = ready
    y, x = centre(truth, 0, 1)
    widget.add_click(0, y, x)
    wait(qtbot, widget)
    cands = widget._candidates[2]
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
                  str(tmp_path / "s.json"), str(tmp_path / "s.json")])
    widget._ask_path = lambda *a, **k: next(paths)
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
    from napari_sam2.engine.lineage_io import read_geff

    assert read_geff(tmp_path / "g.zarr").number_of_nodes() == 8
    widget.add_tracks_layer()
    wait(qtbot, widget)
    assert viewer.layers["SAM2 tracks"].data.shape == (8, 4)
    widget.save_session()
    widget._timeline.frameClicked.emit(5)
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
    n = widget._objects.count()
    from napari.utils.key_bindings import coerce_keybinding

    viewer.keymap[coerce_keybinding("Shift-N")](viewer)
    assert widget._objects.count() == n + 1
    viewer.keymap[coerce_keybinding("Shift-X")](viewer)
    assert widget._negative.value
    flat = viewer.add_image(np.zeros((32, 32), np.uint16), name="flat")
    widget._image.value = flat
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
    assert all(widget._add.tooltip for _ in [0]) and "Shift-N" in widget._add.tooltip


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
    widget._image.value, widget._checkpoint.value, widget._image_size.value = layer, str(checkpoint), SIZE
    widget._contrast.value = "10, 5"
    widget.start_session()
    assert widget.session is None and not widget.busy  # refused with a message
    widget._contrast.value = "layer"
    widget._channel.value = "1"
    widget._precision.value = "bf16"  # a fast mode this machine is said not to support: refused, named
    widget.start_session()
    wait(qtbot, widget)
    assert widget.session is None and "precision 'bf16' needs native bfloat16" in widget._status.value
    widget._precision.value, widget._memory.value = "fp32", 2
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
    widget._image.value = viewer.add_image(image, name="dividing")
    widget._checkpoint.value, widget._image_size.value = str(checkpoint), SIZE
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
        return [c for c in widget._suggestions.choices if c is not None]

    assert len(listed()) == len(found)
    if found:  # random weights: there may be none; the list mirrors the engine either way
        widget._suggestions.value = listed()[0]
        assert viewer.dims.current_step[0] == found[0]["frame"]
        widget.dismiss_suggestion()
        assert len(listed()) == len(found) - 1


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
