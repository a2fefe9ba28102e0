"""Predictors with the official ``sam2`` method names: single images, videos and automatic masks."""

from .automatic import SAM2AutomaticMaskGenerator
from .image_predictor import Prediction, SAM2ImagePredictor
from .video_predictor import SAM2VideoPredictor, VideoState, build_sam2_video_predictor

__all__ = [
    "Prediction",
    "SAM2AutomaticMaskGenerator",
    "SAM2ImagePredictor",
    "SAM2VideoPredictor",
    "VideoState",
    "build_sam2_video_predictor",
]
