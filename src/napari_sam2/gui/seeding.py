"""Objects from a labels layer: every label of a napari Labels layer (Cellpose, StarDist, a painted
frame, a previous run) becomes a tracked object with that id, prompted by its mask on the current
frame or on every frame that has labels. :func:`label_frames` reads and checks the layer's data
(pure numpy, no Qt);
:func:`objects_from_labels` sends the frames to the session in one job."""

from __future__ import annotations

import numpy as np

from ..io.label_prompts import CTC_MAX_ID, check_label_image, label_ids
from .jobs import PROMPT
from .prompt_sync import Place
from .words import NEW_CELLS, OUTPUT, PREVIEW

# the widget's labels layer is uint16: a larger id could not be shown
MAX_ID, HOLDS = CTC_MAX_ID, f"the '{OUTPUT}' layer (uint16)"


def seed_layers(viewer) -> list:
    """The labels layers objects can come from: every Labels layer but the plugin's own output and
    previews."""
    import napari

    own = (OUTPUT, PREVIEW, NEW_CELLS)
    return [
        layer
        for layer in viewer.layers
        if isinstance(layer, napari.layers.Labels) and layer.name not in own
    ]


def label_frames(
    data, name: str, place: Place, num_frames: int, frame_shape, frame: int, every: bool
) -> dict[int, np.ndarray]:
    """The ``{frame: (H, W) label image}`` prompts in labels layer ``name``'s ``data``, or a
    ValueError naming it.

    ``data`` is (Y, X), which prompts ``frame``; or has the image layer's axes (``place``: the
    tracked axis, the other leading axes held at their fixed index); or, for a 4-D image, is a
    (frames, Y, X) stack along the tracked axis. ``every`` takes every frame with a non-zero label,
    else only ``frame``. Refused: another shape, non-integer or negative labels, ids above what the
    labels layer holds, and no object at all.
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
        raise ValueError(
            f"{where} has shape {shape}: expected (Y, X) or the image's {place.ndim} axes"
        )
    if len(stack) != num_frames or tuple(stack.shape[1:]) != frame_shape:
        raise ValueError(
            f"{where} has shape {shape}; the session's {unit}s are {num_frames} x {frame_shape}: "
            f"use a (Y, X) labels layer or one with the image's shape"
        )
    if not every:
        return {
            frame: check_label_image(
                np.asarray(stack[frame]), frame_shape, f"{where}, {unit} {frame}", MAX_ID, HOLDS
            )
        }
    check_label_image(np.ones((1, 1), stack.dtype), (1, 1), where)  # the dtype, once for all frames
    frames = {}
    for t in range(num_frames):
        image = np.asarray(stack[t])
        if image.any():
            frames[t] = check_label_image(image, frame_shape, f"{where}, {unit} {t}", MAX_ID, HOLDS)
    if not frames:
        raise ValueError(
            f"no objects in {where}: every pixel of its {num_frames} {unit}s is 0 (background)"
        )
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
            for (
                oid
            ) in ids:  # all of them were new: a later frame's failure takes the earlier ones back
                if oid in session.obj_ids:
                    session.remove_object(oid)
            raise
        return [], [(f, session.label_frame(f)) for f in sorted(frames)]

    return job, ids


def _listed(values: list[int], limit: int = 12) -> str:
    return ", ".join(map(str, values[:limit])) + (" ..." if len(values) > limit else "")


def objects_from_labels(controller, layer, every: bool) -> None:
    """Labels ``layer``'s ids become objects of ``controller``'s session: checked on the GUI thread,
    then added in one job (the frames are encoded there); ``every``: every annotated frame, else the
    current one."""
    c = controller
    if c.session is None:
        c.say(
            "start a session first (Start session), then choose the labels layer",
            "info",
            status=False,
        )
        c.no_session()
        return
    if layer is None:
        c.say("choose a labels layer to take the objects from", "warning")
        return
    name, session, unit = layer.name, c.session, c.place.unit
    data = layer.data[0] if layer.multiscale else layer.data
    try:
        frames = label_frames(
            data, name, c.place, session.num_frames, session.shape[1:], c.current_frame(), every
        )
    except ValueError as exc:
        c.say(str(exc), "warning")
        return
    frames = {f: np.array(image) for f, image in frames.items()}  # the user may paint on meanwhile
    job, ids = seed_job(session, frames)
    where = f"{unit}{'s' if len(frames) > 1 else ''} {_listed(sorted(frames))}"

    def done(result):
        clash, written = result
        if clash:
            c.say(
                f"nothing added from '{name}': object id(s) {_listed(clash)} already exist in the "
                f"session; relabel them in '{name}' or delete those objects first",
                "warning",
            )
            return
        for oid in ids:
            c.list_object(oid)
        if c.selected is None:
            c.select_object(ids[0])
        c.labels.write(written)
        c.refresh_colors()
        c.say(
            f"{len(ids)} object(s) added from '{name}' on {where} (ids {_listed(ids)}); propagate "
            "to track them."
        )

    c.submit(job, on_return=done, label=f"objects from '{name}' on {where}", kind=PROMPT)
