"""The setup panel: the image, the axis and the model, everything else folded under "Advanced" (made
from the settings types by :mod:`..settings_form`), Start/New and Close session, and what the
session runs on."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, Label, LineEdit, PushButton
from qtpy.QtWidgets import QSizePolicy

from ..settings_form import SettingsForm
from ..words import TOOLTIPS
from .common import Panel, fold, row


def image_layers(viewer) -> list:
    """The viewer's image layers (the choices of the image)."""
    import napari

    return [layer for layer in viewer.layers if isinstance(layer, napari.layers.Image)]


class SetupPanel(Panel):
    """Setup of ``controller``'s next session. ``image``, ``contrast``, ``start_button``,
    ``close_button``: controls; ``forms``: the settings forms by section; ``control(name)``: a
    setting's control; ``advanced`` and ``advanced_toggle``: the folded settings and the toggle that
    shows them."""

    def __init__(self, controller) -> None:
        from ...model.configs import CONFIGS

        super().__init__("Setup")
        self._c = controller
        self.image = ComboBox(label="image", choices=lambda *_: image_layers(controller.viewer))
        self.image.tooltip = TOOLTIPS["image"]
        self.contrast = LineEdit(label="contrast", value="layer")
        self.contrast.tooltip = TOOLTIPS["contrast"]
        models = ["auto", *CONFIGS]
        self.forms = {
            "stack": SettingsForm(controller, "stack"),
            "model": SettingsForm(controller, "model", choices={"model": models}),
            "tracking": SettingsForm(controller, "tracking"),
        }
        main = Container(widgets=[self.image, self.control("axis"), self.control("model")])
        # everything else, a field added to a settings type included, under Advanced
        stack, model = self.forms["stack"].controls, self.forms["model"].controls
        self.advanced = Container(
            widgets=[
                *(c for name, c in stack.items() if name != "axis"),
                self.contrast,
                *(c for name, c in model.items() if name != "model"),
                *self.forms["tracking"].controls.values(),
            ]
        )
        self.advanced_toggle = fold("Advanced", self.advanced.native, TOOLTIPS["advanced"])
        self.start_button, self.close_button = (
            PushButton(text="Start session"),
            PushButton(text="Close session", enabled=False),
        )
        self.start_button.tooltip, self.close_button.tooltip = TOOLTIPS["start"], TOOLTIPS["close"]
        self.session_info, self.model_info = Label(value="No session open."), Label(value="")
        for label in (self.session_info, self.model_info):
            label.native.setWordWrap(True)
            label.native.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.put(
            main,
            self.advanced_toggle,
            self.advanced,
            row(self.start_button, self.close_button),
            self.session_info,
            self.model_info,
        )

        self.start_button.clicked.connect(controller.start_session)
        self.close_button.clicked.connect(lambda *_: controller.close_session())
        self.image.changed.connect(controller.choose_image)
        self.contrast.changed.connect(self._contrast_typed)
        self.contrast.native.editingFinished.connect(self._contrast_done)
        controller.layers_changed.connect(self.image.reset_choices)
        controller.session_changed.connect(self._session_changed)
        controller.settings_changed.connect(self._settings_changed)
        controller.choose_image(self.image.value)

    def control(self, name: str):
        """The control of setting ``name`` (a field of the model, stack or tracking settings)."""
        for form in self.forms.values():
            if name in form.controls:
                return form.controls[name]
        raise KeyError(name)

    def fixed_controls(self) -> list:
        """The controls of the settings a session is made with (fixed while it is open)."""
        return [
            self.image,
            self.contrast,
            *(
                c
                for form in self.forms.values()
                for n, c in form.controls.items()
                if n != "threads"
            ),
        ]

    @staticmethod
    def _limits(text: str) -> tuple | None:
        """The intensity window typed: None for 'layer', (low, high), or a ValueError."""
        text = text.strip().lower()
        if text in ("", "layer"):
            return None
        limits = tuple(float(v) for v in text.replace(";", ",").split(","))
        if len(limits) != 2 or not limits[0] < limits[1]:
            raise ValueError(text)
        return limits

    def _contrast_typed(self, text: str) -> None:
        try:
            limits = self._limits(text)
        except ValueError:
            return  # perhaps not typed to its end: said when the editing ends
        self._c.update("stack", contrast_limits=limits)

    def _contrast_done(self) -> None:
        try:
            self._limits(self.contrast.value)
        except ValueError:
            self._c.say(
                f"contrast must be 'layer' or 'low, high' with low < high, got "
                f"{self.contrast.value.strip()!r}",
                "warning",
            )
            self._show_contrast(force=True)

    def _show_contrast(self, force: bool = False) -> None:
        limits = self._c.settings.stack.contrast_limits
        try:
            same = self._limits(self.contrast.value) == limits
        except ValueError:
            same = False
        if force or not same:
            self.contrast.value = "layer" if limits is None else f"{limits[0]:g}, {limits[1]:g}"

    def _settings_changed(self, section: str) -> None:
        if section == "stack":
            self._show_contrast()

    def _session_changed(self) -> None:
        c = self._c
        open_ = c.session is not None
        for control in self.fixed_controls():
            control.enabled = not open_
        self.close_button.enabled = open_
        self.start_button.text = "New session..." if open_ else "Start session"
        self.session_info.value = c.session_info
        self.model_info.value = c.model_info
