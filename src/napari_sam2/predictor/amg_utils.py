"""Pure mask utilities of the automatic mask generator: point grids, crops, scores, RLE, box NMS, small regions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from scipy import ndimage

_EIGHT = np.ones((3, 3), dtype=bool)


# ---- prompts and crops ----------------------------------------------------------------------------


def point_grid(n_per_side: int) -> np.ndarray:
    """``(n², 2)`` points ``(x, y)`` at the centres of an n x n tiling of [0, 1]², x running fastest."""
    half_step = 1.0 / (2 * n_per_side)
    ticks = np.linspace(half_step, 1.0 - half_step, n_per_side)
    ys, xs = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def layer_point_grids(n_per_side: int, n_layers: int, downscale: int) -> list[np.ndarray]:
    """One grid per crop layer (layer 0 is the whole image); layer i has ``n_per_side / downscale**i`` per side."""
    return [point_grid(int(n_per_side / downscale**i)) for i in range(n_layers + 1)]


def _crop_length(full: int, n_crops: int, overlap: int) -> int:
    return int(math.ceil((overlap * (n_crops - 1) + full) / n_crops))


def crop_boxes(
    height: int, width: int, n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """The crops ``[x0, y0, x1, y1]`` and their layer numbers: the whole image, then 2^i x 2^i overlapping
    crops for layer i = 1..n_layers (x0 is the outer loop, as in the official order)."""
    boxes, layers = [[0, 0, width, height]], [0]
    short_side = min(height, width)
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        # the overlap shrinks with the crop count, so that finer layers still share a margin
        overlap = int(overlap_ratio * short_side * (2 / per_side))
        crop_w, crop_h = (
            _crop_length(width, per_side, overlap),
            _crop_length(height, per_side, overlap),
        )
        starts_x = [int((crop_w - overlap) * i) for i in range(per_side)]
        starts_y = [int((crop_h - overlap) * i) for i in range(per_side)]
        for x0, y0 in itertools.product(starts_x, starts_y):
            boxes.append([x0, y0, min(x0 + crop_w, width), min(y0 + crop_h, height)])
            layers.append(layer)
    return boxes, layers


# ---- scores and boxes ------------------------------------------------------------------------------


def stability_score(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """IoU of the mask cut at ``threshold + offset`` with the one cut at ``threshold - offset``.

    The first is inside the second, so the IoU is a ratio of pixel counts (NaN for two empty masks).
    """
    inner = (logits > threshold + offset).flatten(-2).sum(-1)
    outer = (logits > threshold - offset).flatten(-2).sum(-1)
    return inner / outer


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` bool -> ``(N, 4)`` int64 boxes ``x0, y0, x1, y1`` (inclusive last pixel); 0s for an empty mask."""
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros(0, 4, dtype=torch.int64, device=masks.device)
    rows, cols = masks.any(-1), masks.any(-2)

    def first_last(hit: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.arange(length, device=hit.device)
        last = torch.where(hit, index, -1).max(-1).values
        first = torch.where(hit, index, length).min(-1).values
        return first, last

    y0, y1 = first_last(rows, h)
    x0, x1 = first_last(cols, w)
    boxes = torch.stack([x0, y0, x1, y1], -1)
    empty = ~rows.any(-1)
    boxes[empty] = 0
    return boxes


def near_crop_edge(
    boxes: torch.Tensor, crop: list[int], image_box: list[int], tolerance: float = 20.0
) -> torch.Tensor:
    """True for boxes (crop coordinates) with a side within ``tolerance`` of a crop side that is not an image side.

    Such masks were probably cut by the crop; a finer or coarser crop sees them whole.
    """
    crop_t = torch.tensor(crop, dtype=torch.float32, device=boxes.device)
    image_t = torch.tensor(image_box, dtype=torch.float32, device=boxes.device)
    in_image = (boxes + offset_for(crop, boxes.device)).float()
    at_crop = (in_image - crop_t).abs() <= tolerance
    at_image = (in_image - image_t).abs() <= tolerance
    return (at_crop & ~at_image).any(-1)


def offset_for(crop: list[int], device=None) -> torch.Tensor:
    """``[[x0, y0, x0, y0]]`` of a crop, to move boxes from crop to image coordinates."""
    x0, y0 = crop[0], crop[1]
    return torch.tensor([[x0, y0, x0, y0]], device=device)


def pad_to_image(masks: torch.Tensor, crop: list[int], height: int, width: int) -> torch.Tensor:
    """``(N, h, w)`` masks of a crop placed into ``(N, height, width)`` image-sized masks."""
    x0, y0, x1, y1 = crop
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return masks
    return torch.nn.functional.pad(masks, (x0, width - x1, y0, height - y1), value=0)


def xyxy_to_xywh(box) -> list[float]:
    """One box ``x0, y0, x1, y1`` (float32 array) as ``[x, y, width, height]`` floats."""
    b = np.asarray(box, dtype=np.float32)
    return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]


