"""Tracking in the background: each finished frame is written to the labels layer at once, the
timelines and the progress follow frame by frame, and the end says what was done. No Qt here."""

from __future__ import annotations

import numpy as np

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
            # suspects need every frame of every object: measured once the run ends (the job's snapshot)
            yield event, session.label_frame(event.frame), session.timelines(suspects=False)
        return direction

    seen: set[int] = set()  # "both" visits the frames between its prompted frames twice

    def frame_done(item):
        event, labels, lines = item
        c.timelines = lines
        c.labels.write([(event.frame, labels)])
        c.timelines_changed.emit()
        seen.add(event.frame)
        # the passes of "both" cover the stack once, whatever they visit twice
        done, total = len(seen), session.num_frames if direction == "both" else event.total
        queued = f"; queued: {', '.join(j.label for j in queue.pending)}" if queue.pending else ""
        if tracking.cancelled:
            c.say(f"cancelled: {unit}s done so far are kept")
        else:
            rate = event.elapsed / event.done
            c.say(
                f"{direction}: {unit} {event.frame} ({done}/{total}), "
                f"ETA {rate * (event.total - event.done):.0f} s{queued}"
            )
        c.progress.emit(done, total, f"{direction}: %v/%m {unit}s")

    def finished(_):
        c.progress.emit(0, 0, "")
        end = (
            f"cancelled: {unit}s done so far are kept"
            if tracking.cancelled
            else f"{direction}: done"
        )
        c.say(f"{end}. {summary(c.timelines, unit)}")

    tracking = c.submit(
        job,
        on_yield=frame_done,
        on_return=finished,
        label=f"tracking {direction}",
        kind=TRACK,
        key=key,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(timelines: dict, unit: str = "frame") -> str:
    """What the timelines hold, in a line that adds up as the command line's does: "2 objects
    tracked over 8 frames: 16 object-frames, 1 lost (object 2 on 1 frame)". Lost: judged absent, no
    pixel, or wholly hidden under another object (the table's rule)."""
    tracked = {o: np.isfinite(line.scores) for o, line in timelines.items()}
    lost = {
        o: int(((line.lost | (line.hidden > 0)) & tracked[o]).sum())
        for o, line in timelines.items()
    }
    frames = int(np.logical_or.reduce(list(tracked.values())).sum()) if tracked else 0
    suspect = {o: len(line.suspects or {}) for o, line in timelines.items()}
    text = (
        f"{_plural(sum(1 for t in tracked.values() if t.any()), 'object')} tracked over "
        f"{_plural(frames, unit)}: "
        f"{_plural(sum(int(t.sum()) for t in tracked.values()), f'object-{unit}')}, "
        f"{sum(lost.values())} lost"
    )
    which = [f"object {o} on {_plural(n, unit)}" for o, n in sorted(lost.items()) if n]
    text += f" ({', '.join(which)})" if which else ""
    flagged = [o for o, n in sorted(suspect.items()) if n]
    text += f", {sum(suspect.values())} suspect" + (
        f" in {_plural(len(flagged), 'object')}: check them with Next suspect (Shift-S)"
        if flagged
        else ""
    )
    return text
