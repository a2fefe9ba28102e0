"""The widget's job queue: model work one job at a time in napari worker threads, a cancel token per job.

Model jobs run in order (a prompt edit must reach the session before the tracking that follows
it). Side jobs (exports, measurements on a copy of the labels) need no model and run beside them.
Handlers run on the main thread; nothing here touches layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from napari.qt.threading import create_worker

PROMPT, TRACK, OTHER = "prompt", "track", "other"


@dataclass(eq=False)
class Job:
    """One piece of background work.

    func(job) runs in a worker thread and returns a result or is a generator (its items go to
    on_yield, its return value to on_return). kind: PROMPT (a prompt edit: Cancel never drops it),
    TRACK (tracking: Cancel drops it or stops it after the current frame) or OTHER. key: what the
    job is about, e.g. (object, frame) of a prompt edit.
    """

    func: Callable[["Job"], Any]
    label: str
    kind: str = OTHER
    on_return: Callable[[Any], None] | None = None
    on_yield: Callable[[Any], None] | None = None
    key: tuple | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True

    def is_cancelled(self) -> bool:
        """The cancel token the engine polls before each frame."""
        return self.cancelled


class JobQueue:
    """Runs :class:`Job` s one at a time; ``wrap(job)`` gives the callable a worker runs for it.

    on_start(job) / on_finish(job) / on_error(exc) are called on the main thread;
    on_result(job, value) receives what the wrapped callable returned.
    """

    def __init__(self, wrap, on_start, on_result, on_finish, on_error) -> None:
        self._wrap, self._on_start, self._on_result = wrap, on_start, on_result
        self._on_finish, self._on_error = on_finish, on_error
        self.pending: list[Job] = []
        self.running: Job | None = None
        self._worker = None
        self._side: set = set()
        self.closed = False

    @property
    def busy(self) -> bool:
        return self.running is not None or bool(self.pending) or bool(self._side)

    def submit(self, job: Job) -> Job:
        if self.closed:
            return job
        self.pending.append(job)
        if self.running is None:
            self._next()
        return job

    def _next(self) -> None:
        if self.closed or not self.pending:
            self.running = self._worker = None
            return
        job = self.running = self.pending.pop(0)
        self._on_start(job)
        worker = self._worker = create_worker(self._wrap(job))
        worker.returned.connect(lambda value: None if self.closed else self._on_result(job, value))
        if job.on_yield is not None:
            worker.yielded.connect(lambda item: None if self.closed else job.on_yield(item))
        worker.errored.connect(lambda exc: None if self.closed else self._on_error(exc))
        worker.finished.connect(lambda: self._finished(job))
        worker.start()

    def _finished(self, job: Job) -> None:
        if self.running is job:
            self.running = self._worker = None
        if not self.closed:
            self._on_finish(job)
            if self.running is None:
                self._next()

    def cancel_tracking(self) -> list[Job]:
        """Drop queued tracking jobs and stop the running job's tracking after its current frame.
        Prompt edits stay queued (a running one has recorded its prompt before it tracks)."""
        dropped = [j for j in self.pending if j.kind == TRACK]
        self.pending = [j for j in self.pending if j.kind != TRACK]
        if self.running is not None:
            self.running.cancel()
        return dropped

    def side(self, func: Callable[[], Any], on_return: Callable[[Any], None]) -> None:
        """Run ``func`` now in its own worker (no model work: it may run beside the queue)."""
        if self.closed:
            return
        worker = create_worker(func)
        self._side.add(worker)
        worker.returned.connect(lambda value: None if self.closed else on_return(value))
        worker.errored.connect(lambda exc: None if self.closed else self._on_error(exc))
        worker.finished.connect(lambda: self._side.discard(worker))
        worker.start()

    def close(self) -> None:
        """Drop queued jobs, stop the running one at its next frame, and ignore what any returns."""
        self.closed = True
        self.pending.clear()
        if self.running is not None:
            self.running.cancel()
        if self._worker is not None:
            self._worker.quit()
