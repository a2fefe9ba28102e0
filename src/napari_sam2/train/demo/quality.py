"""Tracking quality against ground truth: one click per object on one frame, then propagation."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...engine.session import TrackingSession
from ...io import evaluate
from ...io.evaluate import mask_iou


def inner_point(mask: np.ndarray) -> tuple[float, float]:
    """The ``(x, y)`` pixel deepest inside a ``(H, W)`` mask (where a person would click)."""
    if not mask.any():
        raise ValueError("empty mask: no point to click")
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)
    return float(x), float(y)


def track_from_clicks(
    model, image: np.ndarray, labels: np.ndarray, frame: int = 0, obj_ids=None
) -> tuple[TrackingSession, dict[int, np.ndarray]]:
    """Click once inside each object of ``labels[frame]`` and track forward over the stack.

    Returns the session and ``{obj_id: (T,) IoU}`` per frame from ``frame`` on (NaN where the
    object is absent from both truth and prediction).
    """
    session = TrackingSession(model, image)
    ids = [int(i) for i in np.unique(labels[frame]) if i] if obj_ids is None else list(obj_ids)
    for oid in ids:
        session.add_points(frame, oid, [inner_point(labels[frame] == oid)], [1])
    session.propagate(start=frame)
    return session, object_ious(session.labels(), labels, ids, frame)


def track_from_labels(
    model, image: np.ndarray, labels: np.ndarray, frame: int = 0, **session_options
) -> tuple[TrackingSession, dict[int, np.ndarray]]:
    """Seed every object of ``labels[frame]`` with its mask (:meth:`TrackingSession.add_labels`) and track
    forward; returns the session and per-object IoUs as :func:`track_from_clicks`."""
    session = TrackingSession(model, image, **session_options)
    ids = session.add_labels(frame, labels[frame])
    session.propagate(start=frame)
    return session, object_ious(session.labels(), labels, ids, frame)


def tracked_mean(ious: dict[int, np.ndarray]) -> float:
    """The mean IoU over every object and tracked frame (the prompted first frame left out) of ``ious`` from
    :func:`track_from_clicks` or :func:`track_from_labels`."""
    return float(np.nanmean(np.stack(list(ious.values()))[:, 1:]))


def isolated_cells(model, seeds) -> list[float]:
    """Per movie, :func:`tracked_mean` of one click per cell on frame 0 of ``synthetic_cells`` movies (31
    frames, 128 px, 3 cells; one per seed): the demo's isolated-cell test, and v1's world in its validation."""
    from ...synthetic import synthetic_cells

    out = []
    for seed in seeds:
        image, truth = synthetic_cells(n_frames=31, size=(128, 128), n_cells=3, seed=seed)
        out.append(tracked_mean(track_from_clicks(model, image, truth)[1]))
    return out


def object_ious(pred: np.ndarray, labels: np.ndarray, ids, frame: int = 0) -> dict[int, np.ndarray]:
    """``{obj_id: (T,) IoU}`` of ``pred`` against ``labels`` (both ``(T, H, W)``) per frame from ``frame`` on,
    NaN before it and where the object is in neither (:func:`napari_sam2.io.evaluate.object_ious`)."""
    ious = evaluate.object_ious(pred, labels, ids)
    for row in ious.values():
        row[:frame] = np.nan
    return ious


def correct_worst(
    session: TrackingSession, ious: dict[int, np.ndarray], truth: np.ndarray
) -> tuple[int, int, float, float]:
    """Click once where the worst tracked object-frame is wrong (positive on the larger missed part,
    else negative on the false part) as a user would, and re-track.

    Returns ``(obj_id, frame, iou_before, iou_after)`` on that frame.
    """
    ids = list(ious)
    table = np.stack([ious[i] for i in ids])
    k, frame = np.unravel_index(int(np.argmin(np.where(np.isnan(table), 2, table))), table.shape)
    obj, frame = ids[k], int(frame)
    target = truth[frame] == obj
    pred = session.label_frame(frame) == obj
    missed, extra = target & ~pred, pred & ~target
    wrong, label = (missed, 1) if missed.sum() >= extra.sum() else (extra, 0)
    before = mask_iou(pred, target)
    session.correct(frame, obj, points=[inner_point(wrong)], labels=[label])
    return obj, frame, before, mask_iou(session.label_frame(frame) == obj, target)


def found_share(truth: np.ndarray, pred: np.ndarray, min_area: int = 30) -> tuple[int, int]:
    """(cells of ``truth`` with >= ``min_area`` px that a label of ``pred`` matches at IoU >= 0.5, those cells)."""
    t_ids, t_area = np.unique(truth, return_counts=True)
    p_ids, p_area = np.unique(pred, return_counts=True)
    pairs, inter = np.unique(np.stack([truth.ravel(), pred.ravel()]), axis=1, return_counts=True)
    t_size, p_size = dict(zip(t_ids, t_area)), dict(zip(p_ids, p_area))
    cells = {int(t) for t in t_ids if t and t_size[t] >= min_area}
    found = set()
    for (t, p), n in zip(pairs.T, inter):
        if t in cells and p and n / (t_size[t] + p_size[p] - n) >= 0.5:
            found.add(int(t))
    return len(found), len(cells)


def automatic_found(model, seeds, settings=None) -> list[tuple[int, int]]:
    """:func:`found_share` of the automatic mask generator (``engine.auto.segment_all``) on frame 0 of a
    256 px ``synthetic_world`` movie per seed."""
    from ...engine.auto import segment_all
    from .world import synthetic_world

    out = []
    for seed in seeds:
        image, truth, _ = synthetic_world(n_frames=1, size=(256, 256), seed=seed)
        out.append(found_share(truth[0], segment_all(model, image[0], settings)))
    return out


def pooled_share(found: list[tuple[int, int]]) -> float:
    """The share of all cells found over ``(found, cells)`` pairs (:func:`automatic_found`): a crowded frame
    weighs as many cells as it has."""
    return sum(f for f, _ in found) / max(sum(n for _, n in found), 1)
