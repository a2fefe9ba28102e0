"""Memory bank rules: what one bank entry holds, which earlier frames and object pointers a frame attends
to, and their temporal codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

Outputs = Mapping[int, Any]


@dataclass
class MemoryEntry:
    """One frame in the memory bank of a batch of B objects.

    obj_ptr ``(B, C)``: the object pointers. features ``(B, 64, h, w)`` (often bfloat16) and pos_enc
    ``(B, 64, h, w)``: the frame's spatial memory and its position encoding, both None for an entry
    that only contributes its pointer (a frame outside the recent-memory window).
    """

    obj_ptr: torch.Tensor
    features: torch.Tensor | None = None
    pos_enc: torch.Tensor | None = None


def select_closest_cond_frames(
    frame_idx: int, cond_outputs: Outputs, max_num: int
) -> tuple[dict, dict]:
    """Split prompted frames into the ones used for ``frame_idx`` and the rest.

    With ``max_num == -1`` (or few enough prompted frames) all are used. Otherwise the
    nearest prompted frame before, the nearest at/after, then the temporally closest
    others until ``max_num``.
    """
    if max_num == -1 or len(cond_outputs) <= max_num:
        return dict(cond_outputs), {}
    if max_num < 2:
        raise ValueError("max_cond_frames_in_attn must be -1 or at least 2")
    chosen: dict = {}
    before = [t for t in cond_outputs if t < frame_idx]
    after = [t for t in cond_outputs if t >= frame_idx]
    if before:
        chosen[max(before)] = cond_outputs[max(before)]
    if after:
        chosen[min(after)] = cond_outputs[min(after)]
    rest = sorted((t for t in cond_outputs if t not in chosen), key=lambda t: abs(t - frame_idx))
    for t in rest[: max_num - len(chosen)]:
        chosen[t] = cond_outputs[t]
    return chosen, {t: v for t, v in cond_outputs.items() if t not in chosen}


def recent_memory_frames(
    frame_idx: int, num_maskmem: int, reverse: bool, stride: int = 1
) -> list[tuple[int, int]]:
    """``(t_pos, frame)`` pairs for the non-prompted memory slots, t_pos = 1 .. num_maskmem - 1.

    Slot ``t_pos`` holds the frame ``num_maskmem - t_pos`` steps back in tracking order
    (the previous frame is the last slot); with ``stride > 1`` all but the previous
    frame are taken every ``stride`` frames.
    """
    pairs = []
    sign = -1 if reverse else 1
    for t_pos in range(1, num_maskmem):
        back = num_maskmem - t_pos
        if back == 1:
            frame = frame_idx - sign
        elif not reverse:
            frame = ((frame_idx - 2) // stride) * stride - (back - 2) * stride
        else:
            frame = -(-(frame_idx + 2) // stride) * stride + (back - 2) * stride
        pairs.append((t_pos, frame))
    return pairs


def pointer_frames(
    frame_idx: int, num_frames: int, max_ptrs: int, reverse: bool
) -> list[tuple[int, int]]:
    """``(t_diff, frame)`` for up to ``max_ptrs - 1`` earlier frames (in tracking order) inside the video."""
    out = []
    for t_diff in range(1, max_ptrs):
        t = frame_idx + t_diff if reverse else frame_idx - t_diff
        if t < 0 or t >= num_frames:
            break
        out.append((t_diff, t))
    return out


def sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """1D sine/cosine code ``(N,) -> (N, dim)``: sines in the first half, cosines in the second."""
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=positions.device)
    freq = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / half)
    angles = positions.unsqueeze(-1) / freq
    return torch.cat([angles.sin(), angles.cos()], dim=-1)
