"""The SAM 2 dock widget: prompts from napari layers, live masks, propagation in the background.

:class:`SAM2Widget` only assembles: one :class:`~.controller.Controller` (the state and the actions,
no Qt) and the panels that show it, the status panel at the top (always in view), the others below
in a scroll area: setup, objects, tracking, automatic segmentation, lineage, export.
"""

from __future__ import annotations

import weakref

import napari
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from .controller import Controller
from .dialogs import confirm
from .panels.automatic import AutomaticPanel
from .panels.export import ExportPanel
from .panels.lineage import LineagePanel
from .panels.objects import ObjectsPanel
from .panels.setup import SetupPanel
from .panels.status import StatusPanel
from .panels.tracking import TrackingPanel


class _Scroll(QScrollArea):
    """A vertical scroll area that is never narrower than what it holds (no clipped rows), also when
    what it holds grows (longer button texts, the Advanced rows unfolded)."""

    def setWidget(self, widget) -> None:  # noqa: N802 (Qt name)
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()  # a layout request inside a scroll area does not reach the dock
        return super().eventFilter(obj, event)

    def minimumSizeHint(self):  # noqa: N802 (Qt name)
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            hint.setWidth(
                self.widget().minimumSizeHint().width()
                + self.verticalScrollBar().sizeHint().width()
            )
        return hint


class SAM2Widget(QWidget):
    """Prompt, track and correct objects in a napari image layer with SAM 2. ``controller``: its
    state and actions; ``status``, ``setup``, ``objects``, ``automatic``, ``tracking``, ``lineage``,
    ``export``: its panels."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer") -> None:
        super().__init__()
        me = weakref.ref(self)  # the controller must not keep the widget alive
        self.viewer = napari_viewer
        self.controller = Controller(
            napari_viewer,
            confirm=lambda title, text: confirm(me(), title, text),
            defer=lambda fn: QTimer.singleShot(0, fn),
        )
        self._docked = False
        c = self.controller
        self.destroyed.connect(c.shutdown)  # a widget never docked is deleted without a close
        self.status = StatusPanel(c)
        self.setup = SetupPanel(c)
        self.objects = ObjectsPanel(c)
        self.automatic = AutomaticPanel(c)
        self.tracking = TrackingPanel(c)
        self.lineage = LineagePanel(c)
        self.export = ExportPanel(c)
        # the everyday loop first: set up, prompt objects, track; then the rest
        panels = (
            self.setup,
            self.objects,
            self.tracking,
            self.automatic,
            self.lineage,
            self.export,
        )
        self.groups = {panel.title(): panel for panel in panels}
        # the panels scroll inside the dock: on a short screen the dock scrolls instead of squashing
        # or overlapping rows, or forcing the window taller than the screen; the status stays in
        # view
        content = QWidget()
        inner = QVBoxLayout(content)
        for panel in self.groups.values():
            inner.addWidget(panel)
        inner.addStretch(1)
        scroll = self._scroll = _Scroll()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.status)
        outer.addWidget(scroll)

    def scroll_to(self, panel) -> None:
        """Scroll the dock so that ``panel`` (one of the panels) is in view."""
        self._scroll.ensureWidgetVisible(panel, 0, 0)

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting."""
        return self.controller.busy

    def shutdown(self) -> None:
        """Stop background work, disconnect from the viewer, give back replaced shortcuts, drop the
        session. Called when the dock widget is closed; the layers stay."""
        self.controller.shutdown()
        self.status.close_activity()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # napari closes a dock widget by taking it out of its dock (parent None), not by close()
        if event.type() == QEvent.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif self._docked:
                self.shutdown()
        super().changeEvent(event)
