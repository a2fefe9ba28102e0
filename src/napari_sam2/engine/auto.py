"""Segment everything on a frame as a label image, and propose new cells that no tracked object covers.

Both run the automatic mask generator (:class:`~napari_sam2.predictor.automatic.SAM2AutomaticMaskGenerator`)
and turn its overlapping masks into one label image: each pixel goes to the mask ranked highest by
predicted IoU × stability score, and masks outside the area range (debris, background) are dropped
before that.
"""

from __future__ import annotations

import math

import numpy as np

from ..io.label_prompts import LABEL_FILE_MAX_ID
from ..model.sam2_base import SAM2Base
from ..settings import AutoSettings


def make_generator(settings: AutoSettings, model: SAM2Base):
    """The automatic mask generator with ``settings``' filters, for ``model`` (the demo model with the official
    filters gets a QualityWarning: its IoU head rarely passes them)."""
    from ..model.configs import DEMO
    from ..predictor.automatic import SAM2AutomaticMaskGenerator

    if model.cfg.name == DEMO and (
        settings.pred_iou_thresh >= 0.8 or settings.stability_score_thresh >= 0.95
    ):
        from ..notices import warn_quality

        warn_quality(
            f"the bundled demo model's IoU head rarely predicts 0.8 or more, so with an IoU threshold of "
            f"{settings.pred_iou_thresh} and a stability threshold of {settings.stability_score_thresh} the "
            "automatic segmentation finds few cells (demo v3 on crowded synthetic frames: 7 % of them "
            "at 0.8 / 0.95, 30 % at 0.5 / 0.8); lower both (CLI --auto-iou 0.5 --auto-stability 0.8, "
            "or the widget's automatic segmentation settings)"
        )
    return SAM2AutomaticMaskGenerator(
        model,
        points_per_side=settings.points_per_side,
        pred_iou_thresh=settings.pred_iou_thresh,
        stability_score_thresh=settings.stability_score_thresh,
        box_nms_thresh=settings.box_nms_thresh,
        crop_n_layers=settings.crop_n_layers,
    )


def for_session(settings: AutoSettings, session) -> AutoSettings:
    """``settings`` for ``session``'s frames: in window mode, with enough crop layers that the finest crops are
    about the window's size, so the generator sees cells near the scale window mode tracks them at (the whole
    frame squeezed into the model's input would shrink them)."""
    window = session.window
    if window is None:
        return settings
    side = max(session.frames.height, session.frames.width)
    layers = max(settings.crop_n_layers, math.ceil(math.log2(max(side / window, 1.0))))
    return settings.replaced(crop_n_layers=min(layers, 6))


def masks_to_labels(
    records: list[dict], shape: tuple[int, int], min_area: int = 0, max_area: int | None = None
) -> tuple[np.ndarray, list[float]]:
    """``(H, W)`` uint32 labels from the generator's records (binary masks), and the score of each label.

    Masks outside the area range are dropped; each pixel goes to the covering mask with the highest
    score (predicted IoU × stability score); labels are 1, 2, ... in that ranking (a mask that better
    ones leave with fewer than ``min_area`` pixels, or none, gets no label), so ``scores[k - 1]``
    belongs to label ``k``.
    """
    kept = [
        r for r in records if r["area"] >= min_area and (max_area is None or r["area"] <= max_area)
    ]
    ranked = sorted(
        ((r["predicted_iou"] * r["stability_score"], i) for i, r in enumerate(kept)), reverse=True
    )
    labels = np.zeros(shape, np.uint32)
    scores = []
    for score, i in ranked:
        free = np.asarray(kept[i]["segmentation"], bool) & (labels == 0)
        if np.count_nonzero(free) >= max(
            min_area, 1
        ):  # what better masks leave of it must be large enough too
            scores.append(float(score))
            labels[free] = len(scores)
    return labels, scores


def segment_all(
    model: SAM2Base,
    image,
    settings: AutoSettings | None = None,
    contrast_limits: tuple[float, float] | None = None,
    channel: int | str | None = None,
) -> np.ndarray:
    """Every object the generator finds in a 2-D ``image`` as ``(H, W)`` uint32 labels (see
    :func:`masks_to_labels`)."""
    settings = settings or AutoSettings()
    records = make_generator(settings, model).generate(
        image, contrast_limits=contrast_limits, channel=channel
    )
    shape = records[0]["segmentation"].shape if records else np.asarray(image).shape[:2]
    return masks_to_labels(records, shape, settings.min_area, settings.max_area)[0]


