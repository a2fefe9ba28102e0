"""Predictors with the official ``sam2`` method names: single images and videos."""

from .image_predictor import Prediction, SAM2ImagePredictor
from .video_predictor import SAM2VideoPredictor, VideoState, build_sam2_video_predictor

__all__ = ["Prediction", "SAM2ImagePredictor", "SAM2VideoPredictor", "VideoState", "build_sam2_video_predictor"]
