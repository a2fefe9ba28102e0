"""Pure helpers of the widget: how a prompt edit reaches the session, and label-layer bookkeeping (numpy only)."""

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