# ---- non-maximum suppression -----------------------------------------------------------------------


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, best score first (ties: lower index first).

    A box is dropped when its IoU (float32, no +1 on widths) with a kept, better box exceeds
    ``iou_threshold``. This follows torchvision's CPU kernel, including its comparison of
    the float32 IoU with the threshold in double precision.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    boxes = boxes.float()
    order = torch.sort(scores, descending=True, stable=True).indices
    x0, y0, x1, y1 = boxes[order].unbind(-1)
    areas = (x1 - x0) * (y1 - y0)
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = slice(i + 1, None)
        w = (torch.minimum(x1[i], x1[rest]) - torch.maximum(x0[i], x0[rest])).clamp(min=0)
        h = (torch.minimum(y1[i], y1[rest]) - torch.maximum(y0[i], y0[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou.double() > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=boxes.device)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, categories: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """:func:`nms` within each category (boxes of different categories never suppress each other).

    Returns the kept indices, best score first (ties: lower index first).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    kept = [
        torch.nonzero(categories == c).flatten()[
            nms(boxes[categories == c], scores[categories == c], iou_threshold)
        ]
        for c in torch.unique(categories)
    ]
    kept = torch.sort(torch.cat(kept)).values
    return kept[torch.sort(scores[kept], descending=True, stable=True).indices]


# ---- run-length encoding (COCO's uncompressed form: column-major runs, starting with background) ----


def mask_to_rle(mask: np.ndarray) -> dict:
    """``(H, W)`` bool mask -> ``{"size": [H, W], "counts": [...]}``."""
    h, w = mask.shape
    flat = np.asarray(mask, dtype=bool).T.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], changes, [h * w]])
    counts = np.diff(edges).tolist()
    if flat[0]:
        counts.insert(0, 0)  # the first run always counts background pixels
    return {"size": [h, w], "counts": counts}


def rle_to_mask(rle: dict) -> np.ndarray:
    """The ``(H, W)`` bool mask of an uncompressed RLE."""
    h, w = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    flat = np.repeat(values, rle["counts"])
    return flat.reshape(w, h).T


def rle_area(rle: dict) -> int:
    """Foreground pixel count of an uncompressed RLE."""
    return int(sum(rle["counts"][1::2]))


def coco_rle(rle: dict) -> dict:
    """An uncompressed RLE in pycocotools' compressed form (counts as a str, JSON-ready)."""
    from pycocotools import mask as mask_utils

    h, w = rle["size"]
    out = mask_utils.frPyObjects(rle, h, w)
    out["counts"] = out["counts"].decode("utf-8")
    return out


# ---- small regions ---------------------------------------------------------------------------------


def remove_small_regions(
    mask: np.ndarray, area_thresh: float, mode: str
) -> tuple[np.ndarray, bool]:
    """Fill holes (``mode="holes"``) or drop islands (``"islands"``) of fewer than ``area_thresh`` pixels.

    Regions are 8-connected. Background regions touching the border count as holes too.
    When every island is small, the largest (first one in raster order on a tie) stays.
    Returns the mask and whether it changed.
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    holes = mode == "holes"
    labels, n = ndimage.label(~mask if holes else mask, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    small = sizes < area_thresh
    if not small.any():
        return mask, False
    if holes:
        return mask | small[labels - 1] & (labels > 0), True
    keep = ~small
    if not keep.any():
        keep[int(np.argmax(sizes))] = True
    return keep[labels - 1] & (labels > 0), True
