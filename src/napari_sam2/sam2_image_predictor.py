"""Compatibility: the official ``sam2.sam2_image_predictor`` names."""

from .predictor.image_predictor import SAM2ImagePredictor

__all__ = ["SAM2ImagePredictor"]
