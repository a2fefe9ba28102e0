"""The SAM 2 dock widget: prompts from napari layers, live masks, propagation in the background.

:class:`SAM2Widget` only assembles small parts, one job each, and wires them together:

- ``_widget_controls``: every setting and button, laid out with its tooltip (``_widget_text``: words, shortcuts)
- ``_widget_jobs``: the job queue (one model job at a time in napari workers, a cancel token per job)
- ``_widget_status``: status line, progress bars, warnings, and what each job's result shows
- ``_widget_session``: starting, closing and repairing a session
- ``_widget_prompts`` / ``_widget_prompt_sync``: the click and box layers, read and diffed against the session
  in pure Python; ``_widget_actions``: the user's object and prompt edits sent to the session;
  ``_widget_seeding``: objects from a labels layer (each label one object); ``_widget_auto``: the automatic
  segmentation's preview (accepted as objects) and new-cell suggestions
- ``_widget_labels`` / ``_widget_output_sync``: the labels layer, written without losing the user's edits
- ``_widget_tracking``, ``_widget_divisions``, ``_widget_exports``, ``_widget_objects``: the panels
- ``_widget_viewer``: viewer events and keyboard shortcuts

Layers are changed only in handlers on the main thread, which read the session only through snapshots the
workers hand back. The widget talks to the engine with numpy arrays and holds no tensors.
"""

from __future__ import annotations

import napari
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QWidget

from ._widget_actions import Actions
from ._widget_auto import Auto
from ._widget_controls import Controls
from ._widget_divisions import Divisions
from ._widget_exports import Exports
from ._widget_jobs import OTHER, Job, JobQueue
from ._widget_labels import LabelsOutput
from ._widget_prompt_sync import Place
from ._widget_prompts import PromptLayers
from ._widget_seeding import Seeding, seed_layers
from ._widget_session import SessionFlow
from ._widget_status import Status
from ._widget_text import SHORTCUTS, TOOLTIPS
from ._widget_tracking import Tracking
from ._widget_viewer import ViewerHooks, current_frame, image_layers, set_frame

__all__ = ["SAM2Widget", "SHORTCUTS", "TOOLTIPS"]


