"""Training clips: short runs of frames with their per-object ground-truth masks, at the model's input size.

Frames go through the same :class:`~napari_sam2.predictor.frames.FrameSource` as at inference
(one contrast window per stack, resize, ImageNet standardisation), so a model sees in
training exactly what it sees in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..predictor.frames import FrameSource


@dataclass
class Clip:
    """``frames (L, 3, S, S)`` model input and ``masks (L, K, S, S)`` bool for K objects present in frame 0."""

    frames: torch.Tensor
    masks: torch.Tensor


def check_pair(image: np.ndarray, labels: np.ndarray, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One training pair as ``(T, H, W[, C])`` image and ``(T, H, W)`` integer labels (2D inputs get T = 1)."""
    image, labels = np.asarray(image), np.asarray(labels)
    if labels.ndim == 2:
        labels, image = labels[None], image[None]
    if labels.ndim != 3:
        raise ValueError(f"pair {index}: labels must be (H, W) or (T, H, W), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"pair {index}: labels must be integers, got dtype {labels.dtype}")
    if image.shape[:3] != labels.shape:
        raise ValueError(f"pair {index}: image {image.shape} and labels {labels.shape} do not match in (T, H, W)")
    if image.ndim == 4 and image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"pair {index}: image channels must be 1, 3 or 4, got {image.shape}")
    if not labels.any():
        raise ValueError(f"pair {index}: labels are all zero, nothing to learn from")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError(f"pair {index}: image contains NaN or infinite values")
    return image, labels


def make_clip(image: np.ndarray, labels: np.ndarray, image_size: int, rng: np.random.Generator, length: int,
              max_objects: int, min_area: int = 12, crop: tuple[float, float] = (0.5, 1.0)) -> Clip | None:
    """A random clip of ``length`` frames from a ``(T, H, W[, C])`` movie and its labels.

    Random start, direction in time, flips and 90 degree turns, and a square-ish crop of
    ``crop`` times the frame side (so cells appear at several scales). Objects are the labels
    present in the first frame with at least ``min_area`` pixels at model size; up to
    ``max_objects`` of them are drawn. None when no object qualifies.
    """
    t_total, h, w = labels.shape
    length = min(length, t_total)
    t0 = int(rng.integers(0, t_total - length + 1))
    idx = np.arange(t0, t0 + length)
    if rng.random() < 0.5:
        idx = idx[::-1]
    side = rng.uniform(*crop)
    ch, cw = max(int(h * side), 16), max(int(w * side), 16)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    img = np.asarray(image[idx, y0:y0 + ch, x0:x0 + cw])
    lab = np.asarray(labels[idx, y0:y0 + ch, x0:x0 + cw])
    k = int(rng.integers(4))
    flip = rng.random() < 0.5
    img, lab = np.rot90(img, k, axes=(1, 2)), np.rot90(lab, k, axes=(1, 2))
    if flip:
        img, lab = img[:, :, ::-1], lab[:, :, ::-1]
    lab_t = torch.from_numpy(np.ascontiguousarray(lab).astype(np.int64))
    lab_s = F.interpolate(lab_t[:, None].float(), size=(image_size, image_size), mode="nearest")[:, 0].long()
    ids, counts = torch.unique(lab_s[0], return_counts=True)
    keep = [int(i) for i, c in zip(ids, counts) if i != 0 and c >= min_area]
    if not keep:
        return None
    chosen = rng.choice(keep, size=min(max_objects, len(keep)), replace=False)
    masks = torch.stack([lab_s == int(i) for i in chosen], dim=1)
    source = FrameSource(np.ascontiguousarray(img), image_size)
    frames = torch.stack([source[i] for i in range(len(source))])
    return Clip(frames, masks)


class ClipSampler:
    """Draws clips from user pairs (``pairs`` of image and label stacks) or from a movie generator.

    ``generator(seed) -> (image, labels)`` makes a fresh movie; a pool of ``pool`` movies is kept
    and one is replaced every ``refresh`` draws so data keeps changing at little cost.
    """

    def __init__(self, image_size: int, pairs: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                 generator: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None, seed: int = 0,
                 pool: int = 8, refresh: int = 2, crop: tuple[float, float] = (0.5, 1.0)) -> None:
        if not pairs and generator is None:
            raise ValueError("no training data: give image/label pairs or a generator")
        self.image_size = image_size
        self.rng = np.random.default_rng(seed)
        self.generator = generator
        self.pairs = [check_pair(i, m, n) for n, (i, m) in enumerate(pairs)]
        self._seed = int(self.rng.integers(2**31))
        self.pool = [self._new_movie() for _ in range(pool)] if generator is not None else []
        self.refresh, self._draws, self.crop = refresh, 0, crop

    def _new_movie(self):
        self._seed += 1
        return self.generator(self._seed)

    def draw(self, length: int, max_objects: int) -> Clip:
        for _ in range(100):
            self._draws += 1
            if self.pool and self._draws % self.refresh == 0:
                self.pool[int(self.rng.integers(len(self.pool)))] = self._new_movie()
            movies = self.pool + self.pairs
            image, labels = movies[int(self.rng.integers(len(movies)))][:2]
            clip = make_clip(image, labels, self.image_size, self.rng, length, max_objects, crop=self.crop)
            if clip is not None:
                return clip
        raise ValueError("could not find an object of at least 12 pixels (at model size) in 100 random clips")
