"""Video prediction with the official ``SAM2VideoPredictor`` API: prompts on any frame, streaming-memory propagation.

Semantics follow the official predictor (sam2 1.1.0): every object keeps its own memory
bank and is tracked independently; prompts on a frame the object has not been tracked
on make a new prompted ("conditioning") frame; prompts on an already tracked frame
refine it from the memory. Outputs are mask logits at the video's resolution.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..loading import (
    LOCAL,
    NOT_GIVEN,
    build_configured,
    official_names,
    official_settings,
    pretrained,
)
from ..model.sam2_base import NO_OBJ_SCORE, SAM2Base, non_overlapping
from ..model.steps import Points
from .core import TrackerCore
from .frames import FrameSource, warn_if_colour
from .prompts import check_frame_index, mask_to_model_input, video_prompt

COND, NON_COND = "cond_frame_outputs", "non_cond_frame_outputs"


def _new_bank() -> dict:
    return {COND: {}, NON_COND: {}}


@dataclass
class FrameOutput:
    """One object on one frame: masks ``(1, 1, S/4, S/4)`` logits as shown (holes filled), obj_ptr
    ``(1, C)``, object_score ``(1, 1)``, memory ``(1, 64, h, w)`` bfloat16 (None until a prompted
    frame's memory is made before propagation)."""

    masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    memory: torch.Tensor | None = None


@dataclass
class VideoState:
    """Everything one video session holds (the official ``inference_state``): per object index, the
    prompts (``{frame: Points}`` / ``{frame: mask}``), the memory bank ``{"cond_frame_outputs": {frame:
    FrameOutput}, "non_cond_frame_outputs": {...}}``, prompts not yet propagated (temp), and the
    direction each frame was tracked in; ``core`` computes every step.

    Read like the official dict too: ``state["num_frames"]``, ``["video_height"]``,
    ``["video_width"]``, ``["obj_ids"]`` and the other keys of :data:`STATE_KEYS`.
    ``offload_state_to_cpu``: masks and memories are kept on the CPU (``storage_device``) and moved
    to ``device`` when used, which saves GPU memory (nothing changes on a CPU).
    """

    frames: FrameSource
    device: torch.device
    core: TrackerCore
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    obj_id_to_idx: "OrderedDict[object, int]" = field(default_factory=OrderedDict)
    point_inputs_per_obj: dict = field(default_factory=dict)
    mask_inputs_per_obj: dict = field(default_factory=dict)
    output_dict_per_obj: dict = field(default_factory=dict)
    temp_output_dict_per_obj: dict = field(default_factory=dict)
    frames_tracked_per_obj: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.frames.num_frames

    @property
    def video_height(self) -> int:
        return self.frames.height

    @property
    def video_width(self) -> int:
        return self.frames.width

    @property
    def obj_ids(self) -> list:
        return list(self.obj_id_to_idx)

    @property
    def obj_idx_to_id(self) -> "OrderedDict[int, object]":
        return OrderedDict((idx, obj_id) for obj_id, idx in self.obj_id_to_idx.items())

    @property
    def storage_device(self) -> torch.device:
        return torch.device("cpu") if self.offload_state_to_cpu else self.device

    @property
    def images(self) -> FrameSource:
        """The frames: ``images[i]`` is frame ``i`` as the model's ``(3, S, S)`` input, read when
        asked."""
        return self.frames

    def store(self, tensor: torch.Tensor | None) -> torch.Tensor | None:
        """``tensor`` on the storage device (the CPU with ``offload_state_to_cpu``)."""
        return None if tensor is None else tensor.to(self.storage_device)

    # read access with the official inference_state's keys
    def __getitem__(self, key: str):
        if key not in STATE_KEYS:
            raise KeyError(
                f"{key!r}: this inference state gives read access to {', '.join(STATE_KEYS)}"
            )
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return key in STATE_KEYS

    def keys(self) -> tuple[str, ...]:
        return STATE_KEYS

    def get(self, key: str, default=None):
        return self[key] if key in STATE_KEYS else default


# the official inference_state's keys that VideoState can be read with (``state["num_frames"]``)
STATE_KEYS = (
    "images",
    "num_frames",
    "video_height",
    "video_width",
    "device",
    "storage_device",
    "offload_video_to_cpu",
    "offload_state_to_cpu",
    "obj_id_to_idx",
    "obj_idx_to_id",
    "obj_ids",
    "point_inputs_per_obj",
    "mask_inputs_per_obj",
    "output_dict_per_obj",
    "temp_output_dict_per_obj",
    "frames_tracked_per_obj",
)


class SAM2VideoPredictor:
    """Track objects through a video with a :class:`SAM2Base` model.

    fill_hole_area: holes up to this many pixels in the low-res output masks are filled
        (on every device; the official package does it only with its CUDA extension).
    non_overlap_masks: give each output pixel to the highest-scoring object only.
    clear_non_cond_mem_around_input: forget tracked memories next to a newly prompted frame.
    add_all_frames_to_correct_as_cond: prompts on tracked frames become prompted frames.
    feature_cache_mb: bound on the cached image features of a session.
    keep_model_settings: use the model's settings as they are; by default a model built for images
        gets the memory setting of the official video builder switched on (with a warning). The
        video builder passes True: with ``apply_postprocessing=False`` that setting stays off.

    Every step is computed by :class:`~napari_sam2.predictor.core.TrackerCore`, the tracker core the
    engine uses too; this class keeps the official bookkeeping and method names on top of it.
    """

    def __init__(
        self,
        model: SAM2Base,
        fill_hole_area: int = 8,
        non_overlap_masks: bool = False,
        clear_non_cond_mem_around_input: bool = False,
        add_all_frames_to_correct_as_cond: bool = False,
        feature_cache_mb: float = 64.0,
        *,
        keep_model_settings: bool = False,
    ) -> None:
        self.model = model
        self.feature_cache_mb = feature_cache_mb
        self.keep_model_settings = keep_model_settings
        # output clean-up
        self.fill_hole_area, self.non_overlap_masks = fill_hole_area, non_overlap_masks
        # how corrections enter the memory bank
        self.clear_non_cond_mem_around_input = clear_non_cond_mem_around_input
        self.add_all_frames_to_correct_as_cond = add_all_frames_to_correct_as_cond

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2VideoPredictor":
        """The predictor of an official Hugging Face model id (``"facebook/sam2.1-hiera-tiny"``),
        its checkpoint from this machine or a verified download (docs/weights.md). ``kwargs`` go
        to :func:`build_sam2_video_predictor` (``device``, ``apply_postprocessing``, options)."""
        return build_sam2_video_predictor_hf(model_id, **kwargs)

    @property
    def image_size(self) -> int:
        return self.model.image_size

    @property
    def device(self) -> torch.device:
        return self.model.device

    # ------------------------------------------------------------------ session

    @torch.inference_mode()
    def init_state(
        self,
        video_path,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
        *,
        contrast_limits: tuple[float, float] | None = None,
        channel: int | str | None = None,
    ) -> VideoState:
        """Start a session on ``video_path``: a folder of images (the official JPEG folder), a TIFF
        stack, a zarr array, a video file (``.mp4`` etc., with the ``video`` extra), or an
        array-like ``(T, H, W[, C])`` (numpy, dask, zarr).

        Frames are read and preprocessed when needed (a video file is decoded whole, on the CPU)
        and never kept on the GPU; frame 0 is encoded right away. So ``offload_video_to_cpu``
        (frames kept on the CPU) is what always happens, and ``async_loading_frames`` (load in the
        background) changes nothing: there is nothing to load up front. ``offload_state_to_cpu``
        keeps masks and memories on the CPU (:class:`VideoState`). ``channel``: a channel number,
        or ``"grey"`` for the luminance of colour frames (see
        :class:`~napari_sam2.predictor.frames.FrameSource`); colour given to a model trained on
        grey frames only gets a QualityWarning.
        """
        if isinstance(video_path, FrameSource):
            source = video_path
        else:
            source = FrameSource(video_path, self.image_size, contrast_limits, channel=channel)
        warn_if_colour(source, self.model)
        core = TrackerCore(
            self.model,
            source,
            self.feature_cache_mb,
            self.fill_hole_area,
            keep_model_settings=self.keep_model_settings,
        )
        state = VideoState(
            source,
            self.device,
            core,
            offload_video_to_cpu=bool(offload_video_to_cpu),
            offload_state_to_cpu=bool(offload_state_to_cpu),
        )
        state.core.features(0)
        return state

    def reset_state(self, state: VideoState) -> None:
        """Forget all objects, prompts and results (the frames stay)."""
        for container in (
            state.point_inputs_per_obj,
            state.mask_inputs_per_obj,
            state.output_dict_per_obj,
            state.temp_output_dict_per_obj,
            state.frames_tracked_per_obj,
        ):
            container.clear()
        state.obj_id_to_idx.clear()

    # ------------------------------------------------------------------ prompts

    def _check_frame(self, state: VideoState, frame_idx) -> int:
        return check_frame_index(frame_idx, state.num_frames)

    def _obj_idx(self, state: VideoState, obj_id) -> int:
        idx = state.obj_id_to_idx.get(obj_id)
        if idx is None:
            idx = len(state.obj_id_to_idx)
            state.obj_id_to_idx[obj_id] = idx
            for container in (
                state.point_inputs_per_obj,
                state.mask_inputs_per_obj,
                state.frames_tracked_per_obj,
            ):
                container[idx] = {}
            state.output_dict_per_obj[idx] = _new_bank()
            state.temp_output_dict_per_obj[idx] = _new_bank()
        return idx

    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state: VideoState,
        frame_idx: int,
        obj_id,
        points=None,
        labels=None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box=None,
    ):
        """Add clicks (x, y pixels; 1 positive, 0 negative) and/or a box (x0, y0, x1, y1) for ``obj_id``.

        Returns ``(frame_idx, obj_ids, masks)``, masks ``(N_objects, 1, H, W)`` logits of that frame.
        """
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        if box is not None and not clear_old_points:
            raise ValueError("a box must come first: use clear_old_points=True when giving a box")
        coords, labs = video_prompt(
            points,
            labels,
            box,
            state.video_width,
            state.video_height,
            self.image_size,
            normalize_coords,
        )
        coords, labs = coords.to(state.device), labs.to(state.device)
        obj_idx = self._obj_idx(state, obj_id)
        points_per_frame = state.point_inputs_per_obj[obj_idx]
        old = None if clear_old_points else points_per_frame.get(frame_idx)
        point_inputs = Points(coords, labs) if old is None else old.extended(Points(coords, labs))
        points_per_frame[frame_idx] = point_inputs
        state.mask_inputs_per_obj[obj_idx].pop(frame_idx, None)
        return self._prompt_frame(state, obj_idx, frame_idx, point_inputs, None)

    add_new_points = add_new_points_or_box

    @torch.inference_mode()
    def add_new_mask(self, inference_state: VideoState, frame_idx: int, obj_id, mask):
        """Give ``obj_id`` a mask ``(H, W)`` (bool or 0/1) on ``frame_idx``; replaces its points there."""
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        m = torch.as_tensor(np.asarray(mask))
        if m.ndim != 2 or tuple(m.shape) != (state.video_height, state.video_width):
            raise ValueError(
                f"mask must have the frame's shape ({state.video_height}, {state.video_width}); "
                f"got {tuple(m.shape)}"
            )
        if m.is_floating_point() and not torch.isfinite(m).all():
            raise ValueError("mask contains NaN or infinite values")
        obj_idx = self._obj_idx(state, obj_id)
        m = mask_to_model_input(m, self.image_size, state.device)
        state.mask_inputs_per_obj[obj_idx][frame_idx] = m
        state.point_inputs_per_obj[obj_idx].pop(frame_idx, None)
        return self._prompt_frame(state, obj_idx, frame_idx, None, m)

    def _prompt_frame(self, state, obj_idx, frame_idx, point_inputs, mask_inputs):
        tracked = state.frames_tracked_per_obj[obj_idx]
        is_init = frame_idx not in tracked
        reverse = False if is_init else tracked[frame_idx]
        is_cond = is_init or self.add_all_frames_to_correct_as_cond
        key = COND if is_cond else NON_COND
        bank, temp = state.output_dict_per_obj[obj_idx], state.temp_output_dict_per_obj[obj_idx]
        prev_logits = None
        if point_inputs is not None:
            prev = (
                temp[key].get(frame_idx)
                or bank[COND].get(frame_idx)
                or bank[NON_COND].get(frame_idx)
            )
            if prev is not None:
                # refine from the mask already shown on this frame
                prev_logits = prev.masks.to(state.device).clamp(-32.0, 32.0)
        memory = None if is_init else self._bank_entries(state, bank)
        out = state.core.prompt(
            frame_idx,
            points=point_inputs,
            mask=mask_inputs,
            prev_logits=prev_logits,
            cond=None if memory is None else memory[0],
            non_cond=None if memory is None else memory[1],
            reverse=reverse,
        )
        shown = state.store(state.core.filled(out.masks))
        temp[key][frame_idx] = FrameOutput(shown, out.obj_ptr, out.object_score)
        masks = self._consolidate(state, frame_idx, is_cond)
        return frame_idx, state.obj_ids, self._video_res(state, masks)

    @torch.inference_mode()
    def clear_all_prompts_in_frame(
        self, inference_state: VideoState, frame_idx: int, obj_id, need_output: bool = True
    ):
        """Remove ``obj_id``'s prompts on ``frame_idx``; a prompted frame becomes an ordinary tracked one."""
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        if obj_id not in state.obj_id_to_idx:
            raise KeyError(f"unknown object id {obj_id!r}; known ids: {state.obj_ids}")
        obj_idx = state.obj_id_to_idx[obj_id]
        state.point_inputs_per_obj[obj_idx].pop(frame_idx, None)
        state.mask_inputs_per_obj[obj_idx].pop(frame_idx, None)
        for key in (COND, NON_COND):
            state.temp_output_dict_per_obj[obj_idx][key].pop(frame_idx, None)
        bank = state.output_dict_per_obj[obj_idx]
        out = bank[COND].pop(frame_idx, None)
        if out is not None:
            bank[NON_COND][frame_idx] = out
            state.frames_tracked_per_obj[obj_idx].pop(frame_idx, None)
        if not need_output:
            return None
        is_cond = any(frame_idx in t[COND] for t in state.temp_output_dict_per_obj.values())
        return (
            frame_idx,
            state.obj_ids,
            self._video_res(state, self._consolidate(state, frame_idx, is_cond)),
        )

    @torch.inference_mode()
    def remove_object(
        self, inference_state: VideoState, obj_id, strict: bool = True, need_output: bool = True
    ):
        """Remove ``obj_id`` and everything about it. Returns ``(obj_ids, [(frame_idx, masks), ...])``
        for the frames where it had prompts. An unknown id is an error unless ``strict=False``."""
        state = inference_state
        if obj_id not in state.obj_id_to_idx:
            if strict:
                raise KeyError(
                    f"cannot remove unknown object id {obj_id!r}; known ids: {state.obj_ids}"
                )
            return state.obj_ids, []
        if len(state.obj_id_to_idx) == 1:
            self.reset_state(state)
            return state.obj_ids, []
        old_idx = state.obj_id_to_idx[obj_id]
        frames = set(state.point_inputs_per_obj[old_idx]) | set(state.mask_inputs_per_obj[old_idx])
        for f in frames:
            self.clear_all_prompts_in_frame(state, f, obj_id, need_output=False)
        kept = [i for i in range(len(state.obj_id_to_idx)) if i != old_idx]
        ids = [oid for oid in state.obj_id_to_idx if oid != obj_id]
        state.obj_id_to_idx.clear()
        state.obj_id_to_idx.update((oid, i) for i, oid in enumerate(ids))
        for container in (
            state.point_inputs_per_obj,
            state.mask_inputs_per_obj,
            state.output_dict_per_obj,
            state.temp_output_dict_per_obj,
            state.frames_tracked_per_obj,
        ):
            moved = [container[i] for i in kept]
            container.clear()
            container.update(enumerate(moved))
        updated = []
        if need_output:
            for f in frames:
                is_cond = any(f in t[COND] for t in state.temp_output_dict_per_obj.values())
                updated.append((f, self._video_res(state, self._consolidate(state, f, is_cond))))
        return state.obj_ids, updated

    # ------------------------------------------------------------------ propagation

    def _preflight(self, state: VideoState) -> None:
        if not state.obj_id_to_idx:
            raise RuntimeError("no object has prompts yet: add points, a box or a mask first")
        for obj_idx in range(len(state.obj_id_to_idx)):
            bank, temp = state.output_dict_per_obj[obj_idx], state.temp_output_dict_per_obj[obj_idx]
            for key in (NON_COND, COND):
                for frame_idx, out in temp[key].items():
                    if out.memory is None:
                        # prompted frames get their memory now, from the mask the user saw
                        memory = state.core.memory(
                            frame_idx,
                            out.masks.to(state.device),
                            out.object_score,
                            from_prompt=True,
                        )
                        out.memory = state.store(memory)
                    bank[key][frame_idx] = out
                    if self.clear_non_cond_mem_around_input:
                        self._clear_memory_around(state, frame_idx, obj_idx)
                temp[key].clear()
            if not bank[COND]:
                obj_id = state.obj_ids[obj_idx]
                raise RuntimeError(
                    f"object {obj_id!r} has no prompted frame: add points, a box or a mask for it"
                )
            for frame_idx in bank[COND]:
                bank[NON_COND].pop(frame_idx, None)

    def _clear_memory_around(self, state, frame_idx, obj_idx):
        r = self.model.cfg.memory_temporal_stride_for_eval
        span = r * self.model.num_maskmem
        bank = state.output_dict_per_obj[obj_idx][NON_COND]
        for t in range(frame_idx - span, frame_idx + span + 1):
            bank.pop(t, None)

    @torch.inference_mode()
    def propagate_in_video(
        self,
        inference_state: VideoState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ):
        """Yield ``(frame_idx, obj_ids, masks (N, 1, H, W) logits)`` frame by frame.

        Starts at the earliest prompted frame unless ``start_frame_idx`` is given and
        tracks at most ``max_frame_num_to_track`` further frames, backwards with ``reverse``.
        """
        state = inference_state
        self._preflight(state)
        if start_frame_idx is None:
            start_frame_idx = min(
                t for bank in state.output_dict_per_obj.values() for t in bank[COND]
            )
        start = self._check_frame(state, start_frame_idx)
        limit = state.num_frames if max_frame_num_to_track is None else int(max_frame_num_to_track)
        if limit < 0:
            raise ValueError(f"max_frame_num_to_track must be >= 0, got {max_frame_num_to_track}")
        if reverse:
            end = max(start - limit, 0)
            order = range(start, end - 1, -1) if start > 0 else range(0)
        else:
            end = min(start + limit, state.num_frames - 1)
            order = range(start, end + 1)
        obj_ids = state.obj_ids
        for frame_idx in order:
            per_obj = []
            for obj_idx in range(len(obj_ids)):
                bank = state.output_dict_per_obj[obj_idx]
                if frame_idx in bank[COND]:
                    masks = bank[COND][frame_idx].masks.to(state.device)
                    if self.clear_non_cond_mem_around_input:
                        self._clear_memory_around(state, frame_idx, obj_idx)
                else:
                    cond, non_cond = self._bank_entries(state, bank)
                    out = state.core.track(
                        frame_idx, batch=1, cond=cond, non_cond=non_cond, reverse=reverse
                    )
                    masks = state.core.filled(out.masks)
                    bank[NON_COND][frame_idx] = FrameOutput(
                        state.store(masks), out.obj_ptr, out.object_score, state.store(out.memory)
                    )
                state.frames_tracked_per_obj[obj_idx][frame_idx] = reverse
                per_obj.append(masks)
            yield frame_idx, obj_ids, self._video_res(state, torch.cat(per_obj, dim=0))

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _bank_entries(state: VideoState, bank: dict) -> tuple[dict, dict]:
        """One object's memory bank as the core takes it: ``{frame: MemoryEntry}``, prompted and tracked."""

        def entries(outputs):
            return {
                t: state.core.entry(
                    o.obj_ptr, o.memory if o.memory is None else o.memory.to(state.device)
                )
                for t, o in outputs.items()
            }

        return entries(bank[COND]), entries(bank[NON_COND])

    def _consolidate(self, state: VideoState, frame_idx: int, is_cond: bool) -> torch.Tensor:
        """All objects' current masks of a frame at video resolution ``(N, 1, H, W)`` (absent ones: -1024)."""
        key = COND if is_cond else NON_COND
        h, w = state.video_height, state.video_width
        out = torch.full(
            (len(state.obj_id_to_idx), 1, h, w),
            NO_OBJ_SCORE,
            dtype=torch.float32,
            device=state.device,
        )
        for obj_idx in range(len(state.obj_id_to_idx)):
            temp, bank = state.temp_output_dict_per_obj[obj_idx], state.output_dict_per_obj[obj_idx]
            found = (
                temp[key].get(frame_idx)
                or bank[COND].get(frame_idx)
                or bank[NON_COND].get(frame_idx)
            )
            if found is None:
                continue
            m = found.masks
            if m.shape[-2:] != (h, w):
                m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
            out[obj_idx : obj_idx + 1] = m
        return out

    def _video_res(self, state: VideoState, masks: torch.Tensor) -> torch.Tensor:
        h, w = state.video_height, state.video_width
        if masks.shape[-2:] != (h, w):
            masks = F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
        if self.non_overlap_masks:
            masks = non_overlapping(masks)
        return masks


