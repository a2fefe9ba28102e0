"""Checking click/box prompts for one object on one frame and scaling them to model coordinates."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def check_frame_index(value, num_frames: int, name: str = "frame_idx", what: str = "video") -> int:
    """``value`` as an int in ``[0, num_frames)``; TypeError/IndexError naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not 0 <= value < num_frames:
        raise IndexError(f"{name} {value} is outside the {what} of {num_frames} frames")
    return int(value)


def mask_to_model_input(mask, image_size: int, device) -> torch.Tensor:
    """A ``(H, W)`` mask as the ``(1, 1, S, S)`` 0/1 float prompt the model takes (antialiased resize,
    then threshold at 0.5, as the official predictor does)."""
    m = torch.as_tensor(np.asarray(mask)).bool()[None, None].float().to(device)
    if m.shape[-2:] != (image_size, image_size):
        m = F.interpolate(
            m, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )
        m = (m >= 0.5).float()
    return m


def video_prompt(
    points, labels, box, width: int, height: int, image_size: int, normalize_coords: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate one object's prompt on a ``width x height`` frame.

    points: (N, 2) in (x, y) pixels (or [0, 1] with ``normalize_coords=False``); labels: (N,),
    1 positive / 0 negative; box: x0, y0, x1, y1. Returns ``coords (1, P, 2)`` in model-input
    pixels and ``labels (1, P)`` int32, box corners first (labels 2 and 3), like the official API.
    """
    if (points is None) != (labels is None):
        raise ValueError("points and labels must be given together")
    if points is None and box is None:
        raise ValueError("no prompt: give points with labels, or a box")
    limit = np.array([width, height], dtype=np.float64) if normalize_coords else np.ones(2)
    where = f"the {width}x{height} frame" if normalize_coords else "[0, 1] (normalize_coords=False)"
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float64)
    lab = np.zeros(0, dtype=np.int64) if labels is None else np.asarray(labels)
    if pts.ndim == 3 and pts.shape[0] == 1:
        pts = pts[0]
    if lab.ndim == 2 and lab.shape[0] == 1:
        lab = lab[0]
    if pts.ndim != 2 or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (N, 2) in (x, y) order, got {np.shape(points)}")
    if lab.shape != (pts.shape[0],):
        raise ValueError(f"labels shape {np.shape(labels)} does not match {pts.shape[0]} points")
    if points is not None and pts.shape[0] == 0 and box is None:
        raise ValueError("points is empty")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinite values")
    if not np.isin(lab, (0, 1)).all():
        raise ValueError(
            f"labels must be 1 (positive) or 0 (negative), got {np.unique(lab).tolist()}"
        )
    outside = ((pts < 0) | (pts > limit)).any(-1)
    if outside.any():
        x, y = pts[outside][0]
        raise ValueError(f"point (x={x:g}, y={y:g}) lies outside {where}")
    coords = torch.as_tensor(pts, dtype=torch.float32)[None]
    labs = torch.as_tensor(lab, dtype=torch.int32)[None]
    if box is not None:
        bx = np.asarray(box, dtype=np.float64).reshape(-1)
        if bx.shape != (4,) or not np.isfinite(bx).all():
            raise ValueError(f"box must be 4 finite numbers x0, y0, x1, y1; got {box!r}")
        if bx[2] < bx[0] or bx[3] < bx[1]:
            raise ValueError("box must be ordered x0 <= x1 and y0 <= y1")
        if ((bx.reshape(2, 2) < 0) | (bx.reshape(2, 2) > limit)).any():
            raise ValueError(f"box {bx.tolist()} reaches outside {where}")
        coords = torch.cat(
            [torch.as_tensor(bx, dtype=torch.float32).reshape(1, 2, 2), coords], dim=1
        )
        labs = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), labs], dim=1)
    if normalize_coords:
        coords = coords / torch.tensor([width, height])
    return coords * image_size, labs
