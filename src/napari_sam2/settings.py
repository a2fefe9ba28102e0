"""What a run is, as types: the model, the stack, tracking, automatic segmentation, seeds and outputs.

Frozen dataclasses, each field validated here and only here. The command line parses into them
(:mod:`napari_sam2.cli.options` makes each field's flag), the widget's controls read and write them
(:mod:`napari_sam2.gui.settings_form` makes each field's control), the session file stores them, and
the engine takes them. Each field's :class:`Option` (its ``metadata``) says how it is shown: its flag,
its label, its help text, and the values it may take. So a new option is a field here, plus the
engine code that uses it; the flag and the control follow from the field.

No torch, napari or Qt is imported here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

MAX_IMAGE_SIZE = 4096  # 4x the official 1024 px input: about 13 GB to track on a CPU
MAX_POINTS_PER_SIDE = 256  # a grid of 256 x 256 clicks per crop: the official default is 32
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MEMORY_RULES = ("official", "resolved")
DIRECTIONS = ("forward", "backward", "both")
AXES = ("t", "z")
LABEL_SUFFIXES = (".tif", ".tiff", ".zarr")


class SettingError(ValueError):
    """A setting with a value it may not take. ``owner`` is the settings type, ``name`` the field; the
    message (``str``) names the field, :meth:`worded` lets the command line or the widget name it their way."""

    def __init__(self, owner: type, name: str, problem: str) -> None:
        self.owner, self.name, self.problem = owner, name, problem
        super().__init__(f"{name} {problem}")

    @property
    def option(self) -> "Option | None":
        return option_of(self.owner, self.name)

    def worded(self, how: str = "flag") -> str:
        """The message with the field named by its command-line flag (``how="flag"``) or its widget label."""
        opt = self.option
        if opt is None:
            return str(self)
        return f"{opt.flag if how == 'flag' else opt.label} {self.problem}"


@dataclass(frozen=True)
class Option:
    """How one setting is shown and what it may be.

    flag: the command-line flag (``--memory-frames``); label: the widget's label; help: the help text
    and tooltip; kind: ``int``, ``float``, ``bool``, ``str`` or ``"path"`` (None is allowed when the
    field's default is None, or ``none`` says what it means); low/high: the range (inclusive; None: open);
    above: a bound the value must exceed; multiple: the value is a multiple of it; choices: the values a
    string may take; words: how the widget lists the values, ``((text, value), ...)``; none: what None
    means, in words (for help texts); extra: values allowed besides the kind (``"auto"``); widget: False for settings that have no control in the widget.
    """

    flag: str
    label: str
    help: str
    kind: Any = str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    multiple: int | None = None
    choices: tuple | None = None
    words: tuple | None = None
    none: str | None = None
    extra: tuple = ()
    widget: bool = True

    def range_text(self) -> str:
        """The allowed values in words: "a whole number from 0 to 6", "one of fp32, bf16", ..."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        word = {int: "a whole number", float: "a number"}.get(self.kind, "a text")
        if self.kind is int and self.multiple:
            word = f"a multiple of {self.multiple}"
        if self.above is not None:
            word += f" above {_num(self.above)}" + (
                f" and at most {_num(self.high)}" if self.high is not None else ""
            )
        elif self.low is not None and self.high is not None:
            word += f" from {_num(self.low)} to {_num(self.high)}"
        elif self.low is not None:
            word += f", {_num(self.low)} or more"
        elif self.high is not None:
            word += f", at most {_num(self.high)}"
        if self.extra:
            word += " or " + " or ".join(repr(e) for e in self.extra)
        return word


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def opt(default, **option) -> Any:
    """A dataclass field with ``default`` and an :class:`Option` as its metadata."""
    return field(default=default, metadata={"option": Option(**option)})


def option_of(owner: type, name: str) -> Option | None:
    for f in fields(owner):
        if f.name == name:
            return f.metadata.get("option")
    return None


def options(owner) -> list[tuple[str, Option, Any]]:
    """``(name, Option, default)`` of every field of a settings type (or instance) that has an Option."""
    return [
        (f.name, f.metadata["option"], f.default) for f in fields(owner) if "option" in f.metadata
    ]


def _check(value, name: str, o: Option, owner: type, nullable: bool):
    """``value`` as the field stores it (ints stay ints, paths become Path), or a SettingError."""

    def bad(text: str = ""):
        shown = (
            repr(value)
            if isinstance(value, str)
            else _num(value)
            if isinstance(value, float)
            else value
        )
        return SettingError(owner, name, text or f"must be {o.range_text()}, got {shown}")

    if value is None:
        if nullable:
            return None
        raise bad()
    if value in o.extra:
        return value
    if o.kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if o.kind == "path":
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise bad("must be a file or folder name")
        return Path(value)
    if o.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if o.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad()
            value = int(value)
        elif not math.isfinite(value):
            raise bad()
        else:
            value = float(value)
        if (
            (o.low is not None and value < o.low)
            or (o.high is not None and value > o.high)
            or (o.above is not None and value <= o.above)
            or (o.multiple and value % o.multiple)
        ):
            raise bad()
        return value
    if not isinstance(value, str) or (o.choices is not None and value not in o.choices):
        raise bad()
    return value


class Settings:
    """Validation shared by the settings types: every field with an :class:`Option` is checked against it
    when an instance is made (and normalised: whole floats to int, paths to Path); :meth:`check` adds what
    depends on several fields."""

    def __post_init__(self) -> None:
        for name, o, default in options(self):
            nullable = default is None or o.none is not None
            value = _check(getattr(self, name), name, o, type(self), nullable=nullable)
            object.__setattr__(self, name, value)
        self.check()

    def check(self) -> None:
        """Rules that tie fields together (none by default)."""

    def replaced(self, **changes):
        """A copy with ``changes`` (validated); an unknown name is a SettingError naming the fields there are."""
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise SettingError(
                    type(self),
                    name,
                    f"is not a setting of {type(self).__name__} "
                    f"(its settings: {', '.join(sorted(known))})",
                )
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain data for JSON (paths as text, nested settings as dicts)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                value = value.as_dict()
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict | None):
        """Settings from :meth:`as_dict`'s data; keys it does not know are refused, missing ones keep their
        defaults."""
        data = dict(data or {})
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data.pop(f.name)
            sub = _nested_type(cls, f.name)
            kwargs[f.name] = (
                sub.from_dict(value) if sub is not None and isinstance(value, dict) else value
            )
        if data:
            raise SettingError(cls, sorted(data)[0], f"is not a setting of {cls.__name__}")
        return cls(**kwargs)


