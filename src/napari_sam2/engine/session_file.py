"""A tracking session as plain data and back: its prompts (what a session file keeps), a record of its
results, and replaying saved prompts into a session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .session import TrackingSession


def session_dict(session: "TrackingSession") -> dict:
    """All prompts as plain data (clicks in (x, y) pixels), e.g. to save a session, with the model's name and
    input size, the intensity window, the tracking settings (``tracking``, a
    :class:`~napari_sam2.settings.TrackingSettings` as a dict) and a record of the results: frames tracked
    per object and the frames where each object is lost (results themselves are not saved;
    :func:`apply_session_dict` ignores these records). The layout of format version 2
    (:func:`napari_sam2.io.exports.read_session_json` reads version 1 into it)."""
    objects = {}
    for oid, obj in session.objects.items():
        frames = {}
        for f, steps in obj.prompts.items():
            frames[str(f)] = [
                {k: (np.argwhere(v).tolist() if k == "mask" else v) for k, v in s.items()}
                for s in steps
            ]
        objects[str(oid)] = frames
    lost = {str(oid): frames for oid, frames in session.lost_frames().items() if frames}
    return {
        "objects": objects,
        "shape": list(session.shape),
        "model": session.model.cfg.name,
        "image_size": session.model.image_size,
        "contrast_limits": session.frames.contrast_limits,
        "tracking": session.tracking.as_dict(),
        "window_used": session.window,
        "tracked_frames": {str(oid): len(obj.results) for oid, obj in session.objects.items()},
        "lost_frames": lost,
        "divisions": session.tree.divisions(),
    }


def apply_session_dict(session: "TrackingSession", data: dict) -> None:
    """Re-apply prompts saved by :func:`session_dict` (results are recomputed on propagation)."""
    if list(data.get("shape", [])) != list(session.shape):
        raise ValueError(
            f"the saved prompts are for a stack of shape {data.get('shape')}, not {session.shape}"
        )
    divisions = data.get("divisions", [])
    parents_first = sorted(
        data["objects"], key=lambda o: any(int(o) in dv["daughters"] for dv in divisions)
    )
    done = set()
    for oid in parents_first:
        frames = data["objects"][oid]
        for f, steps in frames.items():
            for i, step in enumerate(steps):
                if "mask" in step:
                    m = np.zeros((session.frames.height, session.frames.width), bool)
                    idx = np.asarray(step["mask"], int).reshape(-1, 2)
                    m[idx[:, 0], idx[:, 1]] = True
                    session.add_mask(int(f), int(oid), m)
                else:
                    session.add_points(
                        int(f), int(oid), step["points"], step["labels"], step["box"], clear=i == 0
                    )
        for dv in divisions:
            if dv["parent"] == int(oid) and dv["parent"] not in done:
                session.mark_division(dv["parent"], dv["frame"], dv["daughters"])
                done.add(dv["parent"])
