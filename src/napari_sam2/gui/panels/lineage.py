"""The lineage panel: 'Divides here', and the suggested divisions (found, chosen, dismissed)."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, PushButton

from ..words import TOOLTIPS
from .common import Panel, row


class LineagePanel(Panel):
    """Divisions of ``controller``'s objects. ``divide``, ``suggest``, ``dismiss``: buttons;
    ``suggestions``: the suggested divisions (choosing one goes to its frame and object)."""

    def __init__(self, controller) -> None:
        super().__init__("Lineage")
        self._c = controller
        self.divide = PushButton(text="Divides here")
        self.suggest = PushButton(text="Suggest divisions")
        self.dismiss = PushButton(text="Dismiss suggestion")
        self.suggestions = ComboBox(label="suggested divisions", choices=[], nullable=True)
        for control, key in (
            (self.divide, "divide"),
            (self.suggest, "suggest"),
            (self.dismiss, "dismiss"),
            (self.suggestions, "suggestions"),
        ):
            control.tooltip = TOOLTIPS[key]
        self.put(
            row(self.divide, self.suggest, self.dismiss), Container(widgets=[self.suggestions])
        )

        self.divide.clicked.connect(controller.divide_here)
        self.suggest.clicked.connect(controller.suggest_divisions)
        self.dismiss.clicked.connect(
            lambda *_: controller.dismiss_suggestion(self.suggestions.value)
        )
        self.suggestions.changed.connect(
            lambda choice: choice is None or controller.go_to_suggestion(choice)
        )
        controller.suggestions_changed.connect(self._listed)

    def listed(self) -> list[str]:
        """The suggestions in the list (the empty choice aside)."""
        return [choice for choice in self.suggestions.choices if choice is not None]

    def _listed(self) -> None:
        self.suggestions.choices = self._c.divisions.listed()