def _nested_type(cls, name: str):
    return (
        {
            "model": ModelSettings,
            "stack": StackSettings,
            "tracking": TrackingSettings,
            "suspects": SuspectSettings,
            "auto": AutoSettings,
            "seeds": SeedSettings,
            "outputs": OutputSettings,
        }.get(name)
        if cls is RunSettings
        else None
    )


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelSettings(Settings):
    """Which model runs where: built by :func:`napari_sam2.loading.build_sam2`."""

    model: str = opt(
        "auto",
        flag="--model",
        label="model",
        help="model name, e.g. sam2.1_hiera_tiny, sam2_hiera_large, demo, or an official config "
        "such as configs/sam2.1/sam2.1_hiera_t.yaml; 'auto': the model of the checkpoint file, "
        "else sam2.1_hiera_tiny if its checkpoint is on this machine, else the bundled demo "
        "model (small, trained on synthetic cells only: not SAM 2 quality)",
    )
    checkpoint: str | None = opt(
        "auto",
        flag="--checkpoint",
        label="checkpoint",
        none="random weights",
        help="official-format .pt file; 'auto' finds the model's file (downloads official "
        "ones, checked); 'none' for random weights (plumbing and tests only)",
    )
    image_size: int | None = opt(
        None,
        flag="--image-size",
        label="image size",
        kind=int,
        low=32,
        high=MAX_IMAGE_SIZE,
        multiple=32,
        none="the size the model was trained at",
        words=(("model", None), (1024, 1024), (512, 512), (256, 256), (128, 128), (64, 64)),
        help="model input size, a multiple of 32 (default: the size the model was "
        "trained at, 1024 for official models, 256 for the demo). Smaller is "
        "faster but not free: outside 0.7-1.4x of the trained size masks get much "
        "worse, and a warning says so",
    )
    device: str = opt(
        "auto",
        flag="--device",
        label="device",
        choices=DEVICES,
        help="where the model runs: 'auto' picks a CUDA GPU, then Apple's MPS, then the CPU",
    )
    threads: int | None = opt(
        None,
        flag="--threads",
        label="threads",
        kind=int,
        low=1,
        high=1024,
        none="one less than the cores available",
        help="CPU threads for torch (default: one less than the cores available, or "
        "$NAPARI_SAM2_THREADS). Every step waits for its slowest thread, so a thread "
        "that shares a core with another busy program slows the whole run: leave a "
        "core free on a shared machine",
    )

    def check(self) -> None:
        if not self.model.strip():
            raise SettingError(type(self), "model", "must name a model, or be 'auto'")


