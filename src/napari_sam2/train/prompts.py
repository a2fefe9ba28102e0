"""Prompts simulated from ground truth, in model-input pixels: clicks, boxes and corrective clicks."""

from __future__ import annotations

import torch


def random_points(
    masks: torch.Tensor, generator: torch.Generator, positive: bool = True
) -> torch.Tensor:
    """One point per object, uniform over its ``(B, S, S)`` region (or the complement); ``(B, 1, 2)`` (x, y)."""
    b, s, _ = masks.shape
    region = masks if positive else ~masks
    weights = region.flatten(1).float() + 1e-12  # an empty region falls back to uniform
    flat = torch.multinomial(weights, 1, generator=generator)[:, 0]
    jitter = torch.rand(b, 2, generator=generator)
    xy = torch.stack([flat % s, flat // s], dim=-1).float() + jitter
    return xy[:, None]


def noisy_boxes(
    masks: torch.Tensor, generator: torch.Generator, noise: float = 0.1, max_shift: float = 20.0
) -> torch.Tensor:
    """Bounding boxes of ``(B, S, S)`` masks with corners moved by N(0, noise * side) (at most ``max_shift``
    pixels) as ``(B, 2, 2)`` corner points (x0, y0), (x1, y1)."""
    b, s, _ = masks.shape
    ys, xs = masks.any(2).float(), masks.any(1).float()
    idx = torch.arange(s, dtype=torch.float32)
    big = float(s)
    x0 = torch.where(xs > 0, idx, big).amin(1)
    x1 = torch.where(xs > 0, idx, -1.0).amax(1) + 1
    y0 = torch.where(ys > 0, idx, big).amin(1)
    y1 = torch.where(ys > 0, idx, -1.0).amax(1) + 1
    box = torch.stack([x0, y0, x1, y1], dim=-1)
    side = torch.stack([x1 - x0, y1 - y0] * 2, dim=-1)
    shift = (torch.randn(b, 4, generator=generator) * noise * side).clamp(-max_shift, max_shift)
    box = (box + shift).clamp(0, s)
    lo, hi = torch.minimum(box[:, :2], box[:, 2:]), torch.maximum(box[:, :2], box[:, 2:])
    return torch.stack([lo, hi], dim=1)


def correction_points(
    pred: torch.Tensor, masks: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A corrective click per object where ``pred`` (B, S, S) bool is wrong: positive on a missed pixel,
    negative on a false one (uniform over all wrong pixels). Returns points (B, 1, 2), labels (B, 1)."""
    wrong = pred != masks
    none_wrong = ~wrong.flatten(1).any(1)
    wrong[none_wrong] = masks[none_wrong]  # perfect already: confirm with a positive click
    xy = random_points(wrong, generator)
    s = masks.shape[-1]
    x, y = xy[:, 0, 0].long().clamp(0, s - 1), xy[:, 0, 1].long().clamp(0, s - 1)
    label = masks[torch.arange(masks.shape[0]), y, x].int()
    return xy, label[:, None]
