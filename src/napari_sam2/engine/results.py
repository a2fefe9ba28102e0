"""What a tracking session holds and reports: one object's result on a frame, its prompts and results,
progress events, run reports and per-object timelines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..model.steps import Points
from .windows import Window

FORWARD, BACKWARD = "forward", "backward"


@dataclass
class FrameResult:
    """One object on one frame.

    logits: (1, 1, S/4, S/4) float32 mask logits as decoded (before hole filling);
    obj_ptr: (1, C); memory: (1, 64, S/16, S/16) bfloat16 or None when dropped;
    direction: the pass that computed it (None for prompted frames).
    """

    logits: torch.Tensor
    obj_ptr: torch.Tensor
    score: float
    iou: float
    direction: str | None
    memory: torch.Tensor | None = None
    candidates: tuple[torch.Tensor, torch.Tensor] | None = (
        None  # (1, 3, S/4, S/4) logits, (1, 3) IoUs
    )
    replay: Points | None = None  # prompted frames: the clicks after the last step, to resume from
    window: Window | None = (
        None  # window mode: the window the logits are in (None: the whole frame)
    )
    memory_window: Window | None = (
        None  # the window ``memory`` was encoded in (it moves with the object)
    )
    # resolved memory: the (dy, dx) low-res px the mask was moved by for its memory
    memory_shift: tuple[float, float] | None = None
    measures: object | None = None  # suspects.Measures of ``logits`` (made when first needed)
    decoded: object | None = None  # suspects.Measures of the mask before exclusive pixels
    # whether ``logits`` has a positive pixel (made when first needed: results are never changed in place)
    _has_pixels: bool | None = field(default=None, repr=False, compare=False)

    @property
    def present(self) -> bool:
        """The object head says the object is there (score above the model's threshold, 0)."""
        return self.score > 0

    @property
    def lost(self) -> bool:
        """Absent by the object score, or present by it with an empty mask: either way nothing to show."""
        if not self.present:
            return True
        if self._has_pixels is None:
            self._has_pixels = bool((self.logits > 0).any())
        return not self._has_pixels


@dataclass
class ObjectTrack:
    """Prompts (in the order given, per frame) and results of one object."""

    prompts: dict[int, list[dict]] = field(default_factory=dict)
    results: dict[int, FrameResult] = field(default_factory=dict)
    holding_memory: set[int] = field(default_factory=set)  # tracked frames whose memory is in RAM

    def prompted(self) -> list[int]:
        return sorted(self.prompts)


@dataclass
class ProgressEvent:
    """Sent after each frame: ``done`` of ``total`` frames of the current run."""

    frame: int
    done: int
    total: int
    direction: str
    obj_ids: list
    elapsed: float


@dataclass
class RunReport:
    frames: list[int]
    cancelled: bool
    elapsed: float


@dataclass(frozen=True)
class Timeline:
    """A snapshot of one object over the stack: ``scores`` (N,) object-score logits (NaN where not
    tracked), ``lost`` (N,) bool (see :attr:`FrameResult.lost`; also where the mask leaves no pixel at
    the frame's resolution), ``prompted`` its prompted frames, ``hidden`` (N,) int: the object that
    covers all of it where it is present but has no pixel in the label image, else 0; ``suspects``
    ``{frame: reasons}`` of its suspect frames (never lost ones; None when the snapshot left them out)."""

    scores: np.ndarray
    lost: np.ndarray
    prompted: tuple[int, ...]
    hidden: np.ndarray | None = None
    suspects: dict[int, tuple[str, ...]] | None = None
