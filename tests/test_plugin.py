"""The npe2 manifest and the sample data as napari sees them."""

from __future__ import annotations

import numpy as np
import pytest


def test_manifest_is_valid_and_found():
    npe2 = pytest.importorskip("npe2")
    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-sam2")
    assert manifest.display_name == "SAM 2 for microscopy"
    contributions = manifest.contributions
    assert [s.key for s in contributions.sample_data] == ["timelapse", "volume"]
    commands = {c.id: c for c in contributions.commands}
    (writer,) = contributions.writers
    assert (
        writer.command == "napari-sam2.write_labels"
        and writer.display_name == "SAM 2 labels (TIFF)"
    )
    assert [str(t) for t in writer.layer_types] == ["labels"]
    assert writer.filename_extensions == [".tif", ".tiff"]
    assert commands[writer.command].python_name == "napari_sam2.gui.writer:write_labels"
    (widget,) = contributions.widgets
    assert widget.command == "napari-sam2.widget" and widget.display_name == "SAM 2 tracking"
    assert commands["napari-sam2.widget"].python_name == "napari_sam2.gui.widget:SAM2Widget"
    assert commands["napari-sam2.widget"].title == "SAM 2 tracking"


def test_sample_functions_return_ground_truth_layers():
    from napari_sam2.gui.sample_data import sample_timelapse, sample_volume

    (image, image_kw, image_type), (labels, labels_kw, labels_type) = sample_timelapse()
    assert (image_type, labels_type) == ("image", "labels")
    assert image.shape == labels.shape == (20, 256, 256)
    parents = labels_kw["metadata"]["parents"]
    assert parents and all(p in np.unique(labels[0]) for p in parents.values())
    assert all(d in np.unique(labels[-1]) and d not in np.unique(labels[0]) for d in parents)

    (image, image_kw, _), (labels, labels_kw, _) = sample_volume()
    assert image_kw["name"] == "synthetic nuclei (Z,Y,X)" and labels_kw["visible"] is False
    assert image.shape == labels.shape and image.ndim == 3 and labels.max() > 0


def test_writer_saves_labels_as_tiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from napari_sam2.gui.writer import write_labels

    labels = np.zeros((3, 20, 30), dtype=np.int32)
    labels[0, 2:6, 3:9] = 1
    labels[2, 10:15, 5:25] = 700
    path = str(tmp_path / "labels.tif")
    assert write_labels(path, labels, {"name": "tracked"}) == [path]
    back = tifffile.imread(path)
    assert back.dtype == np.uint16 and np.array_equal(back, labels)
    # an existing file is replaced, and a single (Y, X) frame works too
    assert write_labels(path, labels[2], {}) == [path]
    assert np.array_equal(tifffile.imread(path), labels[2])


def test_synthetic_cells_ground_truth_matches_the_image():
    from napari_sam2.synthetic import synthetic_cells

    image, labels = synthetic_cells(n_frames=4, size=(80, 90), n_cells=3, seed=2)
    assert image.shape == labels.shape == (4, 80, 90) and image.dtype == np.uint16
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
    assert inside > outside + 800
    # cells move between frames
    assert not np.array_equal(labels[0], labels[-1])


def test_napari_saves_labels_layers_with_the_writer(tmp_path):
    napari = pytest.importorskip("napari")
    npe2 = pytest.importorskip("npe2")
    tifffile = pytest.importorskip("tifffile")
    npe2.PluginManager.instance().discover()

    layer = napari.layers.Labels(np.arange(24, dtype=np.uint16).reshape(2, 3, 4), name="tracked")
    written = napari.save_layers(str(tmp_path / "tracked"), [layer], plugin="napari-sam2")
    assert written == [str(tmp_path / "tracked.tif")]  # npe2 adds the writer's first extension
    assert np.array_equal(tifffile.imread(written[0]), layer.data)


