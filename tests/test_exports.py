"""Exports of tracked label time-lapses: TIFF, zarr, tables/CSV, napari tracks, CTC and session JSON."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tifffile
import zarr

from napari_sam2.io.atomic import MARKER
from napari_sam2.io import exports
from napari_sam2.io.exports import (
    TABLE_COLUMNS,
    object_table,
    read_ctc,
    read_session_json,
    tracks_data,
    write_ctc,
    write_labels_tiff,
    write_labels_zarr,
    write_session_json,
    write_table_csv,
)

T, H, W = 5, 40, 50
PARENTS = {3: 1}


def make_labels() -> np.ndarray:
    """Object 1: a 10x10 square moving right in every frame. Object 2: a disc that is missing in
    frame 2 and comes back. Object 3: a 10x10 square in frames 2-4, child of object 1."""
    labels = np.zeros((T, H, W), dtype=np.int32)
    yy, xx = np.mgrid[:H, :W]
    for t in range(T):
        labels[t, 5:15, 5 + 2 * t : 15 + 2 * t] = 1
        if t != 2:
            labels[t][(yy - 28) ** 2 + (xx - (10 + 3 * t)) ** 2 <= 16] = 2
        if t >= 2:
            labels[t, 25:35, 35:45] = 3
    return labels


RECORDS = [
    {"object_id": 1, "frame": 0, "object_score": 5.0, "predicted_iou": 0.9, "lost": False},
    {
        "object_id": 2,
        "frame": 2,
        "object_score": -3.0,
        "predicted_iou": 0.1,
        "lost": True,
    },  # no pixels in frame 2
    {
        "object_id": 3,
        "frame": 4,
        "object_score": np.float32(2.5),
        "predicted_iou": np.float32(0.75),
        "lost": np.bool_(False),
    },
]


def expected_props(labels):
    """Independent per-(object, frame) area, centroid (y, x) and half-open bbox from plain numpy."""
    out = {}
    for t in range(labels.shape[0]):
        for oid in range(1, int(labels.max()) + 1):
            ys, xs = np.nonzero(labels[t] == oid)
            if len(ys):
                out[(oid, t)] = (
                    len(ys),
                    ys.mean(),
                    xs.mean(),
                    (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1),
                )
    return out


def leftovers(folder):
    """Hidden temporary files/folders that a writer left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- TIFF / zarr
def test_tiff_round_trip_imagej(tmp_path):
    labels = make_labels()
    path = write_labels_tiff(tmp_path / "labels.tif", labels)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.series[0].axes == "TYX"
        assert tif.imagej_metadata["frames"] == T
        data = tif.asarray()
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data, labels)
    assert leftovers(tmp_path) == []


def test_tiff_2d_and_uint32(tmp_path):
    frame = make_labels()[0]
    with tifffile.TiffFile(write_labels_tiff(tmp_path / "one.tif", frame)) as tif:
        assert tif.is_imagej and tif.series[0].axes == "YX"
        np.testing.assert_array_equal(tif.asarray(), frame)
    big = make_labels().astype(np.int64)
    big[big == 2] = 70000
    with tifffile.TiffFile(write_labels_tiff(tmp_path / "big.tif", big)) as tif:
        assert not tif.is_imagej
        data = tif.asarray()
    assert data.dtype == np.uint32
    np.testing.assert_array_equal(data, big)


def test_zarr_round_trip_and_chunks(tmp_path):
    labels = make_labels()
    path = write_labels_zarr(tmp_path / "labels.zarr", labels)
    z = zarr.open_array(str(path), mode="r")
    assert z.shape == (T, H, W) and z.chunks == (1, H, W)
    assert z.dtype == np.uint16
    assert dict(z.attrs) == {"axes": "TYX"}
    np.testing.assert_array_equal(z[...], labels)

    path2 = write_labels_zarr(tmp_path / "custom.zarr", labels, chunks=(2, 20, 25))
    assert zarr.open_array(str(path2), mode="r").chunks == (2, 20, 25)
    with pytest.raises(ValueError, match="chunks"):
        write_labels_zarr(tmp_path / "bad.zarr", labels, chunks=(1, 40))
    with pytest.raises(ValueError, match="path"):
        write_labels_zarr(tmp_path / "labels.npy", labels)
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "bad.zarr").exists()


