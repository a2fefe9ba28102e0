"""CTC ground-truth folders, GEFF lineage graphs and the CTC folder reader (npe2)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from napari_sam2.io.atomic import MARKER
from napari_sam2.io.exports import read_ctc, write_ctc
from napari_sam2.io.lineage_io import (
    lineage_graph,
    read_ctc_ground_truth,
    read_geff,
    write_ctc_ground_truth,
    write_geff,
)
from napari_sam2.synthetic import synthetic_dividing_cells


@pytest.fixture(scope="module")
def movie():
    """(labels (12, 128, 128) uint16, parents {4: 1, 5: 1}): cell 1 divides into 4 and 5 at frame 6."""
    _, labels, parents = synthetic_dividing_cells(
        n_frames=12, size=(128, 128), n_cells=3, seed=3, divide=((1, 6),)
    )
    assert parents == {4: 1, 5: 1}
    return labels, parents


def _track_lines(path) -> dict[int, tuple[int, int, int]]:
    rows = [
        tuple(int(v) for v in line.split())
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return {row[0]: row[1:] for row in rows}


def test_ground_truth_layout_and_track_file(tmp_path, movie):
    labels, parents = movie
    gt = write_ctc_ground_truth(tmp_path / "01_GT", labels, parents)
    tra = gt / "TRA"
    assert sorted(p.name for p in gt.iterdir()) == [MARKER, "TRA"]  # the marker: ours to replace
    assert sorted(p.name for p in tra.glob("*.tif")) == [f"man_track{t:03d}.tif" for t in range(12)]
    assert not list(tra.glob("mask*")) and not (tra / "res_track.txt").exists()
    tracks = _track_lines(tra / "man_track.txt")
    assert tracks == {1: (0, 5, 0), 2: (0, 11, 0), 3: (0, 11, 0), 4: (6, 11, 1), 5: (6, 11, 1)}
    frame7 = tifffile.imread(tra / "man_track007.tif")
    assert frame7.dtype == np.uint16 and np.array_equal(frame7, labels[7])
    back, back_parents = read_ctc_ground_truth(gt)
    assert np.array_equal(back, labels) and back_parents == parents
    # the TRA folder itself reads the same
    assert read_ctc_ground_truth(tra)[1] == parents


def test_ground_truth_splits_gaps_like_write_ctc(tmp_path):
    labels = np.zeros((5, 16, 16), dtype=np.uint16)
    labels[[0, 1, 3, 4], 2:6, 2:6] = 7  # vanishes in frame 2
    write_ctc_ground_truth(tmp_path / "gt", labels)
    assert _track_lines(tmp_path / "gt" / "TRA" / "man_track.txt") == {7: (0, 1, 0), 8: (3, 4, 7)}


def test_ground_truth_refuses_to_overwrite_and_names_bad_input(tmp_path, movie):
    labels, parents = movie
    write_ctc_ground_truth(tmp_path / "gt", labels[:3], parents)
    with pytest.raises(FileExistsError, match="gt"):
        write_ctc_ground_truth(tmp_path / "gt", labels, parents)
    write_ctc_ground_truth(tmp_path / "gt", labels, parents, overwrite=True)
    assert len(list((tmp_path / "gt" / "TRA").glob("man_track*.tif"))) == 12
    with pytest.raises(ValueError, match="labels"):
        write_ctc_ground_truth(tmp_path / "bad", labels.astype(float))
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="man_track.txt"):
        read_ctc_ground_truth(tmp_path)


def test_geff_round_trip_has_every_object_frame_and_the_division(tmp_path, movie):
    import geff

    labels, parents = movie
    path = write_geff(tmp_path / "lineage.geff", labels, parents)
    geff.validate_structure(str(path))  # raises if the store breaks the GEFF specification
    graph = read_geff(path)
    pairs = {(int(oid), t) for t in range(len(labels)) for oid in np.unique(labels[t]) if oid}
    assert graph.number_of_nodes() == len(pairs) == 42
    node_of = {(d["label"], d["t"]): n for n, d in graph.nodes(data=True)}
    assert set(node_of) == pairs
    # attributes: centroid and area of object 2 in frame 3
    yy, xx = np.nonzero(labels[3] == 2)
    attrs = graph.nodes[node_of[(2, 3)]]
    assert attrs["area"] == len(yy)
    assert attrs["y"] == pytest.approx(yy.mean()) and attrs["x"] == pytest.approx(xx.mean())
    # division: parent's last node -> both daughters' first nodes
    assert graph.has_edge(node_of[(1, 5)], node_of[(4, 6)])
    assert graph.has_edge(node_of[(1, 5)], node_of[(5, 6)])
    assert graph.out_degree(node_of[(1, 5)]) == 2
    # time links within objects, nothing else: 5 + 11 + 11 + 5 + 5 + 2 division edges
    assert graph.has_edge(node_of[(2, 0)], node_of[(2, 1)]) and not graph.has_edge(
        node_of[(1, 5)], node_of[(2, 6)]
    )
    assert graph.number_of_edges() == 39
    assert all(graph.nodes[v]["t"] > graph.nodes[u]["t"] for u, v in graph.edges)


def test_geff_links_across_gaps_and_refuses_to_overwrite(tmp_path):
    labels = np.zeros((4, 10, 10), dtype=np.uint8)
    labels[[0, 3], 1:4, 1:4] = 2
    graph = lineage_graph(labels)
    assert graph.number_of_nodes() == 2 and list(graph.edges) == [(0, 1)]
    write_geff(tmp_path / "g.zarr", labels)
    with pytest.raises(FileExistsError):
        write_geff(tmp_path / "g.zarr", labels)
    write_geff(tmp_path / "g.zarr", labels[:1], overwrite=True)
    assert read_geff(tmp_path / "g.zarr").number_of_nodes() == 1
    with pytest.raises(ValueError, match="nowhere"):
        read_geff(tmp_path / "nowhere.geff")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(ValueError, match="empty.zarr"):
        read_geff(tmp_path / "empty.zarr")


def test_reader_says_no_cheaply(tmp_path, movie):
    from napari_sam2.gui.reader import get_reader

    tif = tmp_path / "stack.tif"
    tifffile.imwrite(tif, movie[0][:2])
    assert get_reader(str(tif)) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    tifffile.imwrite(plain / "mask000.tif", movie[0][0])  # masks but no track file
    assert get_reader(str(plain)) is None
    assert get_reader(str(tmp_path / "missing")) is None
    assert get_reader([str(plain)]) is None


@pytest.mark.parametrize("layout", ["result", "ground_truth", "tra"])
def test_reader_gives_labels_and_lineage(tmp_path, movie, layout):
    from napari_sam2.gui.reader import get_reader

    labels, parents = movie
    if layout == "result":
        folder = write_ctc(tmp_path / "01_RES", labels, parents)
    else:
        folder = write_ctc_ground_truth(tmp_path / "01_GT", labels, parents)
        folder = folder / "TRA" if layout == "tra" else folder
    reader = get_reader(str(folder))
    assert callable(reader)
    (lab, lab_kw, lab_type), (data, trk_kw, trk_type) = reader(str(folder))
    assert (lab_type, trk_type) == ("labels", "tracks")
    assert lab_kw["name"] == f"{folder.name} labels" and trk_kw["name"] == f"{folder.name} lineage"
    if layout == "result":
        expected, expected_parents = read_ctc(folder)
        assert np.array_equal(lab, expected) and expected_parents == parents
    assert np.array_equal(lab, labels)
    assert trk_kw["graph"] == {4: [1], 5: [1]}
    assert data.shape == (42, 4)
    assert set(np.unique(data[:, 0]).astype(int)) == {1, 2, 3, 4, 5}
    assert data[data[:, 0] == 1][:, 1].max() == 5 and data[data[:, 0] == 4][:, 1].min() == 6


def test_new_modules_do_not_import_napari():
    code = (
        "import sys; import napari_sam2.gui.reader, napari_sam2.io.lineage_io, napari_sam2.io.evaluate;"
        "bad = [m for m in ('napari', 'qtpy', 'PySide6', 'PyQt5', 'magicgui') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.gui
def test_viewer_opens_a_ctc_folder(make_napari_viewer, tmp_path, movie):
    import napari

    labels, parents = movie
    folder = write_ctc(tmp_path / "01_RES", labels, parents)
    viewer = make_napari_viewer()
    layers = viewer.open(str(folder), plugin="napari-sam2")
    assert [type(layer) for layer in layers] == [napari.layers.Labels, napari.layers.Tracks]
    assert [layer.name for layer in viewer.layers] == ["01_RES labels", "01_RES lineage"]
    assert np.array_equal(viewer.layers["01_RES labels"].data, labels)
    assert viewer.layers["01_RES lineage"].graph == {4: [1], 5: [1]}
