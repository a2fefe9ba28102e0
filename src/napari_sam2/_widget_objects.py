"""The widget's object list: one entry per object (id in its data), name and lost count in its text, the
object's palette colour as its icon (the labels layer gets the same colours), lost frames in its tooltip."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import QListWidget, QListWidgetItem

from ._widget_palette import labels_colormap, object_color
from ._widget_text import TOOLTIPS


class ObjectList(QListWidget):
    """The objects to track. ``names`` (object id -> name) is shared with the widget and kept up to date
    when the user renames an entry; ``timelines`` arguments map object ids to the last snapshot of their
    timelines, ``output`` is the labels layer (None before a session), recoloured when an object is listed.
    ``parents`` (daughter -> mother, set when a division is marked) makes daughters shades of their mother."""

    unit = "frame"  # what the tracked axis holds: "slice" in a volume

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names = names
        self.parents: dict[int, int] = {}
        self._painted: tuple | None = None  # (layer, ids, parents) the labels layer was last coloured for
        self.itemChanged.connect(self._renamed)

    def color(self, obj: int) -> tuple[float, float, float, float]:
        """The RGBA colour of ``obj`` everywhere it shows."""
        return object_color(obj, self.parents)

    def clear(self) -> None:
        """No objects (and no lineage) left."""
        super().clear()
        self.parents.clear()
        self._painted = None

    def ids(self) -> list[int]:
        return [int(self.item(i).data(Qt.UserRole)) for i in range(self.count())]

    @property
    def current(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(Qt.UserRole))

    def select(self, obj: int) -> None:
        for i, listed in enumerate(self.ids()):
            if listed == obj:
                self.setCurrentRow(i)

    def text(self, obj: int, timelines: dict) -> str:
        line = timelines.get(obj)
        lost = 0 if line is None else int(line.lost.sum())
        hidden = 0 if line is None or line.hidden is None else int((line.hidden > 0).sum())
        text = f"{obj}: {self.names.get(obj, f'object {obj}')}"
        u = self.unit
        notes = [f"{lost} lost {u}{'s' if lost != 1 else ''}"] if lost else []
        notes += [f"hidden on {hidden} {u}{'s' if hidden != 1 else ''}"] if hidden else []
        return text + (" \u2014 " + ", ".join(notes) if notes else "")

    def entry(self, obj: int, timelines: dict, output) -> QListWidgetItem:
        """The entry of ``obj``, created (with a default name and its colour) if missing."""
        for i in range(self.count()):
            if int(self.item(i).data(Qt.UserRole)) == obj:
                return self.item(i)
        self.names.setdefault(obj, f"object {obj}")
        item = QListWidgetItem(self.text(obj, timelines))
        item.setData(Qt.UserRole, obj)
        item.setFlags(item.flags() | Qt.ItemIsEditable)
        _color_item(item, self.color(obj))
        self.addItem(item)
        self._paint_labels(output)
        return item

    def show_lost(self, timelines: dict) -> None:
        """Mark objects that are lost on some frames (count in the text, frames in the tooltip)."""
        for i in range(self.count()):
            item = self.item(i)
            obj = int(item.data(Qt.UserRole))
            text = self.text(obj, timelines)
            if item.text() != text:
                item.setText(text)
            line = timelines.get(obj)
            frames = [] if line is None else np.flatnonzero(line.lost).tolist()
            item.setToolTip(f"lost on {self.unit}(s) {', '.join(map(str, frames[:30]))}{' ...' if len(frames) > 30 else ''}"
                            if frames else TOOLTIPS["objects"])

    def color_all(self, output=None) -> None:
        """Icons (and the labels layer ``output``'s colours) from the palette."""
        for i in range(self.count()):
            _color_item(self.item(i), self.color(int(self.item(i).data(Qt.UserRole))))
        self._paint_labels(output)

    def _paint_labels(self, output) -> None:
        key = (id(output), tuple(sorted(self.ids())), tuple(sorted(self.parents.items())))
        if output is not None and key != self._painted:
            output.colormap = labels_colormap(self.ids(), self.parents)
            self._painted = key

    def _renamed(self, item) -> None:
        obj = int(item.data(Qt.UserRole))
        text = item.text().split(":", 1)[-1].split("\u2014", 1)[0].strip()
        self.names[obj] = text or f"object {obj}"


def _color_item(item: QListWidgetItem, color: tuple) -> None:
    rgba = np.asarray(color) * 255
    pix = QPixmap(12, 12)
    pix.fill(QColor(*[int(v) for v in rgba]))
    item.setIcon(QIcon(pix))
