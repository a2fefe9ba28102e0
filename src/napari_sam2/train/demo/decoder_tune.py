"""Demo v3 and v4: tune the mask decoder on cached features, for the automatic mask generator and for tracking.

    python -m napari_sam2.train.demo.decoder_tune --resume DEMO_V2.pt --out OUT.pt --fit-iou --sharpen 4

Demo v2's automatic masks fail (soft edges, predicted IoUs that barely follow the true ones): its decoder
needs grid-like single clicks, while keeping what it does when tracking. Everything before the decoder
stays frozen, so its inputs are computed once and reused for thousands of steps on a CPU:

* **point frames**: single frames of the v2 world (:func:`~.demo_v2.v2_movie`), their image features
  (as a prompted frame without memory sees them) and their whole label image. Each step clicks at
  random places, half inside cells and half anywhere (as the generator's grid does). A click in a
  cell trains the best of the three candidates towards that cell (focal + dice), the IoU head
  towards every candidate's true IoU, and the object score to "present". A click on the background
  trains only the IoU head, towards each candidate's best IoU with any cell, so that masks which
  are no cell score low.
* **decoder calls**: every decoder call of the v2 training step (first-frame clicks, boxes and
  corrections, tracked frames after memory attention) recorded from the starting model on v2 clips,
  with the true mask of each object. Replayed with the same loss as training, plus a term that keeps
  each object pointer near the starting model's (the pointers feed the memory, which stays frozen).

Only ``sam_mask_decoder`` learns (``--memory``: memory attention too, from recorded banks; not shipped). Then:

* ``--fit-iou``: the IoU head alone is fitted again on its inputs (the decoder's IoU token) from fresh
  clicks and re-recorded calls of the tuned decoder: it changes no mask, score or pointer, only which
  candidate wins and what the generator's IoU filter sees.
* ``--sharpen 4``: every mask logit times 4 (:func:`sharpen_masks`): the same masks with steeper edges, so
  that the generator's stability filter (logits thresholded at -1 and +1) keeps good masks.

**Input sizes**: v3 made its caches at the model's 256 px input only (the default), and its decoder got
worse than v2's off that size (``image_size`` 128 or 512). ``--sizes 128,192,256,384,512 --main-share 0.5``
(v4, measured and not shipped: docs/training.md) makes the rest of them at other sizes, each decoded by a
copy of the model at that size that shares its decoder (:func:`at_size`).

Defaults are the v3 recipe (seeded; about 40 minutes on two CPU cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...model.build import build_model
from ...model.configs import DEMO, get_config
from ...model.sam2_base import SAM2Base
from ...model.steps import FrameFeatures, Points
from .. import loss as losses
from ..data import movie_clips, unpack_clip
from .v2 import V2, v2_movie
from ..trainer import clip_losses, save_checkpoint

POINT_SEED = (
    2_000_000_000  # movie seeds for point frames and decoder calls: apart from v2's (1e9 on),
)
CALL_SEED = 2_100_000_000  # its validation (3e6 on) and the benchmarks'
AUTO_VAL_SEEDS = range(
    3_500_001, 3_500_009
)  # validation frames for the automatic masks (benchmarks: 4.1e6 on)
HALF = torch.float16
OFF_SIZES = (128, 512)  # input sizes validation scores v1's world at, besides the model's own


@dataclass
class PointFrame:
    """One frame's decoder inputs without memory and its label image ``(S, S)`` (0: background)."""

    embed: torch.Tensor
    high_res: list[torch.Tensor]
    labels: torch.Tensor


@dataclass
class DecoderCall:
    """One recorded ``forward_sam_heads`` call for B objects, its targets ``(B, S, S)`` and the starting
    model's object pointers ``(B, C)``. High-resolution features are stored once (every object of a
    call sees the same frame)."""

    features: torch.Tensor
    high_res: list[torch.Tensor]
    points: Points | None
    mask_inputs: torch.Tensor | None
    multimask: bool
    target: torch.Tensor
    obj_ptr: torch.Tensor
    memory: dict | None = (
        None  # a tracked frame's memory attention inputs (its bank as the start made it)
    )


