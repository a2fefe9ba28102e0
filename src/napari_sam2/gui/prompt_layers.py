"""The session's prompt layers: clicks (a points layer) and boxes (a shapes layer) with all of the
image's dimensions, read into one prompt per (object, frame), the prompts as last sent to the
session, and the layer to paint mask prompts on. Clicks are always coloured from what they store:
face by sign, border by object."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np

from .prompt_sync import diff_prompts, read_prompts
from .words import BOXES, CLICKS, PAINT

POSITIVE, NEGATIVE = (0.2, 0.9, 0.2, 1.0), (0.95, 0.2, 0.2, 1.0)


class PromptLayers:
    """The click and box layers of a session (None before one) and ``known``: (object, frame) ->
    prompt as last sent to the session, ``{"points": [[x, y], ...], "labels": [1/0, ...], "box":
    [x0, y0, x1, y1]}``.

    ``frame_of(coord)`` maps a layer coordinate to the session's frame index, or None for a point on
    another slice of the data or outside the stack; ``off_slice(coord)`` gives (axis, index) where a
    point lies on another slice (:meth:`Place.off_slice`); ``defer(fn)`` calls ``fn`` once the
    events being handled are done (the widget's event loop; at once without one). While ``syncing``,
    layer edits are the widget's own.
    """

    def __init__(
        self,
        frame_of: Callable[[np.ndarray], int | None],
        off_slice: Callable[[np.ndarray], tuple[int, int] | None],
        defer: Callable[[Callable[[], None]], None] = lambda fn: fn(),
    ) -> None:
        self._frame_of, self._off_slice, self._defer = frame_of, off_slice, defer
        self.clicks = self.boxes = None
        self._handlers: tuple = ()  # (changed, right_click) while hooked
        self.known: dict = {}
        self.syncing = False
        # object id -> RGBA
        self.color_of: Callable[[int], tuple] = lambda obj: (1.0, 1.0, 1.0, 1.0)

    def create(self, viewer, layer, size: int) -> None:
        """New click and box layers over image ``layer`` (clicks drawn ``size`` pixels wide)."""
        ndim, scale, translate = (
            layer.ndim,
            layer.scale[-layer.ndim :],
            layer.translate[-layer.ndim :],
        )
        self.boxes = viewer.add_shapes(
            ndim=ndim,
            name=BOXES,
            edge_width=2,
            face_color=[0, 0, 0, 0],
            features={"obj_id": np.zeros(0, int)},
            scale=scale,
            translate=translate,
        )
        self.clicks = viewer.add_points(
            ndim=ndim,
            name=CLICKS,
            size=size,
            features={"obj_id": np.zeros(0, int), "positive": np.zeros(0, bool)},
            scale=scale,
            translate=translate,
        )

    def hook(self, changed: Callable, right_click: Callable) -> None:
        """Call ``changed(event)`` on every edit of the layers and ``right_click(layer, event)`` on
        a mouse press on the clicks layer; :meth:`unhook` undoes both and lets go of the layers."""
        self.clicks.events.data.connect(changed)
        self.boxes.events.data.connect(changed)
        self.clicks.mouse_drag_callbacks.append(right_click)
        self._handlers = (changed, right_click)

    def unhook(self) -> None:
        if not self._handlers:
            self.clicks = self.boxes = None
            return
        (changed, right_click), self._handlers = self._handlers, ()
        for layer in (self.clicks, self.boxes):
            if layer is not None:
                layer.events.data.disconnect(changed)
        if self.clicks is not None and right_click in self.clicks.mouse_drag_callbacks:
            self.clicks.mouse_drag_callbacks.remove(right_click)
        self.clicks = self.boxes = None

    @staticmethod
    def paint_layer(viewer, layer, frame_shape: tuple[int, int], label: int) -> None:
        """The 2D labels layer to paint mask prompts on (created over image ``layer`` with (H, W)
        ``frame_shape`` when missing), made active for painting ``label``."""
        if PAINT not in viewer.layers:
            viewer.add_labels(
                np.zeros(frame_shape, np.uint16),
                name=PAINT,
                scale=layer.scale[-2:],
                translate=layer.translate[-2:],
            )
        paint = viewer.layers[PAINT]
        paint.selected_label = label
        paint.mode = "paint"
        viewer.layers.selection.active = paint

    @contextmanager
    def quiet(self):
        """Edits made inside are the widget's own: they are not sent as prompt changes."""
        self.syncing = True
        try:
            yield
        finally:
            self.syncing = False

    def add_click(self, coord: np.ndarray, obj: int, positive: bool) -> None:
        self.clicks.feature_defaults = {"obj_id": obj, "positive": positive}
        self.clicks.current_face_color = POSITIVE if positive else NEGATIVE
        self.clicks.add(coord)

    def add_box(self, corners: np.ndarray, obj: int) -> None:
        self.boxes.feature_defaults = {"obj_id": obj}
        self.boxes.add_rectangles(corners)

    def right_click(self, layer, event, obj: int | None, restore: Callable[[], None]):
        """Mouse-drag callback of the clicks layer: a right click in add mode makes the click that
        napari's own add mode places on release a negative click of ``obj`` (one point, never two);
        ``restore()`` puts the usual defaults back once every callback of the release has run."""
        if event.button != 2 or layer.mode != "add" or obj is None:
            return
        layer.feature_defaults = {"obj_id": obj, "positive": False}
        layer.current_face_color = NEGATIVE
        yield
        while event.type == "mouse_move":
            yield
        self._defer(restore)  # napari's add may run after this callback on the same release

    def set_defaults(
        self, clicks, obj: int, positive: bool, color_of: Callable[[int], tuple]
    ) -> None:
        """New clicks on ``clicks`` and new boxes belong to ``obj``, drawn in its colour
        (``color_of``: object id -> RGBA). Existing clicks keep their colours (napari would paint
        the selected ones with the new current colours)."""
        self.color_of = color_of
        color = color_of(obj)
        if clicks.selected_data:
            clicks.selected_data = set()
        clicks.feature_defaults = {"obj_id": obj, "positive": positive}
        clicks.current_face_color = POSITIVE if positive else NEGATIVE
        clicks.current_border_color = color
        if self.boxes.selected_data:
            self.boxes.selected_data = set()
        self.boxes.feature_defaults = {"obj_id": obj}
        self.boxes.current_edge_color = color
        self.recolor()

    def recolor(self) -> None:
        """Paint every click from what it stores: green/red face by its sign, border in its object's
        colour."""
        clicks = self.clicks
        if clicks is None or not clicks.data.shape[0]:
            return
        feats = clicks.features
        faces = np.array([POSITIVE if p else NEGATIVE for p in feats["positive"]])
        borders = np.array([self.color_of(int(o)) for o in feats["obj_id"]])
        if not np.array_equal(np.asarray(clicks.face_color), faces):
            clicks.face_color = faces
        if not np.array_equal(np.asarray(clicks.border_color), borders):
            clicks.border_color = borders

    def collect(self) -> dict:
        """Every prompt in the layers: (object, frame) -> prompt (:func:`read_prompts`)."""
        clicks, boxes = self.clicks, self.boxes
        return read_prompts(
            clicks.data, clicks.features, boxes.data, boxes.features, self._frame_of
        )

    def changes(self) -> list[tuple[int, int, dict | None, dict | None]]:
        """(object, frame, new prompt or None, old prompt or None) for each prompt the user changed
        since the last call (:func:`diff_prompts`); clicks are recoloured from their flags first."""
        self.recolor()
        new = self.collect()
        changed, self.known = diff_prompts(new, self.known), new
        return changed

    def remove_of(self, obj: int) -> None:
        """Take ``obj``'s clicks and boxes out of the layers (not sent as changes)."""
        for layer in (self.clicks, self.boxes):
            ids = np.asarray(layer.features["obj_id"]) if len(layer.features) else np.zeros(0, int)
            self._remove(layer, np.nonzero(ids == obj)[0])
        self.known = {k: v for k, v in self.known.items() if k[0] != obj}

    def take_strays(self) -> list[tuple[int, int]]:
        """Take the clicks and boxes out of the layers that lie on another slice than the
        session's (4-D data, another index of the held axis), as ``[(axis, index), ...]``: the
        session cannot use them, and left in place they would look used."""
        found = []
        for layer, first in ((self.clicks, lambda p: p), (self.boxes, lambda verts: verts[0])):
            where = [self._off_slice(first(np.asarray(item))) for item in layer.data]
            found += [w for w in where if w is not None]
            self._remove(layer, [i for i, w in enumerate(where) if w is not None])
        return found

    def _remove(self, layer, indices) -> None:
        """Remove the points or shapes ``indices`` of ``layer`` (not sent as changes). napari's
        removal goes through a selection, which makes their features the next item's defaults:
        the caller sets the defaults again."""
        if len(indices):
            with self.quiet():
                layer.selected_data = set(int(i) for i in indices)
                layer.remove_selected()
