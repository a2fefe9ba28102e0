"""What the commands share: exit codes, the model name, torch's threads and the random-weights warning."""

from __future__ import annotations

import sys
from pathlib import Path

# exit codes (also in the --help epilog of napari_sam2.cli and docs/engine.md)
EXIT_OK, EXIT_BUG, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


def _model_name(requested: str, checkpoint) -> str:
    """Resolve 'auto' and say so when the demo model is used. With a checkpoint file 'auto' stays:
    building the model recognises it from the file, which is then read only once."""
    from ..loading import resolve_model_name
    from ..model.configs import DEMO, get_config
    from ..weights import DEMO_NOTICE

    if requested.strip().lower() == "auto" and checkpoint not in (None, "none", "auto"):
        return requested
    name = resolve_model_name(requested)
    if get_config(name).name == DEMO:
        print(f"note: using {DEMO_NOTICE}", file=sys.stderr)
    return name


def _set_threads(n: int | None) -> None:
    """Before any model work: torch fixes its thread pool at the first parallel operation."""
    from ..threads import set_threads

    set_threads(n)


def _warn_random(checkpoint: str) -> None:
    if checkpoint == "none":
        from ..notices import RandomWeightsWarning, warn_quality

        warn_quality("--checkpoint none: random weights, the masks mean nothing (plumbing and tests only)",
                     RandomWeightsWarning)



def _auto_settings(args):
    """The automatic mask generator's settings from the command line (engine.auto.AutoSettings)."""
    from ..engine.auto import AutoSettings

    return AutoSettings(points_per_side=args.points_per_side, pred_iou_thresh=args.auto_iou,
                        stability_score_thresh=args.auto_stability, min_area=args.min_area, max_area=args.max_area)


def check_file_output(path, flag: str, suffixes: tuple[str, ...], overwrite: bool, inputs=()) -> Path:
    """Refuse, before any work, a file output with the wrong suffix or one that would replace an input,
    a folder or (without ``overwrite``) an existing file (:func:`~napari_sam2.io.atomic.check_output`)."""
    from ..io.atomic import check_output, one_of

    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{flag} must end in {one_of(suffixes)}, got {path}")
    return check_output(path, overwrite=overwrite, inputs=[Path(p) for p in inputs], name=f"{flag} {path}")