# --------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class StackSettings(Settings):
    """Which frames of the data are tracked: the tracked axis, the index of the other axis of 4-D data, the
    channel, and the intensity window (:func:`napari_sam2.engine.stack.stack_view`)."""

    axis: str = opt(
        "t",
        flag="--axis",
        label="axis",
        choices=AXES,
        help="track along time (t) or through a volume (z)",
    )
    time_point: int | None = opt(
        None,
        flag="--time-point",
        label="time point",
        kind=int,
        low=0,
        widget=False,
        help="for (T, Z, Y, X) data with --axis z: the time point whose volume is tracked",
    )
    z: int | None = opt(
        None,
        flag="--z",
        label="z",
        kind=int,
        low=0,
        widget=False,
        help="for (T, Z, Y, X) data with --axis t: the slice that is tracked through time",
    )
    channel: Any = opt(
        None,
        flag="--channel",
        label="channel",
        kind=int,
        low=0,
        extra=("grey",),
        none="RGB stays RGB",
        words=(("all", None), ("grey", "grey"), (0, 0), (1, 1), (2, 2)),
        help="channel of multi-channel data: a number (0, 1, ...) or 'grey' for the luminance "
        "of an RGB image (default: RGB stays RGB)",
    )
    contrast_limits: tuple | None = field(
        default=None
    )  # (low, high) intensity window; None: robust percentiles

    def check(self) -> None:
        if self.contrast_limits is not None:
            try:
                lo, hi = (float(v) for v in self.contrast_limits)
            except (TypeError, ValueError):
                lo = hi = math.nan
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise SettingError(
                    type(self),
                    "contrast_limits",
                    f"must be two numbers (low, high) with low < high, got {self.contrast_limits!r}",
                )
            object.__setattr__(self, "contrast_limits", (lo, hi))


# --------------------------------------------------------------------------- tracking


