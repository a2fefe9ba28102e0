"""Suggested cell divisions: one suggestion per object and event, from what the label image shows.

Per object and tracked frame the visible mask (its pixels in the label image, so a neighbour it
overlaps does not count as a daughter) gives three cues:

* "split": two or more connected parts, each at least ``min_fraction`` of the area;
* "area drop": the area falls below ``area_ratio`` times the previous frame's (the tracker kept
  one daughter);
* "score collapse": the object score turns from present to absent.

A cue counts only if it lasts ``persist`` tracked frames in a row (a split must stay split, the
area must stay low, the object must stay absent): one-frame flickers of a mask are not
divisions. Daughters are smaller than their mother: a lasting split counts only if its parts'
inscribed radius is below ``shrink`` times the mask's just before (a mask that grew over a
neighbour, or a mother already split, splits without shrinking). A cell about to divide pinches:
the frame before a lasting split is reported instead when the mask's inscribed radius there falls
below ``shrink`` times the frame before's (the daughters have formed but still touch). A lasting
"shrink" of the inscribed radius below ``shrink`` times the frame before's is a cue of its own (the
tracker followed one daughter, whose mask shrinks without splitting or halving at once). Cues of
one object less than ``min_gap`` frames apart are one event (a cell does not divide twice in a few
frames), reported once at its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class _Shape:
    area: int
    split: bool
    radius: float  # largest inscribed radius in pixels (0 for an empty mask)
    score: float


def _shape(mask: np.ndarray, score: float, min_fraction: float) -> _Shape:
    area = int(mask.sum())
    if not area:
        return _Shape(0, False, 0.0, score)
    parts, n = ndimage.label(mask)
    split = n >= 2 and int((np.bincount(parts.ravel())[1:] >= min_fraction * area).sum()) >= 2
    radius = float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())
    return _Shape(area, split, radius, score)


def _shapes(session, min_fraction: float) -> dict[int, dict[int, _Shape]]:
    """``{obj: {frame: _Shape}}`` of every tracked object and frame, from one label image per frame."""
    frames = sorted({f for obj in session.objects.values() for f in obj.results})
    out: dict[int, dict[int, _Shape]] = {oid: {} for oid in session.objects}
    for f in frames:
        labels = session.label_frame(f)
        boxes = ndimage.find_objects(labels)
        for oid, obj in session.objects.items():
            r = obj.results.get(f)
            if r is None:
                continue
            box = boxes[oid - 1] if 0 < oid <= len(boxes) else None
            mask = labels[box] == oid if box is not None else np.zeros((0, 0), bool)
            out[oid][f] = _shape(mask, r.score, min_fraction)
    return out


def _runs(flags: dict[int, bool]) -> list[list[int]]:
    """Runs of consecutive frames (by index) whose flag is set."""
    runs: list[list[int]] = []
    for f in sorted(flags):
        if not flags[f]:
            continue
        if runs and runs[-1][-1] == f - 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def _cues(
    shapes: dict[int, _Shape], area_ratio: float, persist: int, shrink: float
) -> list[tuple[int, str]]:
    """(frame, reason) of each lasting cue of one object."""
    cues = []
    for run in _runs({f: s.split for f, s in shapes.items()}):
        if len(run) < persist:
            continue
        first = run[0]
        before, earlier = shapes.get(first - 1), shapes.get(first - 2)
        if (
            before is not None
            and earlier is not None
            and before.area
            and before.radius < shrink * earlier.radius
        ):
            first -= 1  # pinching: the daughters are already there, touching
        mother = shapes.get(first - 1)
        parts = np.mean([shapes[f].radius for f in run[:persist]])
        if mother is not None and parts >= shrink * mother.radius:
            continue  # parts as large as the cell before: not daughters
        cues.append((first, "split"))
    frames = sorted(shapes)
    for i, f in enumerate(frames[1:], 1):
        prev = shapes[frames[i - 1]]
        if frames[i - 1] != f - 1:
            continue
        after = [shapes.get(f + k) for k in range(persist)]
        if any(s is None for s in after):
            continue
        if prev.area and all(s.area < area_ratio * prev.area for s in after):
            cues.append((f, "area drop"))
        if prev.score > 0 and all(s.score <= 0 for s in after):
            cues.append((f, "score collapse"))
        if prev.radius and all(0 < s.radius < shrink * prev.radius for s in after):
            cues.append((f, "shrink"))
    return sorted(cues)


def suggest_divisions(
    session,
    min_fraction: float = 0.25,
    area_ratio: float = 0.6,
    persist: int = 3,
    shrink: float = 0.8,
    min_gap: int = 5,
) -> list[dict]:
    """``[{"object_id", "frame", "reasons"}]`` sorted by frame: at most one suggestion per object and
    event (see the module docstring); never on a frame where the object is prompted."""
    if persist < 1:
        raise ValueError(f"persist must be at least 1 frame, got {persist}")
    out = []
    for oid, shapes in _shapes(session, min_fraction).items():
        prompted = session.objects[oid].prompts
        event: dict | None = None
        for f, reason in _cues(shapes, area_ratio, persist, shrink):
            if f in prompted:
                continue  # the user has looked at that frame
            if event is not None and f - event["last"] < min_gap:
                event["last"] = f
                if reason not in event["reasons"]:
                    event["reasons"].append(reason)
                continue
            event = {"object_id": oid, "frame": f, "reasons": [reason], "last": f}
            out.append(event)
    found = [{k: e[k] for k in ("object_id", "frame", "reasons")} for e in out]
    return sorted(found, key=lambda d: (d["frame"], d["object_id"]))
