"""A prompted frame's result: its prompt history run as the official predictor runs a newly prompted frame
(each step refines the previous step's mask, no memory involved), whole-frame or in the object's window."""

from __future__ import annotations

import numpy as np
import torch

from ..model.steps import Points
from ..predictor.core import TrackerCore
from ..predictor.prompts import mask_to_model_input, video_prompt
from .results import FrameResult
from .windows import prompt_window, steps_in_window


def anchored(steps: list[dict]) -> bool:
    """Whether a frame's prompt history says where the object is: a positive click, a box or a mask
    (negative clicks alone say only where it is not)."""
    return any("mask" in s or s["box"] is not None or 1 in (s["labels"] or ()) for s in steps)


def check_steps(obj_id: int, frame: int, steps: list[dict]) -> None:
    """Refuse a frame's prompt history that is not :func:`anchored`."""
    if not anchored(steps):
        raise ValueError(
            f"object {obj_id} on frame {frame} has only negative clicks: an object needs a "
            "positive click, a box or a mask there (negative clicks take area away from those)"
        )


def click_step(points, labels, box) -> dict:
    """One prompt step in the session's plain-data layout: clicks ``(N, 2)`` (x, y), labels, a box."""
    return {
        "points": None if points is None else np.asarray(points, float).reshape(-1, 2).tolist(),
        "labels": None if labels is None else np.asarray(labels).reshape(-1).astype(int).tolist(),
        "box": None if box is None else np.asarray(box, float).reshape(-1).tolist(),
    }


def prompted_result(
    core: TrackerCore,
    frame: int,
    steps: list[dict],
    window_size: int | None,
    resume: FrameResult | None = None,
) -> FrameResult:
    """The result of ``frame`` after its prompt ``steps``; ``resume`` holds the state after all but the last
    step, so a further click continues from there. ``window_size``: window mode's window (the prompt is seen
    from the window around it), None for the whole frame. The frame's memory is made later, when tracking
    first needs it."""
    size, dev = core.model.image_size, core.model.device
    points = prev = win = None
    h, w = core.frames.height, core.frames.width
    if window_size is not None:  # window mode: the prompt as seen from its window
        win = prompt_window(steps, (h, w), size)
        resume = resume if resume is not None and resume.window == win else None
        steps, h, w = steps_in_window(steps, win, f"frame {frame}"), size, size
    if resume is not None and resume.replay is not None:
        points = resume.replay
        prev = resume.logits.clamp(-32.0, 32.0)
        steps = steps[-1:]
    out = None
    for step in steps:
        if "mask" in step:
            out = core.prompt(frame, mask=mask_to_model_input(step["mask"], size, dev), window=win)
            points = None
        else:
            c, lab = video_prompt(step["points"], step["labels"], step["box"], w, h, size)
            new = Points(c.to(dev), lab.to(dev))
            points = new if points is None else points.extended(new)
            out = core.prompt(frame, points=points, prev_logits=prev, window=win)
        prev = out.masks.clamp(-32.0, 32.0)
    return _result(out, 0, points, win)


def prompted_masks(
    core: TrackerCore, frame: int, masks: list[np.ndarray], windows: list, batch: int
) -> list[FrameResult]:
    """The results of objects new to ``frame``, prompted there by one painted ``(H, W)`` mask each:
    :func:`prompted_result` of each mask, computed ``batch`` objects at a time. ``windows``: each
    mask's :func:`~napari_sam2.engine.windows.prompt_window` in window mode, else None each."""
    size, dev = core.model.image_size, core.model.device
    results = []
    for i in range(0, len(masks), batch):
        wins = windows[i : i + batch]
        cut = torch.cat(
            [
                mask_to_model_input(
                    m
                    if w is None
                    else steps_in_window([{"mask": m}], w, f"frame {frame}")[0]["mask"],
                    size,
                    dev,
                )
                for m, w in zip(masks[i : i + batch], wins)
            ]
        )
        out = core.prompt(frame, mask=cut, window=wins)
        results += [_result(out, k, None, w) for k, w in enumerate(wins)]
    return results


def _result(out, k: int, points: Points | None, window) -> FrameResult:
    """Object ``k`` of a prompted step's output as a frame result (with its candidates when multimask)."""
    multi = out.multimask_logits[k : k + 1]
    candidates = (multi.float(), out.ious[k : k + 1].float()) if multi.shape[1] > 1 else None
    return FrameResult(
        out.masks[k : k + 1].float(),
        out.obj_ptr[k : k + 1].float(),
        float(out.object_score[k, 0]),
        float(out.iou[k]),
        None,
        None,
        candidates,
        points,
        window=window,
    )
