"""``napari-sam2 track``: one stack (or the bundled sample, or many files) from CSV prompts or a label image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .common import EXIT_OK, _auto_settings, _model_name, _set_threads, _warn_random

SAMPLE_FRAMES = 20  # frames of the bundled synthetic movie ('sample')


class _Bar:
    """A tqdm progress bar made at the first frame (nothing is drawn for a run that fails before it)."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def update(self, event) -> None:
        if self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines instead
                print(f"{self.desc}: frame {event.frame} ({event.done}/{event.total})", file=sys.stderr)
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


def _lost_lines(lost: dict, shown: int = 5) -> list[str]:
    """One line per object that is lost somewhere: how often and the first few frames."""
    lines = []
    for oid, frames in sorted(lost.items()):
        if frames:
            first = ", ".join(str(f) for f in frames[:shown]) + (", ..." if len(frames) > shown else "")
            lines.append(f"  object {oid}: lost on {len(frames)} frame{'s' * (len(frames) != 1)} ({first})")
    return lines


def _lost_warning(objects_lost: int, objects: int, lost: int, object_frames: int) -> str:
    return (f"warning: {objects_lost} of {objects} objects are lost on some frames ({lost} of {object_frames} "
            "object-frames: an object score below the threshold, an empty mask, or hidden under another "
            "object); add prompts on those frames, or check the model and image size")


def run_track(args: argparse.Namespace) -> int:
    from ..engine import batch

    _set_threads(args.threads)
    if args.auto_frame and not args.auto:
        raise ValueError("--auto-frame says which frame --auto segments: give --auto too")
    if args.points is None and args.boxes is None and args.masks is None and not args.auto and not args.many \
            and args.input != "sample":
        raise ValueError("give --points and/or --boxes (CSV files of prompts), --masks (a label image) or --auto "
                         "(segment a frame automatically)")
    if args.many and (args.auto or args.auto_new is not None):
        raise ValueError("--auto and --auto-new cannot be used with --many: track the files one at a time")
    if args.masks_frame is not None and args.masks is None:
        raise ValueError("--masks-frame says which frame a --masks label image prompts: give --masks too")
    if args.many and args.masks is not None:
        raise ValueError("--masks cannot be used with --many (one label image fits one movie): track the files "
                         "one at a time, or give --points/--boxes")
    if args.many:  # batch.track_many checks every file's output before it starts
        extra = [f for f, v in (("--table", args.table), ("--ctc", args.ctc), ("--session", args.session),
                                ("--geff", args.geff), ("--trackmate", args.trackmate)) if v is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} cannot be used with --many (each file gets its labels in --out)")
    else:  # every output checked before anything else
        if args.input != "sample" and not Path(args.input).exists():
            raise FileNotFoundError(f"input file not found: {args.input}")
        inputs = [p for p in (args.points, args.boxes, args.masks) if p is not None]
        batch.check_outputs(args.out, args.table, args.ctc, args.session, args.geff, args.overwrite,
                            inputs=inputs + ([] if args.input == "sample" else [args.input]),
                            trackmate=args.trackmate)
    _warn_random(args.checkpoint)
    options = dict(model=_model_name(args.model, args.checkpoint), checkpoint=None if args.checkpoint == "none" else args.checkpoint,
                   image_size=args.image_size, axis=args.axis, device=args.device, overwrite=args.overwrite,
                   direction=args.direction or ("both" if args.axis == "z" else "forward"),
                   time_point=args.time_point, z=args.z, channel=args.channel,
                   precision=args.precision, memory_frames=args.memory_frames,
                   max_batch=args.max_batch, exclusive=args.exclusive, window=args.window)
    if args.auto or args.auto_new is not None:
        options.update(auto=_auto_settings(args), auto_frame=args.auto_frame if args.auto else None,
                       auto_new=args.auto_new)
    if args.many:
        lost_total = []

        def report(r):
            print(f"{r['input']}: {_summary(r)} -> {r['written'][0]}", flush=True)
            for line in _lost_lines(r["lost_frames"]):
                print(line)
            lost_total.append(r)

        batch.track_many(args.input, args.points, args.boxes, args.out, scheduler=args.scheduler,
                         on_result=report, **options)
        bad = [r for r in lost_total if r["lost"]]
        if bad:
            sys.stdout.flush()
            print(f"warning: objects are lost on some frames in {len(bad)} of {len(lost_total)} files "
                  f"({sum(r['lost'] for r in bad)} object-frames; listed above)", file=sys.stderr)
        return EXIT_OK
    truth = None
    if args.input == "sample":
        source, truth, prompts = _sample_movie()
        if args.points or args.boxes:  # the user's own prompts replace the sample's clicks
            prompts = batch.read_prompts(args.points, args.boxes)
        elif args.masks is not None or args.auto:  # so do a label image or the automatic seeds
            prompts = batch.Prompts()
    else:
        source, prompts = args.input, batch.read_prompts(args.points, args.boxes)
    bar_update, bar = _progress_bar(Path(args.input).name)
    finished: set[int] = set()

    def update(event):
        finished.add(event.frame)  # the engine wrote this frame into the partial labels file first
        bar_update(event)

    try:
        r = batch.track_file(source, prompts, args.out, table=args.table, ctc=args.ctc,
                             session_json=args.session, geff=args.geff, trackmate=args.trackmate, progress=update,
                             masks=args.masks, masks_frame=args.masks_frame, **options)
    except KeyboardInterrupt:
        raise _Interrupted(_kept(args, finished)) from None
    except Exception:
        print(f"note: {_kept(args, finished)}", file=sys.stderr)
        raise
    finally:
        bar.close()
    print(_summary(r))
    for line in _lost_lines(r["lost_frames"]):
        print(line)
    for path in r["written"]:
        print(f"wrote {path}")
    if truth is not None:
        print(f"mean IoU with the true cells over all frames: {_mean_iou(r['written'][0], truth, match_ids=args.auto):.3f}")
    objects_lost = sum(bool(v) for v in r["lost_frames"].values())
    if objects_lost:
        sys.stdout.flush()
        print(_lost_warning(objects_lost, r["objects"], r["lost"], r["object_frames"]), file=sys.stderr)
    return EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(r: dict) -> str:
    """One line that adds up: objects, the frames that hold results, their object-frames and how many are lost."""
    return (f"{_plural(r['objects'], 'object')} tracked over {_plural(r['frames'], 'frame')} in {r['seconds']} s: "
            f"{_plural(r['object_frames'], 'object-frame')}, {r['lost']} lost")


