"""The widget's propagation: tracking in the background, each finished frame shown at once."""

from __future__ import annotations

from napari.utils import progress as napari_progress
from napari.utils.notifications import show_info

from ._widget_jobs import TRACK


def propagate(widget, direction: str) -> None:
    """Track ``widget``'s session ``direction`` ("forward", "backward", "both") in the background; each
    finished frame is written to the labels layer at once and the confidence strip and lost counts follow
    frame by frame."""
    w = widget
    if w.session is None:
        show_info("SAM 2: start a session first (Start session), then click on the cells to track")
        w._set_status("No session: press Start session first.")
        return
    session = w.session
    key = ("track", direction)
    unit = w._unit
    jobs = w._jobs
    if any(j.key == key for j in jobs.pending) or (
            jobs.running is not None and jobs.running.key == key and not jobs.running.cancelled
            and not jobs.pending):
        # the same request is waiting or running with nothing queued behind it: a second one would redo it
        w._set_status(f"{direction} is already {'queued' if jobs.pending else 'running'}")
        return
    if jobs.running is not None:
        w._set_status(f"{direction} queued: it starts when '{jobs.running.label}' is done")

    def job(j):
        for event in session.iter_propagate(direction, cancel=j.is_cancelled):
            yield event, session.label_frame(event.frame), session.timelines()
        return direction

    def frame_done(item):
        event, labels, lines = item
        w._timelines = lines
        w._write_frames([(event.frame, labels)])
        w._show_lost()
        w._refresh_timeline()
        bar = w._progress
        bar.setRange(0, event.total)
        bar.setFormat(f"{direction}: %v/%m {unit}s")
        bar.setValue(event.done)
        queued = f"; queued: {', '.join(j.label for j in jobs.pending)}" if jobs.pending else ""
        if tracking.cancelled:
            w._set_status(f"cancelled: {unit}s done so far are kept")
        else:
            rate = event.elapsed / event.done
            w._set_status(f"{direction}: {unit} {event.frame} ({event.done}/{event.total}), "
                          f"ETA {rate * (event.total - event.done):.0f} s{queued}")
        # last: napari's progress bar may process pending events (the job's end among them)
        if w._pbar is None:
            w._pbar = napari_progress(total=event.total, desc=f"SAM 2 {direction}")
        w._pbar.update(1)

    def finished(_):
        w._progress.reset()
        w._progress.setFormat("")
        lost = {o: int(line.lost.sum()) for o, line in w._timelines.items() if line.lost.any()}
        note = ("; lost: " + ", ".join(f"object {o} on {n} {unit}{'s' if n != 1 else ''}"
                                       for o, n in sorted(lost.items()))) if lost else ""
        w._set_status((f"cancelled: {unit}s done so far are kept" if tracking.cancelled
                       else f"{direction}: done") + note)

    tracking = w._run(job, on_yield=frame_done, on_return=finished, label=f"tracking {direction}", kind=TRACK,
                      key=key)
