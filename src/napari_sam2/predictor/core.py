"""The tracker core: the steps that the video predictor and the tracking engine both take on a stack.

One place for what every SAM 2 tracker needs besides the model itself: image features of a frame
(a cache bounded in MB), a prompted frame decoded from its clicks or mask, a tracked frame decoded
from a memory bank, the memory of a frame made from the mask shown on it, and the memory position
encoding that all frames and objects share. Callers keep their own books (the predictor its
official ``inference_state``, the engine its per-object results) and hand the core typed
:class:`~napari_sam2.model.memory_bank.MemoryEntry` banks.

Numbers follow the official video predictor: memory is stored in bfloat16 (its results depend on
that rounding), and memory of a prompted frame is encoded from the mask the user saw, binarised.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Mapping

import torch

from ..model.memory_bank import MemoryEntry
from ..model.sam2_base import SAM2Base
from ..model.steps import FrameFeatures, Points, StepOutput, at_input_size
from .frames import FrameSource
from .postprocess import fill_video_holes

MEMORY_DTYPE = torch.bfloat16


def video_ready(model: SAM2Base) -> SAM2Base:
    """``model`` with the settings SAM 2 uses for video switched on (in place; returns it).

    The official video builder encodes the memory of a clicked frame from the binarised mask, the
    image builder does not. A tracker given a model built for images switches it on and says so,
    rather than silently computing other numbers than the official video predictor.
    """
    if not model.cfg.binarize_mask_from_pts_for_mem_enc:
        warnings.warn(
            f"{model.cfg.name} was built for images; switching on the video setting "
            "binarize_mask_from_pts_for_mem_enc as the official video builder does "
            "(build with build_sam2_video_predictor to avoid this message)",
            stacklevel=3,
        )
        model.cfg = replace(model.cfg, binarize_mask_from_pts_for_mem_enc=True)
    return model


class FeatureCache:
    """Image features of recently used frames, least recently used dropped first once the cache holds
    more than ``max_mb`` (the frame just encoded always stays). ``encoded`` counts image-encoder runs.
    ``window``: a ``(y0, x0, ...)`` corner for the features of that square of the frame at native scale
    (:meth:`FrameSource.window`; the engine's window mode), cached apart from the whole frame's."""

    def __init__(
        self, model: SAM2Base, frames: FrameSource, max_mb: float, compute=contextlib.nullcontext
    ) -> None:
        self.model, self.frames, self.max_mb, self._compute = model, frames, max_mb, compute
        self._cache: "OrderedDict[object, FrameFeatures]" = OrderedDict()
        self._bytes = 0  # of everything in the cache, kept as entries come and go
        self.encoded = 0

    def __call__(self, frame: int, window: tuple | None = None) -> FrameFeatures:
        key = frame if window is None else (frame, window[0], window[1])
        feats = self._cache.get(key)
        if feats is not None:
            self._cache.move_to_end(key)
            return feats
        with torch.inference_mode(), self._compute():
            image = (
                self.frames[frame]
                if window is None
                else self.frames.window(frame, window[0], window[1])
            )
            feats = self.model.frame_features(
                self.model.forward_image(image.to(self.model.device)[None])
            )
        self._add(key, feats)
        return feats

    def prefetch(self, frame: int, windows, batch: int = 16) -> None:
        """Encode the ``windows`` of ``frame`` not cached yet, up to ``batch`` of them in one image-encoder
        call (one call per window would cost several times more on a CPU: the encoder's matrices are
        small). Each window's features are then cached as :meth:`__call__` would have made them, to
        float rounding. A cache bound smaller than a batch of windows (about 10 MB for 16 windows of
        256 px) drops some before they are used, and they are encoded again when used."""
        todo = [
            w
            for w in dict.fromkeys(windows)
            if w is not None and (frame, w[0], w[1]) not in self._cache
        ]
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            with torch.inference_mode(), self._compute():
                images = torch.stack([self.frames.window(frame, w[0], w[1]) for w in part])
                feats = self.model.frame_features(
                    self.model.forward_image(images.to(self.model.device))
                )
            for k, w in enumerate(part):
                self._add((frame, w[0], w[1]), feats.pick(k))

    def _add(self, key, feats: FrameFeatures) -> None:
        self.encoded += 1
        self._cache[key] = feats
        self._bytes += feats.nbytes()
        budget = self.max_mb * 2**20
        while len(self._cache) > 1 and self._bytes > budget:
            self._bytes -= self._cache.popitem(last=False)[1].nbytes()

    def __len__(self) -> int:
        return len(self._cache)

    def cached(self) -> list:
        """The frames held now (``(frame, y0, x0)`` for windows), least recently used first."""
        return list(self._cache)

    def nbytes(self) -> int:
        return self._bytes


class TrackerCore:
    """Prompted and tracked steps of a batch of objects on one stack of frames.

    precision "bf16" runs every model call under bfloat16 autocast (the engine's fast mode; the
    caller checks the device can do it). fill_hole_area: small background holes (in low-res pixels)
    of a shown mask are filled, on every device. keep_model_settings: use the model's settings as
    they are, without :func:`video_ready` (a model built for video with the official
    ``apply_postprocessing=False``).
    """

    def __init__(
        self,
        model: SAM2Base,
        frames: FrameSource,
        feature_cache_mb: float = 256.0,
        fill_hole_area: int = 8,
        precision: str = "fp32",
        *,
        keep_model_settings: bool = False,
    ) -> None:
        self.model = model if keep_model_settings else video_ready(model)
        self.frames = frames
        self.precision = precision
        self.fill_hole_area = fill_hole_area
        self.features = FeatureCache(model, frames, feature_cache_mb, self.compute)
        self._memory_pos: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    def compute(self):
        """The numeric precision of every model call: bfloat16 autocast in that fast mode."""
        if self.precision == "bf16":
            return torch.autocast(self.model.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def filled(self, logits: torch.Tensor) -> torch.Tensor:
        """Mask logits as shown: small background holes filled."""
        return fill_video_holes(logits, self.fill_hole_area)

    def prompt(
        self,
        frame: int,
        *,
        points: Points | None = None,
        mask: torch.Tensor | None = None,
        prev_logits: torch.Tensor | None = None,
        cond: Mapping[int, MemoryEntry] | None = None,
        non_cond: Mapping[int, MemoryEntry] | None = None,
        reverse: bool = False,
        window: tuple | None = None,
    ) -> StepOutput:
        """Decode a prompted frame for one object: clicks (``prev_logits``: the mask shown before the
        last click, refined by it) or a ``(1, 1, S, S)`` mask (``(B, 1, S, S)``: B objects new to the
        frame at once). Without ``cond`` the frame is new to the object and decoded from its prompts
        alone; with it (a frame the object was tracked on) the prompts correct what the memory gives.
        No memory is encoded here: see :meth:`memory`. Every method takes ``window``: work in that
        square of the frame (see :class:`FeatureCache`), or a list of each object's own."""
        batch = (mask if points is None else points.coords).shape[0]
        feats = self.batch_features(frame, window, batch)
        with torch.inference_mode(), self.compute():
            return self.model.track_step(
                frame_idx=frame,
                feats=feats,
                num_frames=self.num_frames,
                cond=cond,
                non_cond=non_cond,
                is_init_cond_frame=cond is None,
                points=points,
                mask_inputs=mask,
                reverse=reverse,
                run_mem_encoder=False,
                prev_mask_logits=prev_logits,
            )

    def track(
        self,
        frame: int,
        *,
        batch: int,
        cond: Mapping[int, MemoryEntry],
        non_cond: Mapping[int, MemoryEntry],
        reverse: bool,
        window: tuple | None = None,
    ) -> StepOutput:
        """Track ``batch`` objects that share one memory layout on ``frame``; the output's memory is
        stored in bfloat16 and its position encoding is the shared one. ``window``: one for every
        object, or a list of each object's own (see :meth:`batch_features`)."""
        feats = self.batch_features(frame, window, batch)
        with torch.inference_mode(), self.compute():
            out = self.model.track_step(
                frame_idx=frame,
                feats=feats,
                num_frames=self.num_frames,
                cond=cond,
                non_cond=non_cond,
                reverse=reverse,
                run_mem_encoder=True,
            )
        if out.memory is not None:
            out.memory = out.memory.to(MEMORY_DTYPE)
            out.memory_pos = self._shared_pos(out.memory_pos, batch)
        return out

    def decode(
        self,
        frame: int,
        *,
        batch: int,
        cond: Mapping[int, MemoryEntry],
        non_cond: Mapping[int, MemoryEntry],
        reverse: bool,
        window: tuple | None = None,
    ) -> StepOutput:
        """:meth:`track` without the memory encoder: the masks, pointers and scores of ``batch`` objects that
        share one memory layout, for a caller that changes the masks before their memory is made
        (:meth:`encode`)."""
        feats = self.batch_features(frame, window, batch)
        with torch.inference_mode(), self.compute():
            return self.model.track_step(
                frame_idx=frame,
                feats=feats,
                num_frames=self.num_frames,
                cond=cond,
                non_cond=non_cond,
                reverse=reverse,
                run_mem_encoder=False,
            )

    def encode(
        self,
        frame: int,
        logits: torch.Tensor,
        object_score: torch.Tensor,
        window: tuple | list | None = None,
    ) -> torch.Tensor:
        """The ``(B, 64, h, w)`` bfloat16 memory of a tracked ``frame`` for ``B`` objects, made from their
        ``(B, 1, S/4, S/4)`` logits upsampled to the model's input size (as the decoder makes its high-res
        mask), with the shared position encoding: :meth:`memory` of a tracked frame, so a dropped memory
        is rebuilt exactly from the logits it was made from."""
        return self.memory(frame, logits, object_score, from_prompt=False, window=window)

    def memory(
        self,
        frame: int,
        logits: torch.Tensor,
        object_score: torch.Tensor,
        from_prompt: bool,
        window: tuple | list | None = None,
    ) -> torch.Tensor:
        """The ``(B, 64, h, w)`` bfloat16 memory of ``frame`` made from ``(B, 1, S/4, S/4)`` logits: for
        a prompted frame from the mask the user saw, before tracking first needs it; for a tracked
        frame, from the mask it showed (and, when that memory was dropped to save RAM, rebuilt exactly
        from its stored logits)."""
        size, batch = self.model.image_size, logits.shape[0]
        feats = self.batch_features(frame, window, batch)
        with torch.inference_mode(), self.compute():
            high = at_input_size(logits, size)
            mem, pos = self.model.encode_memory(
                feats, high, object_score, is_mask_from_pts=from_prompt
            )
        self._shared_pos(pos, batch)
        return mem.to(MEMORY_DTYPE)

    def batch_features(self, frame: int, window, batch: int) -> FrameFeatures:
        """Image features of ``frame`` for ``batch`` objects: the frame's (``window`` None), one window's for
        all, or, with ``window`` a list, each object's own window (the windows not cached yet are encoded
        in batches first: :meth:`FeatureCache.prefetch`). Objects in different windows go through every
        later step in one batch: each attends to its own memory, so only float rounding changes."""
        if isinstance(window, list) and len(set(window)) == 1:
            window = window[0]
        if not isinstance(window, list):
            feats = self.features(frame, window)
            return feats.expand(batch) if batch != 1 else feats
        if len(window) != batch:
            raise ValueError(f"{len(window)} windows for a batch of {batch} objects")
        self.features.prefetch(frame, window)
        return FrameFeatures.stacked([self.features(frame, w) for w in window])

    def entry(self, obj_ptr: torch.Tensor, memory: torch.Tensor | None = None) -> MemoryEntry:
        """A memory-bank entry for ``(B, C)`` pointers and (optionally) their ``(B, 64, h, w)`` memory."""
        if memory is None:
            return MemoryEntry(obj_ptr)
        return MemoryEntry(obj_ptr, memory, self._memory_pos.expand(memory.shape[0], -1, -1, -1))

    def _shared_pos(self, pos: torch.Tensor, batch: int) -> torch.Tensor:
        # the memory position encoding is the same for every frame and object: keep one copy
        if self._memory_pos is None:
            self._memory_pos = pos[:1].clone()
        return self._memory_pos.expand(batch, -1, -1, -1)
