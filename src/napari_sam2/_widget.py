"""The SAM 2 dock widget: prompts from napari layers, live masks, propagation in the background.

All model work runs in napari worker threads, one job at a time (:mod:`._widget_jobs`); layers
are changed only in the handlers on the main thread, and the main thread reads the session only
through snapshots the workers hand back. The widget talks to the engine with numpy arrays.

It assembles small parts, one job each: the ``_widget_*`` modules (controls, objects, prompts, sync,
labels, tracking, divisions, exports, viewer hooks, jobs, text).
"""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QListWidgetItem, QWidget

from ._widget_controls import Controls
from ._widget_divisions import Divisions
from ._widget_exports import Exports, ask_path, start_folder
from ._widget_jobs import OTHER, PROMPT, TRACK, Job, JobQueue, worker_body
from ._widget_labels import LabelsOutput
from ._widget_prompts import PromptLayers
from ._widget_session import SessionFlow
from ._widget_sync import prompt_job
from ._widget_text import CLICKS, PAINT, SHORTCUTS, TOOLTIPS, TRACKS
from ._widget_tracking import propagate
from ._widget_viewer import ViewerHooks

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
        self._timelines: dict = {}  # object -> Timeline, as the last job left the session
        self._pbar = None
        self._candidates = None
        self._layer = None
        self._output = None
        self._prompts = PromptLayers(self._frame_of)
        self._track_dim = 0
        self._unit = "frame"  # what the tracked axis holds: "slice" in a volume
        self._last_dir: str | None = None  # the folder of the last file dialog
        self._fixed: dict[int, int] = {}
        self._closed = False
        self._docked = False
        self._files = Exports(self)
        self._labels = LabelsOutput(self)
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
        self._close, self._recreate, self._session_info, self._progress, self._model_info = (
            c.close, c.recreate, c.session_info, c.progress, c.model_info)
        self._cands_info = c.cands_info
        self._controls = c
        c.lay_out(self)
        self._flow = SessionFlow(self)

        c.connect(self)
        self._hooks = ViewerHooks(self)

    # ------------------------------------------------------------------ viewer hooks and closing

    def _unhook_prompt_layers(self) -> None:
        self._prompts.unhook(self._prompts_changed, self._right_click)

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
        self._hooks.close()
        self._unhook_prompt_layers()
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
        return worker_body(job, self.session, int(self._threads.value))

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

    def _show_warnings(self, quality: list[str]) -> None:
        """Show the QualityWarnings a job raised (other warnings went to Python's usual output)."""
        for text in quality:
            show_warning(f"SAM 2: {text}")
        if quality:  # after the job's own status line, so that it stays in view
            self._set_status(f"{self._status.value} Warning: {' '.join(quality)}")

    def _job_failed(self, exc) -> None:
        show_error(f"SAM 2: {exc}")
        self._set_status(f"error: {exc}")

    def _job_finished(self, job: Job) -> None:
        if job.kind == TRACK:  # also after a failed run, which never reaches its own end handler
            self._progress.reset()
            self._progress.setFormat("")
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self._refresh_timeline()
        if TRACKS in self.viewer.layers and not self._jobs.pending:
            self._files.refresh_tracks()  # keep the lineage in step with the labels

    # ------------------------------------------------------------------ session

    def start_session(self) -> None:
        """Create the engine session for the chosen image layer (model loading runs in the background);
        work on screen is discarded only after the user agrees."""
        self._flow.start()

    def close_session(self) -> None:
        """End the session after asking (layers stay); the settings can be changed again."""
        self._flow.close()

    def recreate_labels(self) -> None:
        """Rebuild a removed labels layer from the session's results."""
        self._flow.recreate_labels()

    def _add_output_layer(self):
        """A new, empty labels layer for the session's stack, placed over the image layer."""
        self._output = self._labels.create(self.viewer, self._layer, self.session.shape, self._track_dim,
                                           self._fixed)
        return self._output

    def _session_ready(self, session) -> None:
        self._flow.clean_up()
        self.session = session
        layer = self._layer
        n, h, w = session.shape
        self._add_output_layer()
        self._prompts.create(self.viewer, layer, max(4, min(h, w) // 60))
        self._prompts.hook(self._prompts_changed, self._right_click)
        clicks = self._prompts.clicks
        self.add_object()
        self._flow.opened()
        clicks.mode = "add"
        self.viewer.layers.selection.active = clicks
        from .model.configs import DEMO
        from .weights import DEMO_NOTICE

        demo = session.model.cfg.name == DEMO
        self._model_info.value = ("Model: bundled demo (synthetic cells, not SAM 2 quality)" if demo else
                                  f"Model: {session.model.cfg.name} at {session.model.image_size} px")
        self._set_status(f"Session ready: {n} {self._unit}s of {h}x{w}, model {session.model.cfg.name} "
                         f"at {session.model.image_size} px, {int(self._threads.value)} CPU thread(s). "
                         f"Click on '{CLICKS}' to prompt.")
        if demo:
            show_warning(f"SAM 2: using {DEMO_NOTICE}")

    def _layer_removed(self, event) -> None:
        self._flow.layer_removed(event)

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
        self._prompts.set_defaults(clicks, obj, not self._negative.value, self._objects.color)

    def _forget_object(self, obj: int) -> None:
        """Remove ``obj`` from the session (in the worker) and from every frame of the labels layer."""
        self._labels.forget(obj)

    def _erase_label(self, obj: int) -> None:
        """Take ``obj``'s pixels out of every frame of the labels layer (other labels stay)."""
        self._labels.erase(obj)

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
        return self._prompts.right_click(layer, event, self.current_object, self._update_click_defaults)

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
            self._set_status(f"object {obj}, {self._unit} {frame}: "
                             + ("no prompts left, object removed" if removed else "updated")
                             + (f", re-tracked {len(self.last_report.frames)} {self._unit}s"
                                if info and self.last_report and self.last_report.frames else ""))

        running = self._jobs.running
        if running is not None and running.key == (obj, frame):
            # a newer prompt for the same object and frame: its re-tracking supersedes the running one
            running.cancel()
        self._run(job, on_return=done, label=f"object {obj} on {self._unit} {frame}", kind=PROMPT, key=(obj, frame))

    def _show_candidates(self, frame, obj, cands) -> None:
        self._candidates = (frame, obj, cands) if cands else None
        self._cands_info.value = (f"Mask options for {self.names.get(obj, f'object {obj}')}'s click on "
                                  f"{self._unit} {frame}:" if cands else "Mask options for the last single click:")
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
        self._prompts.paint_layer(self.viewer, self._layer, self.session.shape[1:], self.current_object or 1)

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
        """Track in the background (:func:`._widget_tracking.propagate`)."""
        propagate(self, direction)

    def cancel(self) -> None:
        """Stop tracking after the current frame and drop queued tracking; prompt edits still reach the session."""
        self._jobs.cancel_tracking()

    # ------------------------------------------------------------------ output layer

    def _write_frames(self, frames) -> None:
        """Write computed frames unless the user edited them since we last wrote (then keep theirs)."""
        self._labels.write(frames)

    def overwrite_edited_frames(self) -> None:
        """Replace the frames the user edited with the current tracking result."""
        self._labels.overwrite_edited()

    def _refresh_timeline(self) -> None:
        obj = self.current_object
        line = self._timelines.get(obj)
        if self.session is None or line is None or self._layer is None:
            self._timeline.set_data(np.zeros(0), ())
            return
        marks = self._divisions.marks(obj)
        self._timeline.set_data(line.scores, line.prompted, self._current_frame(), marks, lost=line.lost,
                                hidden=line.hidden)

    # ------------------------------------------------------------------ exports (written in the background)

    def _ask_path(self, title: str, filter_: str = "", folder: bool = False, default: str = "",
                  open_: bool = False) -> str | None:
        """A file or folder dialog starting in the folder used last or the image's folder."""
        path = ask_path(self, title, filter_, folder, default, open_=open_,
                        start=start_folder(self._last_dir, self._layer or self._image.value))
        if path:
            self._last_dir = path if folder else str(Path(path).parent)
        return path

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
        self._files.load_session()