class SAM2Widget(QWidget):
    """Prompt, track and correct objects in a napari image layer with SAM 2."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer") -> None:
        super().__init__()
        self.viewer = napari_viewer
        # what the open session works on, as the last job left it
        self.session = None
        self.names: dict[int, str] = {}  # object id -> name, shared with the object list
        self.edited_frames: set[int] = set()  # frames the user painted on, kept from the results
        self.last_report = None  # the last correction's report
        self._timelines: dict = {}  # object -> Timeline snapshot
        self._layer = None  # the image layer the session tracks
        self._place = Place()  # where the session's frames sit in the layer's data
        self._output = None  # the labels layer
        self._closed = self._docked = False

        # the parts
        self._controls = Controls(lambda *_: image_layers(self.viewer), self.names,
                                  lambda *_: seed_layers(self.viewer))
        self._controls.lay_out(self)
        self._status = Status(self)
        self._jobs = JobQueue(self._status.body, self._status.started, self._status.result, self._status.finished,
                              self._status.failed)
        self._prompts = PromptLayers(lambda coord: self._place.frame_of(coord, self.session.num_frames))
        self._labels = LabelsOutput(self)
        self._actions = Actions(self)
        self._seeding = Seeding(self)
        self._auto = Auto(self)
        self._tracking = Tracking(self)
        self._divisions = Divisions(self)
        self._files = Exports(self)
        self._flow = SessionFlow(self)
        self._controls.connect(self)
        self._hooks = ViewerHooks(self)
        self._seeding.hook()

    # ------------------------------------------------------------------ closing

    def shutdown(self) -> None:
        """Stop background work, disconnect from the viewer, restore replaced shortcuts, drop the session.
        Called when the dock widget is closed; the layers stay."""
        if self._closed:
            return
        self._closed = True
        self._jobs.close()
        self._status.close()
        self._hooks.close()
        self._seeding.unhook()
        self._prompts.unhook()
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

    # ------------------------------------------------------------------ shared by the parts

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting."""
        return self._jobs.busy

    @property
    def current_object(self) -> int | None:
        return self._controls.objects.current

    def _layer_or_none(self, name: str):
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _current_frame(self) -> int:
        return current_frame(self.viewer, self._layer, self._place.track_dim)

    def go_to_frame(self, frame: int) -> None:
        """Move the viewer to ``frame`` of the tracked axis."""
        set_frame(self.viewer, self._layer, self._place.track_dim, frame)

    def _run(self, func, *, on_return=None, on_yield=None, label="working", kind=OTHER, key=None) -> Job:
        """Queue ``func(job)`` to run in a worker thread after any running job."""
        return self._jobs.submit(Job(func, label, kind, on_return, on_yield, key))

    # ------------------------------------------------------------------ session

    def start_session(self) -> None:
        """Create the engine session for the chosen image layer (model loading runs in the background);
        work on screen is discarded only after the user agrees."""
        self._flow.start()

    def close_session(self) -> None:
        """End the session after asking (layers stay); the settings can be changed again."""
        self._flow.close()
        if self.session is None:
            self._auto.clear()  # a preview or suggestions of the closed session can no longer be accepted

    def recreate_labels(self) -> None:
        """Rebuild a removed labels layer from the session's results."""
        self._flow.recreate_labels()

    # ------------------------------------------------------------------ objects and prompts

    def add_object(self) -> None:
        """A new object with the next free id; it becomes the selected object."""
        self._actions.add_object()

    def delete_object(self) -> None:
        """Delete the selected object with its prompts and labels."""
        self._actions.delete_object()

    def clear_object(self) -> None:
        """Remove the selected object's prompts and results, keeping it in the list."""
        self._actions.clear_object()

    def toggle_negative(self) -> None:
        self._controls.negative.value = not self._controls.negative.value

    def add_click(self, frame: int, y: float, x: float, positive: bool = True, obj: int | None = None) -> None:
        """Add a click as if made in the viewer (data coordinates of the image layer)."""
        self._actions.add_click(frame, y, x, positive, obj)

    def add_box(self, frame: int, y0: float, x0: float, y1: float, x1: float, obj: int | None = None) -> None:
        """Add a box prompt on ``frame`` (pixel corners)."""
        self._actions.add_box(frame, y0, x0, y1, x1, obj)

    def choose_candidate(self, i: int) -> None:
        """Use candidate ``i`` of the last ambiguous click as that frame's mask prompt."""
        self._actions.choose_candidate(i)

    def add_paint_layer(self) -> None:
        """A 2D labels layer to paint object masks on (label = object id)."""
        self._actions.add_paint_layer()

    def use_painted_mask(self) -> None:
        """Each painted label becomes a mask prompt of that object on the current frame."""
        self._actions.use_painted_mask()

    def objects_from_labels(self) -> None:
        """Each label of the chosen labels layer becomes an object with that id, prompted by its mask on the
        current frame or every annotated frame (the frames are encoded in the background)."""
        self._seeding.objects_from_labels()

    def segment_all(self) -> None:
        """Every cell the automatic mask generator finds on the current frame, in a preview labels layer (in
        the background); nothing becomes an object before 'Accept all'."""
        self._auto.segment_all()

    def accept_all(self) -> None:
        """Each label left in the preview becomes a new object prompted by its mask on the preview's frame."""
        self._auto.accept_all()

    def discard_preview(self) -> None:
        """Remove the automatic segmentation's preview without adding objects."""
        self._auto.discard()

    # ------------------------------------------------------------------ tracking, new cells and divisions

    def propagate(self, direction: str) -> None:
        """Track ``direction`` ("forward", "backward" or "both") in the background."""
        self._tracking.propagate(direction)

    def propagate_forward(self) -> None:
        self.propagate("forward")

    def propagate_backward(self) -> None:
        self.propagate("backward")

    def propagate_both(self) -> None:
        self.propagate("both")

    def cancel(self) -> None:
        """Stop tracking after the current frame and drop queued tracking; prompt edits still reach the session."""
        self._tracking.cancel()

    def overwrite_edited_frames(self) -> None:
        """Replace the frames the user edited with the current tracking result."""
        self._labels.overwrite_edited()

    def find_new_cells(self) -> None:
        """List regions no tracked object covers on the current or every K-th frame (in the background)."""
        self._auto.find_new_cells()

    def accept_new_cell(self) -> None:
        """The chosen new-cell suggestion becomes a new object, prompted by its mask on its frame."""
        self._auto.accept_cell()

    def dismiss_new_cell(self) -> None:
        """Drop the chosen new-cell suggestion."""
        self._auto.dismiss_cell()

    def divide_here(self) -> None:
        """The selected object divides on the current frame: end its track, add two daughters."""
        self._divisions.divide_here()

    def suggest_divisions(self) -> None:
        """Fill the suggestion list from the tracked masks (runs in the background)."""
        self._divisions.suggest()

    def dismiss_suggestion(self) -> None:
        """Drop the chosen suggestion from the list."""
        self._divisions.dismiss()

    # ------------------------------------------------------------------ exports (written in the background)

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

    def export_trackmate(self) -> None:
        """The tracks and divisions as a TrackMate XML file (pixels, frames)."""
        self._files.trackmate()

    def add_tracks_layer(self) -> None:
        """A Tracks layer from the labels' centroids (measured in the background)."""
        self._files.add_tracks_layer()

    def save_session(self) -> None:
        """Prompts, object names and settings as JSON (reloadable with 'Load session')."""
        self._files.save_session()

    def load_session(self) -> None:
        """Replace the prompts with a saved session's (same stack shape) and recompute prompted frames."""
        self._files.load_session()
