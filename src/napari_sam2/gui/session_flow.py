"""A session's life: starting one (asking before work on screen is discarded), cleaning up after
the old one, closing it, and repairing it (a removed labels layer rebuilt from the session). No Qt
here."""

from __future__ import annotations

import numpy as np

from .output_sync import tracked_frames
from .prompt_sync import Place
from .words import BOXES, CLICKS, OUTPUT, PAINT, TRACKS


def track_place(layer, axis: str, step) -> Place:
    """Where a session on image ``layer`` tracks: along ``axis`` ("t" or "z"), with the slider
    position ``step`` (one index per axis of the layer) holding the other axis of 4-D data. A
    ValueError names the layer when its data cannot be tracked."""
    ndim = layer.ndim
    if ndim < 3:
        raise ValueError(f"'{layer.name}' is a single 2D image; tracking needs a (T/Z, Y, X) stack")
    if ndim > 4:
        raise ValueError(f"'{layer.name}' has {ndim} dimensions; expected 3 or 4 (plus RGB)")
    unit = "slice" if axis == "z" else "frame"
    if ndim == 3:
        return Place(3, 0, {}, unit)
    track_dim = 1 if axis == "z" else 0
    return Place(4, track_dim, {1 - track_dim: int(step[1 - track_dim])}, unit)


def layer_limits(layer, limits: tuple | None) -> tuple | None:
    """The intensity window: ``limits`` when set, else the layer's contrast limits (None for 8-bit
    data shown 0-255: used as it is, like the official predictor)."""
    if limits is not None:
        return tuple(limits)
    limits = tuple(float(v) for v in layer.contrast_limits)
    return None if np.dtype(layer.dtype) == np.uint8 and limits == (0.0, 255.0) else limits


