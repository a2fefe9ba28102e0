"""Automatic starts from the command line: `segment --auto`, `track --auto` and `track --auto-new` (demo model,
known cells)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.io.evaluate import mask_iou
from napari_sam2.synthetic import synthetic_cells

FRAMES = 8
AUTO = [
    "--points-per-side",
    "16",
    "--auto-iou",
    "0.7",
    "--auto-stability",
    "0.9",
    "--min-area",
    "100",
]


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    """8 frames of 6 cells at the demo's trained size (256), and the movie's file."""
    image, truth = synthetic_cells(n_frames=FRAMES, size=(256, 256), n_cells=6, seed=1)
    path = tmp_path_factory.mktemp("movie") / "movie.tif"
    tifffile.imwrite(path, image)
    return path, image, truth


def _best(truth_cell: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """The label that overlaps a true cell most, and its IoU with it."""
    ids = [int(j) for j in np.unique(labels[truth_cell]) if j]
    scored = [(mask_iou(truth_cell, labels == j), j) for j in ids]
    iou, j = max(scored, default=(0.0, 0))
    return j, iou


def test_segment_auto_writes_a_label_image_of_the_cells(tmp_path, movie, capsys):
    path, _, truth = movie
    out = tmp_path / "seg.tif"
    assert (
        main(
            [
                "segment",
                str(path),
                "--auto",
                *AUTO,
                "--model",
                "demo",
                "--frame",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    labels = tifffile.imread(out)
    assert labels.dtype == np.uint16 and labels.shape == truth.shape[1:]
    found = [_best(truth[2] == k, labels)[1] >= 0.5 for k in np.unique(truth[2])[1:]]
    assert sum(found) >= 4, found  # 5 of 6 measured
    assert f"{labels.max()} objects" in capsys.readouterr().out


def test_track_auto_seeds_every_found_cell_and_tracks_it(tmp_path, movie, capsys):
    path, _, truth = movie
    out = tmp_path / "labels.tif"
    assert main(["track", str(path), "--auto", *AUTO, "--model", "demo", "--out", str(out)]) == 0, (
        capsys.readouterr().err
    )
    pred = tifffile.imread(out)
    matched = {}
    for k in np.unique(truth[0])[1:]:
        j, iou = _best(truth[0] == k, pred[0])
        if iou >= 0.5:
            matched[k] = j
    assert len(matched) >= 4 and len(set(matched.values())) == len(
        matched
    )  # distinct objects, 5 measured
    later = [
        mask_iou(truth[f] == k, pred[f] == j) for k, j in matched.items() for f in range(1, FRAMES)
    ]
    assert np.mean(later) >= 0.7, np.mean(later)  # 0.82 measured


def test_auto_new_adds_the_cells_nobody_clicked_from_their_frame_on(tmp_path, movie, capsys):
    path, _, truth = movie
    clicked = [int(k) for k in np.unique(truth[0])[1:4]]
    rows = ["object_id,frame,y,x,label"]
    for k in clicked:
        y, x = np.argwhere(truth[0] == k).mean(0)
        rows.append(f"{k},0,{y:.1f},{x:.1f},1")
    (tmp_path / "points.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "labels.tif"
    rc = main(
        [
            "track",
            str(path),
            "--points",
            str(tmp_path / "points.csv"),
            "--auto-new",
            "4",
            *AUTO,
            "--model",
            "demo",
            "--out",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    pred = tifffile.imread(out)
    new_ids = set(np.unique(pred).tolist()) - {0, *clicked}
    assert new_ids and min(new_ids) > max(clicked)
    assert not np.isin(pred[:4], list(new_ids)).any()  # new cells start at frame 4, never before
    others = [k for k in np.unique(truth[4])[1:] if k not in clicked]
    found = [
        _best(truth[4] == k, np.where(np.isin(pred[4], list(new_ids)), pred[4], 0))[1] >= 0.5
        for k in others
    ]
    assert sum(found) >= 2, found  # of the 3 cells nobody clicked


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", "--auto-frame", "2"], "--auto-frame says which frame --auto segments"),
        (
            ["track", "--auto", "--direction", "backward", "--auto-new", "2"],
            "--auto-new needs forward tracking",
        ),
        (["track", "--auto", "--min-area", "50", "--max-area", "10"], "area range"),
        (["segment", "--auto", "--point", "5,5"], "--auto segments everything without prompts"),
        (
            ["segment", "--auto", "--points-per-side", "0"],
            "--points-per-side must be a whole number from 1 to 256, got 0",
        ),
    ],
)
def test_bad_automatic_options_are_refused_before_anything_is_written(
    tmp_path, movie, capsys, args, message
):
    path, _, _ = movie
    out = tmp_path / "out.tif"
    command, rest = args[0], args[1:]
    assert main([command, str(path), *rest, "--model", "demo", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
