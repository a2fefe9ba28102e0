"""Mask clean-up on every device: fill small holes and remove small specks (8-connected components)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

_EIGHT = np.ones((3, 3), dtype=bool)


def _small_components(binary: np.ndarray, max_area: float) -> np.ndarray:
    labels, n = ndimage.label(binary, structure=_EIGHT)
    if n == 0:
        return np.zeros_like(binary)
    areas = np.bincount(labels.ravel())
    small = areas <= max_area
    small[0] = False
    return small[labels]


def fill_holes_and_sprinkles(
    logits: torch.Tensor,
    threshold: float = 0.0,
    max_hole_area: float = 0.0,
    max_sprinkle_area: float = 0.0,
    hole_value: float | None = None,
) -> torch.Tensor:
    """Clean mask logits ``(..., H, W)``.

    Background components (logit <= threshold) of at most ``max_hole_area`` pixels are set
    to ``hole_value`` (default ``threshold + 10``: filled); foreground components of at most
    ``max_sprinkle_area`` pixels to ``threshold - 10`` (removed). This is the clean-up that
    the official package only offers with its CUDA extension (the image predictor fills
    with +10, the video predictor with 0.1).
    """
    fill = threshold + 10.0 if hole_value is None else hole_value
    if max_hole_area <= 0 and max_sprinkle_area <= 0:
        return logits
    out = logits.detach().float().cpu().numpy().copy()
    flat = out.reshape(-1, *out.shape[-2:])
    for plane in flat:
        # both component maps come from the input mask, so a filled hole never joins a speck
        foreground = plane > threshold
        holes = _small_components(~foreground, max_hole_area) if max_hole_area > 0 else None
        specks = _small_components(foreground, max_sprinkle_area) if max_sprinkle_area > 0 else None
        if holes is not None:
            plane[holes] = fill
        if specks is not None:
            plane[specks] = threshold - 10.0
    return torch.from_numpy(out).to(device=logits.device, dtype=logits.dtype)


def fill_video_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """The video predictor's clean-up: background holes of up to ``max_area`` low-res pixels get logit 0.1."""
    if max_area <= 0:
        return logits
    return fill_holes_and_sprinkles(logits, 0.0, max_hole_area=max_area, hole_value=0.1)
