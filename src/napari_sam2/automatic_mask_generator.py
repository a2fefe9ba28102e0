"""Compatibility: the official ``sam2.automatic_mask_generator`` names."""

from .predictor.automatic import SAM2AutomaticMaskGenerator

__all__ = ["SAM2AutomaticMaskGenerator"]