# ----------------------------------------------------------------------------- table / CSV / tracks
def test_object_table_values(tmp_path):
    labels = make_labels()
    rows = object_table(labels, RECORDS, PARENTS)
    expected = expected_props(labels)
    keys = [(r["object_id"], r["frame"]) for r in rows]
    assert keys == sorted(set(expected) | {(2, 2)})  # (2, 2) has a record but no pixels
    assert all(list(r) == list(TABLE_COLUMNS) for r in rows)
    for r in rows:
        key = (r["object_id"], r["frame"])
        if key == (2, 2):
            assert r["area"] is None and r["centroid_y"] is None and r["bbox_y0"] is None
            assert (
                r["object_score"] == -3.0
                and r["predicted_iou"] == pytest.approx(0.1)
                and r["lost"] is True
            )
            continue
        area, cy, cx, bbox = expected[key]
        assert r["area"] == area
        assert r["centroid_y"] == pytest.approx(cy) and r["centroid_x"] == pytest.approx(cx)
        assert (r["bbox_y0"], r["bbox_x0"], r["bbox_y1"], r["bbox_x1"]) == bbox
        assert r["parent_id"] == (1 if key[0] == 3 else None)
    by_key = dict(zip(keys, rows))
    # hand-computed values for the moving square
    assert by_key[(1, 3)]["area"] == 100
    assert (by_key[(1, 3)]["centroid_y"], by_key[(1, 3)]["centroid_x"]) == (9.5, 15.5)
    assert [by_key[(1, 3)][c] for c in ("bbox_y0", "bbox_x0", "bbox_y1", "bbox_x1")] == [
        5,
        11,
        15,
        21,
    ]
    assert by_key[(1, 0)]["object_score"] == 5.0 and by_key[(1, 0)]["lost"] is False
    assert (
        by_key[(3, 4)]["predicted_iou"] == 0.75 and type(by_key[(3, 4)]["predicted_iou"]) is float
    )
    assert by_key[(1, 1)]["object_score"] is None and by_key[(1, 1)]["lost"] is None
    # spacing scales centroids and area, not the pixel bbox
    scaled = {(r["object_id"], r["frame"]): r for r in object_table(labels, spacing=(0.5, 2.0))}
    assert scaled[(1, 3)]["area"] == 100.0 and scaled[(1, 3)]["centroid_x"] == 31.0
    assert scaled[(1, 3)]["centroid_y"] == 4.75 and scaled[(1, 3)]["bbox_x1"] == 21
    # a single (Y, X) frame is frame 0
    assert [(r["object_id"], r["frame"]) for r in object_table(labels[0])] == [(1, 0), (2, 0)]


def test_object_table_flags_an_object_with_a_record_but_no_pixels_as_lost():
    """Object 2 is absent from frame 2 (e.g. wholly hidden under another object) although the model
    called it present there: the table must not show a tracked object as present with no area."""
    records = [
        {"object_id": 2, "frame": 2, "object_score": 4.0, "predicted_iou": 0.8, "lost": False},
        {"object_id": 2, "frame": 1, "object_score": 4.0, "predicted_iou": 0.8, "lost": False},
        {"object_id": 1, "frame": 1, "object_score": -2.0, "predicted_iou": 0.2, "lost": True},
    ]
    by_key = {(r["object_id"], r["frame"]): r for r in object_table(make_labels(), records)}
    assert by_key[(2, 2)]["area"] is None and by_key[(2, 2)]["lost"] is True
    assert by_key[(2, 1)]["area"] == 49 and by_key[(2, 1)]["lost"] is False
    assert (
        by_key[(1, 1)]["area"] == 100 and by_key[(1, 1)]["lost"] is True
    )  # the model's flag is kept
    assert by_key[(1, 0)]["lost"] is None  # no record: unknown


def test_object_table_bad_records_and_spacing(tmp_path):
    with pytest.raises(ValueError, match="records"):
        object_table(make_labels(), [{"frame": 0}])
    with pytest.raises(ValueError, match="spacing"):
        object_table(make_labels(), spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match="parents"):
        object_table(make_labels(), parents=[(3, 1)])
    with pytest.raises(ValueError, match="parents"):
        write_ctc(tmp_path / "res", make_labels(), parents={3: 3})


