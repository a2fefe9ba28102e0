"""``napari-sam2 track``: one stack (or the bundled sample, or many files) from CSV prompts or a label image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dataclasses import replace

from ..settings import (
    MICROSCOPY,
    AutoSettings,
    ModelSettings,
    OutputSettings,
    RunSettings,
    SeedSettings,
    StackSettings,
    SuspectSettings,
    TrackingSettings,
    option_of,
)
from .common import EXIT_OK, prepare_model
from .options import add_options, read

SAMPLE_FRAMES = 20  # frames of the bundled synthetic movie ('sample')
MANY_OUTPUTS = (
    "out",
    "table",
    "summary",
)  # the outputs --many writes (labels per movie, table and summary of all)


class _Bar:
    """A tqdm progress bar made at the first frame (nothing is drawn for a run that fails before it)."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def update(self, event) -> None:
        if self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines instead
                print(
                    f"{self.desc}: frame {event.frame} ({event.done}/{event.total})",
                    file=sys.stderr,
                )
                return
            self.bar = tqdm(desc=self.desc, unit="frame", total=event.total, file=sys.stderr)
        self.bar.total = event.total
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(desc: str):
    """(update(event), closable)."""
    bar = _Bar(desc)
    return bar.update, bar


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what the run kept (the message of the 'interrupted:' line)."""


def _object_lines(r, shown: int = 5) -> list[str]:
    """One line per object that is lost or suspect somewhere: how often, and the first few frames (a suspect
    frame with its reasons)."""
    lines = []
    for oid in sorted(set(r.lost_frames) | set(r.suspects)):
        parts = []
        lost, suspect = r.lost_frames.get(oid, []), r.suspects.get(oid, {})
        if lost:
            first = ", ".join(str(f) for f in lost[:shown]) + (", ..." if len(lost) > shown else "")
            parts.append(f"lost on {_plural(len(lost), 'frame')} ({first})")
        if suspect:
            frames = sorted(suspect)
            first = ", ".join(f"{f} {';'.join(suspect[f])}" for f in frames[:shown])
            parts.append(
                f"suspect on {_plural(len(frames), 'frame')} ({first}{', ...' if len(frames) > shown else ''})"
            )
        if parts:
            lines.append(f"  object {oid}: " + "; ".join(parts))
    return lines


def _suspect_warning(r) -> str:
    objects = sum(bool(v) for v in r.suspects.values())
    return (
        f"warning: {_plural(r.suspect, 'object-frame')} in {_plural(objects, 'object')} are suspect: the "
        "model is sure of those masks, but they overlap another object, jump in size or position, fall "
        "in confidence, break up or grow too large (listed above; the table's suspect column has them "
        "all): check them, and correct with a click where they are wrong"
    )


def _lost_warning(objects_lost: int, objects: int, lost: int, object_frames: int) -> str:
    return (
        f"warning: {objects_lost} of {objects} objects are lost on some frames ({lost} of {object_frames} "
        "object-frames: an object score below the threshold, an empty mask, or hidden under another "
        "object); add prompts on those frames, or check the model and image size"
    )


def add_parser(sub) -> None:
    """``track``'s options: the prompt files, then one flag per field of the run's settings types."""
    p = sub.add_parser(
        "track",
        help="track objects through a time-lapse or volume from CSV prompts, a label "
        "image or the automatic segmentation",
    )
    p.add_argument(
        "input",
        help="a TIFF stack, a folder of frames, 'sample' (synthetic cells, clicked for you), "
        "or with --many a glob pattern such as 'data/*.tif'",
    )
    p.add_argument(
        "--points",
        help="CSV with header object_id,frame,y,x,label: (y, x) pixels, napari order; "
        "label 1 positive, 0 negative (commas, semicolons or tabs)",
    )
    p.add_argument(
        "--boxes", help="CSV with header object_id,frame,y0,x0,y1,x1: (y, x) pixels, napari order"
    )
    add_options(p, OutputSettings, required=("out",))
    add_options(p, SeedSettings)
    add_options(p, AutoSettings)
    add_options(p, ModelSettings)
    add_options(p, StackSettings)
    add_options(p, TrackingSettings, base=MICROSCOPY)
    add_options(p, SuspectSettings)
    p.add_argument(
        "--many",
        action="store_true",
        help="INPUT is a glob pattern; --out is a folder of NAME_labels.tif files (inputs with the "
        "same name in different folders are named by their relative path, e.g. a_m_labels.tif); "
        "prompts in NAME.points.csv / NAME.boxes.csv, or a label image NAME.masks.tif, beside each "
        "movie, or --masks FOLDER holding NAME.tif, or --auto; --table and --summary cover all "
        "movies",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="with --many: a dask.distributed scheduler address (e.g. tcp://host:8786)",
    )


def settings(args: argparse.Namespace) -> RunSettings:
    """The run's settings from the flags given (the types' defaults elsewhere); bad values are refused here.
    With --many, --out is the folder of the label files, kept apart from the outputs of one run."""
    outputs = read(args, OutputSettings, out=None) if args.many else read(args, OutputSettings)
    return RunSettings(
        model=read(args, ModelSettings),
        stack=read(args, StackSettings),
        tracking=read(args, TrackingSettings, base=MICROSCOPY),
        suspects=read(args, SuspectSettings),
        auto=read(args, AutoSettings),
        seeds=read(args, SeedSettings),
        outputs=outputs,
    )


def run(args: argparse.Namespace) -> int:
    from ..engine import batch

    run_settings = settings(args)
    seeds = run_settings.seeds
    if (
        args.points is None
        and args.boxes is None
        and seeds.masks is None
        and not seeds.auto
        and not args.many
        and args.input != "sample"
    ):
        raise ValueError(
            "give --points and/or --boxes (CSV files of prompts), --masks (a label image) or --auto "
            "(segment a frame automatically)"
        )
    if args.many:
        return _run_many(args, run_settings)
    if args.input != "sample" and not Path(args.input).exists():
        raise FileNotFoundError(f"input not found: {args.input}")
    truth = None
    if args.input == "sample":
        source, truth, prompts = _sample_movie()
        if args.points or args.boxes:  # the user's own prompts replace the sample's clicks
            prompts = batch.read_prompts(args.points, args.boxes)
        elif seeds.masks is not None or seeds.auto:  # so do a label image or the automatic seeds
            prompts = batch.Prompts()
    else:
        source, prompts = args.input, batch.read_prompts(args.points, args.boxes)
    # every output is checked before the model is built
    run_settings.outputs.check_paths(batch.run_inputs(source, prompts, run_settings))
    run_settings = replace(run_settings, model=prepare_model(run_settings.model))
    bar_update, bar = _progress_bar(Path(args.input).name)
    finished: set[int] = set()

    def update(event):
        finished.add(event.frame)  # the engine wrote this frame into the partial labels file first
        bar_update(event)

    outputs = run_settings.outputs
    try:
        r = batch.track_file(source, prompts, run_settings, progress=update)
    except KeyboardInterrupt:
        raise _Interrupted(_kept(outputs, finished)) from None
    except Exception:
        print(f"note: {_kept(outputs, finished)}", file=sys.stderr)
        raise
    finally:
        bar.close()
    print(_summary(r))
    for line in _object_lines(r):
        print(line)
    if r.window_choice:
        print(f"window auto: {r.window_choice}")
    for path in r.written:
        print(f"wrote {path}")
    if truth is not None:
        print(
            f"mean IoU with the true cells over all frames: {_mean_iou(r.written[0], truth, match_ids=seeds.auto):.3f}"
        )
    objects_lost = sum(bool(v) for v in r.lost_frames.values())
    if objects_lost:
        sys.stdout.flush()
        print(_lost_warning(objects_lost, r.objects, r.lost, r.object_frames), file=sys.stderr)
    if r.suspect:
        sys.stdout.flush()
        print(_suspect_warning(r), file=sys.stderr)
    return EXIT_OK


def _run_many(args: argparse.Namespace, run_settings: RunSettings) -> int:
    """``--many``: every file of the glob pattern, one after another or on a dask cluster; then the table and
    the summary of all movies, when asked for."""
    from ..engine import many

    outputs = run_settings.outputs
    extra = [option_of(OutputSettings, k).flag for k in outputs.given() if k not in MANY_OUTPUTS]
    if extra:
        raise ValueError(
            f"{', '.join(extra)} cannot be used with --many (each file gets its labels in --out; "
            "--table and --summary cover every movie)"
        )
    run_settings = replace(run_settings, model=prepare_model(run_settings.model))
    done = []

    def report(r):
        print(f"{r.input}: {_summary(r)} -> {r.written[0]}", flush=True)
        for line in _object_lines(r):
            print(line)
        done.append(r)

    many.track_many(
        args.input,
        run_settings,
        args.out,
        args.points,
        args.boxes,
        scheduler=args.scheduler,
        on_result=report,
    )
    print(_many_summary(done))
    for path in (outputs.table, outputs.summary):
        if path is not None:
            print(f"wrote {path}")
    bad = [r for r in done if r.lost]
    if bad:
        sys.stdout.flush()
        print(
            f"warning: objects are lost on some frames in {len(bad)} of {len(done)} files "
            f"({sum(r.lost for r in bad)} object-frames; listed above)",
            file=sys.stderr,
        )
    doubtful = [r for r in done if r.suspect]
    if doubtful:
        sys.stdout.flush()
        print(
            f"warning: {_plural(sum(r.suspect for r in doubtful), 'object-frame')} in {len(doubtful)} of "
            f"{len(done)} files are suspect (listed above): check them, and correct with a click where they "
            "are wrong",
            file=sys.stderr,
        )
    return EXIT_OK


def _many_summary(results) -> str:
    """One line for all movies: how many, their objects and object-frames, lost and suspect, and the seconds
    their tracking took (added over movies: on a cluster they overlap)."""
    return (
        f"{_plural(len(results), 'movie')}: {_plural(sum(r.objects for r in results), 'object')}, "
        f"{_plural(sum(r.object_frames for r in results), 'object-frame')}, {sum(r.lost for r in results)} "
        f"lost, {sum(r.suspect for r in results)} suspect; tracking took "
        f"{round(sum(r.seconds for r in results), 2)} s in all"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(r) -> str:
    """One line that adds up: objects, the frames that hold results, their object-frames, how many of those
    are lost and how many suspect (in how many objects)."""
    objects = sum(bool(v) for v in r.suspects.values())
    return (
        f"{_plural(r.objects, 'object')} tracked over {_plural(r.frames, 'frame')} in {r.seconds} s: "
        f"{_plural(r.object_frames, 'object-frame')}, {r.lost} lost, {r.suspect} suspect"
        + (f" in {_plural(objects, 'object')}" if r.suspect else "")
    )


def _kept(outputs: OutputSettings, finished: set) -> str:
    """What a run that stopped early kept (the partial labels file, the prompts) and what it did not write."""
    from ..io.label_files import partial_path

    partial = partial_path(outputs.out)
    before = "it is as it was" if outputs.out.exists() else "it does not exist"
    if partial.exists():  # made by this run: an older one was refused or replaced before it started
        text = (
            f"kept the prompted frames and {_plural(len(finished), 'finished frame')} in {partial} "
            f"(--out {outputs.out} was not written: {before})"
        )
    else:
        text = f"no labels were written (--out {outputs.out}: {before})"
    missing = [
        f"{option_of(OutputSettings, k).flag} {p}"
        for k, p in outputs.given().items()
        if k in ("table", "summary", "ctc", "geff", "trackmate")
    ]
    if missing:
        text += "; not written: " + ", ".join(missing)
    if (
        outputs.session is not None and partial.exists()
    ):  # the session file is written before the first frame
        text += f"; the prompts are in {outputs.session}"
    return text


def _sample_movie():
    """The bundled synthetic time-lapse, with one click on each cell's centre in frame 0."""
    from ..engine.batch import Prompts
    from ..synthetic import synthetic_cells

    image, truth = synthetic_cells(n_frames=SAMPLE_FRAMES, size=(256, 256), n_cells=6, seed=1)
    prompts = Prompts()
    for obj in np.unique(truth[0])[1:]:
        y, x = np.argwhere(truth[0] == obj).mean(0)
        prompts.points[(int(obj), 0)] = [
            (float(x), float(y), 1)
        ]  # Prompts hold the engine's (x, y)
    return image, truth, prompts


def _mean_iou(labels_path: str, truth: np.ndarray, match_ids: bool = False) -> float:
    """Mean IoU over the object-frames where the object is in the truth or in the written labels. With
    ``match_ids`` (objects seeded automatically, numbered their own way) each true cell is compared with
    the object that overlaps it most over the stack."""
    import tifffile

    from ..io.evaluate import mask_iou

    pred = tifffile.imread(labels_path)
    ids = {obj: obj for obj in np.unique(truth)[1:]}
    if match_ids:
        for obj in ids:
            hits = np.bincount(pred[truth == obj].ravel())
            hits[0] = 0
            ids[obj] = int(hits.argmax()) if hits.any() else -1
    pairs = ((truth[f] == obj, pred[f] == ids[obj]) for obj in ids for f in range(truth.shape[0]))
    ious = [mask_iou(a, b) for a, b in pairs if a.any() or b.any()]
    return float(np.mean(ious)) if ious else 0.0