class SessionFlow:
    """Starts, closes and repairs ``controller``'s session."""

    def __init__(self, controller) -> None:
        self._c = controller

    def work_on_screen(self) -> bool:
        """Whether a session, labels or prompts exist that a new session would discard."""
        c = self._c
        if c.session is not None:
            return True
        for name in (OUTPUT, CLICKS, BOXES):
            layer = c.layer_named(name)
            if layer is not None and len(layer.data) and (name != OUTPUT or layer.data.any()):
                return True
        return False

    def start(self) -> None:
        """Check the chosen image, ask before discarding work on screen, then build the session in
        the background (the model is loaded there); the old session works on until the new one is
        ready."""
        c = self._c
        layer, s = c.image_layer, c.settings
        if layer is None:
            c.say("choose an image layer first", "error", status=False)
            return
        try:
            step = c.viewer.dims.current_step[c.viewer.dims.ndim - layer.ndim :]
            place = track_place(layer, s.stack.axis, step)
        except ValueError as exc:
            c.say(str(exc), "error", status=False)
            return
        if self.work_on_screen() and not c.confirm(
            "Start a new session?",
            f"Start a new session on '{layer.name}'? The labels, clicks, boxes and object list on "
            "screen are discarded. Save or export them first if you need them.",
        ):
            c.say("New session not started: the current work is kept.")
            return
        data = layer.data[0] if layer.multiscale else layer.data
        channel = s.stack.channel if layer.rgb else None
        limits = layer_limits(layer, s.stack.contrast_limits)
        model, tracking = s.model, s.tracking

        def build(job):
            from ..engine.session import TrackingSession
            from ..engine.stack import StackView

            view = StackView(
                data,
                axis=place.track_dim,
                channel_axis=layer.ndim if layer.rgb else None,
                channel=channel,
                fixed=place.fixed,
            )
            return TrackingSession.from_settings(view, model, tracking, limits)

        def ready(session):  # the old session's layers and clicks stay as they are until now
            c.layer, c.place = layer, place
            self.opened(session)

        c.cancel()  # the old session's tracking is about to be discarded
        c.submit(build, on_return=ready, label="loading model")

    def opened(self, session) -> None:
        """The new ``session`` is built: replace the old one's layers with new ones and say what it
        runs."""
        c = self._c
        from ..model.configs import DEMO
        from ..weights import DEMO_NOTICE

        self.clean_up()
        c.session = session
        n, h, wd = session.shape
        c.labels.add()
        c.prompts.create(c.viewer, c.layer, max(4, min(h, wd) // 60))
        c.prompts.hook(c.prompts_edited, c.right_click)
        c.add_object()
        c.image_name = c.layer.name
        c.prompts.clicks.mode = "add"
        c.viewer.layers.selection.active = c.prompts.clicks
        c.go_to_frame(0)  # napari opens a stack at its middle
        c.suit_auto_settings(session.model.cfg.name)  # "auto" may have been the demo
        model = session.model
        demo = model.cfg.name == DEMO
        c.model_info = (
            "Model: bundled demo (synthetic cells, not SAM 2 quality)"
            if demo
            else f"Model: {model.cfg.name} at {model.image_size} px"
        )
        c.session_changed.emit()
        mode = (
            f"in {session.window} px windows at native scale"
            if session.window
            else f"at {model.image_size} px"
        )
        c.say(
            f"Session ready: {n} {c.place.unit}s of {h}x{wd}, model {model.cfg.name} {mode}, "
            f"{c.settings.model.threads or 'the default'} CPU thread(s). Click on '{CLICKS}' to "
            "prompt."
        )
        if demo:
            c.say(f"using {DEMO_NOTICE}", "warning", status=False)

    def clean_up(self) -> None:
        """Forget everything of the previous session on screen and here (the new session's layers
        replace the old ones)."""
        c = self._c
        c.prompts.known, c.timelines = {}, {}
        c.edited_frames.clear()
        c.labels.missing = False
        c.forget_objects()
        c.divisions.clear()
        c.auto.clear()  # an automatic preview and new-cell suggestions belong to the old session
        c.prompts.unhook()
        for name in (CLICKS, BOXES, OUTPUT, PAINT, TRACKS):
            if name in c.viewer.layers:
                c.viewer.layers.remove(name)
        c.labels_changed.emit()
        c.timelines_changed.emit()

    def close(self, ask: bool = True) -> None:
        """End the session (the layers stay on screen), after asking; the settings can be changed
        again."""
        c = self._c
        if c.session is None:
            return
        if ask and not c.confirm(
            "Close the session?",
            "Close the session? Its layers stay on screen, but further clicks are not "
            "tracked and the results can no longer be recomputed.",
        ):
            return
        self.drop()
        c.auto.clear()  # a preview or suggestions of a closed session cannot be accepted
        c.say(
            "Session closed (layers kept). Choose an image and press Start session for a new one."
        )

    def drop(self) -> None:
        """The session ends (its tracking stops); its layers stay."""
        c = self._c
        c.cancel()
        c.session, c.timelines = None, {}
        c.labels.missing = False
        c.session_changed.emit()
        c.labels_changed.emit()
        c.timelines_changed.emit()

    def recreate(self) -> None:
        """A new labels layer with the session's result on every tracked frame (computed in the
        background)."""
        c = self._c
        if c.session is None:
            c.say("no session to take the labels from", "error", status=False)
            return
        if c.labels.present() is not None:
            c.say(f"The '{OUTPUT}' layer is still there.")
            return
        session = c.session

        def job(_):
            frames = sorted({f for obj in session.obj_ids for f in tracked_frames(session, obj)})
            return [(f, session.label_frame(f)) for f in frames]

        def done(frames):
            if c.labels.present() is None:
                c.labels.add()
            c.edited_frames.clear()
            c.labels.write(frames)
            c.labels.missing = False
            c.labels_changed.emit()
            c.refresh_colors()
            c.say(f"'{OUTPUT}' recreated from the session ({len(frames)} {c.place.unit}s).")

        c.submit(job, on_return=done, label="recreating the labels layer")

    def layer_removed(self, layer) -> None:
        """A layer left the viewer: the session's image closes the session, its labels layer can
        come back."""
        c = self._c
        if c.session is None:
            return
        if layer is c.layer:
            self.drop()
            c.say(
                f"The image layer '{c.image_name}' was removed: session closed (labels layer "
                "kept). Choose an image and press Start session to begin a new one.",
                "warning",
            )
        elif layer is c.labels.layer or (
            c.labels.layer is not None and OUTPUT not in c.viewer.layers
        ):
            c.cancel()
            c.labels.layer, c.labels.missing = None, True
            c.labels_changed.emit()
            c.say(
                f"The '{OUTPUT}' layer was removed; the results are still in the session: press "
                f"'Recreate labels layer' to get them back."
            )