def _open_sample(make_napari_viewer, key):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", key)
    return viewer, [layer.name for layer in viewer.layers]


@pytest.mark.gui
def test_sample_opens_in_napari(make_napari_viewer):
    viewer, names = _open_sample(make_napari_viewer, "timelapse")
    assert names == ["synthetic cells (T,Y,X)", "ground truth"]
    assert viewer.layers[0].data.shape == (20, 256, 256)
    assert viewer.dims.ndim == 3
    assert viewer.layers["ground truth"].metadata["parents"]


@pytest.mark.gui
def test_volume_sample_opens_in_napari(make_napari_viewer):
    viewer, names = _open_sample(make_napari_viewer, "volume")
    assert names == ["synthetic nuclei (Z,Y,X)", "ground truth"]
    image, truth = viewer.layers
    assert image.data.shape == truth.data.shape == (32, 128, 128)
    assert image.data.dtype == truth.data.dtype == np.uint16
    assert not truth.visible and set(np.unique(truth.data)) == {0, 1, 2, 3, 4}
    assert viewer.dims.ndim == 3


def test_imports_stay_light():
    """napari's plugin discovery imports the package: that must not pull in torch, and the
    model and predictors must work without napari or Qt."""
    import subprocess
    import sys

    code = (
        "import sys, napari_sam2; assert 'torch' not in sys.modules, 'torch imported';"
        "from napari_sam2 import build_sam2, build_sam2_video_predictor, SAM2ImagePredictor;"
        "bad = [m for m in ('napari', 'qtpy', 'PySide6', 'PyQt5', 'magicgui') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_reader_claims_only_ctc_folders_and_session_files(tmp_path):
    """A plain TIFF opens with napari's own reader (no chooser); a CTC folder and a session file are
    ours, and a session file opens as its clicks and boxes."""
    import npe2
    import tifffile

    from napari_sam2.io.exports import write_ctc
    from napari_sam2.io.session_files import write_session_json

    pm = npe2.PluginManager.instance()
    pm.discover()

    def ours(path) -> bool:
        return any(r.plugin_name == "napari-sam2" for r in pm.iter_compatible_readers([str(path)]))

    movie = tmp_path / "movie.tif"
    tifffile.imwrite(movie, np.zeros((3, 8, 8), np.uint16), photometric="minisblack")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert not ours(movie) and not ours(other)
    labels = np.zeros((3, 8, 8), np.uint16)
    labels[:, 2:5, 2:5] = 1
    write_ctc(tmp_path / "RES", labels)
    session = {
        "objects": {
            "1": {
                "0": [{"points": [[3.0, 4.0]], "labels": [1], "box": None}],
                "2": [{"points": None, "labels": None, "box": [1.0, 1.0, 6.0, 5.0]}],
            }
        },
        "shape": [3, 8, 8],
    }
    write_session_json(tmp_path / "s.json", session)
    assert ours(tmp_path / "RES") and ours(tmp_path / "s.json")

    from napari_sam2.gui.reader import get_reader

    assert get_reader(str(movie)) is None and get_reader(str(tmp_path)) is None
    (tmp_path / "plain.json").write_text('{"a": 1}')
    assert get_reader(str(tmp_path / "plain.json")) is None  # another JSON file: not ours
    layers = {kind: (data, meta) for data, meta, kind in get_reader(str(tmp_path / "s.json"))()}
    points, meta = layers["points"]
    assert points.tolist() == [[0, 4.0, 3.0]]  # (frame, y, x)
    assert meta["features"]["obj_id"].tolist() == [1] and meta["features"]["positive"].tolist() == [
        True
    ]
    boxes, meta = layers["shapes"]
    assert len(boxes) == 1 and boxes[0][:, 0].tolist() == [2] * 4
    assert boxes[0][:, 1:].tolist() == [[1, 1], [1, 6], [5, 6], [5, 1]]
    assert meta["features"]["obj_id"].tolist() == [1]
