"""Pure-PyTorch SAM 2 / SAM 2.1 modules: one per part of the paper, their configs, and the builder that wires
them (checkpoints are read in :mod:`napari_sam2.loading`).

The names are imported when first used, so that ``napari_sam2.model.configs`` (the model names and sizes, no
torch) imports without torch: the dock widget lists the models before any model is built.
"""

__all__ = ["CONFIGS", "SAM2Config", "build_model", "get_config"]


def __getattr__(name: str):
    if name == "build_model":
        from .build import build_model

        return build_model
    if name in ("CONFIGS", "SAM2Config", "get_config"):
        from . import configs

        return getattr(configs, name)
    raise AttributeError(f"module 'napari_sam2.model' has no attribute {name!r}")
