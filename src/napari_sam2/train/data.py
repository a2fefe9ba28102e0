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


def check_pair(
    image: np.ndarray, labels: np.ndarray, index: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One training pair as ``(T, H, W[, C])`` image and ``(T, H, W)`` integer labels (2D inputs get T = 1)."""
    image, labels = np.asarray(image), np.asarray(labels)
    if labels.ndim == 2:
        labels, image = labels[None], image[None]
    if labels.ndim != 3:
        raise ValueError(
            f"pair {index}: labels must be (H, W) or (T, H, W), got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"pair {index}: labels must be integers, got dtype {labels.dtype}")
    if image.shape[:3] != labels.shape:
        raise ValueError(
            f"pair {index}: image {image.shape} and labels {labels.shape} do not match in (T, H, W)"
        )
    if image.ndim == 4 and image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"pair {index}: image channels must be 1, 3 or 4, got {image.shape}")
    if not labels.any():
        raise ValueError(f"pair {index}: labels are all zero, nothing to learn from")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError(f"pair {index}: image contains NaN or infinite values")
    return image, labels


def make_clip(
    image: np.ndarray,
    labels: np.ndarray,
    image_size: int,
    rng: np.random.Generator,
    length: int,
    max_objects: int,
    min_area: int = 12,
    crop: tuple[float, float] = (0.5, 1.0),
) -> Clip | None:
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
    img = np.asarray(image[idx, y0 : y0 + ch, x0 : x0 + cw])
    lab = np.asarray(labels[idx, y0 : y0 + ch, x0 : x0 + cw])
    k = int(rng.integers(4))
    flip = rng.random() < 0.5
    img, lab = np.rot90(img, k, axes=(1, 2)), np.rot90(lab, k, axes=(1, 2))
    if flip:
        img, lab = img[:, :, ::-1], lab[:, :, ::-1]
    lab_t = torch.from_numpy(np.ascontiguousarray(lab).astype(np.int64))
    lab_s = F.interpolate(lab_t[:, None].float(), size=(image_size, image_size), mode="nearest")[
        :, 0
    ].long()
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

    def __init__(
        self,
        image_size: int,
        pairs: Sequence[tuple[np.ndarray, np.ndarray]] = (),
        generator: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None,
        seed: int = 0,
        pool: int = 8,
        refresh: int = 2,
        crop: tuple[float, float] = (0.5, 1.0),
    ) -> None:
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
            clip = make_clip(
                image, labels, self.image_size, self.rng, length, max_objects, crop=self.crop
            )
            if clip is not None:
                return clip
        raise ValueError(
            "could not find an object of at least 12 pixels (at model size) in 100 random clips"
        )


def cut_window(
    image: np.ndarray, labels: np.ndarray, side: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``side`` x ``side`` px window (at most the frame) of a ``(T, H, W[, C])`` movie and its labels."""
    h, w = labels.shape[1:3]
    sh, sw = min(side, h), min(side, w)
    y0, x0 = int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1))
    return image[:, y0 : y0 + sh, x0 : x0 + sw], labels[:, y0 : y0 + sh, x0 : x0 + sw]


def draw_zoom(
    rng: np.random.Generator, odds: tuple[float, float, float] = (0.55, 0.2, 0.25)
) -> float:
    """How many frame pixels one model pixel covers: 1 (native scale, as in window mode), 2 (a frame twice
    the model's input, resized) or anything in 0.6-1.5; chosen with ``odds``."""
    kind = rng.choice(3, p=odds)
    return (1.0, 2.0, float(rng.uniform(0.6, 1.5)))[int(kind)]


def movie_clips(
    generator: Callable, seed: int, n_clips: int, image_size: int, length: int, max_objects: int
) -> list[tuple[np.ndarray, np.ndarray, tuple[int, ...]]]:
    """``n_clips`` clips of one movie ``generator(seed) -> (image, labels)``, each from a window of
    ``image_size`` times :func:`draw_zoom` frame pixels resized to ``image_size``; packed for a pipe as
    ``(frames float16 (L, 3, S, S), masks np.packbits over (L, K, S, S), masks' shape)``."""
    image, labels = generator(seed)[:2]
    rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from the movie's
    out = []
    for _ in range(n_clips):
        window = cut_window(image, labels, int(round(image_size * draw_zoom(rng))), rng)
        clip = make_clip(*window, image_size, rng, length, max_objects, crop=(1.0, 1.0))
        if clip is not None:
            masks = clip.masks.numpy()
            out.append((clip.frames.half().numpy(), np.packbits(masks, axis=-1), masks.shape))
    return out


def unpack_clip(packed: tuple[np.ndarray, np.ndarray, tuple[int, ...]]) -> Clip:
    """The :class:`Clip` of one :func:`movie_clips` entry (frames stay float16 until they reach the model)."""
    frames, bits, shape = packed
    masks = np.unpackbits(bits, axis=-1, count=shape[-1]).astype(bool)
    return Clip(torch.from_numpy(frames), torch.from_numpy(masks))


def _worker_init() -> None:
    torch.set_num_threads(1)


class ParallelClipSampler:
    """Clips of fresh movies made by ``workers`` processes (0: in this process), for a fast accelerator.

    Each task makes one movie with ``generator(seed)`` (a module-level function) and cuts
    ``clips_per_movie`` clips of ``length`` frames and up to ``max_objects`` objects from it. Tasks are
    submitted ahead (``ahead`` per worker) and collected in submission order, so the data depend on
    ``seed`` only, not on timing. Call :meth:`close` when done.
    """

    def __init__(
        self,
        generator: Callable,
        image_size: int,
        length: int,
        max_objects: int,
        seed: int,
        workers: int = 0,
        clips_per_movie: int = 4,
        ahead: int = 3,
    ) -> None:
        import collections
        import multiprocessing

        self.args = (generator, clips_per_movie, image_size, length, max_objects)
        self.length = length
        self._seeds = iter(range(seed, seed + 2**40))
        self._buffer: collections.deque = collections.deque()
        self.pool = None
        self._pending: collections.deque = collections.deque()
        if workers > 0:
            self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init)
            for _ in range(ahead * workers):
                self._submit()
        self.movies = 0

    def _task(self) -> tuple:
        generator, n, size, length, k = self.args
        return generator, next(self._seeds), n, size, length, k

    def _submit(self) -> None:
        self._pending.append(self.pool.apply_async(movie_clips, self._task()))

    def _next_movie(self) -> list:
        self.movies += 1
        if self.pool is None:
            return movie_clips(*self._task())
        clips = self._pending.popleft().get()
        self._submit()
        return clips

    def draw(self, length: int, max_objects: int) -> Clip:
        if length > self.length:  # (objects: up to the fewer of max_objects and the sampler's own)
            raise ValueError(f"this sampler makes clips of {self.length} frames, not {length}")
        for _ in range(100):
            if self._buffer:
                clip = unpack_clip(self._buffer.popleft())
                return Clip(clip.frames[:length], clip.masks[:length, :max_objects])
            self._buffer.extend(self._next_movie())
        raise ValueError("100 movies in a row gave no clip with an object of at least 12 pixels")

    def close(self) -> None:
        """Stop the workers, after the movies already asked for are made: terminating the pool while a worker
        writes a result larger than the pipe's buffer deadlocks (the worker holds the lock of the result
        pipe, which terminating needs, and nobody reads the pipe any more)."""
        if self.pool is not None:
            for pending in self._pending:
                pending.wait(timeout=120)
            self._pending.clear()
            self.pool.close()
            self.pool.join()
            self.pool = None
