"""Tracking sessions for microscopy stacks: many objects per frame in one batch, corrections, bounded memory.

A :class:`TrackingSession` holds prompts and results for one stack. Its rules:

* A prompted frame (clicks, a box or a painted mask for an object) is computed from its
  own prompts, in the order they were given, exactly as the official predictor computes
  a newly prompted frame (no memory involved).
* Every other frame is tracked from the memory bank, in the direction of the pass.
  Memory is causal: a frame attends to the object's prompted frames that lie behind it
  in the tracking direction (plus the recent tracked frames and object pointers, as in
  SAM 2). With the object prompted on one frame this is exactly the official result; it
  also makes a correction on frame k change nothing before k in a forward pass, and its
  re-propagation equal to a fresh run with the same prompts.
* Objects that share the same memory layout on a frame are computed as one batch.
* Memory features of tracked frames are kept only near the current frame; when a
  correction needs an older one it is recomputed exactly from the stored logits.
"""

from __future__ import annotations

import numbers
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np
import torch

from ..model.sam2_base import Points, SAM2Base
from ..notices import warn_quality
from ..predictor.core import TrackerCore
from ..predictor.frames import FrameSource, warn_if_colour
from ..predictor.prompts import check_frame_index, mask_to_model_input, video_prompt
from .frame_tracking import FrameTracker
from .neighbours import check_memory
from .plans import downstream, memory_layout, pass_plans
from .results import BACKWARD, FORWARD, FrameResult, ObjectTrack, ProgressEvent, RunReport
from .session_file import apply_session_dict, session_dict
from .session_results import SessionResults, locked as _locked
from .suspects import SuspectSettings, measures_of
from .visibility import FrameOwnership
from .windows import auto_window, check_window, check_window_size, prompt_window, steps_in_window
from .windows import warn_if_outside, whole_frame_window, window_advice
PRECISIONS = ("fp32", "bf16")


