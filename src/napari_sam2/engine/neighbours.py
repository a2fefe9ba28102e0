"""Neighbour-resolved memory (``memory="resolved"``): what enters an object's memory when look-alike
cells touch.

SAM 2's identity failures on cells are memory drift: over a few frames a mask lags its cell and
bleeds onto a touching look-alike, the next frame attends to that memory, and the object ends on its
neighbour. Written into memory with the true masks the same movies track without a swap
(docs/benchmarks.md). Two rules, applied on every tracked frame between decoding all objects and
encoding their memory, bring the memory closer to that:

* **Pixels claimed by two objects go to one, by score and motion fit.** As with exclusive pixels,
  the highest logit wins a low-res pixel, but an object's logit counts :data:`MOTION_BONUS` more
  where the pixel lies in its motion prediction: its mask of the frame before, moved by the velocity
  of its recent frames. A neighbour that bleeds over a cell loses the pixels the cell is moving
  into.
* **A mask that lags its cell is moved onto it for the memory.** The mask written into memory is the
  resolved mask moved (by whole and fractions of low-res pixels) so that its centroid sits where the
  object's recent motion puts it, if that is at most :data:`MOST_LAG` low-res pixels away (further,
  the object jumped or turned, and moving the mask would not help). The motion is a straight line
  through the centroids of the object's last :data:`HISTORY` tracked frames, fitted robustly
  (Theil-Sen), and needs three of them (a prompted frame does not count: a mask from one click often
  covers part of the cell only, and would bend the line). The move is stored with the result, so a
  memory dropped to save RAM is rebuilt exactly.

The shown results are the resolved masks (each pixel belongs to one object, as with exclusive
pixels); only the memory sees the moved ones.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .results import FORWARD, ObjectTrack
from .suspects import line_at, measure, measures_of, recent_results
from .windows import NO_OBJECT, Window, move

MOTION_BONUS = 10.0  # logits added where a contested pixel lies in an object's motion prediction
MOST_LAG = 3.0  # low-res pixels: the furthest a mask is moved for its memory
HISTORY = 12  # recent tracked frames that give an object's motion


def shifted(logits: torch.Tensor, by: tuple[float, float] | None) -> torch.Tensor:
    """``(B, 1, h, w)`` logits moved ``by`` = (dy, dx) low-res pixels (fractions interpolated
    bilinearly; no object where nothing moved in)."""
    if by is None:
        return logits
    b, _, h, w = logits.shape
    theta = torch.tensor(
        [[1.0, 0.0, -2.0 * by[1] / w], [0.0, 1.0, -2.0 * by[0] / h]],
        dtype=logits.dtype,
        device=logits.device,
    )
    grid = F.affine_grid(theta[None].expand(b, -1, -1), list(logits.shape), align_corners=False)
    out = F.grid_sample(
        logits - NO_OBJECT, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return out + NO_OBJECT


def _unit(window: Window | None, grid: int, shape: tuple[int, int]) -> tuple[float, float]:
    """Frame px per low-res pixel (y, x)."""
    if window is None:
        return shape[0] / grid, shape[1] / grid
    return window.size / grid, window.size / grid


def predicted(obj: ObjectTrack, f: int, d: str, shape: tuple[int, int]) -> np.ndarray | None:
    """``obj``'s (y, x) centroid on ``f`` by the motion of its recent tracked frames (see the
    module)."""
    past = [
        (t, measures_of(r, shape))
        for t, r in recent_results(obj, f, d == FORWARD, HISTORY)
        if t not in obj.prompts
    ]
    past = [(t, m) for t, m in past if m.centroid is not None]
    return line_at(past, f) if len(past) >= 3 else None


def motion_ranks(
    f: int,
    d: str,
    decoded: torch.Tensor,
    objs: list[ObjectTrack],
    windows: list,
    shape: tuple[int, int],
    predictions: list | None = None,
) -> torch.Tensor:
    """``decoded`` (``(N, 1, h, w)`` logits of ``objs`` in ``windows``) with :data:`MOTION_BONUS`
    added where an object's logit is positive and its motion prediction covers the pixel: the ranks
    that decide who keeps a contested pixel. ``predictions``: each object's :func:`predicted`
    centroid, when the caller has them."""
    if predictions is None:
        predictions = [predicted(obj, f, d, shape) for obj in objs]
    ranks = decoded.clone()
    before = f - 1 if d == FORWARD else f + 1
    for k, (obj, p) in enumerate(zip(objs, predictions)):
        r = obj.results.get(before)
        c = None if r is None or r.lost else measures_of(r, shape).centroid
        if p is None or c is None:
            continue
        uy, ux = _unit(r.window, r.logits.shape[-1], shape)
        prior = (
            shifted(move(r.logits, r.window, windows[k]), ((p[0] - c[0]) / uy, (p[1] - c[1]) / ux))
            > 0
        )
        ranks[k] = torch.where((decoded[k] > 0) & prior[0], decoded[k] + MOTION_BONUS, decoded[k])
    return ranks


def lag(
    obj: ObjectTrack,
    f: int,
    d: str,
    logits: torch.Tensor,
    window: Window | None,
    shape: tuple[int, int],
    prediction=...,
) -> tuple[float, float] | None:
    """The (dy, dx) low-res pixels that move ``obj``'s ``(1, 1, h, w)`` mask on ``f`` onto its
    predicted centroid, or None (no prediction, an empty mask, or further than :data:`MOST_LAG`).
    ``prediction``: its :func:`predicted` centroid, when the caller has it."""
    p = predicted(obj, f, d, shape) if prediction is ... else prediction
    c = measure(logits, window, shape).centroid
    if p is None or c is None:
        return None
    uy, ux = _unit(window, logits.shape[-1], shape)
    by = ((p[0] - c[0]) / uy, (p[1] - c[1]) / ux)
    return by if max(abs(by[0]), abs(by[1])) <= MOST_LAG else None
