"""Pure-PyTorch SAM 2 / SAM 2.1: one module per part of the paper, configs, builder and checkpoint loading."""

from .build import CheckpointError, build_from_config, build_model, build_sam2, read_checkpoint
from .configs import CONFIGS, SAM2Config, get_config

__all__ = ["CONFIGS", "CheckpointError", "build_from_config", "SAM2Config", "build_model", "build_sam2", "get_config", "read_checkpoint"]
