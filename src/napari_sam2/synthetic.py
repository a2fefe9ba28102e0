"""Synthetic fluorescence-like cell movies with exact ground truth (for samples, demos and tests).

Only numpy and scipy: usable from tests, the CLI and napari's sample menu alike.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def synthetic_cells(n_frames: int = 8, size: tuple[int, int] = (128, 128), n_cells: int = 4, seed: int = 0,
                    radius: tuple[float, float] = (9.0, 15.0), step: float = 2.0, background: float = 300.0,
                    brightness: float = 2500.0, noise: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """A ``(T, Y, X)`` uint16 movie of elliptic cells drifting without overlap, and its labels.

    Each cell keeps its label (1..n_cells) in every frame; intensities are smooth inside a
    cell, with Gaussian blur and noise like a widefield image. Returns ``(image, labels)``
    with labels as uint16.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    margin = radius[1] + 2
    centres = _spread_centres(rng, n_cells, h, w, margin, 2.2 * radius[1])
    axes = rng.uniform(*radius, size=(n_cells, 2))
    angles = rng.uniform(0, np.pi, size=n_cells)
    velocity = rng.normal(0, step, size=(n_cells, 2))
    levels = rng.uniform(0.6, 1.0, size=n_cells) * brightness

    image = np.empty((n_frames, h, w), dtype=np.uint16)
    labels = np.zeros((n_frames, h, w), dtype=np.uint16)
    for t in range(n_frames):
        signal = np.zeros((h, w), dtype=np.float32)
        for i in range(n_cells):
            cy, cx = centres[i]
            ca, sa = np.cos(angles[i] + 0.05 * t), np.sin(angles[i] + 0.05 * t)
            dy, dx = yy - cy, xx - cx
            u = (dx * ca + dy * sa) / axes[i, 0]
            v = (-dx * sa + dy * ca) / axes[i, 1]
            inside = u * u + v * v <= 1.0
            free = inside & (labels[t] == 0)
            labels[t][free] = i + 1
            signal[free] = levels[i] * (0.85 + 0.15 * np.cos(3 * u[free]) * np.cos(3 * v[free]))
        signal = ndimage.gaussian_filter(signal, 1.2)
        frame = background + signal + rng.normal(0, noise, size=(h, w))
        image[t] = np.clip(frame, 0, 65535).astype(np.uint16)
        centres = _move(centres, velocity, h, w, margin, rng)
    return image, labels


def _spread_centres(rng, n, h, w, margin, min_dist):
    centres: list[np.ndarray] = []
    for _ in range(1000 * n):
        c = rng.uniform([margin, margin], [h - margin, w - margin])
        if all(np.hypot(*(c - o)) >= min_dist for o in centres):
            centres.append(c)
            if len(centres) == n:
                break
    if len(centres) < n:
        raise ValueError(f"cannot place {n} cells of this size in a {h}x{w} frame")
    return np.array(centres)


def _move(centres, velocity, h, w, margin, rng):
    nxt = centres + velocity + rng.normal(0, 0.3, size=centres.shape)
    lo, hi = np.array([margin, margin]), np.array([h - margin, w - margin])
    bounce = (nxt < lo) | (nxt > hi)
    velocity[bounce] *= -1
    return np.clip(nxt, lo, hi)
