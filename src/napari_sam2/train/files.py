"""Reading (image, labels) training pairs from files: TIFF stacks, image folders or glob patterns."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from ..io.readers import open_frames


def input_paths(spec: str) -> list[str]:
    """The files (or frame folders) a spec names: a path, or the files a glob pattern matches."""
    if any(c in spec for c in "*?["):
        found = sorted(glob.glob(spec))
        if not found:
            raise ValueError(f"no files match {spec!r}")
        return found
    if not Path(spec).exists():
        raise ValueError(f"not found: {spec}")
    return [spec]


def read_pairs(images: str, labels: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs from two specs (a TIFF file, a folder of frames, or a glob pattern each), matched in sorted order."""
    image_paths, label_paths = input_paths(images), input_paths(labels)
    if len(image_paths) != len(label_paths):
        raise ValueError(
            f"{len(image_paths)} image files but {len(label_paths)} label files: they must pair up"
        )
    pairs = []
    for ip, lp in zip(image_paths, label_paths):
        image, label = np.asarray(open_frames(ip)[:]), np.asarray(open_frames(lp)[:])
        if label.ndim == 4 and label.shape[-1] == 1:
            label = label[..., 0]
        pairs.append((image, label))
    return pairs
