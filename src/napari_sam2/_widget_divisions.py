"""The widget's divisions: 'Divides here' (end a track, add two daughters) and the list of suggested
divisions, marked on the confidence strip."""

from __future__ import annotations

from napari.utils.notifications import show_error, show_info

from ._widget_jobs import PROMPT
from ._widget_output_sync import tracked_frames


class Divisions:
    """Divisions of ``widget``'s objects; ``found`` maps each listed suggestion's text to the engine's
    suggestion (``frame``, ``object_id``, ``reasons``)."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self.found: dict = {}

    def marks(self, obj: int | None) -> set[int]:
        """Frames where ``obj`` has a listed suggestion."""
        return {d["frame"] for d in self.found.values() if d["object_id"] == obj}

    def divide_here(self) -> None:
        w = self._widget
        parent = w.current_object
        line = w._timelines.get(parent)
        if w.session is None or parent is None or line is None:
            show_info("SAM 2: select a tracked object first")
            return
        frame = w._current_frame()
        first = max(w._controls.objects.ids(), default=0) + 1
        daughters = [first, first + 1]
        session = w.session
        if frame == 0 or any(f >= frame for f in line.prompted):
            # checked here (on the last snapshot) so that a refusal is immediate and nothing changes
            u = w._place.unit
            show_error(f"SAM 2: object {parent} cannot divide on {u} {frame}: it needs {u}s before it and "
                       f"no prompts from that {u} on")
            return

        def job(_):
            gone = [f for f in tracked_frames(session, parent) if f >= frame]
            session.mark_division(parent, frame, daughters)
            return [(f, session.label_frame(f)) for f in gone]

        for d in daughters:
            w.names[d] = f"{w.names.get(parent, parent)}.{d - first + 1}"
            w._controls.objects.parents[d] = parent  # coloured as shades of the mother
            w._actions.list_object(d)
        w._controls.objects.setCurrentItem(w._actions.list_object(daughters[0]))
        w._run(job, on_return=w._labels.write, label=f"division of object {parent}", kind=PROMPT)
        w._status.show(f"object {parent} divides on {w._place.unit} {frame}: click daughter {daughters[0]}, "
                       f"then select {daughters[1]} and click it; then Forward")

    def suggest(self) -> None:
        w = self._widget
        if w.session is None:
            return
        session = w.session

        def show(found):
            unit = w._place.unit
            choices = [f"{unit} {d['frame']}: object {d['object_id']} ({', '.join(d['reasons'])})" for d in found]
            w._controls.suggestions.choices = choices
            self.found = {c: d for c, d in zip(choices, found)}
            w._status.show(f"{len(found)} possible division(s) found" if found else "no divisions suggested")
            w._tracking.refresh_timeline()

        w._run(lambda job: session.division_suggestions(), on_return=show, label="looking for divisions")

    def dismiss(self) -> None:
        w = self._widget
        choice = w._controls.suggestions.value
        if choice in self.found:
            del self.found[choice]
            w._controls.suggestions.choices = list(self.found)
            w._tracking.refresh_timeline()

    def go_to(self, choice) -> None:
        """Show the frame and select the object of the suggestion listed as ``choice``."""
        found = self.found.get(choice)
        if found is None:
            return
        self._widget.go_to_frame(found["frame"])
        self._widget._controls.objects.select(found["object_id"])
