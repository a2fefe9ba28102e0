"""What a run is, as types: the model, the stack, tracking, automatic segmentation, seeds and outputs.

Frozen dataclasses, each field validated here and only here. The command line parses into them
(:mod:`napari_sam2.cli.options` makes each field's flag), the widget's controls read and write them
(:mod:`napari_sam2.gui.settings_form` makes each field's control), the session file stores them, and
the engine takes them. Each field's :class:`Option` (its ``metadata``) says how it is shown: its flag,
its label, its help text, and the values it may take. So a new option is a field here, plus the
engine code that uses it; the flag and the control follow from the field.

No torch, napari or Qt is imported here.
"""

from .fields import Option, SettingError, Settings, opt, option_of, options
from .run import FinetuneSettings, OutputSettings, RunSettings, SeedSettings
from .tracking import (
    MICROSCOPY,
    AutoSettings,
    ModelSettings,
    StackSettings,
    SuspectSettings,
    TrackingSettings,
)

__all__ = [
    "MICROSCOPY",
    "AutoSettings",
    "FinetuneSettings",
    "ModelSettings",
    "Option",
    "OutputSettings",
    "RunSettings",
    "SeedSettings",
    "SettingError",
    "Settings",
    "StackSettings",
    "SuspectSettings",
    "TrackingSettings",
    "opt",
    "option_of",
    "options",
]
