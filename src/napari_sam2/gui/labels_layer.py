"""The session's labels layer: created with the image's dimensions, computed frames written in at
the tracked axis (other axes at their fixed index) through the output synchronisation (the user's
edits kept), objects taken out; what a removed layer means for the session."""

from __future__ import annotations

import numpy as np

from .jobs import PROMPT
from .output_sync import OutputSync, tracked_frames
from .palette import labels_colormap
from .words import OUTPUT


class LabelsLayer:
    """The labels layer of ``controller``'s session (``layer``, None before one) and ``sync``, what
    was written into it (:class:`OutputSync`: a frame whose content differs was edited by the user
    and is kept). ``missing``: the layer was removed while the session was open (its results can be
    recreated)."""

    def __init__(self, controller) -> None:
        self._c = controller
        self.layer = None
        self.sync = OutputSync()
        self.missing = False
        self._index: tuple = (slice(None),)  # the tracked (frames, H, W) part of the layer's data

    def add(self):
        """A new, empty labels layer over the session's image layer with its dimensions (RGB channel
        aside), for the session's (frames, H, W) stack at the controller's place. Zeros cost no
        memory until written (calloc), so only the tracked slices take RAM."""
        c = self._c
        image, place = c.layer, c.place
        n, h, wd = c.session.shape
        shape = image.level_shapes[0] if image.multiscale else image.data.shape
        dims = list(shape[: image.ndim])
        dims[place.track_dim], dims[-2], dims[-1] = n, h, wd
        out = c.viewer.add_labels(
            np.zeros(dims, np.uint16),
            name=OUTPUT,
            opacity=0.5,
            scale=image.scale,
            translate=image.translate,
        )
        out.colormap = labels_colormap([])
        self._index = tuple(place.fixed.get(d, slice(None)) for d in range(image.ndim - 2))
        self.sync = OutputSync((h, wd), np.uint16)
        self.layer, self.missing = out, False
        return out

    def present(self):
        """The labels layer when it is still in the viewer, else None."""
        layer = self.layer
        return layer if layer is not None and layer in self._c.viewer.layers else None

    def frames(self, out=None) -> np.ndarray:
        """The (frames, H, W) view of the labels layer that the session tracks (writable)."""
        return (out if out is not None else self.layer).data[self._index]

    def copy(self) -> np.ndarray | None:
        """A copy of the tracked frames (None without a labels layer): workers read it while the
        user paints."""
        out = self.present()
        return None if out is None else np.array(self.frames(out))

    def write(self, frames) -> None:
        """Write computed (frame, labels) pairs unless the user edited the frame since we last wrote
        it."""
        c = self._c
        out = self.present()
        if out is None:
            if c.session is not None:
                c.cancel()
                self.missing = True
                c.labels_changed.emit()
                c.say(
                    f"the '{OUTPUT}' layer was removed, so tracking stopped. The results are "
                    "still in the session: press 'Recreate labels layer' to get them back.",
                    "error",
                )
            return
        kept = self.sync.write(self.frames(out), frames)
        out.refresh()
        if kept:
            c.edited_frames.update(kept)
            c.labels_changed.emit()
            unit = c.place.unit
            c.say(
                f"kept your edits on {unit}(s) {sorted(set(kept))}; 'Overwrite edited {unit}s' "
                "replaces them",
                "warning",
                status=False,
            )

    def erase(self, obj: int) -> None:
        """Take ``obj``'s pixels out of every frame, leaving all other labels as they are (frames
        the user edited stay edited)."""
        out = self.present()
        if out is not None:
            self.sync.erase(self.frames(out), obj)
            out.refresh()

    def overwrite_edited(self) -> None:
        """Replace the frames the user edited with the session's result."""
        c = self._c
        if c.session is None or not c.edited_frames:
            return
        session, frames = c.session, sorted(c.edited_frames)

        def done(result):
            out = self.present()
            if out is not None:  # the user agreed: treat them as ours
                self.sync.accept(self.frames(out), [f for f, _ in result])
            c.edited_frames.difference_update(frames)
            c.labels_changed.emit()
            self.write(result)

        c.submit(
            lambda job: [(f, session.label_frame(f)) for f in frames],
            on_return=done,
            label="overwriting edited frames",
        )

    def forget(self, obj: int, done: str) -> None:
        """Remove ``obj`` from the session (in the worker) and from every frame of the labels
        layer; ``done`` is said when it is."""
        c = self._c
        session = c.session

        def job(_):
            frames = tracked_frames(session, obj)
            if frames or obj in session.obj_ids:
                session.remove_object(obj)
            return [(f, session.label_frame(f)) for f in frames]

        def gone(frames):
            self.write(frames)
            self.erase(obj)
            c.say(done)

        c.submit(job, on_return=gone, label=f"removing object {obj}", kind=PROMPT)
