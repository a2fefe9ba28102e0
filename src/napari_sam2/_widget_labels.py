"""The widget's labels layer: created with the image's dimensions, computed frames written in at the
tracked axis (other axes at their fixed index), the user's edits kept (told apart by digests), objects
taken out, coloured by the shared palette."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_warning

from ._widget_jobs import PROMPT
from ._widget_palette import labels_colormap
from ._widget_sync import digest, frames_with, tracked_frames
from ._widget_text import OUTPUT


class LabelsOutput:
    """What ``widget`` wrote into its labels layer: ``written`` maps each frame to the digest of what was
    written last (a frame never written holds zeros); a frame whose digest differs was edited by the user."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self.written: dict[int, bytes] = {}
        self._zeros: bytes | None = None
        self._index: tuple = (slice(None),)  # the tracked (frames, H, W) part of the layer's data

    def reset(self, frame_shape: tuple[int, int], dtype) -> None:
        """A new, empty labels layer of (H, W) frames."""
        self.written = {}
        self._zeros = digest(np.zeros(frame_shape, dtype))

    def create(self, viewer, layer, shape: tuple[int, int, int], track_dim: int, fixed: dict[int, int]):
        """A new, empty labels layer over image ``layer`` with its dimensions (RGB channel aside), for a
        session of ``shape`` (frames, H, W) along ``track_dim`` with the other axes at ``fixed``; returns it.
        Zeros cost no memory until written (calloc), so only the tracked slices take RAM."""
        n, h, w = shape
        dims = list(layer.level_shapes[0][:layer.ndim]) if layer.multiscale else list(layer.data.shape[:layer.ndim])
        dims[track_dim], dims[-2], dims[-1] = n, h, w
        dtype = np.uint16
        out = viewer.add_labels(np.zeros(dims, dtype), name=OUTPUT, opacity=0.5, scale=layer.scale,
                                translate=layer.translate)
        out.colormap = labels_colormap([])
        self._index = tuple(fixed.get(d, slice(None)) for d in range(layer.ndim - 2))
        self.reset((h, w), dtype)
        return out

    def frames(self, out) -> np.ndarray:
        """The (frames, H, W) view of labels layer ``out`` that the session tracks (writable)."""
        return out.data[self._index]

    def _ours(self, frame: np.ndarray, f: int) -> bool:
        return digest(frame) == self.written.get(f, self._zeros)

    def write(self, frames) -> None:
        """Write computed (frame, labels) pairs unless the user edited the frame since we last wrote it."""
        w = self._widget
        out = w._layer_or_none(OUTPUT)
        if out is None:
            if w.session is not None:
                w.cancel()
                w._recreate.enabled = True
                show_error(f"SAM 2: the '{OUTPUT}' layer was removed, so tracking stopped. The results are "
                           f"still in the session: press 'Recreate labels layer' to get them back.")
            return
        kept, stack = [], self.frames(out)
        for f, labels in frames:
            if not self._ours(stack[f], f):
                w.edited_frames.add(f)
                kept.append(f)
                continue
            new = labels.astype(stack.dtype)
            stack[f] = new
            self.written[f] = digest(new)
        out.refresh()
        if kept:
            w._overwrite.enabled = True
            unit = self._widget._unit
            show_warning(f"SAM 2: kept your edits on {unit}(s) {sorted(set(kept))}; "
                         f"'Overwrite edited {unit}s' replaces them")

    def erase(self, obj: int) -> None:
        """Take ``obj``'s pixels out of every frame, leaving all other labels as they are (frames the user
        edited stay edited)."""
        out = self._widget._layer_or_none(OUTPUT)
        if out is None:
            return
        stack = self.frames(out)
        for f in frames_with(stack, obj):
            ours = self._ours(stack[f], f)
            frame = stack[f]
            frame[frame == obj] = 0
            if ours:
                self.written[f] = digest(frame)
        out.refresh()

    def overwrite_edited(self) -> None:
        """Replace the frames the user edited with the session's result."""
        w = self._widget
        if w.session is None or not w.edited_frames:
            return
        session, frames = w.session, sorted(w.edited_frames)

        def done(result):
            out = w._layer_or_none(OUTPUT)
            if out is not None:
                for f, _ in result:
                    self.written[f] = digest(self.frames(out)[f])  # the user agreed: treat them as ours
            w.edited_frames.difference_update(frames)
            w._overwrite.enabled = bool(w.edited_frames)
            w._write_frames(result)

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
            w._write_frames(frames)
            w._erase_label(obj)

        w._run(job, on_return=done, label=f"removing object {obj}", kind=PROMPT)
