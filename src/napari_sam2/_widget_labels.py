"""The widget's labels layer: created with the image's dimensions, computed frames written in at the
tracked axis (other axes at their fixed index) through the output synchronisation (the user's edits kept),
objects taken out, coloured by the shared palette."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_warning

from ._widget_jobs import PROMPT
from ._widget_palette import labels_colormap
from ._widget_output_sync import OutputSync, tracked_frames
from ._widget_text import OUTPUT


class LabelsOutput:
    """The labels layer of ``widget`` (``widget._output``) and ``sync``, what the widget wrote into it
    (:class:`OutputSync`: a frame whose content differs was edited by the user and is kept)."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self.sync = OutputSync()
        self._index: tuple = (slice(None),)  # the tracked (frames, H, W) part of the layer's data

    def add_layer(self):
        """A new, empty labels layer over the widget's image layer with its dimensions (RGB channel aside), for
        the session's (frames, H, W) stack at the widget's place; it becomes ``widget._output``. Zeros cost no
        memory until written (calloc), so only the tracked slices take RAM."""
        w = self._widget
        layer, place = w._layer, w._place
        n, h, wd = w.session.shape
        dims = list(layer.level_shapes[0][:layer.ndim]) if layer.multiscale else list(layer.data.shape[:layer.ndim])
        dims[place.track_dim], dims[-2], dims[-1] = n, h, wd
        dtype = np.uint16
        out = w.viewer.add_labels(np.zeros(dims, dtype), name=OUTPUT, opacity=0.5, scale=layer.scale,
                                  translate=layer.translate)
        out.colormap = labels_colormap([])
        self._index = tuple(place.fixed.get(d, slice(None)) for d in range(layer.ndim - 2))
        self.sync = OutputSync((h, wd), dtype)
        w._output = out
        return out

    def frames(self, out) -> np.ndarray:
        """The (frames, H, W) view of labels layer ``out`` that the session tracks (writable)."""
        return out.data[self._index]

    def write(self, frames) -> None:
        """Write computed (frame, labels) pairs unless the user edited the frame since we last wrote it."""
        w = self._widget
        out = w._layer_or_none(OUTPUT)
        if out is None:
            if w.session is not None:
                w.cancel()
                w._controls.recreate.enabled = True
                show_error(f"SAM 2: the '{OUTPUT}' layer was removed, so tracking stopped. The results are "
                           f"still in the session: press 'Recreate labels layer' to get them back.")
            return
        kept = self.sync.write(self.frames(out), frames)
        w.edited_frames.update(kept)
        out.refresh()
        if kept:
            w._controls.overwrite.enabled = True
            unit = w._place.unit
            show_warning(f"SAM 2: kept your edits on {unit}(s) {sorted(set(kept))}; "
                         f"'Overwrite edited {unit}s' replaces them")

    def erase(self, obj: int) -> None:
        """Take ``obj``'s pixels out of every frame, leaving all other labels as they are (frames the user
        edited stay edited)."""
        out = self._widget._layer_or_none(OUTPUT)
        if out is None:
            return
        self.sync.erase(self.frames(out), obj)
        out.refresh()

    def overwrite_edited(self) -> None:
        """Replace the frames the user edited with the session's result."""
        w = self._widget
        if w.session is None or not w.edited_frames:
            return
        session, frames = w.session, sorted(w.edited_frames)

        def done(result):
            out = w._layer_or_none(OUTPUT)
            if out is not None:  # the user agreed: treat them as ours
                self.sync.accept(self.frames(out), [f for f, _ in result])
            w.edited_frames.difference_update(frames)
            w._controls.overwrite.enabled = bool(w.edited_frames)
            self.write(result)

        w._run(lambda job: [(f, session.label_frame(f)) for f in frames], on_return=done,
               label="overwriting edited frames")

    def forget(self, obj: int) -> None:
        """Remove ``obj`` from the session (in the worker) and from every frame of the labels layer."""
        w = self._widget
        session = w.session

        def job(_):
            frames = tracked_frames(session, obj)
            if frames or obj in session.obj_ids:
                session.remove_object(obj)
            return [(f, session.label_frame(f)) for f in frames]

        def done(frames):
            self.write(frames)
            self.erase(obj)

        w._run(job, on_return=done, label=f"removing object {obj}", kind=PROMPT)
