"""Many objects: bounded batches (``max_batch``) give the same numbers, bound what one model call holds,
report progress per frame, and reach the session file and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import test_divisions
import tifffile
from conftest import attention_inputs, present_checkpoint

from napari_sam2.cli import main
from napari_sam2.engine import TrackingSession
from napari_sam2.synthetic import synthetic_cells

SIZE = test_divisions.SIZE
model = test_divisions.model  # the present random model at 128 px (seed 3)


@pytest.fixture(scope="module")
def cells():
    """A 5-frame movie of 7 cells and its labels."""
    return synthetic_cells(n_frames=5, size=(96, 96), n_cells=7, seed=4, radius=(5.0, 7.0))


def grid_labels(n: int, size: int = 96, cell: int = 6) -> np.ndarray:
    """``n`` small square objects on a grid (ids 1..n): many objects without placing cells."""
    labels = np.zeros((size, size), np.uint16)
    per_row = size // (cell + 2)
    for k in range(n):
        y, x = divmod(k, per_row)
        labels[
            y * (cell + 2) + 1 : y * (cell + 2) + 1 + cell,
            x * (cell + 2) + 1 : x * (cell + 2) + 1 + cell,
        ] = k + 1
    return labels


def _batches_seen(model, run) -> list[int]:
    """The batch size of every memory-attention call while ``run()`` ran."""
    return [current[1] for current, _ in attention_inputs(model, run)]


def test_bounded_batches_agree_with_one_batch(model, cells):
    """Chunks give the numbers of one batch up to float rounding: CPU matrix kernels block (and so
    round) by batch size, so a batch of 2 is not bit-identical to a batch of 7 (measured: 3e-7)."""
    image, labels = cells
    assert len(np.unique(labels[0])) - 1 == 7
    runs = {}
    for max_batch in (2, 7, 64):
        s = TrackingSession(model, image, max_batch=max_batch)
        assert s.add_labels(0, labels[0]) == list(range(1, 8))
        batches = _batches_seen(model, s.propagate)
        runs[max_batch] = s, batches
    assert max(runs[2][1]) == 2 and max(runs[64][1]) == 7  # really split, really not split
    whole = runs[64][0]
    for max_batch, tolerance in (
        (7, 0.0),
        (2, 1e-5),
    ):  # a chunk as big as the group is the same call
        s = runs[max_batch][0]
        for oid in range(1, 8):
            assert sorted(s.objects[oid].results) == list(range(5))
            for f in range(5):
                a, b = s.objects[oid].results[f], whole.objects[oid].results[f]
                assert (a.logits - b.logits).abs().max() <= tolerance, (max_batch, oid, f)
                assert (a.obj_ptr - b.obj_ptr).abs().max() <= tolerance
                assert abs(a.score - b.score) <= tolerance and abs(a.iou - b.iou) <= tolerance
    assert np.array_equal(runs[7][0].labels(), whole.labels())


def test_one_model_call_holds_at_most_max_batch_objects(model):
    image = np.stack([np.roll(grid_labels(40), k, axis=1) * 40 + 200 for k in range(3)]).astype(
        np.uint16
    )
    per_frame = {}
    for max_batch in (5, 64):
        s = TrackingSession(model, image, max_batch=max_batch)
        s.add_labels(0, grid_labels(40))
        events = []
        batches = _batches_seen(
            model, lambda s=s, events=events: s.propagate(progress=events.append)
        )
        per_frame[max_batch] = batches
        # progress is per frame, not per batch: frames 0 (prompted), 1, 2
        assert [e.frame for e in events] == [0, 1, 2] and [e.done for e in events] == [1, 2, 3]
        assert all(len(e.obj_ids) == 40 for e in events)
    assert (
        max(per_frame[5]) == 5 and len(per_frame[5]) == 2 * 8
    )  # 8 calls of 5 objects on each tracked frame
    assert per_frame[64] == [40, 40]  # unbounded: the whole group at once


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", None])
def test_max_batch_must_be_a_positive_whole_number(model, cells, bad):
    with pytest.raises(ValueError, match="max_batch must be a whole number from 1 to 4096"):
        TrackingSession(model, cells[0], max_batch=bad)


def test_max_batch_is_saved_with_the_session(model, cells):
    s = TrackingSession(model, cells[0], max_batch=3)
    s.add_labels(0, cells[1][0])
    assert s.prompts_dict()["tracking"]["max_batch"] == 3
    assert (
        TrackingSession(model, cells[0]).prompts_dict()["tracking"]["max_batch"] == 16
    )  # the default


def track_args(tmp_path, image, labels) -> list[str]:
    """``napari-sam2 track`` on ``image`` (written to tmp_path) seeded from frame-0 ``labels``, with the
    present model's checkpoint; the outputs are the caller's to add."""
    checkpoint = present_checkpoint(tmp_path, SIZE, seed=3)
    tifffile.imwrite(tmp_path / "movie.tif", image)
    tifffile.imwrite(tmp_path / "seg0.tif", labels[0])
    return [
        "track",
        str(tmp_path / "movie.tif"),
        "--masks",
        str(tmp_path / "seg0.tif"),
        "--checkpoint",
        str(checkpoint),
        "--image-size",
        str(SIZE),
    ]


def test_cli_max_batch(tmp_path, cells, capsys, monkeypatch):
    from napari_sam2.model.memory_attention import MemoryAttention

    image, labels = cells
    base = track_args(tmp_path, image, labels)
    forward, batches = MemoryAttention.forward, []

    def counting(self, curr, *args, **kwargs):
        batches.append(curr.shape[1])
        return forward(self, curr, *args, **kwargs)

    monkeypatch.setattr(MemoryAttention, "forward", counting)
    out = {}
    for n in ("1", "3", None):
        name = n or "default"
        option = [] if n is None else ["--max-batch", n]
        batches.clear()
        assert (
            main(
                [
                    *base,
                    "--out",
                    str(tmp_path / f"{name}.tif"),
                    "--session",
                    str(tmp_path / f"{name}.json"),
                    *option,
                ]
            )
            == 0
        ), capsys.readouterr().err
        out[name] = tifffile.imread(tmp_path / f"{name}.tif")
        largest = 7 if n is None else int(n)  # the default, 16, holds all 7 cells
        assert max(batches) == largest and json.loads((tmp_path / f"{name}.json").read_text())[
            "tracking"
        ]["max_batch"] == (16 if n is None else int(n))
    assert len(np.unique(out["default"])) == 8
    # the numbers are compared in test_bounded_batches_agree_with_one_batch; here float rounding moves
    # a few pixels, because random weights leave many logits within 1e-6 of 0 (measured: 0.14 %)
    for n in ("1", "3"):
        assert np.mean(out[n] != out["default"]) < 0.01
    for bad in ("0", "two"):
        assert main([*base, "--out", str(tmp_path / "bad.tif"), "--max-batch", bad]) == 2
        err = (
            capsys.readouterr().err
        )  # a number out of range (the settings) or no number (argparse)
        assert "--max-batch" in err and "must be a whole number from 1 to 4096" in err
    assert not (tmp_path / "bad.tif").exists()
