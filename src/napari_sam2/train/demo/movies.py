"""The movies the demo model's recipes train on: random synthetic microscopy movies, phase 2's tracking
movies (some plain drifting, dividing cells), and colour versions of them."""

from __future__ import annotations

import numpy as np

from ...synthetic import Look, synthetic_dividing_cells, synthetic_microscopy

# Frames are cropped (60-100 % of the side) and resized to 256 px: cells end up 8-70 px in radius,
# half a token to four tokens of the 16-px embedding grid.
FRAME_SIZES = (96, 128, 160)
CROP = (0.6, 1.0)


def training_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One random 12-frame synthetic movie (side drawn from FRAME_SIZES) and its labels."""
    side = FRAME_SIZES[seed % len(FRAME_SIZES)]
    image, labels, _ = synthetic_microscopy(n_frames=12, size=(side, side), seed=seed)
    return image, labels


def tracking_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase 2 data: 16-frame movies, three in four from :func:`synthetic_microscopy`, one in four
    plain drifting ellipses of random size, speed, brightness and noise (some dividing)."""
    rng = np.random.default_rng(seed)
    side = int(rng.choice(FRAME_SIZES))
    if seed % 4:
        image, labels, _ = synthetic_microscopy(n_frames=16, size=(side, side), seed=seed)
        return image, labels
    r0 = rng.uniform(6.0, 14.0)
    divide = ((1, int(rng.integers(3, 14))),) if rng.random() < 0.3 else ()
    look = dict(
        radius=(r0, r0 * rng.uniform(1.1, 1.6)),
        step=rng.uniform(0.5, 3.0),
        background=rng.uniform(100, 1000),
        brightness=rng.uniform(400, 4000),
        noise=rng.uniform(10, 150),
    )
    for n_cells in range(int(rng.integers(1, 6)), 0, -1):  # as many as fit the frame
        try:
            image, labels, _ = synthetic_dividing_cells(
                16, (side, side), n_cells, seed, divide, Look(**look)
            )
            return image, labels
        except ValueError:
            continue
    raise ValueError(f"no cell of radius {look['radius']} fits a {side} px frame")


def to_colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey ``(T, H, W)`` movie as uint8 ``(T, H, W, 3)`` with a random channel mix: one channel
    strong, the others anywhere from nearly empty to as strong, plus a tint and noise per channel."""
    lo, hi = np.percentile(image, (0.5, 99.8))
    grey = np.clip((image.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0, 1)
    gains = rng.uniform(0.05, 1.0, 3)
    gains[int(rng.integers(3))] = rng.uniform(0.6, 1.0)
    tint = rng.uniform(0.0, 0.25, 3) * rng.random()
    noise = rng.normal(0.0, rng.uniform(0.0, 0.04), image.shape + (3,))
    rgb = tint + gains * grey[..., None] + noise
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def colour_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase 3 data: :func:`tracking_movie`, every other one turned into 8-bit RGB by :func:`to_colour`."""
    image, labels = tracking_movie(seed)
    if seed % 2:
        image = to_colour(image, np.random.default_rng(seed + 7))
    return image, labels
