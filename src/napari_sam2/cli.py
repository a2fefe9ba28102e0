"""Command line ``napari-sam2``: the parser, exit codes and warnings; the commands live in ``napari_sam2._cli``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings

# the commands live in napari_sam2._cli, one module each; main finds them here by name (COMMANDS)
from ._cli.common import EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER  # noqa: F401
from ._cli.evaluate import run_evaluate  # noqa: F401
from ._cli.finetune import run_finetune  # noqa: F401
from ._cli.segment import run_segment  # noqa: F401
from ._cli.track import run_track  # noqa: F401
from ._cli.weights import run_weights  # noqa: F401

EPILOG = """exit codes:
  0    success
  2    an error you can fix: bad arguments or input, an output that exists already
       (add --overwrite), a missing file or checkpoint; one 'error:' line says what
  130  interrupted (Ctrl-C); a track run keeps its finished frames in OUT.partial.tif
       (--out itself is written only when the run finishes) and its --session file
  1    an unexpected crash (a bug): the full traceback is printed; please report it

warnings about settings or inputs that make results worse are printed as 'warning:' lines."""


class Parser(argparse.ArgumentParser):
    """argparse without abbreviated options (``--memory`` must not silently mean ``--memory-frames``, and a
    later option must not change what an old abbreviation means), and usage errors as one line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_USER, f"error: {message} (see {self.prog} --help)\n")


