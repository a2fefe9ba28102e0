"""Video frames from arrays or files, read and preprocessed one at a time (never all in memory, never as JPEG).

A :class:`FrameSource` takes ``(T, H, W)`` or ``(T, H, W, C)`` data — numpy, dask, zarr,
a tifffile memmap — or a path to a TIFF stack or a folder of images (opened lazily by
:func:`napari_sam2.io.readers.open_frames`), and returns each
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

import numpy as np
import torch
from PIL import Image

from ..io.readers import open_frames
from ..notices import warn_quality
from .preprocess import (
    DEFAULT_PERCENTILES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    grey_model_advice,
    is_colour,
    pick_channel,
    to_model_input,
    to_unit_rgb,
)


class _ChannelView:
    """A lazy ``(T, H, W)`` view of ``(T, H, W, C)`` frames: one channel, or the luminance (``"grey"``)."""

    def __init__(self, data, channel: int | str) -> None:
        shape = tuple(int(v) for v in data.shape)
        if len(shape) != 4:
            raise ValueError(
                f"channel {channel!r} given, but frames of shape {shape} have no channel axis "
                f"(expected (T, H, W, C))"
            )
        pick_channel(
            np.zeros((1, 1, shape[-1]), dtype=data.dtype), channel, f"frames of shape {shape}"
        )
        self.data, self.channel = data, channel
        self.shape = shape[:3]
        self.dtype = np.dtype(np.float32) if isinstance(channel, str) else np.dtype(data.dtype)
        self.ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return pick_channel(np.asarray(self.data[i]), self.channel)


class FrameSource:
    """Per-frame access to a video, preprocessed for a model of input size ``image_size``."""

    def __init__(
        self,
        frames,
        image_size: int,
        contrast_limits: tuple[float, float] | None = None,
        sample_frames: int = 16,
        channel: int | str | None = None,
    ) -> None:
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
            raise ValueError(
                f"frames must have shape (T, H, W) or (T, H, W, C) with C in 1, 3, 4; got {shape}"
            )
        if shape[0] < 1 or shape[1] < 1 or shape[2] < 1:
            raise ValueError(f"frames are empty: shape {shape}")
        self.num_frames, self.height, self.width = int(shape[0]), int(shape[1]), int(shape[2])
        self.image_size = image_size
        self._colour: bool | None = None
        self._last: tuple[int, np.ndarray] | None = None  # the frame read last, as (index, frame)
        self.dtype = np.dtype(self.data.dtype)
        self.official_uint8 = self.dtype == np.uint8 and contrast_limits is None
        if self.official_uint8:
            self.contrast_limits = None
        elif contrast_limits is not None:
            lo, hi = (float(v) for v in contrast_limits)
            if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
                raise ValueError(
                    f"contrast_limits must be finite with lo <= hi, got {contrast_limits}"
                )
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
        idx = np.unique(
            np.linspace(0, self.num_frames - 1, min(n, self.num_frames)).round().astype(int)
        )
        sample = np.stack([self.raw(i) for i in idx])
        lo, hi = np.percentile(sample.astype(np.float64), DEFAULT_PERCENTILES)
        return float(lo), float(hi)

    def raw(self, idx: int) -> np.ndarray:
        """Frame ``idx`` as stored, ``(H, W)`` or ``(H, W, C)``; NaNs are an error."""
        if not 0 <= idx < self.num_frames:
            raise IndexError(f"frame index {idx} is outside the video of {self.num_frames} frames")
        if self._last is not None and self._last[0] == idx:
            return self._last[1]
        frame = np.asarray(self.data[idx])
        if frame.ndim == 3 and frame.shape[-1] == 1:
            frame = frame[..., 0]
        if np.issubdtype(frame.dtype, np.floating) and not np.isfinite(frame).all():
            raise ValueError(f"frame {idx} contains NaN or infinite values")
        if not isinstance(self.data, np.ndarray):
            self._last = (idx, frame)  # read from a file: the windows of a frame read it once
        return frame

    def __getitem__(self, idx: int) -> torch.Tensor:
        """Frame ``idx`` as the model's ``(3, S, S)`` float32 input."""
        frame = self.raw(idx)
        if self.official_uint8:
            rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=-1)
            pic = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize(
                (self.image_size, self.image_size)
            )
            return _standardised(np.asarray(pic))
        return to_model_input(to_unit_rgb(frame, self.contrast_limits), self.image_size)[0]

    def window(self, idx: int, y0: int, x0: int) -> torch.Tensor:
        """The ``image_size`` px square of frame ``idx`` whose top-left corner is (``y0``, ``x0``), at native
        scale (no resize), as the model's ``(3, S, S)`` input; where it leaves the frame, the frame's edge
        is mirrored. Same intensity mapping as :meth:`__getitem__` (window mode of the tracking engine)."""
        frame, size = self.raw(idx), self.image_size
        part = frame[y0 : y0 + size, x0 : x0 + size]
        pad = [(0, size - part.shape[0]), (0, size - part.shape[1])] + [(0, 0)] * (part.ndim - 2)
        if pad[0][1] or pad[1][1]:
            part = np.pad(part, pad, mode="symmetric")
        if self.official_uint8:
            rgb = part if part.ndim == 3 else np.repeat(part[..., None], 3, axis=-1)
            return _standardised(np.ascontiguousarray(rgb[..., :3]))
        return to_model_input(to_unit_rgb(part, self.contrast_limits), size)[0]


def _standardised(rgb: np.ndarray) -> torch.Tensor:
    """An ``(H, W, 3)`` uint8 picture as the official loader gives it to the model: ``/ 255``, ImageNet mean/std."""
    x = torch.from_numpy(rgb / 255.0).permute(2, 0, 1).float()
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    return (x - mean) / std


def warn_if_colour(frames: FrameSource, model) -> None:
    """A QualityWarning when a model trained on grey frames only (``model.cfg.trained_on_grey``,
    the bundled demo) is given colour frames; the message names ``channel="grey"``."""
    cfg = getattr(model, "cfg", model)
    if getattr(cfg, "trained_on_grey", False) and frames.colour:
        warn_quality(grey_model_advice(cfg.name))