@dataclass(frozen=True)
class TrackingSettings(Settings):
    """How a :class:`~napari_sam2.engine.session.TrackingSession` tracks. The defaults give the official
    numbers (docs/engine.md); the others are the microscopy options and the fast modes."""

    direction: str | None = opt(
        None,
        flag="--direction",
        label="direction",
        choices=DIRECTIONS,
        widget=False,
        none="forward for time, both for volumes",
        help="default: forward for time, both for volumes",
    )
    precision: str = opt(
        "fp32",
        flag="--precision",
        label="precision",
        choices=PRECISIONS,
        help="fp32 (exact, the official numbers) or the bf16 fast mode (GPUs, and CPUs with "
        "AVX512-BF16 or AMX; refused elsewhere, where it would be slower)",
    )
    memory_frames: int | None = opt(
        None,
        flag="--memory-frames",
        label="memory frames",
        kind=int,
        low=0,
        high=6,
        none="the model's own number (6: exact)",
        words=(("all", None), (4, 4), (2, 2), (1, 1)),
        help="fast mode: recent frames in each object's memory bank (default: the "
        "model's, 6 = exact); fewer tracks faster with slightly different masks",
    )
    max_batch: int = opt(
        16,
        flag="--max-batch",
        label="max batch",
        kind=int,
        low=1,
        high=4096,
        widget=False,
        help="objects that go through the model at once (default 16): peak memory grows with it, "
        "not with the number of objects; results agree to float rounding",
    )
    exclusive: bool = opt(
        False,
        flag="--exclusive",
        label="exclusive pixels",
        kind=bool,
        help="each pixel belongs to at most one object (the most confident one), and each "
        "object's memory is made from its own pixels only: for touching cells. Off gives "
        "the official numbers",
    )
    window: int | str | None = opt(
        None,
        flag="--window",
        label="window",
        kind=int,
        low=64,
        high=MAX_IMAGE_SIZE,
        multiple=32,
        none="the whole frame",
        extra=("auto",),
        words=(("whole frame", None), ("auto", "auto"), (1024, 1024), (512, 512), (256, 256)),
        help="window mode: track each object in a SIZE px window of the frame at "
        "native scale (a multiple of 32; the model runs at SIZE px input, so "
        "--image-size is not needed): for small cells in large frames, e.g. 256 "
        "for the demo, 512 or 1024 for official models. 'auto': windows of the "
        "model's input size when the frame is larger than it and the prompted "
        "objects are small against it (the summary says which was chosen). A "
        "window as large as the frame is the whole frame",
    )
    memory: str = opt(
        "official",
        flag="--memory",
        label="memory",
        choices=MEMORY_RULES,
        help="what enters each object's memory: 'official' (the decoded mask: the official "
        "numbers) or 'resolved' (pixels two objects claim go to one by logit and motion "
        "fit, and a mask that lags its cell is moved onto its motion: keeps touching "
        "look-alike cells apart; the shown masks are exclusive)",
    )

    def direction_for(self, axis: str) -> str:
        """The direction to track: the one set, else forward along time and both ways through a volume."""
        return self.direction or ("both" if axis == "z" else "forward")


# The microscopy defaults of `napari-sam2 track` and the widget (the engine's and the official-API
# predictors' defaults stay the official ones): windows at native scale when cells are small against the
# model's input, and neighbour-resolved memory, which keeps touching look-alike cells apart (measured on
# passing look-alike pairs: 0.7 of 16 cells swapped and mean IoU 0.84, against 14.7 and 0.52 with the
# official settings; docs/benchmarks.md, "Look-alike neighbours").
MICROSCOPY = TrackingSettings(window="auto", memory="resolved")


# --------------------------------------------------------------------------- suspect object-frames


