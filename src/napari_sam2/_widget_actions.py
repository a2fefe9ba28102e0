"""The user's edits of objects and prompts: objects added, cleared and deleted; clicks, boxes and painted masks
sent to the session (one job per changed frame); the mask options of a single click."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_info

from ._widget_jobs import PROMPT
from ._widget_prompt_sync import prompt_job
from ._widget_text import CLICKS, PAINT


class Actions:
    """Object and prompt edits of ``widget``; ``candidates`` holds (frame, object, [(mask, IoU), ...]) of the
    last single click with mask options, or None."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self.candidates = None

    # ------------------------------------------------------------------ objects

    def list_object(self, obj: int):
        """The list entry of ``obj``, created (with a default name and its colour) if missing."""
        w = self._widget
        return w._controls.objects.entry(obj, w._timelines, w._output)

    def add_object(self) -> None:
        objects = self._widget._controls.objects
        objects.setCurrentItem(self.list_object(max(objects.ids(), default=0) + 1))

    def delete_object(self) -> None:
        w = self._widget
        obj, objects = w.current_object, w._controls.objects
        if obj is None:
            return
        objects.takeItem(objects.currentRow())
        w.names.pop(obj, None)
        if w.session is not None:
            w._prompts.remove_of(obj)
            w._labels.forget(obj)

    def clear_object(self) -> None:
        w = self._widget
        obj = w.current_object
        if obj is not None and w.session is not None:
            w._prompts.remove_of(obj)
            w._labels.forget(obj)

    def update_defaults(self, *_) -> None:
        """New clicks and boxes go to the selected object, in its colour, with the chosen sign."""
        w = self._widget
        obj, clicks = w.current_object, w._layer_or_none(CLICKS)
        if obj is None or clicks is None or w._output is None:
            return
        objects = w._controls.objects
        objects.color_all(w._output)
        w._prompts.set_defaults(clicks, obj, not w._controls.negative.value, objects.color)

    # ------------------------------------------------------------------ prompts

    def right_click(self, layer, event):
        return self._widget._prompts.right_click(layer, event, self._widget.current_object, self.update_defaults)

    def add_click(self, frame: int, y: float, x: float, positive: bool = True, obj: int | None = None) -> None:
        w = self._widget
        coord = w._place.coords(frame, 1)[0]
        coord[-2], coord[-1] = y, x
        w._prompts.add_click(coord, w.current_object if obj is None else obj, positive)
        self.update_defaults()

    def add_box(self, frame: int, y0: float, x0: float, y1: float, x1: float, obj: int | None = None) -> None:
        w = self._widget
        corners = w._place.coords(frame, 4)
        corners[:, -2:] = [[y0, x0], [y0, x1], [y1, x1], [y1, x0]]
        w._prompts.add_box(corners, w.current_object if obj is None else obj)

    def layers_changed(self, event=None) -> None:
        """The click or box layer changed: send each (object, frame) whose prompt the user changed."""
        w = self._widget
        action = getattr(event, "action", None)  # napari's data event says what happened
        if w._prompts.syncing or w.session is None or action not in (None, "added", "removed", "changed"):
            return
        for obj, frame, new, old in w._prompts.changes():
            self.apply(obj, frame, new, old=old)

    def apply(self, obj: int, frame: int, prompt: dict | None, mask=None, old: dict | None = None) -> None:
        """Send one frame's prompt of ``obj`` to the session (in the worker, :func:`prompt_job`) and re-track
        what it changes; an object left without any prompt also leaves the labels layer."""
        w = self._widget
        unit = w._place.unit
        job = prompt_job(w.session, obj, frame, prompt, old, mask)

        def done(result):
            info, frames, removed = result
            w._labels.write(frames)
            if removed:
                w._labels.erase(obj)
            if info is not None:
                w.last_report, cands = info
                self.show_candidates(frame, obj, cands)
            report = w.last_report
            w._status.show(f"object {obj}, {unit} {frame}: "
                           + ("no prompts left, object removed" if removed else "updated")
                           + (f", re-tracked {len(report.frames)} {unit}s" if info and report and report.frames
                              else ""))

        running = w._jobs.running
        if running is not None and running.key == (obj, frame):
            # a newer prompt for the same object and frame: its re-tracking supersedes the running one
            running.cancel()
        w._run(job, on_return=done, label=f"object {obj} on {unit} {frame}", kind=PROMPT, key=(obj, frame))

    def show_candidates(self, frame: int, obj: int, cands) -> None:
        w = self._widget
        c = w._controls
        self.candidates = (frame, obj, cands) if cands else None
        c.cands_info.value = (f"Mask options for {w.names.get(obj, f'object {obj}')}'s click on "
                              f"{w._place.unit} {frame}:" if cands else "Mask options for the last single click:")
        for i, b in enumerate(c.cands):
            if cands:
                b.text, b.enabled = f"option {i + 1} (IoU {cands[i][1]:.2f})", True
            else:
                b.text, b.enabled = f"option {i + 1}", False

    def choose_candidate(self, i: int) -> None:
        if self.candidates is None:
            return
        frame, obj, cands = self.candidates
        self.show_candidates(frame, obj, [])
        self.apply(obj, frame, None, mask=cands[i][0])

    def add_paint_layer(self) -> None:
        w = self._widget
        if w.session is not None:
            w._prompts.paint_layer(w.viewer, w._layer, w.session.shape[1:], w.current_object or 1)

    def use_painted_mask(self) -> None:
        w = self._widget
        paint = w._layer_or_none(PAINT)
        if paint is None or w.session is None or not paint.data.any():
            show_info("SAM 2: paint a mask on the 'SAM2 paint' layer first")
            return
        frame = w._current_frame()
        for obj in np.unique(paint.data)[1:]:
            self.list_object(int(obj))
            self.apply(int(obj), frame, None, mask=paint.data == obj)
        paint.data = np.zeros_like(paint.data)
