"""Automatic starts (issue 15): 'Segment all' shows every cell SAM 2's automatic mask generator finds on the
current frame in a preview labels layer; the user removes wrong ones with napari's own tools and 'Accept all'
turns the rest into objects. After tracking, 'Find new cells' lists regions that no tracked object covers
(outlined in a labels layer, marked on the confidence strip); each can be accepted as a new object or dismissed.

The generator and the numbering of new objects (``engine.auto``) run in jobs; the widget holds label images
and masks as numpy arrays only.
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_info, show_warning

from ._widget_controls import NEW_CELLS_ON
from ._widget_jobs import PROMPT
from ._widget_seeding import HOLDS, MAX_ID
from ._widget_text import CLICKS, NEW_CELLS, PREVIEW


class Auto:
    """'Segment all' with its preview, and the new-cell suggestions of ``widget``.

    ``preview``: (session, frame) of the preview layer on screen, or None; ``found`` maps each listed
    suggestion's text to the engine's suggestion (``frame``, ``mask``, ``area``, ``score``) plus ``label``, its
    value in the outline layer; both belong to the session they were made in and are dropped with it.
    """

    def __init__(self, widget) -> None:
        self._widget = widget
        self.preview: tuple | None = None
        self.found: dict = {}
        self._found_session = None

    # ------------------------------------------------------------------ shared

    def _settings(self):
        """The generator's settings from the controls, or None (refused, with the reason on screen)."""
        from .engine.auto import AutoSettings

        try:
            return AutoSettings(**self._widget._controls.auto_options())
        except ValueError as exc:
            self._refuse(f"automatic segmentation settings: {exc}")
            return None

    def _refuse(self, text: str) -> None:
        show_warning(f"SAM 2: {text}")
        self._widget._status.show(text)

    def _session_or_refuse(self):
        w = self._widget
        self._drop_stale()
        if w.session is None:
            show_info("SAM 2: start a session first (Start session)")
            w._status.show("No session: press Start session first.")
        return w.session

    def _drop_stale(self) -> None:
        """Forget a preview or suggestions made in a session that is no longer the widget's."""
        w = self._widget
        if self.preview is not None and self.preview[0] is not w.session:
            self.discard()
        if self.found and self._found_session is not w.session:
            self._set_found([])

    def _frame_layer(self, name: str, frame: int, image: np.ndarray, **kwargs):
        """A new labels layer ``name`` over the session's image, with its dimensions, holding ``image`` on
        ``frame`` of the tracked axis (zeros elsewhere: shown on that frame only), replacing an older one."""
        w = self._widget
        layer, place = w._layer, w._place
        n, h, wd = w.session.shape
        dims = list(layer.level_shapes[0][:layer.ndim]) if layer.multiscale else list(layer.data.shape[:layer.ndim])
        dims[place.track_dim], dims[-2], dims[-1] = n, h, wd
        data = np.zeros(dims, image.dtype)
        data[self._index(frame)] = image
        if name in w.viewer.layers:
            w.viewer.layers.remove(name)
        return w.viewer.add_labels(data, name=name, scale=layer.scale, translate=layer.translate, **kwargs)

    def _index(self, frame: int) -> tuple:
        """The index of ``frame``'s (H, W) plane in a layer with the image's axes."""
        place = self._widget._place
        return tuple(frame if d == place.track_dim else place.fixed.get(d, slice(None))
                     for d in range(place.ndim - 2))

    def _select_clicks(self) -> None:
        clicks = self._widget._layer_or_none(CLICKS)
        if clicks is not None:
            self._widget.viewer.layers.selection.active = clicks

    # ------------------------------------------------------------------ segment all, preview, accept

    def segment_all(self) -> None:
        """Run the generator on the current frame (as the session sees it) in a job; show the result as the
        preview layer."""
        w = self._widget
        session = self._session_or_refuse()
        settings = self._settings()
        if session is None or settings is None:
            return
        frame, unit = w._current_frame(), w._place.unit

        def job(_):
            from .engine.auto import segment_all, untracked_labels

            labels = segment_all(session.model, session.frames.raw(frame), settings.for_session(session),
                                 contrast_limits=session.frames.contrast_limits)
            # cells that objects hold already would become duplicates on Accept all
            keep = untracked_labels(labels, session.label_frame(frame) > 0)
            return np.where(np.isin(labels, keep), labels, 0), len(np.unique(labels[labels > 0])) - len(keep)

        def show(result):
            labels, known = result
            if w.session is not session:
                return
            n = len(np.unique(labels)) - 1 if labels.any() else 0
            if n == 0:
                self.discard()
                self._refuse(f"the automatic segmentation found only the {known} cell(s) that tracked objects hold "
                             f"already on {unit} {frame}" if known else
                             f"the automatic segmentation found nothing on {unit} {frame}: lower the IoU or "
                             f"stability threshold, or widen the area range")
                return
            held = f" ({known} more that tracked objects hold already left out)" if known else ""
            layer = self._frame_layer(PREVIEW, frame, labels, opacity=0.6)
            self.preview = (session, frame)
            w._controls.accept_all.enabled = w._controls.discard.enabled = True
            w.go_to_frame(frame)
            # one click with napari's fill tool and label 0 removes a cell (the eraser works too)
            w.viewer.layers.selection.active = layer
            layer.selected_label = 0
            layer.mode = "fill"
            w._status.show(f"{n} cell(s) found on {unit} {frame}{held}, shown in '{PREVIEW}': remove wrong ones "
                           f"there (fill with label 0, or erase), then Accept all or Discard.")

        w._run(job, on_return=show, label=f"segmenting everything on {unit} {frame}")

    def accept_all(self) -> None:
        """Every label left in the preview becomes a new object with a mask prompt on the preview's frame
        (ids after the session's largest), in one job; the preview layer goes."""
        w = self._widget
        session = self._session_or_refuse()
        if session is None:
            return
        layer = w._layer_or_none(PREVIEW)
        if self.preview is None or layer is None:
            self.discard()
            self._refuse("no automatic segmentation to accept: press Segment all first")
            return
        frame, unit = self.preview[1], w._place.unit
        image = np.array(layer.data[self._index(frame)])  # the user may go on editing meanwhile
        if not image.any():
            self._refuse(f"every label was removed from '{PREVIEW}': nothing to accept (Discard removes it)")
            return

        def job(_):
            from .engine.auto import add_new_objects

            ids = add_new_objects(session, frame, image, MAX_ID, HOLDS)
            return ids, [(frame, session.label_frame(frame))]

        def done(result):
            ids, written = result
            for oid in ids:
                w._actions.list_object(oid)
            w._controls.objects.select(ids[0])
            w._labels.write(written)
            w._actions.update_defaults()
            self.discard()
            w._status.show(f"{len(ids)} object(s) added from the automatic segmentation on {unit} {frame} "
                           f"(ids {ids[0]}\u2013{ids[-1]}); propagate to track them.")

        w._run(job, on_return=done, label=f"adding the automatic segmentation of {unit} {frame}", kind=PROMPT)

    def discard(self) -> None:
        """Remove the preview layer (no object is added)."""
        w = self._widget
        self.preview = None
        w._controls.accept_all.enabled = w._controls.discard.enabled = False
        if PREVIEW in w.viewer.layers:
            w.viewer.layers.remove(PREVIEW)
            self._select_clicks()

    # ------------------------------------------------------------------ new cells

    def marks(self) -> set[int]:
        """Frames with a listed new-cell suggestion."""
        return {d["frame"] for d in self.found.values()}

    def find_new_cells(self) -> None:
        """Run :func:`engine.auto.new_cell_suggestions` on the current frame or every K-th frame in a job and
        list what it finds."""
        w = self._widget
        c = w._controls
        session = self._session_or_refuse()
        settings = self._settings()
        if session is None or settings is None:
            return
        unit = w._place.unit
        if c.new_on.value == NEW_CELLS_ON[1]:
            frames = list(range(0, session.num_frames, int(c.new_every.value)))
        else:
            frames = [w._current_frame()]
        where = f"{unit} {frames[0]}" if len(frames) == 1 else f"{len(frames)} {unit}s (every {c.new_every.value})"

        def job(_):
            from .engine.auto import new_cell_suggestions

            return new_cell_suggestions(session, frames, settings)

        def show(found):
            if w.session is not session:
                return
            self._found_session = session
            self._set_found(found)
            w._status.show(f"{len(found)} possible new cell(s) on {where}: choose one below, then Accept new cell "
                           f"or Dismiss new cell" if found else f"no new cells found on {where}")

        w._run(job, on_return=show, label=f"looking for new cells on {where}")

    def _text(self, label: int, found: dict) -> str:
        return (f"{self._widget._place.unit} {found['frame']}: new cell {label}, {found['area']} px "
                f"(score {found['score']:.2f})")

    def _set_found(self, found: list[dict]) -> None:
        """List ``found`` (numbered 1, 2, ...), outline each on its frame in the new-cells layer, mark the strip."""
        w = self._widget
        self.found = {self._text(k, d): {**d, "label": k} for k, d in enumerate(found, 1)}
        if found:
            self._outline()
        elif NEW_CELLS in w.viewer.layers:
            w.viewer.layers.remove(NEW_CELLS)
        self._listed()

    def _outline(self) -> None:
        w = self._widget
        layer = self._frame_layer(NEW_CELLS, 0, np.zeros(w.session.shape[1:], np.uint16), opacity=0.9)
        for d in self.found.values():
            layer.data[self._index(d["frame"])][d["mask"]] = d["label"]
        layer.contour = 2  # outlines: the cell below stays visible
        layer.editable = False
        layer.refresh()
        self._select_clicks()

    def _listed(self) -> None:
        """The list and the strip show ``found``."""
        w = self._widget
        w._controls.new_cells.choices = list(self.found)
        w._controls.timeline.set_new_cells(self.marks())

    def _remove(self, choice: str) -> None:
        """Take suggestion ``choice`` out of the list and its outline off the layer."""
        d = self.found.pop(choice)
        layer = self._widget._layer_or_none(NEW_CELLS)
        if layer is not None:
            plane = layer.data[self._index(d["frame"])]
            plane[plane == d["label"]] = 0
            layer.refresh()
        self._listed()

    def go_to(self, choice) -> None:
        """Show the frame of the suggestion listed as ``choice``, with its label picked in the outline layer."""
        found = self.found.get(choice)
        if found is None:
            return
        self._widget.go_to_frame(found["frame"])
        layer = self._widget._layer_or_none(NEW_CELLS)
        if layer is not None:
            layer.selected_label = found["label"]

    def accept_cell(self) -> None:
        """The chosen suggestion becomes a new object (the next free id) with its mask as the prompt on its
        frame."""
        w = self._widget
        session = self._session_or_refuse()
        choice = w._controls.new_cells.value
        if session is None:
            return
        if choice not in self.found:
            self._refuse("choose a suggested new cell first (Find new cells fills the list)")
            return
        found = self.found[choice]
        frame, mask, unit = found["frame"], found["mask"], w._place.unit

        def job(_):
            from .engine.auto import add_new_objects

            oid, = add_new_objects(session, frame, mask, MAX_ID, HOLDS)
            return oid, [(frame, session.label_frame(frame))]

        def done(result):
            oid, written = result
            w._actions.list_object(oid)
            w._controls.objects.select(oid)
            w._labels.write(written)
            w._actions.update_defaults()
            if choice in self.found:
                self._remove(choice)
            w._status.show(f"new object {oid} from the suggestion on {unit} {frame}; propagate to track it.")

        w._run(job, on_return=done, label=f"new object on {unit} {frame}", kind=PROMPT)

    def dismiss_cell(self) -> None:
        """Drop the chosen suggestion from the list and its outline."""
        choice = self._widget._controls.new_cells.value
        if choice in self.found:
            self._remove(choice)

    def clear(self) -> None:
        """Forget the preview and the suggestions (the session is gone)."""
        self.discard()
        self._set_found([])