@dataclass(frozen=True)
class SuspectSettings(Settings):
    """Thresholds of the suspect checks (:mod:`napari_sam2.engine.suspects`): where a tracked mask is
    probably wrong although the model is sure of it. The defaults were chosen with the demo model on
    look-alike pairs that pass each other, dividing cells and the sample movie, tracked with the
    official and with resolved memory (docs/engine.md has the precision and recall)."""

    overlap: float = opt(
        0.35,
        flag="--suspect-overlap",
        label="overlap",
        kind=float,
        above=0,
        high=1,
        help="suspect 'overlap': two masks overlap by more than this share of the smaller "
        "(default 0.35)",
    )
    takeover: float = opt(
        0.5,
        flag="--suspect-takeover",
        label="takeover",
        kind=float,
        above=0,
        high=1,
        help="suspect 'overlap': the mask covers more than this share of another object's "
        "mask on the frame before (default 0.5)",
    )
    history: int = opt(
        5,
        flag="--suspect-history",
        label="history (frames)",
        kind=int,
        low=1,
        high=100,
        help="recent frames the area, position and confidence checks compare with (default 5)",
    )
    area_band: float = opt(
        1.6,
        flag="--suspect-area",
        label="area band",
        kind=float,
        above=1,
        high=100,
        help="suspect 'area': the area is outside [median / this, median * this] of the "
        "recent frames (default 1.6)",
    )
    position: float = opt(
        1.0,
        flag="--suspect-position",
        label="position (radii)",
        kind=float,
        above=0,
        high=100,
        help="suspect 'position': the centroid is more than this many equivalent radii from "
        "a constant-velocity prediction (default 1)",
    )
    score_drop: float = opt(
        4.0,
        flag="--suspect-score-drop",
        label="score drop",
        kind=float,
        above=0,
        high=1000,
        help="suspect 'confidence': the object score (logit) falls more than this below "
        "its recent median (default 4)",
    )
    iou_drop: float = opt(
        0.6,
        flag="--suspect-iou-drop",
        label="IoU drop",
        kind=float,
        above=0,
        high=1,
        help="suspect 'confidence': the predicted IoU falls more than this below its recent "
        "median (default 0.6)",
    )
    fragments: float = opt(
        0.25,
        flag="--suspect-fragments",
        label="fragments",
        kind=float,
        above=0,
        high=1,
        help="suspect 'fragments': the mask's second largest piece is at least this share of "
        "the largest (default 0.25)",
    )
    max_size: float = opt(
        0.3,
        flag="--suspect-size",
        label="largest share",
        kind=float,
        above=0,
        high=1,
        help="suspect 'size': the mask covers more than this share of the model's input "
        "(frame or window; default 0.3)",
    )


# --------------------------------------------------------------------------- automatic segmentation


