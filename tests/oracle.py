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
        t = (
            torch.from_numpy(pic.transpose(2, 0, 1).copy())
            if pic.ndim == 3
            else torch.from_numpy(pic[None].copy())
        )
        return t.float().div(255) if t.dtype == torch.uint8 else t


class _Resize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = [int(s) for s in size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            x[None], size=self.size, mode="bilinear", align_corners=False, antialias=True
        )[0]


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


def spread_constant_weights(model, seed: int) -> None:
    """The official random init leaves some parameters constant (zeros, ones); give every tensor a
    spread so that a wrong key mapping or a skipped term shows in the outputs."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() == 1 or torch.all(p == p.flatten()[0]):
                p.add_(torch.randn(p.shape, generator=g) * 0.02)


def build_official(
    name: str, image_size: int | None = None, seed: int = 0, apply_postprocessing: bool = True
):
    """The official model with random weights (fixed seed), as its ``build_sam2`` makes it."""
    sam2 = official()
    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    torch.manual_seed(seed)
    model = sam2.build_sam.build_sam2(
        OFFICIAL_CONFIG[name],
        None,
        device="cpu",
        hydra_overrides_extra=overrides,
        apply_postprocessing=apply_postprocessing,
    )
    spread_constant_weights(model, seed)
    return model


def official_image_predictor(model):
    sam2 = official()
    pred = sam2.sam2_image_predictor.SAM2ImagePredictor(model)
    s = model.image_size
    # it hard-codes the feature sizes of a 1024 input
    pred._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
    return pred


def ours_like(official_model, name: str, apply_postprocessing: bool = True):
    """Our model with the official model's weights (strict load, so every key must match)."""
    from napari_sam2 import build_sam2

    model = build_sam2(
        name,
        checkpoint=None,
        image_size=official_model.image_size,
        apply_postprocessing=apply_postprocessing,
    )
    model.load_state_dict(official_model.state_dict(), strict=True)
    return model


def build_official_video(
    name: str,
    image_size: int | None = None,
    seed: int = 0,
    object_bias: float | None = None,
    apply_postprocessing: bool = True,
):
    """The official video predictor (its builder's video settings) with spread random weights.

    object_bias: if given, the object-score head's last bias is set to it, so that with
    random weights objects are (mostly) judged present and the full mask path runs.
    """
    sam2 = official()
    import sam2.sam2_video_predictor as svp

    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    torch.manual_seed(seed)
    model = sam2.build_sam.build_sam2_video_predictor(
        OFFICIAL_CONFIG[name],
        None,
        device="cpu",
        hydra_overrides_extra=overrides,
        apply_postprocessing=apply_postprocessing,
    )
    spread_constant_weights(model, seed)
    if object_bias is not None:
        with torch.no_grad():
            model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(object_bias)

    # Frames are handed over as a ready tensor instead of a JPEG folder.
    def load_frames(video_path, image_size, **_):
        images, height, width = video_path
        return images, height, width

    svp.load_video_frames = load_frames
    return promote_memory_on_cpu(model)