def build_sam2_video_predictor(
    name: str | None = None,
    checkpoint=LOCAL,
    device=None,
    mode: str = "eval",
    hydra_overrides_extra=(),
    apply_postprocessing: bool = True,
    vos_optimized: bool = False,
    *,
    image_size: int | None = None,
    config_file: str | None = None,
    ckpt_path=NOT_GIVEN,
    **options,
) -> SAM2VideoPredictor:
    """A video predictor, in the official builder's argument order and with its video settings.

    ``name``/``config_file``, ``checkpoint``/``ckpt_path``, ``device``, ``mode``,
    ``hydra_overrides_extra`` and ``image_size`` as in :func:`~napari_sam2.loading.build_sam2`: by
    default the model's own file on this machine (never downloaded); ``"auto"`` may download it;
    ``None`` asks for random weights (with a RandomWeightsWarning).

    ``apply_postprocessing=True`` (the official default) adds what the official builder adds for
    video: memory of clicked frames is encoded from the binarised mask the user sees, small holes
    in output masks are filled (``fill_hole_area=8``; pass 0 to switch off), and the decoder falls
    back to its most stable mask. ``vos_optimized`` (the official compiled predictor) is accepted;
    the standard predictor runs. ``options`` go to :class:`SAM2VideoPredictor` and win over the
    overrides.
    """
    if vos_optimized:
        warnings.warn(
            "vos_optimized=True: this package has no compiled VOS predictor; the "
            "standard video predictor runs",
            UserWarning,
            stacklevel=2,
        )
    name, checkpoint = official_names(name, checkpoint, config_file, ckpt_path)
    settings = official_settings(
        hydra_overrides_extra, apply_postprocessing, video=True, image_size=image_size
    )
    model = build_configured(name, checkpoint, device, mode, settings)
    return SAM2VideoPredictor(model, **{**settings.predictor, **options}, keep_model_settings=True)


def build_sam2_video_predictor_hf(model_id: str, **kwargs) -> SAM2VideoPredictor:
    """:func:`build_sam2_video_predictor` for an official Hugging Face model id, e.g.
    ``"facebook/sam2.1-hiera-tiny"``."""
    return pretrained(model_id, build_sam2_video_predictor, **kwargs)
