"""Video frames from arrays or files, read and preprocessed one at a time (never all in memory, never as JPEG).

A :class:`FrameSource` takes ``(T, H, W)`` or ``(T, H, W, C)`` data — numpy, dask, zarr,
a tifffile memmap — or a path to a TIFF stack or a folder of images, and returns each
frame as the ``(3, S, S)`` standardised tensor the model needs:

* uint8 frames (grey or RGB) follow the official loader exactly: PIL resize (its default filter)
  of the RGB picture to ``S x S``, then ``/ 255`` and the ImageNet mean/std.
* Other dtypes get ONE linear contrast window for the whole stack (explicit
  ``contrast_limits`` or the 0.1/99.9 percentiles of a sample of frames), so intensities
  do not flicker from frame to frame, then an antialiased bilinear resize.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .preprocess import DEFAULT_PERCENTILES, IMAGENET_MEAN, IMAGENET_STD, to_model_input, to_unit_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}


class _ImageFolder:
    """A folder of single-frame images as a lazy ``(T, H, W[, C])`` array (frames sorted by the number in the name)."""

    def __init__(self, folder: Path) -> None:
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in folder {folder}")

        def key(p: Path):
            nums = re.findall(r"\d+", p.stem)
            return (int(nums[-1]) if nums else -1, p.name)

        self.files = sorted(files, key=key)
        first = self._read(0)
        self.shape = (len(self.files), *first.shape)
        self.dtype = first.dtype
        self.ndim = len(self.shape)

    def _read(self, i: int) -> np.ndarray:
        path = self.files[i]
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB") if im.mode not in ("L", "I;16", "I", "F", "RGB") else im)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return self._read(i)


def _open_tiff(path: Path):
    import tifffile

    try:
        return tifffile.memmap(path, mode="r")
    except Exception:
        # compressed or tiled files cannot be memory-mapped; zarr reads them chunk by chunk
        try:
            import zarr

            return zarr.open(tifffile.imread(path, aszarr=True), mode="r")
        except ImportError:
            return tifffile.imread(path)


def open_frames(frames) -> object:
    """Resolve a path into a lazy array; arrays are returned as they are."""
    if isinstance(frames, (str, os.PathLike)):
        path = Path(frames)
        if path.is_dir():
            return _ImageFolder(path)
        if not path.exists():
            raise ValueError(f"video path not found: {path}")
        if path.suffix.lower() in (".tif", ".tiff"):
            try:
                return _open_tiff(path)
            except Exception as exc:
                raise ValueError(f"cannot read {path} as a TIFF stack: {exc}") from None
        raise ValueError(f"unsupported video path {path}: give a TIFF stack, a folder of images or an array")
    if not hasattr(frames, "shape") or not hasattr(frames, "__getitem__"):
        frames = np.asarray(frames)
    return frames


class FrameSource:
    """Per-frame access to a video, preprocessed for a model of input size ``image_size``."""

    def __init__(self, frames, image_size: int, contrast_limits: tuple[float, float] | None = None,
                 sample_frames: int = 16) -> None:
        self.data = open_frames(frames)
        shape = tuple(self.data.shape)
        if len(shape) == 4 and shape[-1] in (1, 3, 4):
            self.channels = shape[-1]
        elif len(shape) == 3:
            self.channels = 1
        else:
            raise ValueError(f"frames must have shape (T, H, W) or (T, H, W, C) with C in 1, 3, 4; got {shape}")
        if shape[0] < 1 or shape[1] < 1 or shape[2] < 1:
            raise ValueError(f"frames are empty: shape {shape}")
        self.num_frames, self.height, self.width = int(shape[0]), int(shape[1]), int(shape[2])
        self.image_size = image_size
        self.dtype = np.dtype(self.data.dtype)
        self.official_uint8 = self.dtype == np.uint8 and contrast_limits is None
        if self.official_uint8:
            self.contrast_limits = None
        elif contrast_limits is not None:
            lo, hi = (float(v) for v in contrast_limits)
            if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
                raise ValueError(f"contrast_limits must be finite with lo <= hi, got {contrast_limits}")
            self.contrast_limits = (lo, hi)
        else:
            self.contrast_limits = self._stack_limits(sample_frames)

    def __len__(self) -> int:
        return self.num_frames

    def _stack_limits(self, n: int) -> tuple[float, float]:
        idx = np.unique(np.linspace(0, self.num_frames - 1, min(n, self.num_frames)).round().astype(int))
        sample = np.stack([self.raw(i) for i in idx])
        lo, hi = np.percentile(sample.astype(np.float64), DEFAULT_PERCENTILES)
        return float(lo), float(hi)

    def raw(self, idx: int) -> np.ndarray:
        """Frame ``idx`` as stored, ``(H, W)`` or ``(H, W, C)``; NaNs are an error."""
        if not 0 <= idx < self.num_frames:
            raise IndexError(f"frame index {idx} is outside the video of {self.num_frames} frames")
        frame = np.asarray(self.data[idx])
        if frame.ndim == 3 and frame.shape[-1] == 1:
            frame = frame[..., 0]
        if np.issubdtype(frame.dtype, np.floating) and not np.isfinite(frame).all():
            raise ValueError(f"frame {idx} contains NaN or infinite values")
        return frame

    def __getitem__(self, idx: int) -> torch.Tensor:
        """Frame ``idx`` as the model's ``(3, S, S)`` float32 input."""
        frame = self.raw(idx)
        if self.official_uint8:
            rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=-1)
            pic = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize((self.image_size, self.image_size))
            x = torch.from_numpy(np.asarray(pic) / 255.0).permute(2, 0, 1).float()
            mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
            std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
            return (x - mean) / std
        return to_model_input(to_unit_rgb(frame, self.contrast_limits), self.image_size)[0]
