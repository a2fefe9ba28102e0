"""The widget's hooks into the viewer: viewer events and keyboard shortcuts, all undone when it closes."""

from __future__ import annotations

import weakref

from ._widget_text import SHORTCUTS


class ViewerHooks:
    """Connects ``widget``'s handlers to its viewer's events (bound methods: napari holds them weakly) and
    binds the shortcuts; :meth:`close` undoes both, giving back bindings the shortcuts replaced."""

    def __init__(self, widget) -> None:
        viewer = self._viewer = widget.viewer
        self._events = ((viewer.layers.events.inserted, widget._image.reset_choices),
                        (viewer.layers.events.removed, widget._layer_removed),
                        (viewer.dims.events.current_step, widget._step_changed))
        for emitter, handler in self._events:
            emitter.connect(handler)
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
