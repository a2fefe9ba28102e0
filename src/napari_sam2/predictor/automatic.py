"""Whole-image segmentation without prompts: the official ``SAM2AutomaticMaskGenerator`` on our image predictor."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..loading import pretrained_model
from ..model.sam2_base import SAM2Base
from . import amg_utils as amg
from .image_predictor import SAM2ImagePredictor
from .preprocess import check_image, pick_channel, robust_limits

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


@dataclass
class _Candidates:
    """Masks kept so far with their numbers, one row per mask (all tensors share the row order)."""

    rles: list = field(default_factory=list)
    boxes: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 4, dtype=torch.int64))
    iou: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    stability: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    points: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 2))
    crops: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 4, dtype=torch.int64))

    def __len__(self) -> int:
        return len(self.rles)

    def take(self, index: torch.Tensor) -> "_Candidates":
        rows = index.tolist()
        return _Candidates(
            [self.rles[i] for i in rows],
            self.boxes[index],
            self.iou[index],
            self.stability[index],
            self.points[index],
            self.crops[index],
        )

    @staticmethod
    def join(parts: list["_Candidates"]) -> "_Candidates":
        if not parts:
            return _Candidates()
        return _Candidates(
            [r for p in parts for r in p.rles],
            torch.cat([p.boxes for p in parts]),
            torch.cat([p.iou for p in parts]),
            torch.cat([p.stability for p in parts]),
            torch.cat([p.points for p in parts]),
            torch.cat([p.crops for p in parts]),
        )


@dataclass
class GeneratorOptions:
    """The generator's settings after the point grids (see :class:`SAM2AutomaticMaskGenerator`)."""

    points_per_batch: int
    pred_iou_thresh: float
    stability_score_thresh: float
    stability_score_offset: float
    mask_threshold: float
    box_nms_thresh: float
    crop_n_layers: int
    crop_nms_thresh: float
    crop_overlap_ratio: float
    crop_n_points_downscale_factor: int
    min_mask_region_area: int
    output_mode: str
    use_m2m: bool
    multimask_output: bool


