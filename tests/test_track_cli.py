"""`napari-sam2 track`: CSV prompts, outputs, volumes, many files, and clean failures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from conftest import present_checkpoint

from napari_sam2 import build_sam2_video_predictor
from napari_sam2.cli import main
from napari_sam2.engine import TrackingSession
from napari_sam2.engine.exports import read_ctc
from napari_sam2.synthetic import synthetic_cells

SIZE = 128


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return present_checkpoint(tmp_path_factory.mktemp("ckpt"), SIZE, seed=2)


@pytest.fixture
def movie(tmp_path):
    image, labels = synthetic_cells(n_frames=6, size=(64, 80), n_cells=3, seed=8, radius=(6.0, 9.0))
    tifffile.imwrite(tmp_path / "movie.tif", image)
    return tmp_path / "movie.tif", image, labels


def _centre(labels, frame, obj):
    y, x = np.argwhere(labels[frame] == obj).mean(0)
    return float(y), float(x)


def _write_prompts(tmp_path, labels):
    y1, x1 = _centre(labels, 0, 1)
    y2, x2 = _centre(labels, 2, 2)
    (tmp_path / "points.csv").write_text(f"object_id,frame,y,x,label\n1,0,{y1},{x1},1\n1,0,1,1,0\n2,2,{y2},{x2},1\n")
    ys, xs = np.nonzero(labels[0] == 3)
    (tmp_path / "boxes.csv").write_text(f"object_id,frame,y0,x0,y1,x1\n3,0,{ys.min()},{xs.min()},{ys.max()},{xs.max()}\n")
    return (y1, x1), (y2, x2), (ys.min(), xs.min(), ys.max(), xs.max())


def test_track_writes_labels_table_ctc_and_session(tmp_path, movie, checkpoint, capsys):
    path, image, labels = movie
    p1, p2, box = _write_prompts(tmp_path, labels)
    out = tmp_path / "out" / "labels.tif"
    rc = main(["track", str(path), "--points", str(tmp_path / "points.csv"), "--boxes", str(tmp_path / "boxes.csv"),
               "--out", str(out), "--checkpoint", str(checkpoint), "--image-size", str(SIZE),
               "--table", str(tmp_path / "t.csv"), "--ctc", str(tmp_path / "ctc"),
               "--session", str(tmp_path / "s.json"), "--geff", str(tmp_path / "lineage.zarr")])
    assert rc == 0, capsys.readouterr().err
    written = tifffile.imread(out)
    # the same prompts through the engine directly give the same labels
    model = build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=checkpoint, image_size=SIZE).model
    s = TrackingSession(model, image)
    s.add_points(0, 1, [[p1[1], p1[0]], [1.0, 1.0]], [1, 0])
    s.add_points(2, 2, [[p2[1], p2[0]]], [1])
    s.add_points(0, 3, box=[box[1], box[0], box[3], box[2]])
    s.propagate("forward")
    assert written.shape == (6, 64, 80) and written.dtype == np.uint16
    assert np.array_equal(written, s.labels())
    assert set(np.unique(written[1])) == {0, 1, 3} and 2 in np.unique(written[3])  # object 2 starts at frame 2
    table = (tmp_path / "t.csv").read_text().splitlines()
    assert table[0].startswith("object_id,frame,area") and len(table) > 10
    ctc_labels, _ = read_ctc(tmp_path / "ctc")
    assert ctc_labels.shape == (6, 64, 80)
    from napari_sam2.engine.lineage_io import read_geff

    assert read_geff(tmp_path / "lineage.zarr").number_of_nodes() == sum(len(np.unique(f)) - 1 for f in written)
    session = json.loads((tmp_path / "s.json").read_text())
    assert set(session["objects"]) == {"1", "2", "3"}
    assert "3 objects tracked over 6 frames" in capsys.readouterr().out


def test_track_zarr_output(tmp_path, movie, checkpoint):
    import zarr

    path, _, labels = movie
    _write_prompts(tmp_path, labels)
    out = tmp_path / "labels.zarr"
    assert main(["track", str(path), "--points", str(tmp_path / "points.csv"), "--out", str(out),
                 "--checkpoint", str(checkpoint), "--image-size", str(SIZE)]) == 0
    z = zarr.open(str(out), mode="r")
    assert z.shape == (6, 64, 80) and z[0].max() >= 1


def test_volume_tracks_both_ways(tmp_path, checkpoint):
    vol, truth = synthetic_cells(n_frames=7, size=(64, 64), n_cells=2, seed=3, radius=(6.0, 9.0), step=1.0)
    tifffile.imwrite(tmp_path / "vol.tif", vol)
    y, x = _centre(truth, 3, 1)
    (tmp_path / "p.csv").write_text(f"object_id,frame,y,x,label\n1,3,{y},{x},1\n")
    assert main(["track", str(tmp_path / "vol.tif"), "--axis", "z", "--points", str(tmp_path / "p.csv"),
                 "--out", str(tmp_path / "v.tif"), "--checkpoint", str(checkpoint), "--image-size", str(SIZE)]) == 0
    out = tifffile.imread(tmp_path / "v.tif")
    assert all((out[z] == 1).any() for z in range(7))  # above and below the prompted slice


@pytest.mark.parametrize("csv_text, message", [
    ("object,frame,y,x\n1,0,5,5\n", "header must contain"),
    ("object_id,frame,y,x,label\n1,0,5,5,7\n", "line 2"),
    ("object_id,frame,y,x,label\n1,20,5,5,1\n", "frame 20 is outside the stack of 6"),
    ("object_id,frame,y,x,label\n1,0,500,5,1\n", "outside the 80x64 frame"),
    ("object_id,frame,y,x,label\n0,0,5,5,1\n", "object_id must be a positive"),
])
def test_bad_prompts_leave_no_output(tmp_path, movie, checkpoint, capsys, csv_text, message):
    path, _, _ = movie
    (tmp_path / "p.csv").write_text(csv_text)
    out = tmp_path / "labels.tif"
    rc = main(["track", str(path), "--points", str(tmp_path / "p.csv"), "--out", str(out),
               "--checkpoint", str(checkpoint), "--image-size", str(SIZE)])
    assert rc == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_input_errors(tmp_path, checkpoint, capsys):
    (tmp_path / "p.csv").write_text("object_id,frame,y,x,label\n1,0,5,5,1\n")
    tifffile.imwrite(tmp_path / "flat.tif", np.zeros((32, 32), np.uint16))
    base = ["--points", str(tmp_path / "p.csv"), "--checkpoint", str(checkpoint), "--image-size", str(SIZE)]
    assert main(["track", str(tmp_path / "flat.tif"), "--out", str(tmp_path / "o.tif"), *base]) == 2
    assert "tracking needs a stack" in capsys.readouterr().err
    (tmp_path / "junk.tif").write_bytes(b"junk")
    assert main(["track", str(tmp_path / "junk.tif"), "--out", str(tmp_path / "o.tif"), *base]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="not found"):
        main(["track", str(tmp_path / "none.tif"), "--out", str(tmp_path / "o.tif"), *base])
    with pytest.raises(SystemExit):
        main(["track", str(tmp_path / "flat.tif"), "--axis", "c", "--out", "o.tif", *base])
    assert not (tmp_path / "o.tif").exists()


def test_existing_output_is_not_overwritten(tmp_path, movie, checkpoint, capsys):
    path, _, labels = movie
    _write_prompts(tmp_path, labels)
    out = tmp_path / "labels.tif"
    out.write_bytes(b"user data")
    args = ["track", str(path), "--points", str(tmp_path / "points.csv"), "--out", str(out),
            "--checkpoint", str(checkpoint), "--image-size", str(SIZE)]
    assert main(args) == 2 and "exists" in capsys.readouterr().err
    assert out.read_bytes() == b"user data"
    assert main([*args, "--overwrite"]) == 0 and tifffile.imread(out).shape == (6, 64, 80)


@pytest.mark.parametrize("cluster", [False, True])
def test_many_files(tmp_path, checkpoint, capsys, cluster):
    for i in range(2):
        image, labels = synthetic_cells(n_frames=4, size=(48, 48), n_cells=1, seed=20 + i, radius=(6.0, 9.0))
        tifffile.imwrite(tmp_path / f"m{i}.tif", image)
        y, x = _centre(labels, 0, 1)
        (tmp_path / f"m{i}.points.csv").write_text(f"object_id,frame,y,x,label\n1,0,{y},{x},1\n")
    args = ["track", str(tmp_path / "m*.tif"), "--many", "--out", str(tmp_path / "res"),
            "--checkpoint", str(checkpoint), "--image-size", str(SIZE)]
    if cluster:
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as lc:
            assert main([*args, "--scheduler", lc.scheduler_address]) == 0
    else:
        assert main(args) == 0
    for i in range(2):
        out = tifffile.imread(tmp_path / "res" / f"m{i}_labels.tif")
        assert out.shape == (4, 48, 48) and (out[0] == 1).any()
    assert capsys.readouterr().out.count("1 objects") == 2


def test_sample_run_reports_iou_against_truth(tmp_path, checkpoint, capsys):
    out = tmp_path / "sample.tif"
    assert main(["track", "sample", "--out", str(out), "--checkpoint", str(checkpoint), "--image-size", "64"]) == 0
    text = capsys.readouterr().out
    assert "6 objects tracked over 20 frames" in text and "mean IoU with the true cells" in text
    assert tifffile.imread(out).shape == (20, 256, 256)


def test_fast_mode_options_and_outputs_streamed_frame_by_frame(tmp_path, movie, checkpoint, capsys, monkeypatch):
    """--memory-frames reaches the session (same labels as the engine with it, recorded in the session
    file); the label stack is written without ever being held whole (labels() is never called)."""
    path, image, labels = movie
    p1, _, _ = _write_prompts(tmp_path, labels)
    model = build_sam2_video_predictor("sam2.1_hiera_tiny", checkpoint=checkpoint, image_size=SIZE).model
    s = TrackingSession(model, image, memory_frames=1)
    s.add_points(0, 1, [[p1[1], p1[0]], [1.0, 1.0]], [1, 0])
    s.propagate("forward")
    expected = s.labels()

    def whole_stack(self):
        raise AssertionError("the CLI must not build the whole label stack in memory")

    monkeypatch.setattr(TrackingSession, "labels", whole_stack)
    (tmp_path / "one.csv").write_text(f"object_id,frame,y,x,label\n1,0,{p1[0]},{p1[1]},1\n1,0,1,1,0\n")
    out = tmp_path / "fast.tif"
    rc = main(["track", str(path), "--points", str(tmp_path / "one.csv"), "--out", str(out),
               "--checkpoint", str(checkpoint), "--image-size", str(SIZE), "--memory-frames", "1",
               "--table", str(tmp_path / "t.csv"), "--ctc", str(tmp_path / "ctc"), "--session", str(tmp_path / "s.json")])
    assert rc == 0, capsys.readouterr().err
    assert np.array_equal(tifffile.imread(out), expected)
    assert np.array_equal(read_ctc(tmp_path / "ctc")[0], expected)
    assert json.loads((tmp_path / "s.json").read_text())["memory_frames"] == 1
    assert main(["track", str(path), "--points", str(tmp_path / "one.csv"), "--out", str(tmp_path / "x.tif"),
                 "--checkpoint", str(checkpoint), "--image-size", str(SIZE), "--memory-frames", "9"]) == 2
    assert "memory_frames must be between 0 and 6" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()
