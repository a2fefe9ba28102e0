"""The tracking panel: Forward, Backward, Both directions and Cancel, the confidence strip of the
selected object, and the repairs (overwrite edited frames, recreate the labels layer)."""

from __future__ import annotations

import numpy as np
from magicgui.widgets import PushButton

from ..timeline import ConfidenceTimeline
from ..words import TOOLTIPS
from .common import Panel, row


class TrackingPanel(Panel):
    """Tracking of ``controller``'s session. ``forward``, ``backward``, ``both``, ``stop``,
    ``overwrite``, ``recreate``: buttons; ``strip``: the confidence strip of the selected object."""

    def __init__(self, controller) -> None:
        super().__init__("Tracking")
        self._c = controller
        self.forward, self.backward, self.both, self.stop = (
            PushButton(text=t) for t in ("Forward", "Backward", "Both directions", "Cancel")
        )
        self.previous = PushButton(text="\u25c0 Previous suspect")
        self.next = PushButton(text="Next suspect \u25b6")
        self.overwrite = PushButton(text="Overwrite edited frames", enabled=False)
        self.recreate = PushButton(text="Recreate labels layer", enabled=False)
        self.strip = ConfidenceTimeline()
        for control, key in (
            (self.forward, "forward"),
            (self.backward, "backward"),
            (self.both, "both"),
            (self.stop, "cancel"),
            (self.previous, "previous_suspect"),
            (self.next, "next_suspect"),
            (self.overwrite, "overwrite"),
            (self.recreate, "recreate"),
        ):
            control.tooltip = TOOLTIPS[key]
        self.put(
            row(self.forward, self.backward, self.both, self.stop),
            self.strip,
            row(self.previous, self.next),
            row(self.overwrite, self.recreate),
        )

        for button, action in (
            (self.forward, controller.propagate_forward),
            (self.backward, controller.propagate_backward),
            (self.both, controller.propagate_both),
            (self.stop, controller.cancel),
            (self.previous, controller.previous_suspect),
            (self.next, controller.next_suspect),
            (self.overwrite, controller.overwrite_edited_frames),
            (self.recreate, controller.recreate_labels),
        ):
            button.clicked.connect(action)
        self.strip.frameClicked.connect(controller.go_to_frame)
        for signal in (
            controller.timelines_changed,
            controller.selection_changed,
            controller.frame_changed,
            controller.suggestions_changed,
            controller.session_changed,
        ):
            signal.connect(self.refresh)
        controller.new_cells_changed.connect(self._new_cells_changed)
        controller.labels_changed.connect(self._labels_changed)
        controller.session_changed.connect(self._labels_changed)

    def refresh(self, *_) -> None:
        """Show the selected object's confidence per frame (empty without a session or a result)."""
        c = self._c
        obj = c.selected
        line = c.timelines.get(obj)
        self.strip.unit = c.place.unit
        if c.session is None or line is None or c.layer is None:
            self.strip.set_data(np.zeros(0), ())
            return
        self.strip.set_data(
            line.scores,
            line.prompted,
            c.current_frame(),
            c.divisions.marks(obj),
            lost=line.lost,
            hidden=line.hidden,
            suspects=line.suspects,
        )

    def _new_cells_changed(self) -> None:
        self.strip.set_new_cells(self._c.auto.marks())

    def _labels_changed(self) -> None:
        c = self._c
        self.overwrite.enabled = bool(c.edited_frames)
        self.overwrite.text = f"Overwrite edited {c.place.unit}s"
        self.recreate.enabled = c.can_recreate