def at_size(model: SAM2Base, size: int) -> SAM2Base:
    """``model`` at its own input size, else a copy at ``size`` sharing its decoder and memory attention."""
    if size == model.image_size:
        return model
    copy = build_model(model.cfg.with_image_size(size))
    copy.load_state_dict(model.state_dict())
    copy.sam_mask_decoder, copy.memory_attention = model.sam_mask_decoder, model.memory_attention
    return copy.train(model.training)


def size_of(item: PointFrame | DecoderCall) -> int:
    """The input size a cached frame or call was made at (its targets are at input size)."""
    return int((item.labels if isinstance(item, PointFrame) else item.target).shape[-1])


def models_for(model: SAM2Base, items) -> dict[int, SAM2Base]:
    """``{size: model at that size}`` (:func:`at_size`) for every input size among cached ``items``."""
    return {s: at_size(model, s) for s in {size_of(x) for x in items}}


def split_counts(total: int, sizes: tuple[int, ...], main: int, share: float) -> dict[int, int]:
    """``total`` spread over ``sizes``: ``share`` of it at ``main``, the rest evenly over the others."""
    others = [s for s in sizes if s != main]
    counts = {main: total if not others else int(round(total * share))}
    for i, s in enumerate(others):
        counts[s] = (total - counts[main]) // len(others) + (
            i < (total - counts[main]) % len(others)
        )
    return counts


@torch.no_grad()
def point_frames(model: SAM2Base, count: int, seed: int = POINT_SEED) -> list[PointFrame]:
    """``count`` single frames (two per movie, windows as in v2's clips) with their features."""
    out: list[PointFrame] = []
    s = model.image_size
    while len(out) < count:
        for packed in movie_clips(v2_movie, seed, 2, s, 1, 255):
            clip = unpack_clip(packed)
            masks = clip.masks[0]  # (K, S, S), disjoint
            labels = torch.zeros(s, s, dtype=torch.int16)
            for k in range(masks.shape[0]):
                labels[masks[k]] = k + 1
            embed, high_res = model.image_embeddings(model.forward_image(clip.frames[:1].float()))
            out.append(PointFrame(embed.to(HALF), [h.to(HALF) for h in high_res], labels))
        seed += 1
    return out[:count]


@torch.no_grad()
def decoder_calls(
    model: SAM2Base, n_clips: int, seed: int = CALL_SEED, length: int = 8
) -> list[DecoderCall]:
    """Every decoder call of the v2 training step (prompts, corrections, tracking) on ``n_clips`` clips,
    recorded from ``model`` as it is."""
    calls: list[DecoderCall] = []
    gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    current: dict = {}
    plain_heads, plain_step, plain_memory = (
        model.forward_sam_heads,
        model.track_step,
        model.memory_conditioned_features,
    )

    def step(**kw):
        # a mask prompt's frame only makes its pointer: nothing there to supervise
        given_mask = (
            kw.get("mask_inputs") is not None and model.cfg.use_mask_input_as_output_without_sam
        )
        current["t"] = None if given_mask else kw["frame_idx"]
        current["memory"] = None
        return plain_step(**kw)

    def conditioned(**kw):
        if not kw.get("is_init_cond_frame"):
            f = kw["feats"]
            one = FrameFeatures(
                [x[:, :1].to(HALF) for x in f.feats], f.pos[:, :1].to(HALF), f.sizes
            )
            current["memory"] = {
                **kw,
                "feats": one,
                "cond": dict(kw["cond"]),
                "non_cond": dict(kw["non_cond"]),
            }
        return plain_memory(**kw)

    def heads(
        features, points=None, mask_inputs=None, high_res_features=None, multimask_output=False
    ):
        out = plain_heads(features, points, mask_inputs, high_res_features, multimask_output)
        if current.get("t") is not None:
            calls.append(
                DecoderCall(
                    features.to(HALF),
                    [h[:1].to(HALF) for h in high_res_features or []],
                    points,
                    None if mask_inputs is None else mask_inputs.to(HALF),
                    multimask_output,
                    current["target"][current["t"]],
                    out.obj_ptr,
                    current["memory"],
                )
            )
        return out

    model.forward_sam_heads, model.track_step, model.memory_conditioned_features = (
        heads,
        step,
        conditioned,
    )
    try:
        done = 0
        while done < n_clips:
            for packed in movie_clips(v2_movie, seed, 2, model.image_size, length, V2.max_objects)[
                : n_clips - done
            ]:
                clip = unpack_clip(packed)
                current["target"] = clip.masks
                clip_losses(model, [clip], V2, gen, rng)
                done += 1
            seed += 1
    finally:
        del model.forward_sam_heads, model.track_step, model.memory_conditioned_features
    return calls


