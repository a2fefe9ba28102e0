"""A per-object confidence strip: one cell per frame, click to go there (Qt only, no model code)."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QEvent, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter
from qtpy.QtWidgets import QToolTip, QWidget

COLORS = {
    "prompted": QColor(70, 130, 255),
    "present": QColor(60, 190, 90),
    "lost": QColor(220, 60, 60),
    "hidden": QColor(235, 140, 20),
    "suspect": QColor(200, 70, 230),
    "none": QColor(90, 90, 90),
}
# suggestion marks: yellow on top, cyan below
DIVISION, NEW_CELL = (QColor(250, 210, 40), QColor(40, 220, 240))
HELP = (
    "Confidence per frame for the selected object: blue prompted, green present (taller = more "
    "confident), magenta suspect (present, but the mask is probably wrong: check it), orange "
    "hidden under another object, red lost, grey not tracked; a yellow bar on top marks a "
    "suggested division, a cyan bar at the bottom a suggested new cell. Click to go to a frame."
)


class ConfidenceTimeline(QWidget):
    """Draws object scores per frame: blue = prompted, green = present (height = confidence), orange
    = hidden (present by its score, but every pixel of it belongs to another object), red = lost
    (judged absent, or no pixel), grey = not tracked, yellow top bar = suggested division, cyan
    bottom bar = suggested new cell (``new_cells``: frames of any object, kept until
    :meth:`set_new_cells` changes them). ``frameClicked(int)`` on click; hovering a frame tells what
    it is (:meth:`tooltip`)."""

    frameClicked = Signal(int)
    unit = "frame"  # what the tracked axis holds: "slice" in a volume

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.scores = np.zeros(0, np.float32)
        self.lost = np.zeros(0, bool)
        self.hidden = np.zeros(0, np.int64)
        self.prompted: set[int] = set()
        self.suspects: dict[int, tuple[str, ...]] = {}
        self.current = -1
        self.marks: set[int] = set()
        self.new_cells: set[int] = set()
        self.setMinimumHeight(36)
        self.setToolTip(HELP)

    def set_data(
        self,
        scores: np.ndarray,
        prompted,
        current: int = -1,
        marks=(),
        lost=None,
        hidden=None,
        suspects=None,
    ) -> None:
        """marks: frames to flag (suggested divisions), drawn as a yellow bar on top; lost: (N,)
        bool, frames where the object is lost (score below threshold or an empty mask); default:
        score <= 0; hidden: (N,) int, the object covering it where it is hidden, else 0 (the
        engine's Timeline.hidden); suspects: ``{frame: reasons}`` (Timeline.suspects)."""
        self.suspects = dict(suspects or {})
        self.scores = np.asarray(scores, np.float32)
        self.lost = self.scores <= 0 if lost is None else np.asarray(lost, bool)
        self.hidden = (
            np.zeros(len(self.scores), np.int64) if hidden is None else np.asarray(hidden, np.int64)
        )
        self.prompted = set(prompted)
        self.current = current
        self.marks = set(marks)
        self.update()

    def set_new_cells(self, frames) -> None:
        """Frames with a suggested new cell (not tied to the selected object), drawn as a cyan bar
        below."""
        self.new_cells = set(frames)
        self.update()

    def kind(self, frame: int) -> str:
        if frame in self.prompted:
            return "prompted"
        s = self.scores[frame]
        if np.isnan(s):
            return "none"
        if self.lost[frame] or s <= 0:  # never "present" where the score says absent
            return "lost"
        if self.hidden[frame]:
            return "hidden"
        return "suspect" if frame in self.suspects else "present"

    def tooltip(self, frame: int) -> str:
        """What the strip says about ``frame`` when hovered."""
        kind = self.kind(frame)
        new = "; a new cell is suggested here" if frame in self.new_cells else ""
        if kind == "hidden":
            return (
                f"{self.unit} {frame}: hidden under object {self.hidden[frame]} — click on it on "
                f"this {self.unit} to correct{new}"
            )
        if kind == "suspect":
            return (
                f"{self.unit} {frame}: suspect ({', '.join(self.suspects[frame])}): the model is "
                f"sure of this mask, but it is probably wrong; check it{new}"
            )
        words = {
            "prompted": "prompted",
            "present": f"present (score {self.scores[frame]:.1f})",
            "lost": "lost (absent, or no pixel in the labels)",
            "none": "not tracked",
        }
        return f"{self.unit} {frame}: {words[kind]}{new}"

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip and len(self.scores):
            QToolTip.showText(event.globalPos(), self.tooltip(self.frame_at(event.pos().x())), self)
            return True
        return super().event(event)

    def frame_at(self, x: float) -> int:
        n = len(self.scores)
        return int(np.clip(x / max(self.width(), 1) * n, 0, max(n - 1, 0)))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        n = len(self.scores)
        if n == 0:
            return
        painter = QPainter(self)
        w, h = self.width() / n, self.height()
        for f in range(n):
            kind = self.kind(f)
            frac = 1.0 if kind != "present" else 0.3 + 0.7 / (1 + np.exp(-self.scores[f]))
            painter.fillRect(QRectF(f * w, h * (1 - frac), max(w - 1, 1), h * frac), COLORS[kind])
        for f in self.marks:
            if 0 <= f < n:
                painter.fillRect(QRectF(f * w, 0, max(w - 1, 1), h * 0.2), DIVISION)
        for f in self.new_cells:
            if 0 <= f < n:
                painter.fillRect(QRectF(f * w, h * 0.8, max(w - 1, 1), h * 0.2), NEW_CELL)
        if 0 <= self.current < n:
            painter.setPen(QColor(255, 255, 255))
            painter.drawRect(QRectF(self.current * w, 0, max(w - 1, 1), h - 1))
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if len(self.scores) and event.button() == Qt.LeftButton:
            self.frameClicked.emit(
                self.frame_at(event.position().x() if hasattr(event, "position") else event.x())
            )
