"""Pure helpers of the widget: how a prompt edit reaches the session (the worker body included), and
label-layer bookkeeping (numpy only, no Qt)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


def digest(a: np.ndarray) -> bytes:
    """A short fingerprint of a frame, to tell the user's edits from what the widget wrote."""
    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


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
    if (old is not None and old.get("box") == new.get("box") and len(pts) == len(old["points"]) + 1
            and pts[:-1] == list(old["points"]) and labs[:-1] == list(old["labels"])):
        return PromptUpdate([pts[-1]], [labs[-1]], None, clear=False)
    return PromptUpdate(pts or None, labs or None, new.get("box"), clear=True)


def frames_with(data: np.ndarray, label: int) -> list[int]:
    """Frames of a (T, Y, X) label stack that hold ``label``."""
    return [int(f) for f in np.flatnonzero((np.asarray(data) == label).reshape(len(data), -1).any(1))]


def tracked_frames(session, obj: int) -> list[int]:
    """Frames where ``obj`` has a result in ``session`` (empty when the session does not know it)."""
    try:
        return session.tracked_frames(obj)
    except KeyError:
        return []


def prompt_job(session, obj: int, frame: int, prompt: dict | None, old: dict | None = None, mask=None):
    """The worker body that sends one frame's prompt of ``obj`` to ``session`` and re-tracks what it changes.

    ``prompt`` and ``old`` are the frame's prompt now and as last sent (see :func:`prompt_update`), or
    ``mask`` (H, W) replaces them. One click added to the frame's earlier ones is sent alone and refines the
    frame's last mask; any other change starts the frame over with all its prompts. A frame left without
    prompts loses the object there; an object left without any prompt is removed from the session.
    The body returns ``(info, frames, removed)``: ``info`` None or (correction report or None, mask
    candidates of a single click), ``frames`` [(frame, labels)] to write, ``removed`` whether the object went.
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
        if send is not None and not send.clear and (not known or frame not in session.timeline(obj).prompted):
            send = full  # the session lacks the earlier clicks (e.g. their job failed): send all
        if known:
            if mask is not None:
                report = session.correct(frame, obj, mask=mask, cancel=j.is_cancelled)
            else:
                report = session.correct(frame, obj, send.points, send.labels, send.box, clear=send.clear,
                                         cancel=j.is_cancelled)
        else:
            if mask is not None:
                session.add_mask(frame, obj, mask)
            else:
                session.add_points(frame, obj, send.points, send.labels, send.box, clear=True)
            report = None
        frames = [frame] + ([] if report is None else report.frames)
        single = full is not None and full.points is not None and len(full.points) == 1 and full.box is None
        cands = session.candidates(frame, obj) if single else []
        return (report, cands), [(f, session.label_frame(f)) for f in frames], False

    return job
