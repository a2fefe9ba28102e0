"""The tracking engine: microscopy stacks, sessions with many objects, corrections, exports. No napari here."""

from .session import BACKWARD, FORWARD, FrameResult, ProgressEvent, RunReport, TrackingSession
from .stack import StackView, stack_view

__all__ = ["BACKWARD", "FORWARD", "FrameResult", "ProgressEvent", "RunReport", "StackView", "TrackingSession",
           "stack_view"]