def bf16_is_fast(device) -> bool:
    """Whether ``device`` computes bfloat16 natively (else emulated bf16 is many times slower than fp32)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    if kind == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def check_precision(precision: str, device) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and not bf16_is_fast(device):
        raise ValueError(f"precision 'bf16' needs native bfloat16 on {torch.device(device).type} "
                         "(CUDA, or a CPU with AVX512-BF16/AMX); here it would be many times slower "
                         "than fp32: use 'fp32'")


def _frame_shape(frames) -> tuple[int, int] | None:
    """(H, W) of a stack given as an array-like (N, H, W[, C]) or a FrameSource; None for a path."""
    if isinstance(frames, FrameSource):
        return frames.height, frames.width
    shape = getattr(frames, "shape", None)
    return (int(shape[1]), int(shape[2])) if shape is not None and len(shape) >= 3 else None


class TrackingSession(SessionResults):
    """Prompts, propagation and results for one stack of frames (time or Z).

    model: a SAM 2 model built for video (``build_sam2_video_predictor(...).model`` or
    :meth:`from_name`); one built for images is switched to the video settings, with a warning.
    Every step is computed by the tracker core (:class:`~napari_sam2.predictor.core.TrackerCore`)
    that the video predictor uses too; the session keeps per-object prompts and results. frames: ``(N, H, W[, C])`` array-like or a path (see
    :class:`~napari_sam2.predictor.frames.FrameSource`); use
    :func:`~napari_sam2.engine.stack.stack_view` to choose axis and channel.
    feature_cache_mb: bound on the cached image features. fill_hole_area: small holes in
    output masks are filled (low-res pixels).

    Fast modes (opt-in; the default is exact, i.e. the official numbers):
    precision "bf16" computes in bfloat16 (CUDA, and CPUs with AVX512-BF16 or AMX; elsewhere
    it is refused because it would be slower, not faster); memory_frames keeps only that many
    recent tracked frames in the memory bank (the model's own number, 6 for SAM 2, when None).

    max_batch: at most this many objects go through the model in one call (objects sharing a memory
    layout are split into chunks of this size), so peak memory grows with it, not with the number of
    objects. Results agree to float rounding (CPU matrix kernels round by batch size: about 1e-7 in the
    logits), not bit for bit.

    exclusive: each pixel belongs to at most one object (issue 16). On every tracked frame all tracked
    objects are decoded first; then, per low-res pixel, only the object with the highest logit keeps a
    positive logit (the others are clamped to -10 or below there, as SAM 2's ``non_overlapping`` does for
    one batch, but across every batch of the frame), and the memory of each object is encoded from its
    exclusive mask. Objects prompted on the frame are not re-decoded and own their pixels (as in the label
    image); results other objects keep on the frame (during a :meth:`correct`) compete by their logits.
    Off by default: the official numbers.

    window: window mode (see :mod:`~napari_sam2.engine.windows`): each object is tracked in a square of
    the frame this many px wide at native scale, which must be the model's input size (None, the default:
    the whole frame resized to the model's input, the official behaviour). "auto": decided before
    the first frame is tracked, by :func:`~napari_sam2.engine.windows.auto_window` (windows when the
    frame is larger than the model's input and the prompted objects are small against it);
    :attr:`window` then holds the choice and :attr:`window_choice` says why.

    memory: what enters each object's memory. "official" (the default): the decoded mask, the
    official numbers. "resolved": neighbour-resolved memory (:mod:`~napari_sam2.engine.neighbours`):
    pixels claimed by two objects go to one, by logit and motion fit, and a mask that lags its cell
    is moved onto it for the memory; the shown masks are exclusive, as with ``exclusive``.

    suspect_settings: the thresholds of :meth:`suspects`
    (:class:`~napari_sam2.engine.suspects.SuspectSettings`; None: the defaults).

    Threads: every public method holds one re-entrant lock, and propagation takes it one frame
    at a time, so another thread (a GUI) may read results between frames; the read methods
    return copies, never live containers.
    """

    def __init__(self, model: SAM2Base, frames, contrast_limits=None, feature_cache_mb: float = 256.0,
                 fill_hole_area: int = 8, precision: str = "fp32", memory_frames: int | None = None,
                 max_batch: int = 16, exclusive: bool = False, window: int | str | None = None,
                 memory: str = "official", suspect_settings: SuspectSettings | None = None) -> None:
        check_precision(precision, model.device)
        self._auto_window = window == "auto"
        self.window = None if self._auto_window else check_window(window, model.image_size)
        self.window_choice: str | None = None  # window="auto": what was chosen and why
        self.memory = check_memory(memory)
        if isinstance(max_batch, bool) or not isinstance(max_batch, numbers.Integral) or max_batch < 1:
            raise ValueError(f"max_batch must be a whole number of objects, 1 or more, got {max_batch!r}")
        self.max_batch = int(max_batch)
        if not isinstance(exclusive, bool):
            raise ValueError(f"exclusive must be True or False, got {exclusive!r}")
        self.exclusive = exclusive
        if not isinstance(suspect_settings, (SuspectSettings, type(None))):
            raise ValueError(f"suspect_settings must be SuspectSettings, got {suspect_settings!r}")
        self.suspect_settings = suspect_settings or SuspectSettings()
        most = max(model.num_maskmem - 1, 0)
        if memory_frames is not None and not 0 <= memory_frames <= most:
            raise ValueError(f"memory_frames must be between 0 and {most} (this model's memory bank), "
                             f"got {memory_frames}")
        self.precision, self.memory_frames = precision, memory_frames
        self._lock = threading.RLock()
        self.model = model
        self.frames = frames if isinstance(frames, FrameSource) else FrameSource(frames, model.image_size,
                                                                                   contrast_limits)
        warn_if_colour(self.frames, model)  # colour to a grey-trained model (the demo) names channel='grey'
        if model.training:  # dropout on, eval-only rules off: e.g. straight from build_model or a training loop
            warn_quality("the model is in training mode, so tracking differs from inference; call model.eval() first")
        advice = window_advice((self.frames.height, self.frames.width), model.image_size, self.window)
        if advice is not None and not self._auto_window:
            warn_quality(advice)
        self.core = TrackerCore(model, self.frames, feature_cache_mb, fill_hole_area, precision)
        self.objects: "OrderedDict[int, ObjectTrack]" = OrderedDict()
        # lineage: daughter -> parent, last frame of a divided parent, first frame of a daughter
        self.parents: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.starts: dict[int, int] = {}
        self._ownership = FrameOwnership(self)
        self._tracker = self._frame_tracker()

    def _frame_tracker(self) -> FrameTracker:
        shape = None if self.window is None else (self.frames.height, self.frames.width)
        return FrameTracker(self.core, self.objects, self.max_batch, self.exclusive, shape,
                            self.memory)

    def _choose_window(self) -> None:
        """``window="auto"``, once, before the first frame is tracked: the rule of
        :func:`~napari_sam2.engine.windows.auto_window` on the objects' sizes on their first
        prompted frames; in window mode their prompted frames are computed again in windows."""
        if not self._auto_window or not self.objects:
            return
        self._auto_window = False
        shape = (self.frames.height, self.frames.width)
        areas = [measures_of(o.results[min(o.prompts)], shape).area for o in self.objects.values()]
        self.window, self.window_choice = auto_window(shape, self.model.image_size,
                                                      [2 * (a / np.pi) ** 0.5 for a in areas if a])
        if self.window is not None:
            self._tracker = self._frame_tracker()
            for obj in self.objects.values():
                for f, steps in obj.prompts.items():
                    obj.results[f] = self._prompted_result(f, steps)

    @classmethod
    def from_name(cls, frames, name: str = "sam2.1_hiera_tiny", checkpoint="local", device="cpu",
                  image_size: int | None = None, **kwargs) -> "TrackingSession":
        """A session on a model built by name; ``window=SIZE`` builds it at ``image_size=SIZE``."""
        from ..predictor.video_predictor import build_sam2_video_predictor

        window = kwargs.get("window")
        if window == "auto":
            window = None  # the model's own input size
        elif window is not None:
            check_window_size(window)
            shape = _frame_shape(frames)
            window = kwargs["window"] = window if shape is None else whole_frame_window(window, shape)
        if window is not None and image_size not in (None, window):
            raise ValueError(f"image_size {image_size} and window {window} differ: window mode runs the model "
                             "at the window's size")
        image_size = window if window is not None else image_size
        model = build_sam2_video_predictor(name, checkpoint=checkpoint, device=device, image_size=image_size).model
        return cls(model, frames, **kwargs)

    # ----------------------------------------------------------------- basics

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames.num_frames, self.frames.height, self.frames.width

    @property
    def obj_ids(self) -> list[int]:
        with self._lock:
            return list(self.objects)

    def _check_frame(self, frame) -> int:
        return check_frame_index(frame, self.num_frames, "frame", "stack")

    def _object(self, obj_id) -> ObjectTrack:
        if obj_id not in self.objects:
            raise KeyError(f"unknown object id {obj_id!r}; known ids: {self.obj_ids}")
        return self.objects[obj_id]

    @property
    def fill_hole_area(self) -> int:
        """Background holes of up to this many low-res pixels are filled in shown masks."""
        return self.core.fill_hole_area

    @property
    def encoded_frames(self) -> int:
        """How many times a frame went through the image encoder (tests, benchmarks)."""
        return self.core.features.encoded

    # ----------------------------------------------------------------- prompts

    @_locked
    def add_points(self, frame: int, obj_id: int, points=None, labels=None, box=None, clear: bool = False) -> np.ndarray:
        """Add clicks ``points`` (N, 2) in (x, y) pixels with ``labels`` (1 positive, 0 negative)
        and/or a ``box`` (x0, y0, x1, y1) for ``obj_id`` on ``frame``. ``clear`` drops the
        object's earlier prompts on that frame. Returns the object's ``(H, W)`` logits there.

        Results on other frames are not changed: call :meth:`propagate` or :meth:`correct`.
        """
        frame = self._check_frame(frame)
        if box is not None and not clear and self.objects.get(obj_id, ObjectTrack()).prompts.get(frame):
            raise ValueError("a box must come first on a frame: pass clear=True to start over with it")
        video_prompt(points, labels, box, self.frames.width, self.frames.height, self.model.image_size)
        step = {"points": None if points is None else np.asarray(points, float).reshape(-1, 2).tolist(),
                "labels": None if labels is None else np.asarray(labels).reshape(-1).astype(int).tolist(),
                "box": None if box is None else np.asarray(box, float).reshape(-1).tolist()}
        return self._add_step(frame, obj_id, step, clear)

    @_locked
    def add_mask(self, frame: int, obj_id: int, mask) -> np.ndarray:
        """Give ``obj_id`` a painted mask ``(H, W)`` on ``frame`` (replaces its clicks there)."""
        frame = self._check_frame(frame)
        m = np.asarray(mask)
        if m.shape != (self.frames.height, self.frames.width):
            raise ValueError(f"mask must have the frame's shape {(self.frames.height, self.frames.width)}, "
                             f"got {m.shape}")
        if not m.any():
            raise ValueError(f"the mask for object {obj_id} on frame {frame} is empty")
        if self.window is not None:
            warn_if_outside(m.astype(bool), self.window, f"object {obj_id} on frame {frame}")
        return self._add_step(frame, obj_id, {"mask": m.astype(bool)}, clear=True)

    @_locked
    def add_labels(self, frame: int, labels) -> list[int]:
        """Give every object in a ``(H, W)`` integer label image a mask prompt on ``frame``: the label
        value is the object id (:meth:`add_mask` for each). Returns the ids added, ascending.

        All or nothing: a bad image (another shape, float or negative labels, no object; see
        :func:`~napari_sam2.io.label_prompts.check_label_image`) is refused before any prompt, and an
        id that :meth:`add_mask` refuses (a daughter before its division, a divided parent after it)
        leaves every object's prompts and results on ``frame`` as they were.
        """
        from ..io.label_prompts import check_label_image, label_ids

        frame = self._check_frame(frame)
        image = check_label_image(labels, (self.frames.height, self.frames.width), f"the label image for frame {frame}")
        ids = label_ids(image)
        before = {oid: (self.objects[oid].prompts.get(frame), self.objects[oid].results.get(frame))
                  for oid in ids if oid in self.objects}
        try:
            for oid in ids:
                self.add_mask(frame, oid, image == oid)
        except Exception:
            self._restore_frame(frame, ids, before)
            raise
        return ids

    def _restore_frame(self, frame: int, ids: list[int], before: dict) -> None:
        """Put the prompts and results of ``ids`` on ``frame`` back as ``before`` held them (new objects go)."""
        for oid in ids:
            if oid not in before:
                self.objects.pop(oid, None)
                continue
            obj = self.objects[oid]
            for store, old in ((obj.prompts, before[oid][0]), (obj.results, before[oid][1])):
                if old is None:
                    store.pop(frame, None)
                else:
                    store[frame] = old

    def _add_step(self, frame, obj_id, step, clear) -> np.ndarray:
        if frame < self.starts.get(obj_id, 0):
            raise ValueError(f"object {obj_id} is a daughter that starts at frame {self.starts[obj_id]}; "
                             f"it cannot be prompted on frame {frame}")
        if frame > self.ends.get(obj_id, self.num_frames):
            raise ValueError(f"object {obj_id} divided after frame {self.ends[obj_id]}; "
                             f"it cannot be prompted on frame {frame}")
        steps = [] if clear else list(self.objects.get(obj_id, ObjectTrack()).prompts.get(frame, []))
        steps.append(step)
        if not any("mask" in s or s["box"] is not None or 1 in (s["labels"] or ()) for s in steps):
            raise ValueError(f"object {obj_id} on frame {frame} has only negative clicks: an object needs a "
                             "positive click, a box or a mask there (negative clicks take area away from those)")
        obj = self.objects.setdefault(obj_id, ObjectTrack())
        # a further click continues from the frame's last state instead of replaying every step
        resume = obj.results.get(frame) if len(steps) > 1 else None
        try:
            result = self._prompted_result(frame, steps, resume)
        except Exception:
            if not obj.prompts and not obj.results:
                del self.objects[obj_id]
            raise
        obj.prompts[frame] = steps
        obj.results[frame] = result
        return self.object_logits(frame, obj_id)

    def _prompted_result(self, frame: int, steps: list[dict], resume: FrameResult | None = None) -> FrameResult:
        """Run a frame's prompt history like the official predictor does for a new prompted frame
        (each step refines the previous step's mask); ``resume`` holds the state after all but the
        last step. The frame's memory is made later, when tracking first needs it."""
        core, size, dev = self.core, self.model.image_size, self.model.device
        points = prev = win = None
        h, w = self.frames.height, self.frames.width
        if self.window is not None:  # window mode: the prompt as seen from its window
            win = prompt_window(steps, (h, w), size)
            resume = resume if resume is not None and resume.window == win else None
            steps, h, w = steps_in_window(steps, win, f"frame {frame}"), size, size
        if resume is not None and resume.replay is not None:
            points = resume.replay
            prev = resume.logits.clamp(-32.0, 32.0)
            steps = steps[-1:]
        out = None
        for step in steps:
            if "mask" in step:
                out = core.prompt(frame, mask=mask_to_model_input(step["mask"], size, dev), window=win)
                points = None
            else:
                c, lab = video_prompt(step["points"], step["labels"], step["box"], w, h, size)
                new = Points(c.to(dev), lab.to(dev))
                points = new if points is None else points.extended(new)
                out = core.prompt(frame, points=points, prev_logits=prev, window=win)
            prev = out.masks.clamp(-32.0, 32.0)
        multi = out.multimask_logits
        candidates = (multi.float(), out.ious.float()) if multi.shape[1] > 1 else None
        return FrameResult(out.masks.float(), out.obj_ptr.float(), float(out.object_score[0, 0]),
                           float(out.iou[0]), None, None, candidates, points, window=win)

    @_locked
    def candidates(self, frame: int, obj_id: int) -> list[tuple[np.ndarray, float]]:
        """The three masks SAM 2 proposed for an ambiguous single click on ``frame``, as
        ``[(mask (H, W) bool, predicted IoU), ...]``; empty when the prompt was not ambiguous.
        Choosing one: ``correct(frame, obj_id, mask=mask)``."""
        r = self._object(obj_id).results.get(self._check_frame(frame))
        if r is None or r.candidates is None:
            return []
        logits, ious = r.candidates
        return [(self._in_frame(logits[:, i:i + 1], r.window) > 0, float(ious[0, i])) for i in range(logits.shape[1])]

    @_locked
    def clear_prompts(self, frame: int, obj_id: int) -> None:
        """Remove ``obj_id``'s prompts and result on ``frame``; propagate again to fill it."""
        frame = self._check_frame(frame)
        obj = self._object(obj_id)
        obj.prompts.pop(frame, None)
        obj.results.pop(frame, None)

    @_locked
    def clear(self) -> list[int]:
        """Forget every object, prompt, result and division; returns the frames that had results."""
        frames = sorted({f for obj in self.objects.values() for f in obj.results})
        self.objects.clear()
        self.parents, self.ends, self.starts = {}, {}, {}
        return frames

    @_locked
    def remove_object(self, obj_id: int) -> None:
        """Forget an object and all its results; its daughters become lineage roots."""
        self._object(obj_id)
        del self.objects[obj_id]
        self.ends.pop(obj_id, None)
        self.parents = {d: p for d, p in self.parents.items() if p != obj_id and d != obj_id}
        self.starts = {d: f for d, f in self.starts.items() if d in self.parents}

    # ----------------------------------------------------------------- divisions

    @_locked
    def mark_division(self, parent: int, frame: int, daughters) -> None:
        """Record that ``parent`` divides at ``frame``: its track ends at ``frame - 1`` and each of
        ``daughters`` (new object ids) starts at ``frame``. Prompt the daughters on ``frame`` (or
        later) and propagate forward; they are never tracked back past ``frame``.

        The parent's results from ``frame`` on are removed; prompts it has there are an error.
        """
        frame = self._check_frame(frame)
        obj = self._object(parent)
        daughters = [int(d) for d in daughters]
        if frame == 0:
            raise ValueError("a division needs a frame before it: frame must be at least 1")
        if not daughters or len(set(daughters)) != len(daughters) or parent in daughters:
            raise ValueError(f"daughters must be distinct new object ids, got {daughters}")
        clash = [d for d in daughters if d in self.objects]
        if clash:
            raise ValueError(f"daughter ids {clash} are already used by tracked objects")
        late = sorted(f for f in obj.prompts if f >= frame)
        if late:
            raise ValueError(f"object {parent} has prompts on frame(s) {late} at or after the division at "
                             f"frame {frame}: remove them first")
        for f in [f for f in obj.results if f >= frame]:
            del obj.results[f]
        self.ends[parent] = frame - 1
        for d in daughters:
            self.parents[d], self.starts[d] = parent, frame

    @_locked
    def divide(self, parent: int, frame: int, daughter_prompts: dict) -> None:
        """:meth:`mark_division` plus the daughters' prompts on ``frame``:
        ``{daughter_id: {"points": ..., "labels": ..., "box": ..., "mask": ...}}``."""
        self.mark_division(parent, frame, list(daughter_prompts))
        for d, prompt in daughter_prompts.items():
            if prompt.get("mask") is not None:
                self.add_mask(frame, d, prompt["mask"])
            else:
                self.add_points(frame, d, prompt.get("points"), prompt.get("labels"), prompt.get("box"), clear=True)

    def _alive(self, obj_id: int, frame: int) -> bool:
        return self.starts.get(obj_id, 0) <= frame <= self.ends.get(obj_id, self.num_frames)

    @_locked
    def division_suggestions(self, min_fraction: float = 0.25, area_ratio: float = 0.6, persist: int = 3,
                             shrink: float = 0.8) -> list[dict]:
        """Frames where an object may have divided, for the user to confirm or dismiss: at most one per
        object and event, each cue lasting ``persist`` frames (a lasting split into parts of at least
        ``min_fraction`` of the area, an area below ``area_ratio`` times the previous frame's, a score
        turning absent; a split's parts smaller than ``shrink`` times the cell before it); see
        :mod:`napari_sam2.engine.divisions`. Returns
        ``[{"object_id", "frame", "reasons"}]`` sorted by frame."""
        from .divisions import suggest_divisions

        return suggest_divisions(self, min_fraction, area_ratio, persist, shrink)

    # ----------------------------------------------------------------- propagation

    def propagate(self, direction: str = FORWARD, start: int | None = None, max_frames: int | None = None,
                  obj_ids=None, progress: Callable[[ProgressEvent], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> RunReport:
        """Track through the stack; see :meth:`iter_propagate`. Returns what was done."""
        t0 = time.perf_counter()
        done, cancelled = [], False
        for event in self.iter_propagate(direction, start, max_frames, obj_ids, cancel):
            done.append(event.frame)
            if progress is not None:
                progress(event)
        if cancel is not None and cancel():
            cancelled = True
        return RunReport(done, cancelled, time.perf_counter() - t0)

    def iter_propagate(self, direction: str = FORWARD, start: int | None = None, max_frames: int | None = None,
                       obj_ids=None, cancel: Callable[[], bool] | None = None) -> Iterator[ProgressEvent]:
        """Yield a :class:`ProgressEvent` after each frame.

        direction: "forward", "backward" or "both" (forward from the earliest prompted
        frame, then backward from the latest). start: first frame of the pass (default as
        just said); max_frames: frames to track after the start; obj_ids: a subset of objects.
        ``cancel()`` is checked before every frame; frames done so far keep their results.
        """
        if direction not in (FORWARD, BACKWARD, "both"):
            raise ValueError(f"direction must be 'forward', 'backward' or 'both', got {direction!r}")
        if max_frames is not None and max_frames < 0:
            raise ValueError(f"max_frames must be >= 0, got {max_frames}")
        if start is not None:
            start = self._check_frame(start)
        with self._lock:
            self._choose_window()
            ids = self.obj_ids if obj_ids is None else list(obj_ids)
            plans = pass_plans(direction, start, max_frames, ids, self.objects, self.num_frames)
        total = sum(len(f) for _, f in plans)
        t0, done = time.perf_counter(), 0
        for d, frames in plans:
            for f in frames:
                if cancel is not None and cancel():
                    return
                self._track_frame(f, d, ids)
                done += 1
                yield ProgressEvent(f, done, total, d, ids, time.perf_counter() - t0)

    def correct(self, frame: int, obj_id: int, points=None, labels=None, box=None, mask=None, clear: bool = True,
                progress=None, cancel=None) -> RunReport:
        """Change ``obj_id``'s prompts on ``frame`` and re-track only what they affect.

        Affected are the object's frames tracked away from ``frame`` by earlier passes
        (after it by forward passes, before it by backward ones), up to its next prompted
        frame in that direction. Other objects and frames keep their results.
        """
        frame = self._check_frame(frame)
        with self._lock:
            ranges = downstream(self._object(obj_id), frame, self.num_frames)
        if mask is not None:
            self.add_mask(frame, obj_id, mask)
        else:
            self.add_points(frame, obj_id, points, labels, box, clear=clear)
        t0, done, total = time.perf_counter(), [], sum(len(r) for _, r in ranges)
        for d, run in ranges:
            for f in run:
                if cancel is not None and cancel():
                    return RunReport(done, True, time.perf_counter() - t0)
                self._track_frame(f, d, [obj_id])
                done.append(f)
                if progress is not None:
                    progress(ProgressEvent(f, len(done), total, d, [obj_id], time.perf_counter() - t0))
        return RunReport(done, False, time.perf_counter() - t0)

    @_locked
    def _track_frame(self, f: int, d: str, ids: list) -> None:
        groups: dict = {}
        for oid in ids:
            obj = self.objects[oid]
            if f in obj.prompts or not self._alive(oid, f):
                continue
            layout = memory_layout(obj, f, d, self.model, self.num_frames, self.memory_frames)
            if layout is not None:
                groups.setdefault(layout, []).append(oid)
        self._tracker.track(f, d, groups)
        self._tracker.drop_far_memory(f, ids)

    @property
    def recomputed_memories(self) -> int:
        """Tracked frames whose dropped memory was rebuilt (tests, benchmarks)."""
        return self._tracker.recomputed_memories

    @_locked
    def prompts_dict(self) -> dict:
        """All prompts as plain data (clicks in (x, y) pixels), e.g. to save a session, with a record of
        the results (see :func:`~napari_sam2.engine.session_file.session_dict`)."""
        return session_dict(self)

    @_locked
    def load_prompts(self, data: dict) -> None:
        """Re-apply prompts saved by :meth:`prompts_dict` (results are recomputed on propagation)."""
        apply_session_dict(self, data)
