"""Window mode: each object is tracked in a square window of the frame at native scale (issue 16).

The model's input size S is the window's side: a window is cut from the frame as it is, never
resized, so a 12 px cell stays 12 px for the model however large the frame is. Rules:

* **Grid.** Windows start on a grid of 3S/4 px along each axis (the last position is the frame's end,
  rounded up to 16 px, so every pixel is covered and a window leaves the frame by at most 15 px; that
  strip, or the whole rest of a frame smaller than S, is filled by mirroring the frame's edge). Objects
  whose windows coincide share one image encoding per frame (the feature cache is keyed by frame and
  window); the windows of a frame are encoded in batches, and objects go through the model in
  batches whatever their windows (:mod:`~napari_sam2.engine.frame_tracking`). 3S/4 is the coarsest
  grid on which every object up to S/4 px across (the largest that window "auto" tracks in windows)
  lies whole inside its nearest window; a finer grid gives more margin and more windows to encode.
* **Centring and hysteresis.** A prompted frame's window is the grid window whose centre is nearest the
  centre of the prompt (clicks and box, or the painted mask). On a tracked frame an object keeps the
  window of its previous frame until its mask there comes within S/8 of an edge the window can move
  past; then it takes the grid window nearest its centre. A lost object keeps its window.
* **Memory when a window moves.** Memory features are spatial: a memory made in one window does not
  line up with another. When an object's bank holds a frame made in another window than the one it is
  tracked in now, that frame's memory is encoded again in the new window from the same stored mask
  (moved by the windows' offset, a whole number of low-res pixels, since offsets are multiples of
  16 px) and the new window's image features. Object pointers carry no position and are kept.
* **Results** stay in their window's coordinates (logits of S/4 px); readers paste them into the frame.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..model.configs import MAX_IMAGE_SIZE
from ..notices import warn_quality

GRID_UNIT = (
    16  # window positions are multiples of this (a whole number of low-res pixels at any S/4)
)
NO_OBJECT = -1024.0


class Window(NamedTuple):
    """A window of side ``size`` px whose top-left corner is at (``y0``, ``x0``) in the frame."""

    y0: int
    x0: int
    size: int


def check_window_size(window, name: str = "window") -> int:
    """A window side in px: a multiple of 32 from 64 to the largest model input size."""
    if (
        isinstance(window, bool)
        or not isinstance(window, (int, np.integer))
        or window < 64
        or window % 32
        or window > MAX_IMAGE_SIZE
    ):
        raise ValueError(
            f"{name} must be a multiple of 32 px from 64 to {MAX_IMAGE_SIZE} (256 for the demo model, "
            f"512 or 1024 for official ones; or none for the whole frame), got {window!r}"
        )
    return int(window)


def whole_frame_window(window: int | None, shape: tuple[int, int]) -> int | None:
    """``window``, or None (whole-frame mode, with a QualityWarning that says so) when one window of that
    size covers frames of ``shape`` (H, W) whole: a window as large as the frame is the frame."""
    if window is None or window < max(shape):
        return window
    warn_quality(
        f"the window ({window} px) is as large as the frames ({shape[0]}x{shape[1]} px) or larger: "
        "that is the whole frame, so the whole frame is tracked, at the model's own input size"
    )
    return None


def check_window(window, image_size: int, name: str = "window") -> int | None:
    """``window`` (None for whole-frame mode, else the window side in px) checked against the model's
    input size: window mode runs the model on windows of exactly its input size."""
    if window is None:
        return None
    check_window_size(window, name)
    if int(window) != image_size:
        raise ValueError(
            f"{name} {window} differs from the model's input size {image_size}: window mode runs the "
            f"model on windows of its input size, at native scale; build the model with "
            f"image_size={window} (TrackingSession.from_name(..., window={window}) does)"
        )
    return int(window)


def positions(length: int, size: int) -> list[int]:
    """Window starts along an axis of ``length`` px: every ``3 * size / 4`` px, the last one covering the
    end."""
    last = max(math.ceil((length - size) / GRID_UNIT) * GRID_UNIT, 0)
    step = size * 3 // 4
    return sorted({*range(0, last, step), last})


def nearest(centre: tuple[float, float], shape: tuple[int, int], size: int) -> Window:
    """The grid window whose centre is nearest ``centre`` (y, x) in a frame of ``shape`` (H, W)."""
    y0, x0 = (
        min(positions(n, size), key=lambda p: (abs(p + size / 2 - c), p))
        for c, n in zip(centre, shape)
    )
    return Window(y0, x0, size)


def prompt_window(steps: list[dict], shape: tuple[int, int], size: int) -> Window:
    """The window of a prompted frame: centred on everything its prompt ``steps`` mark (clicks in (x, y),
    boxes (x0, y0, x1, y1), painted ``(H, W)`` masks)."""
    ys, xs = [], []
    for step in steps:
        if "mask" in step:
            rows, cols = np.flatnonzero(step["mask"].any(1)), np.flatnonzero(step["mask"].any(0))
            ys += [rows[0], rows[-1] + 1]
            xs += [cols[0], cols[-1] + 1]
            continue
        if step.get("points") is not None:
            p = np.asarray(step["points"], float).reshape(-1, 2)
            xs += list(p[:, 0])
            ys += list(p[:, 1])
        if step.get("box") is not None:
            b = np.asarray(step["box"], float).reshape(-1)
            xs += [b[0], b[2]]
            ys += [b[1], b[3]]
    return nearest(((min(ys) + max(ys)) / 2, (min(xs) + max(xs)) / 2), shape, size)


def label_windows(labels: np.ndarray, ids: list[int], size: int) -> list[Window]:
    """The prompt windows (:func:`prompt_window`) of the objects ``ids`` painted in a ``(H, W)`` label
    image (each has pixels there), from their bounding boxes, in the order of ``ids``."""
    from scipy import ndimage

    boxes = ndimage.find_objects(labels, max_label=max(ids))
    centres = [tuple((s.start + s.stop) / 2 for s in boxes[i - 1]) for i in ids]
    return [nearest(c, labels.shape, size) for c in centres]


def steps_in_window(steps: list[dict], window: Window, what: str) -> list[dict]:
    """Prompt ``steps`` in the window's coordinates (masks cut to it). Clicks or a box outside the window
    are an error naming ``what``: the prompt spans more than one window."""
    out = []
    for step in steps:
        if "mask" in step:
            m = step["mask"]
            cut = np.zeros((window.size, window.size), bool)
            part = m[window.y0 : window.y0 + window.size, window.x0 : window.x0 + window.size]
            cut[: part.shape[0], : part.shape[1]] = part
            out.append({"mask": cut})
            continue
        moved = dict(step)
        for key, n in (("points", 2), ("box", 4)):
            if step.get(key) is None:
                continue
            v = np.asarray(step[key], float).reshape(-1, n) - np.tile(
                [window.x0, window.y0], n // 2
            )
            if (v < 0).any() or (v > window.size).any():
                raise ValueError(
                    f"the prompt for {what} spans more than one {window.size} px window: click within "
                    f"{window.size} px, or use whole-frame mode"
                )
            moved[key] = v.reshape(-1).tolist() if key == "box" else v.tolist()
        out.append(moved)
    return out


def warn_if_outside(mask: np.ndarray, size: int, what: str, window: Window | None = None) -> None:
    """A QualityWarning when part of a painted ``(H, W)`` bool mask for ``what`` lies outside its window
    (``window`` when known, else its :func:`prompt_window`)."""
    window = window or prompt_window([{"mask": mask}], mask.shape, size)
    outside = int(
        mask.sum() - mask[window.y0 : window.y0 + size, window.x0 : window.x0 + size].sum()
    )
    if outside:
        warn_quality(
            f"{what} is larger than the {size} px window: {outside} of its {int(mask.sum())} painted "
            "pixels lie outside it and are not seen in window mode"
        )


def move(logits: torch.Tensor, src: Window | None, dst: Window | None) -> torch.Tensor:
    """``(B, 1, h, w)`` low-res logits made in window ``src`` as seen from window ``dst`` (where ``src``
    did not reach: no object). The same window (None and None: the whole frame) gives them back as they are."""
    if src == dst:
        return logits
    h = logits.shape[-1]
    scale = h / src.size
    dy, dx = (src.y0 - dst.y0) * scale, (src.x0 - dst.x0) * scale
    if dy != int(dy) or dx != int(dx):
        raise ValueError(f"windows {src} and {dst} are not a whole number of low-res pixels apart")
    dy, dx = int(dy), int(dx)
    out = torch.full_like(logits, NO_OBJECT)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, h - dx), slice(dx, h)) if dx >= 0 else (slice(-dx, h), slice(0, h + dx))
    if ys.stop > ys.start and xs.stop > xs.start:
        out[..., yd, xd] = logits[..., ys, xs]
    return out


def overlap(a: Window | None, b: Window | None) -> bool:
    """Whether windows ``a`` and ``b`` share a pixel (None, the whole frame, shares every pixel)."""
    if a is None or b is None:
        return True
    return all(p - q < a.size and q - p < b.size for p, q in ((b.y0, a.y0), (b.x0, a.x0)))


def window_logits(logits: torch.Tensor, window: Window, shape: tuple[int, int]) -> np.ndarray:
    """``(1, 1, h, w)`` low-res logits of ``window`` at frame resolution, as float32 for the part of the
    window inside a frame of ``shape`` (its top-left corner is the window's)."""
    up = F.interpolate(
        logits.float(), size=(window.size, window.size), mode="bilinear", align_corners=False
    )
    h, w = min(window.size, shape[0] - window.y0), min(window.size, shape[1] - window.x0)
    return up[0, 0, :h, :w].cpu().numpy()


def paste(logits: torch.Tensor, window: Window, shape: tuple[int, int]) -> np.ndarray:
    """``(1, 1, h, w)`` low-res logits of ``window`` as ``(H, W)`` float32 frame logits (NO_OBJECT outside)."""
    inside = window_logits(logits, window, shape)
    frame = np.full(shape, NO_OBJECT, np.float32)
    frame[window.y0 : window.y0 + inside.shape[0], window.x0 : window.x0 + inside.shape[1]] = inside
    return frame


def box_of(logits: torch.Tensor, window: Window) -> tuple[float, float, float, float] | None:
    """Bounding box (y0, x0, y1, x1) in frame px of a window's ``(1, 1, h, w)`` positive logits (None: empty)."""
    on = (logits[0, 0] > 0).nonzero()
    if on.numel() == 0:
        return None
    px = window.size / logits.shape[-1]
    (r0, c0), (r1, c1) = on.min(0).values.tolist(), on.max(0).values.tolist()
    return (
        window.y0 + r0 * px,
        window.x0 + c0 * px,
        window.y0 + (r1 + 1) * px,
        window.x0 + (c1 + 1) * px,
    )


def follow(window: Window, logits: torch.Tensor, shape: tuple[int, int]) -> Window:
    """The window for the next frame of an object whose mask was ``logits`` in ``window``: the same one
    while the mask keeps S/8 px from every edge the window can move past, else the grid window nearest
    the mask's centre."""
    box = box_of(logits, window)
    if box is None:
        return window
    size, margin = window.size, window.size / 8
    y0, x0, y1, x1 = box
    near = (
        (y0 < window.y0 + margin and window.y0 > 0)
        or (x0 < window.x0 + margin and window.x0 > 0)
        or (y1 > window.y0 + size - margin and window.y0 + size < shape[0])
        or (x1 > window.x0 + size - margin and window.x0 + size < shape[1])
    )
    return nearest(((y0 + y1) / 2, (x0 + x1) / 2), shape, size) if near else window


def window_advice(shape: tuple[int, int], image_size: int, window: int | None) -> str | None:
    """A note when whole-frame mode squeezes frames of ``shape`` (H, W) more than 1.5 times into the
    model's ``image_size`` input, naming window mode; None otherwise (window mode, or small frames)."""
    side = max(shape)
    if window is not None or side <= 1.5 * image_size:
        return None
    return (
        f"frames of {shape[0]}x{shape[1]} px are resized to the model's {image_size} px input, so cells "
        f"shrink {side / image_size:.1f} times; window mode (CLI --window SIZE, the widget's 'window' setting) "
        f"tracks each object in a SIZE px window at native scale (e.g. --window {image_size})"
    )


def auto_window(
    shape: tuple[int, int], image_size: int, sizes: list[float]
) -> tuple[int | None, str]:
    """``window="auto"``: window mode (windows of the model's ``image_size``) when frames of
    ``shape`` (H, W) are larger than the model's input and the objects are small against it: the
    median of ``sizes`` (each object's diameter in px; none known counts as small) at most a quarter
    of the input. Otherwise the whole frame. Returns ``(window or None, a sentence saying why)``."""
    side, frame = max(shape), f"{shape[0]}x{shape[1]} px frames"
    if side <= image_size:
        return None, (
            f"whole frame: {frame} fit the model's {image_size} px input, so objects "
            "keep their size"
        )
    size = float(np.median(sizes)) if sizes else None
    if size is not None and size > image_size / 4:
        return None, (
            f"whole frame: objects of median {size:.0f} px are large against the model's "
            f"{image_size} px input (windows are for objects up to {image_size // 4} px)"
        )
    told = "objects of unknown size" if size is None else f"objects of median {size:.0f} px"
    return image_size, (
        f"{image_size} px windows at native scale: {told} in {frame} would shrink "
        f"{side / image_size:.1f} times in the model's {image_size} px input"
    )
