"""Prompt synchronisation, pure Python: where the session's frames sit in the layers' data, the
click and box layers' contents read into one prompt per (object, frame), diffed against what the
session was last sent, and the worker body that sends one change to the session (no Qt, no
napari)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .output_sync import tracked_frames


@dataclass(frozen=True)
class Place:
    """Where a session's (frames, H, W) stack sits in an image layer's data of ``ndim`` axes: the
    tracked axis ``track_dim``, the other leading axes held at ``fixed`` (axis -> index), Y and X
    last. ``unit`` names what the tracked axis holds ("slice" in a volume)."""

    ndim: int = 3
    track_dim: int = 0
    fixed: dict = field(default_factory=dict)
    unit: str = "frame"

    def coords(self, frame: int, n: int) -> np.ndarray:
        """(n, ndim) data coordinates on ``frame`` (Y and X zero, the fixed axes at their index)."""
        coords = np.zeros((n, self.ndim))
        for dim, idx in self.fixed.items():
            coords[:, dim] = idx
        coords[:, self.track_dim] = frame
        return coords

    def off_slice(self, coord) -> tuple[int, int] | None:
        """``(axis, index)`` of the first held axis on which data coordinate ``coord`` lies
        elsewhere than the session's slice, or None when it lies on it."""
        for dim, idx in self.fixed.items():
            if int(round(coord[dim])) != idx:
                return dim, int(round(coord[dim]))
        return None

    @property
    def held_axis(self) -> str:
        """The name of the axis held at one index in 4-D data: z when tracking time, t through a
        volume."""
        return "z" if self.unit == "frame" else "t"

    def frame_of(self, coord, num_frames: int) -> int | None:
        """The frame of data coordinate ``coord``, or None for a point on another slice of the fixed
        axes or outside the ``num_frames`` frames."""
        for dim, idx in self.fixed.items():
            if int(round(coord[dim])) != idx:
                return None
        f = int(round(coord[self.track_dim]))
        return f if 0 <= f < num_frames else None


def box_corners(y0: float, x0: float, y1: float, x1: float) -> list[list[float]]:
    """The four (y, x) corners of a box, as a napari rectangle lists them."""
    return [[y0, x0], [y0, x1], [y1, x1], [y1, x0]]


def saved_prompts(data: dict):
    """Each step of a saved session's prompts (the dict of
    :func:`~napari_sam2.io.session_files.read_session_json`) as ``(object, frame, clicks, box,
    mask)`` in napari's (y, x) order: clicks ``[(y, x, positive)]``, box ``(y0, x0, y1, x1)`` or
    None, mask ``(N, 2)`` (y, x) pixel indices or None."""
    for obj, frames in data["objects"].items():
        for f, steps in frames.items():
            for step in steps:
                pairs = zip(step.get("points") or [], step.get("labels") or [])
                clicks = [(y, x, bool(lab)) for (x, y), lab in pairs]
                box = step.get("box")
                box = (box[1], box[0], box[3], box[2]) if box else None
                mask = step.get("mask")
                mask = None if mask is None else np.asarray(mask, int).reshape(-1, 2)
                yield int(obj), int(f), clicks, box, mask


def read_prompts(points, point_features, boxes, box_features, frame_of: Callable) -> dict:
    """Every prompt in a click and a box layer: (object, frame) -> ``{"points": [[x, y], ...],
    "labels": [1/0, ...], "box": [x0, y0, x1, y1] or None}``.

    ``points`` (N, D) click coordinates (Y, X last) with ``point_features`` columns ``obj_id`` and
    ``positive``; ``boxes`` a sequence of (4, D) corner arrays with ``box_features`` column
    ``obj_id`` (a napari layer's ``data`` and ``features``). ``frame_of(coord)`` gives a
    coordinate's frame, None to skip it.
    """
    prompts: dict = {}
    points = np.asarray(points)
    if len(points):
        objs, signs = np.asarray(point_features["obj_id"]), np.asarray(point_features["positive"])
        for i, pt in enumerate(points):
            f = frame_of(pt)
            if f is None:
                continue
            entry = prompts.setdefault((int(objs[i]), f), {"points": [], "labels": [], "box": None})
            entry["points"].append([float(pt[-1]), float(pt[-2])])
            entry["labels"].append(1 if bool(signs[i]) else 0)
    if len(boxes):
        objs = np.asarray(box_features["obj_id"])
        for i, verts in enumerate(boxes):
            verts = np.asarray(verts)
            f = frame_of(verts[0])
            if f is None:
                continue
            entry = prompts.setdefault((int(objs[i]), f), {"points": [], "labels": [], "box": None})
            (y0, x0), (y1, x1) = verts[:, -2:].min(0), verts[:, -2:].max(0)
            entry["box"] = [float(x0), float(y0), float(x1), float(y1)]
    return prompts


