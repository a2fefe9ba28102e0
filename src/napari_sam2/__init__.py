"""napari-sam2: SAM 2 segmentation and tracking for microscopy, in napari and in scripts.

Importing this package never imports napari or Qt; the model and predictors work in plain
Python::

    from napari_sam2 import build_sam2, SAM2ImagePredictor
    model = build_sam2("sam2.1_hiera_tiny", checkpoint="sam2.1_hiera_tiny.pt")
    predictor = SAM2ImagePredictor(model)

Without ``checkpoint`` a named model loads its own weights from this machine (``build_sam2("demo")``
is the bundled demo model); ``checkpoint="auto"`` may download them; random weights only with
``checkpoint=None`` (docs/weights.md).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "build_sam2",
    "build_sam2_video_predictor",
    "SAM2ImagePredictor",
    "SAM2VideoPredictor",
    "SAM2AutomaticMaskGenerator",
    "CheckpointError",
    "__version__",
]


def __getattr__(name: str):
    # Lazy, so that `import napari_sam2` (e.g. by napari's plugin discovery) does not import torch.
    if name in ("build_sam2", "CheckpointError"):
        from . import loading

        return getattr(loading, name)
    if name in (
        "SAM2ImagePredictor",
        "SAM2VideoPredictor",
        "SAM2AutomaticMaskGenerator",
        "build_sam2_video_predictor",
    ):
        from . import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'napari_sam2' has no attribute {name!r}")
