"""Tracking in the background: each finished frame is written to the labels layer at once, the
timelines and the progress follow frame by frame, and the end says what was done. No Qt here."""

from __future__ import annotations

from .jobs import TRACK


def propagate(controller, direction: str) -> None:
    """Track ``direction`` ("forward", "backward" or "both") in the background; each finished
    frame is written to the labels layer at once, the timelines follow frame by frame. The same
    request waiting or running with nothing behind it is not queued twice."""
    c = controller
    if c.session is None:
        c.say(
            "start a session first (Start session), then click on the cells to track",
            "info",
            status=False,
        )
        c.no_session()
        return
    session, key, unit, queue = c.session, ("track", direction), c.place.unit, c.queue
    if any(j.key == key for j in queue.pending) or (
        queue.running is not None
        and queue.running.key == key
        and not queue.running.cancelled
        and not queue.pending
    ):
        c.say(f"{direction} is already {'queued' if queue.pending else 'running'}")
        return
    if queue.running is not None:
        c.say(f"{direction} queued: it starts when '{queue.running.label}' is done")

    def job(j):
        for event in session.iter_propagate(direction, cancel=j.is_cancelled):
            yield event, session.label_frame(event.frame), session.timelines()
        return direction

    def frame_done(item):
        event, labels, lines = item
        c.timelines = lines
        c.labels.write([(event.frame, labels)])
        c.timelines_changed.emit()
        queued = f"; queued: {', '.join(j.label for j in queue.pending)}" if queue.pending else ""
        if tracking.cancelled:
            c.say(f"cancelled: {unit}s done so far are kept")
        else:
            rate = event.elapsed / event.done
            c.say(
                f"{direction}: {unit} {event.frame} ({event.done}/{event.total}), "
                f"ETA {rate * (event.total - event.done):.0f} s{queued}"
            )
        c.progress.emit(event.done, event.total, f"{direction}: %v/%m {unit}s")

    def finished(_):
        c.progress.emit(0, 0, "")
        lost = {o: int(line.lost.sum()) for o, line in c.timelines.items() if line.lost.any()}
        note = (
            (
                "; lost: "
                + ", ".join(
                    f"object {o} on {n} {unit}{'s' if n != 1 else ''}"
                    for o, n in sorted(lost.items())
                )
            )
            if lost
            else ""
        )
        c.say(
            (
                f"cancelled: {unit}s done so far are kept"
                if tracking.cancelled
                else f"{direction}: done"
            )
            + note
        )

    tracking = c.submit(
        job,
        on_yield=frame_done,
        on_return=finished,
        label=f"tracking {direction}",
        kind=TRACK,
        key=key,
    )
