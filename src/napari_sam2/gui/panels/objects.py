"""The objects panel: the object list, adding, deleting and clearing objects, negative clicks, the
mask options of a single click, painted masks, and objects from a labels layer."""

from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton

from ..object_list import ObjectList
from ..words import NEW_CELLS, OUTPUT, PREVIEW, TOOLTIPS
from .common import Panel, row

CURRENT, EVERY = "current frame", "every annotated frame"


def seed_layers(viewer) -> list:
    """The labels layers objects can come from: every Labels layer but the plugin's own output and
    previews."""
    import napari

    own = (OUTPUT, PREVIEW, NEW_CELLS)
    return [
        layer
        for layer in viewer.layers
        if isinstance(layer, napari.layers.Labels) and layer.name not in own
    ]


class ObjectsPanel(Panel):
    """The objects of ``controller``. ``objects``: the list; ``add``, ``delete``, ``clear``,
    ``negative``, ``candidates`` (three buttons), ``paint``, ``use_paint``, ``seed_layer``,
    ``seed_frames``, ``seed``: controls."""

    def __init__(self, controller) -> None:
        super().__init__("Objects")
        self._c = controller
        self.objects = ObjectList(controller)
        self.add, self.delete, self.clear = (
            PushButton(text=t) for t in ("Add object", "Delete object", "Clear object's prompts")
        )
        self.negative = CheckBox(text="negative clicks", value=False)
        self.candidates_info = Label(value="Mask options for the last single click:")
        self.candidates = [PushButton(text=f"option {i + 1}", enabled=False) for i in range(3)]
        self.paint, self.use_paint = (
            PushButton(text="Paint mask"),
            PushButton(text="Use painted mask"),
        )
        self.seed_layer = ComboBox(
            label="labels", choices=lambda *_: seed_layers(controller.viewer)
        )
        self.seed_frames = ComboBox(label="from", choices=[CURRENT, EVERY], value=CURRENT)
        self.seed = PushButton(text="Objects from labels")
        for control, key in (
            (self.add, "add"),
            (self.delete, "delete"),
            (self.clear, "clear"),
            (self.negative, "negative"),
            (self.paint, "paint"),
            (self.use_paint, "use_paint"),
            (self.seed_layer, "seed_layer"),
            (self.seed_frames, "seed_frames"),
            (self.seed, "seed"),
            *[(b, "candidates") for b in self.candidates],
        ):
            control.tooltip = TOOLTIPS[key]
        self.put(
            self.objects,
            row(self.add, self.delete, self.clear),
            row(self.negative, self.paint, self.use_paint),
            Container(widgets=[self.seed_layer, self.seed_frames]),
            self.seed,
            self.candidates_info,
            row(*self.candidates),
        )

        for button, action in (
            (self.add, controller.add_object),
            (self.delete, controller.delete_object),
            (self.clear, controller.clear_object),
            (self.paint, controller.add_paint_layer),
            (self.use_paint, controller.use_painted_mask),
            (self.seed, self._seed),
        ):
            button.clicked.connect(action)
        for i, button in enumerate(self.candidates):
            button.clicked.connect(lambda *_, i=i: controller.choose_candidate(i))
        self.negative.changed.connect(controller.set_negative)
        controller.negative_changed.connect(self._negative_changed)
        controller.layers_changed.connect(self.seed_layer.reset_choices)
        controller.candidates_changed.connect(self._show_candidates)
        self.objects.refresh()

    def _seed(self) -> None:
        self._c.objects_from_labels(self.seed_layer.value, every=self.seed_frames.value == EVERY)

    def _negative_changed(self, negative: bool) -> None:
        if self.negative.value != negative:
            self.negative.value = negative

    def _show_candidates(self) -> None:
        c = self._c
        cands = c.candidates
        if cands is None:
            self.candidates_info.value = "Mask options for the last single click:"
        else:
            frame, obj, _ = cands
            self.candidates_info.value = (
                f"Mask options for {c.names.get(obj, f'object {obj}')}'s click on "
                f"{c.place.unit} {frame}:"
            )
        for i, button in enumerate(self.candidates):
            if cands is None:
                button.text, button.enabled = f"option {i + 1}", False
            else:
                button.text, button.enabled = f"option {i + 1} (IoU {cands[2][i][1]:.2f})", True
