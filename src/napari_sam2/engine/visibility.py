"""Who owns each pixel of a frame (prompted objects first), and which objects are hidden under others.

The label image of a frame gives each pixel to one object. Objects the user prompted on that frame
own their pixels: a tracked neighbour never takes them, however confident it is, because a prompt is
the user saying "this is object k". Among objects of the same kind (all prompted there, or all
tracked) the highest positive logit wins.

An object can be "present" by its score and still have no pixel in the label image: all of its mask
lies under other objects. :func:`visibility` says so per frame, naming the object that covers it.
Results per frame are cached and recomputed only when a result on that frame changes (the cache
watches each result and the revision of its logits: the engine replaces results, and spilling
them to disk changes no value).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

RECENT_LABEL_FRAMES = (
    4  # full label images kept (the rest of the cache is a few numbers per object)
)


class Visible(NamedTuple):
    """One object on one frame: ``pixels`` it owns in the label image; ``covered_by``: when it owns none
    but its own mask is not empty, the object whose pixels cover most of it, else None."""

    pixels: int
    covered_by: int | None


class Patch(NamedTuple):
    """An object's frame logits where it can have pixels: ``logits`` (h, w) with their top-left corner
    at (``y0``, ``x0``) of the frame; no object anywhere else (its window in window mode, the whole
    frame otherwise)."""

    y0: int
    x0: int
    logits: np.ndarray

    @property
    def region(self) -> tuple[slice, slice]:
        h, w = self.logits.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)


def compose_labels(layers, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` = ``shape`` uint32 labels from ``layers``, an iterable of ``(obj_id, Patch, prompted)``.

    A pixel goes to a prompted object with a positive logit if there is one (the highest such
    logit), else to the tracked object with the highest positive logit, else to 0. Each object is
    compared only where its patch lies (outside it has no positive logit), so windows cost their size.
    """
    labels = np.zeros(shape, np.uint32)
    best = np.zeros(shape, np.float32)
    rank = np.zeros(shape, np.int8)  # 0 free, 1 tracked object, 2 prompted object
    for oid, patch, prompted in layers:
        region, logits = patch.region, patch.logits
        here_labels, here_best, here_rank = labels[region], best[region], rank[region]  # views
        tier = 2 if prompted else 1
        win = (logits > 0) & ((here_rank < tier) | ((here_rank == tier) & (logits > here_best)))
        here_labels[win] = oid
        here_best[win] = logits[win]
        here_rank[win] = tier
    return labels


def _visible(labels: np.ndarray, patches: dict[int, Patch]) -> dict[int, Visible]:
    counts = np.bincount(labels.ravel(), minlength=max(patches, default=0) + 1)
    out = {}
    for oid, patch in patches.items():
        pixels = int(counts[oid]) if oid < len(counts) else 0
        covered = None
        mask = patch.logits > 0
        if pixels == 0 and mask.any():
            under = labels[patch.region][mask]
            under = under[under != 0]
            if under.size:
                covered = int(np.bincount(under).argmax())
        out[oid] = Visible(pixels, covered)
    return out


class FrameOwnership:
    """Cached label images and visibility of a session's frames (used by the session under its lock)."""

    def __init__(self, session) -> None:
        self._session = session
        self._keys: dict[int, tuple] = {}
        self._visible: dict[int, dict[int, Visible]] = {}
        self._labels: "OrderedDict[int, np.ndarray]" = OrderedDict()

    def _key(self, frame: int) -> tuple:
        s = self._session
        return (s.fill_hole_area,) + tuple(
            (oid, obj.results[frame], obj.results[frame].revision, frame in obj.prompts)
            for oid, obj in s.objects.items()
            if frame in obj.results
        )

    def _fresh(self, frame: int, key: tuple) -> bool:
        old = self._keys.get(frame)
        if old is None or len(old) != len(key) or old[0] != key[0]:
            return False
        return all(
            o[0] == k[0] and o[1]() is k[1] and o[2:] == k[2:] for o, k in zip(old[1:], key[1:])
        )

    def _compute(self, frame: int, key: tuple) -> None:
        s = self._session
        layers = [(oid, s.object_patch(frame, oid), prompted) for oid, _, _, prompted in key[1:]]
        labels = compose_labels(layers, (s.frames.height, s.frames.width))
        self._visible[frame] = _visible(labels, {oid: patch for oid, patch, _ in layers})
        self._keys[frame] = (key[0],) + tuple(
            (oid, weakref.ref(r), rev, p) for oid, r, rev, p in key[1:]
        )
        self._labels[frame] = labels
        self._labels.move_to_end(frame)
        while len(self._labels) > RECENT_LABEL_FRAMES:
            self._labels.popitem(last=False)

    def labels(self, frame: int) -> np.ndarray:
        """``(H, W)`` uint32 label image of ``frame`` (a copy)."""
        key = self._key(frame)
        if not self._fresh(frame, key) or frame not in self._labels:
            self._compute(frame, key)
        self._labels.move_to_end(frame)
        return self._labels[frame].copy()

    def visibility(self, frame: int) -> dict[int, Visible]:
        """``{obj_id: Visible}`` for each object with a result on ``frame``."""
        key = self._key(frame)
        if not self._fresh(frame, key):
            self._compute(frame, key)
        return dict(self._visible[frame])
