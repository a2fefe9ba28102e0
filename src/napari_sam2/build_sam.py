"""Compatibility: the official ``sam2.build_sam`` names, e.g.
``from napari_sam2.build_sam import build_sam2``."""

from .loading import build_sam2, build_sam2_hf
from .predictor.video_predictor import build_sam2_video_predictor, build_sam2_video_predictor_hf

__all__ = [
    "build_sam2",
    "build_sam2_hf",
    "build_sam2_video_predictor",
    "build_sam2_video_predictor_hf",
]
