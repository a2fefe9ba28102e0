"""What a run starts from and what it writes: seeds, outputs, fine-tuning, and :class:`RunSettings`,
everything a tracking run needs besides its input and prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .fields import SettingError, Settings, opt, option_of
from .tracking import AutoSettings, ModelSettings, StackSettings, SuspectSettings, TrackingSettings

LABEL_SUFFIXES = (".tif", ".tiff", ".zarr")


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
        from ..io.atomic import check_output, inside, same_path
        from ..io.label_files import partial_path

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
