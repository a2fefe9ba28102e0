"""What the model and the tracker do: the model, the stack, tracking (with the microscopy defaults,
:data:`MICROSCOPY`), the suspect checks and the automatic segmentation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .fields import SettingError, Settings, opt

MAX_IMAGE_SIZE = 4096  # 4x the official 1024 px input: about 13 GB to track on a CPU
MAX_POINTS_PER_SIDE = 256  # a grid of 256 x 256 clicks per crop: the official default is 32
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MEMORY_RULES = ("official", "resolved")
DIRECTIONS = ("forward", "backward", "both")
AXES = ("t", "z")


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
    results_ram: float = opt(
        1024.0,
        flag="--results-ram",
        label="results in RAM (MB)",
        kind=float,
        above=0,
        widget=False,
        help="MB of results (each object-frame's low-res mask logits) kept in RAM (default "
        "1024); past that, those of the frames furthest from the one being tracked go to a "
        "temporary file and are read back unchanged when needed",
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
        0.8,
        flag="--suspect-iou-drop",
        label="IoU drop",
        kind=float,
        above=0,
        high=1,
        help="suspect 'confidence': the predicted IoU falls more than this below its recent "
        "median (default 0.8)",
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
