"""Divisions: 'Divides here' (end a track, add two daughters) and the list of suggested divisions,
marked on the confidence strip. No Qt here."""

from __future__ import annotations

from .jobs import PROMPT
from .output_sync import tracked_frames


class Divisions:
    """Divisions of ``controller``'s objects; ``found`` maps each listed suggestion's text to the
    engine's suggestion (``frame``, ``object_id``, ``reasons``)."""

    def __init__(self, controller) -> None:
        self._c = controller
        self.found: dict = {}

    def listed(self) -> list[str]:
        """The suggested divisions, as the list shows them."""
        return list(self.found)

    def marks(self, obj: int | None) -> set[int]:
        """Frames where ``obj`` has a listed suggestion."""
        return {d["frame"] for d in self.found.values() if d["object_id"] == obj}

    def clear(self) -> None:
        self.found = {}
        self._c.suggestions_changed.emit()

    def divide_here(self) -> None:
        c = self._c
        parent = c.selected
        line = c.timelines.get(parent)
        if c.session is None or parent is None or line is None:
            c.say("select a tracked object first", "info", status=False)
            return
        frame = c.current_frame()
        first = c.new_id()
        daughters = [first, first + 1]
        session = c.session
        if frame == 0 or any(f >= frame for f in line.prompted):
            # checked here (on the last snapshot) so that a refusal is immediate and nothing changes
            u = c.place.unit
            c.say(
                f"object {parent} cannot divide on {u} {frame}: it needs {u}s before it and no "
                f"prompts from that {u} on",
                "error",
                status=False,
            )
            return

        def job(_):
            gone = [f for f in tracked_frames(session, parent) if f >= frame]
            session.mark_division(parent, frame, daughters)
            return [(f, session.label_frame(f)) for f in gone]

        c.set_parents({**c.parents, **{d: parent for d in daughters}})  # shades of the mother
        for d in daughters:
            c.names[d] = f"{c.names.get(parent, parent)}.{d - first + 1}"
            c.list_object(d)
        c.select_object(daughters[0])
        c.submit(job, on_return=c.labels.write, label=f"division of object {parent}", kind=PROMPT)
        c.say(
            f"object {parent} divides on {c.place.unit} {frame}: click daughter {daughters[0]}, "
            f"then select {daughters[1]} and click it; then Forward"
        )

    def suggest(self) -> None:
        c = self._c
        if c.session is None:
            return
        session = c.session

        def show(found):
            unit = c.place.unit
            self.found = {
                f"{unit} {d['frame']}: object {d['object_id']} ({', '.join(d['reasons'])})": d
                for d in found
            }
            c.suggestions_changed.emit()
            c.say(f"{len(found)} possible division(s) found" if found else "no divisions suggested")

        c.submit(
            lambda job: session.division_suggestions(),
            on_return=show,
            label="looking for divisions",
        )

    def dismiss(self, choice) -> None:
        if choice in self.found:
            del self.found[choice]
            self._c.suggestions_changed.emit()

    def go_to(self, choice) -> None:
        """Show the frame and select the object of the suggestion listed as ``choice``."""
        found = self.found.get(choice)
        if found is None:
            return
        self._c.go_to_frame(found["frame"])
        self._c.select_object(found["object_id"])
