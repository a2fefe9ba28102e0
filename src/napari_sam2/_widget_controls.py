"""The widget's controls: every setting and button, laid out in the dock with its tooltip, and the stack
and model settings they describe. No behaviour is connected here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, LineEdit, PushButton, SpinBox
from napari.utils.notifications import show_warning
from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import (QAction, QFrame, QGroupBox, QLayout, QMenu, QProgressBar, QScrollArea, QSizePolicy,
                            QToolButton, QVBoxLayout, QWidget)

from ._timeline import ConfidenceTimeline
from ._widget_objects import ObjectList
from ._widget_text import TOOLTIPS

EXPORTS = ("Labels TIFF", "Labels zarr", "Table CSV", "CTC folder", "GEFF", "TrackMate XML", "Tracks layer",
           "Save session", "Load session")
NEW_CELLS_ON = ("current frame", "every K frames")  # where 'Find new cells' looks


class _Scroll(QScrollArea):
    """A vertical scroll area that is never narrower than what it holds (no clipped rows), also when
    what it holds grows (longer button texts, the Advanced rows unfolded)."""

    def setWidget(self, widget) -> None:  # noqa: N802 (Qt name)
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()  # a layout request inside a scroll area does not reach the dock
        return super().eventFilter(obj, event)

    def minimumSizeHint(self):  # noqa: N802 (Qt name)
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            hint.setWidth(self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width())
        return hint


def _row(*widgets) -> Container:
    return Container(widgets=list(widgets), layout="horizontal", labels=False)


def _fold(text: str, body: Container) -> QToolButton:
    """A toggle named ``text`` that shows ``body`` (hidden until it is clicked); its arrow points right while
    folded, down while open."""
    fold = QToolButton()
    fold.setText(text)
    fold.setCheckable(True)
    fold.setArrowType(Qt.RightArrow)
    fold.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)

    def unfold(shown: bool) -> None:
        body.native.setVisible(shown)
        fold.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    fold.toggled.connect(unfold)
    body.native.setVisible(False)
    return fold


class Action(QAction):
    """A menu entry that reads like a button to code and tests: ``text`` and ``tooltip`` attributes."""

    @property
    def text(self) -> str:
        return QAction.text(self)

    @property
    def tooltip(self) -> str:
        return self.toolTip()

    @tooltip.setter
    def tooltip(self, value: str) -> None:
        self.setToolTip(value)

    label = None


class SettingError(ValueError):
    """A setting or image the widget cannot track with; the message is worded for the user."""


@dataclass
class Stack:
    """Where a session tracks in an image layer: the frames it reads (``view``), the tracked axis of the
    layer's data (``track_dim``), the other axes held at an index (``fixed``: axis -> index), and the
    intensity window (``limits``, None: 8-bit data as is)."""

    view: Any
    track_dim: int
    fixed: dict[int, int]
    limits: tuple[float, float] | None


class Controls:
    """The widget's controls, built with their tooltips; ``names`` is the object list's name record,
    ``image_layers`` gives the image choices and ``labels_layers`` those of 'Objects from labels'."""

    def __init__(self, image_layers: Callable, names: dict[int, str], labels_layers: Callable) -> None:
        from .model.configs import CONFIGS
        from .threads import available_cores, default_threads

        self.image = ComboBox(label="image", choices=image_layers)
        self.axis = ComboBox(label="axis", choices=["t", "z"], value="t")
        self.channel = ComboBox(label="channel", choices=["all", "0", "1", "2"], value="all")
        self.contrast = LineEdit(label="contrast", value="layer")
        self.model = ComboBox(label="model", choices=["auto", *CONFIGS], value="auto")
        self.checkpoint = LineEdit(label="checkpoint", value="auto")
        self.image_size = ComboBox(label="image size", choices=["model", 1024, 512, 256, 128, 64], value="model")
        self.device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self.precision = ComboBox(label="precision", choices=["fp32", "bf16"], value="fp32")
        self.memory = ComboBox(label="memory frames", choices=["all", 4, 2, 1], value="all")
        self.exclusive = CheckBox(text="exclusive pixels", value=False)
        self.window = ComboBox(label="window", choices=["whole frame", 1024, 512, 256], value="whole frame")
        try:
            threads = default_threads()
        except ValueError as exc:  # a bad NAPARI_SAM2_THREADS: say so, use the plain default
            show_warning(f"SAM 2: {exc}")
            threads = max(1, min(available_cores() - 1, 8))
        self.threads = SpinBox(label="threads", value=threads, min=1, max=max(available_cores(), threads))
        self.start = PushButton(text="Start session")
        self.close = PushButton(text="Close session", enabled=False)
        self.session_info = Label(value="No session open.")
        self.model_info = Label(value="")
        for label in (self.session_info, self.model_info):
            label.native.setWordWrap(True)
        self.recreate = PushButton(text="Recreate labels layer", enabled=False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")

        self.objects = ObjectList(names)
        self.add, self.delete, self.clear = (PushButton(text=t) for t in (
            "Add object", "Delete object", "Clear object's prompts"))
        self.negative = CheckBox(text="negative clicks", value=False)
        self.cands = [PushButton(text=f"option {i + 1}", enabled=False) for i in range(3)]
        self.cands_info = Label(value="Mask options for the last single click:")
        self.paint, self.use_paint = PushButton(text="Paint mask"), PushButton(text="Use painted mask")
        self.seed_layer = ComboBox(label="labels", choices=labels_layers)
        self.seed_frames = ComboBox(label="from", choices=["current frame", "every annotated frame"],
                                    value="current frame")
        self.seed = PushButton(text="Objects from labels")
        # automatic segmentation: a preview of every cell on the frame, and new cells after tracking
        self.segment_all = PushButton(text="Segment all")
        self.accept_all = PushButton(text="Accept all", enabled=False)
        self.discard = PushButton(text="Discard", enabled=False)
        self.points_per_side = SpinBox(label="points per side", value=32, min=1, max=128)
        self.auto_iou = FloatSpinBox(label="IoU threshold", value=0.8, min=0.0, max=1.0, step=0.05)
        self.auto_stability = FloatSpinBox(label="stability threshold", value=0.95, min=0.0, max=1.0, step=0.05)
        self.min_area = SpinBox(label="min area (px)", value=0, min=0, max=2**31 - 1)
        self.max_area = SpinBox(label="max area (px)", value=0, min=0, max=2**31 - 1)
        self.find_new = PushButton(text="Find new cells")
        self.new_on = ComboBox(label="look on", choices=list(NEW_CELLS_ON), value=NEW_CELLS_ON[0])
        self.new_every = SpinBox(label="K", value=10, min=1, max=100000, enabled=False)
        self.new_cells = ComboBox(label="new cells", choices=[], nullable=True)
        self.accept_new = PushButton(text="Accept new cell")
        self.dismiss_new = PushButton(text="Dismiss new cell")
        self.divide = PushButton(text="Divides here")
        self.suggest = PushButton(text="Suggest divisions")
        self.dismiss = PushButton(text="Dismiss suggestion")
        self.suggestions = ComboBox(label="suggested divisions", choices=[], nullable=True)

        self.forward, self.backward, self.both, self.stop = (
            PushButton(text=t) for t in ("Forward", "Backward", "Both directions", "Cancel"))
        self.status = Label(value="No session.")
        self.status.native.setWordWrap(True)  # long messages (warnings) wrap instead of widening the dock
        self.status.native.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.overwrite = PushButton(text="Overwrite edited frames", enabled=False)
        self.timeline = ConfidenceTimeline()
        self.export_menu = QMenu()
        self.export_menu.setToolTipsVisible(True)
        self.exports = {name: Action(name, self.export_menu) for name in EXPORTS}
        for action in self.exports.values():
            self.export_menu.addAction(action)
        self.export_button = QToolButton()
        self.export_button.setText("Export \u25be")
        self.export_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")  # the text has one
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setMenu(self.export_menu)
        self._tooltips()

    def _tooltips(self) -> None:
        for key in ("image", "axis", "channel", "contrast", "model", "checkpoint", "image_size", "device",
                    "precision", "exclusive", "window", "threads", "start", "add", "delete", "clear", "negative", "paint", "use_paint",
                    "seed_layer", "seed_frames", "seed", "segment_all", "accept_all", "discard", "points_per_side",
                    "auto_iou", "auto_stability", "min_area", "max_area", "find_new", "new_on", "new_every",
                    "new_cells", "accept_new", "dismiss_new",
                    "forward", "backward", "both", "divide", "suggest", "dismiss", "suggestions", "close",
                    "recreate"):
            getattr(self, key).tooltip = TOOLTIPS[key]
        for widget, key in ((self.memory, "memory_frames"), (self.stop, "cancel"),
                            (self.overwrite, "overwrite_edits"), *[(b, name) for name, b in self.exports.items()]):
            widget.tooltip = TOOLTIPS[key]
        for b in self.cands:
            b.tooltip = TOOLTIPS["candidates"]
        self.objects.setToolTip(TOOLTIPS["objects"])
        self.export_button.setToolTip(TOOLTIPS["export_menu"])
        self.progress.setToolTip(TOOLTIPS["progress"])

    def session_settings(self) -> list:
        """The settings a session is made with (fixed while it is open)."""
        return [self.image, self.axis, self.channel, self.contrast, self.model, self.checkpoint, self.image_size,
                self.device, self.precision, self.memory, self.exclusive, self.window]

    def lay_out(self, parent: QWidget) -> None:
        """Put the controls into ``parent``, top to bottom: Setup (image, axis, model; the rest folded under
        "Advanced"), Objects, Track, Divisions, Export."""
        advanced = Container(widgets=[self.channel, self.contrast, self.checkpoint, self.image_size, self.device,
                                      self.precision, self.memory, self.exclusive, self.window, self.threads])
        fold = _fold("Advanced", advanced)
        scroll = _Scroll()
        self.advanced, self.advanced_toggle = advanced, fold
        self.auto_settings = Container(widgets=[self.points_per_side, self.auto_iou, self.auto_stability,
                                                self.min_area, self.max_area])
        self.auto_settings_toggle = _fold("Automatic segmentation settings", self.auto_settings)
        self.auto_settings_toggle.setToolTip(TOOLTIPS["auto_settings"])
        self.objects.setMinimumHeight(180)  # about 10 objects before it scrolls
        # the groups scroll inside the dock: on a short screen the dock scrolls instead of squashing or
        # overlapping rows, or forcing the window taller than the screen
        content = QWidget()
        layout = QVBoxLayout(content)
        setup = Container(widgets=[self.image, self.axis, self.model])
        groups = (("Setup", [setup.native, fold, advanced.native, _row(self.start, self.close).native,
                             self.session_info.native, self.model_info.native]),
                  ("Objects", [self.objects, _row(self.add, self.delete, self.clear).native,
                               _row(self.negative, self.paint, self.use_paint).native,
                               Container(widgets=[self.seed_layer, self.seed_frames]).native, self.seed.native,
                               _row(self.segment_all, self.accept_all, self.discard).native,
                               self.auto_settings_toggle, self.auto_settings.native,
                               self.cands_info.native, _row(*self.cands).native]),
                  ("Track", [_row(self.forward, self.backward, self.both, self.stop).native, self.progress,
                             self.timeline, self.status.native, _row(self.overwrite, self.recreate).native,
                             Container(widgets=[self.new_on, self.new_every]).native, self.find_new.native,
                             Container(widgets=[self.new_cells]).native,  # shown with its label
                             _row(self.accept_new, self.dismiss_new).native]),
                  ("Divisions", [_row(self.divide, self.suggest, self.dismiss).native,
                                 Container(widgets=[self.suggestions]).native]),  # shown with its label
                  ("Export", [self.export_button]))
        self.groups = {}
        for title, parts in groups:
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.setSizeConstraint(QLayout.SetMinimumSize)  # wrapped labels must not squash the rows
            for part in parts:
                inner.addWidget(part)
            layout.addWidget(box)
            self.groups[title] = box
        layout.addStretch(1)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(parent)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def connect(self, widget) -> None:
        """Each control calls its action on ``widget`` (the SAM2Widget)."""
        w = widget
        for button, action in ((self.start, w.start_session), (self.close, w.close_session),
                               (self.recreate, w.recreate_labels), (self.add, w.add_object),
                               (self.delete, w.delete_object),
                               (self.clear, w.clear_object), (self.paint, w.add_paint_layer),
                               (self.use_paint, w.use_painted_mask), (self.forward, w.propagate_forward),
                               (self.backward, w.propagate_backward), (self.both, w.propagate_both),
                               (self.stop, w.cancel), (self.overwrite, w.overwrite_edited_frames),
                               (self.divide, w.divide_here), (self.suggest, w.suggest_divisions),
                               (self.dismiss, w.dismiss_suggestion), (self.seed, w.objects_from_labels),
                               (self.segment_all, w.segment_all), (self.accept_all, w.accept_all),
                               (self.discard, w.discard_preview), (self.find_new, w.find_new_cells),
                               (self.accept_new, w.accept_new_cell), (self.dismiss_new, w.dismiss_new_cell)):
            button.clicked.connect(action)
        self.negative.changed.connect(w._actions.update_defaults)
        self.suggestions.changed.connect(w._divisions.go_to)
        self.new_cells.changed.connect(w._auto.go_to)
        self.new_on.changed.connect(lambda value: setattr(self.new_every, "enabled", value == NEW_CELLS_ON[1]))
        for i, b in enumerate(self.cands):
            b.clicked.connect(lambda *_, i=i: w.choose_candidate(i))
        self.objects.currentItemChanged.connect(w._actions.update_defaults)
        self.objects.currentItemChanged.connect(w._tracking.refresh_timeline)
        self.timeline.frameClicked.connect(w.go_to_frame)
        actions = {"Labels TIFF": w.export_tiff, "Labels zarr": w.export_zarr, "Table CSV": w.export_table,
                   "CTC folder": w.export_ctc, "GEFF": w.export_geff, "TrackMate XML": w.export_trackmate,
                   "Tracks layer": w.add_tracks_layer,
                   "Save session": w.save_session, "Load session": w.load_session}
        for name, fn in actions.items():
            self.exports[name].triggered.connect(fn)  # a bound method: PySide holds it weakly
        self.image.changed.connect(w._flow.image_changed)

    # ------------------------------------------------------------------ what the settings say

    def stack(self, layer, step) -> Stack:
        """The frames of image ``layer`` to track, with the slider position ``step`` (one index per axis of
        the layer) holding the untracked axis of 4D data. Raises :class:`SettingError` for data that cannot
        be tracked or a contrast that cannot be read."""
        from .engine.stack import StackView

        data = layer.data[0] if layer.multiscale else layer.data
        ndim = layer.ndim
        if ndim < 3:
            raise SettingError(f"'{layer.name}' is a single 2D image; tracking needs a (T/Z, Y, X) stack")
        if ndim == 3:
            track_dim, fixed = 0, {}
        elif ndim == 4:
            track_dim = 1 if self.axis.value == "z" else 0
            fixed = {1 - track_dim: int(step[1 - track_dim])}
        else:
            raise SettingError(f"'{layer.name}' has {ndim} dimensions; expected 3 or 4 (plus RGB)")
        channel = None if self.channel.value == "all" or not layer.rgb else int(self.channel.value)
        view = StackView(data, axis=track_dim, channel_axis=ndim if layer.rgb else None, channel=channel,
                         fixed=fixed)
        text = self.contrast.value.strip().lower()
        if text in ("", "layer"):
            limits = tuple(float(v) for v in layer.contrast_limits)
            if np.dtype(layer.dtype) == np.uint8 and limits == (0.0, 255.0):
                limits = None  # 8-bit data as is, like the official predictor
        else:
            try:
                limits = tuple(float(v) for v in text.replace(";", ",").split(","))
                if len(limits) != 2 or not limits[0] < limits[1]:
                    raise ValueError
            except ValueError:
                raise SettingError(f"contrast must be 'layer' or 'low, high' with low < high, got {text!r}") from None
        return Stack(view, track_dim, fixed, limits)

    def auto_options(self) -> dict:
        """Keyword arguments of ``engine.auto.AutoSettings`` for the automatic segmentation settings (a max
        area of 0: no upper bound)."""
        return dict(points_per_side=int(self.points_per_side.value), pred_iou_thresh=float(self.auto_iou.value),
                    stability_score_thresh=float(self.auto_stability.value), min_area=int(self.min_area.value),
                    max_area=int(self.max_area.value) or None)

    def model_options(self) -> dict:
        """Keyword arguments of ``TrackingSession.from_name`` for the chosen model settings."""
        ckpt = self.checkpoint.value.strip()
        size, memory = self.image_size.value, self.memory.value
        return dict(name=self.model.value, image_size=None if size == "model" else int(size),
                    checkpoint=None if ckpt.lower() == "none" else (ckpt or "auto"),
                    precision=self.precision.value, memory_frames=None if memory == "all" else int(memory),
                    exclusive=bool(self.exclusive.value),
                    window=None if self.window.value == "whole frame" else int(self.window.value))
