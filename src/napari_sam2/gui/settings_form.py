"""Controls made from the settings types: one per field whose :class:`~napari_sam2.settings.Option`
has ``widget`` set, labelled, ranged and explained by that Option, so a new field of a settings type
shows up as a control without editing any panel.

Which control: the Option's ``words`` or ``choices`` (or choices the panel gives for a field whose
values are known only at run time, such as the model names): a combo box; bool: a check box; int and
float: spin boxes over the Option's range (a field that may be None gets the value just below its
range for None, said in the tooltip); text: a line edit ("none" for None where the field allows it).
The tooltip is the Option's help in the widget's words (:func:`.words.widget_words`), with the
widget's own notes.

A control never holds a value the settings refuse: each edit goes to
:meth:`~napari_sam2.gui.controller.Controller.update`, and the form shows the controller's settings
again after every change (a refused edit springs back, the reason on the status line).
"""

from __future__ import annotations

import re

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox

from ..settings import Option, options
from .words import SETTING_NOTES, widget_words

BIG = 2**31 - 1
DEFAULT_NOTE = re.compile(r"\s*\(default[^)]*\)")


def tooltip(name: str, o: Option, default) -> str:
    """The tooltip of setting ``name``: its help in the widget's words, the value that means None,
    and the widget's note."""
    text = DEFAULT_NOTE.sub("", widget_words(o.help))  # the control shows the value itself
    text = text[0].upper() + text[1:]
    if default is None and o.words is None and o.kind in (int, float) and o.low is not None:
        text += f". {_none_value(o)}: {o.none}"
    note = SETTING_NOTES.get(name)
    return f"{text}. {note}" if note else text + "."


def _none_value(o: Option):
    return o.kind(o.low) - 1


def _control(name: str, o: Option, default, choices):
    nullable = default is None
    if choices is not None or o.words is not None or o.choices is not None:
        items = (
            choices
            if choices is not None
            else (
                [(str(text), value) for text, value in o.words]
                if o.words is not None
                else list(o.choices)
            )
        )
        return ComboBox(label=o.label, choices=items)
    if o.kind is bool:
        return CheckBox(text=o.label)
    if o.kind in (int, float):
        low = o.low if o.low is not None else (o.above if o.above is not None else 0)
        low = _none_value(o) if nullable else low
        cls = SpinBox if o.kind is int else FloatSpinBox
        extra = {} if o.kind is int else {"step": 0.05}
        return cls(label=o.label, min=low, max=o.high if o.high is not None else BIG, **extra)
    return LineEdit(label=o.label)


class SettingsForm:
    """The controls of section ``section`` ("model", "stack", "tracking", "auto") of
    ``controller``'s settings, in the order of the fields; ``only``: just these fields, ``skip``:
    all but these; ``choices``: field -> the values a combo box lists (for fields without ``words``
    or ``choices``).

    ``controls`` maps each field name to its magicgui control; ``container`` holds them,
    labelled."""

    def __init__(
        self, controller, section: str, only=None, skip=(), choices: dict | None = None
    ) -> None:
        self._c, self.section = controller, section
        self._showing = False
        current = getattr(controller.settings, section)
        self.controls = {}
        self._options = {}
        for name, o, default in options(current):
            if not o.widget or (only is not None and name not in only) or name in skip:
                continue
            control = _control(name, o, default, (choices or {}).get(name))
            control.tooltip = tooltip(name, o, default)
            if isinstance(control, ComboBox):
                # magicgui's `changed` is silent for a None value, and None is a choice here ("whole
                # frame", "all", "model"): listen to the Qt box itself, which reports every choice
                control.native.currentIndexChanged.connect(
                    lambda _index, name=name, box=control: self._edited(name, box.value)
                )
            else:
                control.changed.connect(lambda value, name=name: self._edited(name, value))
            self.controls[name] = control
            self._options[name] = (o, default)
        self.container = Container(widgets=list(self.controls.values()))
        controller.settings_changed.connect(self._settings_changed)
        self.show()

    def __getitem__(self, name: str):
        return self.controls[name]

    def set_enabled(self, enabled: bool, names=None) -> None:
        for name, control in self.controls.items():
            if names is None or name in names:
                control.enabled = enabled

    def show(self) -> None:
        """Show the controller's settings in the controls."""
        current = getattr(self._c.settings, self.section)
        self._showing = True
        try:
            for name, control in self.controls.items():
                value = self._shown(name, getattr(current, name))
                if control.value != value:
                    control.value = value
        finally:
            self._showing = False

    def _shown(self, name: str, value):
        o, default = self._options[name]
        if value is None and isinstance(self.controls[name], (SpinBox, FloatSpinBox)):
            return _none_value(o)
        if isinstance(self.controls[name], LineEdit):
            return "none" if value is None else str(value)
        return value

    def _read(self, name: str, value):
        o, default = self._options[name]
        control = self.controls[name]
        if (
            isinstance(control, (SpinBox, FloatSpinBox))
            and default is None
            and value == _none_value(o)
        ):
            return None
        if isinstance(control, LineEdit):
            text = str(value).strip()
            if not text:
                return default
            return None if o.none is not None and text.lower() == "none" else text
        return value

    def _settings_changed(self, section: str) -> None:
        if section == self.section:
            self.show()

    def _edited(self, name: str, value) -> None:
        if not self._showing:
            self._c.update(self.section, **{name: self._read(name, value)})
