"""Command line: ``napari-sam2 segment`` (one image), ``track`` (stacks, from CSV prompts) and ``weights``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

# exit codes (also in the --help epilog and docs/engine.md)
EXIT_OK, EXIT_BUG, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130
EPILOG = """exit codes:
  0    success
  2    an error you can fix: bad arguments or input, an output that exists already
       (add --overwrite), a missing file or checkpoint; one 'error:' line says what
  130  interrupted (Ctrl-C); a track run keeps its finished frames and its --session file
  1    an unexpected crash (a bug): the full traceback is printed; please report it

warnings about settings or inputs that make results worse are printed as 'warning:' lines."""
SAMPLE_FRAMES = 20  # frames of the bundled synthetic movie ('sample')


def _pair_list(text: str, n: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise argparse.ArgumentTypeError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values


def _point(text: str) -> list[float]:
    parts = text.split(",")
    if len(parts) == 2:
        parts.append("1")
    return _pair_list(",".join(parts), 3, "--point (x,y[,label])")


def _box(text: str) -> list[float]:
    return _pair_list(text, 4, "--box (x0,y0,x1,y1)")


def _channel(text: str) -> int | str:
    """--channel: a channel number, or 'grey' (the luminance of an RGB image)."""
    word = text.strip().lower()
    if word in ("grey", "gray"):
        return "grey"
    try:
        value = int(word)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--channel must be a channel number (0, 1, ...) or 'grey', got {text!r}")
    return value


def _threads(text: str) -> int:
    from .threads import check_threads

    try:
        return check_threads(text, "--threads")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


MODEL_HELP = ("model name, e.g. sam2.1_hiera_tiny, sam2_hiera_large, demo; 'auto' (default): sam2.1_hiera_tiny "
              "if its checkpoint is on this machine, else the bundled demo model")
CHECKPOINT_HELP = ("official-format .pt file; 'auto' (default) finds the model's file (downloads official ones); "
                   "'none' for random weights (plumbing only)")
SIZE_HELP = ("model input size, a multiple of 32 (default: the size the model was trained at, 1024 for official "
             "models, 256 for the demo). Smaller is faster but not free: outside 0.7-1.4x of the trained size "
             "masks get much worse, and a warning says so")
THREADS_HELP = ("CPU threads for torch (default: one less than the cores available, or $NAPARI_SAM2_THREADS). "
                "Every step waits for its slowest thread, so a thread that shares a core with another busy "
                "program slows the whole run: leave a core free on a shared machine")
CHANNEL_HELP = ("channel of multi-channel data: a number (0, 1, ...) or 'grey' for the luminance of an RGB "
                "image (default: RGB stays RGB)")


def _model_name(requested: str, checkpoint) -> str:
    """Resolve 'auto' and say so when the demo model is used. With a checkpoint file 'auto' stays:
    building the model recognises it from the file, which is then read only once."""
    from .model.build import resolve_model_name
    from .model.configs import DEMO, get_config
    from .weights import DEMO_NOTICE

    if requested.strip().lower() == "auto" and checkpoint not in (None, "none", "auto"):
        return requested
    name = resolve_model_name(requested)
    if get_config(name).name == DEMO:
        print(f"note: using {DEMO_NOTICE}", file=sys.stderr)
    return name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-sam2", description="SAM 2 for microscopy.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    seg = sub.add_parser("segment", help="segment one image or one frame from point/box prompts")
    seg.add_argument("input", help="a TIFF file (2D image or stack), or 'sample' for the synthetic cells")
    seg.add_argument("--frame", type=int, default=0, help="frame of a (T, Y, X) stack to segment (default 0)")
    seg.add_argument("--point", type=_point, action="append", default=[],
                     help="x,y[,label] in pixels; label 1 positive (default), 0 negative; repeatable")
    seg.add_argument("--box", type=_box, default=None, help="x0,y0,x1,y1 in pixels")
    seg.add_argument("--model", default="auto", help=MODEL_HELP)
    seg.add_argument("--checkpoint", default="auto", help=CHECKPOINT_HELP)
    seg.add_argument("--image-size", type=int, default=None, help=SIZE_HELP)
    seg.add_argument("--channel", type=_channel, default=None, help=CHANNEL_HELP)
    seg.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    seg.add_argument("--out", required=True, help="output mask, .tif")
    seg.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    trk = sub.add_parser("track", help="track objects through a time-lapse or volume from CSV prompts")
    trk.add_argument("input", help="a TIFF stack, 'sample' (synthetic cells, clicked for you), "
                                   "or with --many a glob pattern such as 'data/*.tif'")
    trk.add_argument("--points", help="CSV with header object_id,frame,y,x,label (label 1 positive, 0 negative)")
    trk.add_argument("--boxes", help="CSV with header object_id,frame,y0,x0,y1,x1")
    trk.add_argument("--out", required=True, help="labels output: .tif/.tiff or .zarr (with --many: a folder)")
    trk.add_argument("--model", default="auto", help=MODEL_HELP)
    trk.add_argument("--checkpoint", default="auto", help=CHECKPOINT_HELP)
    trk.add_argument("--image-size", type=int, default=None, help=SIZE_HELP)
    trk.add_argument("--axis", choices=("t", "z"), default="t", help="track along time (t) or through a volume (z)")
    trk.add_argument("--time-point", type=int, default=None, help="for (T, Z, Y, X) data with --axis z")
    trk.add_argument("--z", type=int, default=None, help="for (T, Z, Y, X) data with --axis t")
    trk.add_argument("--channel", type=_channel, default=None, help=CHANNEL_HELP)
    trk.add_argument("--direction", choices=("forward", "backward", "both"), default=None,
                     help="default: forward for time, both for volumes")
    trk.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    trk.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                     help="fp32 (exact) or the bf16 fast mode (GPUs, CPUs with AVX512-BF16/AMX)")
    trk.add_argument("--memory-frames", type=int, default=None,
                     help="fast mode: recent frames in the memory bank (default: the model's, 6 = exact)")
    trk.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    trk.add_argument("--table", help="also write a CSV of per-frame object properties (with a lost column)")
    trk.add_argument("--ctc", help="also write a Cell Tracking Challenge result folder")
    trk.add_argument("--session", help="also write the prompts and settings as JSON (written first, before "
                                       "tracking starts)")
    trk.add_argument("--geff", help="also write the lineage graph as a GEFF zarr store")
    trk.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    trk.add_argument("--many", action="store_true",
                     help="INPUT is a glob pattern; --out is a folder of NAME_labels.tif files (inputs with the "
                          "same name in different folders are named by their relative path, e.g. a_m_labels.tif)")
    trk.add_argument("--scheduler", default=None, help="with --many: a dask.distributed scheduler address")

    wts = sub.add_parser("weights", help="list, download or locate the official checkpoints")
    wsub = wts.add_subparsers(dest="action", required=True)
    wsub.add_parser("list", help="all known checkpoints and whether they are here")
    for action, text in (("download", "download (verified) into the cache"), ("path", "print the local file")):
        w = wsub.add_parser(action, help=text)
        w.add_argument("name", help="e.g. sam2.1_hiera_tiny")

    ft = sub.add_parser("finetune", help="fine-tune a model on image stacks and their label stacks")
    ft.add_argument("images", help="TIFF stack (T, Y, X[, C]) or 2D image, a folder of frames, or a glob pattern")
    ft.add_argument("labels", help="the matching label stacks (same form; 0 = background, one id per cell)")
    ft.add_argument("--model", default="auto", help=MODEL_HELP)
    ft.add_argument("--checkpoint", default="auto", help="weights to start from: " + CHECKPOINT_HELP)
    ft.add_argument("--out", required=True, help="the fine-tuned checkpoint (.pt, official format)")
    ft.add_argument("--epochs", type=float, default=10.0, help="passes over all frames (default 10)")
    ft.add_argument("--train", default="mask_decoder,memory,prompt_encoder",
                    help="parts to train, comma separated among image_encoder, prompt_encoder, mask_decoder, "
                         "memory, or 'all' (default: all but the image encoder, for small machines)")
    ft.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (default 5e-5)")
    ft.add_argument("--clip-len", type=int, default=4, help="frames per training clip (default 4)")
    ft.add_argument("--clips", type=int, default=2, help="clips per step (default 2)")
    ft.add_argument("--image-size", type=int, default=None, help=SIZE_HELP)
    ft.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    ft.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    ev = sub.add_parser("evaluate", help="Cell Tracking Challenge metrics (DET, SEG, TRA, divisions) of a result")
    ev.add_argument("pred", help="CTC result folder: mask000.tif... + res_track.txt (e.g. from track --ctc)")
    ev.add_argument("gt", help="CTC ground-truth folder: TRA/man_track000.tif... + TRA/man_track.txt, optional SEG/")
    ev.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    return parser


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


def _set_threads(n: int | None) -> None:
    """Before any model work: torch fixes its thread pool at the first parallel operation."""
    from .threads import set_threads

    set_threads(n)


def _warn_random(checkpoint: str) -> None:
    if checkpoint == "none":
        from .notices import RandomWeightsWarning, warn_quality

        warn_quality("--checkpoint none: random weights, the masks mean nothing (plumbing and tests only)",
                     RandomWeightsWarning)


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
    from .engine import batch

    _set_threads(args.threads)
    if args.points is None and args.boxes is None and not args.many and args.input != "sample":
        raise ValueError("give --points and/or --boxes (CSV files of prompts)")
    if args.many:  # batch.track_many checks every file's output before it starts
        extra = [f for f, v in (("--table", args.table), ("--ctc", args.ctc), ("--session", args.session),
                                ("--geff", args.geff)) if v is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} cannot be used with --many (each file gets its labels in --out)")
    else:  # every output checked before anything else
        if args.input != "sample" and not Path(args.input).exists():
            raise FileNotFoundError(f"input file not found: {args.input}")
        batch.check_outputs(args.out, args.table, args.ctc, args.session, args.geff, args.overwrite,
                            inputs=[] if args.input == "sample" else [args.input])
    _warn_random(args.checkpoint)
    options = dict(model=_model_name(args.model, args.checkpoint), checkpoint=None if args.checkpoint == "none" else args.checkpoint,
                   image_size=args.image_size, axis=args.axis, device=args.device, overwrite=args.overwrite,
                   direction=args.direction or ("both" if args.axis == "z" else "forward"),
                   time_point=args.time_point, z=args.z, channel=args.channel,
                   precision=args.precision, memory_frames=args.memory_frames)
    if args.many:
        lost_total = []

        def report(r):
            print(f"{r['input']}: {r['objects']} objects, {r['frames']} frames, {r['seconds']} s, "
                  f"{r['lost']} of {r['object_frames']} object-frames lost -> {r['written'][0]}", flush=True)
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
    else:
        source, prompts = args.input, batch.read_prompts(args.points, args.boxes)
    bar_update, bar = _progress_bar(Path(args.input).name)
    finished: set[int] = set()

    def update(event):
        finished.add(event.frame)  # the engine wrote this frame into --out before telling us
        bar_update(event)

    try:
        r = batch.track_file(source, prompts, args.out, table=args.table, ctc=args.ctc,
                             session_json=args.session, geff=args.geff, progress=update, **options)
    except KeyboardInterrupt:
        if finished:
            kept = f"kept {len(finished)} finished frames in {args.out}"
            raise _Interrupted(kept + (f"; the prompts are in {args.session}" if args.session else "")) from None
        raise
    except Exception:
        if finished:
            print(f"note: {len(finished)} frames finished before the error are in {args.out}", file=sys.stderr)
        raise
    finally:
        bar.close()
    print(f"{r['objects']} objects tracked over {r['frames']} frames in {r['seconds']} s; "
          f"{r['lost']} of {r['object_frames']} object-frames lost")
    for line in _lost_lines(r["lost_frames"]):
        print(line)
    for path in r["written"]:
        print(f"wrote {path}")
    if truth is not None:
        print(f"mean IoU with the true cells over all frames: {_mean_iou(r['written'][0], truth):.3f}")
    objects_lost = sum(bool(v) for v in r["lost_frames"].values())
    if objects_lost:
        sys.stdout.flush()
        print(_lost_warning(objects_lost, r["objects"], r["lost"], r["object_frames"]), file=sys.stderr)
    return EXIT_OK


def _sample_movie():
    """The bundled synthetic time-lapse, with one click on each cell's centre in frame 0."""
    from .engine.batch import Prompts
    from .synthetic import synthetic_cells

    image, truth = synthetic_cells(n_frames=SAMPLE_FRAMES, size=(256, 256), n_cells=6, seed=1)
    prompts = Prompts()
    for obj in np.unique(truth[0])[1:]:
        y, x = np.argwhere(truth[0] == obj).mean(0)
        prompts.points[(int(obj), 0)] = [(float(x), float(y), 1)]
    return image, truth, prompts


