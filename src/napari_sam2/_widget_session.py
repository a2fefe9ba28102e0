"""The widget's session life: starting one (asking before a running one's work is discarded), cleaning up
after the old one, closing it, rebuilding a removed labels layer from it, and keeping the user told which
image it is on (its settings greyed out while it is open)."""

from __future__ import annotations

from napari.utils.notifications import show_error, show_warning
from qtpy.QtWidgets import QMessageBox

from ._widget_controls import SettingError
from ._widget_prompt_sync import Place
from ._widget_output_sync import tracked_frames
from ._widget_text import BOXES, CLICKS, OUTPUT, PAINT, TRACKS


def confirm(parent, title: str, text: str) -> bool:
    """A yes/no question (No is the default); tests replace ``QMessageBox.question``."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class SessionFlow:
    """Starting, closing and repairing ``widget``'s session."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self.image_name: str | None = None  # the layer the open session tracks

    # ------------------------------------------------------------------ what would be lost

    def _work_on_screen(self) -> bool:
        """Whether a session, labels or prompts exist that a new session would discard."""
        w = self._widget
        if w.session is not None:
            return True
        for name in (OUTPUT, CLICKS, BOXES):
            layer = w._layer_or_none(name)
            if layer is not None and len(layer.data) and (name != OUTPUT or layer.data.any()):
                return True
        return False

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Check the chosen image and settings, ask before discarding work, then load the model in the
        background (:meth:`ready` takes over)."""
        w = self._widget
        layer = w._controls.image.value
        if layer is None:
            show_error("SAM 2: choose an image layer first")
            return
        try:
            stack = w._controls.stack(layer, w.viewer.dims.current_step[w.viewer.dims.ndim - layer.ndim:])
        except SettingError as exc:
            show_error(f"SAM 2: {exc}")
            return
        options = w._controls.model_options()
        from .device import pick_device
        from .engine.session import check_precision

        try:  # a device or fast mode this machine cannot run is refused here, with the reason
            device = pick_device(w._controls.device.value)
            check_precision(options["precision"], device)
        except ValueError as exc:
            show_error(f"SAM 2: {exc}")
            w._status.show(f"error: {exc}")
            return
        if self._work_on_screen() and not confirm(
                w, "Start a new session?",
                f"Start a new session on '{layer.name}'? The labels, clicks, boxes and object list on screen "
                f"are discarded. Save or export them first if you need them."):
            w._status.show("New session not started: the current work is kept.")
            return

        def build(job):
            from .engine.session import TrackingSession

            return TrackingSession.from_name(stack.view, device=device, contrast_limits=stack.limits, **options)

        unit = "slice" if w._controls.axis.value == "z" else "frame"

        def ready(session):  # the old session's layers and clicks stay as they are until now
            w._layer, w._place = layer, Place(layer.ndim, stack.track_dim, stack.fixed, unit)
            w._controls.objects.unit = w._controls.timeline.unit = unit  # lists and tooltips speak of slices
            self.ready(session)

        w.cancel()  # the old session's tracking is about to be discarded
        w._run(build, on_return=ready, label="loading model")

    def ready(self, session) -> None:
        """The new ``session`` is built: replace the old one's layers with new ones and say what it runs."""
        from .model.configs import DEMO
        from .weights import DEMO_NOTICE

        w = self._widget
        self.clean_up()
        w.session = session
        n, h, wd = session.shape
        w._labels.add_layer()
        w._prompts.create(w.viewer, w._layer, max(4, min(h, wd) // 60))
        w._prompts.hook(w._actions.layers_changed, w._actions.right_click)
        clicks = w._prompts.clicks
        w._actions.add_object()
        self.opened()
        clicks.mode = "add"
        w.viewer.layers.selection.active = clicks
        model = session.model
        demo = model.cfg.name == DEMO
        w._controls.model_info.value = ("Model: bundled demo (synthetic cells, not SAM 2 quality)" if demo else
                                        f"Model: {model.cfg.name} at {model.image_size} px")
        mode = f"in {session.window} px windows at native scale" if session.window else f"at {model.image_size} px"
        w._status.show(f"Session ready: {n} {w._place.unit}s of {h}x{wd}, model {model.cfg.name} {mode}, "
                       f"{int(w._controls.threads.value)} CPU thread(s). "
                       f"Click on '{CLICKS}' to prompt.")
        if demo:
            show_warning(f"SAM 2: using {DEMO_NOTICE}")

    def clean_up(self) -> None:
        """Forget everything of the previous session on screen and in the widget (the new session's layers
        replace the old ones)."""
        w = self._widget
        w._prompts.known, w.edited_frames, w._timelines = {}, set(), {}
        w._controls.overwrite.enabled = False
        w._controls.recreate.enabled = False
        w._controls.objects.clear()
        w.names.clear()
        w._divisions.found = {}
        w._controls.suggestions.choices = []
        w._actions.show_candidates(0, 0, [])
        w._auto.clear()  # an automatic preview and new-cell suggestions belong to the old session
        w._prompts.unhook()
        for name in (CLICKS, BOXES, OUTPUT, PAINT, TRACKS):
            if name in w.viewer.layers:
                w.viewer.layers.remove(name)

    def opened(self) -> None:
        """The session is open on ``widget._layer``: say so and grey out the settings it was made with."""
        w = self._widget
        self.image_name = w._layer.name
        self.show_state()

    def show_state(self) -> None:
        w, c = self._widget, self._widget._controls
        open_ = w.session is not None
        for control in c.session_settings():
            control.enabled = not open_
        c.close.enabled = open_
        c.start.text = "New session..." if open_ else "Start session"
        c.overwrite.text = f"Overwrite edited {w._place.unit}s"
        c.session_info.value = (f"Session on '{self.image_name}' (along {w._place.unit}s); settings are fixed "
                                f"until it is closed." if open_ else "No session open.")

    # ------------------------------------------------------------------ close

    def close(self, ask: bool = True) -> None:
        """End the session (the layers stay on screen); the settings can be changed again."""
        w = self._widget
        if w.session is None:
            return
        if ask and not confirm(w, "Close the session?",
                               "Close the session? Its layers stay on screen, but further clicks are not "
                               "tracked and the results can no longer be recomputed."):
            return
        w.cancel()
        w.session = None
        w._timelines = {}
        w._controls.recreate.enabled = False
        self.show_state()
        w._status.show("Session closed (layers kept). Choose an image and press Start session for a new one.")

    # ------------------------------------------------------------------ the viewer changed

    def layer_removed(self, event) -> None:
        w = self._widget
        removed = event.value
        w._controls.image.reset_choices()
        if w.session is None:
            return
        if removed is w._layer:
            w.cancel()
            w.session = None
            w._timelines = {}
            self.show_state()
            text = (f"The image layer '{self.image_name}' was removed: session closed (labels layer kept). "
                    f"Choose an image and press Start session to begin a new one.")
            show_warning(f"SAM 2: {text}")
            w._status.show(text)
        elif removed is w._output or (w._output is not None and OUTPUT not in w.viewer.layers):
            w.cancel()
            w._output = None
            w._controls.recreate.enabled = True
            w._status.show(f"The '{OUTPUT}' layer was removed; the results are still in the session: "
                           f"press 'Recreate labels layer' to get them back.")

    def image_changed(self, *_) -> None:
        """The image combo moved while a session is open: the session keeps its image; say so."""
        w = self._widget
        chosen = w._controls.image.value
        if w.session is None or w._layer is None or chosen is w._layer or chosen is None:
            return
        show_warning(f"SAM 2: the session tracks '{self.image_name}'; clicks still go there. Press "
                     f"'New session...' to track '{chosen.name}' instead.")
        w._status.show(f"Still on '{self.image_name}': press 'New session...' to track '{chosen.name}'.")

    # ------------------------------------------------------------------ repair

    def recreate_labels(self) -> None:
        """A new labels layer with the session's result on every tracked frame (computed in the background)."""
        w = self._widget
        if w.session is None:
            show_error("SAM 2: no session to take the labels from")
            return
        if w._layer_or_none(OUTPUT) is not None:
            w._status.show(f"The '{OUTPUT}' layer is still there.")
            return
        session = w.session

        def job(_):
            frames = sorted({f for obj in session.obj_ids for f in tracked_frames(session, obj)})
            return [(f, session.label_frame(f)) for f in frames]

        def done(frames):
            if w._layer_or_none(OUTPUT) is None:
                w._labels.add_layer()
            w.edited_frames.clear()
            w._controls.overwrite.enabled = False
            w._labels.write(frames)
            w._controls.recreate.enabled = False
            w._actions.update_defaults()
            w._status.show(f"'{OUTPUT}' recreated from the session ({len(frames)} {w._place.unit}s).")

        w._run(job, on_return=done, label="recreating the labels layer")
