"""The object list: one entry per listed object of the controller (id in its data), name and lost
count in its text, the object's palette colour as its icon (the labels layer has the same colours),
lost frames in its tooltip. Selecting and renaming here go to the controller; the list follows its
signals."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import QListWidget, QListWidgetItem

from .words import TOOLTIPS


def entry_text(obj: int, name: str, line, unit: str) -> str:
    """``"3: object 3 — 2 lost frames, hidden on 1 frame, 3 suspect"`` for ``obj`` with timeline
    snapshot ``line``."""
    lost = 0 if line is None else int(line.lost.sum())
    hidden = 0 if line is None or line.hidden is None else int((line.hidden > 0).sum())
    suspect = 0 if line is None or not line.suspects else len(line.suspects)
    notes = [f"{lost} lost {unit}{'s' if lost != 1 else ''}"] if lost else []
    notes += [f"hidden on {hidden} {unit}{'s' if hidden != 1 else ''}"] if hidden else []
    notes += [f"{suspect} suspect"] if suspect else []
    return f"{obj}: {name}" + (" \u2014 " + ", ".join(notes) if notes else "")


class ObjectList(QListWidget):
    """The objects of ``controller``: double-click an entry to rename it."""

    def __init__(self, controller) -> None:
        super().__init__()
        self._c = controller
        self._filling = False  # the list is being rebuilt from the controller
        self.setToolTip(TOOLTIPS["objects"])
        self.setMinimumHeight(180)  # about 10 objects before it scrolls
        self.currentItemChanged.connect(self._chosen)
        self.itemChanged.connect(self._renamed)
        controller.objects_changed.connect(self.refresh)
        controller.timelines_changed.connect(self.refresh)
        controller.selection_changed.connect(self._show_selection)

    def ids(self) -> list[int]:
        return [int(self.item(i).data(Qt.UserRole)) for i in range(self.count())]

    def entry(self, obj: int) -> QListWidgetItem | None:
        """The list entry of ``obj``."""
        for i in range(self.count()):
            if int(self.item(i).data(Qt.UserRole)) == obj:
                return self.item(i)
        return None

    def refresh(self, *_) -> None:
        """Show the controller's objects: texts, colours, lost frames."""
        c = self._c
        self._filling = True
        try:
            if self.ids() != c.object_ids:
                self.clear()
                for obj in c.object_ids:
                    item = QListWidgetItem()
                    item.setData(Qt.UserRole, obj)
                    item.setFlags(item.flags() | Qt.ItemIsEditable)
                    self.addItem(item)
            unit = c.place.unit
            for i in range(self.count()):
                item = self.item(i)
                obj = int(item.data(Qt.UserRole))
                line = c.timelines.get(obj)
                text = entry_text(obj, c.names.get(obj, f"object {obj}"), line, unit)
                if item.text() != text:
                    item.setText(text)
                frames = [] if line is None else np.flatnonzero(line.lost).tolist()
                more = " ..." if len(frames) > 30 else ""
                item.setToolTip(
                    f"lost on {unit}(s) {', '.join(map(str, frames[:30]))}{more}"
                    if frames
                    else TOOLTIPS["objects"]
                )
                _color_item(item, c.color(obj))
            self._show_selection(c.selected)
        finally:
            self._filling = False

    def _show_selection(self, obj) -> None:
        item = None if obj is None else self.entry(obj)
        if item is not self.currentItem():
            filling, self._filling = self._filling, True
            self.setCurrentItem(item)
            self._filling = filling

    def _chosen(self, item, _previous=None) -> None:
        if not self._filling and item is not None:
            self._c.select_object(int(item.data(Qt.UserRole)))

    def _renamed(self, item) -> None:
        if self._filling:
            return
        obj = int(item.data(Qt.UserRole))
        self._c.rename_object(obj, item.text().split(":", 1)[-1].split("\u2014", 1)[0])


def _color_item(item: QListWidgetItem, color: tuple) -> None:
    rgba = np.asarray(color) * 255
    pix = QPixmap(12, 12)
    pix.fill(QColor(*[int(v) for v in rgba]))
    item.setIcon(QIcon(pix))