def test_csv(tmp_path):
    rows = object_table(make_labels(), RECORDS, PARENTS)
    path = write_table_csv(tmp_path / "table.csv", rows)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    assert header == list(TABLE_COLUMNS)
    assert len(body) == len(rows) == 13
    first = dict(zip(header, body[0]))
    assert first["object_id"] == "1" and first["frame"] == "0" and first["area"] == "100"
    assert first["object_score"] == "5.0" and first["lost"] == "False" and first["parent_id"] == ""
    gap = next(dict(zip(header, b)) for b in body if b[0] == "2" and b[1] == "2")
    assert gap["area"] == "" and gap["lost"] == "True"
    with pytest.raises(ValueError, match="rows"):
        write_table_csv(tmp_path / "bad.csv", [{"object_id": 1, "colour": "red"}])
    assert not (tmp_path / "bad.csv").exists()


def test_tracks_data():
    labels = make_labels()
    data, graph = tracks_data(labels, {3: 1, 2: 99})  # 99 is not in the data
    assert data.shape == (12, 4)
    np.testing.assert_array_equal(
        data[:, :2],
        [
            [1, 0],
            [1, 1],
            [1, 2],
            [1, 3],
            [1, 4],
            [2, 0],
            [2, 1],
            [2, 3],
            [2, 4],
            [3, 2],
            [3, 3],
            [3, 4],
        ],
    )
    expected = expected_props(labels)
    for tid, t, y, x in data:
        _, cy, cx, _ = expected[(int(tid), int(t))]
        assert (y, x) == pytest.approx((cy, cx))
    assert graph == {3: [1]}
    empty, no_graph = tracks_data(np.zeros((2, 4, 4), np.uint8))
    assert empty.shape == (0, 4) and no_graph == {}


# ----------------------------------------------------------------------------- CTC
def test_ctc_split_gap_and_round_trip(tmp_path):
    labels = make_labels()
    folder = write_ctc(tmp_path / "01_RES", labels, PARENTS)
    # the masks, the track file, and the marker that makes the folder ours to replace (io/atomic.py)
    assert sorted(p.name for p in folder.iterdir()) == [MARKER] + [
        f"mask00{t}.tif" for t in range(T)
    ] + ["res_track.txt"]
    # object 2 vanishes in frame 2: its second run (frames 3-4) becomes track 4 with parent 2
    assert (folder / "res_track.txt").read_text() == "1 0 4 0\n2 0 1 0\n3 2 4 1\n4 3 4 2\n"
    assert tifffile.imread(folder / "mask000.tif").dtype == np.uint16
    back, parents = read_ctc(folder)
    relabelled = labels.copy()
    relabelled[3:][relabelled[3:] == 2] = 4
    assert back.shape == (T, H, W) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, relabelled)
    assert parents == {3: 1, 4: 2}
    assert leftovers(tmp_path) == []


def test_ctc_child_of_split_parent_and_2d(tmp_path):
    labels = np.zeros((4, 6, 6), np.uint16)
    labels[[0, 2], 0:2, 0:2] = 5  # object 5 in frames 0 and 2 -> tracks 5 and 7
    labels[3, 3:5, 3:5] = 6  # child of 5, appears after the second run started
    write_ctc(tmp_path / "res", labels, {6: 5})
    assert (tmp_path / "res" / "res_track.txt").read_text() == "5 0 0 0\n6 3 3 7\n7 2 2 5\n"
    write_ctc(tmp_path / "single", labels[0])
    assert sorted(p.name for p in (tmp_path / "single").iterdir()) == [
        MARKER,
        "mask000.tif",
        "res_track.txt",
    ]
    back, parents = read_ctc(tmp_path / "single")
    assert back.shape == (1, 6, 6) and parents == {}


def test_ctc_four_digits_for_long_movies(tmp_path):
    labels = np.zeros((1001, 2, 2), np.uint8)
    labels[:, 0, 0] = 1
    folder = write_ctc(tmp_path / "long", labels)
    assert (folder / "mask0000.tif").is_file() and (folder / "mask1000.tif").is_file()
    assert (folder / "res_track.txt").read_text() == "1 0 1000 0\n"
    assert not (folder / "mask000.tif").exists()


