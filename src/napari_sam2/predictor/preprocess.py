"""Turning microscopy or RGB arrays into SAM 2 input tensors, and prompt checking helpers.

Intensity mapping (documented in docs/normalisation.md):

* ``uint8`` images with 3 channels (RGB) or 1 channel are used as they are: ``x / 255``,
  exactly what the official predictor does after decoding a picture.
* Any other dtype (uint16, 12-bit data in uint16, float, int) is mapped linearly from
  ``contrast_limits = (lo, hi)`` to [0, 1] and clipped. Without explicit limits they are
  the 0.1th and 99.9th percentiles of the data, robust to hot pixels.
* Greyscale is repeated to 3 channels; an alpha channel is dropped. ``channel="grey"`` turns
  colour into its luminance (float, so it gets a contrast window) first. The result is resized
  to the model's square input (bilinear, antialiased) and standardised with the ImageNet
  mean and std that SAM 2 was trained with.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_PERCENTILES = (0.1, 99.9)


def robust_limits(
    data: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES
) -> tuple[float, float]:
    """Percentile-based contrast limits ``(lo, hi)`` of an array (NaNs are an error)."""
    lo, hi = np.percentile(np.asarray(data, dtype=np.float64), percentiles)
    return float(lo), float(hi)


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate a single 2D image: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``, finite values."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        pass
    elif arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold integer or float pixels, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


# ITU-R BT.601 luma weights (the ones PIL's "L" conversion uses)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` or ``(..., 4)`` colour -> ``(...)`` float32 luminance (alpha dropped).

    Float32 on purpose: the result then gets a contrast window like any non-uint8 data
    (docs/normalisation.md), which restores the contrast that a dim colour channel lost.
    """
    arr = np.asarray(rgb)
    if arr.ndim < 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(
            f"grey conversion needs colour data with 3 (RGB) or 4 (RGBA) channels last; "
            f"got shape {arr.shape}"
        )
    return arr[..., :3].astype(np.float32) @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)


def is_colour(image: np.ndarray) -> bool:
    """True for an ``(H, W, 3|4)`` image whose colour channels differ somewhere (grey saved as RGB is not colour)."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] < 3:
        return False
    return not (
        np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
    )


def pick_channel(image: np.ndarray, channel: int | str | None, name: str = "image") -> np.ndarray:
    """One ``(H, W[, C])`` image with ``channel`` applied: None keeps it, an int picks that
    channel, ``"grey"`` gives the luminance of colour (grey input stays as it is).

    A channel that does not exist, or a channel number for an image without a channel axis,
    is a ValueError naming the image's shape.
    """
    arr = np.asarray(image)
    if channel is None:
        return arr
    if isinstance(channel, str):
        if channel.strip().lower() not in ("grey", "gray"):
            raise ValueError(f"channel must be a channel number or 'grey', got {channel!r}")
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
            return arr  # already grey
        return to_grey(arr)
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise ValueError(f"channel must be a channel number or 'grey', got {channel!r}")
    if arr.ndim != 3:
        raise ValueError(
            f"channel {channel} given, but {name} of shape {arr.shape} has no channel axis "
            f"(expected (H, W, C))"
        )
    if not 0 <= channel < arr.shape[-1]:
        raise ValueError(
            f"channel {channel} does not exist: {name} of shape {arr.shape} has "
            f"{arr.shape[-1]} channel(s), numbered from 0"
        )
    return arr[..., int(channel)]


def grey_model_advice(model_name: str) -> str:
    """The warning for colour input to a model trained on grey frames only."""
    return (
        f"colour (RGB) input, but {model_name} was trained on grey frames only: on colour it can lose "
        f"objects within a few frames (docs/normalisation.md). Use channel='grey' (the luminance; "
        f"CLI --channel grey) or pick one channel with channel=N"
    )


def to_unit_rgb(
    image: np.ndarray, contrast_limits: tuple[float, float] | None = None
) -> torch.Tensor:
    """Map an image to a float32 ``(3, H, W)`` tensor in [0, 1] following the module's rules."""
    arr = check_image(image)
    if arr.ndim == 3:
        arr = arr[..., :3]
    if arr.dtype == np.uint8 and contrast_limits is None:
        unit = torch.from_numpy(np.ascontiguousarray(arr)).float().div(255)
    else:
        lo, hi = contrast_limits if contrast_limits is not None else robust_limits(arr)
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ValueError(f"contrast_limits must be finite with lo <= hi, got {(lo, hi)}")
        span = hi - lo if hi > lo else 1.0
        unit = torch.from_numpy(
            ((arr.astype(np.float32) - np.float32(lo)) / np.float32(span)).clip(0, 1)
        )
    if unit.ndim == 2:
        unit = unit[..., None]
    unit = unit.permute(2, 0, 1)
    if unit.shape[0] == 1:
        unit = unit.expand(3, -1, -1)
    return unit.contiguous()


def to_model_input(unit_rgb: torch.Tensor, image_size: int) -> torch.Tensor:
    """``(3, H, W)`` in [0, 1] -> ``(1, 3, S, S)`` resized and standardised model input."""
    x = F.interpolate(
        unit_rgb[None],
        size=(image_size, image_size),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std