def sized_caches(
    model: SAM2Base,
    n_frames: int,
    n_clips: int,
    sizes: tuple[int, ...],
    share: float,
    call_seed: int = CALL_SEED,
) -> tuple[list[PointFrame], list[DecoderCall]]:
    """Point frames and decoder calls at each input size of ``sizes`` (``share`` of them at the model's own,
    :func:`split_counts`). The model's size draws from the base seeds, another size from base + size x 1000."""
    frames: list[PointFrame] = []
    calls: list[DecoderCall] = []
    frame_counts = split_counts(n_frames, sizes, model.image_size, share)
    for size, clips in split_counts(n_clips, sizes, model.image_size, share).items():
        shift = 0 if size == model.image_size else size * 1000
        sized = at_size(model, size)
        frames += (
            point_frames(sized, frame_counts[size], POINT_SEED + shift)
            if frame_counts[size]
            else []
        )
        calls += decoder_calls(sized, clips, call_seed + shift) if clips else []
    return frames, calls


def _candidate_ious(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """IoU of each ``(N, M, S, S)`` candidate with every cell of ``labels`` ``(S, S)`` -> ``(N, M, K)``."""
    k = int(labels.max())
    onehot = F.one_hot(labels.long().flatten(), k + 1)[:, 1:].float()  # (S*S, K)
    pred = (logits > 0).flatten(2).float()
    inter = pred @ onehot
    union = pred.sum(-1, keepdim=True) + onehot.sum(0) - inter
    return inter / union.clamp(min=1)


def _clicks(frame: PointFrame, n_points: int, gen: torch.Generator) -> tuple[Points, torch.Tensor]:
    """``n_points`` single positive clicks on a frame, half in cells and half anywhere, and the cell under
    each (0: background)."""
    s = frame.labels.shape[-1]
    cells = frame.labels > 0
    n_in = n_points // 2 if cells.any() else 0
    flat = torch.cat(
        [
            torch.multinomial(cells.flatten().float(), n_in, replacement=True, generator=gen)
            if n_in
            else torch.zeros(0, dtype=torch.long),
            torch.randint(0, s * s, (n_points - n_in,), generator=gen),
        ]
    )
    xy = torch.stack([flat % s, flat // s], -1).float() + torch.rand(n_points, 2, generator=gen)
    return Points(xy[:, None], torch.ones(n_points, 1, dtype=torch.int32)), frame.labels.flatten()[
        flat
    ].long()


def _decode(
    model: SAM2Base,
    features: torch.Tensor,
    points: Points | None,
    mask_inputs: torch.Tensor | None,
    high_res: list[torch.Tensor],
    multimask: bool,
):
    """``forward_sam_heads`` for B objects (``high_res``: one frame's, shared), and the decoder's candidates
    at input size (as training supervises them)."""
    b, s = features.shape[0], model.image_size
    head = model.forward_sam_heads(
        features,
        points,
        mask_inputs,
        [h.float().expand(b, -1, -1, -1) for h in high_res] or None,
        multimask,
    )
    return head, F.interpolate(
        head.decoder_multimasks.float(), size=(s, s), mode="bilinear", align_corners=False
    )


def _click_heads(model: SAM2Base, frame: PointFrame, points: Points):
    b = points.coords.shape[0]
    return _decode(
        model, frame.embed.float().expand(b, -1, -1, -1), points, None, frame.high_res, True
    )


def _call_heads(model: SAM2Base, call: DecoderCall, features: torch.Tensor | None = None):
    """A recorded call decoded again, from its recorded features or from ``features``."""
    return _decode(
        model,
        call.features.float() if features is None else features,
        call.points,
        None if call.mask_inputs is None else call.mask_inputs.float(),
        call.high_res,
        call.multimask,
    )


def _click_targets(logits: torch.Tensor, under: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """True IoU of each ``(N, M, S, S)`` candidate: with the clicked cell, or for a click on the background
    with the cell it matches best (0 on an empty frame)."""
    if labels.max() == 0:
        return torch.zeros(logits.shape[:2])
    every = _candidate_ious(logits, labels)  # (N, M, K)
    clicked = every.gather(
        2, (under - 1).clamp(min=0)[:, None, None].expand(-1, every.shape[1], 1)
    )[..., 0]
    return torch.where((under > 0)[:, None], clicked, every.amax(-1))


def point_loss(
    model: SAM2Base, frame: PointFrame, n_points: int, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """Loss parts for ``n_points`` single clicks on one frame (half in cells, half anywhere)."""
    points, under = _clicks(frame, n_points, gen)
    b = n_points
    head, logits = _click_heads(model, frame, points)
    inside = under > 0
    parts = {k: torch.zeros(()) for k in losses.WEIGHTS}
    if inside.any():
        target = frame.labels[None] == under[inside, None, None]
        step = losses.step_loss(
            logits[inside], head.ious[inside], head.object_score[inside], target, alpha=-1.0
        )
        parts.update(step)
    if (~inside).any() and frame.labels.max() > 0:
        best = _click_targets(logits[~inside].detach(), under[~inside], frame.labels)
        parts["iou"] = parts["iou"] + (head.ious[~inside] - best).abs().mean(1).sum()
    return {k: v / b for k, v in parts.items()}


def call_loss(model: SAM2Base, call: DecoderCall, memory: bool = False) -> dict[str, torch.Tensor]:
    """The training loss of one recorded decoder call, plus the pointer's distance from the start.
    ``memory``: a tracked frame's features are made again by memory attention from its recorded bank
    (so that memory attention learns too), instead of taken as recorded."""
    b = call.features.shape[0]
    features = None
    if memory and call.memory is not None:
        f = call.memory["feats"]
        feats = FrameFeatures([x.float() for x in f.feats], f.pos.float(), f.sizes).expand(b)
        features = model.memory_conditioned_features(**{**call.memory, "feats": feats})
    head, logits = _call_heads(model, call, features)
    parts = losses.step_loss(logits, head.ious, head.object_score, call.target, alpha=-1.0)
    scale = call.obj_ptr.pow(2).mean().clamp(min=1e-6)
    parts = {k: v / b for k, v in parts.items()}
    parts["pointer"] = (head.obj_ptr - call.obj_ptr).pow(2).mean() / scale
    return parts


WEIGHTS = {**V2.loss_weights, "pointer": 1.0}


@torch.no_grad()
def iou_examples(
    model: SAM2Base,
    frames: list[PointFrame],
    calls: list[DecoderCall],
    clicks_per_frame: int = 48,
    seed: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the IoU head sees and should say: its inputs ``(N, C)`` (the decoder's IoU token), the true IoU
    of every output ``(N, 4)`` and which of the four outputs were made ``(N, 4)`` bool (slots 1-3 with
    several candidates, slot 0 alone), from clicks on ``frames`` and from the replayed ``calls``."""
    tokens: list[torch.Tensor] = []
    decoder = model.sam_mask_decoder
    hook = decoder.iou_prediction_head.register_forward_hook(
        lambda module, args, out: tokens.append(args[0].detach())
    )
    # in training mode a single output is slot 0's (no fallback to a more stable candidate), as the slots assume
    was_training = decoder.training
    decoder.train()
    gen = torch.Generator().manual_seed(seed)
    targets, made = [], []

    def add(true: torch.Tensor) -> None:
        full, mask = torch.zeros(true.shape[0], 4), torch.zeros(true.shape[0], 4, dtype=torch.bool)
        cols = slice(1, 4) if true.shape[1] == 3 else slice(0, 1)
        full[:, cols], mask[:, cols] = true, True
        targets.append(full)
        made.append(mask)

    models = models_for(model, [*frames, *calls])
    try:
        for frame in frames:
            points, under = _clicks(frame, clicks_per_frame, gen)
            _, logits = _click_heads(models[size_of(frame)], frame, points)
            add(_click_targets(logits, under, frame.labels))
        for call in calls:
            _, logits = _call_heads(models[size_of(call)], call)
            add(losses.true_iou(logits, call.target[:, None].float().expand_as(logits)))
    finally:
        hook.remove()
        decoder.train(was_training)
    return torch.cat(tokens), torch.cat(targets), torch.cat(made)


def fit_iou_head(
    model: SAM2Base,
    tokens: torch.Tensor,
    targets: torch.Tensor,
    made: torch.Tensor,
    epochs: int = 60,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """Train only the IoU head on :func:`iou_examples` (L1, a tenth held out to report on); the decoder's
    masks, scores and pointers stay exactly as they are. Returns the held-out L1 before and after."""
    head = model.sam_mask_decoder.iou_prediction_head
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(tokens), generator=gen)
    held, train_rows = order[: len(order) // 10], order[len(order) // 10 :]

    def l1(rows: torch.Tensor) -> torch.Tensor:
        """Mean absolute error over the outputs ``rows`` made."""
        return ((head(tokens[rows]) - targets[rows]).abs() * made[rows]).sum() / made[
            rows
        ].sum().clamp(min=1)

    def held_out_l1() -> float:
        with torch.no_grad():
            return float(l1(held))

    before = held_out_l1()
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    for _ in range(epochs):
        for rows in train_rows[torch.randperm(len(train_rows), generator=gen)].split(256):
            loss = l1(rows)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return {"held_out_l1_before": before, "held_out_l1_after": held_out_l1()}


def sharpen_masks(model: SAM2Base, factor: float) -> None:
    """Multiply every mask logit the decoder makes by ``factor`` (the last layer of each output hypernetwork):
    the masks (logits > 0) stay the same, their edges get steeper, so their stability score (the area
    kept between logit thresholds -1 and +1) rises."""
    with torch.no_grad():
        for mlp in model.sam_mask_decoder.output_hypernetworks_mlps:
            last = mlp.layers[-1]
            last.weight.mul_(factor)
            last.bias.mul_(factor)


@dataclass(frozen=True)
class StepMix:
    """What one tuning step averages: ``frames`` cached frames with ``points`` clicks each, and ``calls``
    recorded decoder calls."""

    frames: int = 4
    points: int = 24
    calls: int = 4


def tune(
    model: SAM2Base,
    frames: list[PointFrame],
    calls: list[DecoderCall],
    steps: int,
    lr: float = 5e-5,
    mix: StepMix = StepMix(),
    seed: int = 0,
    memory: bool = False,
    progress=None,
) -> list[dict]:
    """``steps`` AdamW steps on the mask decoder (and memory attention with ``memory``; cosine decay after
    5 % warm-up), each on ``mix``; returns the log. Items of any input size are decoded at their size
    (:func:`models_for`)."""
    models = models_for(model, [*frames, *calls])
    for m in {model, *models.values()}:
        for p in m.parameters():
            p.requires_grad_(False)
    params = list(model.sam_mask_decoder.parameters())
    if memory:
        params += list(model.memory_attention.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(i / steps, 1.0)))
    )
    gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    for m in {model, *models.values()}:
        m.train()
    history = []
    try:
        for step in range(1, steps + 1):
            t0 = time.perf_counter()
            parts: dict[str, torch.Tensor] = {}
            for i in rng.choice(len(frames), mix.frames, replace=False):
                for k, v in point_loss(
                    models[size_of(frames[i])], frames[i], mix.points, gen
                ).items():
                    parts["point_" + k] = parts.get("point_" + k, 0) + v / mix.frames
            for i in rng.choice(len(calls), mix.calls, replace=False):
                for k, v in call_loss(models[size_of(calls[i])], calls[i], memory).items():
                    parts["call_" + k] = parts.get("call_" + k, 0) + v / mix.calls
            total = sum(WEIGHTS[k.split("_", 1)[1]] * v for k, v in parts.items())
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            record = {
                "step": step,
                "loss": float(total.detach()),
                **{k: float(v.detach()) for k, v in parts.items()},
                "seconds": time.perf_counter() - t0,
            }
            history.append(record)
            if progress is not None:
                progress(step, steps, record)
    finally:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(True)
    return history


def validate(model: SAM2Base, clips) -> dict[str, float]:
    """Selection scores on validation seeds no test uses: the share of cells the automatic mask generator
    finds at its default filters, the v2 world's tracked IoU from one click (``clips``:
    :func:`~.demo_v2.validation_clips`) and v1's world (isolated cells, :data:`~.blend.V1_SEEDS`), also at the
    input sizes :data:`OFF_SIZES` (how gently the ``image_size`` option degrades)."""
    from .blend import v1_world
    from .quality import automatic_found, pooled_share
    from ..trainer import evaluate

    found = automatic_found(model, AUTO_VAL_SEEDS)
    scores = {
        "automatic": pooled_share(found),
        "v2_world": evaluate(model, clips, V2)["val_iou_tracked"],
        "v1_world": v1_world(model),
        **{f"v1_world_{s}": v1_world(at_size(model, s)) for s in OFF_SIZES},
    }
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resume", required=True, help="the starting demo checkpoint")
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames", type=int, default=1000, help="point frames (single frames)")
    parser.add_argument(
        "--clips", type=int, default=200, help="clips whose decoder calls are replayed"
    )
    parser.add_argument(
        "--sizes",
        default="256",
        help="input sizes the frames and clips are made at (comma-separated)",
    )
    parser.add_argument(
        "--main-share",
        type=float,
        default=0.5,
        help="share of frames and clips at the model's own input size (the rest: evenly)",
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--memory", action="store_true", help="memory attention learns too")
    parser.add_argument(
        "--fit-iou", action="store_true", help="then fit the IoU head alone on the final decoder"
    )
    parser.add_argument(
        "--fit-frames", type=int, default=400, help="IoU fit frames (the first of each size)"
    )
    parser.add_argument(
        "--fit-clips",
        type=int,
        default=80,
        help="clips recorded again, after tuning, for the IoU fit",
    )
    parser.add_argument(
        "--sharpen", type=float, default=1.0, help="then multiply the mask logits by this"
    )
    parser.add_argument(
        "--save-every", type=int, default=500, help="also write OUT.stepN.pt every N steps"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2029)
    parser.add_argument(
        "--validate",
        nargs="*",
        metavar="CHECKPOINT",
        help="only print the validation scores of these checkpoints (and of --resume)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model(get_config(DEMO))
    model.load_state_dict(torch.load(args.resume, map_location="cpu", weights_only=True)["model"])
    model.eval()
    if args.validate is not None:
        from .v2 import validation_clips

        clips = validation_clips(model.image_size, 16, V2.max_objects)
        for path in [args.resume, *args.validate]:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
            print(
                json.dumps(
                    {
                        "checkpoint": path,
                        **{k: round(v, 4) for k, v in validate(model, clips).items()},
                    }
                ),
                flush=True,
            )
        return 0
    t0 = time.time()
    sizes = tuple(int(v) for v in args.sizes.split(","))
    frames, calls = sized_caches(model, args.frames, args.clips, sizes, args.main_share)
    print(
        f"{len(frames)} point frames, {len(calls)} decoder calls from {args.clips} clips at sizes {sizes}, "
        f"{time.time() - t0:.0f} s",
        flush=True,
    )
    out = args.out

    def progress(step, total, record):
        if step % 50 == 0:
            print(json.dumps({k: round(v, 4) for k, v in record.items()}), flush=True)
        if step % args.save_every == 0 or step == total:
            save_checkpoint(model, out if step == total else out.replace(".pt", f".step{step}.pt"))

    if args.steps:
        tune(
            model,
            frames,
            calls,
            args.steps,
            lr=args.lr,
            seed=args.seed,
            memory=args.memory,
            progress=progress,
        )
    if args.fit_iou:
        # the decoder's calls on the same clips differ once it has learned: record them again
        counts = split_counts(
            args.fit_frames, sizes, model.image_size, args.main_share
        )  # the first of each size
        fit_frames = [
            f for size, n in counts.items() for f in [x for x in frames if size_of(x) == size][:n]
        ]
        _, fit_calls = sized_caches(model, 0, args.fit_clips, sizes, args.main_share)
        report = fit_iou_head(model, *iou_examples(model, fit_frames, fit_calls))
        print(json.dumps(report), flush=True)
    if args.sharpen != 1.0:
        sharpen_masks(model, args.sharpen)
    save_checkpoint(model, out)
    print(f"wrote {out}, {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