def _mean_iou(labels_path: str, truth: np.ndarray) -> float:
    import tifffile

    pred = tifffile.imread(labels_path)
    ious = []
    for obj in np.unique(truth)[1:]:
        for f in range(truth.shape[0]):
            a, b = truth[f] == obj, pred[f] == obj
            union = np.logical_or(a, b).sum()
            if union:
                ious.append(np.logical_and(a, b).sum() / union)
    return float(np.mean(ious)) if ious else 0.0


def run_finetune(args: argparse.Namespace) -> int:
    from . import build_sam2
    from .engine.batch import pick_device
    from .train.files import read_pairs
    from .train.trainer import PARTS, Stage, TrainConfig, finetune, steps_for_epochs

    _set_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists already (use --overwrite to replace it)")
    parts = PARTS if args.train.strip() == "all" else tuple(p.strip() for p in args.train.split(",") if p.strip())
    pairs = read_pairs(args.images, args.labels)
    checkpoint = None if args.checkpoint == "none" else args.checkpoint
    model = build_sam2(_model_name(args.model, checkpoint), checkpoint=checkpoint, image_size=args.image_size,
                       device=pick_device(args.device))
    stage = Stage(0, args.clip_len, args.clips)
    stage.steps = steps_for_epochs(pairs, args.epochs, stage)
    cfg = TrainConfig(stages=[stage], lr=args.lr, parts=parts, seed=args.seed, warmup=min(20, stage.steps // 5 + 1))
    print(f"fine-tuning {model.cfg.name} ({', '.join(parts)}) on {len(pairs)} pair(s): {stage.steps} steps "
          f"of {args.clips} clip(s) x {args.clip_len} frames", file=sys.stderr)
    try:
        from tqdm import tqdm

        bar = tqdm(total=stage.steps, unit="step", file=sys.stderr)
    except ImportError:
        bar = None

    def progress(step, total, record):
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            bar.update(1)
        elif step % 10 == 0 or step == total:
            print(f"step {step}/{total} loss {record['loss']:.3f}", file=sys.stderr)

    try:
        history = finetune(model, pairs, cfg, out=out, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    first, last = history[0]["loss"], np.mean([r["loss"] for r in history[-max(1, len(history) // 10):]])
    print(f"loss {first:.3f} -> {last:.3f}; wrote {out} (load it with --model {model.cfg.name} --checkpoint {out})")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from . import weights

    if args.action == "list":
        print(f"cache: {weights.cache_dir()}")
        for name, info in weights.REGISTRY.items():
            local = weights.cached_path(name)
            where = ("bundled demo (not SAM 2 quality): " if info.bundled else "here: ") + str(local) if local \
                else "not downloaded"
            print(f"{name:<24} ~{info.size_mb:>4} MB  {where}")
        print(f"'auto' uses: {weights.default_model()}")
        return 0
    if args.action == "download":
        print(weights.download(args.name, progressbar=sys.stderr.isatty()))
        return 0
    print(weights.resolve_checkpoint(args.name, allow_download=False))
    return 0


def _load_frame(source: str, frame: int, channel: int | str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """One (Y, X) or (Y, X, 3) frame of a TIFF (a 2D or RGB image, or frame ``frame`` of a stack),
    the channel chosen by :func:`~napari_sam2.engine.stack.stack_view`; and the true cells for 'sample'."""
    from .engine.stack import stack_view

    truth = None
    if source == "sample":
        from .synthetic import synthetic_cells

        data, truth = synthetic_cells(n_frames=max(frame + 1, 1), size=(256, 256), n_cells=6, seed=1)
        truth = truth[frame] if 0 <= frame < len(truth) else None
    else:
        import tifffile

        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"input file not found: {path}")
        try:
            data = tifffile.imread(path)
        except Exception as exc:  # tifffile raises many kinds for a file that is not a TIFF
            raise ValueError(f"cannot read {path} as TIFF: {exc}") from None
        if data.ndim == 2 or (data.ndim == 3 and data.shape[-1] in (3, 4)):
            if channel is None:
                return data, None  # an image as it is (RGB or RGBA included)
            data = data[None]  # one frame of a stack, so that stack_view picks the channel
        elif data.ndim not in (3, 4):
            raise ValueError(f"{path} has shape {data.shape}; expected (Y, X), (Y, X, C), (T, Y, X) or (T, Y, X, C)")
    if not 0 <= frame < data.shape[0]:
        raise ValueError(f"--frame {frame} is outside the stack of {data.shape[0]} frames")
    return np.asarray(stack_view(data, channel=channel)[frame]), truth


def run_segment(args: argparse.Namespace) -> int:
    import tifffile

    _set_threads(args.threads)
    if not args.point and args.box is None:
        raise ValueError("give at least one --point or a --box")
    out = Path(args.out)
    if (out.exists() or out.is_symlink()) and not args.overwrite:
        raise FileExistsError(f"{out} exists already (use --overwrite to replace it)")
    image, truth = _load_frame(args.input, args.frame, args.channel)

    from . import SAM2ImagePredictor, build_sam2

    checkpoint = None if args.checkpoint == "none" else args.checkpoint
    _warn_random(args.checkpoint)
    t0 = time.perf_counter()
    model = build_sam2(_model_name(args.model, args.checkpoint), checkpoint=checkpoint, image_size=args.image_size)
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(image)
    t1 = time.perf_counter()
    pts = np.array([p[:2] for p in args.point]) if args.point else None
    labels = np.array([int(p[2]) for p in args.point]) if args.point else None
    single_click = args.box is None and len(args.point) == 1
    masks, scores, _ = predictor.predict(pts, labels, box=args.box, multimask_output=single_click)
    best = int(np.argmax(scores))
    mask = masks[best].astype(np.uint8)
    t2 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(out, mask)
    line = f"mask: {int(mask.sum())} px, predicted IoU {scores[best]:.3f}; encode {t1 - t0:.2f} s, prompt {t2 - t1:.3f} s"
    if truth is not None and pts is not None:
        x, y = int(pts[0][0]), int(pts[0][1])
        cell = truth == truth[y, x] if truth[y, x] else None
        if cell is not None:
            iou = np.logical_and(cell, mask).sum() / max(np.logical_or(cell, mask).sum(), 1)
            line += f"; IoU with the true cell {iou:.3f}"
    print(line)
    print(f"wrote {out}")
    return EXIT_OK


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from .engine.evaluate import evaluate_ctc

    metrics = evaluate_ctc(args.pred, args.gt)
    for key, value in metrics.items():
        if key == "issues":
            for issue in value:
                print(f"issue: {issue}")
        else:
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def _expected(exc: BaseException) -> bool:
    """Errors the user can fix, which our checks word for them: one 'error:' line, exit code 2.
    Anything else is a bug and keeps its traceback."""
    from .weights import WeightsError

    return isinstance(exc, (ValueError, OSError, WeightsError))  # CheckpointError is a ValueError


def _message(exc: BaseException) -> str:
    if isinstance(exc, FileExistsError) and exc.filename and "--overwrite" not in str(exc):
        return f"{exc.filename} exists already (use --overwrite to replace it)"  # the library's wording is for Python
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


@contextlib.contextmanager
def _quality_warnings_as_lines():
    """Show QualityWarning (and RandomWeightsWarning) as one 'warning: ...' line on stderr, each message
    once, without Python's file/line boilerplate; other warnings are shown as usual."""
    from .notices import QualityWarning, RandomWeightsWarning

    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", QualityWarning)  # each command reports its own, even in one process
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if isinstance(category, type) and issubclass(category, QualityWarning):
                text = str(message)
                # one random-weights line is enough, whichever layer says it first
                key = "random weights" if issubclass(category, RandomWeightsWarning) else text
                if key not in shown:
                    shown.add(key)
                    print(f"warning: {text}", file=sys.stderr, flush=True)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


COMMANDS = {"segment": "run_segment", "weights": "run_weights", "track": "run_track", "evaluate": "run_evaluate",
            "finetune": "run_finetune"}


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the exit code (see :data:`EPILOG`)."""
    args = build_parser().parse_args(argv)  # usage errors exit here with code 2 (argparse)
    try:
        with _quality_warnings_as_lines():
            return globals()[COMMANDS[args.command]](args)
    except KeyboardInterrupt as exc:
        sys.stdout.flush()
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        sys.stdout.flush()
        if _expected(exc):
            print(f"error: {_message(exc)}", file=sys.stderr)
            return EXIT_USER
        traceback.print_exc()
        print("napari-sam2: unexpected error, a bug; please report it with the traceback above", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