@dataclass(frozen=True)
class AutoSettings(Settings):
    """What the automatic segmentation keeps (:mod:`napari_sam2.engine.auto`). points_per_side: the grid of
    single clicks; the thresholds: the generator's filters; min_area / max_area: mask areas kept, in pixels
    (None: no upper bound); crop_n_layers: crop layer i cuts the frame into 2^i x 2^i overlapping crops."""

    points_per_side: int = opt(
        32,
        flag="--points-per-side",
        label="points per side",
        kind=int,
        low=1,
        high=MAX_POINTS_PER_SIDE,
        help="automatic segmentation: a grid of N x N single clicks (default 32); more "
        "finds smaller cells and takes longer (about N\u00b2 prompts)",
    )
    pred_iou_thresh: float = opt(
        0.8,
        flag="--auto-iou",
        label="IoU threshold",
        kind=float,
        low=0,
        high=1,
        help="automatic segmentation: keep masks whose predicted IoU (the model's own "
        "quality estimate) is at least this (default 0.8)",
    )
    stability_score_thresh: float = opt(
        0.95,
        flag="--auto-stability",
        label="stability threshold",
        kind=float,
        low=0,
        high=1,
        help="automatic segmentation: keep masks that hardly change when the mask "
        "threshold moves, stability score at least this (default 0.95)",
    )
    box_nms_thresh: float = opt(
        0.7,
        flag="--auto-nms",
        label="overlap threshold",
        kind=float,
        low=0,
        high=1,
        widget=False,
        help="automatic segmentation: of two masks whose boxes overlap more than this "
        "(IoU), the weaker one goes (default 0.7)",
    )
    min_area: int = opt(
        0,
        flag="--min-area",
        label="min area (px)",
        kind=int,
        low=0,
        help="automatic segmentation: drop masks smaller than this many pixels (debris)",
    )
    max_area: int | None = opt(
        None,
        flag="--max-area",
        label="max area (px)",
        kind=int,
        low=1,
        none="no upper bound",
        help="automatic segmentation: drop masks larger than this many pixels (background)",
    )
    crop_n_layers: int = opt(
        0,
        flag="--crop-layers",
        label="crop layers",
        kind=int,
        low=0,
        high=6,
        widget=False,
        help="automatic segmentation: also look in 2x2, 4x4, ... crops of the frame, each "
        "seen at the model's input size (window mode adds them itself)",
    )

    def check(self) -> None:
        if self.max_area is not None and self.max_area < self.min_area:
            raise SettingError(
                type(self),
                "max_area",
                f"must be at least min_area ({self.min_area}): the area "
                f"range must satisfy min <= max, got {self.max_area}",
            )


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class SeedSettings(Settings):
    """Where objects come from besides click and box files: a label image, the automatic segmentation of a
    frame, and new cells found as tracking goes on."""

    masks: Path | None = opt(
        None,
        flag="--masks",
        label="labels",
        kind="path",
        widget=False,
        help="a label image (TIFF, .npy or .zarr; 0 = background) whose values are the "
        "object ids: a (Y, X) image prompts frame --masks-frame, a (T, Y, X) stack of "
        "the movie's length prompts every frame that has labels; clicks in --points "
        "for the same object and frame correct its mask (with --many: a folder holding "
        "NAME.tif for each movie NAME.tif)",
    )
    masks_frame: int | None = opt(
        None,
        flag="--masks-frame",
        label="labels frame",
        kind=int,
        low=0,
        widget=False,
        help="the frame a (Y, X) --masks image prompts (default 0)",
    )
    auto: bool = opt(
        False,
        flag="--auto",
        label="automatic seeds",
        kind=bool,
        widget=False,
        help="seed every object the automatic mask generator finds on --auto-frame (besides any "
        "--points/--boxes/--masks; ids follow theirs)",
    )
    auto_frame: int = opt(
        0,
        flag="--auto-frame",
        label="automatic frame",
        kind=int,
        low=0,
        widget=False,
        help="the frame --auto segments (default 0)",
    )
    auto_new: int | None = opt(
        None,
        flag="--auto-new",
        label="new cells every",
        kind=int,
        low=1,
        widget=False,
        help="every K frames, add regions no tracked object covers as new cells and track "
        "them on (forward tracking; uses the automatic segmentation settings)",
    )

    def check(self) -> None:
        if self.masks_frame is not None and self.masks is None:
            raise SettingError(
                type(self),
                "masks_frame",
                "says which frame a --masks label image prompts: give --masks too",
            )
        if self.auto_frame and not self.auto:
            raise SettingError(
                type(self), "auto_frame", "says which frame --auto segments: give --auto too"
            )

    @property
    def automatic(self) -> bool:
        """Whether the automatic segmentation runs (seeding or new cells)."""
        return self.auto or self.auto_new is not None


# --------------------------------------------------------------------------- outputs

OUTPUT_SUFFIXES = {
    "out": LABEL_SUFFIXES,
    "session": (".json",),
    "table": (".csv",),
    "summary": (".csv",),
    "geff": (".zarr",),
    "trackmate": (".xml",),
}
OUTPUT_WHY = {
    "out": "a label stack",
    "session": "a JSON file",
    "table": "a CSV file",
    "summary": "a CSV file",
    "geff": "a zarr store",
    "trackmate": "TrackMate opens XML files",
}


