"""Small layout pieces the panels share: a row of controls, a fold that shows what it holds on a
click, and a group box around a panel."""

from __future__ import annotations

from magicgui.widgets import Container
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QGroupBox, QLayout, QToolButton, QVBoxLayout, QWidget


def row(*widgets) -> Container:
    """Controls side by side, without labels."""
    return Container(widgets=list(widgets), layout="horizontal", labels=False)


def fold(text: str, body: QWidget, tip: str = "") -> QToolButton:
    """A toggle named ``text`` that shows ``body`` (hidden until it is clicked); its arrow points
    right while folded, down while open."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(True)
    button.setArrowType(Qt.RightArrow)
    button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)

    def unfold(shown: bool) -> None:
        body.setVisible(shown)
        button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    button.toggled.connect(unfold)
    body.setVisible(False)
    return button


class Panel(QGroupBox):
    """A titled group of controls, laid out top to bottom (``add`` takes Qt or magicgui widgets)."""

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self._layout = QVBoxLayout(self)
        # wrapped labels must not squash the rows
        self._layout.setSizeConstraint(QLayout.SetMinimumSize)

    def put(self, *parts) -> None:
        for part in parts:
            self._layout.addWidget(getattr(part, "native", part))