def _kept(args, finished: set) -> str:
    """What a run that stopped early kept (the partial labels file, the prompts) and what it did not write."""
    from ..io.label_files import partial_path

    partial = partial_path(args.out)
    before = "it is as it was" if Path(args.out).exists() else "it does not exist"
    if partial.exists():  # made by this run: an older one was refused or replaced before it started
        text = (f"kept the prompted frames and {_plural(len(finished), 'finished frame')} in {partial} "
                f"(--out {args.out} was not written: {before})")
    else:
        text = f"no labels were written (--out {args.out}: {before})"
    missing = [f"{flag} {path}" for flag, path in (("--table", args.table), ("--ctc", args.ctc), ("--geff", args.geff),
                                                   ("--trackmate", args.trackmate)) if path is not None]
    if missing:
        text += "; not written: " + ", ".join(missing)
    if args.session and partial.exists():  # the session file is written before the first frame
        text += f"; the prompts are in {args.session}"
    return text


def _sample_movie():
    """The bundled synthetic time-lapse, with one click on each cell's centre in frame 0."""
    from ..engine.batch import Prompts
    from ..synthetic import synthetic_cells

    image, truth = synthetic_cells(n_frames=SAMPLE_FRAMES, size=(256, 256), n_cells=6, seed=1)
    prompts = Prompts()
    for obj in np.unique(truth[0])[1:]:
        y, x = np.argwhere(truth[0] == obj).mean(0)
        prompts.points[(int(obj), 0)] = [(float(x), float(y), 1)]  # Prompts hold the engine's (x, y)
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