def promote_memory_on_cpu(model):
    """On CPU the official video predictor crashes when the memory holds only bfloat16 features
    (no fp32 object pointer to promote them); promoting at the input changes no number."""
    attend = model.memory_attention.forward

    def attend_fp32(curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
        return attend(
            curr=curr,
            memory=memory.float(),
            curr_pos=curr_pos,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=num_obj_ptr_tokens,
        )

    model.memory_attention.forward = attend_fp32
    return model


def ours_video_like(official_model, name: str, apply_postprocessing: bool = True, **options):
    from napari_sam2 import build_sam2_video_predictor

    options.setdefault(
        "fill_hole_area", 0
    )  # the official hole filling needs CUDA and is skipped on CPU
    pred = build_sam2_video_predictor(
        name,
        checkpoint=None,
        image_size=official_model.image_size,
        apply_postprocessing=apply_postprocessing,
        **options,
    )
    pred.model.load_state_dict(official_model.state_dict(), strict=True)
    return pred


# ---- the official automatic mask generator ---------------------------------------------------------
# It imports torchvision's box NMS and (for its unused small-region clean-up) OpenCV, and its image
# predictor's hole filling calls a CUDA extension. The stand-ins below are plain reference versions
# written for the tests (numpy and scipy only, nothing from napari_sam2).


def reference_nms(boxes, scores, iou_threshold: float) -> list[int]:
    """Greedy NMS as torchvision's CPU kernel does it: stable descending score order, float32 IoU
    without +1, compared in double precision with the threshold."""
    import numpy as np

    b = np.asarray(boxes, dtype=np.float32)
    s = np.asarray(scores, dtype=np.float32)
    order = sorted(range(len(s)), key=lambda i: -float(s[i]))  # sorted() is stable
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    removed = np.zeros(len(s), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            w = max(np.float32(0), min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            h = max(np.float32(0), min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            inter = np.float32(w * h)
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = np.float32(inter / np.float32(np.float32(area[i] + area[j]) - inter))
            if float(iou) > iou_threshold:
                removed[j] = True
    return keep


def reference_batched_nms(boxes, scores, categories, iou_threshold: float) -> list[int]:
    """:func:`reference_nms` per category, the kept indices ordered by score (stable)."""
    import numpy as np

    cats = np.asarray(categories)
    s = np.asarray(scores, dtype=np.float32)
    kept = []
    for c in sorted(set(cats.tolist())):
        members = [i for i in range(len(cats)) if cats[i] == c]
        kept += [
            members[k] for k in reference_nms(np.asarray(boxes)[members], s[members], iou_threshold)
        ]
    return sorted(sorted(kept), key=lambda i: -float(s[i]))


def _labelled(binary, connectivity: int = 8):
    import numpy as np
    from scipy import ndimage

    structure = (
        np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    )
    return ndimage.label(binary, structure=structure)


def _install_amg_standins(monkeypatch) -> None:
    import numpy as np

    def batched_nms(boxes, scores, idxs, iou_threshold):
        return torch.tensor(
            reference_batched_nms(
                boxes.numpy(), scores.float().numpy(), idxs.numpy(), iou_threshold
            ),
            dtype=torch.int64,
        )

    def box_area(boxes):
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def connected_components_with_stats(image, connectivity):
        labels, n = _labelled(np.asarray(image) > 0, connectivity)
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        stats = np.zeros((n + 1, 5), dtype=np.int32)
        stats[:, -1] = areas
        return n + 1, labels.astype(np.int32), stats, np.zeros((n + 1, 2))

    def get_connected_components(
        mask,
    ):  # the CUDA extension: 8-connected labels and areas per pixel
        planes = mask.numpy().astype(bool)
        labels = np.zeros(planes.shape, np.int32)
        areas = np.zeros(planes.shape, np.int32)
        for idx in np.ndindex(planes.shape[:2]):
            lab, n = _labelled(planes[idx])
            labels[idx] = lab
            areas[idx] = np.where(lab > 0, np.bincount(lab.ravel(), minlength=n + 1)[lab], 0)
        return torch.from_numpy(labels), torch.from_numpy(areas)

    try:
        importlib.import_module("torchvision.ops.boxes")
    except Exception:
        ops, boxes = types.ModuleType("torchvision.ops"), types.ModuleType("torchvision.ops.boxes")
        boxes.batched_nms, boxes.box_area = batched_nms, box_area
        ops.boxes = boxes
        monkeypatch.setitem(sys.modules, "torchvision.ops", ops)
        monkeypatch.setitem(sys.modules, "torchvision.ops.boxes", boxes)
    cv2 = types.ModuleType("cv2")
    cv2.connectedComponentsWithStats = connected_components_with_stats
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    ext = types.ModuleType("sam2._C")
    ext.get_connected_componnets = get_connected_components  # sic: the official name
    monkeypatch.setitem(sys.modules, "sam2._C", ext)
    # also as the package attribute, so that the teardown removes it: other oracle tests rely on the
    # official hole filling being skipped on CPU
    monkeypatch.setattr(sys.modules["sam2"], "_C", ext, raising=False)
    monkeypatch.delitem(sys.modules, "sam2.automatic_mask_generator", raising=False)


def official_mask_generator_class(monkeypatch):
    """The official ``SAM2AutomaticMaskGenerator`` class, imported over the stand-ins (undone after the test)."""
    official()
    _install_amg_standins(monkeypatch)
    module = importlib.import_module("sam2.automatic_mask_generator")
    return module.SAM2AutomaticMaskGenerator


def official_mask_generator(monkeypatch, model, **options):
    """The official generator on ``model`` with its predictor's feature sizes set for ``model.image_size``."""
    gen = official_mask_generator_class(monkeypatch)(model, **options)
    s = model.image_size
    gen.predictor._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
    return gen


def shape_mask_logits(model, scale: float, shift: float) -> None:
    """Multiply every mask token's logits by ``scale`` and add ``shift`` (official module names).

    The shift goes through one upscaled-embedding channel made constant (its conv weights and
    its high-res skip zeroed, bias 1, so GELU(1) everywhere); each hypernetwork reads that
    channel with weight 0 and bias ``shift / GELU(1)``.
    """
    dec = model.sam_mask_decoder
    gelu_one = float(torch.nn.functional.gelu(torch.tensor(1.0)))
    with torch.no_grad():
        last_up = dec.output_upscaling[3]
        last_up.weight[:, 0] = 0.0
        last_up.bias[0] = 1.0
        dec.conv_s0.weight[0] = 0.0
        dec.conv_s0.bias[0] = 0.0
        for mlp in dec.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(scale)
            mlp.layers[-1].bias.mul_(scale)
            mlp.layers[-1].weight[0] = 0.0
            mlp.layers[-1].bias[0] = shift / gelu_one
