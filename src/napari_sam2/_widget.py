"""The SAM 2 dock widget: prompts from napari layers, live masks, propagation in the background.

All model work runs in napari worker threads, one job at a time (:mod:`._widget_jobs`); layers
are changed only in the handlers on the main thread, and the main thread reads the session only
through snapshots the workers hand back. The widget talks to the engine with numpy arrays.
"""

from __future__ import annotations

import inspect
import warnings

import napari
import numpy as np
from napari.utils import progress as napari_progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QListWidgetItem, QWidget

from ._widget_controls import Controls, SettingError
from ._widget_divisions import Divisions
from ._widget_exports import Exports, ask_path
from ._widget_jobs import OTHER, PROMPT, TRACK, Job, JobQueue
from ._widget_sync import digest as _digest
from ._widget_sync import frames_with, prompt_job, tracked_frames
from ._widget_prompts import PromptLayers
from ._widget_text import BOXES, CLICKS, OUTPUT, PAINT, SHORTCUTS, TOOLTIPS, TRACKS

__all__ = ["SAM2Widget", "SHORTCUTS", "TOOLTIPS"]


class SAM2Widget(QWidget):
    """Prompt, track and correct objects in a napari image layer with SAM 2."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer") -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = None
        self.names: dict[int, str] = {}
        self.edited_frames: set[int] = set()
        self.last_report = None
        self._written: dict[int, bytes] = {}
        self._timelines: dict = {}  # object -> Timeline, as the last job left the session
        self._pbar = None
        self._candidates = None
        self._layer = None
        self._output = None
        self._prompts = PromptLayers(self._frame_of)
        self._track_dim = 0
        self._fixed: dict[int, int] = {}
        self._closed = False
        self._docked = False
        self._files = Exports(self)
        self._divisions = Divisions(self)
        self._jobs = JobQueue(self._worker_body, self._job_started, self._job_result, self._job_finished,
                              self._job_failed)

        c = Controls(self._image_layers, self.names)
        (self._image, self._axis, self._channel, self._contrast, self._model, self._checkpoint, self._image_size,
         self._device, self._precision, self._memory, self._threads, self._start) = (
            c.image, c.axis, c.channel, c.contrast, c.model, c.checkpoint, c.image_size, c.device, c.precision,
            c.memory, c.threads, c.start)
        (self._objects, self._add, self._delete, self._clear, self._negative, self._cands, self._paint,
         self._use_paint, self._divide, self._suggest, self._dismiss, self._suggestions) = (
            c.objects, c.add, c.delete, c.clear, c.negative, c.cands, c.paint, c.use_paint, c.divide, c.suggest,
            c.dismiss, c.suggestions)
        (self._forward, self._backward, self._both, self._stop, self._status, self._overwrite, self._timeline,
         self._exports) = (c.forward, c.backward, c.both, c.stop, c.status, c.overwrite, c.timeline, c.exports)
        self._controls = c
        c.lay_out(self)

        self._start.clicked.connect(self.start_session)
        self._add.clicked.connect(self.add_object)
        self._delete.clicked.connect(self.delete_object)
        self._clear.clicked.connect(self.clear_object)
        self._negative.changed.connect(self._update_click_defaults)
        self._paint.clicked.connect(self.add_paint_layer)
        self._use_paint.clicked.connect(self.use_painted_mask)
        self._forward.clicked.connect(self.propagate_forward)
        self._backward.clicked.connect(self.propagate_backward)
        self._both.clicked.connect(self.propagate_both)
        self._stop.clicked.connect(self.cancel)
        self._overwrite.clicked.connect(self.overwrite_edited_frames)
        self._divide.clicked.connect(self.divide_here)
        self._suggest.clicked.connect(self.suggest_divisions)
        self._suggestions.changed.connect(self._divisions.go_to)
        self._dismiss.clicked.connect(self.dismiss_suggestion)
        for i, b in enumerate(self._cands):
            b.clicked.connect(lambda *_, i=i: self.choose_candidate(i))
        self._objects.currentItemChanged.connect(self._object_selected)
        self._timeline.frameClicked.connect(self.go_to_frame)
        actions = {"Labels TIFF": self.export_tiff, "Labels zarr": self.export_zarr, "Table CSV": self.export_table,
                   "CTC folder": self.export_ctc, "GEFF": self.export_geff, "Tracks layer": self.add_tracks_layer,
                   "Save session": self.save_session, "Load session": self.load_session}
        for name, fn in actions.items():
            self._exports[name].clicked.connect(fn)
        self._connect_viewer()

    # ------------------------------------------------------------------ viewer hooks and closing

    def _connect_viewer(self) -> None:
        """Viewer events (bound methods: napari holds them weakly) and shortcuts, undone by :meth:`_disconnect`."""
        self.viewer.layers.events.inserted.connect(self._image.reset_choices)
        self.viewer.layers.events.removed.connect(self._layer_removed)
        self.viewer.dims.events.current_step.connect(self._step_changed)
        self._bindings = {}  # key -> (our function, the binding it replaced or None)
        for key, (method, _) in SHORTCUTS.items():
            ours = _Shortcut(self, method)
            self._bindings[key] = (ours, self.viewer.bind_key(key, ours, overwrite=True))

    def _disconnect(self) -> None:
        viewer = self.viewer
        viewer.layers.events.inserted.disconnect(self._image.reset_choices)
        viewer.layers.events.removed.disconnect(self._layer_removed)
        viewer.dims.events.current_step.disconnect(self._step_changed)
        from napari.utils.key_bindings import coerce_keybinding

        for key, (ours, replaced) in self._bindings.items():
            if viewer.keymap.get(coerce_keybinding(key)) is ours:  # not rebound by someone else since
                viewer.bind_key(key, replaced, overwrite=True)
        self._bindings = {}
        self._unhook_prompt_layers()

    def _unhook_prompt_layers(self) -> None:
        clicks, boxes = self._prompts.clicks, self._prompts.boxes
        for layer in (clicks, boxes):
            if layer is not None:
                layer.events.data.disconnect(self._prompts_changed)
        if clicks is not None and self._right_click in clicks.mouse_drag_callbacks:
            clicks.mouse_drag_callbacks.remove(self._right_click)
        self._prompts.clicks = self._prompts.boxes = None

    def shutdown(self) -> None:
        """Stop background work, disconnect from the viewer, restore replaced shortcuts, drop the session.
        Called when the dock widget is closed; the layers stay."""
        if self._closed:
            return
        self._closed = True
        self._jobs.close()
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self._disconnect()
        self.session = None
        self._timelines = {}

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # napari closes a dock widget by taking it out of its dock (parent None), not by close()
        if event.type() == QEvent.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked:
                self.shutdown()
        super().changeEvent(event)

    # ------------------------------------------------------------------ helpers

    def _image_layers(self, *_):
        return [layer for layer in self.viewer.layers if isinstance(layer, napari.layers.Image)]

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    @property
    def current_object(self) -> int | None:
        return self._objects.current

    def _layer_or_none(self, name):
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _current_frame(self) -> int:
        offset = self.viewer.dims.ndim - self._layer.ndim
        return int(self.viewer.dims.current_step[offset + self._track_dim])

    def go_to_frame(self, frame: int) -> None:
        """Move the viewer to ``frame`` of the tracked axis."""
        offset = self.viewer.dims.ndim - self._layer.ndim
        self.viewer.dims.set_current_step(offset + self._track_dim, int(frame))

    def _step_changed(self, event=None) -> None:
        self._refresh_timeline()

    def _set_status(self, text: str) -> None:
        self._status.value = text

    # ------------------------------------------------------------------ jobs

    def _run(self, func, *, on_return=None, on_yield=None, label="working", kind=OTHER, key=None) -> Job:
        """Queue ``func(job)`` to run in a worker thread after any running job."""
        return self._jobs.submit(Job(func, label, kind, on_return, on_yield, key))

    def _worker_body(self, job: Job):
        """What the worker runs for ``job``: the thread setting first, then the job; warnings it raises
        are collected, and a snapshot of every object's timeline is returned with its result."""
        session, threads = self.session, int(self._threads.value)

        def body():
            from .threads import set_threads

            set_threads(threads)  # torch's thread count belongs to the thread that sets it
            with warnings.catch_warnings(record=True) as caught:
                from .notices import QualityWarning

                warnings.simplefilter("always", QualityWarning)
                out = job.func(job)
                if inspect.isgenerator(out):
                    out = yield from out
            return out, None if session is None else session.timelines(), caught

        return body

    def _job_started(self, job: Job) -> None:
        self._set_status(f"{job.label}...")

    def _job_result(self, job: Job, value) -> None:
        out, lines, caught = value
        if lines is not None:
            self._timelines = lines
            self._show_lost()
        if job.on_return is not None:
            job.on_return(out)
        self._show_warnings(caught)

    def _show_warnings(self, caught) -> None:
        from .notices import QualityWarning

        quality = []
        for w in caught:
            if issubclass(w.category, QualityWarning):
                quality.append(str(w.message))
                show_warning(f"SAM 2: {w.message}")
            else:  # not ours to show: hand it back to Python's warning machinery
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if quality:  # after the job's own status line, so that it stays in view
            self._set_status(f"{self._status.value} Warning: {' '.join(quality)}")

    def _job_failed(self, exc) -> None:
        show_error(f"SAM 2: {exc}")
        self._set_status(f"error: {exc}")

    def _job_finished(self, job: Job) -> None:
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self._refresh_timeline()
        if TRACKS in self.viewer.layers and not self._jobs.pending:
            self._files.refresh_tracks()  # keep the lineage in step with the labels

    # ------------------------------------------------------------------ session

    def start_session(self) -> None:
        """Create the engine session for the chosen image layer (model loading runs in the background)."""
        layer = self._image.value
        if layer is None:
            show_error("SAM 2: choose an image layer first")
            return
        try:
            stack = self._controls.stack(layer, self.viewer.dims.current_step[self.viewer.dims.ndim - layer.ndim:])
        except SettingError as exc:
            show_error(f"SAM 2: {exc}")
            return
        options = self._controls.model_options()
        from .engine.batch import pick_device
        from .engine.session import check_precision

        try:  # a device or fast mode this machine cannot run is refused here, with the reason
            device = pick_device(self._device.value)
            check_precision(options["precision"], device)
        except ValueError as exc:
            show_error(f"SAM 2: {exc}")
            self._set_status(f"error: {exc}")
            return

        def build(job):
            from .engine.session import TrackingSession

            return TrackingSession.from_name(stack.view, device=device, contrast_limits=stack.limits, **options)

        self._layer, self._track_dim, self._fixed = layer, stack.track_dim, stack.fixed
        self._run(build, on_return=self._session_ready, label="loading model")

    def _session_ready(self, session) -> None:
        self.session = session
        self._prompts.known, self._written, self.edited_frames, self._timelines = {}, {}, set(), {}
        layer = self._layer
        self._unhook_prompt_layers()
        for name in (CLICKS, BOXES, OUTPUT, PAINT):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        n, h, w = session.shape
        dtype = np.uint16
        out = self.viewer.add_labels(np.zeros((n, h, w), dtype), name=OUTPUT, opacity=0.5)
        self._output = out
        self._zeros_digest = _digest(np.zeros((h, w), dtype))
        self._prompts.create(self.viewer, layer, max(4, min(h, w) // 60))
        out.scale, out.translate = layer.scale[-3:], layer.translate[-3:]
        clicks, boxes = self._prompts.clicks, self._prompts.boxes
        clicks.events.data.connect(self._prompts_changed)
        boxes.events.data.connect(self._prompts_changed)
        clicks.mouse_drag_callbacks.append(self._right_click)
        if self._objects.count() == 0:
            self.add_object()
        else:
            self._update_click_defaults()
        clicks.mode = "add"
        self.viewer.layers.selection.active = clicks
        from .model.configs import DEMO
        from .weights import DEMO_NOTICE

        self._set_status(f"Session ready: {n} frames of {h}x{w}, model {session.model.cfg.name} "
                         f"at {session.model.image_size} px, {int(self._threads.value)} CPU thread(s). "
                         f"Click on '{CLICKS}' to prompt.")
        if session.model.cfg.name == DEMO:
            show_warning(f"SAM 2: using {DEMO_NOTICE}")

    def _layer_removed(self, event) -> None:
        self._image.reset_choices()
        if self.session is not None and event.value is self._layer:
            self.cancel()
            self.session = None
            self._timelines = {}
            self._set_status("The image layer was removed: session closed (labels layer kept).")

    # ------------------------------------------------------------------ objects

    def _ensure_listed(self, obj: int) -> QListWidgetItem:
        """The list entry of ``obj``, created (with a default name and its colour) if missing."""
        return self._objects.entry(obj, self._timelines, self._output)

    def _show_lost(self) -> None:
        self._objects.show_lost(self._timelines)

    def add_object(self) -> None:
        """A new object with the next free id; it becomes the selected object."""
        self._objects.setCurrentItem(self._ensure_listed(max(self._objects.ids(), default=0) + 1))

    def _object_selected(self, *_) -> None:
        self._update_click_defaults()
        self._refresh_timeline()

    def toggle_negative(self) -> None:
        self._negative.value = not self._negative.value

    def _update_click_defaults(self, *_) -> None:
        obj = self.current_object
        clicks = self._layer_or_none(CLICKS)
        if obj is None or clicks is None or self._output is None:
            return
        self._objects.color_all(self._output)
        self._prompts.set_defaults(clicks, obj, not self._negative.value, tuple(self._output.get_color(obj)))

    def _forget_object(self, obj: int) -> None:
        """Remove ``obj`` from the session (in the worker) and from every frame of the labels layer."""
        session = self.session

        def job(_):
            frames = tracked_frames(session, obj)
            if frames or obj in session.obj_ids:
                session.remove_object(obj)
            return [(f, session.label_frame(f)) for f in frames]

        def done(frames):
            self._write_frames(frames)
            self._erase_label(obj)

        self._run(job, on_return=done, label=f"removing object {obj}", kind=PROMPT)

    def _erase_label(self, obj: int) -> None:
        """Take ``obj``'s pixels out of every frame of the labels layer, leaving all other labels as they
        are (frames the user edited stay edited)."""
        out = self._layer_or_none(OUTPUT)
        if out is None:
            return
        for f in frames_with(out.data, obj):
            ours = _digest(out.data[f]) == self._written.get(f, self._zeros_digest)
            frame = out.data[f]
            frame[frame == obj] = 0
            if ours:
                self._written[f] = _digest(frame)
        out.refresh()

    def delete_object(self) -> None:
        """Delete the selected object with its prompts and labels."""
        obj = self.current_object
        if obj is None:
            return
        self._objects.takeItem(self._objects.currentRow())
        self.names.pop(obj, None)
        if self.session is not None:
            self._prompts.remove_of(obj)
            self._forget_object(obj)

    def clear_object(self) -> None:
        """Remove the selected object's prompts and results, keeping it in the list."""
        obj = self.current_object
        if obj is not None and self.session is not None:
            self._prompts.remove_of(obj)
            self._forget_object(obj)

    # ------------------------------------------------------------------ prompts

    def _right_click(self, layer, event):
        if event.button == 2 and layer.mode == "add" and self.current_object is not None:
            self._prompts.add_negative(layer, event.position, self.current_object)
            self._update_click_defaults()

    def _at(self, frame: int, n: int) -> np.ndarray:
        """``n`` coordinates of the image layer's data on ``frame`` (other axes at their fixed index)."""
        coords = np.zeros((n, self._layer.ndim))
        for dim, idx in self._fixed.items():
            coords[:, dim] = idx
        coords[:, self._track_dim] = frame
        return coords

    def add_click(self, frame: int, y: float, x: float, positive: bool = True, obj: int | None = None) -> None:
        """Add a click as if made in the viewer (data coordinates of the image layer)."""
        coord = self._at(frame, 1)[0]
        coord[-2], coord[-1] = y, x
        self._prompts.add_click(coord, self.current_object if obj is None else obj, positive)
        self._update_click_defaults()

    def add_box(self, frame: int, y0: float, x0: float, y1: float, x1: float, obj: int | None = None) -> None:
        """Add a box prompt on ``frame`` (pixel corners)."""
        corners = self._at(frame, 4)
        corners[:, -2:] = [[y0, x0], [y0, x1], [y1, x1], [y1, x0]]
        self._prompts.add_box(corners, self.current_object if obj is None else obj)

    def _frame_of(self, coord) -> int | None:
        for dim, idx in self._fixed.items():
            if int(round(coord[dim])) != idx:
                return None
        f = int(round(coord[self._track_dim]))
        return f if 0 <= f < self.session.num_frames else None

    def _prompts_changed(self, event=None) -> None:
        action = getattr(event, "action", None)
        if self._prompts.syncing or self.session is None or action not in (None, "added", "removed", "changed"):
            return
        for obj, frame, new, old in self._prompts.changes():
            self._apply_prompt(obj, frame, new, old=old)

    def _apply_prompt(self, obj: int, frame: int, prompt: dict | None, mask=None, old: dict | None = None) -> None:
        """Send one frame's prompt of ``obj`` to the session (in the worker, :func:`prompt_job`) and
        re-track what it changes; an object left without any prompt also leaves the labels layer."""
        job = prompt_job(self.session, obj, frame, prompt, old, mask)

        def done(result):
            info, frames, removed = result
            self._write_frames(frames)
            if removed:
                self._erase_label(obj)
            if info is not None:
                self.last_report, cands = info
                self._show_candidates(frame, obj, cands)
            self._set_status(f"object {obj}, frame {frame}: "
                             + ("no prompts left, object removed" if removed else "updated")
                             + (f", re-tracked {len(self.last_report.frames)} frames"
                                if info and self.last_report and self.last_report.frames else ""))

        running = self._jobs.running
        if running is not None and running.key == (obj, frame):
            # a newer prompt for the same object and frame: its re-tracking supersedes the running one
            running.cancel()
        self._run(job, on_return=done, label=f"object {obj} on frame {frame}", kind=PROMPT, key=(obj, frame))

    def _show_candidates(self, frame, obj, cands) -> None:
        self._candidates = (frame, obj, cands) if cands else None
        for i, b in enumerate(self._cands):
            if cands:
                b.text, b.enabled = f"option {i + 1} (IoU {cands[i][1]:.2f})", True
            else:
                b.text, b.enabled = f"option {i + 1}", False

    def choose_candidate(self, i: int) -> None:
        """Use candidate ``i`` of the last ambiguous click as that frame's mask prompt."""
        if self._candidates is None:
            return
        frame, obj, cands = self._candidates
        self._show_candidates(frame, obj, [])
        self._apply_prompt(obj, frame, None, mask=cands[i][0])

    def add_paint_layer(self) -> None:
        """A 2D labels layer to paint object masks on (label = object id)."""
        if self.session is None:
            return
        if PAINT not in self.viewer.layers:
            _, h, w = self.session.shape
            self.viewer.add_labels(np.zeros((h, w), np.uint16), name=PAINT,
                                   scale=self._layer.scale[-2:], translate=self._layer.translate[-2:])
        paint = self.viewer.layers[PAINT]
        paint.selected_label = self.current_object or 1
        paint.mode = "paint"
        self.viewer.layers.selection.active = paint

    def use_painted_mask(self) -> None:
        """Each painted label becomes a mask prompt of that object on the current frame."""
        paint = self._layer_or_none(PAINT)
        if paint is None or self.session is None or not paint.data.any():
            show_info("SAM 2: paint a mask on the 'SAM2 paint' layer first")
            return
        frame = self._current_frame()
        for obj in np.unique(paint.data)[1:]:
            self._ensure_listed(int(obj))
            self._apply_prompt(int(obj), frame, None, mask=paint.data == obj)
        paint.data = np.zeros_like(paint.data)

    # ------------------------------------------------------------------ divisions

    def divide_here(self) -> None:
        """The selected object divides on the current frame: end its track, add two daughters."""
        self._divisions.divide_here()

    def suggest_divisions(self) -> None:
        """Fill the suggestion list from the tracked masks (runs in the background)."""
        self._divisions.suggest()

    def dismiss_suggestion(self) -> None:
        """Drop the chosen suggestion from the list."""
        self._divisions.dismiss()

    # ------------------------------------------------------------------ propagation

    def propagate_forward(self) -> None:
        self.propagate("forward")

    def propagate_backward(self) -> None:
        self.propagate("backward")

    def propagate_both(self) -> None:
        self.propagate("both")

    def propagate(self, direction: str) -> None:
        """Track in the background; each finished frame is written to the labels layer at once and
        the confidence strip and lost counts follow frame by frame."""
        if self.session is None:
            show_info("SAM 2: start a session and add prompts first")
            return
        session = self.session

        def job(j):
            for event in session.iter_propagate(direction, cancel=j.is_cancelled):
                yield event, session.label_frame(event.frame), session.timelines()
            return direction

        def frame_done(item):
            event, labels, lines = item
            self._timelines = lines
            self._write_frames([(event.frame, labels)])
            self._show_lost()
            self._refresh_timeline()
            if tracking.cancelled:
                self._set_status("cancelled: frames done so far are kept")
            else:
                rate = event.elapsed / event.done
                self._set_status(f"{direction}: frame {event.frame} ({event.done}/{event.total}), "
                                 f"ETA {rate * (event.total - event.done):.0f} s")
            # last: napari's progress bar may process pending events (the job's end among them)
            if self._pbar is None:
                self._pbar = napari_progress(total=event.total, desc=f"SAM 2 {direction}")
            self._pbar.update(1)

        def finished(_):
            lost = {o: int(line.lost.sum()) for o, line in self._timelines.items() if line.lost.any()}
            note = ("; lost: " + ", ".join(f"object {o} on {n} frame{'s' if n != 1 else ''}"
                                           for o, n in sorted(lost.items()))) if lost else ""
            self._set_status(("cancelled: frames done so far are kept" if tracking.cancelled
                              else f"{direction}: done") + note)

        tracking = self._run(job, on_yield=frame_done, on_return=finished, label=f"tracking {direction}", kind=TRACK)

    def cancel(self) -> None:
        """Stop tracking after the current frame and drop queued tracking; prompt edits still reach the session."""
        self._jobs.cancel_tracking()

    # ------------------------------------------------------------------ output layer

    def _write_frames(self, frames) -> None:
        """Write computed frames unless the user edited them since we last wrote (then keep theirs)."""
        out = self._layer_or_none(OUTPUT)
        if out is None:
            if self.session is not None:
                self.cancel()
                show_error(f"SAM 2: the '{OUTPUT}' layer was removed, so tracking stopped. The results are "
                           f"still in the session: press Start session to get a new labels layer.")
            return
        kept = []
        for f, labels in frames:
            current = out.data[f]
            if _digest(current) != self._written.get(f, self._zeros_digest):
                self.edited_frames.add(f)
                kept.append(f)
                continue
            new = labels.astype(out.data.dtype)
            out.data[f] = new
            self._written[f] = _digest(new)
        out.refresh()
        if kept:
            self._overwrite.enabled = True
            show_warning(f"SAM 2: kept your edits on frame(s) {sorted(set(kept))}; "
                         f"'Overwrite edited frames' replaces them")

    def overwrite_edited_frames(self) -> None:
        """Replace the frames the user edited with the current tracking result."""
        if self.session is None or not self.edited_frames:
            return
        session, frames = self.session, sorted(self.edited_frames)

        def done(result):
            out = self._layer_or_none(OUTPUT)
            if out is not None:
                for f, _ in result:
                    self._written[f] = _digest(out.data[f])  # the user agreed: treat them as ours
            self.edited_frames.difference_update(frames)
            self._overwrite.enabled = bool(self.edited_frames)
            self._write_frames(result)

        self._run(lambda job: [(f, session.label_frame(f)) for f in frames], on_return=done,
                  label="overwriting edited frames")

    def _refresh_timeline(self) -> None:
        obj = self.current_object
        line = self._timelines.get(obj)
        if self.session is None or line is None or self._layer is None:
            self._timeline.set_data(np.zeros(0), ())
            return
        marks = self._divisions.marks(obj)
        self._timeline.set_data(line.scores, line.prompted, self._current_frame(), marks, lost=line.lost)

    # ------------------------------------------------------------------ exports (written in the background)

    def _ask_path(self, title: str, filter_: str = "", folder: bool = False, default: str = "") -> str | None:
        return ask_path(self, title, filter_, folder, default)

    def export_tiff(self) -> None:
        self._files.tiff()

    def export_zarr(self) -> None:
        self._files.zarr()

    def export_table(self) -> None:
        self._files.table()

    def export_ctc(self) -> None:
        self._files.ctc()

    def export_geff(self) -> None:
        """The lineage graph (one node per object and frame) as a GEFF zarr store."""
        self._files.geff()

    def add_tracks_layer(self) -> None:
        """A Tracks layer from the labels' centroids (measured in the background)."""
        self._files.add_tracks_layer()

    def save_session(self) -> None:
        """Prompts, object names and settings as JSON (reloadable with 'Load session')."""
        self._files.save_session()

    def load_session(self) -> None:
        """Replace the prompts with a saved session's (same stack shape) and recompute prompted frames."""
        data = self._files.read_session()
        if data is None:
            return
        old_ids = set(self._timelines) | {obj for obj, _ in self._prompts.known}
        for obj in old_ids:
            self._prompts.remove_of(obj)
        with self._prompts.quiet():
            for obj, frames in data["objects"].items():
                self.names[int(obj)] = data.get("names", {}).get(obj, f"object {obj}")
                self._ensure_listed(int(obj)).setText(self._objects.text(int(obj), self._timelines))
                for f, steps in frames.items():
                    for step in steps:
                        for (x, y), lab in zip(step.get("points") or [], step.get("labels") or []):
                            self.add_click(int(f), y, x, bool(lab), obj=int(obj))
                        if step.get("box"):
                            x0, y0, x1, y1 = step["box"]
                            self.add_box(int(f), y0, x0, y1, x1, obj=int(obj))
        self._prompts.known = self._prompts.collect()
        session = self.session
        new_ids = {int(o) for o in data["objects"]}

        def job(_):
            before = set(session.clear())
            session.load_prompts(data)
            frames = before | {int(f) for frames in data["objects"].values() for f in frames}
            return [(f, session.label_frame(f)) for f in sorted(frames)]

        def done(frames):
            self._write_frames(frames)
            for obj in old_ids - new_ids:
                self._erase_label(obj)

        self._run(job, on_return=done, label="loading session", kind=PROMPT)


class _Shortcut:
    """A viewer key binding that calls a widget method without keeping the widget alive."""

    def __init__(self, widget: SAM2Widget, method: str) -> None:
        import weakref

        self._widget, self._method = weakref.ref(widget), method
        self.__name__ = f"sam2_{method}"  # napari shows a binding's name and doc
        self.__doc__ = next(text for m, text in SHORTCUTS.values() if m == method)

    def __call__(self, viewer) -> None:
        widget = self._widget()
        if widget is not None and not widget._closed:
            getattr(widget, self._method)()
