"""Command line ``napari-sam2``: one module per command, each with its parser and its run function, found in
:data:`COMMANDS`; here the exit codes, the wording of errors and warnings, and :func:`main`."""

from __future__ import annotations

import contextlib
import sys
import traceback
import warnings

from . import evaluate, finetune, segment, track, weights
from .common import EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER
from .options import Parser, worded

# the commands, in the order --help lists them: each module has add_parser(subparsers) and run(args)
COMMANDS = {
    "segment": segment,
    "track": track,
    "weights": weights,
    "finetune": finetune,
    "evaluate": evaluate,
}

EPILOG = """exit codes:
  0    success
  2    an error you can fix: bad arguments or input, an output that exists already
       (add --overwrite) or that would replace something that is not ours, a missing file or
       checkpoint; one 'error:' line says what
  130  interrupted (Ctrl-C); a track run keeps its finished frames in OUT.partial.tif
       (--out itself is written only when the run finishes) and its --session file
  1    an unexpected crash (a bug): the full traceback is printed; please report it

warnings about settings or inputs that make results worse are printed as 'warning:' lines."""

__all__ = [
    "COMMANDS",
    "EXIT_BUG",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USER",
    "build_parser",
    "main",
]


def build_parser() -> Parser:
    from .. import __version__

    parser = Parser(prog="napari-sam2", description="SAM 2 for microscopy.", epilog=EPILOG)
    parser.add_argument(
        "--version",
        action="version",
        version=f"napari-sam2 {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def _expected(exc: BaseException) -> bool:
    """Errors the user can fix, which our checks word for them: one 'error:' line, exit code 2.
    Anything else is a bug and keeps its traceback."""
    from ..weights import WeightsError

    return isinstance(
        exc, (ValueError, OSError, WeightsError)
    )  # CheckpointError, SettingError: ValueErrors


def _message(exc: BaseException) -> str:
    if isinstance(exc, FileExistsError) and exc.filename and "--overwrite" not in str(exc):
        return f"{exc.filename} exists already (use --overwrite to replace it)"  # the library's wording is for Python
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return worded(exc)


@contextlib.contextmanager
def _quality_warnings_as_lines():
    """Show QualityWarning (and RandomWeightsWarning) as one 'warning: ...' line on stderr, each message
    once, without Python's file/line boilerplate; other warnings are shown as usual."""
    from ..notices import QualityWarning, RandomWeightsWarning

    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter(
            "always", QualityWarning
        )  # each command reports its own, even in one process
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


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the exit code (see :data:`EPILOG`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version (0) and usage errors (2, one 'error:' line)
        return done.code if isinstance(done.code, int) else EXIT_USER
    try:
        with _quality_warnings_as_lines():
            return COMMANDS[args.command].run(args)
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
        print(
            "napari-sam2: unexpected error, a bug; please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
