"""Pure-PyTorch SAM 2 / SAM 2.1 modules: one per part of the paper, their configs, and the builder that wires
them (checkpoints are read in :mod:`napari_sam2.loading`)."""

from .build import build_model
from .configs import CONFIGS, SAM2Config, get_config

__all__ = ["CONFIGS", "SAM2Config", "build_model", "get_config"]