class SAM2AutomaticMaskGenerator:
    """Segment everything in an image by prompting a grid of single points, then filtering and de-duplicating.

    Same options, order of operations and records as the official generator (docs/automatic.md).
    ``min_mask_region_area`` is, as in the official code, the hole and speck size (in low-res
    logit pixels, 8-connected) that the image predictor cleans before upscaling; here it works
    on every device. :meth:`postprocess_small_regions` is the official full-resolution
    clean-up, which ``generate`` does not call (neither does the official one).
    """

    def __init__(
        self, model: SAM2Base, points_per_side: int | None = 32, points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8, stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0, mask_threshold: float = 0.0, box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0, crop_nms_thresh: float = 0.7, crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1, point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0, output_mode: str = "binary_mask", use_m2m: bool = False,
        multimask_output: bool = True,
    ) -> None:  # fmt: skip
        if (points_per_side is None) == (point_grids is None):
            raise ValueError("give exactly one of points_per_side and point_grids")
        if points_per_side is not None:
            self.point_grids = amg.layer_point_grids(
                points_per_side, crop_n_layers, crop_n_points_downscale_factor
            )
        else:
            self.point_grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
        if len(self.point_grids) < crop_n_layers + 1:
            raise ValueError(
                f"point_grids has {len(self.point_grids)} grid(s) but crop_n_layers={crop_n_layers} "
                f"needs {crop_n_layers + 1} (one per layer, the whole image first)"
            )
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"output_mode must be one of {', '.join(OUTPUT_MODES)}; got {output_mode!r}"
            )
        if output_mode == "coco_rle":
            try:
                import pycocotools.mask  # noqa: F401
            except ImportError as err:
                raise ImportError(
                    "output_mode='coco_rle' needs pycocotools (pip install pycocotools); "
                    "'uncompressed_rle' gives the same runs without it"
                ) from err
        if points_per_batch < 1:
            raise ValueError(f"points_per_batch must be at least 1, got {points_per_batch}")

        self.predictor = SAM2ImagePredictor(
            model, max_hole_area=min_mask_region_area, max_sprinkle_area=min_mask_region_area
        )
        self.options = GeneratorOptions(
            points_per_batch,
            pred_iou_thresh,
            stability_score_thresh,
            stability_score_offset,
            mask_threshold,
            box_nms_thresh,
            crop_n_layers,
            crop_nms_thresh,
            crop_overlap_ratio,
            crop_n_points_downscale_factor,
            min_mask_region_area,
            output_mode,
            use_m2m,
            multimask_output,
        )

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2AutomaticMaskGenerator":
        """The generator on the model of an official Hugging Face model id
        (``"facebook/sam2.1-hiera-tiny"``), its checkpoint from this machine or a verified download
        (docs/weights.md). ``kwargs``: the builder's (``device``, ``apply_postprocessing``, ...)
        and this class's."""
        model, options = pretrained_model(model_id, kwargs)
        return cls(model, **options)

    # ---- the public result ----------------------------------------------------------------------

    @torch.inference_mode()
    def generate(
        self,
        image,
        contrast_limits: tuple[float, float] | None = None,
        channel: int | str | None = None,
    ) -> list[dict]:
        """Masks of everything in ``image`` (grey, 16-bit, float or RGB; see ``SAM2ImagePredictor.set_image``).

        Every crop is mapped with the same contrast limits (``contrast_limits``, or the whole
        image's percentiles for non-uint8 data). Returns one record per mask, in the official
        order and form: ``segmentation`` (per ``output_mode``), ``area``, ``bbox`` (x, y, w, h),
        ``predicted_iou``, ``point_coords`` ``[[x, y]]``, ``stability_score``, ``crop_box`` (x, y, w, h).
        """
        image = pick_channel(check_image(image), channel)
        if contrast_limits is None and image.dtype != np.uint8:
            contrast_limits = robust_limits(image[..., :3] if image.ndim == 3 else image)
        found = self._generate_masks(image, contrast_limits)
        return [self._record(found, i) for i in range(len(found))]

    def _record(self, found: _Candidates, i: int) -> dict:
        rle = found.rles[i]
        if self.options.output_mode == "binary_mask":
            segmentation = amg.rle_to_mask(rle)
        elif self.options.output_mode == "coco_rle":
            segmentation = amg.coco_rle(rle)
        else:
            segmentation = rle
        return {
            "segmentation": segmentation,
            "area": amg.rle_area(rle),
            "bbox": amg.xyxy_to_xywh(found.boxes[i].float().numpy()),
            "predicted_iou": float(found.iou[i]),
            "point_coords": [found.points[i].float().tolist()],
            "stability_score": float(found.stability[i]),
            "crop_box": amg.xyxy_to_xywh(found.crops[i].float().numpy()),
        }

    # ---- crops ----------------------------------------------------------------------------------

    def _generate_masks(self, image: np.ndarray, contrast_limits) -> _Candidates:
        height, width = image.shape[:2]
        crops, layers = amg.crop_boxes(
            height, width, self.options.crop_n_layers, self.options.crop_overlap_ratio
        )
        found = _Candidates.join(
            [
                self._process_crop(image, crop, layer, contrast_limits)
                for crop, layer in zip(crops, layers)
            ]
        )
        if len(crops) > 1 and len(found):
            # a mask seen by several crops: the one from the smallest crop wins
            crop_area = (found.crops[:, 2] - found.crops[:, 0]) * (
                found.crops[:, 3] - found.crops[:, 1]
            )
            keep = amg.batched_nms(
                found.boxes.float(),
                1 / crop_area,
                torch.zeros(len(found)),
                self.options.crop_nms_thresh,
            )
            found = found.take(keep)
        return found

    def _process_crop(
        self, image: np.ndarray, crop: list[int], layer: int, contrast_limits
    ) -> _Candidates:
        x0, y0, x1, y1 = crop
        self.predictor.set_image(image[y0:y1, x0:x1], contrast_limits=contrast_limits)
        crop_hw = (y1 - y0, x1 - x0)
        points = self.point_grids[layer] * np.array([[crop_hw[1], crop_hw[0]]])
        batches = [
            self._process_batch(
                points[i : i + self.options.points_per_batch], crop_hw, crop, image.shape[:2]
            )
            for i in range(0, len(points), self.options.points_per_batch)
        ]
        self.predictor.reset_predictor()
        found = _Candidates.join(batches)
        if not len(found):
            return found
        keep = amg.batched_nms(
            found.boxes.float(), found.iou, torch.zeros(len(found)), self.options.box_nms_thresh
        )
        found = found.take(keep)
        found.boxes = found.boxes + amg.offset_for(crop)
        found.points = found.points + torch.tensor([[x0, y0]])
        found.crops = torch.tensor([crop] * len(found), dtype=torch.int64).reshape(-1, 4)
        return found

    # ---- one batch of point prompts ---------------------------------------------------------------

    def _predict(self, points: torch.Tensor, multimask: bool, mask_input=None):
        """Logits at crop size, predicted IoUs and low-res logits for one positive click per row."""
        labels = np.ones((len(points), 1), dtype=np.int64)
        p = self.predictor.predict_full(
            points[:, None, :].numpy(),
            labels,
            mask_input=mask_input,
            multimask_output=multimask,
            return_logits=True,
        )
        return (
            torch.from_numpy(p.masks),
            torch.from_numpy(p.iou_scores),
            torch.from_numpy(p.low_res_logits),
        )

    def _refine_with_m2m(
        self, points: torch.Tensor, low_res: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each mask fed back as a mask prompt together with its click; the single output replaces it."""
        masks, ious = [], []
        for i in range(0, len(points), self.options.points_per_batch):
            m, q, _ = self._predict(
                points[i : i + self.options.points_per_batch],
                False,
                low_res[i : i + self.options.points_per_batch, None].numpy(),
            )
            masks.append(m[:, 0])
            ious.append(q[:, 0])
        return torch.cat(masks), torch.cat(ious)

    def _process_batch(
        self,
        points: np.ndarray,
        crop_hw: tuple[int, int],
        crop: list[int],
        image_hw: tuple[int, int],
    ) -> _Candidates:
        points = torch.as_tensor(points, dtype=torch.float32)
        logits, iou, low_res = self._predict(points, self.options.multimask_output)
        per_point = logits.shape[1]
        logits, iou, low_res = logits.flatten(0, 1), iou.flatten(0, 1), low_res.flatten(0, 1)
        points = points.repeat_interleave(per_point, dim=0)
        if self.options.use_m2m:
            logits, iou = self._refine_with_m2m(points, low_res)

        keep = torch.ones(len(iou), dtype=torch.bool)
        if self.options.pred_iou_thresh > 0.0:
            keep = iou > self.options.pred_iou_thresh
        logits, iou, points = logits[keep], iou[keep], points[keep]
        stability = amg.stability_score(
            logits, self.options.mask_threshold, self.options.stability_score_offset
        )
        if self.options.stability_score_thresh > 0.0:
            keep = stability >= self.options.stability_score_thresh
            logits, iou, points, stability = logits[keep], iou[keep], points[keep], stability[keep]

        masks = logits > self.options.mask_threshold
        boxes = amg.masks_to_boxes(masks)
        keep = ~amg.near_crop_edge(boxes, crop, [0, 0, image_hw[1], image_hw[0]])
        masks, boxes, iou, points, stability = (
            masks[keep],
            boxes[keep],
            iou[keep],
            points[keep],
            stability[keep],
        )

        full = amg.pad_to_image(masks, crop, *image_hw).numpy()
        return _Candidates(
            [amg.mask_to_rle(m) for m in full],
            boxes,
            iou,
            stability,
            points,
            torch.zeros(len(full), 4, dtype=torch.int64),
        )

    # ---- the official full-resolution clean-up ----------------------------------------------------

    @staticmethod
    def postprocess_small_regions(
        records: list[dict], min_area: int, nms_thresh: float
    ) -> list[dict]:
        """Fill holes and drop islands under ``min_area`` pixels (8-connected) in uncompressed-RLE records,
        then drop new duplicates by box NMS, preferring masks that needed no change.

        ``records`` are ``generate`` records with ``output_mode="uncompressed_rle"``; the kept
        ones are returned (changed ones with a new segmentation, area and bbox), best first.
        """
        if not records:
            return []
        masks, unchanged = [], []
        for rec in records:
            mask, filled = amg.remove_small_regions(
                amg.rle_to_mask(rec["segmentation"]), min_area, "holes"
            )
            mask, trimmed = amg.remove_small_regions(mask, min_area, "islands")
            masks.append(mask)
            unchanged.append(not (filled or trimmed))
        boxes = amg.masks_to_boxes(torch.from_numpy(np.stack(masks)))
        scores = torch.tensor(unchanged, dtype=torch.float32)
        keep = amg.batched_nms(boxes.float(), scores, torch.zeros(len(records)), nms_thresh)
        out = []
        for i in keep.tolist():
            rec = dict(records[i])
            if not unchanged[i]:
                rec["segmentation"] = amg.mask_to_rle(masks[i])
                rec["area"] = amg.rle_area(rec["segmentation"])
                rec["bbox"] = amg.xyxy_to_xywh(boxes[i].float().numpy())
            out.append(rec)
        return out