def new_cell_suggestions(
    session, frames, settings: AutoSettings | None = None, max_covered: float = 0.2
) -> list[dict]:
    """Regions on ``frames`` that the generator finds and no tracked object covers: cells entering the
    field or appearing mid-movie. A candidate is kept when at most ``max_covered`` of its pixels belong
    to tracked objects in the session's labels. Returns ``[{"frame", "mask" (H, W) bool, "area",
    "score"}]`` sorted by frame, then by score (predicted IoU × stability) from the highest."""
    settings = for_session(settings or AutoSettings(), session)
    generator = make_generator(settings, session.model)
    found = []
    for f in sorted(set(int(f) for f in frames)):
        tracked = session.label_frame(f) > 0
        records = generator.generate(
            session.frames.raw(f), contrast_limits=session.frames.contrast_limits
        )
        labels, scores = masks_to_labels(
            records, tracked.shape, settings.min_area, settings.max_area
        )
        for k in untracked_labels(labels, tracked, max_covered):
            mask = labels == k
            found.append(
                {"frame": f, "mask": mask, "area": int(mask.sum()), "score": scores[k - 1]}
            )
    return found


def untracked_labels(
    labels: np.ndarray, tracked: np.ndarray, max_covered: float = 0.2
) -> list[int]:
    """The labels of ``labels`` (H, W) at most ``max_covered`` of whose pixels lie in ``tracked`` (H, W) bool:
    the regions no tracked object holds already."""
    flat = labels.ravel().astype(np.int64)
    area = np.bincount(flat)
    covered = np.bincount(flat, weights=tracked.ravel(), minlength=len(area))
    return [int(k) for k in np.flatnonzero(area) if k and covered[k] <= max_covered * area[k]]


def next_free_id(session) -> int:
    """The first id after every id the session uses: its objects and the daughters of marked divisions
    (reserved before they are prompted)."""
    return max([*session.obj_ids, *session.parents], default=0) + 1


def add_new_objects(
    session, frame: int, image: np.ndarray, max_id: int, holder: str = "the labels output"
) -> list[int]:
    """Each label of ``image`` (any values; 0 is background) becomes a new object on ``frame``, prompted by
    its mask and numbered from :func:`next_free_id` in ascending label order; returns the new ids. Ids
    above ``max_id`` (what ``holder`` can hold) are refused before anything is added."""
    old = np.unique(image)
    old = old[old != 0]
    if not len(old):
        return []
    first = next_free_id(session)
    last = first + len(old) - 1
    if last > max_id:
        raise ValueError(
            f"{len(old)} new object(s) would need ids up to {last}, above {max_id}, the largest "
            f"{holder} can hold"
        )
    labels = np.zeros(image.shape, np.uint32)
    inside = image != 0
    labels[inside] = first + np.searchsorted(old, image[inside])
    return session.add_labels(frame, labels)


def seed_objects(
    session, frame: int, settings: AutoSettings | None = None, max_id: int = LABEL_FILE_MAX_ID
) -> list[int]:
    """Every object the automatic segmentation finds on ``frame`` becomes a tracked object (a mask prompt),
    numbered after the session's existing ids; returns the ids. A frame where it finds nothing is an error."""
    settings = for_session(settings or AutoSettings(), session)
    labels = segment_all(
        session.model,
        session.frames.raw(frame),
        settings,
        contrast_limits=session.frames.contrast_limits,
    )
    if not labels.any():
        raise ValueError(
            f"the automatic segmentation found no objects on frame {frame}: lower the IoU or "
            f"stability thresholds, or widen the area range ({settings.min_area}..{settings.max_area})"
        )
    return add_new_objects(session, frame, labels, max_id)


def add_new_cells(
    session,
    frame: int,
    settings: AutoSettings | None = None,
    max_covered: float = 0.2,
    max_id: int = LABEL_FILE_MAX_ID,
) -> list[int]:
    """Each :func:`new_cell_suggestions` region on ``frame`` becomes a new object there; returns the ids."""
    found = new_cell_suggestions(session, [frame], settings, max_covered)
    regions = np.zeros((session.frames.height, session.frames.width), np.uint32)
    for k, s in enumerate(found, 1):  # disjoint: they are labels of one image per frame
        regions[s["mask"]] = k
    return add_new_objects(session, frame, regions, max_id)
