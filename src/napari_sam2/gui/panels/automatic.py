"""The automatic panel: 'Segment all' with its preview (Accept all, Discard), the automatic
segmentation's settings (made from AutoSettings by :mod:`..settings_form`), and new cells found
after tracking."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, PushButton, SpinBox

from ..settings_form import SettingsForm
from ..words import TOOLTIPS
from .common import Panel, fold, row

NEW_CELLS_ON = ("current frame", "every K frames")  # where 'Find new cells' looks


class AutomaticPanel(Panel):
    """Automatic starts for ``controller``'s session. ``segment_all``, ``accept_all``, ``discard``,
    ``find_new``, ``new_on``, ``new_every``, ``new_cells``, ``accept_new``, ``dismiss_new``:
    controls; ``form``: the automatic segmentation's settings; ``settings_toggle`` shows them."""

    def __init__(self, controller) -> None:
        super().__init__("Automatic segmentation")
        self._c = controller
        self.segment_all = PushButton(text="Segment all")
        self.accept_all = PushButton(text="Accept all", enabled=False)
        self.discard = PushButton(text="Discard", enabled=False)
        self.form = SettingsForm(controller, "auto")
        self.settings_toggle = fold(
            "Automatic segmentation settings", self.form.container.native, TOOLTIPS["auto_settings"]
        )
        self.find_new = PushButton(text="Find new cells")
        self.new_on = ComboBox(label="look on", choices=list(NEW_CELLS_ON), value=NEW_CELLS_ON[0])
        self.new_every = SpinBox(label="K", value=10, min=1, max=100000, enabled=False)
        self.new_cells = ComboBox(label="new cells", choices=[], nullable=True)
        self.accept_new, self.dismiss_new = (
            PushButton(text="Accept new cell"),
            PushButton(text="Dismiss new cell"),
        )
        for control, key in (
            (self.segment_all, "segment_all"),
            (self.accept_all, "accept_all"),
            (self.discard, "discard"),
            (self.find_new, "find_new"),
            (self.new_on, "new_on"),
            (self.new_every, "new_every"),
            (self.new_cells, "new_cells"),
            (self.accept_new, "accept_new"),
            (self.dismiss_new, "dismiss_new"),
        ):
            control.tooltip = TOOLTIPS[key]
        self.put(
            row(self.segment_all, self.accept_all, self.discard),
            self.settings_toggle,
            self.form.container,
            Container(widgets=[self.new_on, self.new_every]),
            self.find_new,
            Container(widgets=[self.new_cells]),
            row(self.accept_new, self.dismiss_new),
        )

        self.segment_all.clicked.connect(controller.segment_all)
        self.accept_all.clicked.connect(controller.accept_all)
        self.discard.clicked.connect(controller.discard_preview)
        self.find_new.clicked.connect(self._find_new)
        self.accept_new.clicked.connect(lambda *_: controller.accept_new_cell(self.new_cells.value))
        self.dismiss_new.clicked.connect(
            lambda *_: controller.dismiss_new_cell(self.new_cells.value)
        )
        self.new_cells.changed.connect(
            lambda choice: choice is None or controller.go_to_new_cell(choice)
        )
        self.new_on.changed.connect(
            lambda value: setattr(self.new_every, "enabled", value == NEW_CELLS_ON[1])
        )
        controller.preview_changed.connect(self._preview_changed)
        controller.new_cells_changed.connect(self._new_cells_changed)

    def _find_new(self) -> None:
        every = int(self.new_every.value) if self.new_on.value == NEW_CELLS_ON[1] else None
        self._c.find_new_cells(every)

    def _preview_changed(self) -> None:
        shown = self._c.auto.preview is not None
        self.accept_all.enabled = self.discard.enabled = shown

    def _new_cells_changed(self) -> None:
        self.new_cells.choices = self._c.auto.listed()