@dataclass(frozen=True)
class OutputSettings(Settings):
    """Where a tracking run writes. Each output has its suffix (:data:`OUTPUT_SUFFIXES`); :meth:`check_paths`
    applies the rule of what an output may replace (:func:`napari_sam2.io.atomic.check_output`)."""

    out: Path | None = opt(
        None,
        flag="--out",
        label="labels",
        kind="path",
        widget=False,
        help="labels output: .tif/.tiff or .zarr (with --many: a folder)",
    )
    table: Path | None = opt(
        None,
        flag="--table",
        label="table",
        kind="path",
        widget=False,
        help="also write a CSV of per-frame object properties (with lost and suspect "
        "columns; with --many: one table of all movies, with a movie column)",
    )
    summary: Path | None = opt(
        None,
        flag="--summary",
        label="summary",
        kind="path",
        widget=False,
        help="also write a CSV with one row per movie: its objects, frames, object-frames, "
        "lost and suspect object-frames, and seconds (with --many: every movie)",
    )
    ctc: Path | None = opt(
        None,
        flag="--ctc",
        label="CTC folder",
        kind="path",
        widget=False,
        help="also write a Cell Tracking Challenge result folder",
    )
    session: Path | None = opt(
        None,
        flag="--session",
        label="session",
        kind="path",
        widget=False,
        help="also write the prompts and settings as JSON (written first, before tracking starts)",
    )
    geff: Path | None = opt(
        None,
        flag="--geff",
        label="GEFF",
        kind="path",
        widget=False,
        help="also write the lineage graph as a GEFF zarr store",
    )
    trackmate: Path | None = opt(
        None,
        flag="--trackmate",
        label="TrackMate",
        kind="path",
        widget=False,
        help="also write the tracks as a TrackMate XML file (.xml) for Fiji",
    )
    overwrite: bool = opt(
        False,
        flag="--overwrite",
        label="overwrite",
        kind=bool,
        widget=False,
        help="replace existing outputs of the same kind: never an input, never a folder where "
        "a file goes, never a folder holding files napari-sam2 did not write",
    )

    FILES = ("out", "session", "table", "summary", "ctc", "geff", "trackmate")

    def given(self) -> dict[str, Path]:
        """The outputs asked for, by field name."""
        return {k: getattr(self, k) for k in self.FILES if getattr(self, k) is not None}

    def is_folder(self, name: str) -> bool:
        """Whether output ``name`` is written as a folder (zarr stores, the CTC folder)."""
        path = getattr(self, name)
        return name in ("ctc", "geff") or (path is not None and path.suffix.lower() == ".zarr")

    def check(self) -> None:
        for name, path in self.given().items():
            if name in OUTPUT_SUFFIXES and path.suffix.lower() not in OUTPUT_SUFFIXES[name]:
                raise SettingError(
                    type(self),
                    name,
                    f"must end in {_one_of(OUTPUT_SUFFIXES[name])} "
                    f"({OUTPUT_WHY[name]}), got {path}",
                )

    def check_paths(self, inputs=()) -> None:
        """Check every output before any compute: no two the same path or one inside another, and each by
        :func:`~napari_sam2.io.atomic.check_output` against ``inputs`` (the paths the run reads), with the
        labels' partial file (:func:`~napari_sam2.io.label_files.partial_path`) checked as an output too."""
        from .io.atomic import check_output, inside, same_path
        from .io.label_files import partial_path

        given = self.given()
        flag = {name: option_of(OutputSettings, name).flag for name in given}
        names = list(given)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if same_path(given[a], given[b]):
                    raise ValueError(
                        f"{flag[a]} and {flag[b]} are the same path ({given[a]}): give each output "
                        "its own name"
                    )
                if inside(given[a], given[b]) or inside(given[b], given[a]):
                    raise ValueError(
                        f"{flag[a]} {given[a]} and {flag[b]} {given[b]}: one lies inside the other, "
                        "and writing one would replace the other"
                    )
        inputs = [Path(p) for p in inputs if p is not None]
        for name, path in given.items():
            check_output(
                path,
                folder=self.is_folder(name),
                overwrite=self.overwrite,
                inputs=inputs,
                name=f"{flag[name]} {path}",
            )
        if self.out is not None:
            partial = partial_path(self.out)
            check_output(
                partial,
                folder=self.is_folder("out"),
                overwrite=self.overwrite,
                inputs=inputs,
                name=f"{partial} (where --out is written while tracking)",
            )


