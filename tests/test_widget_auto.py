"""Automatic starts in the dock widget: 'Segment all' shows a preview the user edits before
'Accept all' makes objects of it, and 'Find new cells' lists cells no tracked object covers.

The end-to-end tests use the bundled demo model on 256 px synthetic cells (the random-weight test
model of tests/test_widget.py finds nothing meaningful); the tests of the UI flow replace the engine
call with known label images and run on that small model."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.gui.panels.automatic import NEW_CELLS_ON
from napari_sam2.gui.words import CLICKS, NEW_CELLS, OUTPUT, PREVIEW
from napari_sam2.synthetic import synthetic_cells
from widget_fixtures import centre, start, wait, warnings_of

pytestmark = pytest.mark.gui


def iou(a, b) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def matched(truth: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """{true cell: label} for each cell some label matches at IoU >= 0.5."""
    found = {}
    for k in np.unique(truth)[1:]:
        cell = truth == k
        best = max(
            ((iou(cell, labels == j), int(j)) for j in np.unique(labels[cell]) if j),
            default=(0.0, 0),
        )
        if best[0] >= 0.5:
            found[int(k)] = best[1]
    return found


def listed(widget) -> list[str]:
    """The suggested new cells in the list (the empty choice aside)."""
    return [choice for choice in widget.automatic.new_cells.choices if choice is not None]


def track_three_of_six(widget, qtbot, truth) -> tuple[list[int], list[int]]:
    """One click on each of the first three cells of frame 0, tracked forward; returns the tracked
    cells and the others."""
    cells = [int(k) for k in np.unique(truth[0])[1:]]
    tracked, untracked = cells[:3], cells[3:]
    c = widget.controller
    for i, cell in enumerate(tracked):
        if i:
            c.add_object()
        y, x = centre(truth, 0, cell)
        c.add_click(0, y, x)
    c.propagate("forward")
    wait(qtbot, widget)
    return tracked, untracked


@pytest.fixture
def demo(make_napari_viewer, qtbot):
    """A session with the bundled demo model on six synthetic cells at 256 px, with generator
    settings that suit it (measured on the CLI: 5 of 6 cells found at IoU >= 0.5)."""
    from napari_sam2.gui.widget import SAM2Widget
    from napari_sam2.model.configs import DEMO

    image, truth = synthetic_cells(n_frames=4, size=(256, 256), n_cells=6, seed=1)
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="cells")
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    setup, form = widget.setup, widget.automatic.form
    setup.image.value, setup.control("model").value, setup.control("device").value = (
        layer,
        DEMO,
        "cpu",
    )
    for name, value in (
        ("points_per_side", 16),
        ("pred_iou_thresh", 0.7),
        ("stability_score_thresh", 0.9),
        ("min_area", 100),
    ):
        form[name].value = value
    start(qtbot, widget)
    return viewer, widget, truth


def test_segment_all_preview_erase_one_accept_the_rest(demo, qtbot):
    viewer, widget, truth = demo
    c, a, out = widget.controller, widget.automatic, viewer.layers[OUTPUT]
    assert a.form.container.native.isHidden()  # the generator's settings are folded away
    a.settings_toggle.setChecked(True)
    assert not a.form.container.native.isHidden()
    c.go_to_frame(1)
    a.segment_all.native.click()
    wait(qtbot, widget)
    preview = viewer.layers[PREVIEW]
    plane = preview.data[1].copy()
    assert not preview.data[[0, 2, 3]].any()  # shown on its frame only
    found = matched(truth[1], plane)
    assert len(found) >= 4, found  # 5 of 6 measured
    assert c.session.obj_ids == [] and not out.data.any()  # nothing is an object yet
    assert a.accept_all.enabled and a.discard.enabled
    assert (
        viewer.layers.selection.active is preview
        and preview.mode == "fill"
        and preview.selected_label == 0
    )
    assert f"cell(s) found on frame 1, shown in '{PREVIEW}'" in widget.status.text, (
        widget.status.text
    )

    # the user removes one cell with napari's fill tool and label 0, as a click in the viewer does
    gone_cell, gone = sorted(found.items())[0]
    y, x = np.argwhere(plane == gone)[0]
    preview.fill((1, y, x), 0)
    kept = [int(k) for k in np.unique(preview.data[1]) if k]
    assert gone not in kept and len(kept) == len(np.unique(plane)) - 2
    left = preview.data[1].copy()
    a.accept_all.native.click()
    wait(qtbot, widget)
    ids = list(range(1, len(kept) + 1))  # renumbered after the session's largest id (none)
    assert sorted(c.session.obj_ids) == ids and widget.objects.objects.ids() == ids
    assert all(set(c.session.objects[i].prompts) == {1} for i in ids)
    assert PREVIEW not in viewer.layers and not a.accept_all.enabled
    assert viewer.layers.selection.active is viewer.layers[CLICKS]
    assert np.array_equal(out.data[1], c.session.label_frame(1)) and not out.data[[0, 2, 3]].any()
    for new, old in zip(
        ids, kept
    ):  # each object shows its preview label (through the 64 px mask input)
        # a small preview loses shape in the 64 px store: demo v3 found one of 138 px here, kept at
        # IoU 0.49
        assert iou(out.data[1] == new, left == old) >= (
            0.7 if (left == old).sum() >= 300 else 0.4
        ), (new, old)
    # the erased cell did not become an object
    assert iou(out.data[1] > 0, truth[1] == gone_cell) < 0.1
    assert (
        f"{len(ids)} object(s) added from the automatic segmentation on frame 1"
        in widget.status.text
    )


def test_segment_all_leaves_out_cells_that_objects_hold(demo, qtbot):
    """Segment all on a frame with tracked objects previews only the other cells, so Accept all
    makes no duplicate objects (it used to preview every cell again)."""
    viewer, widget, truth = demo
    tracked, untracked = track_three_of_six(widget, qtbot, truth)
    widget.controller.go_to_frame(2)
    widget.automatic.segment_all.native.click()
    wait(qtbot, widget)
    plane = viewer.layers[PREVIEW].data[2]
    assert not matched(np.where(np.isin(truth[2], tracked), truth[2], 0), plane)
    assert len(matched(np.where(np.isin(truth[2], untracked), truth[2], 0), plane)) >= 2
    assert "that tracked objects hold already left out" in widget.status.text, widget.status.text


def test_new_cells_after_tracking_three_of_six(demo, qtbot):
    viewer, widget, truth = demo
    c, a, session = widget.controller, widget.automatic, widget.controller.session
    tracked, untracked = track_three_of_six(widget, qtbot, truth)
    assert sorted(session.obj_ids) == [1, 2, 3]
    c.go_to_frame(2)
    assert a.new_on.value == NEW_CELLS_ON[0]
    a.find_new.native.click()
    wait(qtbot, widget)
    found = list(c.auto.found.values())
    assert found and {d["frame"] for d in found} == {2}
    shown = np.zeros(truth.shape[1:], np.uint32)
    for d in found:
        shown[d["mask"]] = d["label"]
    assert len(matched(np.where(np.isin(truth[2], untracked), truth[2], 0), shown)) >= 2
    assert not matched(np.where(np.isin(truth[2], tracked), truth[2], 0), shown)
    outline = viewer.layers[NEW_CELLS]
    assert (
        np.array_equal(outline.data[2], shown)
        and not outline.data[[0, 1, 3]].any()
        and outline.contour > 0
    )
    strip = widget.tracking.strip
    assert strip.new_cells == {2} and "new cell is suggested" in strip.tooltip(2)
    assert listed(widget) == list(c.auto.found) and a.new_cells.value is None

    choice = listed(widget)[0]
    c.go_to_frame(0)
    a.new_cells.value = choice
    assert c.current_frame() == 2 and outline.selected_label == c.auto.found[choice]["label"]
    mask = c.auto.found[choice]["mask"]
    a.accept_new.native.click()
    wait(qtbot, widget)
    assert sorted(session.obj_ids) == [1, 2, 3, 4] and set(session.objects[4].prompts) == {2}
    assert c.selected == 4 and iou(viewer.layers[OUTPUT].data[2] == 4, mask) >= 0.7
    assert choice not in listed(widget) and len(c.auto.found) == len(found) - 1
    assert "new object 4 from the suggestion on frame 2" in widget.status.text, widget.status.text


# ---------------------------------------------------------- the UI flow, with known engine results


def test_discard_refusals_and_ids_after_the_sessions(ready, qtbot, monkeypatch, answers):
    from qtpy.QtWidgets import QMessageBox

    import napari_sam2.engine.auto as auto

    viewer, widget, truth = ready
    c, a, out = widget.controller, widget.automatic, viewer.layers[OUTPUT]
    seen = []

    def fake(model, image, settings, contrast_limits=None, channel=None):
        seen.append((image.shape, settings.points_per_side, settings.max_area))
        return (truth[3] * 7).astype(np.uint32)  # labels 7 and 14

    monkeypatch.setattr(auto, "segment_all", fake)
    a.form["min_area"].value = 50
    a.form["max_area"].value = 10  # below the min area: refused at once, naming the control
    assert (
        "max area (px) must be at least" in widget.status.text
        and "area range" in widget.status.text
    )
    assert a.form["max_area"].value == 0 and c.settings.auto.max_area is None  # 0: no upper bound
    c.go_to_frame(3)
    a.segment_all.native.click()
    wait(qtbot, widget)
    assert seen == [((64, 72), 32, None)]
    assert set(np.unique(viewer.layers[PREVIEW].data[3])) == {0, 7, 14}
    a.discard.native.click()
    assert PREVIEW not in viewer.layers and c.session.obj_ids == [] and not a.discard.enabled
    c.accept_all()
    assert "press Segment all first" in widget.status.text

    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)  # object 1 exists: the accepted ones come after it
    c.segment_all()
    wait(qtbot, widget)
    preview = viewer.layers[PREVIEW]
    preview.data[3][...] = 0
    c.accept_all()
    assert "every label was removed" in widget.status.text and PREVIEW in viewer.layers
    preview.data[3] = (truth[3] * 7).astype(np.uint32)
    c.accept_all()
    wait(qtbot, widget)
    assert sorted(c.session.obj_ids) == [1, 2, 3] and widget.objects.objects.ids() == [1, 2, 3]
    assert set(np.unique(out.data[3])) == {0, 2, 3} and 1 in np.unique(out.data[0])

    c.segment_all()  # frame 3's two cells are objects 2 and 3 now: nothing new to preview
    wait(qtbot, widget)
    assert PREVIEW not in viewer.layers
    assert (
        "found only the 2 cell(s) that tracked objects hold already on frame 3"
        in widget.status.text
    )
    c.go_to_frame(5)
    c.segment_all()  # a new session starts without the old session's preview
    wait(qtbot, widget)
    assert PREVIEW in viewer.layers
    answers[1][0] = QMessageBox.Yes  # discard the work
    c.start_session()
    wait(qtbot, widget)
    assert PREVIEW not in viewer.layers and not a.accept_all.enabled

    c.segment_all()  # a preview left open when the session closes cannot be accepted any more
    wait(qtbot, widget)
    c.close_session(ask=False)
    c.accept_all()
    assert (
        PREVIEW not in viewer.layers
        and not a.accept_all.enabled
        and "No session" in widget.status.text
    )


def test_new_cells_every_k_frames_listed_marked_dismissed_accepted(ready, qtbot, monkeypatch):
    import napari_sam2.engine.auto as auto

    viewer, widget, truth = ready
    c, a, strip = widget.controller, widget.automatic, widget.tracking.strip
    asked = []

    def fake(session, frames, settings, max_covered=0.2):
        asked.append(list(frames))
        return [
            {"frame": f, "mask": truth[f] == k, "area": int((truth[f] == k).sum()), "score": 0.9}
            for f, k in ((0, 2), (6, 1))
        ]

    monkeypatch.setattr(auto, "new_cell_suggestions", fake)
    assert not a.new_every.enabled
    a.new_on.value = NEW_CELLS_ON[1]
    assert a.new_every.enabled and a.new_every.value == 10
    a.new_every.value = 3
    a.find_new.native.click()
    wait(qtbot, widget)
    assert asked == [[0, 3, 6]]
    assert len(listed(widget)) == 2 and strip.new_cells == {0, 6}
    assert "2 possible new cell(s) on 3 frames" in widget.status.text, widget.status.text
    outline = viewer.layers[NEW_CELLS]
    assert set(np.unique(outline.data[0])) == {0, 1} and set(np.unique(outline.data[6])) == {0, 2}

    first, second = listed(widget)
    assert first.startswith("frame 0: new cell 1") and second.startswith("frame 6: new cell 2")
    a.new_cells.value = second
    assert c.current_frame() == 6
    a.dismiss_new.native.click()
    assert listed(widget) == [first] and strip.new_cells == {0} and not outline.data[6].any()

    c.add_click(0, *centre(truth, 0, 1))  # object 1; the new cell gets the next id
    a.new_cells.value = first
    a.accept_new.native.click()
    wait(qtbot, widget)
    assert sorted(c.session.obj_ids) == [1, 2] and set(c.session.objects[2].prompts) == {0}
    assert listed(widget) == [] and strip.new_cells == set() and not outline.data.any()
    assert 2 in np.unique(viewer.layers[OUTPUT].data[0])


def test_segment_all_settings_suit_the_model_and_its_advice_speaks_widget(
    make_napari_viewer, qtbot
):
    """The automatic segmentation starts from what suits the model (the demo's 16 points, IoU 0.5,
    stability 0.8; the official 32, 0.8, 0.95), also when 'auto' turns out to be the demo, unless
    the user changed them. Asked for the official filters on the demo, Segment all shows the
    generator's advice in the widget's words: its controls, not command-line flags."""
    from napari_sam2.gui.widget import SAM2Widget

    image, _ = synthetic_cells(n_frames=2, size=(128, 128), n_cells=3, seed=1)
    viewer = make_napari_viewer()
    widget = SAM2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    shown = warnings_of(widget)
    setup, form = widget.setup, widget.automatic.form

    def values():
        return tuple(
            form[n].value for n in ("points_per_side", "pred_iou_thresh", "stability_score_thresh")
        )

    assert values() == (32, 0.8, 0.95)
    setup.control("model").value = "napari_sam2_demo"
    assert values() == (16, 0.5, 0.8)
    setup.control("model").value = "sam2.1_hiera_small"
    assert values() == (32, 0.8, 0.95)
    setup.control("model").value = "auto"  # no official weights here: the session runs the demo
    setup.image.value = viewer.add_image(image)
    setup.control("device").value = "cpu"
    start(qtbot, widget)
    assert widget.controller.session.model.cfg.name == "napari_sam2_demo"
    assert values() == (16, 0.5, 0.8)
    form["points_per_side"].value = 8
    form["pred_iou_thresh"].value, form["stability_score_thresh"].value = 0.8, 0.95
    widget.automatic.segment_all.native.click()
    wait(qtbot, widget)
    advice = [t for t in shown if "IoU head" in t]
    assert advice and "'IoU threshold' 0.5, 'stability threshold' 0.8" in advice[0], shown
    assert not any("--" in t or "CLI" in t for t in shown), shown
