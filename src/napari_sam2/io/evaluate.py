"""Cell Tracking Challenge metrics for a CTC result folder against a ground-truth folder, computed
by the ``py-ctcmetrics`` package (import name ``ctc_metrics``), and the mask IoU that every quality
check here uses (:func:`mask_iou`). No torch, napari or Qt imports.

Folders (2D time-lapses, T frames of (Y, X) uint16 masks):

* result (``pred_folder``): ``mask000.tif``... and ``res_track.txt``, as written by
  :func:`napari_sam2.io.exports.write_ctc`;
* ground truth (``gt_folder``): ``TRA/man_track000.tif``... and ``TRA/man_track.txt``, as written by
  :func:`napari_sam2.io.lineage_io.write_ctc_ground_truth`, and optionally
  ``SEG/man_seg000.tif``... (full segmentations of some or all frames).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .exports import read_ctc_layout
from .lineage_io import GT_MASK_PREFIX, GT_TRACK_FILE

#: the metrics asked of ctc_metrics; "BC(0)" makes it report BC(0)..BC(3)
METRICS = ("Valid", "DET", "SEG", "TRA", "BC(0)")


def _masks(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in folder.glob(f"{prefix}*.tif") if p.name[len(prefix) : -4].isdigit())


def _read_layout(folder: Path, mask_prefix: str, track_name: str, what: str):
    """The CTC reader's ``(labels, parents)``; its ValueError is prefixed with ``what`` (which folder)."""
    try:
        return read_ctc_layout(folder, mask_prefix, track_name)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _check_folders(pred: Path, gt: Path) -> None:
    """Raise ValueError naming the folder that is not a usable CTC result / ground-truth folder."""
    if not pred.is_dir():
        raise ValueError(f"pred_folder {pred} is not a folder")
    if not (pred / "res_track.txt").is_file():
        raise ValueError(f"pred_folder {pred} has no res_track.txt (not a CTC result folder)")
    if not gt.is_dir():
        raise ValueError(f"gt_folder {gt} is not a folder")
    if not (gt / "TRA" / "man_track.txt").is_file():
        raise ValueError(f"gt_folder {gt} has no TRA/man_track.txt (not a CTC ground-truth folder)")
    ours, _ = _read_layout(pred, "mask", "res_track.txt", f"pred_folder {pred}")
    truth, _ = _read_layout(gt / "TRA", GT_MASK_PREFIX, GT_TRACK_FILE, f"gt_folder {gt}")
    if len(ours) != len(truth):
        raise ValueError(
            f"pred_folder {pred} has {len(ours)} masks but gt_folder {gt} has {len(truth)} TRA masks"
        )
    if ours.shape[1:] != truth.shape[1:]:
        raise ValueError(
            f"pred_folder {pred} has masks of shape {ours.shape[1:]} but gt_folder {gt} has "
            f"TRA masks of shape {truth.shape[1:]}"
        )
    if (gt / "SEG").is_dir() and not _masks(gt / "SEG", "man_seg"):
        raise ValueError(f"gt_folder {gt}: SEG contains no man_seg*.tif files")


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of the same shape; 1.0 when both are empty
    (nothing to find, nothing found)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes: {a.shape} and {b.shape}")
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


def _gt_with_seg(gt: Path, scratch: Path) -> Path:
    """A copy of ``gt`` in ``scratch`` whose ``SEG/man_segNNN.tif`` are the ``TRA/man_trackNNN.tif`` masks."""
    copy = scratch / "GT"
    shutil.copytree(gt / "TRA", copy / "TRA")
    (copy / "SEG").mkdir()
    for mask in _masks(gt / "TRA", "man_track"):
        shutil.copyfile(mask, copy / "SEG" / ("man_seg" + mask.name[len("man_track") :]))
    return copy


