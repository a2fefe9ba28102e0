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

The session is composed of parts with one job each: the tracker core (model steps, feature cache),
the frame tracker (batches, windows, exclusive pixels), the lineage (:mod:`.lineage`), and the read
side (:class:`~napari_sam2.engine.views.ResultViews`); prompted frames are computed by
:mod:`.prompting`. The session keeps the objects' prompts and results and holds the lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from ..device import check_precision
from ..heap import release_free_memory
from ..model.sam2_base import SAM2Base
from ..notices import warn_quality
from ..predictor.core import TrackerCore
from ..predictor.frames import FrameSource, warn_if_colour
from ..predictor.prompts import check_frame_index, video_prompt
from ..settings import ModelSettings, SettingError, SuspectSettings, TrackingSettings
from .frame_tracking import FrameTracker
from .lineage import Lineage
from .plans import downstream, memory_layout, pass_plans
from .prompting import anchored, check_steps, click_step, prompted_masks, prompted_result
from .results import BACKWARD, FORWARD, ObjectTrack, ProgressEvent, RunReport, Timeline
from .session_file import apply_session_dict, session_dict
from .spill import ResultSpill
from .suspects import measures_of
from .views import ResultViews, locked
from .visibility import Visible
from .windows import (
    auto_window,
    check_window,
    label_windows,
    warn_if_outside,
    whole_frame_window,
    window_advice,
)


def _frame_shape(frames) -> tuple[int, int] | None:
    """(H, W) of a stack given as an array-like (N, H, W[, C]) or a FrameSource; None for a path."""
    if isinstance(frames, FrameSource):
        return frames.height, frames.width
    shape = getattr(frames, "shape", None)
    return (int(shape[1]), int(shape[2])) if shape is not None and len(shape) >= 3 else None


def _settings(tracking: TrackingSettings | None, options: dict) -> TrackingSettings:
    """``tracking`` (or the defaults) with ``options`` (TrackingSettings fields given as keywords)."""
    tracking = tracking or TrackingSettings()
    return tracking.replaced(**options) if options else tracking


