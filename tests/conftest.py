"""Shared test settings: deterministic CPU threads and small synthetic inputs."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))  # for `import oracle`

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 300x400 uint8 RGB image with some structure (a bright disc on noise)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 120, (300, 400, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:300, :400]
    img[(yy - 140) ** 2 + (xx - 180) ** 2 < 60 ** 2] += 120
    return img
