"""Automatic starts: 'Segment all' shows every cell SAM 2's automatic mask generator finds on the
current frame in a preview labels layer; the user removes wrong ones with napari's own tools and
'Accept all' turns the rest into objects. After tracking, 'Find new cells' lists regions that no
tracked object covers (outlined in a labels layer, marked on the confidence strip); each can be
accepted as a new object or dismissed.

The generator and the numbering of new objects (``engine.auto``) run in jobs; the widget holds label
images and masks as numpy arrays only. No Qt here.
"""

from __future__ import annotations

import numpy as np

from ..settings import AutoSettings
from .jobs import PROMPT
from .seeding import HOLDS, MAX_ID
from .words import CLICKS, NEW_CELLS, PREVIEW

# The bundled demo's generator settings. Its IoU head rarely predicts 0.8 or more: with the official
# filters (IoU 0.8, stability 0.95) it found 7 % of the cells of crowded synthetic frames, with 0.5
# / 0.8 30 % (docs/automatic.md). At its 256 px input, 16 points per side find as many cells as 32
# in a quarter of the time (docs/benchmarks.md).
DEMO_AUTO = AutoSettings(points_per_side=16, pred_iou_thresh=0.5, stability_score_thresh=0.8)


def auto_defaults(model: str) -> AutoSettings:
    """The automatic segmentation's settings that suit ``model`` (a model name or "auto"): the
    demo's for the bundled demo, the official ones otherwise."""
    from ..model.configs import DEMO

    return DEMO_AUTO if model.strip().lower() in ("demo", DEMO) else AutoSettings()


