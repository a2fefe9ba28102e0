"""The widget's job queue: model work one job at a time in napari worker threads, a cancel token per
job.

Model jobs run in order (a prompt edit must reach the session before the tracking that follows it).
Side jobs (exports, measurements on a copy of the labels) need no model and run beside them.
Handlers run on the main thread; nothing here touches layers. Qt is imported only when a worker
starts (tests can hand the queue their own worker factory).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable

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


def _detached(func: Callable):
    """``func`` behind a wrapper that lets go of it once started. napari's activity list keeps
    every worker (and so the callable and the slots it was given) for the rest of the session;
    the wrapper keeps a closed widget's session and model from living on through it."""
    holder = [func]
    if inspect.isgeneratorfunction(func):

        def run_generator():
            return (yield from holder.pop()())

        return run_generator

    def run():
        return holder.pop()()

    return run


@dataclass(frozen=True)
class Failure:
    """What a job that raised ``error`` returns: the error goes to the GUI thread as a value
    (napari's own handlers of a worker's error are not used)."""

    error: Exception


class _Relay:
    """A worker's slots. They reach the queue through a weak reference and drop the job's callables
    when it ends, so the worker (which napari keeps) holds nothing of the widget. (Disconnecting
    instead is no option: PySide6 6.12 miscounts references on disconnect.)"""

    def __init__(self, queue: "JobQueue", job: "Job | None" = None, on_return=None) -> None:
        import weakref

        self._queue, self.job, self.on_return = weakref.ref(queue), job, on_return

    def _live(self):
        queue = self._queue()
        return None if queue is None or queue.closed else queue

    def returned(self, value) -> None:
        queue = self._live()
        if queue is None:
            return
        if self.job is not None:
            queue.deliver(self.job, value)
        elif isinstance(value, Failure):
            queue.fail(value.error)
        else:
            self.on_return(value)

    def yielded(self, item) -> None:
        if self._live() is not None and self.job.on_yield is not None:
            self.job.on_yield(item)

    def errored(self, exc) -> None:
        queue = self._live()
        if queue is not None:
            queue.fail(exc)

    def finished(self) -> None:
        queue = self._queue()
        job, self.job, self.on_return = self.job, None, None
        if job is not None:
            job.func = job.on_return = job.on_yield = None
        if queue is not None:
            queue.ended(job, self)


class JobQueue:
    """Runs :class:`Job` s one at a time; ``wrap(job)`` gives the callable a worker runs for it.

    on_start(job) / on_finish(job) / on_error(exc) are called on the main thread; on_result(job,
    value) receives what the wrapped callable returned. ``make_worker(callable)`` gives a worker
    with napari's ``returned``/``yielded``/``errored``/``finished`` signals and ``start()``
    (default: napari's ``create_worker``).
    """

    def __init__(self, wrap, on_start, on_result, on_finish, on_error, make_worker=None) -> None:
        self._wrap, self._on_start, self._on_result = wrap, on_start, on_result
        self._on_finish, self._on_error = on_finish, on_error
        self._make_worker = make_worker
        self.pending: list[Job] = []
        self.running: Job | None = None
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
            self.running = None
            return
        job = self.running = self.pending.pop(0)
        self._on_start(job)
        self._start(self._worker(_detached(self._wrap(job))), _Relay(self, job))

    def _worker(self, func: Callable):
        if self._make_worker is None:
            from napari.qt.threading import create_worker

            self._make_worker = create_worker
        return self._make_worker(func)

    def _start(self, worker, relay: _Relay) -> None:
        worker.sam2_relay = (
            relay  # the slots below are bound methods: something must hold the relay
        )
        worker.returned.connect(relay.returned)
        if relay.job is not None and relay.job.on_yield is not None:
            worker.yielded.connect(relay.yielded)
        worker.errored.connect(relay.errored)
        worker.finished.connect(relay.finished)
        if relay.job is None:
            self._side.add(relay)
        worker.start()

    def deliver(self, job: Job, value) -> None:
        """A worker's result for ``job`` (on the main thread)."""
        self._on_result(job, value)

    def fail(self, exc: Exception) -> None:
        """A worker's error (on the main thread)."""
        self._on_error(exc)

    def ended(self, job: Job | None, relay: _Relay) -> None:
        """A worker ended (``job`` None: a side job); the next job starts."""
        if job is None:  # a side job
            self._side.discard(relay)
            return
        if self.running is job:
            self.running = None
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
        """Run ``func`` now in its own worker (no model work: it may run beside the queue); an error
        it raises goes to ``on_error``."""
        if not self.closed:
            self._start(self._worker(_detached(_guarded(func))), _Relay(self, on_return=on_return))

    def close(self) -> None:
        """Drop queued jobs, stop the running one at its next frame (the engine's cancel token: the
        job then ends normally and lets go of the session), and ignore what any returns."""
        self.closed = True
        self.pending.clear()
        if self.running is not None:
            self.running.cancel()


class WarningCollector:
    """Collects the QualityWarnings raised in a worker thread for that thread's job.

    ``warnings.catch_warnings`` swaps the process-wide warning state, so two workers (a model job
    and an export beside it) or the GUI thread would see each other's settings. Instead one hook
    sits in ``warnings.showwarning``: a QualityWarning raised in a thread that is collecting goes to
    its list (every time, not once per line); every other warning goes where it went before. The
    hook is put back whenever someone's ``catch_warnings`` has restored an older state.
    """

    _local = threading.local()
    _lock = threading.Lock()
    _before = None

    @classmethod
    def _show(cls, message, category, filename, lineno, file=None, line=None):
        from ..notices import QualityWarning

        sink = getattr(cls._local, "sink", None)
        if sink is not None and issubclass(category, QualityWarning):
            sink.append(str(message))
        else:
            cls._before(message, category, filename, lineno, file, line)

    @classmethod
    def install(cls) -> None:
        from ..notices import QualityWarning

        with cls._lock:
            if warnings.showwarning != cls._show:
                cls._before = warnings.showwarning
                warnings.showwarning = cls._show
            if not any(f[0] == "always" and f[2] is QualityWarning for f in warnings.filters):
                warnings.filterwarnings("always", category=QualityWarning)

    @classmethod
    @contextlib.contextmanager
    def collect(cls):
        cls.install()
        cls._local.sink = sink = []
        try:
            yield sink
        finally:
            cls._local.sink = None


def _failure(exc: Exception) -> Failure:
    """``exc`` as a value; an error that is not about the user's input (a ValueError, OSError,
    KeyError or RuntimeError) also prints its traceback."""
    if not isinstance(exc, (ValueError, OSError, KeyError, RuntimeError)):
        traceback.print_exc()
    return Failure(exc)


def _guarded(func: Callable[[], Any]) -> Callable[[], Any]:
    def run():
        try:
            return func()
        except Exception as exc:
            return _failure(exc)

    return run


def worker_body(job: Job, session, threads: int | None):
    """What the worker runs for ``job``: the thread setting first, then the job; the QualityWarnings
    it raises are collected, and a snapshot of every object's timeline in ``session`` is returned
    with its result, as ``(result or Failure, timelines or None, quality warning messages)``."""

    def body():
        from ..threads import set_threads

        set_threads(threads)  # torch's thread count belongs to the thread that sets it
        with WarningCollector.collect() as caught:
            try:
                out = job.func(job)
                if inspect.isgenerator(out):
                    out = yield from out
            except Exception as exc:
                return _failure(exc), None, caught
        return out, None if session is None else session.timelines(), caught

    return body
