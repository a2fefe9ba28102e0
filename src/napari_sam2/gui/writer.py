"""npe2 writer: save a napari Labels layer as a TIFF (no napari or Qt imports)."""

from __future__ import annotations

import numpy as np

from ..io.exports import write_labels_tiff


def write_labels(path: str, data, attributes: dict) -> list[str]:
    """Write one Labels layer's ``data`` to ``path`` as a TIFF and return ``[path]``.

    ``data`` is a (T, Y, X) or (Y, X) integer array (a (Z, Y, X) volume is stored the same way as
    (T, Y, X)); for multiscale labels (a list of arrays) the full-resolution level is written.
    Stored as uint16 (uint32 when an id is >= 65536); an existing file is replaced. ``attributes``
    (the layer's name, scale, ...) are not used.
    """
    if isinstance(data, (list, tuple)):
        data = data[0]
    written = write_labels_tiff(path, np.asarray(data), overwrite=True)
    return [str(written)]
