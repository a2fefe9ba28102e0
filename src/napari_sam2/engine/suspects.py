"""Suspect object-frames: where a tracked mask is probably wrong although the model is sure of it.

SAM 2 on cells swaps touching look-alikes, merges two cells, jumps to a neighbour or grows over the
frame, and its object score stays high. Such object-frames are "suspect", with reasons computed from
what tracking already has (the decoded masks, object scores and predicted IoUs), per object and
tracked frame, against the object's own recent frames in the direction the frame was tracked:

* ``overlap``: the object's mask and another object's overlap by more than
  :attr:`SuspectSettings.overlap` of the smaller of the two, or the mask covers more than
  :attr:`SuspectSettings.takeover` of another object's mask on the frame before, which its own mask
  there did not (it moved onto that object's place). With exclusive pixels, overlaps are measured on
  the masks as decoded, before each pixel is given to the highest logit (which would hide a merge).
  With resolved memory they are measured on the resolved masks: there two decoded masks overlap on
  most frames where look-alikes touch, and the motion rule, not the logit, decides whose pixels
  those are (measured: flagging those overlaps made 4 of 5 flags false). The other checks always use
  the masks as stored and shown.
* ``area``: the area is outside ``[median / area_band, median * area_band]`` of the recent frames'.
* ``position``: the centroid is more than :attr:`SuspectSettings.position` equivalent radii
  (``sqrt(area / pi)``) from a constant-velocity prediction: a straight line through the recent
  centroids, fitted robustly (Theil-Sen: the median of the pairwise velocities, so one jump does not
  bend it); it needs two recent frames.
* ``confidence``: the object score (logit) or the predicted IoU falls more than ``score_drop`` or
  ``iou_drop`` below the median of the object's recent tracked frames.
* ``fragments``: the mask is in pieces, the second largest at least ``fragments`` of the largest.
* ``size``: the mask covers more than ``max_size`` of the model's input (the frame, or the window in
  window mode), and more than 1.5 times what the object's prompt covered.

Prompted frames (the user's own) and lost frames (already shown as lost) are never suspect.
Everything is measured on the model's low-resolution masks (S/4 px), so it costs little next to the
model: one small measurement per object-frame, made once (stored with the result) and replaced with
it, so a correction's re-tracked frames get new suspects. Window mode, volumes and both directions
work alike: a window's masks are placed in the frame at their window's offset, and "recent" means
the frames before in the direction each frame was tracked.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import numpy as np
import torch
from scipy import ndimage

from ..settings import SuspectSettings
from .results import BACKWARD, FORWARD, FrameResult, ObjectTrack
from .windows import Window

REASONS = ("overlap", "area", "position", "confidence", "fragments", "size")
EIGHT = np.ones((3, 3), bool)


class Measures(NamedTuple):
    """One decoded mask, measured on the model's low-res grid placed in the frame.

    cells: grid cells covered; area: frame px; centroid: (y, x) frame px, None when empty; box: (r0,
    c0, r1, c1) half-open, in grid cells of the frame (the same grid for every object of a session);
    bits: the mask inside ``box``, ``np.packbits``-ed; pieces: the second largest connected piece
    over the largest (0: one piece); fraction: share of the model's input (frame or window)
    covered."""

    cells: int
    area: float
    centroid: tuple[float, float] | None
    box: tuple[int, int, int, int] | None
    bits: np.ndarray | None
    pieces: float
    fraction: float

    def mask(self) -> np.ndarray:
        r0, c0, r1, c1 = self.box
        n = (r1 - r0) * (c1 - c0)
        return np.unpackbits(self.bits, count=n).reshape(r1 - r0, c1 - c0).astype(bool)


def measure(logits: torch.Tensor, window: Window | None, shape: tuple[int, int]) -> Measures:
    """:class:`Measures` of ``(1, 1, h, w)`` low-res ``logits`` of a frame of ``shape`` (H, W), made
    in ``window`` (None: the whole frame resized to the model's input)."""
    mask = (logits[0, 0] > 0).cpu().numpy()
    gh, gw = mask.shape
    if window is None:
        unit, offset = (shape[0] / gh, shape[1] / gw), (0, 0)
    else:  # window corners are multiples of 16 px, a whole number of grid cells
        unit = (window.size / gh, window.size / gw)
        offset = (round(window.y0 / unit[0]), round(window.x0 / unit[1]))
        mask = mask[
            : math.ceil((shape[0] - window.y0) / unit[0]),
            : math.ceil((shape[1] - window.x0) / unit[1]),
        ]
    count = int(mask.sum())
    if not count:
        return Measures(0, 0.0, None, None, None, 0.0, 0.0)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = mask[r0:r1, c0:c1]
    parts, n = ndimage.label(crop, EIGHT)
    pieces = 0.0
    if n > 1:
        sizes = np.sort(np.bincount(parts.ravel())[1:])
        pieces = float(sizes[-2] / sizes[-1])
    ys, xs = np.nonzero(crop)
    centroid = (
        (offset[0] + r0 + ys.mean() + 0.5) * unit[0],
        (offset[1] + c0 + xs.mean() + 0.5) * unit[1],
    )
    box = (int(offset[0] + r0), int(offset[1] + c0), int(offset[0] + r1), int(offset[1] + c1))
    return Measures(
        count,
        count * unit[0] * unit[1],
        centroid,
        box,
        np.packbits(crop),
        pieces,
        count / (gh * gw),
    )


def measures_of(r: FrameResult, shape: tuple[int, int]) -> Measures:
    """The :class:`Measures` of the result's mask, made from its logits the first time."""
    if r.measures is None:
        r.measures = measure(r.logits, r.window, shape)
    return r.measures


def _overlap(a: Measures, b: Measures) -> int:
    """Grid cells two measured masks share."""
    r0, c0 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    r1, c1 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if r0 >= r1 or c0 >= c1:
        return 0
    ma, mb = a.mask(), b.mask()
    return int(
        (
            ma[r0 - a.box[0] : r1 - a.box[0], c0 - a.box[1] : c1 - a.box[1]]
            & mb[r0 - b.box[0] : r1 - b.box[0], c0 - b.box[1] : c1 - b.box[1]]
        ).sum()
    )


def recent_results(
    obj: ObjectTrack, f: int, forward: bool, n: int
) -> list[tuple[int, FrameResult]]:
    """Up to ``n`` results of ``obj`` before ``f`` in the tracking direction, nearest first, lost
    ones left out; the run stops at a frame without a result, and after a prompted frame (a prompt
    says where the object is: what came before it does not count)."""
    step = -1 if forward else 1
    out, t = [], f + step
    while len(out) < n and t in obj.results and abs(t - f) <= 3 * n:
        if not obj.results[t].lost:
            out.append((t, obj.results[t]))
        if t in obj.prompts:
            break
        t += step
    return out


def _median(values: list[float]) -> float:
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def line_at(past: list[tuple[int, Measures]], f: int) -> np.ndarray | None:
    """The (y, x) centroid on frame ``f`` of a straight line through the centroids of ``past``
    (``[(frame, Measures)]``, at least two), fitted robustly (Theil-Sen); None with fewer than
    two."""
    if len(past) < 2:
        return None
    ts = np.array([t for t, _ in past], float) - f
    cs = np.array([pm.centroid for _, pm in past])
    i, j = np.triu_indices(len(ts), 1)
    slope = np.median((cs[j] - cs[i]) / (ts[j] - ts[i])[:, None], axis=0)
    return np.median(cs - ts[:, None] * slope, axis=0)


def _own_reasons(
    obj: ObjectTrack,
    f: int,
    r: FrameResult,
    m: Measures,
    shape,
    s: SuspectSettings,
    prompt_fraction: float,
) -> set[str]:
    """The reasons that need only the object itself: area, position, confidence, fragments, size."""
    reasons = set()
    if m.pieces >= s.fragments:
        reasons.add("fragments")
    if m.fraction > max(s.max_size, 1.5 * prompt_fraction):
        reasons.add("size")
    recent = recent_results(obj, f, r.direction == FORWARD, int(s.history))
    past = [(t, measures_of(p, shape)) for t, p in recent]
    past = [(t, pm) for t, pm in past if pm.centroid is not None]
    if past:
        area = _median([pm.area for _, pm in past])
        if not area / s.area_band <= m.area <= area * s.area_band:
            reasons.add("area")
        predicted = line_at(past, f)
        if predicted is not None and math.hypot(
            *(np.asarray(m.centroid) - predicted)
        ) > s.position * math.sqrt(area / math.pi):
            reasons.add("position")
    tracked = [p for t, p in recent if t not in obj.prompts]
    if tracked:
        if (
            _median([p.score for p in tracked]) - r.score > s.score_drop
            or _median([p.iou for p in tracked]) - r.iou > s.iou_drop
        ):
            reasons.add("confidence")
    return reasons


def find_suspects(
    objects: Mapping[int, ObjectTrack], shape: tuple[int, int], settings: SuspectSettings
) -> dict[int, dict[int, list[str]]]:
    """``{obj_id: {frame: [reasons]}}`` of every object (an empty dict when never suspect): the
    tracked, not lost object-frames with at least one reason, reasons in the order of
    :data:`REASONS`. ``shape``: the frame's (H, W)."""
    found: dict[int, dict[int, set[str]]] = {oid: {} for oid in objects}
    by_frame: dict[int, list[tuple[int, Measures, bool]]] = {}
    for oid, obj in objects.items():
        prompt_fraction = max(
            (measures_of(obj.results[p], shape).fraction for p in obj.prompts if p in obj.results),
            default=0.0,
        )
        for f, r in obj.results.items():
            if r.lost:
                continue
            m = measures_of(r, shape)
            if m.centroid is None:
                continue
            judged = f not in obj.prompts and r.direction is not None
            decoded = m if r.decoded is None else r.decoded  # before exclusive pixels
            if decoded.box is not None:
                by_frame.setdefault(f, []).append((oid, decoded, judged))
            if judged:
                reasons = _own_reasons(obj, f, r, m, shape, settings, prompt_fraction)
                if reasons:
                    found[oid][f] = reasons
    for f, here in by_frame.items():
        _overlaps(f, here, by_frame, objects, settings, found)
    return {
        oid: {f: [x for x in REASONS if x in found[oid][f]] for f in sorted(found[oid])}
        for oid in objects
    }


def _boxes_meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` bool: which (r0, c0, r1, c1) boxes of ``a`` and ``b`` intersect."""
    return (
        (a[:, None, 0] < b[None, :, 2])
        & (b[None, :, 0] < a[:, None, 2])
        & (a[:, None, 1] < b[None, :, 3])
        & (b[None, :, 1] < a[:, None, 3])
    )


def _overlaps(f: int, here: list, by_frame: dict, objects, s: SuspectSettings, found: dict) -> None:
    """Add ``overlap`` to the judged object-frames of frame ``f`` that share pixels with another
    object, or moved onto another object's place of the frame before (``by_frame``: ``{frame: [(oid,
    Measures as decoded, judged)]}`` of the objects present there; ``here`` is that of ``f``)."""
    boxes = np.array([m.box for _, m, _ in here])
    for i, j in zip(*np.nonzero(np.triu(_boxes_meet(boxes, boxes), 1))):
        (a, ma, ja), (b, mb, jb) = here[i], here[j]
        if (ja or jb) and _overlap(ma, mb) > s.overlap * min(ma.cells, mb.cells):
            for oid, judged in ((a, ja), (b, jb)):
                if judged:
                    found[oid].setdefault(f, set()).add("overlap")
    for before in (f - 1, f + 1):
        ids = [
            k
            for k, (oid, _, judged) in enumerate(here)
            if judged and objects[oid].results[f].direction == (FORWARD if before < f else BACKWARD)
        ]
        if not ids or before not in by_frame:
            continue
        prev = by_frame[before]
        own = {oid: m for oid, m, _ in prev}
        meet = _boxes_meet(boxes[ids], np.array([m.box for _, m, _ in prev]))
        for k, row in zip(ids, meet):
            oid, m, _ = here[k]
            mine = own.get(
                oid
            )  # where the mask already lay on another object's, it did not move there
            if any(
                o != oid
                and _overlap(m, pm) > s.takeover * pm.cells
                and (mine is None or _overlap(mine, pm) <= s.takeover * pm.cells)
                for (o, pm, _), near in zip(prev, row)
                if near
            ):
                found[oid].setdefault(f, set()).add("overlap")