class TrackingSession:
    """Prompts, propagation and results for one stack of frames (time or Z).

    model: a SAM 2 model built for video (``build_sam2_video_predictor(...).model``, :meth:`from_name` or
    :meth:`from_settings`); one built for images is switched to the video settings, with a warning.
    Every step is computed by the tracker core (:class:`~napari_sam2.predictor.core.TrackerCore`) that the
    video predictor uses too; the session keeps per-object prompts and results. frames: ``(N, H, W[, C])``
    array-like or a path (see :class:`~napari_sam2.predictor.frames.FrameSource`); use
    :func:`~napari_sam2.engine.stack.stack_view` to choose axis and channel. feature_cache_mb: bound on the
    cached image features. fill_hole_area: small holes in output masks are filled (low-res pixels).

    tracking: :class:`~napari_sam2.settings.TrackingSettings` (the defaults give the official numbers);
    any of its fields may also be given as a keyword (``TrackingSession(model, frames, exclusive=True)``):

    * precision "bf16" computes in bfloat16 (CUDA, and CPUs with AVX512-BF16 or AMX; elsewhere it is refused
      because it would be slower, not faster); memory_frames keeps only that many recent tracked frames in the
      memory bank (the model's own number, 6 for SAM 2, when None). Both are fast modes.
    * results_ram: MB of results (low-res logits) kept in RAM; past it the furthest frames' go to a temporary
      file and are read back unchanged when needed (:mod:`~napari_sam2.engine.spill`).
    * max_batch: at most this many objects go through the model in one call, so peak memory grows with it,
      not with the number of objects. Results agree to float rounding (CPU matrix kernels round by batch
      size: about 1e-7 in the logits), not bit for bit.
    * exclusive: each pixel belongs to at most one object. On every tracked frame all tracked objects are
      decoded first; then, per low-res pixel, only the object with the highest logit keeps a positive logit
      (the others are clamped to -10 or below there, as SAM 2's ``non_overlapping`` does for one batch, but
      across every batch of the frame), and the memory of each object is encoded from its exclusive mask.
      Objects prompted on the frame are not re-decoded and own their pixels (as in the label image).
    * window: window mode (:mod:`~napari_sam2.engine.windows`): each object is tracked in a square of the
      frame this many px wide at native scale, which must be the model's input size. "auto": decided before
      the first frame is tracked, by :func:`~napari_sam2.engine.windows.auto_window` (windows when the frame
      is larger than the model's input and the prompted objects are small against it); :attr:`window` then
      holds the choice and :attr:`window_choice` says why.
    * memory: what enters each object's memory. "official" (the default): the decoded mask, the official
      numbers. "resolved": neighbour-resolved memory (:mod:`~napari_sam2.engine.neighbours`): pixels claimed
      by two objects go to one, by logit and motion fit, and a mask that lags its cell is moved onto it for
      the memory; the shown masks are exclusive, as with ``exclusive``.

    suspects: the thresholds of :meth:`suspects` (:class:`~napari_sam2.settings.SuspectSettings`; None: the
    defaults).

    Threads: every public method holds one re-entrant lock (:attr:`lock`), and propagation takes it one frame
    at a time, so another thread (a GUI) may read results between frames; the read methods return copies,
    never live containers.
    """

    def __init__(
        self,
        model: SAM2Base,
        frames,
        contrast_limits=None,
        tracking: TrackingSettings | None = None,
        feature_cache_mb: float = 256.0,
        fill_hole_area: int = 8,
        suspects: SuspectSettings | None = None,
        **options,
    ) -> None:
        self.tracking = settings = _settings(tracking, options)
        self.suspect_settings = suspects or SuspectSettings()
        check_precision(settings.precision, model.device)
        self._auto_window = settings.window == "auto"
        self.window = None if self._auto_window else check_window(settings.window, model.image_size)
        self.window_choice: str | None = None  # window "auto": what was chosen and why
        most = max(model.num_maskmem - 1, 0)
        if settings.memory_frames is not None and settings.memory_frames > most:
            raise SettingError(
                TrackingSettings,
                "memory_frames",
                f"must be between 0 and {most} (this model's "
                f"memory bank), got {settings.memory_frames}",
            )
        self.lock = threading.RLock()
        self.model = model
        self.frames = (
            frames
            if isinstance(frames, FrameSource)
            else FrameSource(frames, model.image_size, contrast_limits)
        )
        warn_if_colour(
            self.frames, model
        )  # colour to a grey-trained model (the demo) names channel='grey'
        if (
            model.training
        ):  # dropout on, eval-only rules off: e.g. straight from build_model or a training loop
            warn_quality(
                "the model is in training mode, so tracking differs from inference; call model.eval() first"
            )
        advice = window_advice(
            (self.frames.height, self.frames.width), model.image_size, self.window
        )
        if advice is not None and not self._auto_window:
            warn_quality(advice)
        self.core = TrackerCore(
            model, self.frames, feature_cache_mb, fill_hole_area, settings.precision
        )
        self.objects: "OrderedDict[int, ObjectTrack]" = OrderedDict()
        self.tree = Lineage()  # divisions: who divides when, into whom
        self.views = ResultViews(self)
        self.tracker = self._frame_tracker()
        self.spill = ResultSpill(settings.results_ram)

    def _frame_tracker(self) -> FrameTracker:
        shape = None if self.window is None else (self.frames.height, self.frames.width)
        return FrameTracker(
            self.core,
            self.objects,
            self.tracking.max_batch,
            self.tracking.exclusive,
            shape,
            self.tracking.memory,
        )

    def _choose_window(self) -> None:
        """Window "auto", once, before the first frame is tracked: the rule of
        :func:`~napari_sam2.engine.windows.auto_window` on the objects' sizes on their first prompted frames;
        in window mode their prompted frames are computed again in windows."""
        if not self._auto_window or not self.objects:
            return
        self._auto_window = False
        shape = (self.frames.height, self.frames.width)
        areas = [
            measures_of(o.results[min(o.prompts)], shape).area
            for o in self.objects.values()
            if o.prompts
        ]
        self.window, self.window_choice = auto_window(
            shape, self.model.image_size, [2 * (a / np.pi) ** 0.5 for a in areas if a]
        )
        if self.window is not None:
            self.tracker = self._frame_tracker()
            for obj in self.objects.values():
                for f, steps in obj.prompts.items():
                    obj.results[f] = prompted_result(self.core, f, steps, self.window)

    @classmethod
    def from_settings(
        cls,
        frames,
        model: ModelSettings | None = None,
        tracking: TrackingSettings | None = None,
        contrast_limits=None,
        suspects: SuspectSettings | None = None,
    ) -> "TrackingSession":
        """A session on the model ``model`` names (:class:`~napari_sam2.settings.ModelSettings`; its device
        'auto' picks one), tracking as ``tracking`` says. Window mode builds the model at the window's size;
        a window as large as the frames is the whole frame (a QualityWarning says so)."""
        from ..device import pick_device
        from ..predictor.video_predictor import build_sam2_video_predictor

        model, tracking = model or ModelSettings(), tracking or TrackingSettings()
        shape = _frame_shape(frames)
        if tracking.window not in (None, "auto") and shape is not None:
            tracking = tracking.replaced(window=whole_frame_window(tracking.window, shape))
        fixed = tracking.window not in (
            None,
            "auto",
        )  # window "auto" uses the model's own input size
        size = tracking.window if fixed else model.image_size
        if fixed and model.image_size not in (None, tracking.window):
            raise SettingError(
                ModelSettings,
                "image_size",
                f"{model.image_size} and window {tracking.window} "
                "differ: window mode runs the model at the window's size",
            )
        device = pick_device(model.device)
        check_precision(tracking.precision, device)  # before the model is built
        built = build_sam2_video_predictor(
            model.model, checkpoint=model.checkpoint, device=device, image_size=size
        ).model
        return cls(built, frames, contrast_limits, tracking, suspects=suspects)

    @classmethod
    def from_name(
        cls,
        frames,
        name: str = "sam2.1_hiera_tiny",
        checkpoint="local",
        device="cpu",
        image_size: int | None = None,
        **options,
    ) -> "TrackingSession":
        """A session on a model built by name, for scripts; ``options`` are TrackingSettings fields (and
        ``contrast_limits``). See :meth:`from_settings`."""
        contrast_limits = options.pop("contrast_limits", None)
        model = ModelSettings(
            model=name, checkpoint=checkpoint, device=device, image_size=image_size
        )
        return cls.from_settings(frames, model, _settings(None, options), contrast_limits)

    # ----------------------------------------------------------------- basics

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames.num_frames, self.frames.height, self.frames.width

    @property
    def parents(self) -> dict[int, int]:
        """``{daughter: mother}`` of every division (the lineage's own dict: read it under :attr:`lock`)."""
        return self.tree.parents

    @property
    def obj_ids(self) -> list[int]:
        with self.lock:
            return list(self.objects)

    def check_frame(self, frame) -> int:
        """``frame`` as an index of this stack, or an error naming it."""
        return check_frame_index(frame, self.num_frames, "frame", "stack")

    def object(self, obj_id) -> ObjectTrack:
        """The live record of ``obj_id`` (read it under :attr:`lock`); a KeyError names the known ids."""
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

    @property
    def recomputed_memories(self) -> int:
        """Tracked frames whose dropped memory was rebuilt (tests, benchmarks)."""
        return self.tracker.recomputed_memories

    # ----------------------------------------------------------------- what it holds (the read side)

    def object_logits(self, frame: int, obj_id: int) -> np.ndarray:
        """``(H, W)`` float32 logits of one object on one frame (-1024 where it has no result)."""
        return self.views.object_logits(frame, obj_id)

    def label_frame(self, frame: int) -> np.ndarray:
        """``(H, W)`` uint32 labels of a frame (:meth:`~napari_sam2.engine.views.ResultViews.label_frame`)."""
        return self.views.label_frame(frame)

    def visibility(self, frame: int) -> dict[int, Visible]:
        """``{obj_id: Visible(pixels, covered_by)}`` of each object with a result on ``frame``."""
        return self.views.visibility(frame)

    def label_stack(self):
        """The labels of every frame, computed a frame at a time when read (a LabelStack)."""
        return self.views.label_stack()

    def labels(self) -> np.ndarray:
        """The whole ``(N, H, W)`` uint32 label stack."""
        return self.views.labels()

    def records(self) -> list[dict]:
        """Per object and tracked frame: object score, predicted IoU, lost and prompted flags."""
        return self.views.records()

    def lost_frames(self) -> dict[int, list[int]]:
        """``{object id: [frames where it is lost]}`` for every object."""
        return self.views.lost_frames()

    def timeline(self, obj_id: int) -> Timeline:
        """One object's scores and lost flags per frame (a snapshot)."""
        return self.views.timeline(obj_id)

    def timelines(self, suspects: bool = True) -> dict[int, Timeline]:
        """:meth:`timeline` of every object, taken together (one consistent snapshot), with their suspect
        frames unless ``suspects=False``."""
        return self.views.timelines(suspects)

    def tracked_frames(self, obj_id: int) -> list[int]:
        """The frames where ``obj_id`` has a result (prompted or tracked), sorted."""
        return self.views.tracked_frames(obj_id)

    def result_frames(self) -> list[int]:
        """The frames where any object has a result (prompted or tracked), sorted."""
        return self.views.result_frames()

    def suspects(self, settings: SuspectSettings | None = None) -> dict[int, dict[int, list[str]]]:
        """``{obj_id: {frame: [reasons]}}``: the object-frames whose mask is probably wrong although the model
        is sure of it (:mod:`~napari_sam2.engine.suspects`), by the session's thresholds or ``settings``."""
        return self.views.suspects(settings)

    @locked
    def lineage(self) -> dict[int, int]:
        """``{daughter: parent}`` of every division (a copy; :attr:`parents` changes on divisions)."""
        return dict(self.tree.parents)

    # ----------------------------------------------------------------- prompts

    @locked
    def add_points(
        self, frame: int, obj_id: int, points=None, labels=None, box=None, clear: bool = False
    ) -> np.ndarray:
        """Add clicks ``points`` (N, 2) in (x, y) pixels with ``labels`` (1 positive, 0 negative)
        and/or a ``box`` (x0, y0, x1, y1) for ``obj_id`` on ``frame``. ``clear`` drops the
        object's earlier prompts on that frame. Returns the object's ``(H, W)`` logits there.

        Results on other frames are not changed: call :meth:`propagate` or :meth:`correct`.
        """
        frame = self.check_frame(frame)
        if (
            box is not None
            and not clear
            and self.objects.get(obj_id, ObjectTrack()).prompts.get(frame)
        ):
            raise ValueError(
                "a box must come first on a frame: pass clear=True to start over with it"
            )
        video_prompt(
            points, labels, box, self.frames.width, self.frames.height, self.model.image_size
        )
        return self._add_step(frame, obj_id, click_step(points, labels, box), clear)

    @locked
    def add_mask(self, frame: int, obj_id: int, mask) -> np.ndarray:
        """Give ``obj_id`` a painted mask ``(H, W)`` on ``frame`` (replaces its clicks there)."""
        frame = self.check_frame(frame)
        m = np.asarray(mask)
        if m.shape != (self.frames.height, self.frames.width):
            raise ValueError(
                f"mask must have the frame's shape {(self.frames.height, self.frames.width)}, "
                f"got {m.shape}"
            )
        if not m.any():
            raise ValueError(f"the mask for object {obj_id} on frame {frame} is empty")
        if self.window is not None:
            warn_if_outside(m.astype(bool), self.window, f"object {obj_id} on frame {frame}")
        return self._add_step(frame, obj_id, {"mask": m.astype(bool)}, clear=True)

    @locked
    def add_labels(self, frame: int, labels) -> list[int]:
        """Give every object in a ``(H, W)`` integer label image a mask prompt on ``frame``: the label
        value is the object id (:meth:`add_mask` for each). Returns the ids added, ascending.

        All or nothing: a bad image (another shape, float or negative labels, no object; see
        :func:`~napari_sam2.io.label_prompts.check_label_image`) is refused before any prompt, and an
        id that :meth:`add_mask` refuses (a daughter before its division, a divided parent after it)
        leaves every object's prompts and results on ``frame`` as they were.
        """
        from ..io.label_prompts import check_label_image, label_ids

        frame = self.check_frame(frame)
        image = check_label_image(
            labels, (self.frames.height, self.frames.width), f"the label image for frame {frame}"
        )
        ids = label_ids(image)
        before = {
            oid: (self.objects[oid].prompts.get(frame), self.objects[oid].results.get(frame))
            for oid in ids
            if oid in self.objects
        }
        windows = [None] * len(ids)
        if self.window is not None:  # every object's window encoded first, in batches
            windows = label_windows(image, ids, self.window)
            self.core.features.prefetch(frame, windows)
        try:
            self._add_masks(frame, {oid: image == oid for oid in ids}, windows)
        except Exception:
            self._restore_frame(frame, ids, before)
            raise
        return ids

    def _add_masks(self, frame: int, masks: dict[int, np.ndarray], windows: list) -> None:
        """:meth:`add_mask` for every ``{obj_id: (H, W) bool mask}`` (none empty), decoded in batches;
        ``windows``: each mask's prompt window (None each for the whole frame)."""
        for (oid, m), w in zip(masks.items(), windows):
            self.tree.check_prompt(oid, frame)
            if w is not None:
                warn_if_outside(m, self.window, f"object {oid} on frame {frame}", w)
        results = prompted_masks(
            self.core, frame, list(masks.values()), windows, self.tracking.max_batch
        )
        for (oid, m), result in zip(masks.items(), results):
            obj = self.objects.setdefault(oid, ObjectTrack())
            obj.prompts[frame] = [{"mask": m}]
            obj.results[frame] = result

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
        self.tree.check_prompt(obj_id, frame)
        steps = (
            [] if clear else list(self.objects.get(obj_id, ObjectTrack()).prompts.get(frame, []))
        )
        steps.append(step)
        known = self.objects.get(obj_id, ObjectTrack())
        if not anchored(steps) and frame in known.results and frame not in known.prompts:
            # negative clicks on a tracked frame take area away from the mask tracking shows there:
            # that mask becomes the frame's first prompt (kept in the session file, so a reload replays it)
            shown = self.object_logits(frame, obj_id) > 0
            if shown.any():
                steps.insert(0, {"mask": shown})
        check_steps(obj_id, frame, steps)
        obj = self.objects.setdefault(obj_id, ObjectTrack())
        # a further click continues from the frame's last state instead of replaying every step
        resume = obj.results.get(frame) if len(steps) > 1 else None
        try:
            result = prompted_result(self.core, frame, steps, self.window, resume)
        except Exception:
            if not obj.prompts and not obj.results:
                del self.objects[obj_id]
            raise
        obj.prompts[frame] = steps
        obj.results[frame] = result
        return self.object_logits(frame, obj_id)

    @locked
    def candidates(self, frame: int, obj_id: int) -> list[tuple[np.ndarray, float]]:
        """The three masks SAM 2 proposed for an ambiguous single click on ``frame``, as
        ``[(mask (H, W) bool, predicted IoU), ...]``; empty when the prompt was not ambiguous.
        Choosing one: ``correct(frame, obj_id, mask=mask)``."""
        r = self.object(obj_id).results.get(self.check_frame(frame))
        if r is None or r.candidates is None:
            return []
        logits, ious = r.candidates
        return [
            (self.views.in_frame(logits[:, i : i + 1], r.window) > 0, float(ious[0, i]))
            for i in range(logits.shape[1])
        ]

    @locked
    def clear_prompts(self, frame: int, obj_id: int) -> None:
        """Remove ``obj_id``'s prompts and result on ``frame``; propagate again to fill it."""
        frame = self.check_frame(frame)
        obj = self.object(obj_id)
        obj.prompts.pop(frame, None)
        obj.results.pop(frame, None)

    @locked
    def clear(self) -> list[int]:
        """Forget every object, prompt, result and division; returns the frames that had results."""
        frames = self.result_frames()
        self.objects.clear()
        self.tree.clear()
        return frames

    @locked
    def remove_object(self, obj_id: int) -> None:
        """Forget an object and all its results; its daughters become lineage roots."""
        self.object(obj_id)
        del self.objects[obj_id]
        self.tree.forget(obj_id)

    # ----------------------------------------------------------------- divisions

    @locked
    def mark_division(self, parent: int, frame: int, daughters) -> None:
        """Record that ``parent`` divides at ``frame``: its track ends at ``frame - 1`` and each of
        ``daughters`` (new object ids) starts at ``frame``. Prompt the daughters on ``frame`` (or
        later) and propagate forward; they are never tracked back past ``frame``.

        The parent's results from ``frame`` on are removed; prompts it has there are an error.
        """
        frame = self.check_frame(frame)
        obj = self.object(parent)
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
            raise ValueError(
                f"object {parent} has prompts on frame(s) {late} at or after the division at "
                f"frame {frame}: remove them first"
            )
        for f in [f for f in obj.results if f >= frame]:
            del obj.results[f]
        self.tree.mark(parent, frame, daughters)

    @locked
    def divide(self, parent: int, frame: int, daughter_prompts: dict) -> None:
        """:meth:`mark_division` plus the daughters' prompts on ``frame``:
        ``{daughter_id: {"points": ..., "labels": ..., "box": ..., "mask": ...}}``."""
        self.mark_division(parent, frame, list(daughter_prompts))
        for d, prompt in daughter_prompts.items():
            if prompt.get("mask") is not None:
                self.add_mask(frame, d, prompt["mask"])
            else:
                self.add_points(
                    frame,
                    d,
                    prompt.get("points"),
                    prompt.get("labels"),
                    prompt.get("box"),
                    clear=True,
                )

    @locked
    def division_suggestions(
        self,
        min_fraction: float = 0.25,
        area_ratio: float = 0.6,
        persist: int = 3,
        shrink: float = 0.8,
    ) -> list[dict]:
        """Frames where an object may have divided, for the user to confirm or dismiss: at most one per
        object and event, each cue lasting ``persist`` frames (a lasting split into parts of at least
        ``min_fraction`` of the area, an area below ``area_ratio`` times the previous frame's, a score
        turning absent; a split's parts smaller than ``shrink`` times the cell before it); see
        :mod:`napari_sam2.engine.divisions`. Returns
        ``[{"object_id", "frame", "reasons"}]`` sorted by frame."""
        from .divisions import suggest_divisions

        return suggest_divisions(self, min_fraction, area_ratio, persist, shrink)

    # ----------------------------------------------------------------- propagation

    def propagate(
        self,
        direction: str = FORWARD,
        start: int | None = None,
        max_frames: int | None = None,
        obj_ids=None,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> RunReport:
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

    def iter_propagate(
        self,
        direction: str = FORWARD,
        start: int | None = None,
        max_frames: int | None = None,
        obj_ids=None,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[ProgressEvent]:
        """Yield a :class:`ProgressEvent` after each frame.

        direction: "forward", "backward" or "both" (forward from the earliest prompted
        frame, then backward from the latest). start: first frame of the pass (default as
        just said); max_frames: frames to track after the start; obj_ids: a subset of objects.
        ``cancel()`` is checked before every frame; frames done so far keep their results.
        """
        if direction not in (FORWARD, BACKWARD, "both"):
            raise ValueError(
                f"direction must be 'forward', 'backward' or 'both', got {direction!r}"
            )
        if max_frames is not None and max_frames < 0:
            raise ValueError(f"max_frames must be >= 0, got {max_frames}")
        if start is not None:
            start = self.check_frame(start)
        with self.lock:
            self._choose_window()
            ids = self.obj_ids if obj_ids is None else list(obj_ids)
            plans = pass_plans(direction, start, max_frames, ids, self.objects, self.num_frames)
        total = sum(len(f) for _, f in plans)
        t0, done = time.perf_counter(), 0
        for d, frames in plans:
            for f in frames:
                if cancel is not None and cancel():
                    return
                self.track_frame(f, d, ids)
                done += 1
                yield ProgressEvent(f, done, total, d, ids, time.perf_counter() - t0)

    def correct(
        self,
        frame: int,
        obj_id: int,
        points=None,
        labels=None,
        box=None,
        mask=None,
        clear: bool = True,
        progress=None,
        cancel=None,
    ) -> RunReport:
        """Change ``obj_id``'s prompts on ``frame`` and re-track only what they affect.

        Affected are the object's frames tracked away from ``frame`` by earlier passes
        (after it by forward passes, before it by backward ones), up to its next prompted
        frame in that direction. Other objects and frames keep their results.
        """
        frame = self.check_frame(frame)
        with self.lock:
            ranges = downstream(self.object(obj_id), frame, self.num_frames)
        if mask is not None:
            self.add_mask(frame, obj_id, mask)
        else:
            self.add_points(frame, obj_id, points, labels, box, clear=clear)
        t0, done, total = time.perf_counter(), [], sum(len(r) for _, r in ranges)
        for d, run in ranges:
            for f in run:
                if cancel is not None and cancel():
                    return RunReport(done, True, time.perf_counter() - t0)
                self.track_frame(f, d, [obj_id])
                done.append(f)
                if progress is not None:
                    progress(
                        ProgressEvent(f, len(done), total, d, [obj_id], time.perf_counter() - t0)
                    )
        return RunReport(done, False, time.perf_counter() - t0)

    @locked
    def track_frame(self, f: int, d: str, ids: list) -> None:
        """Track frame ``f`` in direction ``d`` for the objects ``ids`` that live there and are not prompted
        on it (one step of a pass; :meth:`propagate` and :meth:`correct` call it frame by frame)."""
        groups: dict = {}
        for oid in ids:
            obj = self.objects[oid]
            if f in obj.prompts or not self.tree.alive(oid, f):
                continue
            layout = memory_layout(
                obj, f, d, self.model, self.num_frames, self.tracking.memory_frames
            )
            if layout is not None:
                groups.setdefault(layout, []).append(oid)
        self.tracker.track(f, d, groups)
        self.tracker.drop_far_memory(f, ids)
        self.spill.after_frame(f, self.objects, ids)
        release_free_memory()  # what this frame freed goes back to the system: RSS stays flat

    # ----------------------------------------------------------------- session files

    @locked
    def prompts_dict(self) -> dict:
        """All prompts as plain data (clicks in (x, y) pixels), e.g. to save a session, with the tracking
        settings and a record of the results (see :func:`~napari_sam2.engine.session_file.session_dict`)."""
        return session_dict(self)

    @locked
    def load_prompts(self, data: dict) -> None:
        """Re-apply prompts saved by :meth:`prompts_dict` (results are recomputed on propagation)."""
        apply_session_dict(self, data)
