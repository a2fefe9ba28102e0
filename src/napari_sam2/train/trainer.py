"""Training loop: clips with simulated prompts, the paper's loss, a choice of trainable parts.

One step draws ``clips`` clips of ``clip_len`` frames. On each clip's first frame the objects
get a click, a few clicks, a noisy box or their mask, then ``corrections`` corrective clicks;
the other frames are tracked through the memory bank, and on one of them (with probability
``p_track_correction``) a corrective click is added as a user would. Every decoder output is
supervised (:mod:`.loss`). Checkpoints are saved in the official format (``{"model": state_dict}``),
so everything else in the package loads them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..model.sam2_base import SAM2Base
from ..model.steps import FrameFeatures, Points, StepOutput
from . import loss as losses
from .data import Clip, ClipSampler
from .prompts import correction_points, noisy_boxes, random_points

PARTS = ("image_encoder", "prompt_encoder", "mask_decoder", "memory")


@dataclass
class Stage:
    """A run of ``steps`` steps on clips of ``clip_len`` frames, ``clips`` clips per step, drawn
    from the sampler named ``data`` (when :func:`train` gets several)."""

    steps: int
    clip_len: int
    clips: int
    data: str = "main"


@dataclass
class TrainConfig:
    """What to train and how. ``stages`` run in order (a curriculum, e.g. single frames before clips)."""

    stages: list[Stage] = field(default_factory=lambda: [Stage(200, 4, 2)])
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: int = 20
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    max_objects: int = 4
    corrections: int = 1
    p_track_correction: float = 0.3
    parts: tuple[str, ...] = PARTS
    dropout: float = 0.0
    loss_weights: dict = field(default_factory=lambda: dict(losses.WEIGHTS))
    focal_alpha: float = 0.25
    seed: int = 0
    # first-frame prompt odds on clips: one click, two clicks, a box, the mask
    prompt_odds: tuple[float, float, float, float] = (0.45, 0.2, 0.25, 0.1)
    # wall-clock seconds: training stops after them and the learning-rate decay follows elapsed time
    # (whichever of steps and time is further along), so a run of unknown speed still anneals
    budget_s: float | None = None

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)


def select_parts(model: SAM2Base, parts) -> list[torch.nn.Parameter]:
    """Freeze everything except ``parts`` (names from :data:`PARTS`); returns the trainable parameters.

    "memory" is the memory attention, the memory encoder and the learned memory/pointer embeddings.
    """
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise ValueError(f"parts to train must be among {', '.join(PARTS)}; got {sorted(parts)}")
    owners = {
        "image_encoder": "image_encoder.",
        "prompt_encoder": "sam_prompt_encoder.",
        "mask_decoder": "sam_mask_decoder.",
    }
    chosen = []
    for name, p in model.named_parameters():
        part = next((k for k, prefix in owners.items() if name.startswith(prefix)), "memory")
        p.requires_grad_(part in parts)
        if part in parts:
            chosen.append(p)
    return chosen


def set_dropout(model: torch.nn.Module, p: float) -> dict:
    """Set every dropout rate in ``model`` to ``p``; returns the old rates for :func:`restore_dropout`.

    The memory attention's official rate is 0.1; at 0 the CPU attention takes its fast kernel.
    """
    old = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Dropout):
            old[name], mod.p = mod.p, p
        elif hasattr(mod, "dropout_p"):
            old[name], mod.dropout_p = mod.dropout_p, p
    return old


def restore_dropout(model: torch.nn.Module, old: dict) -> None:
    for name, mod in model.named_modules():
        if name in old:
            setattr(mod, "p" if isinstance(mod, torch.nn.Dropout) else "dropout_p", old[name])


def _lr_factor(
    step: int, total: int, warmup: int, min_ratio: float, time_done: float = 0.0
) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = max((step - warmup) / max(total - warmup, 1), time_done)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _high_res(logits: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)


def clip_losses(
    model: SAM2Base,
    clips: list[Clip],
    cfg: TrainConfig,
    gen: torch.Generator,
    rng: np.random.Generator,
    prompt: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Run the prompt, correction and tracking steps on a batch of equally long clips; summed loss parts.

    ``prompt`` forces the first frame's prompt kind ("click", "clicks", "box" or "mask"; default drawn
    with ``cfg.prompt_odds``). The stats are the mean IoU on the first frame, the last frame and over
    the tracked frames (those after the first).
    """
    length = clips[0].frames.shape[0]
    s = model.image_size
    frames = torch.cat([c.frames for c in clips]).to(model.device, non_blocking=True).float()
    with torch.set_grad_enabled(any(p.requires_grad for p in model.image_encoder.parameters())):
        everything = model.frame_features(model.forward_image(frames))
    owner = torch.cat([torch.full((c.masks.shape[1],), i) for i, c in enumerate(clips)])
    target = torch.cat([c.masks for c in clips], dim=1).to(model.device)  # (L, B, S, S)

    def feats_at(t: int) -> FrameFeatures:
        cols = (owner * length + t).to(model.device)
        return FrameFeatures(
            [f[:, cols] for f in everything.feats], everything.pos[:, cols], everything.sizes
        )

    parts = {k: torch.zeros((), device=model.device) for k in losses.WEIGHTS}
    n_steps = 0

    def supervise(out: StepOutput, t: int) -> None:
        nonlocal n_steps
        # masks are supervised as the decoder made them, also where the object score says "absent"
        # (the blanked ones give no gradient, which stalls a model trained from scratch)
        step = losses.step_loss(
            _high_res(out.decoder_multimasks.float(), s),
            out.ious,
            out.object_score,
            target[t],
            alpha=cfg.focal_alpha,
        )
        for k, v in step.items():
            parts[k] = parts[k] + v
        n_steps += 1

    first = torch.cat(
        [c.masks[0] for c in clips]
    )  # prompts are drawn on the CPU (one generator for every device)
    # a mask prompt is taken as it is (nothing to learn on its frame): only when frames follow
    odds = np.asarray(cfg.prompt_odds if length > 1 else cfg.prompt_odds[:3], dtype=float)
    kind = prompt or rng.choice(
        ["click", "clicks", "box", "mask"][: len(odds)], p=odds / odds.sum()
    )
    feats0 = feats_at(0)
    # the same tracking steps as the video predictor and the engine (SAM2Base.track_step), with
    # gradients and without the inference-only bfloat16 storage of the tracker core
    first_step = dict(frame_idx=0, feats=feats0, num_frames=length, is_init_cond_frame=True)
    if kind == "mask":
        out = model.track_step(**first_step, mask_inputs=first[:, None].float().to(model.device))
        first_iou = _iou(out, first)
    else:
        points, labels = _first_prompt(kind, first, gen, rng)
        prompt = Points(points.to(model.device), labels.to(model.device))
        out = model.track_step(**first_step, points=prompt, run_mem_encoder=cfg.corrections == 0)
        supervise(out, 0)
        first_iou = _iou(out, first)
        for c in range(cfg.corrections):
            prompt = prompt.extended(_correction(out, first, gen, model.device))
            out = model.track_step(
                **first_step,
                points=prompt,
                run_mem_encoder=c == cfg.corrections - 1,
                prev_mask_logits=out.masks.detach().clamp(-32.0, 32.0),
            )
            supervise(out, 0)
    cond, tracked = {0: out.entry()}, {}
    tracked_iou = torch.zeros((), device=model.device)
    corrected = (
        int(rng.integers(1, length)) if length > 1 and rng.random() < cfg.p_track_correction else -1
    )
    for t in range(1, length):
        step = dict(frame_idx=t, feats=feats_at(t), num_frames=length, cond=cond, non_cond=tracked)
        out = model.track_step(**step, run_mem_encoder=t != corrected)
        supervise(out, t)
        tracked_iou = (
            tracked_iou
            + losses.true_iou(out.high_res_masks[:, 0].detach(), target[t].float()).mean()
        )
        if t == corrected:
            out = model.track_step(
                **step,
                points=_correction(out, target[t], gen, model.device),
                prev_mask_logits=out.masks.detach().clamp(-32.0, 32.0),
            )
            supervise(out, t)
            cond[t] = out.entry()
        else:
            tracked[t] = out.entry()
    n_obj = max(int(target.shape[1]), 1)
    parts = {k: v / (n_obj * max(n_steps, 1)) for k, v in parts.items()}
    return parts, {
        "iou_first": first_iou,
        "iou_last": _iou(out, target[-1]),
        "iou_tracked": float(tracked_iou) / max(length - 1, 1),
    }


