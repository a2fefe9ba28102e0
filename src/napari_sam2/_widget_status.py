"""The widget's feedback: the status line, the progress bars, quality warnings, and what each background job's
start, result, failure and end show on screen (handlers on the main thread)."""

from __future__ import annotations

from napari.utils.notifications import show_error, show_warning

from ._widget_jobs import TRACK, Job, worker_body
from ._widget_text import TRACKS


class Status:
    """The status line and progress of ``widget``; its job handlers keep the widget's snapshot of the
    session's timelines (``widget._timelines``) up to date. ``value`` is the status line's text."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self._label, self._bar = widget._controls.status, widget._controls.progress
        self._pbar = None  # napari's progress in the activity dock, while tracking

    @property
    def value(self) -> str:
        return self._label.value

    def show(self, text: str) -> None:
        self._label.value = text

    def warn(self, quality: list[str]) -> None:
        """Show the QualityWarnings a job raised (other warnings went to Python's usual output)."""
        for text in quality:
            show_warning(f"SAM 2: {text}")
        if quality:  # after the job's own status line, so that it stays in view
            self.show(f"{self.value} Warning: {' '.join(quality)}")

    def progress(self, done: int, total: int, label: str, unit: str) -> None:
        """Tracking ``label`` has done ``done`` of ``total`` frames (in the dock and napari's activity list)."""
        self._bar.setRange(0, total)
        self._bar.setFormat(f"{label}: %v/%m {unit}s")
        self._bar.setValue(done)
        if self._pbar is None:
            from napari.utils import progress

            self._pbar = progress(total=total, desc=f"SAM 2 {label}")
        # last: napari's progress bar may process pending events (the job's end among them)
        self._pbar.update(1)

    def end_progress(self) -> None:
        self._bar.reset()
        self._bar.setFormat("")

    def close(self) -> None:
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None

    # ------------------------------------------------------------------ job handlers

    def body(self, job: Job):
        """The callable a worker runs for ``job`` (the widget's session and thread setting as it starts)."""
        w = self._widget
        return worker_body(job, w.session, int(w._controls.threads.value))

    def started(self, job: Job) -> None:
        self.show(f"{job.label}...")

    def result(self, job: Job, value) -> None:
        out, lines, caught = value
        w = self._widget
        if lines is not None:
            w._timelines = lines
            w._controls.objects.show_lost(lines)
        if job.on_return is not None:
            job.on_return(out)
        self.warn(caught)

    def failed(self, exc) -> None:
        show_error(f"SAM 2: {exc}")
        self.show(f"error: {exc}")

    def finished(self, job: Job) -> None:
        w = self._widget
        if job.kind == TRACK:  # also after a failed run, which never reaches its own end handler
            self.end_progress()
        self.close()
        w._tracking.refresh_timeline()
        if TRACKS in w.viewer.layers and not w._jobs.pending:
            w._files.refresh_tracks()  # keep the lineage in step with the labels
