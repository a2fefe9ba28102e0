"""Planning a session's work: the frames of each propagation pass, the frames a correction re-tracks, and
which frames feed an object's memory on a frame (objects with the same answer are tracked as one batch)."""

from __future__ import annotations

from typing import Mapping

from ..model.memory_bank import pointer_frames, recent_memory_frames
from ..model.sam2_base import SAM2Base
from .results import BACKWARD, FORWARD, ObjectTrack


def pass_plans(
    direction: str,
    start: int | None,
    max_frames: int | None,
    ids: list,
    objects: Mapping[int, ObjectTrack],
    num_frames: int,
) -> list[tuple[str, list[int]]]:
    """``[(direction, frames)]`` of each pass of a propagation of objects ``ids``: "both" is forward from
    the earliest prompted frame, then backward from the latest, unless ``start`` is given."""
    if not ids:
        raise RuntimeError("no object has prompts yet: add points, a box or a mask first")
    for oid in ids:
        if not objects[oid].prompts:
            raise RuntimeError(
                f"object {oid!r} has no prompted frame: add points, a box or a mask first"
            )
    passes = [FORWARD, BACKWARD] if direction == "both" else [direction]
    prompted = [p for oid in ids for p in objects[oid].prompts]
    n = num_frames if max_frames is None else max_frames
    plans = []
    for d in passes:
        s = start if start is not None else (min(prompted) if d == FORWARD else max(prompted))
        frames = (
            range(s, min(s + n, num_frames - 1) + 1)
            if d == FORWARD
            else range(s, max(s - n, 0) - 1, -1)
        )
        plans.append((d, list(frames)))
    return plans


def downstream(obj: ObjectTrack, frame: int, num_frames: int) -> list[tuple[str, list[int]]]:
    """The runs of ``obj``'s frames that passes tracked away from ``frame``, per direction, each up to
    the object's next prompted frame: what a correction on ``frame`` has to re-track."""
    ranges = []
    for d, step in ((FORWARD, 1), (BACKWARD, -1)):
        run, t = [], frame + step
        while 0 <= t < num_frames and t not in obj.prompts:
            r = obj.results.get(t)
            if r is None or r.direction != d:
                break
            run.append(t)
            t += step
        if run:
            ranges.append((d, run))
    return ranges


def memory_layout(
    obj: ObjectTrack, f: int, d: str, model: SAM2Base, num_frames: int, memory_frames: int | None
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """Which frames feed ``obj``'s memory on frame ``f`` in direction ``d``: (prompted, recent, pointer
    frames), or None when no prompted frame lies behind ``f``. Memory is causal: only prompted frames
    behind ``f`` in the pass's direction count. ``memory_frames`` keeps only that many recent frames."""
    cond = tuple(p for p in sorted(obj.prompts) if (p <= f if d == FORWARD else p >= f))
    if not cond:
        return None
    tracked = obj.results
    recent = tuple(
        t
        for _, t in recent_memory_frames(
            f, model.num_maskmem, d == BACKWARD, model.cfg.memory_temporal_stride_for_eval
        )
        if t in tracked and t not in obj.prompts
    )
    if (
        memory_frames is not None
    ):  # fast mode: only the nearest ones (the list ends with the previous frame)
        recent = recent[max(len(recent) - memory_frames, 0) :]
    max_ptrs = min(num_frames, model.cfg.max_obj_ptrs_in_encoder)
    ptrs = tuple(
        t
        for _, t in pointer_frames(f, num_frames, max_ptrs, d == BACKWARD)
        if t in tracked and t not in obj.prompts
    )
    return cond, recent, ptrs
