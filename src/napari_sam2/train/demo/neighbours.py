"""Phase "neighbours": teach the shipped demo to keep touching look-alike cells apart (issue 28).

From the shipped demo, only the parts that carry identity through a movie learn: the memory
attention, the memory encoder (with the pointer and memory embeddings) and the mask decoder. The
image encoder and prompt encoder stay as they are, so what the demo sees in a frame does not change.

Three movies in five are look-alike pairs that pass side by side and touch
(:func:`~napari_sam2.synthetic.synthetic_passing_pairs`, cut small so that a clip's crop is near
native scale, as in a tracking window), half of them on converging and parting paths; the other
two are phase 2's tracking movies (:func:`.movies.tracking_movie`: drifting and dividing cells),
so that what the demo already does well is rehearsed. Movie seeds come from the sampler's own
random stream, far from the benchmark's seeds (0, 1, 2).

    python -m napari_sam2.train.demo --phase neighbours --resume src/napari_sam2/demo/napari_sam2_demo.pt \\
        --out demo_neighbours.pt
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...synthetic import Look, synthetic_passing_pairs
from ..trainer import Stage
from .movies import tracking_movie
from .recipe import TRACKING

# phase 2's settings (loss weights, 8 objects, one correction) at 0.3 of its rate, on the identity parts
NEIGHBOURS = dataclasses.replace(
    TRACKING,
    stages=[Stage(400, 8, 2)],
    lr=3e-5,
    warmup=30,
    seed=2026 + 4,
    parts=("mask_decoder", "memory"),
)
# a crop of 0.6-1.0 of a 160-256 px movie, resized to the demo's 256 px: 1.0-2.7x, near native scale
PAIR_SIDES = (160, 192, 224, 256)


def pairs_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16-frame movie of 2-4 look-alike pairs that pass and touch: random size, speed, overlap,
    brightness and noise; every other one on converging paths."""
    rng = np.random.default_rng(seed)
    side = int(rng.choice(PAIR_SIDES))
    r0 = rng.uniform(7.0, 12.0)
    look = Look(
        radius=(r0, r0 * rng.uniform(1.2, 1.5)),
        background=rng.uniform(100, 1000),
        brightness=rng.uniform(800, 4000),
        noise=rng.uniform(20, 150),
    )
    approach = rng.uniform(0.5, 1.5) if seed % 2 else 0.0
    for n_pairs in range(int(rng.integers(2, 5)), 0, -1):  # as many as fit the frame
        for speed in (rng.uniform(1.5, 3.5), 1.0):
            try:
                return synthetic_passing_pairs(
                    16, (side, side), n_pairs, seed, speed, rng.uniform(-4.0, 1.0), approach, look
                )
            except ValueError:
                continue
    raise ValueError(f"no pair of cells of radius {look.radius} fits a {side} px frame")


def neighbours_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase "neighbours" data: look-alike pairs three times in five, phase 2's movies otherwise."""
    return pairs_movie(seed) if seed % 5 < 3 else tracking_movie(seed)
