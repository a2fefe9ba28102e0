"""Label images as prompts: read and check a (Y, X) or (T, Y, X) label image whose values are object ids."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# the largest object id each output can hold: label files and the session are uint32, CTC masks uint16
LABEL_FILE_MAX_ID = 2**32 - 1
CTC_MAX_ID = 2**16 - 1


def check_label_image(
    arr, shape, where: str, max_id: int = LABEL_FILE_MAX_ID, holds: str = "a label file (uint32)"
) -> np.ndarray:
    """``arr`` as an integer ``(H, W)`` numpy array of ids (0 = background), or a ValueError naming ``where``.

    Refused: another shape than ``shape`` (H, W), float labels, negative labels, no object at all,
    and ids above ``max_id`` (``holds`` names the output that sets that limit). Bool images count
    as one object with id 1.
    """
    arr = np.asarray(arr)
    _check_dtype(arr, where)
    if arr.shape != tuple(shape):
        raise ValueError(
            f"{where}: the label image has shape {arr.shape}, the frames are {tuple(shape)}"
        )
    _check_values(arr, where, max_id, holds)
    if not arr.any():
        raise ValueError(f"no objects in {where}: every pixel is 0 (background)")
    return arr


def label_ids(arr: np.ndarray) -> list[int]:
    """The object ids (non-zero values) in a label image, ascending."""
    return [int(v) for v in np.unique(arr) if v != 0]


def read_label_prompts(
    source,
    num_frames: int,
    frame_shape,
    frame: int | None = None,
    max_id: int = LABEL_FILE_MAX_ID,
    holds: str = "a label file (uint32)",
) -> dict[int, np.ndarray]:
    """Mask prompts from a label image: ``{frame: (H, W) label image}`` for every frame with an object.

    source: a path (.tif/.tiff read lazily, .npy, .zarr) or an array. A ``(Y, X)`` image prompts
    ``frame`` (default 0); a ``(T, Y, X)`` stack must have ``num_frames`` frames and prompts every
    frame that has any label (``frame`` must then be None). The label value is the object id.
    Every problem is a ValueError naming the source (see :func:`check_label_image`); frames are
    read one at a time and only those with objects are kept.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "the label image"
    arr = _open(source, name)
    shape, frame_shape = tuple(arr.shape), tuple(int(s) for s in frame_shape)
    _check_dtype(arr, name)
    if len(shape) == 2:
        return _single(
            arr, name, num_frames, frame_shape, 0 if frame is None else frame, max_id, holds
        )
    if len(shape) != 3:
        raise ValueError(
            f"{name}: a label image must be (Y, X) or a (T, Y, X) stack, got shape {shape}"
        )
    if frame is not None:
        raise ValueError(
            f"{name} is a stack of {shape[0]} label images: a frame number applies only to a "
            "single (Y, X) label image (each frame of a stack prompts its own frame)"
        )
    if shape[0] != num_frames:
        raise ValueError(
            f"{name} has {shape[0]} frames, the movie has {num_frames}: give a (Y, X) label image "
            f"for one frame, or a stack of all {num_frames} frames"
        )
    if shape[1:] != frame_shape:
        raise ValueError(
            f"{name}: the label frames have shape {shape[1:]}, the movie's frames are {frame_shape}"
        )
    prompts = {}
    for t in range(num_frames):
        image = np.asarray(arr[t])
        _check_values(image, f"{name}, frame {t}", max_id, holds)
        if image.any():
            prompts[t] = image
    if not prompts:
        raise ValueError(
            f"no objects in {name}: every pixel of its {num_frames} frames is 0 (background)"
        )
    return prompts


def _single(arr, name, num_frames, frame_shape, frame, max_id, holds) -> dict[int, np.ndarray]:
    if not 0 <= frame < num_frames:
        raise ValueError(
            f"{name}: frame {frame} is outside the movie's {num_frames} frames (0..{num_frames - 1})"
        )
    return {frame: check_label_image(np.asarray(arr[...]), frame_shape, name, max_id, holds)}


def _open(source, name: str):
    """A lazy array for a path (TIFF pages read when indexed), the array itself otherwise."""
    if not isinstance(source, (str, os.PathLike)):
        return (
            source
            if hasattr(source, "shape") and hasattr(source, "__getitem__")
            else np.asarray(source)
        )
    path = Path(source)
    if not path.exists():
        raise ValueError(f"label image not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r")
        if suffix == ".zarr":
            import zarr

            return zarr.open_array(str(path), mode="r")
    except Exception as exc:
        raise ValueError(f"cannot read the label image {path}: {exc}") from None
    if suffix not in (".tif", ".tiff"):
        raise ValueError(f"{path}: a label image must be a .tif/.tiff, .npy or .zarr file")
    from .readers import open_frames

    return open_frames(path)  # its errors name the file


def _check_dtype(arr, where: str) -> None:
    kind = np.dtype(arr.dtype)
    if kind == bool:
        return
    if not np.issubdtype(kind, np.integer):
        raise ValueError(
            f"{where}: labels must be integers (one id per object, 0 = background), got {kind} "
            "values; save the label image with an integer type"
        )


def _check_values(arr: np.ndarray, where: str, max_id: int, holds: str) -> None:
    if arr.size == 0:
        return
    low, high = int(arr.min()), int(arr.max())
    if low < 0:
        raise ValueError(f"{where}: labels must not be negative, found {low}")
    if high > max_id:
        raise ValueError(
            f"{where}: label {high} does not fit {holds}: the largest id allowed is {max_id}"
        )
