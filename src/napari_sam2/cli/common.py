"""What the commands share: exit codes, and the model settings made ready before any model work."""

from __future__ import annotations

import sys
from pathlib import Path

from ..settings import ModelSettings

# exit codes (also in the --help epilog of napari_sam2.cli and docs/engine.md)
EXIT_OK, EXIT_BUG, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


def prepare_model(model: ModelSettings) -> ModelSettings:
    """Before any model work: torch's threads are set (it fixes its thread pool at the first parallel
    operation), random weights are named in a warning, and 'auto' is resolved, with a note when it means the
    demo model. With a checkpoint file 'auto' stays: building the model recognises it from the file."""
    from ..loading import resolve_model_name
    from ..model.configs import DEMO, get_config
    from ..threads import set_threads
    from ..weights import DEMO_NOTICE

    set_threads(model.threads)
    if model.checkpoint is None:
        from ..notices import RandomWeightsWarning, warn_quality

        warn_quality(
            "--checkpoint none: random weights, the masks mean nothing (plumbing and tests only)",
            RandomWeightsWarning,
        )
    if model.model.strip().lower() == "auto" and model.checkpoint not in (None, "auto", "local"):
        return model
    name = resolve_model_name(model.model)
    if get_config(name).name == DEMO:
        print(f"note: using {DEMO_NOTICE}", file=sys.stderr)
    return model.replaced(model=name)


def check_file_output(
    path, flag: str, suffixes: tuple[str, ...], overwrite: bool, inputs=()
) -> Path:
    """Refuse, before any work, a file output with the wrong suffix or one that would replace an input,
    a folder or (without ``overwrite``) an existing file (:func:`~napari_sam2.io.atomic.check_output`)."""
    from ..io.atomic import check_output, one_of

    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{flag} must end in {one_of(suffixes)}, got {path}")
    return check_output(
        path, overwrite=overwrite, inputs=[Path(p) for p in inputs], name=f"{flag} {path}"
    )
