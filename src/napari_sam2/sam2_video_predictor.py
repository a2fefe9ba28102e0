"""Compatibility: the official ``sam2.sam2_video_predictor`` names."""

from .predictor.video_predictor import SAM2VideoPredictor

__all__ = ["SAM2VideoPredictor"]