def test_read_ctc_errors(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        read_ctc(tmp_path)
    folder = write_ctc(tmp_path / "res", make_labels())
    (folder / "res_track.txt").write_text("1 0 x 0\n")
    with pytest.raises(ValueError, match="res_track.txt"):
        read_ctc(folder)
    (folder / "res_track.txt").write_text("1 0 4 0\n2 0 4 7\n")
    with pytest.raises(
        ValueError, match="res_track.txt: track 2 has parent 7, which is not a track"
    ):
        read_ctc(folder)


# ----------------------------------------------------------------------------- session JSON
def test_session_json_round_trip(tmp_path):
    session = {
        "prompts": [
            {
                "object_id": np.int64(3),
                "frame": np.int32(2),
                "points": np.array([[1.5, 2.0], [3.0, 4.0]]),
                "point_labels": np.array([1, 0], dtype=np.int8),
                "box": (1, 2, 3, 4),
            }
        ],
        "settings": {
            "threshold": np.float32(0.5),
            "model": "sam2.1_hiera_tiny",
            "fill_holes": np.bool_(True),
        },
        "parents": {np.int64(4): 2},
    }
    path = write_session_json(tmp_path / "session.json", session)
    raw = json.loads(path.read_text())
    assert raw["format"] == "napari-sam2-session" and raw["version"] == 2
    back = read_session_json(path)
    assert back == {
        "format": "napari-sam2-session",
        "version": 2,
        "prompts": [
            {
                "object_id": 3,
                "frame": 2,
                "points": [[1.5, 2.0], [3.0, 4.0]],
                "point_labels": [1, 0],
                "box": [1, 2, 3, 4],
            }
        ],
        "settings": {"threshold": 0.5, "model": "sam2.1_hiera_tiny", "fill_holes": True},
        "parents": {"4": 2},
    }
    assert (
        type(back["prompts"][0]["object_id"]) is int
        and type(back["settings"]["fill_holes"]) is bool
    )
    # writing what was read gives the same file content again
    write_session_json(tmp_path / "again.json", back)
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_session_json_rejects_other_files(tmp_path):
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="other.json"):
        read_session_json(tmp_path / "other.json")
    (tmp_path / "garbage.json").write_text("not json {")
    with pytest.raises(ValueError, match="garbage.json"):
        read_session_json(tmp_path / "garbage.json")
    (tmp_path / "future.json").write_text('{"format": "napari-sam2-session", "version": 3}')
    with pytest.raises(ValueError, match="future.json"):
        read_session_json(tmp_path / "future.json")
    with pytest.raises(ValueError, match="session_dict"):
        write_session_json(tmp_path / "s.json", ["not", "a", "dict"])
    with pytest.raises(ValueError, match="session_dict"):
        write_session_json(tmp_path / "s.json", {"x": float("nan")})
    with pytest.raises(ValueError, match="session_dict"):
        write_session_json(tmp_path / "s.json", {"x": object()})
    assert not (tmp_path / "s.json").exists() and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- overwrite / atomicity / bad input