def diff_prompts(new: dict, old: dict) -> list[tuple[int, int, dict | None, dict | None]]:
    """(object, frame, prompt now or None, prompt before or None) for each (object, frame) whose
    prompt differs between ``old`` and ``new`` (both as :func:`read_prompts` gives them), sorted."""
    changed = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
    return [(obj, frame, new.get((obj, frame)), old.get((obj, frame))) for obj, frame in changed]


@dataclass(frozen=True)
class PromptUpdate:
    """What to send for one (object, frame): ``points`` (N, 2) in (x, y) pixels, ``labels``, ``box``
    (x0, y0, x1, y1); ``clear`` False continues from the frame's last state (one added click),
    True starts the frame over with the whole prompt. ``remove``: the frame has no prompt left."""

    points: list | None
    labels: list | None
    box: list | None
    clear: bool
    remove: bool = False


def prompt_update(old: dict | None, new: dict | None) -> PromptUpdate:
    """The session call for a change of one frame's prompt from ``old`` to ``new``.

    Prompts are ``{"points": [[x, y], ...], "labels": [1/0, ...], "box": [x0, y0, x1, y1] | None}``.
    One click added after the old ones (same box) is sent alone and refines the frame's last mask,
    as click-by-click refinement does in SAM 2; any other change resends everything from scratch.
    """
    if new is None:
        return PromptUpdate(None, None, None, True, remove=True)
    pts, labs = list(new["points"]), list(new["labels"])
    if (
        old is not None
        and old.get("box") == new.get("box")
        and len(pts) == len(old["points"]) + 1
        and pts[:-1] == list(old["points"])
        and labs[:-1] == list(old["labels"])
    ):
        return PromptUpdate([pts[-1]], [labs[-1]], None, clear=False)
    return PromptUpdate(pts or None, labs or None, new.get("box"), clear=True)


def prompt_job(
    session, obj: int, frame: int, prompt: dict | None, old: dict | None = None, mask=None
):
    """The worker body that sends one frame's prompt of ``obj`` to ``session`` and re-tracks what it
    changes.

    ``prompt`` and ``old`` are the frame's prompt now and as last sent (see :func:`prompt_update`),
    or ``mask`` (H, W) replaces them. One click added to the frame's earlier ones is sent alone and
    refines the frame's last mask; any other change starts the frame over with all its prompts. A
    frame left without prompts loses the object there; an object left without any prompt is removed
    from the session. The body returns ``(info, frames, removed)``: ``info`` None or (correction
    report or None, mask candidates of a single click), ``frames`` [(frame, labels)] to write,
    ``removed`` whether the object went.
    """
    update = prompt_update(old, prompt) if mask is None else None
    full = None if mask is not None else prompt_update(None, prompt)

    def job(j):
        if update is not None and update.remove:
            if obj not in session.obj_ids:
                return None, [(frame, session.label_frame(frame))], False
            session.clear_prompts(frame, obj)
            removed = not session.timeline(obj).prompted
            frames = {frame}
            if removed:  # no prompt left: the object goes, from every frame it was tracked on
                frames.update(tracked_frames(session, obj))
                session.remove_object(obj)
            return None, [(f, session.label_frame(f)) for f in sorted(frames)], removed
        known = obj in session.obj_ids
        send = update
        if (
            send is not None
            and not send.clear
            and (not known or frame not in session.timeline(obj).prompted)
        ):
            send = full  # the session lacks the earlier clicks (e.g. their job failed): send all
        if known:
            if mask is not None:
                report = session.correct(frame, obj, mask=mask, cancel=j.is_cancelled)
            else:
                report = session.correct(
                    frame,
                    obj,
                    send.points,
                    send.labels,
                    send.box,
                    clear=send.clear,
                    cancel=j.is_cancelled,
                )
        else:
            if mask is not None:
                session.add_mask(frame, obj, mask)
            else:
                session.add_points(frame, obj, send.points, send.labels, send.box, clear=True)
            report = None
        frames = [frame] + ([] if report is None else report.frames)
        single = (
            full is not None
            and full.points is not None
            and len(full.points) == 1
            and full.box is None
        )
        cands = session.candidates(frame, obj) if single else []
        return (report, cands), [(f, session.label_frame(f)) for f in frames], False

    return job
