"""napari sample data: a synthetic cell time-lapse with its ground-truth labels."""

from __future__ import annotations

from .synthetic import synthetic_cells


def sample_timelapse():
    """Layers for napari's File > Open Sample menu."""
    image, labels = synthetic_cells(n_frames=20, size=(256, 256), n_cells=6, seed=1)
    return [
        (image, {"name": "synthetic cells (T,Y,X)", "colormap": "gray"}, "image"),
        (labels, {"name": "ground truth", "opacity": 0.3, "visible": False}, "labels"),
    ]
