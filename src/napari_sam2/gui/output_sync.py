"""Output synchronisation, pure numpy: computed frames go into the labels stack unless the user
edited the frame since the widget last wrote it (then the user's pixels stay), told apart by
digests."""

from __future__ import annotations

import hashlib

import numpy as np


def digest(a: np.ndarray) -> bytes:
    """A short fingerprint of a frame, to tell the user's edits from what the widget wrote."""
    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


def frames_with(data: np.ndarray, label: int) -> list[int]:
    """Frames of a (T, Y, X) label stack that hold ``label``."""
    return [
        int(f) for f in np.flatnonzero((np.asarray(data) == label).reshape(len(data), -1).any(1))
    ]


def tracked_frames(session, obj: int) -> list[int]:
    """Frames where ``obj`` has a result in ``session`` (none when the session does not know it)."""
    try:
        return session.tracked_frames(obj)
    except KeyError:
        return []


class OutputSync:
    """What the widget wrote into a (frames, H, W) label stack: ``written`` maps each frame to the
    digest of what was written there last; a frame never written holds zeros. A frame whose content
    has another digest was edited by the user, and computed results never replace it (until
    :meth:`accept`)."""

    def __init__(self, frame_shape: tuple[int, int] = (0, 0), dtype=np.uint16) -> None:
        self.written: dict[int, bytes] = {}
        self._zeros = digest(np.zeros(frame_shape, dtype))

    def ours(self, stack: np.ndarray, f: int) -> bool:
        """Whether frame ``f`` of ``stack`` still holds exactly what the widget wrote (or zeros,
        never written)."""
        return digest(stack[f]) == self.written.get(f, self._zeros)

    def write(self, stack: np.ndarray, frames) -> list[int]:
        """Write computed ``(frame, labels (H, W))`` pairs into ``stack`` in place, except on frames
        the user edited; returns those kept frames (in the order given)."""
        kept = []
        for f, labels in frames:
            if not self.ours(stack, f):
                kept.append(f)
                continue
            new = np.asarray(labels).astype(stack.dtype)
            stack[f] = new
            self.written[f] = digest(new)
        return kept

    def erase(self, stack: np.ndarray, obj: int) -> list[int]:
        """Take label ``obj`` out of every frame of ``stack`` in place, leaving all other labels;
        frames the user edited stay edited. Returns the frames it was on."""
        frames = frames_with(stack, obj)
        for f in frames:
            ours = self.ours(stack, f)
            frame = stack[f]
            frame[frame == obj] = 0
            if ours:
                self.written[f] = digest(frame)
        return frames

    def accept(self, stack: np.ndarray, frames) -> None:
        """Treat what ``frames`` of ``stack`` hold now as the widget's own (the user agreed to
        replace them)."""
        for f in frames:
            self.written[f] = digest(stack[f])
