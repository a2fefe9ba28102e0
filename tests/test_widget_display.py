"""What the widget shows must be right: 4D placement of labels and prompts, one right click = one
negative click, clicks coloured from their flag, one high-contrast palette shared by labels, tracks
and the list."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from napari_sam2.gui.palette import object_color, rgb_to_lab
from napari_sam2.synthetic import synthetic_cells
from widget_fixtures import centre, docked_widget, start, wait

pytestmark = pytest.mark.gui


def _open(make_napari_viewer, qtbot, checkpoint, image, axis, step):
    viewer = make_napari_viewer()
    widget = docked_widget(viewer, viewer.add_image(image, name="cells"), checkpoint, axis)
    for dim, idx in step.items():
        viewer.dims.set_current_step(dim, idx)
    start(qtbot, widget)
    return viewer, widget


@pytest.fixture
def movie4d():
    image, truth = synthetic_cells(n_frames=3, size=(48, 56), n_cells=2, seed=6, radius=(6.0, 9.0))
    return np.repeat(image[:, None], 5, axis=1), truth  # (T, Z, Y, X): every slice alike


def _written(data):
    """The (t, z) planes of a (T, Z, Y, X) stack that hold any label."""
    return {
        (int(t), int(z)) for t, z in zip(*np.nonzero(data.reshape(*data.shape[:2], -1).any(-1)))
    }


def test_4d_time_axis_writes_at_the_fixed_slice(
    make_napari_viewer, qtbot, checkpoint, movie4d, tmp_path
):
    image, truth = movie4d
    viewer, widget = _open(make_napari_viewer, qtbot, checkpoint, image, "t", {1: 3})
    c = widget.controller
    out, clicks = viewer.layers["SAM2 labels"], viewer.layers["SAM2 clicks"]
    assert (
        out.data.shape == image.shape and clicks.ndim == 4 and viewer.layers["SAM2 boxes"].ndim == 4
    )
    y, x = centre(truth, 1, 1)
    c.add_click(1, y, x)
    wait(qtbot, widget)
    assert "updated" in widget.status.text
    assert _written(out.data) == {(1, 3)}  # t=1 at the fixed z=3, nowhere else
    assert np.array_equal(out.data[1, 3], c.session.label_frame(1))
    assert clicks.data[0].tolist()[:2] == [1, 3]
    # a click placed in the viewer at t=2, z=3 (all four coordinates) is read back as frame 2
    clicks.add([2, 3, *centre(truth, 2, 1)])
    wait(qtbot, widget)
    assert _written(out.data) == {(1, 3), (2, 3)} and 2 in c.session.objects[1].prompts
    c.export_tiff(tmp_path / "l.tif")
    wait(qtbot, widget)
    saved = tifffile.imread(tmp_path / "l.tif")
    # the tracked 3D stack
    assert saved.shape == (3, 48, 56) and np.array_equal(saved, out.data[:, 3])
    c.add_tracks_layer()
    wait(qtbot, widget)
    tracks = viewer.layers["SAM2 tracks"].data
    assert tracks.shape[1] == 5 and set(tracks[:, 2]) == {3.0} and set(tracks[:, 1]) == {1.0, 2.0}


def test_4d_z_axis_writes_at_the_fixed_time(make_napari_viewer, qtbot, checkpoint, movie4d):
    image, truth = movie4d
    viewer, widget = _open(make_napari_viewer, qtbot, checkpoint, image, "z", {0: 1})
    c = widget.controller
    out = viewer.layers["SAM2 labels"]
    assert out.data.shape == image.shape and c.session.num_frames == 5
    y, x = centre(truth, 1, 1)
    c.add_click(2, y, x)  # slice z=2 of time point 1
    wait(qtbot, widget)
    assert _written(out.data) == {(1, 2)}
    assert not out.data[0].any()  # nothing shows at t=0
    boxes = viewer.layers["SAM2 boxes"]
    ys, xs = np.nonzero(truth[1] == 2)
    c.add_object()
    c.add_box(4, ys.min(), xs.min(), ys.max(), xs.max())
    wait(qtbot, widget)
    assert boxes.data[0][:, :2].tolist() == [[1, 4]] * 4 and 4 in c.session.objects[2].prompts
    assert _written(out.data) == {(1, 2), (1, 4)}


def _mouse(layer, button, position, kind):
    from napari.utils._proxies import ReadOnlyWrapper

    event = SimpleNamespace(
        type=kind,
        button=button,
        position=position,
        pos=np.array([10.0, 10.0]),
        modifiers=[],
        handled=False,
        view_direction=None,
        dims_displayed=[1, 2],
    )
    return ReadOnlyWrapper(event, exceptions=("handled",))


def _right_click(layer, position):
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    mouse_press_callbacks(layer, _mouse(layer, 2, position, "mouse_press"))
    mouse_release_callbacks(layer, _mouse(layer, 2, position, "mouse_release"))


def test_one_right_click_is_one_negative_click(ready, qtbot):
    viewer, widget, truth = ready
    c, clicks = widget.controller, viewer.layers["SAM2 clicks"]
    assert clicks.mode == "add"
    y, x = centre(truth, 0, 1)
    c.add_click(0, y, x)
    wait(qtbot, widget)
    # through napari's own mouse callbacks, its add mode included
    _right_click(clicks, (0, 3.0, 3.0))
    qtbot.wait(50)
    wait(qtbot, widget)
    assert len(clicks.data) == 2 and clicks.features["positive"].tolist() == [True, False]
    assert clicks.features["obj_id"].tolist() == [1, 1]
    assert [lab for step in c.session.objects[1].prompts[0] for lab in step["labels"]] == [1, 0]
    # left: positive
    assert not widget.objects.negative.value and clicks.feature_defaults["positive"].iloc[0]


def test_clicks_keep_the_colour_of_their_sign(ready, qtbot):
    viewer, widget, truth = ready
    c, clicks = widget.controller, viewer.layers["SAM2 clicks"]
    c.add_click(0, *centre(truth, 0, 1))
    c.add_click(0, 3.0, 3.0, positive=False)
    wait(qtbot, widget)

    def faces():
        return [tuple(np.round(c, 2)) for c in np.asarray(clicks.face_color)]

    green, red = (0.2, 0.9, 0.2, 1.0), (0.95, 0.2, 0.2, 1.0)
    assert faces() == [green, red]
    clicks.selected_data = {1}  # the negative click selected, as napari leaves a new point
    widget.objects.add.native.click()  # selecting another object
    assert faces() == [green, red]
    widget.objects.negative.value = True
    clicks.selected_data = {0}
    widget.objects.negative.value = False  # unticking "negative clicks"
    widget.objects.objects.setCurrentRow(0)  # object 1 chosen in the list
    assert faces() == [green, red]
    border = np.asarray(clicks.border_color)
    # borders: the object's colour, not the selected one's
    assert np.allclose(border, [object_color(1)] * 2)


def _delta_e(a, b):
    return float(np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b)))


def _saturation(rgba):
    rgb = np.asarray(rgba)[:3]
    return (rgb.max() - rgb.min()) / max(rgb.max(), 1e-9)


def test_palette_is_high_contrast_and_daughters_look_like_their_mother():
    colors = [object_color(i) for i in range(1, 21)]
    # CIE-Lab distance (Delta E 1976): ~2.3 is just noticeable, ~10 is "different at a glance"; 25
    # keeps neighbouring labels apart even at 50 % opacity over a grey image
    worst = min(_delta_e(a, b) for i, a in enumerate(colors) for b in colors[i + 1 :])
    assert worst > 25, worst
    assert min(_saturation(c) for c in colors) >= 0.5  # no grey, which vanishes on grey images
    assert min(max(c[:3]) for c in colors) >= 0.6  # no near-black
    parents = {21: 3, 22: 3, 23: 4, 24: 4, 25: 21, 26: 21}
    for daughter, mother in list(parents.items())[:4]:  # daughters of root colours
        own = _delta_e(object_color(daughter, parents), object_color(mother, parents))
        others = [
            _delta_e(object_color(daughter, parents), object_color(i))
            for i in range(1, 21)
            if i != mother and i not in parents.values()
        ]
        assert 3 < own < min(others), (daughter, own, min(others))  # a shade, yet not identical
        assert _saturation(object_color(daughter, parents)) >= 0.4
    for a, b in ((21, 22), (23, 24), (25, 26)):
        # sisters told apart
        assert _delta_e(object_color(a, parents), object_color(b, parents)) > 10
    # a granddaughter: a shade
    assert 3 < _delta_e(object_color(25, parents), object_color(21, parents)) < 30


def test_labels_list_and_tracks_share_the_palette(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    for obj in (1, 2):
        if obj == 2:
            c.add_object()
        c.add_click(0, *centre(truth, 0, obj), obj=obj)
    c.propagate("forward")
    wait(qtbot, widget)
    c.add_tracks_layer()
    wait(qtbot, widget)
    out, tracks = viewer.layers["SAM2 labels"], viewer.layers["SAM2 tracks"]
    for obj in (1, 2):
        expected = np.asarray(object_color(obj))
        assert np.allclose(out.get_color(obj), expected, atol=1e-3)
        icon = widget.objects.objects.entry(obj).icon().pixmap(12, 12).toImage().pixelColor(5, 5)
        # 8-bit icon
        assert np.allclose([icon.redF(), icon.greenF(), icon.blueF()], expected[:3], atol=0.03)
        rows = tracks.data[:, 0] == obj
        assert rows.any() and np.allclose(tracks.track_colors[rows], expected, atol=1e-3)
    assert len({tuple(np.round(c, 3)) for c in tracks.track_colors}) >= 2  # not one colour for all


def test_daughters_are_shades_of_their_mother_also_after_loading(ready, qtbot, tmp_path, answers):
    viewer, widget, truth = ready
    c = widget.controller
    c.add_click(0, *centre(truth, 0, 1))
    c.propagate("forward")
    wait(qtbot, widget)
    c.go_to_frame(4)
    c.divide_here()
    wait(qtbot, widget)
    out, lineage = viewer.layers["SAM2 labels"], {2: 1, 3: 1}
    mother = object_color(1)
    for d in (2, 3):
        shade = object_color(d, lineage)
        assert np.allclose(out.get_color(d), shade, atol=1e-3) and np.allclose(c.color(d), shade)
        # related (roots are >25 apart)
        assert 3 < _delta_e(shade, mother) < 20 and _saturation(shade) >= 0.4
    c.save_session(tmp_path / "s.json")
    c.set_parents({})  # as in a fresh widget
    from qtpy.QtWidgets import QMessageBox

    answers[1][0] = QMessageBox.Yes  # replace the session on screen
    c.load_session(tmp_path / "s.json")
    wait(qtbot, widget)
    assert c.parents == lineage
    assert np.allclose(out.get_color(3), object_color(3, lineage), atol=1e-3)


def test_a_click_or_box_for_an_object_not_listed_yet_lists_it(ready, qtbot):
    viewer, widget, truth = ready
    c = widget.controller
    c.add_click(0, *centre(truth, 0, 1), obj=5)
    y, x = centre(truth, 0, 2)
    c.add_box(0, y - 8, x - 8, y + 8, x + 8, obj=6)
    wait(qtbot, widget)
    assert {5, 6} <= set(c.object_ids) and c.new_id() == 7
    assert (
        widget.objects.objects.entry(5) is not None and widget.objects.objects.entry(6) is not None
    )
    assert {5, 6} <= set(c.session.obj_ids)
