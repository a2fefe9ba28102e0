"""The tracking engine: microscopy stacks, sessions with many objects, corrections, exports. No napari here."""

from .results import BACKWARD, FORWARD, FrameResult, ProgressEvent, RunReport
from .session import TrackingSession
from .stack import StackView, stack_view

__all__ = [
    "BACKWARD",
    "FORWARD",
    "FrameResult",
    "ProgressEvent",
    "RunReport",
    "StackView",
    "TrackingSession",
    "stack_view",
]
