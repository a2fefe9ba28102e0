"""The widget's state and actions, without Qt: one :class:`Controller` per dock widget.

It holds what the panels share: the settings (as the settings types), the session and the layers it
owns, the objects (names, selection, lineage colours), the last snapshot of the timelines, the
frames the user edited, and the job queue that runs model work one job at a time in napari's worker
threads. Its public methods are the edit actions; buttons, key bindings and tests all call them. Its
psygnal signals say what changed; panels listen to them and never call each other.

Layers are changed only on the main thread, in job handlers that read the session through snapshots
the workers hand back. No tensors here: the engine is reached through numpy arrays, and torch is
imported only inside jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from psygnal import Signal

from ..settings import (
    MICROSCOPY,
    AutoSettings,
    ModelSettings,
    SettingError,
    StackSettings,
    TrackingSettings,
)
from .automatic import Automatic, auto_defaults
from .exports import Exports
from .jobs import OTHER, PROMPT, TRACK, Failure, Job, JobQueue, worker_body
from .labels_layer import LabelsLayer
from .lineage import Divisions
from .palette import labels_colormap, object_color
from .prompt_layers import PromptLayers
from .prompt_sync import Place, box_corners, prompt_job
from .seeding import objects_from_labels
from .session_flow import SessionFlow
from .tracking import propagate
from .viewer_hooks import ViewerHooks
from .words import CLICKS, PAINT, TRACKS, widget_words

FIXED = ("model", "stack", "tracking")  # fixed while a session is open (threads aside)


@dataclass(frozen=True)
class WidgetSettings:
    """The settings the widget's controls show: the model, the stack, tracking (the microscopy
    defaults, as `napari-sam2 track`'s: :data:`~napari_sam2.settings.MICROSCOPY`) and automatic
    segmentation."""

    model: ModelSettings = field(default_factory=ModelSettings)
    stack: StackSettings = field(default_factory=StackSettings)
    tracking: TrackingSettings = MICROSCOPY
    auto: AutoSettings = field(default_factory=AutoSettings)


class Controller:
    """The state and actions of one dock widget on ``viewer``.

    ``confirm(title, text) -> bool`` asks the user a yes/no question (the widget sets a dialog;
    without one the answer is no, so nothing is discarded); ``defer(fn)`` runs ``fn`` after the
    events being handled.
    """

    settings_changed = Signal(str)  # the section: "model", "stack", "tracking" or "auto"
    session_changed = Signal()  # a session opened or closed
    objects_changed = Signal()  # objects listed, named, or coloured anew
    selection_changed = Signal(object)  # the selected object id, or None
    negative_changed = Signal(bool)  # whether left clicks add negative points
    timelines_changed = Signal()  # a new snapshot of the timelines
    frame_changed = Signal(int)  # the slider moved along the tracked axis
    layers_changed = Signal()  # layers were added to or removed from the viewer
    candidates_changed = Signal()  # the mask options of the last single click
    labels_changed = Signal()  # edited frames, or the labels layer removed or recreated
    preview_changed = Signal()  # the automatic segmentation's preview came or went
    new_cells_changed = Signal()  # the list of suggested new cells
    suggestions_changed = Signal()  # the list of suggested divisions
    status = Signal(str)  # the status line
    # (level "warning" or "error", text), also shown as a napari notification
    warned = Signal(str, str)
    job_started = Signal(str)  # what runs now
    job_finished = Signal()
    progress = Signal(int, int, str)  # (done, total, text) of the tracking job; total 0: ended

    def __init__(
        self,
        viewer,
        confirm: Callable[[str, str], bool] | None = None,
        defer: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        from ..threads import available_cores, default_threads

        self.viewer = viewer
        self.confirm = confirm or (lambda title, text: False)
        try:
            threads = default_threads()
        except ValueError as exc:  # a bad NAPARI_SAM2_THREADS: say so, use the plain default
            self.say(str(exc), "warning")
            threads = max(1, min(available_cores() - 1, 8))
        self.settings = WidgetSettings(model=ModelSettings(threads=threads))
        self.auto_defaults = self.settings.auto  # what suits the model, until the user changes it
        self.image_layer = None  # the image layer chosen for the next session
        self.session = None
        self.layer = None  # the image layer the session tracks
        self.image_name: str | None = None
        self.place = Place()  # where the session's frames sit in the layer's data
        self.names: dict[int, str] = {}  # object id -> name
        self.object_ids: list[int] = []  # the listed objects, in order
        self.next_id = 1  # above every id listed in this session
        self.selected: int | None = None
        self.parents: dict[int, int] = {}  # daughter -> mother, for the colours
        self.negative = False  # left clicks are negative
        self.timelines: dict = {}  # object -> Timeline snapshot
        self.edited_frames: set[int] = set()  # frames the user painted on, kept from the results
        self.candidates = None  # (frame, object, [(mask, IoU), ...]) of the last single click
        self.last_report = None  # the last correction's report
        self.status_text = "No session."
        self.model_info = ""
        self.closed = False
        self._painted: tuple | None = None  # what the labels layer was last coloured for
        self.queue = JobQueue(self._body, self._started, self._result, self._finished, self._failed)
        self.prompts = PromptLayers(
            lambda coord: self.place.frame_of(coord, self.session.num_frames),
            lambda coord: self.place.off_slice(coord),
            defer or (lambda fn: fn()),
        )
        self.labels = LabelsLayer(self)
        self.auto = Automatic(self)
        self.divisions = Divisions(self)
        self.files = Exports(self)
        self.flow = SessionFlow(self)
        self.hooks = ViewerHooks(self)

    # ------------------------------------------------------------------ what is shared

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting."""
        return self.queue.busy

    def say(self, text: str, level: str = "status", status: bool = True) -> None:
        """Show ``text`` on the status line (unless ``status`` is False); "info", "warning" and
        "error" also show it as a napari notification."""
        from napari.utils.notifications import show_error, show_info, show_warning

        if status:
            self.status_text = text
            self.status.emit(text)
        if level in ("warning", "error"):
            self.warned.emit(level, text)
        notify = {"info": show_info, "warning": show_warning, "error": show_error}.get(level)
        if notify is not None:
            notify(f"SAM 2: {text}")

    def no_session(self) -> bool:
        """True (and the user told to start one) when no session is open."""
        if self.session is None:
            self.say("No session: press Start session first.")
            return True
        return False

    def submit(
        self,
        func: Callable[[Job], object],
        on_return=None,
        on_yield=None,
        label: str = "working",
        kind: str = OTHER,
        key=None,
    ) -> Job:
        """Queue ``func(job)`` to run in a worker thread after any running job; ``on_return`` and
        ``on_yield`` get its result and yielded items on the main thread."""
        return self.queue.submit(Job(func, label, kind, on_return, on_yield, key))

    def update(self, section: str, **changes) -> bool:
        """Change settings of ``section`` ("model", "stack", "tracking" or "auto"), checked by their
        type. A refusal is said on the status line, naming the control, and nothing changes. Returns
        whether they were taken."""
        current = getattr(self.settings, section)
        fixed = section in FIXED and self.session is not None and set(changes) - {"threads"}
        try:
            if fixed:
                raise ValueError(
                    "the session's settings are fixed while it is open: press Close session "
                    "or New session... to change them"
                )
            new = current.replaced(**changes)
        except (SettingError, ValueError) as exc:
            self.say(exc.worded("label") if isinstance(exc, SettingError) else str(exc), "warning")
            self.settings_changed.emit(section)  # the controls show the settings as they are
            return False
        if new != current:
            self.settings = replace(self.settings, **{section: new})
            self.settings_changed.emit(section)
            if section == "model":
                self.suit_auto_settings(new.model)
        return True

    def suit_auto_settings(self, model: str) -> None:
        """The automatic segmentation's settings become those that suit ``model``
        (:func:`~.automatic.auto_defaults`), unless the user has changed them."""
        defaults = auto_defaults(model)
        if self.settings.auto == self.auto_defaults and defaults != self.settings.auto:
            self.settings = replace(self.settings, auto=defaults)
            self.settings_changed.emit("auto")
        self.auto_defaults = defaults

    def choose_image(self, layer) -> None:
        """The image layer for the next session; while one is open, its image stays, and the user is
        told."""
        self.image_layer = layer
        if self.session is None or self.layer is None or layer is self.layer or layer is None:
            return
        self.say(
            f"the session tracks '{self.image_name}'; clicks still go there. Press 'New "
            f"session...' to track '{layer.name}' instead.",
            "warning",
            status=False,
        )
        self.say(f"Still on '{self.image_name}': press 'New session...' to track '{layer.name}'.")

    def layer_named(self, name: str):
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def current_frame(self) -> int:
        """The slider's position along the tracked axis of the session's image."""
        viewer = self.viewer
        return int(
            viewer.dims.current_step[viewer.dims.ndim - self.layer.ndim + self.place.track_dim]
        )

    def go_to_frame(self, frame: int) -> None:
        """Move the viewer to ``frame`` of the tracked axis."""
        viewer = self.viewer
        viewer.dims.set_current_step(
            viewer.dims.ndim - self.layer.ndim + self.place.track_dim, int(frame)
        )

    def color(self, obj: int) -> tuple[float, float, float, float]:
        """The RGBA colour of ``obj`` everywhere it shows (daughters are shades of their mother)."""
        return object_color(obj, self.parents)

    # ------------------------------------------------------------------ the job queue's handlers

    def _body(self, job: Job):
        return worker_body(job, self.session, self.settings.model.threads)

    def _started(self, job: Job) -> None:
        self.say(f"{job.label}...")
        self.job_started.emit(job.label)

    def _result(self, job: Job, value) -> None:
        out, lines, caught = value
        if isinstance(out, Failure):
            self._failed(out.error)
        elif lines is not None:
            self.timelines = lines
            self.timelines_changed.emit()
        if job.on_return is not None and not isinstance(out, Failure):
            job.on_return(out)
        # quality warnings (written for the command line too), after the job's own status line
        caught = [widget_words(text) for text in caught]
        for text in caught:
            self.say(text, "warning", status=False)
        if caught:
            self.say(f"{self.status_text} Warning: {' '.join(caught)}")

    def _failed(self, exc) -> None:
        self.say(str(exc), "error", status=False)
        self.say(f"error: {exc}")

    def _finished(self, job: Job) -> None:
        if job.kind == TRACK:  # also after a failed run, which never reaches its own end handler
            self.progress.emit(0, 0, "")
        self.job_finished.emit()
        self.timelines_changed.emit()
        if TRACKS in self.viewer.layers and not self.queue.pending:
            self.files.refresh_tracks()  # keep the lineage in step with the labels

    # ------------------------------------------------------------------ session (see SessionFlow)

    def start_session(self) -> None:
        """Check the chosen image, ask before discarding work on screen, then build the session in
        the background (the model is loaded there); the old session works on until the new one is
        ready."""
        self.flow.start()

    def close_session(self, ask: bool = True) -> None:
        """End the session (the layers stay on screen), after asking; the settings can be changed
        again."""
        self.flow.close(ask)

    def recreate_labels(self) -> None:
        """A new labels layer with the session's result on every tracked frame (computed in the
        background)."""
        self.flow.recreate()

    def layer_removed(self, layer) -> None:
        """A layer left the viewer: the session's image closes the session, its labels layer can
        come back."""
        self.flow.layer_removed(layer)

    @property
    def session_info(self) -> str:
        """Which image the session tracks, along which axis; or that there is none."""
        if self.session is None:
            return "No session open."
        return (
            f"Session on '{self.image_name}' (along {self.place.unit}s); settings are fixed until "
            "it is closed."
        )

    @property
    def can_recreate(self) -> bool:
        """Whether the labels layer was removed while the session still holds its results."""
        return self.session is not None and self.labels.missing

    # ------------------------------------------------------------------ objects

    def list_object(self, obj: int) -> None:
        """List ``obj`` (with a default name and its colour) if it is not listed yet."""
        if obj in self.object_ids:
            return
        self.object_ids.append(obj)
        self.next_id = max(self.next_id, obj + 1)
        self.names.setdefault(obj, f"object {obj}")
        self._paint_labels()
        self.objects_changed.emit()

    def new_id(self) -> int:
        """An object id not used before in this session (a deleted object's id is not given again,
        so nothing of it can come back)."""
        return self.next_id

    def add_object(self) -> None:
        """A new object with a new id; it becomes the selected object."""
        obj = self.new_id()
        self.list_object(obj)
        self.select_object(obj)

    def select_object(self, obj: int | None) -> None:
        """New clicks and boxes go to ``obj`` (a listed object)."""
        if obj == self.selected:
            return
        self.selected = obj
        self.refresh_colors()
        self.selection_changed.emit(obj)

    def rename_object(self, obj: int, name: str) -> None:
        self.names[obj] = name.strip() or f"object {obj}"
        self.objects_changed.emit()

    def delete_object(self) -> None:
        """Delete the selected object with its prompts and labels. The next one in the list is
        selected; after the last one, a new object (its id never used before in this session)."""
        obj = self.selected
        if obj is None:
            return
        row = self.object_ids.index(obj)
        self.object_ids.remove(obj)
        self.names.pop(obj, None)
        self.objects_changed.emit()
        if self.session is not None:
            self.prompts.remove_of(obj)
            self.labels.forget(obj, f"object {obj} deleted")
        if self.object_ids:
            self.select_object(self.object_ids[min(row, len(self.object_ids) - 1)])
        else:
            self.add_object()
        self.refresh_colors()  # napari made the removed clicks' features the next click's

    def clear_object(self) -> None:
        """Remove the selected object's prompts and results, keeping it in the list."""
        obj = self.selected
        if obj is not None and self.session is not None:
            self.prompts.remove_of(obj)
            self.labels.forget(obj, f"object {obj}'s prompts and masks cleared")
            self.refresh_colors()  # napari made the removed clicks' features the next click's

    def toggle_negative(self) -> None:
        self.set_negative(not self.negative)

    def set_negative(self, negative: bool) -> None:
        """Whether left clicks add negative points."""
        if negative != self.negative:
            self.negative = bool(negative)
            self.refresh_colors()
            self.negative_changed.emit(self.negative)

    def _paint_labels(self) -> None:
        """Give the labels layer the palette's colours of the listed objects (when they changed)."""
        out = self.labels.layer
        key = (id(out), tuple(sorted(self.object_ids)), tuple(sorted(self.parents.items())))
        if out is not None and key != self._painted:
            out.colormap = labels_colormap(self.object_ids, self.parents)
            self._painted = key

    def refresh_colors(self, *_) -> None:
        """New clicks and boxes go to the selected object, in its colour, with the chosen sign; the
        labels layer has every listed object's colour."""
        obj, clicks = self.selected, self.layer_named(CLICKS)
        if obj is None or clicks is None or self.labels.layer is None:
            return
        self._paint_labels()
        self.prompts.set_defaults(clicks, obj, not self.negative, self.color)

    def forget_objects(self) -> None:
        """No objects listed, none selected, no names, lineage colours or mask options (a new
        session)."""
        self.object_ids, self.selected, self.next_id, self._painted = [], None, 1, None
        self.names.clear()
        self.parents.clear()
        self.show_candidates(0, 0, [])
        self.objects_changed.emit()
        self.selection_changed.emit(None)

    def set_parents(self, parents: dict[int, int]) -> None:
        """Colour daughters as shades of their mothers (``parents``: daughter -> mother)."""
        self.parents.clear()
        self.parents.update(parents)
        self._paint_labels()
        self.objects_changed.emit()

    # ------------------------------------------------------------------ prompts

    def right_click(self, layer, event):
        """The clicks layer's mouse callback: a right click adds one negative point."""
        return self.prompts.right_click(layer, event, self.selected, self.refresh_colors)

    def add_click(
        self, frame: int, y: float, x: float, positive: bool = True, obj: int | None = None
    ) -> None:
        """Add a click as if made in the viewer (data coordinates of the image layer) for ``obj``
        (default: the selected object; one not listed yet is listed)."""
        coord = self.place.coords(frame, 1)[0]
        coord[-2], coord[-1] = y, x
        self.prompts.add_click(coord, self._prompted_object(obj), positive)
        self.refresh_colors()

    def add_box(
        self, frame: int, y0: float, x0: float, y1: float, x1: float, obj: int | None = None
    ) -> None:
        """Add a box prompt on ``frame`` (pixel corners) for ``obj`` (as :meth:`add_click`)."""
        corners = self.place.coords(frame, 4)
        corners[:, -2:] = box_corners(y0, x0, y1, x1)
        self.prompts.add_box(corners, self._prompted_object(obj))

    def _prompted_object(self, obj: int | None) -> int | None:
        if obj is None:
            return self.selected
        self.list_object(obj)
        return obj

    def prompts_edited(self, event=None) -> None:
        """The click or box layer changed: send each (object, frame) whose prompt the user
        changed."""
        action = getattr(event, "action", None)  # napari's data event says what happened
        if (
            self.prompts.syncing
            or self.session is None
            or action not in (None, "added", "removed", "changed")
        ):
            return
        strays = self.prompts.take_strays()
        if strays:
            self.refresh_colors()
            axis, where = self.place.held_axis, strays[0][1]
            at = self.place.fixed[strays[0][0]]
            self.say(
                f"not used: a prompt on {axis} = {where}, but this session tracks "
                f"{self.place.unit}s at {axis} = {at} (where the slider was when it started). Go "
                f"back to {axis} = {at} to prompt, or start a new session at {axis} = {where}.",
                "warning",
            )
        for obj, frame, new, old in self.prompts.changes():
            self.send_prompt(obj, frame, new, old=old)

    def send_prompt(
        self, obj: int, frame: int, prompt: dict | None, mask=None, old: dict | None = None
    ) -> None:
        """Send one frame's prompt of ``obj`` to the session (in the worker, :func:`prompt_job`) and
        re-track what it changes; an object left without any prompt also leaves the labels layer."""
        unit = self.place.unit
        job = prompt_job(self.session, obj, frame, prompt, old, mask)

        def done(result):
            info, frames, removed = result
            self.labels.write(frames)
            if removed:
                self.labels.erase(obj)
            if info is not None:
                self.last_report, cands = info
                self.show_candidates(frame, obj, cands)
            report = self.last_report
            self.say(
                f"object {obj}, {unit} {frame}: "
                + ("no prompts left, object removed" if removed else "updated")
                + (
                    f", re-tracked {len(report.frames)} {unit}s"
                    if info and report and report.frames
                    else ""
                )
            )

        running = self.queue.running
        if running is not None and running.key == (obj, frame):
            # a newer prompt for the same object and frame: its re-tracking supersedes the running
            # one
            running.cancel()
        self.submit(
            job,
            on_return=done,
            label=f"object {obj} on {unit} {frame}",
            kind=PROMPT,
            key=(obj, frame),
        )

    def show_candidates(self, frame: int, obj: int, cands) -> None:
        self.candidates = (frame, obj, cands) if cands else None
        self.candidates_changed.emit()

    def choose_candidate(self, i: int) -> None:
        """Use candidate ``i`` of the last ambiguous click as that frame's mask prompt."""
        if self.candidates is None:
            return
        frame, obj, cands = self.candidates
        self.show_candidates(frame, obj, [])
        self.send_prompt(obj, frame, None, mask=cands[i][0])

    def add_paint_layer(self) -> None:
        """A 2D labels layer to paint object masks on (label = object id)."""
        if self.session is not None:
            self.prompts.paint_layer(
                self.viewer, self.layer, self.session.shape[1:], self.selected or 1
            )

    def use_painted_mask(self) -> None:
        """Each painted label becomes a mask prompt of that object on the current frame."""
        paint = self.layer_named(PAINT)
        if paint is None or self.session is None or not paint.data.any():
            self.say(f"paint a mask on the '{PAINT}' layer first", "info", status=False)
            return
        frame = self.current_frame()
        for obj in np.unique(paint.data)[1:]:
            self.list_object(int(obj))
            self.send_prompt(int(obj), frame, None, mask=paint.data == obj)
        paint.data = np.zeros_like(paint.data)

    def objects_from_labels(self, layer, every: bool = False) -> None:
        """Each label of labels ``layer`` becomes an object with that id, prompted by its mask on
        the current frame or (``every``) on every annotated frame (the frames are encoded in the
        background)."""
        objects_from_labels(self, layer, every)

    # ------------------------------------------------------------------ tracking

    def propagate(self, direction: str) -> None:
        """Track ``direction`` ("forward", "backward" or "both") in the background; each finished
        frame is written to the labels layer at once, the timelines follow frame by frame. The same
        request waiting or running with nothing behind it is not queued twice."""
        propagate(self, direction)

    def propagate_forward(self) -> None:
        self.propagate("forward")

    def propagate_backward(self) -> None:
        self.propagate("backward")

    def propagate_both(self) -> None:
        self.propagate("both")

    def cancel(self) -> None:
        """Stop tracking after the current frame and drop queued tracking; prompt edits still reach
        the session."""
        self.queue.cancel_tracking()

    def overwrite_edited_frames(self) -> None:
        """Replace the frames the user edited with the current tracking result."""
        self.labels.overwrite_edited()

    # ------------------------------------------------------------- automatic segmentation, lineage

    def segment_all(self) -> None:
        """Every cell the automatic mask generator finds on the current frame, in a preview labels
        layer (in the background); nothing becomes an object before :meth:`accept_all`."""
        self.auto.segment_all()

    def accept_all(self) -> None:
        """Each label left in the preview becomes a new object prompted by its mask on the preview's
        frame."""
        self.auto.accept_all()

    def discard_preview(self) -> None:
        """Remove the automatic segmentation's preview without adding objects."""
        self.auto.discard()

    def find_new_cells(self, every: int | None = None) -> None:
        """List regions no tracked object covers on the current frame, or on every ``every``-th
        frame."""
        self.auto.find_new_cells(every)

    def accept_new_cell(self, choice: str) -> None:
        """The suggested new cell ``choice`` becomes a new object, prompted by its mask."""
        self.auto.accept_cell(choice)

    def dismiss_new_cell(self, choice: str) -> None:
        self.auto.dismiss_cell(choice)

    def go_to_new_cell(self, choice: str) -> None:
        """Show the frame of the suggested new cell ``choice``, its label picked in the outline
        layer."""
        self.auto.go_to(choice)

    def suspect_frames(self) -> list[tuple[int, int]]:
        """Every suspect ``(frame, object)`` of the last timelines snapshot, in order."""
        return sorted((f, o) for o, line in self.timelines.items() for f in (line.suspects or {}))

    def next_suspect(self, *_) -> tuple[int, int] | None:
        """Go to the next suspect object-frame after the one shown, select its object and say why it is
        suspect; returns ``(frame, object)``, None (and says so) when there is none."""
        return self._visit_suspect(1)

    def previous_suspect(self, *_) -> tuple[int, int] | None:
        """:meth:`next_suspect` backwards."""
        return self._visit_suspect(-1)

    def _visit_suspect(self, step: int) -> tuple[int, int] | None:
        found = self.suspect_frames()
        if self.session is None or not found:
            self.say(
                "no suspect object-frames" + ("" if self.session is not None else ": no session")
            )
            return None
        here = (self.current_frame(), self.selected if self.selected is not None else -1)
        after = [k for k in found if k > here] if step > 0 else [k for k in found if k < here][::-1]
        frame, obj = (after or (found if step > 0 else found[::-1]))[0]  # round the end
        self.go_to_frame(frame)
        self.select_object(obj)
        why = ", ".join(self.timelines[obj].suspects[frame])
        self.say(
            f"object {obj} on {self.place.unit} {frame} is suspect ({why}): "
            f"{found.index((frame, obj)) + 1} of {len(found)}"
        )
        return frame, obj

    def divide_here(self) -> None:
        """The selected object divides on the current frame: end its track, add two daughters."""
        self.divisions.divide_here()

    def suggest_divisions(self) -> None:
        """Fill the list of suggested divisions from the tracked masks (in the background)."""
        self.divisions.suggest()

    def dismiss_suggestion(self, choice: str) -> None:
        """Drop the suggested division listed as ``choice``."""
        self.divisions.dismiss(choice)

    def go_to_suggestion(self, choice: str) -> None:
        """Show the frame and select the object of the suggested division listed as ``choice``."""
        self.divisions.go_to(choice)

    # ------------------------------------------------------------------ files (see Exports)

    def export_tiff(self, path, confirmed: bool = False) -> None:
        """The labels as a TIFF at ``path`` (``confirmed``: a save dialog already agreed to replace
        it)."""
        self.files.tiff(path, confirmed)

    def export_zarr(self, path, confirmed: bool = False) -> None:
        self.files.zarr(path, confirmed)

    def export_table(self, path, confirmed: bool = False) -> None:
        self.files.table(path, confirmed)

    def export_ctc(self, folder) -> None:
        """A Cell Tracking Challenge result: a RES folder in ``folder``."""
        self.files.ctc(folder)

    def export_geff(self, path, confirmed: bool = False) -> None:
        """The lineage graph (one node per object and frame) as a GEFF zarr store."""
        self.files.geff(path, confirmed)

    def export_trackmate(self, path, confirmed: bool = False) -> None:
        """The tracks and divisions as a TrackMate XML file (pixels, frames)."""
        self.files.trackmate(path, confirmed)

    def add_tracks_layer(self) -> None:
        """A Tracks layer from the labels' centroids (measured in the background)."""
        self.files.add_tracks_layer()

    def save_session(self, path, confirmed: bool = False) -> None:
        """Prompts, object names and settings as JSON (reloadable with :meth:`load_session`)."""
        self.files.save_session(path, confirmed)

    def load_session(self, path) -> None:
        """Replace the prompts with a saved session's (same stack shape) and recompute prompted
        frames."""
        self.files.load_session(path)

    # ------------------------------------------------------------------ closing

    def shutdown(self) -> None:
        """Stop background work, disconnect from the viewer, give back replaced shortcuts, drop the
        session (the layers stay)."""
        if self.closed:
            return
        self.closed = True
        self.queue.close()
        self.hooks.close()
        self.prompts.unhook()
        self.session, self.timelines = None, {}
