"""Interactive single-image prediction with the official ``SAM2ImagePredictor`` API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..loading import pretrained_model
from ..model.sam2_base import SAM2Base
from ..notices import warn_quality
from .postprocess import fill_holes_and_sprinkles
from .preprocess import (
    check_image,
    grey_model_advice,
    is_colour,
    pick_channel,
    to_model_input,
    to_unit_rgb,
)


@dataclass
class Prediction:
    """Everything one ``predict`` call computes (B prompt sets, M masks each).

    masks: (B, M, H, W) bool, or float logits with ``return_logits``; iou_scores: (B, M);
    low_res_logits: (B, M, S/4, S/4) clamped to [-32, 32]; object_score_logits: (B, 1).
    """

    masks: np.ndarray
    iou_scores: np.ndarray
    low_res_logits: np.ndarray
    object_score_logits: np.ndarray


def _official_form(p: Prediction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks, iou_scores, low_res_logits) as the official ``predict`` returns them: the batch axis
    dropped when there is one prompt set."""
    if p.masks.shape[0] == 1:
        return p.masks[0], p.iou_scores[0], p.low_res_logits[0]
    return p.masks, p.iou_scores, p.low_res_logits


def _as_float_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


class SAM2ImagePredictor:
    """Encode an image once with :meth:`set_image`, then prompt it many times with :meth:`predict`;
    or several images at once with :meth:`set_image_batch` and :meth:`predict_batch`.

    Coordinates are in (x, y) pixel order of the image given to ``set_image`` (or in
    [0, 1] with ``normalize_coords=False``), boxes are ``x0, y0, x1, y1``, like the
    official API.
    """

    def __init__(
        self,
        sam_model: SAM2Base,
        mask_threshold: float = 0.0,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
    ) -> None:
        self.model = sam_model
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        self.reset_predictor()

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2ImagePredictor":
        """The predictor of an official Hugging Face model id (``"facebook/sam2.1-hiera-tiny"``),
        its checkpoint from this machine or a verified download (docs/weights.md). ``kwargs``: the
        builder's (``device``, ``apply_postprocessing``, ...) and this class's."""
        model, options = pretrained_model(model_id, kwargs)
        return cls(model, **options)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset_predictor(self) -> None:
        self._features: dict | None = None
        self._orig_hw: list[tuple[int, int]] = []  # (H, W) of each image set, as the official

    @torch.inference_mode()
    def set_image(
        self,
        image,
        contrast_limits: tuple[float, float] | None = None,
        channel: int | str | None = None,
    ) -> None:
        """Compute the embedding of ``image``: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)``; uint8, uint16 or float.

        See :mod:`napari_sam2.predictor.preprocess` for how intensities are mapped;
        ``contrast_limits`` (e.g. a napari layer's) replace the automatic percentiles.
        ``channel``: a number picks one channel of an ``(H, W, C)`` image; ``"grey"`` uses the
        luminance of a colour image. Colour given to a model trained on grey images only (the
        bundled demo) gets a QualityWarning that names ``channel="grey"``.
        """
        self._encode([image], contrast_limits, channel)

    @torch.inference_mode()
    def set_image_batch(
        self,
        image_list,
        contrast_limits: tuple[float, float] | None = None,
        channel: int | str | None = None,
    ) -> None:
        """Compute the embeddings of several images in one pass, for :meth:`predict_batch`.

        image_list: a list of images, each as :meth:`set_image` takes it (sizes may differ);
        ``contrast_limits`` and ``channel`` apply to every image.
        """
        if isinstance(image_list, np.ndarray) or not isinstance(image_list, (list, tuple)):
            raise TypeError(
                f"set_image_batch takes a list of images, got "
                f"{type(image_list).__name__} (for one image use set_image)"
            )
        if not image_list:
            raise ValueError("set_image_batch got an empty list of images")
        self._encode(image_list, contrast_limits, channel)

    def _encode(self, images: list, contrast_limits, channel) -> None:
        self.reset_predictor()
        cfg = getattr(self.model, "cfg", None)
        inputs, sizes = [], []
        for i, image in enumerate(images):
            name = "image" if len(images) == 1 else f"image {i}"
            image = pick_channel(check_image(image, name), channel, name)
            if getattr(cfg, "trained_on_grey", False) and is_colour(image):
                warn_quality(grey_model_advice(cfg.name))
            unit = to_unit_rgb(image, contrast_limits)
            inputs.append(to_model_input(unit, self.model.image_size))
            sizes.append((int(unit.shape[1]), int(unit.shape[2])))
        x = torch.cat(inputs).to(self.device)
        embed, high_res = self.model.image_embeddings(self.model.forward_image(x))
        self._features = {"image_embed": embed, "high_res_feats": high_res}
        self._orig_hw = sizes

    def get_image_embedding(self) -> torch.Tensor:
        """The ``(B, 256, S/16, S/16)`` embedding of the current image(s) (B = 1 after
        ``set_image``)."""
        self._require_image()
        return self._features["image_embed"]

    def _require_image(self) -> None:
        if self._features is None:
            raise RuntimeError("no image is set: call set_image(image) before predict()")

    def predict(
        self,
        point_coords=None,
        point_labels=None,
        box=None,
        mask_input=None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ):
        """Masks for the prompts, as the official predictor returns them.

        point_coords: (N, 2) or (B, N, 2) in (x, y); point_labels: (N,) or (B, N), 1 positive,
        0 negative; box: (4,) or (B, 4) xyxy; mask_input: (1, S/4, S/4) or (B, 1, S/4, S/4)
        logits from an earlier call. Returns (masks, iou_scores, low_res_logits) with the
        leading batch axis dropped when B == 1.
        """
        p = self.predict_full(
            point_coords,
            point_labels,
            box,
            mask_input,
            multimask_output,
            return_logits,
            normalize_coords,
        )
        return _official_form(p)

    def predict_batch(
        self,
        point_coords_batch=None,
        point_labels_batch=None,
        box_batch=None,
        mask_input_batch=None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ):
        """:meth:`predict` for each image of :meth:`set_image_batch`: each ``*_batch`` argument is a
        list with one entry per image (that image's ``point_coords``, ``box``, ...) or None.
        Returns three lists (masks, iou_scores, low_res_logits), one entry per image, each as
        :meth:`predict` returns it."""
        self._require_image()
        n = len(self._orig_hw)
        given = {
            "point_coords_batch": point_coords_batch,
            "point_labels_batch": point_labels_batch,
            "box_batch": box_batch,
            "mask_input_batch": mask_input_batch,
        }
        for label, values in given.items():
            if values is not None and len(values) != n:
                raise ValueError(
                    f"{label} has {len(values)} entries for {n} images (one per "
                    f"image of set_image_batch)"
                )
        results = []
        for i in range(n):
            prompts = [None if values is None else values[i] for values in given.values()]
            try:
                p = self._predict_image(
                    i, *prompts, multimask_output, return_logits, normalize_coords
                )
            except ValueError as exc:
                raise ValueError(f"image {i}: {exc}") from None
            results.append(_official_form(p))
        return tuple(list(outputs) for outputs in zip(*results))

    def predict_full(
        self,
        point_coords=None,
        point_labels=None,
        box=None,
        mask_input=None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Prediction:
        """Like :meth:`predict`, but always batched and with the object-presence logits."""
        self._require_image()
        if len(self._orig_hw) != 1:
            raise RuntimeError(
                f"{len(self._orig_hw)} images are set (set_image_batch): use "
                f"predict_batch, or set_image for one image"
            )
        return self._predict_image(
            0,
            point_coords,
            point_labels,
            box,
            mask_input,
            multimask_output,
            return_logits,
            normalize_coords,
        )

    @torch.inference_mode()
    def _predict_image(
        self,
        index: int,
        point_coords,
        point_labels,
        box,
        mask_input,
        multimask_output: bool,
        return_logits: bool,
        normalize_coords: bool,
    ) -> Prediction:
        """The prediction for image ``index`` of those set (the official ``img_idx``)."""
        hw = self._orig_hw[index]
        coords, labels, boxes, mask = self._prompts(
            point_coords, point_labels, box, mask_input, normalize_coords, hw
        )

        if boxes is not None:
            # box corners go first, as labelled points 2 and 3
            box_pts = boxes.reshape(-1, 2, 2)
            box_lab = torch.tensor([[2, 3]], dtype=torch.int32, device=self.device).repeat(
                box_pts.shape[0], 1
            )
            if coords is not None:
                if coords.shape[0] != box_pts.shape[0]:
                    raise ValueError(f"{box_pts.shape[0]} boxes but {coords.shape[0]} point sets")
                coords, labels = torch.cat([box_pts, coords], 1), torch.cat([box_lab, labels], 1)
            else:
                coords, labels = box_pts, box_lab
        points = (coords, labels) if coords is not None else None
        if mask is not None and points is not None and mask.shape[0] not in (1, coords.shape[0]):
            raise ValueError(f"{mask.shape[0]} mask inputs but {coords.shape[0]} prompt sets")

        model = self.model
        embed = self._features["image_embed"][index : index + 1]
        high_res = [f[index : index + 1] for f in self._features["high_res_feats"]]
        sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=mask)
        out = model.sam_mask_decoder(
            image_embeddings=embed,
            image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=points is not None and coords.shape[0] > 1,
            high_res_features=high_res,
        )
        low_res = fill_holes_and_sprinkles(
            out.masks.float(), self.mask_threshold, self.max_hole_area, self.max_sprinkle_area
        )
        masks = F.interpolate(low_res, hw, mode="bilinear", align_corners=False)
        if not return_logits:
            masks = masks > self.mask_threshold
        return Prediction(
            masks.cpu().numpy(),
            out.iou.float().cpu().numpy(),
            out.masks.float().clamp(-32.0, 32.0).cpu().numpy(),
            out.object_score.float().cpu().numpy(),
        )

    def _to_model_coords(self, xy: np.ndarray, limit: np.ndarray) -> torch.Tensor:
        # float32 throughout, in the official order (divide by the image size, then scale)
        t = torch.as_tensor(xy, dtype=torch.float32, device=self.device)
        return (
            t
            / torch.as_tensor(limit, dtype=torch.float32, device=self.device)
            * self.model.image_size
        )

    def _prompts(
        self, point_coords, point_labels, box, mask_input, normalize_coords, hw: tuple[int, int]
    ):
        """Check prompts for an image of size ``hw`` and convert them to model-input tensors
        (coordinates scaled to the model size)."""
        if point_coords is None and box is None and mask_input is None:
            raise ValueError(
                "no prompt given: pass point_coords/point_labels, a box or a mask_input"
            )
        h, w = hw
        limit = np.array([w, h], dtype=np.float64) if normalize_coords else np.ones(2)
        where = f"the {w}x{h} image" if normalize_coords else "[0, 1] (normalize_coords=False)"

        coords = labels = boxes = mask = None
        if point_coords is not None or point_labels is not None:
            if point_coords is None or point_labels is None:
                raise ValueError("point_coords and point_labels must be given together")
            pts = _as_float_array(point_coords, "point_coords")
            lab = np.asarray(point_labels)
            if pts.ndim == 2:
                pts, lab = pts[None], lab[None] if lab.ndim == 1 else lab
            if pts.ndim != 3 or pts.shape[-1] != 2:
                raise ValueError(
                    f"point_coords must have shape (N, 2) or (B, N, 2), got {np.shape(point_coords)}"
                )
            if lab.shape != pts.shape[:2]:
                raise ValueError(
                    f"point_labels shape {np.shape(point_labels)} does not match "
                    f"{pts.shape[1]} points in point_coords"
                )
            if pts.shape[1] == 0:
                raise ValueError("point_coords is empty")
            if not np.isin(lab, (0, 1, 2, 3, -1)).all():
                raise ValueError(
                    f"point_labels must be 1 (positive) or 0 (negative); got {np.unique(lab)}"
                )
            outside = ((pts < 0) | (pts > limit)).any(-1)
            if outside.any():
                bad = pts[outside][0]
                raise ValueError(f"point (x={bad[0]:g}, y={bad[1]:g}) lies outside {where}")
            coords = self._to_model_coords(pts, limit)
            labels = torch.as_tensor(lab, dtype=torch.int32, device=self.device)
        if box is not None:
            bx = _as_float_array(box, "box")
            bx = bx[None] if bx.ndim == 1 else bx
            if bx.ndim != 2 or bx.shape[-1] != 4:
                raise ValueError(
                    f"box must have shape (4,) or (B, 4) as x0, y0, x1, y1; got {np.shape(box)}"
                )
            corners = bx.reshape(-1, 2, 2)
            if ((corners < 0) | (corners > limit)).any():
                raise ValueError(f"box {bx[0].tolist()} reaches outside {where}")
            if (bx[:, 2] < bx[:, 0]).any() or (bx[:, 3] < bx[:, 1]).any():
                raise ValueError("box must be ordered x0 <= x1 and y0 <= y1")
            boxes = self._to_model_coords(corners, limit)
        if mask_input is not None:
            m = _as_float_array(mask_input, "mask_input")
            expected = self.model.sam_prompt_encoder.mask_input_size
            m = m[None] if m.ndim == 3 else m
            if m.ndim != 4 or m.shape[1] != 1 or tuple(m.shape[-2:]) != expected:
                raise ValueError(
                    f"mask_input must have shape (1, {expected[0]}, {expected[1]}) or "
                    f"(B, 1, {expected[0]}, {expected[1]}); got {np.shape(mask_input)}"
                )
            mask = torch.as_tensor(m, dtype=torch.float32, device=self.device)
        return coords, labels, boxes, mask
