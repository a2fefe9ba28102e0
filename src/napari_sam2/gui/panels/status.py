"""The status panel, at the top of the dock and always in view: what runs, the tracking progress
(also in napari's activity list), and the last result, warning or error."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QLabel, QProgressBar, QSizePolicy, QVBoxLayout

from ..words import TOOLTIPS


class StatusPanel(QFrame):
    """Follows ``controller``'s status, job and progress signals. ``text``: the status line;
    ``running``: what runs now ("" when idle); ``bar``: the progress bar of the running tracking
    job."""

    def __init__(self, controller) -> None:
        super().__init__()
        self._c = controller
        self._activity = None  # napari's progress in the activity dock, while tracking
        self._running = QLabel("")
        self._line = QLabel(controller.status_text)
        self._line.setWordWrap(True)  # long messages (warnings) wrap instead of widening the dock
        self._line.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self._line.setTextInteractionFlags(Qt.TextSelectableByMouse)  # to copy an error's text
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.bar.setToolTip(TOOLTIPS["progress"])
        self.bar.setVisible(False)
        self.setFrameShape(QFrame.StyledPanel)  # set apart from the panels below
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        for part in (self._running, self.bar, self._line):
            layout.addWidget(part)
        self._running.setVisible(False)
        controller.status.connect(self._show)
        controller.job_started.connect(self._started)
        controller.job_finished.connect(self._finished)
        controller.progress.connect(self._progress)

    @property
    def text(self) -> str:
        return self._line.text()

    @property
    def running(self) -> str:
        return self._running.text()

    def _show(self, text: str) -> None:
        self._line.setText(text)

    def _started(self, label: str) -> None:
        self._running.setText(f"running: {label}\u2026")
        self._running.setVisible(True)

    def _finished(self) -> None:
        self.close_activity()
        if not self._c.busy:
            self._running.setText("")
            self._running.setVisible(False)

    def _progress(self, done: int, total: int, text: str) -> None:
        """Tracking has done ``done`` of ``total`` frames (total 0: it ended)."""
        if total == 0:
            self.bar.reset()
            self.bar.setFormat("")
            self.bar.setVisible(False)
            return
        self.bar.setVisible(True)
        self.bar.setRange(0, total)
        self.bar.setFormat(text)
        self.bar.setValue(done)
        if self._activity is None:
            from napari.utils import progress

            self._activity = progress(total=total, desc=f"SAM 2 {text.split(':')[0]}")
        # last: napari's progress bar may process pending events (the job's end among them)
        self._activity.update(1)

    def close_activity(self) -> None:
        if self._activity is not None:
            self._activity.close()
            self._activity = None