def _first_prompt(
    kind: str, masks: torch.Tensor, gen: torch.Generator, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points ``(B, P, 2)`` and labels ``(B, P)`` for a "click", "clicks" (a second positive or
    negative click) or "box" (corners labelled 2 and 3) prompt on ``(B, S, S)`` masks."""
    b = masks.shape[0]
    if kind == "box":
        return noisy_boxes(masks, gen), torch.tensor([[2, 3]], dtype=torch.int32).expand(b, 2)
    points, labels = random_points(masks, gen), torch.ones(b, 1, dtype=torch.int32)
    if kind == "clicks":
        extra = random_points(masks, gen, positive=bool(rng.random() < 0.5))
        s = masks.shape[-1]
        x, y = extra[:, 0, 0].long().clamp(0, s - 1), extra[:, 0, 1].long().clamp(0, s - 1)
        points = torch.cat([points, extra], 1)
        labels = torch.cat([labels, masks[torch.arange(b), y, x].int()[:, None]], 1)
    return points, labels


def _correction(out: StepOutput, target: torch.Tensor, gen: torch.Generator, device) -> Points:
    """A corrective click per object where the output's mask is most wrong against ``(B, S, S)`` target."""
    pred = out.high_res_masks[:, 0].detach() > 0
    xy, lab = correction_points(pred.cpu(), target.cpu(), gen)
    return Points(xy.to(device), lab.to(device))


def _iou(out: StepOutput, target: torch.Tensor) -> float:
    """Mean IoU of an output's chosen masks with a ``(B, S, S)`` target (for the training log)."""
    with torch.no_grad():
        pred = out.high_res_masks[:, 0].cpu()
        return float(losses.true_iou(pred, target.cpu().float()).mean())


def train(
    model: SAM2Base,
    sampler: ClipSampler | dict[str, ClipSampler],
    cfg: TrainConfig,
    progress: Callable[[int, int, dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train ``model`` in place; returns one record per step (losses, learning rate, seconds).

    ``sampler``: one :class:`ClipSampler`, or several by name for stages that draw from different data.
    """
    samplers = sampler if isinstance(sampler, dict) else {"main": sampler}
    missing = {s.data for s in cfg.stages} - set(samplers)
    if missing:
        raise ValueError(
            f"stages draw from {sorted(missing)} but the samplers are {sorted(samplers)}"
        )
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    params = select_parts(model, cfg.parts)
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )
    total = cfg.total_steps
    history: list[dict] = []
    model.train()
    old_dropout = set_dropout(model, cfg.dropout)
    step = 0
    began = time.perf_counter()
    try:
        for stage in cfg.stages:
            for _ in range(stage.steps):
                start = time.perf_counter()
                time_done = 0.0 if cfg.budget_s is None else (start - began) / cfg.budget_s
                if (should_stop is not None and should_stop()) or time_done >= 1.0:
                    return history
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * _lr_factor(
                        step, total, cfg.warmup, cfg.min_lr_ratio, time_done
                    )
                clips = [
                    samplers[stage.data].draw(stage.clip_len, cfg.max_objects)
                    for _ in range(stage.clips)
                ]
                length = min(c.frames.shape[0] for c in clips)
                clips = [Clip(c.frames[:length], c.masks[:length]) for c in clips]
                parts, stats = clip_losses(model, clips, cfg, gen, rng)
                loss = losses.total(parts, cfg.loss_weights)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"training loss became {float(loss)} at step {step}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                record = {
                    "step": step,
                    "loss": float(loss.detach()),
                    **{k: float(v.detach()) for k, v in parts.items()},
                    **stats,
                    "lr": opt.param_groups[0]["lr"],
                    "seconds": time.perf_counter() - start,
                    "elapsed": time.perf_counter() - began,
                    "clip_len": length,
                }
                history.append(record)
                if progress is not None:
                    progress(step + 1, total, record)
                step += 1
    finally:
        restore_dropout(model, old_dropout)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(True)
    return history


@torch.no_grad()
def evaluate(
    model: SAM2Base, clips: list[Clip], cfg: TrainConfig, batch: int = 8, prompt: str = "click"
) -> dict[str, float]:
    """Validation: one ``prompt`` per object on each clip's first frame, tracked through the rest, no
    corrections; mean IoU on the first frame and over the tracked frames (batches of ``batch`` equally
    long clips, fixed random draws, so the same clips always give the same numbers for the same model)."""
    quiet = dataclasses.replace(cfg, corrections=0, p_track_correction=0.0)
    gen, rng = torch.Generator().manual_seed(0), np.random.default_rng(0)
    was_training = model.training
    model.eval()
    first, tracked = [], []
    try:
        for i in range(0, len(clips), batch):
            group = clips[i : i + batch]
            length = min(c.frames.shape[0] for c in group)
            _, stats = clip_losses(
                model,
                [Clip(c.frames[:length], c.masks[:length]) for c in group],
                quiet,
                gen,
                rng,
                prompt=prompt,
            )
            first.append(stats["iou_first"])
            tracked.append(stats["iou_tracked"])
    finally:
        model.train(was_training)
    return {"val_iou_first": float(np.mean(first)), "val_iou_tracked": float(np.mean(tracked))}


def save_checkpoint(model: SAM2Base, path: str | os.PathLike) -> Path:
    """Write ``{"model": state_dict}`` (the official layout) atomically; returns the path."""
    from ..io.atomic import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        torch.save(
            {"model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}},
            tmp,
        )
    return Path(path)


def steps_for_epochs(pairs, epochs: float, stage: Stage) -> int:
    """Steps so that every frame of ``pairs`` is seen about ``epochs`` times in clips of ``stage``'s size."""
    frames = sum(1 if np.ndim(labels) == 2 else int(np.shape(labels)[0]) for _, labels in pairs)
    return max(1, math.ceil(epochs * frames / (stage.clip_len * stage.clips)))


def finetune(
    model: SAM2Base,
    pairs,
    cfg: TrainConfig | None = None,
    out: str | os.PathLike | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Fine-tune ``model`` on ``pairs`` of ``(image stack, label stack)`` and optionally save it to ``out``.

    Images are ``(T, H, W)``, ``(T, H, W, C)`` or a single ``(H, W)`` frame; labels the matching
    integer arrays (0 = background, one id per object, consistent over time).
    """
    cfg = cfg or TrainConfig()
    sampler = ClipSampler(model.image_size, pairs=pairs, seed=cfg.seed)
    history = train(model, sampler, cfg, progress, should_stop)
    if out is not None:
        save_checkpoint(model, out)
    return history
