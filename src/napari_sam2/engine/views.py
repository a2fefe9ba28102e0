"""What a tracking session reports: each object's logits, the label image of a frame and who is visible
in it, per-object records, lost frames and timelines (read under the session's lock, returned as copies).
:class:`ResultViews` is the read side of :class:`~napari_sam2.engine.session.TrackingSession`, one of its parts."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch.nn.functional as F

from .results import FrameResult, Timeline
from .suspects import SuspectSettings, find_suspects
from .visibility import FrameOwnership, Patch, Visible
from .windows import NO_OBJECT, paste, window_logits


def positive_part(patch: Patch, low, size: int | None = None) -> Patch:
    """``patch`` (frame logits upsampled bilinearly from the ``(1, 1, h, w)`` low-res ``low``: a window of
    ``size`` px, or the whole frame with None) cut down to the rows and columns that can hold a positive
    logit: those within two low-res pixels of a positive low-res one (an upsampled logit mixes its
    nearest low-res pixels, so it is positive only next to a positive one). Labels and visibility
    come out the same; a cell of 20 px then costs its box, not its 256 px window."""
    on = low[0, 0] > 0
    rows, cols = on.any(1).nonzero()[:, 0], on.any(0).nonzero()[:, 0]
    if not len(rows):
        return Patch(patch.y0, patch.x0, patch.logits[:0, :0])
    h, w = on.shape
    sy = (size or patch.logits.shape[0]) / h
    sx = (size or patch.logits.shape[1]) / w
    top, left = (
        max(0, math.floor((int(rows[0]) - 2) * sy)),
        max(0, math.floor((int(cols[0]) - 2) * sx)),
    )
    bottom, right = math.ceil((int(rows[-1]) + 3) * sy), math.ceil((int(cols[-1]) + 3) * sx)
    return Patch(patch.y0 + top, patch.x0 + left, patch.logits[top:bottom, left:right])


def locked(method):
    """Run ``method`` holding the session's lock, so a GUI thread never reads half-written state."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class ResultViews:
    """The read side of ``session``: every method reads its objects, frames, tracker core and the label
    ownership of its frames (:class:`~napari_sam2.engine.visibility.FrameOwnership`), and returns copies."""

    def __init__(self, session) -> None:
        self._session = session
        self.lock = session.lock
        self.ownership = FrameOwnership(self)

    @property
    def objects(self):
        return self._session.objects

    @property
    def frames(self):
        return self._session.frames

    @property
    def fill_hole_area(self) -> int:
        return self._session.core.fill_hole_area

    def _check_frame(self, frame) -> int:
        return self._session.check_frame(frame)

    def _object(self, obj_id):
        return self._session.object(obj_id)

    @locked
    def object_logits(self, frame: int, obj_id: int) -> np.ndarray:
        """``(H, W)`` float32 logits of one object on one frame (-1024 where it has no result)."""
        frame = self._check_frame(frame)
        r = self._object(obj_id).results.get(frame)
        if r is None:
            return np.full((self.frames.height, self.frames.width), NO_OBJECT, np.float32)
        return self.in_frame(self._session.core.filled(r.logits), r.window)

    def object_patch(self, frame: int, obj_id: int) -> Patch:
        """The logits of ``obj_id``'s result on ``frame`` where it can have pixels: its window at frame
        resolution in window mode, the whole frame otherwise (used under the session's lock)."""
        r = self._object(obj_id).results[frame]
        logits = self._session.core.filled(r.logits)
        if r.window is None:
            return positive_part(Patch(0, 0, self.in_frame(logits, None)), logits)
        shape = (self.frames.height, self.frames.width)
        return positive_part(
            Patch(r.window.y0, r.window.x0, window_logits(logits, r.window, shape)),
            logits,
            r.window.size,
        )

    def in_frame(self, logits, window) -> np.ndarray:
        """``(1, 1, h, w)`` low-res logits as ``(H, W)`` frame logits: resized from the whole frame, or
        pasted from their window in window mode."""
        h, w = self.frames.height, self.frames.width
        if window is not None:
            return paste(logits, window, (h, w))
        return (
            F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
            .cpu()
            .numpy()
        )

    @locked
    def label_frame(self, frame: int) -> np.ndarray:
        """``(H, W)`` uint32 labels of a frame: each pixel goes to the object with the highest positive
        logit, except that objects prompted on this frame own their pixels over merely tracked ones
        (see :func:`~napari_sam2.engine.visibility.compose_labels`)."""
        return self.ownership.labels(self._check_frame(frame))

    @locked
    def visibility(self, frame: int) -> dict[int, Visible]:
        """``{obj_id: Visible(pixels, covered_by)}`` for each object with a result on ``frame``: the
        pixels it owns in :meth:`label_frame`, and, when it owns none though its mask is not empty, the
        object that covers it (cached per frame until a result there changes)."""
        return self.ownership.visibility(self._check_frame(frame))

    def label_stack(self):
        """The labels of every frame as an :class:`~napari_sam2.io.label_files.LabelStack`: computed a
        frame at a time when read, for writing long stacks without holding them in memory."""
        from ..io.label_files import LabelStack

        n, h, w = self._session.shape
        return LabelStack(n, h, w, self.label_frame, max(self.objects, default=0))

    def labels(self) -> np.ndarray:
        """The whole ``(N, H, W)`` uint32 label stack."""
        return np.stack([self.label_frame(f) for f in range(self.frames.num_frames)])

    @locked
    def records(self) -> list[dict]:
        """Per object and tracked frame: object score (logit), the model's predicted IoU, lost flag
        (the rule of :meth:`timeline`), suspect reasons joined by ";" ("" when none;
        :meth:`suspects`), prompted flag."""
        rows, suspects = [], self.suspects()
        for oid, obj in self.objects.items():
            for f in sorted(obj.results):
                r = obj.results[f]
                rows.append(
                    {
                        "object_id": oid,
                        "frame": f,
                        "object_score": r.score,
                        "predicted_iou": r.iou,
                        "lost": self._lost_or_hidden(oid, f, r)[0],
                        "suspect": ";".join(suspects[oid].get(f, ())),
                        "prompted": f in obj.prompts,
                    }
                )
        return rows

    @locked
    def suspects(self, settings: SuspectSettings | None = None) -> dict[int, dict[int, list[str]]]:
        """``{obj_id: {frame: [reasons]}}``: the object-frames whose mask is probably wrong although
        the model is sure of it (overlap, area, position, confidence, fragments, size; see
        :mod:`~napari_sam2.engine.suspects`), by the session's :attr:`suspect_settings` or
        ``settings``. Every object has an entry (empty when never suspect); frames sorted."""
        return find_suspects(
            self.objects,
            (self.frames.height, self.frames.width),
            self._session.suspect_settings if settings is None else settings,
        )

    @locked
    def lost_frames(self) -> dict[int, list[int]]:
        """``{object id: [frames where it is lost]}`` for every object (an empty list when never lost)."""
        return {
            oid: [f for f in sorted(obj.results) if self._lost_or_hidden(oid, f, obj.results[f])[0]]
            for oid, obj in self.objects.items()
        }

    @locked
    def timelines(self, suspects: bool = True) -> dict[int, Timeline]:
        """:meth:`timeline` of every object, taken together (one consistent snapshot), with each object's
        suspect frames (:meth:`suspects`; ``suspects=False`` leaves them out, for a snapshot per frame of a
        long run)."""
        found = self.suspects() if suspects else {}
        lines = {}
        for oid in self.objects:
            line = self.timeline(oid)
            if suspects:
                shown = {
                    f: tuple(why)
                    for f, why in found.get(oid, {}).items()
                    if not line.lost[f] and not line.hidden[f]
                }  # lost and hidden are said already
                line = dataclasses.replace(line, suspects=shown)
            lines[oid] = line
        return lines

    @locked
    def result_frames(self) -> list[int]:
        """The frames where any object has a result (prompted or tracked), sorted."""
        return sorted({f for obj in self.objects.values() for f in obj.results})

    @locked
    def tracked_frames(self, obj_id: int) -> list[int]:
        """The frames where ``obj_id`` has a result (prompted or tracked), sorted."""
        return sorted(self._object(obj_id).results)

    @locked
    def timeline(self, obj_id: int) -> Timeline:
        """One object's scores and lost flags per frame, for a confidence plot (a snapshot)."""
        obj = self._object(obj_id)
        n = self.frames.num_frames
        scores, lost, hidden = (
            np.full(n, np.nan, np.float32),
            np.zeros(n, bool),
            np.zeros(n, np.int64),
        )
        for f, r in obj.results.items():
            scores[f] = r.score
            lost[f], hidden[f] = self._lost_or_hidden(obj_id, f, r)
        return Timeline(scores, lost, tuple(sorted(obj.prompts)), hidden)

    def _lost_or_hidden(self, obj_id: int, frame: int, r: FrameResult) -> tuple[bool, int]:
        """``(lost, covered_by)`` of one result: lost by its score or an empty mask, also where the mask
        leaves no pixel at the frame's size; else the object that hides it wholly (0 when visible)."""
        if r.lost:
            return True, 0
        seen = self.ownership.visibility(frame)[obj_id]
        return seen.pixels == 0 and seen.covered_by is None, seen.covered_by or 0
