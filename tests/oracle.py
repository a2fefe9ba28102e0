"""The official ``sam2`` package as a test oracle: building it on CPU and copying its weights into ours.

The official image predictor imports torchvision only for three input transforms, and
PyPI's torchvision does not import beside the CPU torch used here. When it is missing, a
small stand-in module provides those transforms with torchvision's documented behaviour
(uint8 -> float / 255; bilinear antialiased resize; per-channel standardisation).
"""

from __future__ import annotations

import importlib
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

OFFICIAL_CONFIG = {
    "sam2_hiera_tiny": "configs/sam2/sam2_hiera_t.yaml",
    "sam2_hiera_small": "configs/sam2/sam2_hiera_s.yaml",
    "sam2_hiera_base_plus": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2_hiera_large": "configs/sam2/sam2_hiera_l.yaml",
    "sam2.1_hiera_tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "sam2.1_hiera_small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "sam2.1_hiera_base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "sam2.1_hiera_large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}


def _torchvision_works() -> bool:
    try:
        importlib.import_module("torchvision.transforms")
        return True
    except Exception:
        for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[key]
        return False


class _ToTensor:
    def __call__(self, pic):
        t = torch.from_numpy(pic.transpose(2, 0, 1).copy()) if pic.ndim == 3 else torch.from_numpy(pic[None].copy())
        return t.float().div(255) if t.dtype == torch.uint8 else t


class _Resize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = [int(s) for s in size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x[None], size=self.size, mode="bilinear", align_corners=False, antialias=True)[0]


class _Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return (x - mean) / std


def _install_torchvision_standin() -> None:
    if _torchvision_works():
        return
    tv = types.ModuleType("torchvision")
    tr = types.ModuleType("torchvision.transforms")
    tr.ToTensor, tr.Resize, tr.Normalize = _ToTensor, _Resize, _Normalize
    tv.transforms = tr
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tr


def official():
    """Import the official package (skipping the test if it is not installed)."""
    pytest.importorskip("sam2", reason="the official sam2 package (test oracle) is not installed")
    _install_torchvision_standin()
    import sam2.build_sam
    import sam2.sam2_image_predictor

    return sam2


def build_official(name: str, image_size: int | None = None, seed: int = 0):
    """The official model with random weights (fixed seed), as its ``build_sam2`` makes it."""
    sam2 = official()
    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    torch.manual_seed(seed)
    model = sam2.build_sam.build_sam2(OFFICIAL_CONFIG[name], None, device="cpu", hydra_overrides_extra=overrides)
    # its random init leaves some parameters constant (zeros, ones); give every tensor a spread so
    # that a wrong key mapping or a skipped term shows in the outputs
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() == 1 or torch.all(p == p.flatten()[0]):
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return model


def official_image_predictor(model):
    sam2 = official()
    pred = sam2.sam2_image_predictor.SAM2ImagePredictor(model)
    s = model.image_size
    # it hard-codes the feature sizes of a 1024 input
    pred._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
    return pred


def ours_like(official_model, name: str):
    """Our model with the official model's weights (strict load, so every key must match)."""
    from napari_sam2 import build_sam2

    model = build_sam2(name, checkpoint=None, image_size=official_model.image_size)
    model.load_state_dict(official_model.state_dict(), strict=True)
    return model


def build_official_video(name: str, image_size: int | None = None, seed: int = 0, object_bias: float | None = None):
    """The official video predictor (its builder's video settings) with spread random weights.

    object_bias: if given, the object-score head's last bias is set to it, so that with
    random weights objects are (mostly) judged present and the full mask path runs.
    """
    sam2 = official()
    import sam2.sam2_video_predictor as svp

    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    torch.manual_seed(seed)
    model = sam2.build_sam.build_sam2_video_predictor(OFFICIAL_CONFIG[name], None, device="cpu",
                                                      hydra_overrides_extra=overrides)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() == 1 or torch.all(p == p.flatten()[0]):
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
        if object_bias is not None:
            model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(object_bias)

    # Frames are handed over as a ready tensor instead of a JPEG folder.
    def load_frames(video_path, image_size, **_):
        images, height, width = video_path
        return images, height, width

    svp.load_video_frames = load_frames

    # On CPU the official code crashes when the memory holds only bfloat16 features
    # (no fp32 object pointer to promote them); promoting at the input changes no number.
    attend = model.memory_attention.forward

    def attend_fp32(curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
        return attend(curr=curr, memory=memory.float(), curr_pos=curr_pos, memory_pos=memory_pos,
                      num_obj_ptr_tokens=num_obj_ptr_tokens)

    model.memory_attention.forward = attend_fp32
    return model


def ours_video_like(official_model, name: str, **options):
    from napari_sam2 import build_sam2_video_predictor

    options.setdefault("fill_hole_area", 0)  # the official hole filling needs CUDA and is skipped on CPU
    pred = build_sam2_video_predictor(name, checkpoint=None, image_size=official_model.image_size, **options)
    pred.model.load_state_dict(official_model.state_dict(), strict=True)
    return pred