WRITERS = {
    "tiff": (lambda p, lab, **kw: write_labels_tiff(p, lab, **kw), "out.tif"),
    "zarr": (lambda p, lab, **kw: write_labels_zarr(p, lab, **kw), "out.zarr"),
    "csv": (lambda p, lab, **kw: write_table_csv(p, object_table(lab), **kw), "out.csv"),
    "ctc": (lambda p, lab, **kw: write_ctc(p, lab, **kw), "out_RES"),
    "json": (lambda p, lab, **kw: write_session_json(p, {"n": int(lab.max())}, **kw), "out.json"),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_overwrite_protection(tmp_path, kind):
    write, name = WRITERS[kind]
    target = tmp_path / name
    labels = make_labels()
    write(target, labels)
    with pytest.raises(FileExistsError, match=name):
        write(target, labels)
    relabelled = labels * 2  # different content, written over the first output
    write(target, relabelled, overwrite=True)
    assert target.exists() and leftovers(tmp_path) == []
    if kind == "tiff":
        np.testing.assert_array_equal(tifffile.imread(target), relabelled)
    elif kind == "zarr":
        np.testing.assert_array_equal(zarr.open_array(str(target), mode="r")[...], relabelled)
    elif kind == "ctc":
        assert (target / "res_track.txt").read_text().startswith("2 0 4 0\n")
    elif kind == "json":
        assert read_session_json(target)["n"] == 6


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("bad", ["float", "negative", "ndim4", "bool"])
def test_bad_labels_leave_nothing(tmp_path, kind, bad):
    labels = make_labels()
    bad_labels = {
        "float": labels.astype(float),
        "negative": labels - 1,
        "ndim4": labels[None],
        "bool": labels > 0,
    }[bad]
    write, name = WRITERS[kind]
    if kind == "json":  # the session writer takes no labels; give it something unstorable instead
        with pytest.raises(ValueError, match="session_dict"):
            write_session_json(tmp_path / name, {"bad": bad_labels.dtype})
    else:
        with pytest.raises(ValueError, match="labels"):
            write(tmp_path / name, bad_labels)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("func", [object_table, tracks_data])
def test_bad_labels_in_table_and_tracks(func):
    with pytest.raises(ValueError, match="ndim=4"):
        func(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(ValueError, match="negative"):
        func(np.full((2, 3), -1))
    with pytest.raises(ValueError, match="integer dtype"):
        func(np.zeros((2, 3), np.float32))


def test_failure_mid_write_keeps_old_output(tmp_path, monkeypatch):
    labels = make_labels()
    write_ctc(tmp_path / "res", labels)
    write_labels_tiff(tmp_path / "labels.tif", labels)
    real_imwrite = tifffile.imwrite
    calls = []

    def imwrite_fails_on_third_file(*args, **kwargs):
        calls.append(args[0])
        if len(calls) % 3 == 0:
            raise OSError("disk full")
        return real_imwrite(*args, **kwargs)

    monkeypatch.setattr(exports.tifffile, "imwrite", imwrite_fails_on_third_file)
    with pytest.raises(OSError, match="disk full"):
        write_ctc(
            tmp_path / "res", labels * 2, overwrite=True
        )  # fails after two masks were written
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        write_ctc(tmp_path / "new_RES", labels)
    assert not (tmp_path / "new_RES").exists()
    assert leftovers(tmp_path) == []
    old_masks, old_parents = read_ctc(tmp_path / "res")  # the first export is untouched
    expected = labels.copy()
    expected[3:][expected[3:] == 2] = 4
    np.testing.assert_array_equal(old_masks, expected)
    assert old_parents == {4: 2}

    calls.clear()
    calls.extend([None, None])  # the next call is the third: it fails
    with pytest.raises(OSError, match="disk full"):
        write_labels_tiff(tmp_path / "labels.tif", labels * 2, overwrite=True)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "labels.tif"), labels)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_label_stack_is_written_and_read_frame_by_frame(tmp_path, suffix):
    """A LabelStack (frames made on demand) gives the same files as the array; it is read back one
    frame at a time, and each writer asks for each frame as it needs it (never the whole stack)."""
    labels = np.zeros((4, 20, 30), np.uint32)
    labels[:, 2:8, 3:9] = 5
    labels[2:, 10:15, 10:25] = 9
    asked = []

    def frame(t):
        asked.append(t)
        return labels[t]

    stack = exports.LabelStack(4, 20, 30, frame, max_id=9)
    write = exports.write_labels_tiff if suffix == ".tif" else exports.write_labels_zarr
    write(tmp_path / f"array{suffix}", labels)
    write(tmp_path / f"stack{suffix}", stack)
    assert asked == [0, 1, 2, 3]
    back = exports.LabelStack.from_file(tmp_path / f"stack{suffix}")
    assert back.shape == (4, 20, 30) and back.dtype == np.uint16
    assert np.array_equal(np.stack(list(back)), labels)
    assert np.array_equal(
        np.stack(list(exports.LabelStack.from_file(tmp_path / f"array{suffix}"))), labels
    )
    assert exports.object_table(back) == exports.object_table(labels)
    assert exports.tracks_data(back)[0].tolist() == exports.tracks_data(labels)[0].tolist()
    with pytest.raises(TypeError, match="one frame at a time"):
        back[0:2]
    with pytest.raises(IndexError, match="frame 4 is outside 0..3"):
        back[4]
    bad = exports.LabelStack(4, 20, 30, lambda t: np.zeros((5, 5), np.uint16), max_id=3)
    with pytest.raises(ValueError, match=r"frame 0: expected integer labels of shape \(20, 30\)"):
        exports.write_labels_tiff(tmp_path / "bad.tif", bad)
    assert not (tmp_path / "bad.tif").exists()


