"""Predictors with the official ``sam2`` method names: image now, video in the tracking layer."""

from .image_predictor import Prediction, SAM2ImagePredictor

__all__ = ["Prediction", "SAM2ImagePredictor"]
