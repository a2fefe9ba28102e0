"""Objects from a labels layer: every label of a napari Labels layer (Cellpose, StarDist, a painted frame, a
previous run) becomes a tracked object with that id, prompted by its mask on the current frame or on every
frame that has labels. :func:`label_frames` reads and checks the layer's data (pure numpy, no Qt);
:class:`Seeding` sends the frames to the session in one job."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_info, show_warning

from ._widget_jobs import PROMPT
from ._widget_prompt_sync import Place
from ._widget_text import NEW_CELLS, OUTPUT, PREVIEW
from .io.label_prompts import CTC_MAX_ID, check_label_image, label_ids

CURRENT, EVERY = "current frame", "every annotated frame"
# the widget's labels layer is uint16: a larger id could not be shown
MAX_ID, HOLDS = CTC_MAX_ID, f"the '{OUTPUT}' layer (uint16)"


def seed_layers(viewer) -> list:
    """The labels layers objects can come from: every Labels layer but the plugin's own output and previews."""
    import napari

    own = (OUTPUT, PREVIEW, NEW_CELLS)
    return [layer for layer in viewer.layers if isinstance(layer, napari.layers.Labels) and layer.name not in own]


def label_frames(data, name: str, place: Place, num_frames: int, frame_shape, frame: int,
                 every: bool) -> dict[int, np.ndarray]:
    """The ``{frame: (H, W) label image}`` prompts in labels layer ``name``'s ``data``, or a ValueError naming it.

    ``data`` is (Y, X), which prompts ``frame``; or has the image layer's axes (``place``: the tracked axis,
    the other leading axes held at their fixed index); or, for a 4-D image, is a (frames, Y, X) stack along
    the tracked axis. ``every`` takes every frame with a non-zero label, else only ``frame``. Refused: another
    shape, non-integer or negative labels, ids above what the labels layer holds, and no object at all.
    """
    where = f"labels layer '{name}'"
    shape, frame_shape, unit = tuple(data.shape), tuple(int(s) for s in frame_shape), place.unit
    if len(shape) == 2:
        return {frame: check_label_image(np.asarray(data), frame_shape, where, MAX_ID, HOLDS)}
    if len(shape) == place.ndim:
        stack = data[tuple(place.fixed.get(d, slice(None)) for d in range(place.ndim - 2))]
    elif len(shape) == 3:
        stack = data
    else:
        raise ValueError(f"{where} has shape {shape}: expected (Y, X) or the image's {place.ndim} axes")
    if len(stack) != num_frames or tuple(stack.shape[1:]) != frame_shape:
        raise ValueError(f"{where} has shape {shape}; the session's {unit}s are {num_frames} x {frame_shape}: "
                         f"use a (Y, X) labels layer or one with the image's shape")
    if not every:
        return {frame: check_label_image(np.asarray(stack[frame]), frame_shape, f"{where}, {unit} {frame}",
                                         MAX_ID, HOLDS)}
    check_label_image(np.ones((1, 1), stack.dtype), (1, 1), where)  # the dtype, once for all frames
    frames = {}
    for t in range(num_frames):
        image = np.asarray(stack[t])
        if image.any():
            frames[t] = check_label_image(image, frame_shape, f"{where}, {unit} {t}", MAX_ID, HOLDS)
    if not frames:
        raise ValueError(f"no objects in {where}: every pixel of its {num_frames} {unit}s is 0 (background)")
    return frames


def seed_job(session, frames: dict[int, np.ndarray]):
    """The worker body: :meth:`TrackingSession.add_labels` on each frame, all or nothing. Returns
    ``(clashing ids, [(frame, labels to show)])``; ids the session already tracks are refused before
    anything is added."""
    ids = sorted({i for image in frames.values() for i in label_ids(image)})

    def job(_):
        clash = sorted(set(ids) & set(session.obj_ids))
        if clash:
            return clash, []
        try:
            for f, image in sorted(frames.items()):
                session.add_labels(f, image)
        except Exception:
            for oid in ids:  # all of them were new: a later frame's failure takes the earlier ones back
                if oid in session.obj_ids:
                    session.remove_object(oid)
            raise
        return [], [(f, session.label_frame(f)) for f in sorted(frames)]

    return job, ids


def _listed(values: list[int], limit: int = 12) -> str:
    return ", ".join(map(str, values[:limit])) + (" ..." if len(values) > limit else "")


class Seeding:
    """'Objects from labels' of ``widget``: the chosen labels layer's ids become objects of its session."""

    def __init__(self, widget) -> None:
        self._widget = widget

    def hook(self) -> None:
        """Keep the layer choices in step with the viewer's layers."""
        events = self._widget.viewer.layers.events
        events.inserted.connect(self._widget._controls.seed_layer.reset_choices)
        events.removed.connect(self._widget._controls.seed_layer.reset_choices)

    def unhook(self) -> None:
        events = self._widget.viewer.layers.events
        events.inserted.disconnect(self._widget._controls.seed_layer.reset_choices)
        events.removed.disconnect(self._widget._controls.seed_layer.reset_choices)

    def refuse(self, text: str) -> None:
        show_warning(f"SAM 2: {text}")
        self._widget._status.show(text)

    def objects_from_labels(self) -> None:
        """Check the chosen layer on the GUI thread, then add its objects in a job (the frames are encoded)."""
        w = self._widget
        c = w._controls
        if w.session is None:
            show_info("SAM 2: start a session first (Start session), then choose the labels layer")
            w._status.show("No session: press Start session first.")
            return
        layer = c.seed_layer.value
        if layer is None:
            self.refuse("choose a labels layer to take the objects from")
            return
        name, session, unit = layer.name, w.session, w._place.unit
        data = layer.data[0] if layer.multiscale else layer.data
        try:
            frames = label_frames(data, name, w._place, session.num_frames, session.shape[1:],
                                  w._current_frame(), c.seed_frames.value == EVERY)
        except ValueError as exc:
            self.refuse(str(exc))
            return
        frames = {f: np.array(image) for f, image in frames.items()}  # the user may paint on meanwhile
        job, ids = seed_job(session, frames)
        where = f"{unit}{'s' if len(frames) > 1 else ''} {_listed(sorted(frames))}"

        def done(result):
            clash, written = result
            if clash:
                self.refuse(f"nothing added from '{name}': object id(s) {_listed(clash)} already exist in the "
                            f"session; relabel them in '{name}' or delete those objects first")
                return
            for oid in ids:
                w._actions.list_object(oid)
            if w.current_object is None:
                w._controls.objects.select(ids[0])
            w._labels.write(written)
            w._actions.update_defaults()
            w._status.show(f"{len(ids)} object(s) added from '{name}' on {where} (ids {_listed(ids)}); "
                           f"propagate to track them.")

        w._run(job, on_return=done, label=f"objects from '{name}' on {where}", kind=PROMPT)
