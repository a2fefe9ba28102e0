"""The widget's tracking: propagation in the background with each finished frame shown at once, Cancel, and
the confidence strip of the selected object."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_info

from ._widget_jobs import TRACK


class Tracking:
    """Propagation and the confidence strip of ``widget``."""

    def __init__(self, widget) -> None:
        self._widget = widget

    def propagate(self, direction: str) -> None:
        """Track the session ``direction`` ("forward", "backward", "both") in the background; each finished
        frame is written to the labels layer at once and the confidence strip and lost counts follow frame by
        frame. The same request waiting or running with nothing behind it is not queued twice."""
        w = self._widget
        status = w._status
        if w.session is None:
            show_info("SAM 2: start a session first (Start session), then click on the cells to track")
            status.show("No session: press Start session first.")
            return
        session, key, unit, jobs = w.session, ("track", direction), w._place.unit, w._jobs
        if any(j.key == key for j in jobs.pending) or (
                jobs.running is not None and jobs.running.key == key and not jobs.running.cancelled
                and not jobs.pending):
            status.show(f"{direction} is already {'queued' if jobs.pending else 'running'}")
            return
        if jobs.running is not None:
            status.show(f"{direction} queued: it starts when '{jobs.running.label}' is done")

        def job(j):
            for event in session.iter_propagate(direction, cancel=j.is_cancelled):
                yield event, session.label_frame(event.frame), session.timelines()
            return direction

        def frame_done(item):
            event, labels, lines = item
            w._timelines = lines
            w._labels.write([(event.frame, labels)])
            w._controls.objects.show_lost(lines)
            self.refresh_timeline()
            queued = f"; queued: {', '.join(j.label for j in jobs.pending)}" if jobs.pending else ""
            if tracking.cancelled:
                status.show(f"cancelled: {unit}s done so far are kept")
            else:
                rate = event.elapsed / event.done
                status.show(f"{direction}: {unit} {event.frame} ({event.done}/{event.total}), "
                            f"ETA {rate * (event.total - event.done):.0f} s{queued}")
            status.progress(event.done, event.total, direction, unit)

        def finished(_):
            status.end_progress()
            lost = {o: int(line.lost.sum()) for o, line in w._timelines.items() if line.lost.any()}
            note = ("; lost: " + ", ".join(f"object {o} on {n} {unit}{'s' if n != 1 else ''}"
                                           for o, n in sorted(lost.items()))) if lost else ""
            status.show((f"cancelled: {unit}s done so far are kept" if tracking.cancelled
                         else f"{direction}: done") + note)

        tracking = w._run(job, on_yield=frame_done, on_return=finished, label=f"tracking {direction}", kind=TRACK,
                          key=key)

    def cancel(self) -> None:
        """Stop tracking after the current frame and drop queued tracking; prompt edits still reach the session."""
        self._widget._jobs.cancel_tracking()

    def refresh_timeline(self, *_) -> None:
        """Show the selected object's confidence per frame (empty without a session or a result)."""
        w = self._widget
        obj = w.current_object
        line = w._timelines.get(obj)
        strip = w._controls.timeline
        if w.session is None or line is None or w._layer is None:
            strip.set_data(np.zeros(0), ())
            return
        strip.set_data(line.scores, line.prompted, w._current_frame(), w._divisions.marks(obj), lost=line.lost,
                       hidden=line.hidden)