def _metric_value(value):
    """A metric as a JSON-safe Python value: numpy scalars -> int/float, NaN -> None."""
    if value is None:
        return None
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate_ctc(pred_folder, gt_folder, threads: int = 1) -> dict:
    """Score a CTC result folder against a ground-truth folder with ``ctc_metrics``.

    Returns a dict with

    * ``valid`` (bool): the challenge's format check of the result (unique labels, parents end
      before daughters begin, every label in ``res_track.txt`` is in the masks of exactly the frames
      it claims, and vice versa); when False the metric values are None;
    * ``DET``, ``SEG``, ``TRA`` in [0, 1] (1 is perfect), with ``AOGM`` (weighted graph edit
      cost, 0 is perfect), ``AOGM_0`` and the operation counts ``AOGM_NS/FN/FP/ED/EA/EC``;
    * division scores ``BC(i)`` for i = 0..3: the F1 score of detected divisions, a division
      counting as found when it happens within i frames of the true one (``BC(0)`` is the
      standard "branching correctness"), with ``tp_div(i)``, ``fp_div(i)``, ``fn_div(i)`` and
      ``gt_divisions``; also ``OP_CSB`` = (SEG + DET) / 2 and ``OP_CTB`` = (SEG + TRA) / 2;
    * ``seg_from_tra`` (bool): True when ``gt_folder`` has no ``SEG`` folder. SEG is then
      computed against the TRA masks (copied to a temporary ``SEG`` folder), which is only
      meaningful when they are full segmentations (as :func:`write_ctc_ground_truth` writes),
      not the small markers of the challenge's own TRA ground truth;
    * ``issues`` (list of str): the warnings the format check gave.

    Values are plain Python numbers (or None); ``threads`` > 1 matches frames in a process pool.
    Raises ValueError naming ``pred_folder`` or ``gt_folder`` when one is not a usable CTC folder
    or the two do not fit together.
    """
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    pred, gt = Path(pred_folder), Path(gt_folder)
    _check_folders(pred, gt)
    seg_from_tra = not (gt / "SEG").is_dir()
    with contextlib.ExitStack() as stack:
        if seg_from_tra:
            gt = _gt_with_seg(gt, Path(stack.enter_context(tempfile.TemporaryDirectory())))
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        stack.enter_context(
            contextlib.redirect_stdout(io.StringIO())
        )  # the library prints progress
        try:
            raw = evaluate_sequence(str(pred), str(gt), metrics=list(METRICS), threads=int(threads))
        except (AssertionError, ValueError, IndexError, KeyError) as exc:
            raise ValueError(
                f"cannot evaluate pred_folder {Path(pred_folder)} against gt_folder "
                f"{Path(gt_folder)}: {type(exc).__name__} {exc}"
            ) from None
    result = {"valid": bool(raw.pop("Valid", 0))}
    result.update((key, _metric_value(value)) for key, value in raw.items())
    result["seg_from_tra"] = seg_from_tra
    result["issues"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return result


def object_ious(pred: np.ndarray, truth: np.ndarray, ids=None) -> dict[int, np.ndarray]:
    """``{obj_id: (T,) IoU}`` of each object of ``pred`` with the cell of the same id in ``truth``
    (both ``(T, Y, X)`` label stacks) per frame; NaN where the id is in neither. ``ids``: the
    objects (default: every id of ``truth``)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 3:
        raise ValueError(
            f"pred and truth must be (T, Y, X) stacks of one shape, got {pred.shape} "
            f"and {truth.shape}"
        )
    ids = [int(i) for i in np.unique(truth) if i] if ids is None else [int(i) for i in ids]
    out = {oid: np.full(len(truth), np.nan) for oid in ids}
    for t in range(len(truth)):
        for oid in ids:
            a, b = pred[t] == oid, truth[t] == oid
            if a.any() or b.any():
                out[oid][t] = mask_iou(a, b)
    return out


def matched_ious(pred: np.ndarray, truth: np.ndarray) -> dict[int, np.ndarray]:
    """``{obj_id: (T,) IoU}`` of each object of ``pred`` with ITS cell in ``truth`` (both ``(T, Y, X)`` label
    stacks whose ids need not agree): the cell it overlaps most on its first frame (where it was prompted),
    per frame; NaN where neither is there. An object that starts on no cell is left out."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 3:
        raise ValueError(
            f"the result and the truth must be (T, Y, X) stacks of one shape, got {pred.shape} "
            f"and {truth.shape}"
        )
    out = {}
    for oid in (int(i) for i in np.unique(pred) if i):
        first = int(np.flatnonzero((pred == oid).reshape(len(pred), -1).any(1))[0])
        under = truth[first][(pred[first] == oid) & (truth[first] > 0)]
        if not under.size:
            continue
        cell, row = int(np.bincount(under).argmax()), np.full(len(pred), np.nan)
        for t in range(len(pred)):
            a, b = pred[t] == oid, truth[t] == cell
            if a.any() or b.any():
                row[t] = mask_iou(a, b)
        out[oid] = row
    return out


def table_flags(path) -> dict[int, dict[int, str]]:
    """``{object_id: {frame: reasons}}`` from the ``suspect`` column of a table written by ``track --table``
    (or the widget's object table); a ValueError names a table without that column."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "suspect" not in reader.fieldnames:
            raise ValueError(
                f"{path} has no 'suspect' column: give the table that napari-sam2 track --table wrote"
            )
        flags: dict[int, dict[int, str]] = {}
        for row in reader:
            if row.get("suspect"):
                flags.setdefault(int(row["object_id"]), {})[int(row["frame"])] = row["suspect"]
    return flags


def swapped(pred: np.ndarray, truth: np.ndarray, ids=None) -> list[int]:
    """The objects (``ids``, default every id of ``truth``) whose mask in the last frame of ``pred``
    lies mostly on another cell of ``truth`` (both ``(T, Y, X)``): identities swapped, or an object
    that ended on a neighbour. Objects absent from the truth's last frame are left out."""
    last, cells = np.asarray(pred)[-1], np.asarray(truth)[-1]
    ids = [int(i) for i in np.unique(cells) if i] if ids is None else [int(i) for i in ids]
    out = []
    for oid in ids:
        under = cells[(last == oid) & (cells > 0)]
        if (cells == oid).any() and under.size and int(np.bincount(under).argmax()) != oid:
            out.append(oid)
    return out


REASON_KEYS = ("flags", "right_flags", "episodes_flagged")


def _episodes(wrong: np.ndarray) -> list[int]:
    """First frames of the runs of True in ``wrong`` (T,)."""
    w = np.asarray(wrong, bool)
    return [int(t) for t in np.flatnonzero(w & ~np.r_[False, w[:-1]])]


def flag_quality(
    ious, flags, threshold: float = 0.5, before: int = 1, after: int = 2, near: int = 1
) -> dict:
    """How well suspect flags point at tracking errors, given the true IoU of each object-frame.

    ``ious``: ``{obj_id: (T,) IoU}`` with NaN where an object-frame is not judged (e.g.
    :func:`object_ious`); ``flags``: ``{obj_id: {frame: reasons}}`` (reasons a list, or a string
    joined by ";" as in the table's ``suspect`` column; empty means not flagged) or
    ``{obj_id: [frames]}``. An object-frame is wrong where its IoU is below ``threshold``; an error
    episode is a run of wrong frames of one object. Returns a dict:

    * ``wrong``, ``wrong_flagged``: wrong object-frames, and those flagged; ``frame_recall`` their
      ratio;
    * ``episodes``, ``episodes_flagged``: error episodes, and those with a flag from ``before``
      frames before their first frame to ``after`` frames after it; ``recall`` their ratio;
    * ``flags``, ``right_flags``: flagged object-frames (of judged frames), and those within
      ``near`` frames of a wrong frame of the same object; ``precision`` their ratio;
    * ``by_reason``: ``{reason: {"flags", "right_flags", "precision", "episodes_flagged",
      "recall"}}`` (flags given as reasons only).

    Ratios are None when there is nothing to divide by. Objects of ``flags`` missing from ``ious``
    are not judged.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be an IoU in (0, 1], got {threshold!r}")
    if min(before, after, near) < 0:
        raise ValueError(
            f"before, after and near are frame counts >= 0, got {before}, {after}, {near}"
        )
    keys = ("wrong", "wrong_flagged", "episodes", "episodes_flagged", "flags", "right_flags")
    counts = {k: 0 for k in keys}
    reasons: dict[str, dict[str, int]] = {}
    for oid, row in ious.items():
        row = np.asarray(row, float)
        judged, wrong = ~np.isnan(row), np.nan_to_num(row, nan=1.0) < threshold
        marked = _flag_reasons(flags.get(oid, {}), len(row))
        counts["wrong"] += int(wrong.sum())
        counts["wrong_flagged"] += sum(1 for t in marked if wrong[t])
        for t, why in marked.items():
            if not judged[t]:
                continue
            right = bool(wrong[max(t - near, 0) : t + near + 1].any())
            counts["flags"] += 1
            counts["right_flags"] += right
            for reason in why:
                r = reasons.setdefault(reason, dict.fromkeys(REASON_KEYS, 0))
                r["flags"] += 1
                r["right_flags"] += right
        for start in _episodes(wrong):
            counts["episodes"] += 1
            hits = [marked[t] for t in range(start - before, start + after + 1) if t in marked]
            counts["episodes_flagged"] += bool(hits)
            for reason in set().union(*hits) if hits else ():
                reasons.setdefault(reason, dict.fromkeys(REASON_KEYS, 0))
                reasons[reason]["episodes_flagged"] += 1

    def ratio(a, b):
        return a / b if b else None

    out = dict(
        counts,
        frame_recall=ratio(counts["wrong_flagged"], counts["wrong"]),
        recall=ratio(counts["episodes_flagged"], counts["episodes"]),
        precision=ratio(counts["right_flags"], counts["flags"]),
    )
    out["by_reason"] = {
        k: dict(
            v,
            precision=ratio(v["right_flags"], v["flags"]),
            recall=ratio(v["episodes_flagged"], counts["episodes"]),
        )
        for k, v in sorted(reasons.items())
    }
    return out


def _flag_reasons(flags, n: int) -> dict[int, set[str]]:
    """``{frame: {reasons}}`` of one object's flags (see :func:`flag_quality`), frames 0..n-1."""
    if isinstance(flags, dict):
        items = [
            (int(t), why.split(";") if isinstance(why, str) else list(why))
            for t, why in flags.items()
        ]
        items = [(t, {w for w in why if w}) for t, why in items]
        return {t: why for t, why in items if why and 0 <= t < n}
    return {int(t): set() for t in flags if 0 <= int(t) < n}