def _one_of(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


# --------------------------------------------------------------------------- fine-tuning

TRAIN_PARTS = ("image_encoder", "prompt_encoder", "mask_decoder", "memory")


@dataclass(frozen=True)
class FinetuneSettings(Settings):
    """How ``napari-sam2 finetune`` trains (:func:`napari_sam2.train.trainer.finetune`)."""

    epochs: float = opt(
        10.0,
        flag="--epochs",
        label="epochs",
        kind=float,
        above=0,
        high=100000,
        help="passes over all frames (default 10)",
    )
    train: str = opt(
        "mask_decoder,memory,prompt_encoder",
        flag="--train",
        label="parts",
        help="parts to train, comma separated among image_encoder, prompt_encoder, mask_decoder, "
        "memory, or 'all' (default: all but the image encoder, for small machines)",
    )
    lr: float = opt(
        5e-5,
        flag="--lr",
        label="learning rate",
        kind=float,
        above=0,
        high=1,
        help="peak learning rate (default 5e-5)",
    )
    clip_len: int = opt(
        4,
        flag="--clip-len",
        label="clip length",
        kind=int,
        low=1,
        high=64,
        help="frames per training clip (default 4)",
    )
    clips: int = opt(
        2,
        flag="--clips",
        label="clips",
        kind=int,
        low=1,
        high=64,
        help="clips per step (default 2)",
    )
    seed: int = opt(
        0,
        flag="--seed",
        label="seed",
        kind=int,
        low=0,
        help="random seed of the training clips and prompts (default 0): the same seed, the same run",
    )

    def check(self) -> None:
        parts = self.parts
        unknown = [p for p in parts if p not in TRAIN_PARTS]
        if unknown or not parts:
            raise SettingError(
                type(self),
                "train",
                f"must name parts among {', '.join(TRAIN_PARTS)} or 'all', got {self.train!r}",
            )

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts to train."""
        if self.train.strip() == "all":
            return TRAIN_PARTS
        return tuple(p.strip() for p in self.train.split(",") if p.strip())


# --------------------------------------------------------------------------- a whole run


@dataclass(frozen=True)
class RunSettings(Settings):
    """Everything a tracking run needs besides its input and prompts (``napari-sam2 track``,
    :func:`napari_sam2.engine.batch.track_file`, the session file)."""

    model: ModelSettings = field(default_factory=ModelSettings)
    stack: StackSettings = field(default_factory=StackSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    suspects: SuspectSettings = field(default_factory=SuspectSettings)
    auto: AutoSettings = field(default_factory=AutoSettings)
    seeds: SeedSettings = field(default_factory=SeedSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)

    def check(self) -> None:
        direction = self.tracking.direction_for(self.stack.axis)
        if self.seeds.auto_new is not None and direction != "forward":
            raise SettingError(
                SeedSettings,
                "auto_new",
                f"needs forward tracking (new cells are tracked on "
                f"from where they appear), not {direction}",
            )
        window, size = self.tracking.window, self.model.image_size
        if window not in (None, "auto") and size is not None and size != window:
            raise SettingError(
                ModelSettings,
                "image_size",
                f"{size} and --window {window} differ: window mode "
                "runs the model at the window's size",
            )

    @property
    def direction(self) -> str:
        return self.tracking.direction_for(self.stack.axis)


def settings_dict(*parts: Settings) -> dict:
    """``{type name: as_dict}`` of settings, e.g. for a session file."""
    return {_KEYS[type(p)]: p.as_dict() for p in parts}


_KEYS = {
    ModelSettings: "model",
    StackSettings: "stack",
    TrackingSettings: "tracking",
    SuspectSettings: "suspects",
    AutoSettings: "auto",
    SeedSettings: "seeds",
    OutputSettings: "outputs",
}

__all__ = [
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
    "option_of",
    "options",
]