def _number(kind: type, lo: float | None = None, hi: float | None = None, low_open: bool = False):
    """An argparse type: an int or float from ``lo`` to ``hi`` (either may be None: unbounded); with
    ``low_open`` the value must be above ``lo``."""
    word = "a whole number" if kind is int else "a number"
    if lo is not None and hi is not None:
        what = f"{word} from {lo} to {hi}"
    elif lo is not None:
        what = f"{word} above {lo}" if low_open else f"{word}, {lo} or more"
    else:
        what = word

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value != value or (lo is not None and (value <= lo if low_open else value < lo)) or \
                (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = word  # argparse names the type in its own messages
    return parse


def _input_size(text: str) -> int:
    """--image-size / --window: a multiple of 32 px, up to the largest model input."""
    from .model.configs import MAX_IMAGE_SIZE

    value = _number(int, 32, MAX_IMAGE_SIZE)(text)
    if value % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 from 32 to {MAX_IMAGE_SIZE}, got {text!r}")
    return value


def _window(text: str) -> int:
    value = _input_size(text)
    if value < 64:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 px, 64 or more, got {text!r}")
    return value


FRAME = _number(int, 0)  # a frame, slice or time point index
SHARE = _number(float, 0, 1)  # a threshold between 0 and 1


def _pair_list(text: str, n: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise argparse.ArgumentTypeError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return values


def _point(text: str) -> list[float]:
    """--point y,x[,label]: (y, x) pixels, napari's order like every file and CLI format (docs/coordinates.md)."""
    parts = text.split(",")
    if len(parts) == 2:
        parts.append("1")
    return _pair_list(",".join(parts), 3, "--point (y,x[,label])")


def _box(text: str) -> list[float]:
    """--box y0,x0,y1,x1: two corners in (y, x) pixels, the order of track's boxes CSV."""
    return _pair_list(text, 4, "--box (y0,x0,y1,x1)")


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



def _add_auto_options(parser) -> None:
    """The automatic mask generator's settings, shared by segment --auto and track --auto."""
    from .engine.auto import MAX_POINTS_PER_SIDE

    parser.add_argument("--points-per-side", type=_number(int, 1, MAX_POINTS_PER_SIDE), default=32, metavar="N",
                        help="automatic segmentation: a grid of N x N single clicks (default 32)")
    parser.add_argument("--auto-iou", type=SHARE, default=0.8, metavar="T",
                        help="automatic segmentation: keep masks whose predicted IoU is at least this, 0 to 1 "
                             "(default 0.8)")
    parser.add_argument("--auto-stability", type=SHARE, default=0.95, metavar="T",
                        help="automatic segmentation: keep masks whose stability score is at least this, 0 to 1 "
                             "(default 0.95)")
    parser.add_argument("--min-area", type=_number(int, 0), default=0, metavar="PX",
                        help="automatic segmentation: drop masks smaller than this many pixels (debris)")
    parser.add_argument("--max-area", type=_number(int, 1), default=None, metavar="PX",
                        help="automatic segmentation: drop masks larger than this many pixels (background)")

def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = Parser(prog="napari-sam2", description="SAM 2 for microscopy.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"napari-sam2 {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    seg = sub.add_parser("segment", help="segment one image or one frame from point/box prompts")
    seg.add_argument("input", help="a TIFF file (2D image or stack), or 'sample' for the synthetic cells")
    seg.add_argument("--frame", type=FRAME, default=0, help="frame of a (T, Y, X) stack to segment (default 0)")
    seg.add_argument("--point", type=_point, action="append", default=[],
                     help="y,x[,label]: (y, x) pixels, napari order (row, column; as in track's CSV); "
                          "label 1 positive (default), 0 negative; repeatable")
    seg.add_argument("--box", type=_box, default=None,
                     help="y0,x0,y1,x1: two corners in (y, x) pixels, napari order (as in track's CSV)")
    seg.add_argument("--model", default="auto", help=MODEL_HELP)
    seg.add_argument("--checkpoint", default="auto", help=CHECKPOINT_HELP)
    seg.add_argument("--image-size", type=_input_size, default=None, help=SIZE_HELP)
    seg.add_argument("--channel", type=_channel, default=None, help=CHANNEL_HELP)
    seg.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    seg.add_argument("--auto", action="store_true",
                     help="segment everything with the automatic mask generator instead of prompts: --out is a "
                          "label image (overlaps go to the better mask; see --min-area/--max-area)")
    _add_auto_options(seg)
    seg.add_argument("--out", required=True, help="output mask (label image with --auto), .tif")
    seg.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    trk = sub.add_parser("track", help="track objects through a time-lapse or volume from CSV prompts or a "
                                       "label image")
    trk.add_argument("input", help="a TIFF stack, 'sample' (synthetic cells, clicked for you), "
                                   "or with --many a glob pattern such as 'data/*.tif'")
    trk.add_argument("--points", help="CSV with header object_id,frame,y,x,label: (y, x) pixels, napari order; "
                          "label 1 positive, 0 negative")
    trk.add_argument("--boxes", help="CSV with header object_id,frame,y0,x0,y1,x1: (y, x) pixels, napari order")
    trk.add_argument("--masks", metavar="LABELS",
                     help="a label image (TIFF, .npy or .zarr; 0 = background) whose values are the object ids: "
                          "a (Y, X) image prompts frame --masks-frame, a (T, Y, X) stack of the movie's length "
                          "prompts every frame that has labels; clicks in --points for the same object and frame "
                          "correct its mask")
    trk.add_argument("--masks-frame", type=FRAME, default=None, metavar="N",
                     help="the frame a (Y, X) --masks image prompts (default 0)")
    trk.add_argument("--auto", action="store_true",
                     help="seed every object the automatic mask generator finds on --auto-frame (besides any "
                          "--points/--boxes/--masks; ids follow theirs)")
    trk.add_argument("--auto-frame", type=FRAME, default=0, metavar="N", help="the frame --auto segments (default 0)")
    trk.add_argument("--auto-new", type=_number(int, 1), default=None, metavar="K",
                     help="every K frames, add regions no tracked object covers as new cells and track them on "
                          "(forward tracking; uses the automatic segmentation settings)")
    _add_auto_options(trk)
    trk.add_argument("--out", required=True, help="labels output: .tif/.tiff or .zarr (with --many: a folder)")
    trk.add_argument("--model", default="auto", help=MODEL_HELP)
    trk.add_argument("--checkpoint", default="auto", help=CHECKPOINT_HELP)
    trk.add_argument("--image-size", type=_input_size, default=None, help=SIZE_HELP)
    trk.add_argument("--axis", choices=("t", "z"), default="t", help="track along time (t) or through a volume (z)")
    trk.add_argument("--time-point", type=FRAME, default=None, metavar="T",
                     help="for (T, Z, Y, X) data with --axis z: the time point whose volume is tracked")
    trk.add_argument("--z", type=FRAME, default=None,
                     help="for (T, Z, Y, X) data with --axis t: the slice that is tracked through time")
    trk.add_argument("--channel", type=_channel, default=None, help=CHANNEL_HELP)
    trk.add_argument("--direction", choices=("forward", "backward", "both"), default=None,
                     help="default: forward for time, both for volumes")
    trk.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                     help="where the model runs (default auto: a CUDA GPU, then Apple's MPS, then the CPU)")
    trk.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                     help="fp32 (exact) or the bf16 fast mode (GPUs, CPUs with AVX512-BF16/AMX)")
    trk.add_argument("--memory-frames", type=_number(int, 0), default=None, metavar="N",
                     help="fast mode: recent frames in the memory bank (default: the model's, 6 = exact)")
    trk.add_argument("--max-batch", type=_number(int, 1), default=16, metavar="N",
                     help="objects that go through the model at once (default 16): peak memory grows with it, "
                          "not with the number of objects; results agree to float rounding")
    trk.add_argument("--exclusive", action="store_true",
                     help="each pixel belongs to at most one object (the highest score wins), and each object's "
                          "memory is made from its exclusive mask: for touching cells")
    trk.add_argument("--window", type=_window, default=None, metavar="SIZE",
                     help="window mode: track each object in a SIZE px window of the frame at native scale "
                          "(a multiple of 32; the model runs at SIZE px input, so --image-size is not needed): "
                          "for small cells in large frames, e.g. 256 for the demo, 512 or 1024 for official models")
    trk.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    trk.add_argument("--table", help="also write a CSV of per-frame object properties (with a lost column)")
    trk.add_argument("--ctc", help="also write a Cell Tracking Challenge result folder")
    trk.add_argument("--session", help="also write the prompts and settings as JSON (written first, before "
                                       "tracking starts)")
    trk.add_argument("--geff", help="also write the lineage graph as a GEFF zarr store")
    trk.add_argument("--trackmate", help="also write the tracks as a TrackMate XML file (.xml) for Fiji")
    trk.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    trk.add_argument("--many", action="store_true",
                     help="INPUT is a glob pattern; --out is a folder of NAME_labels.tif files (inputs with the "
                          "same name in different folders are named by their relative path, e.g. a_m_labels.tif)")
    trk.add_argument("--scheduler", default=None,
                     help="with --many: a dask.distributed scheduler address (e.g. tcp://host:8786)")

    wts = sub.add_parser("weights", help="list, download or locate the official checkpoints")
    wsub = wts.add_subparsers(dest="action", required=True)
    wsub.add_parser("list", help="all known checkpoints and whether they are here")
    for action, text in (("download", "download (verified) into the cache"), ("path", "print the local file")):
        w = wsub.add_parser(action, help=text)
        w.add_argument("name", help="a checkpoint name from 'napari-sam2 weights list', e.g. sam2.1_hiera_tiny")

    ft = sub.add_parser("finetune", help="fine-tune a model on image stacks and their label stacks")
    ft.add_argument("images", help="TIFF stack (T, Y, X[, C]) or 2D image, a folder of frames, or a glob pattern")
    ft.add_argument("labels", help="the matching label stacks (same form; 0 = background, one id per cell)")
    ft.add_argument("--model", default="auto", help=MODEL_HELP)
    ft.add_argument("--checkpoint", default="auto", help="weights to start from: " + CHECKPOINT_HELP)
    ft.add_argument("--out", required=True, help="the fine-tuned checkpoint (.pt, official format)")
    ft.add_argument("--epochs", type=_number(float, 0, low_open=True), default=10.0, help="passes over all frames (default 10)")
    ft.add_argument("--train", default="mask_decoder,memory,prompt_encoder",
                    help="parts to train, comma separated among image_encoder, prompt_encoder, mask_decoder, "
                         "memory, or 'all' (default: all but the image encoder, for small machines)")
    ft.add_argument("--lr", type=_number(float, 0, 1, low_open=True), default=5e-5, help="peak learning rate (default 5e-5)")
    ft.add_argument("--clip-len", type=_number(int, 1), default=4, help="frames per training clip (default 4)")
    ft.add_argument("--clips", type=_number(int, 1), default=2, help="clips per step (default 2)")
    ft.add_argument("--image-size", type=_input_size, default=None, help=SIZE_HELP)
    ft.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                    help="where training runs (default auto: a CUDA GPU, then Apple's MPS, then the CPU)")
    ft.add_argument("--threads", type=_threads, default=None, help=THREADS_HELP)
    ft.add_argument("--seed", type=_number(int, 0), default=0,
                    help="random seed of the training clips and prompts (default 0): the same seed, the same run")
    ft.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    ev = sub.add_parser("evaluate", help="Cell Tracking Challenge metrics (DET, SEG, TRA, divisions) of a result")
    ev.add_argument("pred", help="CTC result folder: mask000.tif... + res_track.txt (e.g. from track --ctc)")
    ev.add_argument("gt", help="CTC ground-truth folder: TRA/man_track000.tif... + TRA/man_track.txt, optional SEG/")
    ev.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    return parser


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
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version (0) and usage errors (2, one 'error:' line)
        return done.code if isinstance(done.code, int) else EXIT_USER
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
