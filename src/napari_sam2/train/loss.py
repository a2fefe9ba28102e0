"""The SAM 2 training loss: focal + dice on masks, L1 on predicted IoU, BCE on the object score.

Weights from the paper: 20 (focal), 1 (dice), 1 (IoU), 1 (object score). With several
candidate masks only the one with the lowest focal + dice loss is trained (the IoU head is
trained on all of them); mask terms count only for objects present in the target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WEIGHTS = {"focal": 20.0, "dice": 1.0, "iou": 1.0, "score": 1.0}


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Mean per-pixel focal loss for each ``(..., H, W)`` mask -> ``(...)``."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:  # a negative alpha: no class weighting
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(-2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft dice loss for each ``(..., H, W)`` mask -> ``(...)``."""
    p = logits.sigmoid().flatten(-2)
    t = target.flatten(-2)
    return 1 - (2 * (p * t).sum(-1) + eps) / (p.sum(-1) + t.sum(-1) + eps)


def true_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the thresholded logits with a 0/1 target, per ``(..., H, W)`` mask (1 when both are empty)."""
    pred = (logits > 0).flatten(-2)
    t = target.flatten(-2) > 0
    inter = (pred & t).sum(-1).float()
    union = (pred | t).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def step_loss(
    multi_logits: torch.Tensor,
    ious: torch.Tensor,
    object_score: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.25,
) -> dict[str, torch.Tensor]:
    """Losses of one prediction step for B objects, summed over objects.

    multi_logits (B, M, H, W) at the target's size; ious (B, M) predicted; object_score (B, 1) logits;
    target (B, H, W) bool.
    """
    t = target[:, None].float().expand_as(multi_logits)
    focal, dice = focal_loss(multi_logits, t, alpha=alpha), dice_loss(multi_logits, t)
    best = (WEIGHTS["focal"] * focal + WEIGHTS["dice"] * dice).detach().argmin(dim=1)
    rows = torch.arange(multi_logits.shape[0])
    present = target.flatten(1).any(1).float()
    iou_l1 = (ious - true_iou(multi_logits.detach(), t)).abs().mean(1)
    score = F.binary_cross_entropy_with_logits(object_score[:, 0], present, reduction="none")
    return {
        "focal": (focal[rows, best] * present).sum(),
        "dice": (dice[rows, best] * present).sum(),
        "iou": (iou_l1 * present).sum(),
        "score": score.sum(),
    }


def total(parts: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> torch.Tensor:
    weights = WEIGHTS if weights is None else weights
    return sum(weights[k] * v for k, v in parts.items())
