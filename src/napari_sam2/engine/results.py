"""What a tracking session holds and reports: one object's result on a frame, its prompts and results,
progress events, run reports and per-object timelines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..model.steps import Points
from .windows import Window

FORWARD, BACKWARD = "forward", "backward"


@dataclass
class FrameResult:
    """One object on one frame.

    logits: (1, 1, S/4, S/4) float32 mask logits as decoded (before hole filling); read back from disk
    when spilled (:mod:`~napari_sam2.engine.spill`);
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
    # whether ``logits`` has a positive pixel (made when first needed, forgotten when new logits are given)
    _has_pixels: bool | None = field(default=None, repr=False, compare=False)
    # where ``logits`` lies on disk once spilled (then they are no longer held here)
    _spilled: object | None = field(default=None, repr=False, compare=False)

    @property
    def in_ram(self) -> bool:
        return self._spilled is None

    @property
    def nbytes(self) -> int:
        """Bytes of the logits (in RAM or not)."""
        t = self.__dict__["logits"]
        if t is None:
            return math.prod(self._spilled.shape) * self._spilled.dtype.itemsize
        return t.element_size() * t.nelement()

    def spill(self, file) -> None:
        """Write the logits to ``file`` (a :class:`~napari_sam2.engine.spill.SpillFile`) and hold them no more."""
        if self._spilled is None:
            self._spilled = file.write(self.__dict__["logits"])
            self.__dict__["logits"] = None

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


def _logits(result: FrameResult) -> torch.Tensor:
    held = result.__dict__["logits"]
    return held if held is not None else result._spilled.read()


def _set_logits(result: FrameResult, logits: torch.Tensor) -> None:
    # new logits: what was worked out from the old ones is gone (the constructor sets them first)
    state = result.__dict__
    state.update(logits=logits, _spilled=None, _has_pixels=None, measures=None)
    state["revision"] = state.get("revision", 0) + 1


# ``logits`` stays a dataclass field (made by the constructor, shown by repr) read through this property,
# which reads spilled logits back from their file; ``revision`` counts the logits given
FrameResult.logits = property(_logits, _set_logits)


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