# ----------------------------------------------------------------------------- streaming label writer
@pytest.mark.parametrize("name", ["labels.tif", "labels.zarr"])
def test_label_writer_puts_each_frame_on_disk_at_once(tmp_path, name):
    labels = make_labels().astype(np.uint16)
    path = tmp_path / name

    def on_disk(where=path):
        if name.endswith(".zarr"):
            return zarr.open_array(str(where), mode="r")[...]
        return tifffile.imread(where)

    with exports.LabelWriter(path, labels.shape, max_id=3) as writer:
        # frames go to a visible partial file, at full size from the start, all 0
        assert writer.partial == tmp_path / name.replace(".", ".partial.")
        assert on_disk(writer.partial).shape == labels.shape and not on_disk(writer.partial).any()
        for t in (0, 1, 2):
            writer.write(t, labels[t])
            current = on_disk(
                writer.partial
            )  # read by another reader while the writer is still open
            assert np.array_equal(current[: t + 1], labels[: t + 1]) and not current[t + 1 :].any()
        writer.write(1, labels[4])  # a frame tracked again is replaced
        assert not path.exists()  # the output appears only when the stack is finished
    assert not writer.partial.exists()
    back = on_disk()
    assert back.dtype == np.uint16 and np.array_equal(back[1], labels[4]) and not back[3:].any()
    if name.endswith(".tif"):
        with tifffile.TiffFile(path) as tif:
            assert (
                tif.is_imagej and tif.series[0].axes == "TYX" and tif.imagej_metadata["frames"] == T
            )
    assert np.array_equal(exports.LabelStack.from_file(path)[2], labels[2])


def test_label_writer_ids_refusals_and_overwrite(tmp_path):
    with exports.LabelWriter(tmp_path / "big.tif", (2, 8, 9), max_id=70000) as writer:
        writer.write(1, np.full((8, 9), 70000))
    big = tifffile.imread(tmp_path / "big.tif")
    assert big.dtype == np.uint32 and big[1].min() == 70000 and big[0].max() == 0
    (tmp_path / "old.tif").write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="old.tif already exists") as info:
        exports.LabelWriter(tmp_path / "old.tif", (2, 8, 9), max_id=3)
    assert info.value.filename == str(tmp_path / "old.tif")
    assert (tmp_path / "old.tif").read_bytes() == b"user data"
    # a zarr folder this package wrote is replaced with overwrite; one holding a file of the user's is not
    with exports.LabelWriter(tmp_path / "old.zarr", (2, 8, 9), max_id=3) as writer:
        writer.write(1, np.ones((8, 9), int))
    with exports.LabelWriter(tmp_path / "old.zarr", (2, 8, 9), max_id=3, overwrite=True) as writer:
        writer.write(0, np.ones((8, 9), int))
    back = zarr.open_array(str(tmp_path / "old.zarr"), mode="r")
    assert back[0].sum() == 72 and back[1].sum() == 0
    (tmp_path / "old.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"did not write \(notes.txt\)"):
        exports.LabelWriter(tmp_path / "old.zarr", (2, 8, 9), max_id=3, overwrite=True)
    assert (tmp_path / "old.zarr" / "notes.txt").read_text() == "mine" and back[0].sum() == 72
    for bad, message in (
        ({"path": tmp_path / "x.png"}, "must end in .tif"),
        ({"shape": (2, 8)}, "three positive numbers"),
        ({"max_id": 2**32}, "max id"),
    ):
        kwargs = {"path": tmp_path / "x.tif", "shape": (2, 8, 9), "max_id": 3, **bad}
        with pytest.raises(ValueError, match=message):
            exports.LabelWriter(**kwargs)
    with exports.LabelWriter(tmp_path / "w.tif", (2, 8, 9), max_id=3) as writer:
        with pytest.raises(ValueError, match="frame 2 is outside 0..1"):
            writer.write(2, np.zeros((8, 9), int))
        with pytest.raises(ValueError, match="expected shape"):
            writer.write(0, np.zeros((9, 8), int))
    with pytest.raises(ValueError, match="closed"):
        writer.write(0, np.zeros((8, 9), int))
