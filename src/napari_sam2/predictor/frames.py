"""Video frames from arrays or files, read and preprocessed one at a time (never all in memory, never as JPEG).

A :class:`FrameSource` takes ``(T, H, W)`` or ``(T, H, W, C)`` data — numpy, dask, zarr,
a tifffile memmap — or a path to a TIFF stack or a folder of images, and returns each
frame as the ``(3, S, S)`` standardised tensor the model needs:

* uint8 frames (grey or RGB) follow the official loader exactly: PIL resize (its default filter)
  of the RGB picture to ``S x S``, then ``/ 255`` and the ImageNet mean/std.
* Other dtypes get ONE linear contrast window for the whole stack (explicit
  ``contrast_limits`` or the 0.1/99.9 percentiles of a sample of frames), so intensities
  do not flicker from frame to frame, then an antialiased bilinear resize.
* ``channel``: a number picks one channel of ``(T, H, W, C)`` data; ``"grey"`` turns colour
  into its luminance (float32, so it gets the stack's contrast window) — what a model trained
  on grey frames only (the bundled demo) needs, see :func:`warn_if_colour`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..notices import warn_quality
from .preprocess import (DEFAULT_PERCENTILES, IMAGENET_MEAN, IMAGENET_STD, grey_model_advice, is_colour, pick_channel,
                         to_model_input, to_unit_rgb)

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


class _Records:
    """Collects what tifffile logs while a file is parsed (it logs, not raises, on a broken page chain)."""

    def __init__(self) -> None:
        import logging

        self.messages: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.messages.append(record.getMessage())
        self.logger = logging.getLogger("tifffile")

    def __enter__(self) -> "_Records":
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)


def _data_end(page) -> int:
    return max((o + c for o, c in zip(page.dataoffsets, page.databytecounts)), default=0)


def check_tiff(path: str | os.PathLike) -> None:
    """Raise a ValueError naming ``path`` when the TIFF is damaged or cut short: pages whose data lie
    past the end of the file, a broken chain of pages, or fewer frames than its metadata declares.
    The message says what could be read. (tifffile itself would return the first page or pages as
    if they were the whole file.)"""
    import tifffile

    path = Path(path)
    size = path.stat().st_size
    try:
        _check_tiff(path, size, tifffile)
    except tifffile.TiffFileError as exc:  # the structure itself is cut or garbled
        raise ValueError(f"cannot read {path}: it is a damaged or truncated TIFF, or not a TIFF ({size} bytes; "
                         f"{exc}). Copy or export the file again") from None


def _check_tiff(path: Path, size: int, tifffile) -> None:
    with _Records() as log, tifffile.TiffFile(path) as tif:
        pages = tif.pages
        n_pages = len(pages)  # walks the whole chain of pages; a broken link is logged
        last = pages[n_pages - 1] if n_pages else None
        series = tif.series[0] if tif.series else None
        declared = None
        if tif.is_imagej and tif.imagej_metadata:
            declared = tif.imagej_metadata.get("images")
        elif tif.is_shaped and tif.shaped_metadata and "shape" in tif.shaped_metadata[0]:
            shape = tuple(tif.shaped_metadata[0]["shape"])
            declared = int(np.prod(shape[:-2])) if len(shape) > 2 and shape[-1] not in (3, 4) else \
                int(np.prod(shape[:-3])) if len(shape) > 3 else 1
        contiguous_end = None
        if series is not None and getattr(series, "dataoffset", None) is not None:
            contiguous_end = series.dataoffset + series.nbytes
        # tifffile prefixes its messages with the object's repr ("<tifffile.TiffPages @8> ...")
        broken = [m.split("> ", 1)[-1] for m in log.messages if "invalid" in m.lower() or "corrupt" in m.lower()]
        # ImageJ writes big stacks as one page followed by all frames' data: then fewer pages are fine
        all_data_present = contiguous_end is not None and contiguous_end <= size
        damaged = (bool(broken) or (last is not None and _data_end(last) > size)
                   or (contiguous_end is not None and contiguous_end > size)
                   or (declared is not None and declared > n_pages and not all_data_present))
        if not damaged:
            return
        complete = 0
        for page in pages:
            if page.dataoffsets and _data_end(page) <= size:
                complete += 1
            else:
                break
        first = pages[0] if n_pages else None
    what = (f"{complete} complete page(s) of {first.shape} {first.dtype} could be read" if first is not None
            else "no page could be read")
    if declared is not None:
        what += f" of the {declared} its metadata declare"
    elif broken:
        what += " before the chain of pages breaks"
    raise ValueError(f"{path} is a damaged or truncated TIFF ({size} bytes): {what}"
                     f"{' (' + broken[0] + ')' if broken else ''}. Copy or export the file again")


def _open_tiff(path: Path):
    import tifffile

    check_tiff(path)

    try:
        return tifffile.memmap(path, mode="r")
    except Exception:
        # compressed or tiled files cannot be memory-mapped; zarr reads them chunk by chunk
        try:
            import zarr

            return zarr.open(tifffile.imread(path, aszarr=True), mode="r")
        except ImportError:
            return tifffile.imread(path)


class _ChannelView:
    """A lazy ``(T, H, W)`` view of ``(T, H, W, C)`` frames: one channel, or the luminance (``"grey"``)."""

    def __init__(self, data, channel: int | str) -> None:
        shape = tuple(int(v) for v in data.shape)
        if len(shape) != 4:
            raise ValueError(f"channel {channel!r} given, but frames of shape {shape} have no channel axis "
                             f"(expected (T, H, W, C))")
        pick_channel(np.zeros((1, 1, shape[-1]), dtype=data.dtype), channel, f"frames of shape {shape}")
        self.data, self.channel = data, channel
        self.shape = shape[:3]
        self.dtype = np.dtype(np.float32) if isinstance(channel, str) else np.dtype(data.dtype)
        self.ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return pick_channel(np.asarray(self.data[i]), self.channel)


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
            except ValueError as exc:
                if "damaged or truncated TIFF" in str(exc):
                    raise
                raise ValueError(f"cannot read {path} as a TIFF stack: {exc}") from None
            except Exception as exc:
                raise ValueError(f"cannot read {path} as a TIFF stack: {exc}") from None
        raise ValueError(f"unsupported video path {path}: give a TIFF stack, a folder of images or an array")
    if not hasattr(frames, "shape") or not hasattr(frames, "__getitem__"):
        frames = np.asarray(frames)
    return frames


class FrameSource:
    """Per-frame access to a video, preprocessed for a model of input size ``image_size``."""

    def __init__(self, frames, image_size: int, contrast_limits: tuple[float, float] | None = None,
                 sample_frames: int = 16, channel: int | str | None = None) -> None:
        self.data = open_frames(frames)
        if channel is not None and not (isinstance(channel, str) and len(self.data.shape) == 3):
            # 'grey' of grey (T, H, W) frames needs nothing; everything else is checked by the view
            self.data = _ChannelView(self.data, channel)
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
        self._colour: bool | None = None
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

    @property
    def colour(self) -> bool:
        """Whether the frames are colour: 3 or 4 channels that differ (judged on frame 0, read once)."""
        if self._colour is None:
            self._colour = self.channels >= 3 and is_colour(self.raw(0))
        return self._colour

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


def warn_if_colour(frames: FrameSource, model) -> None:
    """A QualityWarning when a model trained on grey frames only (``model.cfg.trained_on_grey``,
    the bundled demo) is given colour frames; the message names ``channel="grey"``."""
    cfg = getattr(model, "cfg", model)
    if getattr(cfg, "trained_on_grey", False) and frames.colour:
        warn_quality(grey_model_advice(cfg.name))
