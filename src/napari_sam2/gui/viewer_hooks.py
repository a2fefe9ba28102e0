"""The controller's hooks into the viewer: viewer events, keyboard shortcuts and the click hint, all
undone when the widget closes. No Qt here."""

from __future__ import annotations

import weakref

from .words import SHORTCUTS


class ViewerHooks:
    """Relays ``controller``'s viewer events to it and binds the shortcuts (each calls a public
    method of the controller, held weakly); :meth:`close` undoes both, giving back bindings the
    shortcuts replaced."""

    def __init__(self, controller) -> None:
        viewer = self._viewer = controller.viewer
        self._controller = weakref.ref(controller)
        self._events = (
            (viewer.layers.events.inserted, self._inserted),
            (viewer.layers.events.removed, self._removed),
            (viewer.dims.events.current_step, self._moved),
        )
        for emitter, handler in self._events:
            emitter.connect(handler)
        self._hint = ClickHint(controller)
        viewer.mouse_drag_callbacks.append(self._hint)
        self._bindings = {}  # key -> (our function, the binding it replaced or None)
        for key, (method, _) in SHORTCUTS.items():
            ours = Shortcut(controller, method)
            self._bindings[key] = (ours, viewer.bind_key(key, ours, overwrite=True))

    def _inserted(self, event=None) -> None:
        c = self._controller()
        if c is not None:
            c.layers_changed.emit()

    def _removed(self, event) -> None:
        c = self._controller()
        if c is not None:
            c.layers_changed.emit()
            c.layer_removed(event.value)

    def _moved(self, event=None) -> None:
        c = self._controller()
        if c is not None and c.layer is not None:
            c.frame_changed.emit(c.current_frame())

    def close(self) -> None:
        from napari.utils.key_bindings import coerce_keybinding

        viewer = self._viewer
        for emitter, handler in self._events:
            emitter.disconnect(handler)
        self._events = ()
        if self._hint in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(self._hint)
        for key, (ours, replaced) in self._bindings.items():
            if (
                viewer.keymap.get(coerce_keybinding(key)) is ours
            ):  # not rebound by someone else since
                viewer.bind_key(key, replaced, overwrite=True)
        self._bindings = {}


class Shortcut:
    """A viewer key binding that calls a controller method without keeping the controller alive."""

    def __init__(self, controller, method: str) -> None:
        self._controller, self._method = weakref.ref(controller), method
        self.__name__ = f"sam2_{method}"  # napari shows a binding's name and doc
        self.__doc__ = next(text for m, text in SHORTCUTS.values() if m == method)

    def __call__(self, viewer) -> None:
        controller = self._controller()
        if controller is not None and not controller.closed:
            getattr(controller, self._method)()


class ClickHint:
    """A viewer mouse callback: a click on an image before any session says what to do first (napari
    itself does nothing there). Holds the controller weakly."""

    def __init__(self, controller) -> None:
        self._controller = weakref.ref(controller)

    def __call__(self, viewer, event) -> None:
        import napari

        c = self._controller()
        if c is None or c.closed or c.session is not None:
            return
        if isinstance(viewer.layers.selection.active, napari.layers.Image):
            c.say(
                "No session yet: choose the image, press Start session, then click on the cells "
                "(on the 'SAM2 clicks' layer)."
            )
