"""napari sample data: a synthetic time-lapse of dividing cells and a synthetic nuclei volume, each
with its ground-truth labels."""

from __future__ import annotations

from ..synthetic import synthetic_dividing_cells, synthetic_volume


def sample_timelapse():
    """Layers for napari's File > Open Sample menu: a (T, Y, X) = (20, 256, 256) uint16 movie of
    six cells of which two divide, and its uint16 ground-truth labels (hidden).

    The labels layer's ``metadata["parents"]`` is ``{daughter_label: parent_label}``.
    """
    image, labels, parents = synthetic_dividing_cells(
        n_frames=20, size=(256, 256), n_cells=6, seed=1, divide=((2, 7), (5, 13))
    )
    return [
        (image, {"name": "synthetic cells (T,Y,X)", "colormap": "gray"}, "image"),
        (
            labels,
            {
                "name": "ground truth",
                "opacity": 0.3,
                "visible": False,
                "metadata": {"parents": parents},
            },
            "labels",
        ),
    ]


def sample_volume():
    """Layers for napari's File > Open Sample menu: a (Z, Y, X) = (32, 128, 128) uint16 stack of
    four nuclei and its uint16 ground-truth labels (hidden)."""
    image, labels = synthetic_volume(shape=(32, 128, 128), n_cells=4, seed=0)
    return [
        (image, {"name": "synthetic nuclei (Z,Y,X)", "colormap": "gray"}, "image"),
        (labels, {"name": "ground truth", "opacity": 0.3, "visible": False}, "labels"),
    ]