class Automatic:
    """'Segment all' with its preview, and the new-cell suggestions of ``controller``'s session.

    ``preview``: (session, frame) of the preview layer on screen, or None; ``found`` maps each
    listed suggestion's text to the engine's suggestion (``frame``, ``mask``, ``area``, ``score``)
    plus ``label``, its value in the outline layer; both belong to the session they were made in and
    are dropped with it.
    """

    def __init__(self, controller) -> None:
        self._c = controller
        self.preview: tuple | None = None
        self.found: dict = {}
        self._found_session = None

    # ------------------------------------------------------------------ shared

    def _refuse(self, text: str) -> None:
        self._c.say(text, "warning")

    def _session_or_refuse(self):
        c = self._c
        self._drop_stale()
        if c.session is None:
            c.say("start a session first (Start session)", "info", status=False)
            c.no_session()
        return c.session

    def _drop_stale(self) -> None:
        """Forget a preview or suggestions made in a session that is no longer the controller's."""
        c = self._c
        if self.preview is not None and self.preview[0] is not c.session:
            self.discard()
        if self.found and self._found_session is not c.session:
            self._set_found([])

    def _frame_layer(self, name: str, frame: int, image: np.ndarray, **kwargs):
        """A new labels layer ``name`` over the session's image, with its dimensions, holding
        ``image`` on ``frame`` of the tracked axis (zeros elsewhere: shown on that frame only),
        replacing an older one."""
        c = self._c
        layer, place = c.layer, c.place
        n, h, wd = c.session.shape
        shape = layer.level_shapes[0] if layer.multiscale else layer.data.shape
        dims = list(shape[: layer.ndim])
        dims[place.track_dim], dims[-2], dims[-1] = n, h, wd
        data = np.zeros(dims, image.dtype)
        data[self._index(frame)] = image
        if name in c.viewer.layers:
            c.viewer.layers.remove(name)
        return c.viewer.add_labels(
            data, name=name, scale=layer.scale, translate=layer.translate, **kwargs
        )

    def _index(self, frame: int) -> tuple:
        """The index of ``frame``'s (H, W) plane in a layer with the image's axes."""
        place = self._c.place
        return tuple(
            frame if d == place.track_dim else place.fixed.get(d, slice(None))
            for d in range(place.ndim - 2)
        )

    def _select_clicks(self) -> None:
        clicks = self._c.layer_named(CLICKS)
        if clicks is not None:
            self._c.viewer.layers.selection.active = clicks

    # ---------------------------------------------------------------- segment all, preview, accept

    def segment_all(self) -> None:
        """Run the generator on the current frame (as the session sees it) in a job; show the result
        as the preview layer."""
        c = self._c
        session = self._session_or_refuse()
        if session is None:
            return
        settings, frame, unit = c.settings.auto, c.current_frame(), c.place.unit

        def job(_):
            from ..engine.auto import for_session, segment_all, untracked_labels

            labels = segment_all(
                session.model,
                session.frames.raw(frame),
                for_session(settings, session),
                contrast_limits=session.frames.contrast_limits,
            )
            # cells that objects hold already would become duplicates on Accept all
            keep = untracked_labels(labels, session.label_frame(frame) > 0)
            return np.where(np.isin(labels, keep), labels, 0), len(
                np.unique(labels[labels > 0])
            ) - len(keep)

        def show(result):
            labels, known = result
            if c.session is not session:
                return
            n = len(np.unique(labels)) - 1 if labels.any() else 0
            if n == 0:
                self.discard()
                self._refuse(
                    f"the automatic segmentation found only the {known} cell(s) that tracked "
                    f"objects hold already on {unit} {frame}"
                    if known
                    else f"the automatic segmentation found nothing on {unit} {frame}: lower the "
                    "IoU or stability threshold, or widen the area range"
                )
                return
            held = f" ({known} more that tracked objects hold already left out)" if known else ""
            layer = self._frame_layer(PREVIEW, frame, labels, opacity=0.6)
            self.preview = (session, frame)
            c.preview_changed.emit()
            c.go_to_frame(frame)
            # one click with napari's fill tool and label 0 removes a cell (the eraser works too)
            c.viewer.layers.selection.active = layer
            layer.selected_label = 0
            layer.mode = "fill"
            c.say(
                f"{n} cell(s) found on {unit} {frame}{held}, shown in '{PREVIEW}': remove wrong "
                "ones there (fill with label 0, or erase), then Accept all or Discard."
            )

        c.submit(job, on_return=show, label=f"segmenting everything on {unit} {frame}")

    def accept_all(self) -> None:
        """Every label left in the preview becomes a new object with a mask prompt on the preview's
        frame (ids after the session's largest), in one job; the preview layer goes."""
        c = self._c
        session = self._session_or_refuse()
        if session is None:
            return
        layer = c.layer_named(PREVIEW)
        if self.preview is None or layer is None:
            self.discard()
            self._refuse("no automatic segmentation to accept: press Segment all first")
            return
        frame, unit = self.preview[1], c.place.unit
        image = np.array(layer.data[self._index(frame)])  # the user may go on editing meanwhile
        if not image.any():
            self._refuse(
                f"every label was removed from '{PREVIEW}': nothing to accept (Discard removes it)"
            )
            return

        def job(_):
            from ..engine.auto import add_new_objects

            ids = add_new_objects(session, frame, image, MAX_ID, HOLDS)
            return ids, [(frame, session.label_frame(frame))]

        def done(result):
            ids, written = result
            for oid in ids:
                c.list_object(oid)
            c.select_object(ids[0])
            c.labels.write(written)
            c.refresh_colors()
            self.discard()
            c.say(
                f"{len(ids)} object(s) added from the automatic segmentation on {unit} {frame} "
                f"(ids {ids[0]}\u2013{ids[-1]}); propagate to track them."
            )

        c.submit(
            job,
            on_return=done,
            label=f"adding the automatic segmentation of {unit} {frame}",
            kind=PROMPT,
        )

    def discard(self) -> None:
        """Remove the preview layer (no object is added)."""
        c = self._c
        self.preview = None
        c.preview_changed.emit()
        if PREVIEW in c.viewer.layers:
            c.viewer.layers.remove(PREVIEW)
            self._select_clicks()

    # ------------------------------------------------------------------ new cells

    def marks(self) -> set[int]:
        """Frames with a listed new-cell suggestion."""
        return {d["frame"] for d in self.found.values()}

    def find_new_cells(self, every: int | None = None) -> None:
        """Run :func:`engine.auto.new_cell_suggestions` on the current frame, or every ``every``-th
        frame, in a job and list what it finds."""
        c = self._c
        session = self._session_or_refuse()
        if session is None:
            return
        settings, unit = c.settings.auto, c.place.unit
        frames = list(range(0, session.num_frames, int(every))) if every else [c.current_frame()]
        where = (
            f"{unit} {frames[0]}" if len(frames) == 1 else f"{len(frames)} {unit}s (every {every})"
        )

        def job(_):
            from ..engine.auto import new_cell_suggestions

            return new_cell_suggestions(session, frames, settings)

        def show(found):
            if c.session is not session:
                return
            self._found_session = session
            self._set_found(found)
            c.say(
                f"{len(found)} possible new cell(s) on {where}: choose one below, then Accept new "
                "cell or Dismiss new cell"
                if found
                else f"no new cells found on {where}"
            )

        c.submit(job, on_return=show, label=f"looking for new cells on {where}")

    def listed(self) -> list[str]:
        """The suggested new cells, as the list shows them."""
        return list(self.found)

    def _text(self, label: int, found: dict) -> str:
        return (
            f"{self._c.place.unit} {found['frame']}: new cell {label}, {found['area']} px "
            f"(score {found['score']:.2f})"
        )

    def _set_found(self, found: list[dict]) -> None:
        """List ``found`` (numbered 1, 2, ...), outline each on its frame in the new-cells layer,
        mark the strip."""
        c = self._c
        self.found = {self._text(k, d): {**d, "label": k} for k, d in enumerate(found, 1)}
        if found:
            self._outline()
        elif NEW_CELLS in c.viewer.layers:
            c.viewer.layers.remove(NEW_CELLS)
        c.new_cells_changed.emit()

    def _outline(self) -> None:
        layer = self._frame_layer(
            NEW_CELLS, 0, np.zeros(self._c.session.shape[1:], np.uint16), opacity=0.9
        )
        for d in self.found.values():
            layer.data[self._index(d["frame"])][d["mask"]] = d["label"]
        layer.contour = 2  # outlines: the cell below stays visible
        layer.editable = False
        layer.refresh()
        self._select_clicks()

    def _remove(self, choice: str) -> None:
        """Take suggestion ``choice`` out of the list and its outline off the layer."""
        d = self.found.pop(choice)
        layer = self._c.layer_named(NEW_CELLS)
        if layer is not None:
            plane = layer.data[self._index(d["frame"])]
            plane[plane == d["label"]] = 0
            layer.refresh()
        self._c.new_cells_changed.emit()

    def go_to(self, choice) -> None:
        """Show the frame of the suggestion listed as ``choice``, with its label picked in the
        outline layer."""
        found = self.found.get(choice)
        if found is None:
            return
        self._c.go_to_frame(found["frame"])
        layer = self._c.layer_named(NEW_CELLS)
        if layer is not None:
            layer.selected_label = found["label"]

    def accept_cell(self, choice) -> None:
        """Suggestion ``choice`` becomes a new object (the next free id) with its mask as the prompt
        on its frame."""
        c = self._c
        session = self._session_or_refuse()
        if session is None:
            return
        if choice not in self.found:
            self._refuse("choose a suggested new cell first (Find new cells fills the list)")
            return
        found = self.found[choice]
        frame, mask, unit = found["frame"], found["mask"], c.place.unit

        def job(_):
            from ..engine.auto import add_new_objects

            (oid,) = add_new_objects(session, frame, mask, MAX_ID, HOLDS)
            return oid, [(frame, session.label_frame(frame))]

        def done(result):
            oid, written = result
            c.list_object(oid)
            c.select_object(oid)
            c.labels.write(written)
            c.refresh_colors()
            if choice in self.found:
                self._remove(choice)
            c.say(f"new object {oid} from the suggestion on {unit} {frame}; propagate to track it.")

        c.submit(job, on_return=done, label=f"new object on {unit} {frame}", kind=PROMPT)

    def dismiss_cell(self, choice) -> None:
        """Drop suggestion ``choice`` from the list and its outline."""
        if choice in self.found:
            self._remove(choice)

    def clear(self) -> None:
        """Forget the preview and the suggestions (the session is gone)."""
        self.discard()
        self._set_found([])
