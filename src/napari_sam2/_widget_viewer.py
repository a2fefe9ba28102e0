"""The widget's hooks into the viewer: viewer events, keyboard shortcuts and the click hint, all undone when it
closes; the viewer's image layers and the slider position along the tracked axis."""

from __future__ import annotations

import weakref

from ._widget_text import SHORTCUTS


def image_layers(viewer) -> list:
    """The viewer's image layers (the choices of the image setting)."""
    import napari

    return [layer for layer in viewer.layers if isinstance(layer, napari.layers.Image)]


def current_frame(viewer, layer, track_dim: int) -> int:
    """The slider's position on axis ``track_dim`` of image ``layer``'s data."""
    return int(viewer.dims.current_step[viewer.dims.ndim - layer.ndim + track_dim])


def set_frame(viewer, layer, track_dim: int, frame: int) -> None:
    """Move the slider of axis ``track_dim`` of image ``layer``'s data to ``frame``."""
    viewer.dims.set_current_step(viewer.dims.ndim - layer.ndim + track_dim, int(frame))


class ViewerHooks:
    """Connects ``widget``'s handlers to its viewer's events (bound methods: napari holds them weakly) and
    binds the shortcuts; :meth:`close` undoes both, giving back bindings the shortcuts replaced."""

    def __init__(self, widget) -> None:
        viewer = self._viewer = widget.viewer
        self._events = ((viewer.layers.events.inserted, widget._controls.image.reset_choices),
                        (viewer.layers.events.removed, widget._flow.layer_removed),
                        (viewer.dims.events.current_step, widget._tracking.refresh_timeline))
        for emitter, handler in self._events:
            emitter.connect(handler)
        self._hint = ClickHint(widget)
        viewer.mouse_drag_callbacks.append(self._hint)
        self._bindings = {}  # key -> (our function, the binding it replaced or None)
        for key, (method, _) in SHORTCUTS.items():
            ours = Shortcut(widget, method)
            self._bindings[key] = (ours, viewer.bind_key(key, ours, overwrite=True))

    def close(self) -> None:
        from napari.utils.key_bindings import coerce_keybinding

        viewer = self._viewer
        for emitter, handler in self._events:
            emitter.disconnect(handler)
        self._events = ()
        if self._hint in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(self._hint)
        for key, (ours, replaced) in self._bindings.items():
            if viewer.keymap.get(coerce_keybinding(key)) is ours:  # not rebound by someone else since
                viewer.bind_key(key, replaced, overwrite=True)
        self._bindings = {}


class Shortcut:
    """A viewer key binding that calls a widget method without keeping the widget alive."""

    def __init__(self, widget, method: str) -> None:
        self._widget, self._method = weakref.ref(widget), method
        self.__name__ = f"sam2_{method}"  # napari shows a binding's name and doc
        self.__doc__ = next(text for m, text in SHORTCUTS.values() if m == method)

    def __call__(self, viewer) -> None:
        widget = self._widget()
        if widget is not None and not widget._closed:
            getattr(widget, self._method)()


class ClickHint:
    """A viewer mouse callback: a click on an image before any session says what to do first (napari
    itself does nothing there). Holds the widget weakly."""

    def __init__(self, widget) -> None:
        self._widget = weakref.ref(widget)

    def __call__(self, viewer, event) -> None:
        import napari

        widget = self._widget()
        if widget is None or widget._closed or widget.session is not None:
            return
        if isinstance(viewer.layers.selection.active, napari.layers.Image):
            widget._status.show("No session yet: choose the image, press Start session, then click on the "
                                "cells (on the 'SAM2 clicks' layer).")
