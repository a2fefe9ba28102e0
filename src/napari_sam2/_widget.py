"""The SAM 2 dock widget: prompts from napari layers, live masks, propagation in the background.

All model work runs in napari ``thread_worker`` jobs, one at a time; layers are changed
only in the handlers on the main thread. The widget talks to the engine with numpy arrays.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, LineEdit, PushButton
from napari.qt.threading import create_worker
from napari.utils import progress as napari_progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import QFileDialog, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ._timeline import ConfidenceTimeline

CLICKS, BOXES, OUTPUT, PAINT = "SAM2 clicks", "SAM2 boxes", "SAM2 labels", "SAM2 paint"
POSITIVE, NEGATIVE = (0.2, 0.9, 0.2, 1.0), (0.95, 0.2, 0.2, 1.0)

SHORTCUTS = {
    "Shift-N": ("add_object", "new object"),
    "Shift-X": ("toggle_negative", "toggle negative clicks"),
    "Shift-F": ("propagate_forward", "propagate forward"),
    "Shift-B": ("propagate_backward", "propagate backward"),
    "Shift-P": ("propagate_both", "propagate both ways"),
    "Shift-C": ("cancel", "cancel the running job"),
    "Shift-D": ("divide_here", "the selected object divides on the current frame"),
}

TOOLTIPS = {
    "image": "The image layer to segment: (T, Y, X), (Z, Y, X), RGB stacks, or (T, Z, Y, X).",
    "axis": "Track along time (t) or through a volume (z). For (T, Z, Y, X) data the other axis stays "
            "at the slider's current position.",
    "channel": "For RGB layers: 'all' uses the colour image, 0/1/2 one channel of it. (napari opens "
               "multi-channel data as one layer per channel: pick that layer above.)",
    "contrast": "Intensity window mapped to the model's input: 'layer' uses the layer's contrast limits "
                "(one window for all frames), or type 'low, high'.",
    "model": "SAM 2 / SAM 2.1 model size: tiny is fastest, large most accurate. 'auto': the model of the "
             "checkpoint file, else sam2.1 tiny if its weights are here, else the bundled demo model "
             "(small, trained on synthetic cells only: not SAM 2 quality).",
    "checkpoint": "'auto' finds or downloads the official weights; or a path to a .pt file; "
                  "'none' = random weights (testing only).",
    "image_size": "Model input size. 'model' uses the size it was trained at (1024 for official models, "
                  "256 for the demo); smaller is faster and coarser.",
    "device": "Where the model runs: auto picks CUDA, then Apple MPS, then CPU.",
    "precision": "fp32 gives the official numbers. bf16 is a fast mode for GPUs and CPUs with native "
                 "bfloat16 (AVX512-BF16/AMX); masks differ slightly (docs/benchmarks.md).",
    "memory_frames": "Recent frames each object remembers. 'all' (6) gives the official numbers; fewer "
                     "is a fast mode that tracks faster with slightly different masks (docs/benchmarks.md).",
    "start": "Load the model and create the prompt and output layers.",
    "objects": "Objects to track. Double-click to rename; the colour is the object's label colour.",
    "add": "New object (Shift-N). Clicks go to the selected object.",
    "delete": "Delete the selected object, its prompts and its labels.",
    "clear": "Remove all prompts and results of the selected object (it stays in the list).",
    "negative": "Clicks on 'SAM2 clicks' add negative points (Shift-X toggles; right-click always "
                "adds a negative point). Positive points are green, negative red.",
    "candidates": "SAM 2 offers three masks for a single click: pick the one you meant.",
    "paint": "Add a 'SAM2 paint' layer; paint the object with its label, then 'Use painted mask'.",
    "use_paint": "Use the painted masks as prompts on the current frame.",
    "divide": "The selected object divides on the current frame (Shift-D): its track ends on the previous "
              "frame and two daughter objects are added; click each daughter on this frame, then Forward.",
    "suggest": "List frames where an object's mask splits in two, its area halves or its score collapses.",
    "suggestions": "Suggested divisions (also marked in yellow on the confidence strip): choose one to go "
                   "there; confirm with 'Divides here' or 'Dismiss' it.",
    "forward": "Track from the prompted frames towards the end (Shift-F).",
    "backward": "Track from the prompted frames towards the start (Shift-B).",
    "both": "Track both ways, e.g. through a volume from the prompted slice (Shift-P).",
    "cancel": "Stop after the current frame; frames done so far are kept (Shift-C).",
    "overwrite_edits": "Frames you painted on in 'SAM2 labels' are never overwritten; this replaces them "
                       "with the tracking result.",
    "timeline": "Confidence of the selected object per frame; click to jump to a frame.",
}


def _label_colormap(colors: dict[int, tuple]):
    """A napari colormap that maps each track id to its label colour (ids normalised to [0, 1])."""
    from napari.utils.colormaps import Colormap

    ids = sorted(colors)
    if len(ids) == 1:
        return Colormap(colors=[colors[ids[0]], colors[ids[0]]], controls=[0.0, 1.0], name="sam2 labels")
    lo, hi = ids[0], ids[-1]
    controls = [0.0] + [((a + b) / 2 - lo) / (hi - lo) for a, b in zip(ids[:-1], ids[1:])] + [1.0]
    return Colormap(colors=[colors[i] for i in ids], controls=controls, interpolation="zero", name="sam2 labels")


def _digest(a: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


class SAM2Widget(QWidget):
    """Prompt, track and correct objects in a napari image layer with SAM 2."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer") -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = None
        self.names: dict[int, str] = {}
        self.edited_frames: set[int] = set()
        self.last_report = None
        self._known: dict = {}
        self._written: dict[int, bytes] = {}
        self._queue: list = []
        self._busy = False
        self._cancel = False
        self._syncing = False
        self._pbar = None
        self._candidates = None
        self._layer = None
        self._track_dim = 0
        self._fixed: dict[int, int] = {}

        from .model.configs import CONFIGS

        self._image = ComboBox(label="image", choices=self._image_layers)
        self._axis = ComboBox(label="axis", choices=["t", "z"], value="t")
        self._channel = ComboBox(label="channel", choices=["all", "0", "1", "2"], value="all")
        self._contrast = LineEdit(label="contrast", value="layer")
        self._model = ComboBox(label="model", choices=["auto", *CONFIGS], value="auto")
        self._checkpoint = LineEdit(label="checkpoint", value="auto")
        self._image_size = ComboBox(label="image size", choices=["model", 1024, 512, 256, 128, 64], value="model")
        self._device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self._precision = ComboBox(label="precision", choices=["fp32", "bf16"], value="fp32")
        self._memory = ComboBox(label="memory frames", choices=["all", 4, 2, 1], value="all")
        self._start = PushButton(text="Start session")
        settings = Container(widgets=[self._image, self._axis, self._channel, self._contrast, self._model, self._checkpoint, self._image_size,
                                      self._device, self._precision, self._memory, self._start])

        self._objects = QListWidget()
        self._add, self._delete, self._clear = (PushButton(text=t) for t in ("Add object", "Delete", "Clear"))
        self._negative = CheckBox(text="negative clicks", value=False)
        self._cands = [PushButton(text=f"option {i + 1}", enabled=False) for i in range(3)]
        self._paint, self._use_paint = PushButton(text="Paint mask"), PushButton(text="Use painted mask")
        self._divide = PushButton(text="Divides here")
        self._suggest = PushButton(text="Suggest divisions")
        self._dismiss = PushButton(text="Dismiss")
        self._suggestions = ComboBox(label="suggested", choices=[], nullable=True)
        object_buttons = Container(widgets=[self._add, self._delete, self._clear], layout="horizontal", labels=False)
        cand_row = Container(widgets=self._cands, layout="horizontal", labels=False)
        division_row = Container(widgets=[self._divide, self._suggest, self._dismiss], layout="horizontal",
                                 labels=False)
        paint_row = Container(widgets=[self._negative, self._paint, self._use_paint], layout="horizontal",
                              labels=False)

        self._forward, self._backward, self._both, self._stop = (
            PushButton(text=t) for t in ("Forward", "Backward", "Both", "Cancel"))
        run_row = Container(widgets=[self._forward, self._backward, self._both, self._stop], layout="horizontal",
                            labels=False)
        self._status = Label(value="No session.")
        self._overwrite = PushButton(text="Overwrite edited frames", enabled=False)
        self._timeline = ConfidenceTimeline()

        self._exports = {name: PushButton(text=name) for name in
                         ("Labels TIFF", "Labels zarr", "Table CSV", "CTC folder", "GEFF", "Tracks layer",
                          "Save session", "Load session")}
        export_rows = [Container(widgets=list(self._exports.values())[i:i + 4], layout="horizontal", labels=False)
                       for i in (0, 4, 8)]

        self.setMaximumWidth(480)
        layout = QVBoxLayout(self)
        for part in (settings.native, self._objects, object_buttons.native, paint_row.native, cand_row.native,
                     division_row.native, self._suggestions.native, run_row.native, self._timeline, self._status.native, self._overwrite.native,
                     *[r.native for r in export_rows]):
            layout.addWidget(part)

        for widget, key in ((self._image, "image"), (self._axis, "axis"), (self._channel, "channel"),
                            (self._contrast, "contrast"), (self._model, "model"),
                            (self._checkpoint, "checkpoint"), (self._image_size, "image_size"),
                            (self._device, "device"), (self._precision, "precision"), (self._memory, "memory_frames"),
                            (self._start, "start"), (self._add, "add"),
                            (self._delete, "delete"), (self._clear, "clear"), (self._negative, "negative"),
                            (self._paint, "paint"), (self._use_paint, "use_paint"), (self._forward, "forward"),
                            (self._backward, "backward"), (self._both, "both"), (self._stop, "cancel"),
                            (self._overwrite, "overwrite_edits"), (self._divide, "divide"),
                            (self._suggest, "suggest"), (self._suggestions, "suggestions")):
            widget.tooltip = TOOLTIPS[key]
        for b in self._cands:
            b.tooltip = TOOLTIPS["candidates"]
        self._objects.setToolTip(TOOLTIPS["objects"])

        self._start.clicked.connect(self.start_session)
        self._add.clicked.connect(self.add_object)
        self._delete.clicked.connect(self.delete_object)
        self._clear.clicked.connect(self.clear_object)
        self._negative.changed.connect(lambda v: self._update_click_defaults())
        self._paint.clicked.connect(self.add_paint_layer)
        self._use_paint.clicked.connect(self.use_painted_mask)
        self._forward.clicked.connect(self.propagate_forward)
        self._backward.clicked.connect(self.propagate_backward)
        self._both.clicked.connect(self.propagate_both)
        self._stop.clicked.connect(self.cancel)
        self._overwrite.clicked.connect(self.overwrite_edited_frames)
        self._divide.clicked.connect(self.divide_here)
        self._suggest.clicked.connect(self.suggest_divisions)
        self._suggestions.changed.connect(self._go_to_suggestion)
        self._dismiss.clicked.connect(self.dismiss_suggestion)
        for i, b in enumerate(self._cands):
            b.clicked.connect(lambda *_, i=i: self.choose_candidate(i))
        self._objects.currentItemChanged.connect(lambda *_: self._object_selected())
        self._objects.itemChanged.connect(self._renamed)
        self._timeline.frameClicked.connect(self.go_to_frame)
        actions = {"Labels TIFF": self.export_tiff, "Labels zarr": self.export_zarr, "Table CSV": self.export_table,
                   "CTC folder": self.export_ctc, "GEFF": self.export_geff, "Tracks layer": self.add_tracks_layer,
                   "Save session": self.save_session, "Load session": self.load_session}
        for name, fn in actions.items():
            self._exports[name].clicked.connect(fn)
        self.viewer.layers.events.inserted.connect(self._image.reset_choices)
        self.viewer.layers.events.removed.connect(self._layer_removed)
        self.viewer.dims.events.current_step.connect(lambda e: self._refresh_timeline())
        for key, (method, _) in SHORTCUTS.items():
            self.viewer.bind_key(key, lambda v, m=method: getattr(self, m)(), overwrite=True)

    # ------------------------------------------------------------------ helpers

    def _image_layers(self, *_):
        return [layer for layer in self.viewer.layers if isinstance(layer, napari.layers.Image)]

    @property
    def busy(self) -> bool:
        return self._busy or bool(self._queue)

    @property
    def current_object(self) -> int | None:
        item = self._objects.currentItem()
        return None if item is None else int(item.data(Qt.UserRole))

    def _layer_or_none(self, name):
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _current_frame(self) -> int:
        offset = self.viewer.dims.ndim - self._layer.ndim
        return int(self.viewer.dims.current_step[offset + self._track_dim])

    def go_to_frame(self, frame: int) -> None:
        """Move the viewer to ``frame`` of the tracked axis."""
        offset = self.viewer.dims.ndim - self._layer.ndim
        self.viewer.dims.set_current_step(offset + self._track_dim, int(frame))

    def _set_status(self, text: str) -> None:
        self._status.value = text

    def _run(self, func, *, on_return=None, on_yield=None, label="working") -> None:
        """Queue ``func`` to run in a worker thread after any running job."""
        self._queue.append((func, on_return, on_yield, label))
        if not self._busy:
            self._next_job()

    def _next_job(self) -> None:
        if not self._queue:
            self._busy = False
            return
        func, on_return, on_yield, label = self._queue.pop(0)
        self._running = label
        self._busy = True
        self._cancel = False
        self._set_status(f"{label}...")
        worker = create_worker(func)
        if on_return is not None:
            worker.returned.connect(on_return)
        if on_yield is not None:
            worker.yielded.connect(on_yield)
        worker.errored.connect(self._job_failed)
        worker.finished.connect(self._job_finished)
        worker.start()

    def _job_failed(self, exc) -> None:
        show_error(f"SAM 2: {exc}")
        self._set_status(f"error: {exc}")

    def _job_finished(self) -> None:
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self._busy = False
        self._refresh_timeline()
        if "SAM2 tracks" in self.viewer.layers and not self._queue:
            self.add_tracks_layer()  # keep the lineage in step with the labels
        self._next_job()

    # ------------------------------------------------------------------ session

    def start_session(self) -> None:
        """Create the engine session for the chosen image layer (model loading runs in the background)."""
        layer = self._image.value
        if layer is None:
            show_error("SAM 2: choose an image layer first")
            return
        from .engine.stack import StackView

        data = layer.data[0] if layer.multiscale else layer.data
        ndim = layer.ndim
        if ndim < 3:
            show_error(f"SAM 2: '{layer.name}' is a single 2D image; tracking needs a (T/Z, Y, X) stack")
            return
        axis = self._axis.value
        step = self.viewer.dims.current_step[self.viewer.dims.ndim - ndim:]
        if ndim == 3:
            track_dim, fixed = 0, {}
        elif ndim == 4:
            track_dim = 1 if axis == "z" else 0
            fixed = {1 - track_dim: int(step[1 - track_dim])}
        else:
            show_error(f"SAM 2: '{layer.name}' has {ndim} dimensions; expected 3 or 4 (plus RGB)")
            return
        channel = None if self._channel.value == "all" or not layer.rgb else int(self._channel.value)
        view = StackView(data, axis=track_dim, channel_axis=ndim if layer.rgb else None, channel=channel,
                         fixed=fixed)
        text = self._contrast.value.strip().lower()
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
                show_error(f"SAM 2: contrast must be 'layer' or 'low, high' with low < high, got {text!r}")
                return
        ckpt = self._checkpoint.value.strip()
        size = self._image_size.value
        memory = self._memory.value
        options = dict(name=self._model.value, image_size=None if size == "model" else int(size),
                       checkpoint=None if ckpt.lower() == "none" else (ckpt or "auto"),
                       precision=self._precision.value, memory_frames=None if memory == "all" else int(memory))
        if options["checkpoint"] is None:
            show_warning("SAM 2: random weights (checkpoint 'none'): masks are meaningless")
        from .engine.batch import pick_device
        from .engine.session import check_precision

        try:  # a device or fast mode this machine cannot run is refused here, with the reason
            device = pick_device(self._device.value)
            check_precision(options["precision"], device)
        except ValueError as exc:
            show_error(f"SAM 2: {exc}")
            self._set_status(f"error: {exc}")
            return

        def build():
            from .engine.session import TrackingSession

            return TrackingSession.from_name(view, device=device, contrast_limits=limits, **options)

        self._layer, self._track_dim, self._fixed = layer, track_dim, fixed
        self._run(build, on_return=self._session_ready, label="loading model")

    def _session_ready(self, session) -> None:
        self.session = session
        self._known, self._written, self.edited_frames = {}, {}, set()
        layer = self._layer
        for name in (CLICKS, BOXES, OUTPUT, PAINT):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        n, h, w = session.shape
        dtype = np.uint16
        out = self.viewer.add_labels(np.zeros((n, h, w), dtype), name=OUTPUT, opacity=0.5)
        self._output = out
        self._zeros_digest = _digest(np.zeros((h, w), dtype))
        boxes = self.viewer.add_shapes(ndim=layer.ndim, name=BOXES, edge_width=2, face_color=[0, 0, 0, 0],
                                       features={"obj_id": np.zeros(0, int)}, scale=layer.scale[-layer.ndim:],
                                       translate=layer.translate[-layer.ndim:])
        clicks = self.viewer.add_points(ndim=layer.ndim, name=CLICKS, size=max(4, min(h, w) // 60),
                                        features={"obj_id": np.zeros(0, int), "positive": np.zeros(0, bool)},
                                        scale=layer.scale[-layer.ndim:], translate=layer.translate[-layer.ndim:])
        out.scale, out.translate = layer.scale[-3:], layer.translate[-3:]
        self._clicks, self._boxes = clicks, boxes
        clicks.events.data.connect(self._prompts_changed)
        boxes.events.data.connect(self._prompts_changed)
        clicks.mouse_drag_callbacks.append(self._right_click)
        if self._objects.count() == 0:
            self.add_object()
        else:
            self._update_click_defaults()
        clicks.mode = "add"
        self.viewer.layers.selection.active = clicks
        from .model.configs import DEMO
        from .weights import DEMO_NOTICE

        self._set_status(f"Session ready: {n} frames of {h}x{w}, model {session.model.cfg.name} "
                         f"at {session.model.image_size} px. Click on '{CLICKS}' to prompt.")
        if session.model.cfg.name == DEMO:
            show_warning(f"SAM 2: using {DEMO_NOTICE}")

    def _layer_removed(self, event) -> None:
        self._image.reset_choices()
        if self.session is not None and event.value is self._layer:
            self.cancel()
            self.session = None
            self._set_status("The image layer was removed: session closed (labels layer kept).")

    # ------------------------------------------------------------------ objects

    def _listed_ids(self) -> list[int]:
        return [int(self._objects.item(i).data(Qt.UserRole)) for i in range(self._objects.count())]

    def _ensure_listed(self, obj: int) -> QListWidgetItem:
        """The list entry of ``obj``, created (with a default name and its colour) if missing."""
        for i in range(self._objects.count()):
            if int(self._objects.item(i).data(Qt.UserRole)) == obj:
                return self._objects.item(i)
        self.names.setdefault(obj, f"object {obj}")
        item = QListWidgetItem(f"{obj}: {self.names[obj]}")
        item.setData(Qt.UserRole, obj)
        item.setFlags(item.flags() | Qt.ItemIsEditable)
        self._color_item(item, obj)
        self._objects.addItem(item)
        return item

    def add_object(self) -> None:
        """A new object with the next free id; it becomes the selected object."""
        self._objects.setCurrentItem(self._ensure_listed(max(self._listed_ids(), default=0) + 1))

    def _color_item(self, item, obj_id) -> None:
        if getattr(self, "_output", None) is None:
            return
        rgba = np.asarray(self._output.get_color(obj_id)) * 255
        pix = QPixmap(12, 12)
        pix.fill(QColor(*[int(v) for v in rgba]))
        item.setIcon(QIcon(pix))

    def _renamed(self, item) -> None:
        obj = int(item.data(Qt.UserRole))
        text = item.text().split(":", 1)[-1].strip()
        self.names[obj] = text or f"object {obj}"

    def _object_selected(self) -> None:
        self._update_click_defaults()
        self._refresh_timeline()

    def toggle_negative(self) -> None:
        self._negative.value = not self._negative.value

    def _update_click_defaults(self) -> None:
        obj = self.current_object
        clicks = self._layer_or_none(CLICKS)
        if obj is None or clicks is None:
            return
        for i in range(self._objects.count()):
            self._color_item(self._objects.item(i), int(self._objects.item(i).data(Qt.UserRole)))
        positive = not self._negative.value
        clicks.feature_defaults = {"obj_id": obj, "positive": positive}
        clicks.current_face_color = POSITIVE if positive else NEGATIVE
        clicks.current_border_color = tuple(self._output.get_color(obj))
        self._boxes.feature_defaults = {"obj_id": obj}
        self._boxes.current_edge_color = tuple(self._output.get_color(obj))

    def _remove_prompts_of(self, obj: int) -> None:
        self._syncing = True
        try:
            for layer in (self._clicks, self._boxes):
                ids = np.asarray(layer.features["obj_id"]) if len(layer.features) else np.zeros(0, int)
                drop = np.nonzero(ids == obj)[0]
                if len(drop):
                    layer.selected_data = set(int(i) for i in drop)
                    layer.remove_selected()
        finally:
            self._syncing = False
        self._known = {k: v for k, v in self._known.items() if k[0] != obj}

    def _forget_object(self, obj: int) -> None:
        frames = sorted(self.session.objects[obj].results) if obj in self.session.objects else []

        def job():
            if obj in self.session.objects:
                self.session.remove_object(obj)
            return [(f, self.session.label_frame(f)) for f in frames]

        self._run(job, on_return=self._write_frames, label=f"removing object {obj}")

    def delete_object(self) -> None:
        """Delete the selected object with its prompts and labels."""
        obj = self.current_object
        if obj is None:
            return
        self._objects.takeItem(self._objects.currentRow())
        self.names.pop(obj, None)
        if self.session is not None:
            self._remove_prompts_of(obj)
            self._forget_object(obj)

    def clear_object(self) -> None:
        """Remove the selected object's prompts and results, keeping it in the list."""
        obj = self.current_object
        if obj is not None and self.session is not None:
            self._remove_prompts_of(obj)
            self._forget_object(obj)

    # ------------------------------------------------------------------ prompts

    def _right_click(self, layer, event):
        if event.button == 2 and layer.mode == "add" and self.current_object is not None:
            coord = np.asarray(layer.world_to_data(event.position))
            defaults = dict(layer.feature_defaults.iloc[0]) if hasattr(layer.feature_defaults, "iloc") else {}
            layer.feature_defaults = {**defaults, "obj_id": self.current_object, "positive": False}
            layer.current_face_color = NEGATIVE
            layer.add(coord)
            self._update_click_defaults()

    def add_click(self, frame: int, y: float, x: float, positive: bool = True, obj: int | None = None) -> None:
        """Add a click as if made in the viewer (data coordinates of the image layer)."""
        obj = self.current_object if obj is None else obj
        coord = np.zeros(self._layer.ndim)
        for dim, idx in self._fixed.items():
            coord[dim] = idx
        coord[self._track_dim], coord[-2], coord[-1] = frame, y, x
        self._clicks.feature_defaults = {"obj_id": obj, "positive": positive}
        self._clicks.current_face_color = POSITIVE if positive else NEGATIVE
        self._clicks.add(coord)
        self._update_click_defaults()

    def add_box(self, frame: int, y0: float, x0: float, y1: float, x1: float, obj: int | None = None) -> None:
        """Add a box prompt on ``frame`` (pixel corners)."""
        obj = self.current_object if obj is None else obj
        corners = np.zeros((4, self._layer.ndim))
        for dim, idx in self._fixed.items():
            corners[:, dim] = idx
        corners[:, self._track_dim] = frame
        corners[:, -2:] = [[y0, x0], [y0, x1], [y1, x1], [y1, x0]]
        self._boxes.feature_defaults = {"obj_id": obj}
        self._boxes.add_rectangles(corners)

    def _frame_of(self, coord) -> int | None:
        for dim, idx in self._fixed.items():
            if int(round(coord[dim])) != idx:
                return None
        f = int(round(coord[self._track_dim]))
        return f if 0 <= f < self.session.num_frames else None

    def _collect_prompts(self) -> dict:
        prompts: dict = {}
        pts, feats = self._clicks.data, self._clicks.features
        for i in range(len(pts)):
            f = self._frame_of(pts[i])
            if f is None:
                continue
            key = (int(feats["obj_id"].iloc[i]), f)
            entry = prompts.setdefault(key, {"points": [], "labels": [], "box": None})
            entry["points"].append([float(pts[i][-1]), float(pts[i][-2])])
            entry["labels"].append(1 if bool(feats["positive"].iloc[i]) else 0)
        bfeats = self._boxes.features
        for i, verts in enumerate(self._boxes.data):
            f = self._frame_of(verts[0])
            if f is None:
                continue
            key = (int(bfeats["obj_id"].iloc[i]), f)
            entry = prompts.setdefault(key, {"points": [], "labels": [], "box": None})
            (y0, x0), (y1, x1) = verts[:, -2:].min(0), verts[:, -2:].max(0)
            entry["box"] = [float(x0), float(y0), float(x1), float(y1)]
        return prompts

    def _prompts_changed(self, event=None) -> None:
        action = getattr(event, "action", None)
        if self._syncing or self.session is None or action not in (None, "added", "removed", "changed"):
            return
        if self._clicks.data.shape[0]:
            colors = np.array([POSITIVE if p else NEGATIVE for p in self._clicks.features["positive"]])
            if not np.array_equal(np.asarray(self._clicks.face_color), colors):
                self._clicks.face_color = colors
        new = self._collect_prompts()
        changed = sorted(k for k in set(new) | set(self._known) if new.get(k) != self._known.get(k))
        self._known = new
        for obj, frame in changed:
            self._apply_prompt(obj, frame, new.get((obj, frame)))

    def _apply_prompt(self, obj: int, frame: int, prompt: dict | None, mask=None) -> None:
        session = self.session

        def job():
            if prompt is None and mask is None:
                if obj in session.objects:
                    session.clear_prompts(frame, obj)
                    if not session.objects[obj].prompts:
                        session.remove_object(obj)
                return None, [(frame, session.label_frame(frame))]
            pts = prompt["points"] if prompt and prompt["points"] else None
            labels = prompt["labels"] if pts else None
            box = prompt["box"] if prompt else None
            cancel = lambda: self._cancel  # noqa: E731
            if obj in session.objects:
                report = session.correct(frame, obj, pts, labels, box, mask=mask, cancel=cancel)
            else:
                if mask is not None:
                    session.add_mask(frame, obj, mask)
                else:
                    session.add_points(frame, obj, pts, labels, box, clear=True)
                report = None
            frames = [frame] + ([] if report is None else report.frames)
            single = pts is not None and len(pts) == 1 and box is None and mask is None
            cands = session.candidates(frame, obj) if single else []
            return (report, cands), [(f, session.label_frame(f)) for f in frames]

        def done(result):
            info, frames = result
            self._write_frames(frames)
            if info is not None:
                self.last_report, cands = info
                self._show_candidates(frame, obj, cands)
            self._set_status(f"object {obj}, frame {frame}: updated"
                             + (f", re-tracked {len(self.last_report.frames)} frames"
                                if info and self.last_report and self.last_report.frames else ""))

        label = f"object {obj} on frame {frame}"
        if self._busy and getattr(self, "_running", "").startswith(f"object {obj} on frame"):
            # a newer prompt for the same object: its re-tracking supersedes the running one
            self._cancel = True
        self._run(job, on_return=done, label=label)

    def _show_candidates(self, frame, obj, cands) -> None:
        self._candidates = (frame, obj, cands) if cands else None
        for i, b in enumerate(self._cands):
            if cands:
                b.text, b.enabled = f"option {i + 1} (IoU {cands[i][1]:.2f})", True
            else:
                b.text, b.enabled = f"option {i + 1}", False

    def choose_candidate(self, i: int) -> None:
        """Use candidate ``i`` of the last ambiguous click as that frame's mask prompt."""
        if self._candidates is None:
            return
        frame, obj, cands = self._candidates
        self._show_candidates(frame, obj, [])
        self._apply_prompt(obj, frame, None, mask=cands[i][0])

    def add_paint_layer(self) -> None:
        """A 2D labels layer to paint object masks on (label = object id)."""
        if self.session is None:
            return
        if PAINT not in self.viewer.layers:
            _, h, w = self.session.shape
            paint = self.viewer.add_labels(np.zeros((h, w), np.uint16), name=PAINT,
                                           scale=self._layer.scale[-2:], translate=self._layer.translate[-2:])
        paint = self.viewer.layers[PAINT]
        paint.selected_label = self.current_object or 1
        paint.mode = "paint"
        self.viewer.layers.selection.active = paint

    def use_painted_mask(self) -> None:
        """Each painted label becomes a mask prompt of that object on the current frame."""
        paint = self._layer_or_none(PAINT)
        if paint is None or self.session is None or not paint.data.any():
            show_info("SAM 2: paint a mask on the 'SAM2 paint' layer first")
            return
        frame = self._current_frame()
        for obj in np.unique(paint.data)[1:]:
            self._ensure_listed(int(obj))
            self._apply_prompt(int(obj), frame, None, mask=paint.data == obj)
        paint.data = np.zeros_like(paint.data)

    # ------------------------------------------------------------------ divisions

    def divide_here(self) -> None:
        """The selected object divides on the current frame: end its track, add two daughters."""
        parent = self.current_object
        if self.session is None or parent is None or parent not in self.session.objects:
            show_info("SAM 2: select a tracked object first")
            return
        frame = self._current_frame()
        first = max(self._listed_ids(), default=0) + 1
        daughters = [first, first + 1]
        session = self.session
        if frame == 0 or any(f >= frame for f in session.objects[parent].prompts):
            # checked here so that a refusal is immediate and nothing changes
            show_error(f"SAM 2: object {parent} cannot divide on frame {frame}: it needs frames before it and "
                       f"no prompts from that frame on")
            return
        gone = sorted(f for f in session.objects[parent].results if f >= frame)

        def job():
            session.mark_division(parent, frame, daughters)
            return [(f, session.label_frame(f)) for f in gone]

        for d in daughters:
            self.names[d] = f"{self.names.get(parent, parent)}.{d - first + 1}"
            self._ensure_listed(d)
        self._objects.setCurrentItem(self._ensure_listed(daughters[0]))
        self._run(job, on_return=self._write_frames, label=f"division of object {parent}")
        self._set_status(f"object {parent} divides on frame {frame}: click daughter {daughters[0]}, "
                         f"then select {daughters[1]} and click it; then Forward")

    def suggest_divisions(self) -> None:
        """Fill the suggestion list from the tracked masks (runs in the background)."""
        if self.session is None:
            return
        session = self.session

        def show(found):
            choices = [f"frame {d['frame']}: object {d['object_id']} ({', '.join(d['reasons'])})" for d in found]
            self._suggestions.choices = choices
            self._suggestion_data = {c: d for c, d in zip(choices, found)}
            self._set_status(f"{len(found)} possible division(s) found" if found else "no divisions suggested")
            self._refresh_timeline()

        self._run(session.division_suggestions, on_return=show, label="looking for divisions")

    def dismiss_suggestion(self) -> None:
        """Drop the chosen suggestion from the list."""
        choice = self._suggestions.value
        data = getattr(self, "_suggestion_data", {})
        if choice in data:
            del data[choice]
            self._suggestions.choices = list(data)
            self._refresh_timeline()

    def _go_to_suggestion(self, choice) -> None:
        found = getattr(self, "_suggestion_data", {}).get(choice)
        if found is None:
            return
        self.go_to_frame(found["frame"])
        for i in range(self._objects.count()):
            if int(self._objects.item(i).data(Qt.UserRole)) == found["object_id"]:
                self._objects.setCurrentRow(i)

    # ------------------------------------------------------------------ propagation

    def propagate_forward(self) -> None:
        self.propagate("forward")

    def propagate_backward(self) -> None:
        self.propagate("backward")

    def propagate_both(self) -> None:
        self.propagate("both")

    def propagate(self, direction: str) -> None:
        """Track in the background; each finished frame is written to the labels layer at once."""
        if self.session is None or not self.session.objects:
            show_info("SAM 2: add prompts first")
            return
        session = self.session

        def job():
            for event in session.iter_propagate(direction, cancel=lambda: self._cancel):
                yield event, session.label_frame(event.frame)
            return direction

        def frame_done(item):
            event, labels = item
            if self._pbar is None:
                self._pbar = napari_progress(total=event.total, desc=f"SAM 2 {direction}")
            self._pbar.update(1)
            self._write_frames([(event.frame, labels)])
            if self._cancel:
                self._set_status("cancelled: frames done so far are kept")
                return
            rate = event.elapsed / event.done
            self._set_status(f"{direction}: frame {event.frame} ({event.done}/{event.total}), "
                             f"ETA {rate * (event.total - event.done):.0f} s")

        def finished(_):
            self._set_status("cancelled: frames done so far are kept" if self._cancel else f"{direction}: done")

        self._run(job, on_yield=frame_done, on_return=finished, label=f"tracking {direction}")

    def cancel(self) -> None:
        """Stop the running job after its current frame and drop queued jobs."""
        self._queue.clear()
        self._cancel = True

    # ------------------------------------------------------------------ output layer

    def _write_frames(self, frames) -> None:
        """Write computed frames unless the user edited them since we last wrote (then keep theirs)."""
        out = self._layer_or_none(OUTPUT)
        if out is None:
            if self.session is not None:
                self.cancel()
                show_error(f"SAM 2: the '{OUTPUT}' layer was removed, so tracking stopped. The results are "
                           f"still in the session: press Start session to get a new labels layer.")
            return
        kept = []
        for f, labels in frames:
            current = out.data[f]
            if _digest(current) != self._written.get(f, self._zeros_digest):
                self.edited_frames.add(f)
                kept.append(f)
                continue
            new = labels.astype(out.data.dtype)
            out.data[f] = new
            self._written[f] = _digest(new)
        out.refresh()
        if kept:
            self._overwrite.enabled = True
            show_warning(f"SAM 2: kept your edits on frame(s) {sorted(set(kept))}; "
                         f"'Overwrite edited frames' replaces them")

    def overwrite_edited_frames(self) -> None:
        """Replace the frames the user edited with the current tracking result."""
        if self.session is None:
            return
        for f in sorted(self.edited_frames):
            self._written[f] = _digest(self._output.data[f])
        frames = sorted(self.edited_frames)
        self.edited_frames.clear()
        self._overwrite.enabled = False
        self._write_frames([(f, self.session.label_frame(f)) for f in frames])

    def _refresh_timeline(self) -> None:
        obj = self.current_object
        if self.session is None or obj is None or obj not in self.session.objects or self._layer is None:
            self._timeline.set_data(np.zeros(0), ())
            return
        marks = {d["frame"] for d in getattr(self, "_suggestion_data", {}).values() if d["object_id"] == obj}
        line = self.session.timeline(obj)
        self._timeline.set_data(line.scores, line.prompted, self._current_frame(), marks, lost=line.lost)

    # ------------------------------------------------------------------ exports

    def _ask_path(self, title: str, filter_: str = "", folder: bool = False) -> str | None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, title)
        else:
            path, _ = QFileDialog.getSaveFileName(self, title, "", filter_)
        return path or None

    def _labels_data(self) -> np.ndarray | None:
        out = self._layer_or_none(OUTPUT)
        if out is None:
            show_info("SAM 2: nothing to export yet")
            return None
        return np.asarray(out.data)

    def export_tiff(self) -> None:
        from .engine import exports

        data, path = self._labels_data(), self._ask_path("Save labels as TIFF", "TIFF (*.tif *.tiff)")
        if data is not None and path:
            exports.write_labels_tiff(path, data, overwrite=True)
            self._set_status(f"wrote {path}")

    def export_zarr(self) -> None:
        from .engine import exports

        data, path = self._labels_data(), self._ask_path("Save labels as zarr", "zarr (*.zarr)")
        if data is not None and path:
            path = path if path.endswith(".zarr") else path + ".zarr"
            exports.write_labels_zarr(path, data, overwrite=True)
            self._set_status(f"wrote {path}")

    def export_table(self) -> None:
        from .engine import exports

        data, path = self._labels_data(), self._ask_path("Save object table", "CSV (*.csv)")
        if data is not None and path:
            records = self.session.records() if self.session is not None else None
            parents = self.session.parents if self.session is not None else None
            exports.write_table_csv(path, exports.object_table(data, records, parents), overwrite=True)
            self._set_status(f"wrote {path}")

    def export_ctc(self) -> None:
        from .engine import exports

        data, path = self._labels_data(), self._ask_path("Cell Tracking Challenge result folder", folder=True)
        if data is not None and path:
            parents = self.session.parents if self.session is not None else None
            exports.write_ctc(Path(path) / "RES", data, parents=parents, overwrite=True)
            self._set_status(f"wrote {Path(path) / 'RES'}")

    def export_geff(self) -> None:
        """The lineage graph (one node per object and frame) as a GEFF zarr store."""
        from .engine.lineage_io import write_geff

        data, path = self._labels_data(), self._ask_path("Save lineage as GEFF", "GEFF zarr (*.zarr)")
        if data is not None and path:
            path = path if path.endswith(".zarr") else path + ".zarr"
            write_geff(path, data, self.session.parents if self.session is not None else None, overwrite=True)
            self._set_status(f"wrote {path}")

    def add_tracks_layer(self) -> None:
        """A Tracks layer from the labels' centroids."""
        from .engine import exports

        data = self._labels_data()
        if data is None:
            return
        parents = self.session.parents if self.session is not None else None
        tracks, graph = exports.tracks_data(data, parents)
        if len(tracks) == 0:
            show_info("SAM 2: no objects in the labels yet")
            return
        if "SAM2 tracks" in self.viewer.layers:
            self.viewer.layers.remove("SAM2 tracks")
        # colour each track like its label
        ids = np.unique(tracks[:, 0]).astype(int)
        colors = {int(i): tuple(self._output.get_color(int(i))) for i in ids}
        self.viewer.add_tracks(tracks, graph=graph, name="SAM2 tracks", scale=self._output.scale,
                               color_by="track_id",
                               colormaps_dict={"track_id": _label_colormap(colors)})

    def save_session(self) -> None:
        """Prompts, object names and settings as JSON (reloadable with 'Load session')."""
        from .engine import exports

        if self.session is None:
            return
        path = self._ask_path("Save session", "JSON (*.json)")
        if path:
            data = self.session.prompts_dict()
            data["names"] = {str(k): v for k, v in self.names.items()}
            exports.write_session_json(path, data, overwrite=True)
            self._set_status(f"wrote {path}")

    def load_session(self) -> None:
        """Replace the prompts with a saved session's (same stack shape) and recompute prompted frames."""
        from .engine import exports

        if self.session is None:
            show_info("SAM 2: start a session on the same image first")
            return
        path = self._ask_path("Load session", "JSON (*.json)")
        if not path:
            return
        try:
            data = exports.read_session_json(path)
            if list(data.get("shape", [])) != list(self.session.shape):
                raise ValueError(f"it is for a stack of shape {data.get('shape')}, this one is {self.session.shape}")
        except (ValueError, OSError) as exc:
            show_error(f"SAM 2: cannot load {path}: {exc}")
            return
        for obj in list(self.session.objects):
            self._remove_prompts_of(obj)
        self._syncing = True
        try:
            for obj, frames in data["objects"].items():
                self.names[int(obj)] = data.get("names", {}).get(obj, f"object {obj}")
                self._ensure_listed(int(obj)).setText(f"{obj}: {self.names[int(obj)]}")
                for f, steps in frames.items():
                    for step in steps:
                        for (x, y), lab in zip(step.get("points") or [], step.get("labels") or []):
                            self.add_click(int(f), y, x, bool(lab), obj=int(obj))
                        if step.get("box"):
                            x0, y0, x1, y1 = step["box"]
                            self.add_box(int(f), y0, x0, y1, x1, obj=int(obj))
        finally:
            self._syncing = False
        self._known = self._collect_prompts()
        session = self.session

        def job():
            for obj in list(session.objects):
                session.remove_object(obj)
            session.load_prompts(data)
            frames = sorted({int(f) for frames in data["objects"].values() for f in frames})
            return [(f, session.label_frame(f)) for f in frames]

        self._run(job, on_return=self._write_frames, label="loading session")
