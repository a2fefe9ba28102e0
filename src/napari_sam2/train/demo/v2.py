"""Demo model v2 (issue 20): fine-tune the shipped demo (v1) on a wider world, on a time budget.

    python -m napari_sam2.train.demo --phase v2 --resume src/napari_sam2/demo/napari_sam2_demo.pt \\
        --device cuda --budget-s 470 --workers 14 --out OUT/demo_v2.pt

v1 already follows clicks and tracks; v2 starts from it (a model trained from scratch first spends
~700 steps ignoring prompts) at a fine-tuning learning rate (v1's phase 2: 3e-4 undid the clicks,
1e-4 worked). Data (:func:`v2_movie`): four in five movies from :func:`~.world.synthetic_world`
(cell radius 5-35 px at native scale, 1-60 cells per 256 x 256 px, touching and overlapping,
entering, leaving, dividing, dim and dark cells, structured backgrounds and real-picture textures),
one in five from v1's own generators (so v1's world is kept); a quarter of them as 8-bit RGB. Clips
are cut in windows of 256 px at native scale (as window mode tracks), of 512 px resized to 256
(cells at half size, as a 512 px input would see them) or in between (:func:`~.data.draw_zoom`).
Prompts on the first frame: one or two clicks, boxes and masks (seeding from labels), then two
corrective clicks; a corrective click on a tracked frame in 40 % of the clips. Movies are made by
worker processes (:class:`~.data.ParallelClipSampler`) so that an accelerator does not wait.

Every ``val_every`` steps the model is measured on fixed validation clips (seeds of their own, not
the benchmarks' test seeds): one click per object, 12 tracked frames, IoU at model resolution. The
latest weights go to ``OUT`` and the best by validation to ``OUT`` with ``.best`` before the suffix,
both official-format checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..data import ParallelClipSampler, movie_clips, unpack_clip
from ..trainer import Stage, TrainConfig, evaluate, save_checkpoint, train
from .world import real_textures, synthetic_world

TRAIN_SEED = 1_000_000_000  # movies seeds from here on: far from the validation and benchmark seeds
VAL_SEED = 3_000_000
CLIP_LEN = 8
VAL_LEN = 12
V2 = TrainConfig(
    stages=[Stage(1_000_000, CLIP_LEN, 16)],  # stopped by the time budget
    lr=1e-4,
    warmup=50,
    weight_decay=0.01,
    corrections=2,
    p_track_correction=0.4,
    max_objects=10,
    prompt_odds=(0.4, 0.15, 0.25, 0.2),
    seed=2028,
    focal_alpha=-1.0,
    loss_weights={"focal": 20.0, "dice": 5.0, "iou": 1.0, "score": 1.0},
)
SIDES = (256, 320, 384, 448, 512)


def v2_movie(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One training movie: 4 in 5 from :func:`synthetic_world` (12 frames, 256-512 px), 1 in 5 from
    v1's phase 2 data; a quarter of all turned into 8-bit RGB."""
    from .movies import to_colour, tracking_movie

    rng = np.random.default_rng([seed, 2])
    if rng.random() < 0.2:
        image, labels = tracking_movie(seed)
    else:
        side = int(rng.choice(SIDES))
        image, labels, _ = synthetic_world(n_frames=12, size=(side, side), seed=seed)
    if rng.random() < 0.25:
        image = to_colour(image, rng)
    return image, labels


def validation_clips(image_size: int, count: int, max_objects: int) -> list:
    """``count`` fixed validation clips of :data:`VAL_LEN` frames from seeds ``VAL_SEED + i``."""
    clips = []
    seed = VAL_SEED
    while len(clips) < count:
        clips.extend(
            unpack_clip(c) for c in movie_clips(v2_movie, seed, 1, image_size, VAL_LEN, max_objects)
        )
        seed += 1
    return clips


def best_path(out: str | Path) -> Path:
    """Where the best-by-validation checkpoint goes: ``demo_v2.pt`` -> ``demo_v2.best.pt``."""
    out = Path(out)
    return out.with_name(out.stem + ".best" + out.suffix)


@dataclasses.dataclass(frozen=True)
class V2Run:
    """One v2 run: the device, the wall-clock budget (seconds from ``started``), data worker processes, clips
    per step, steps between validations, fixed validation clips and the peak learning rate."""

    device: str = "cpu"
    budget_s: float = 470.0
    workers: int = 0
    clips: int = 16
    val_every: int = 100
    val_clips: int = 32
    lr: float = V2.lr


def run_v2(model, out: str, log, run: V2Run, started: float) -> dict:
    """Fine-tune ``model`` (v1 weights) as ``run`` says until its budget is spent (counted from ``started``);
    returns the best validation record. Writes one JSON line per step (and per validation) to ``log``."""
    device, budget_s, workers, clips = run.device, run.budget_s, run.workers, run.clips
    val_every, val_clips, lr = run.val_every, run.val_clips, run.lr
    print(
        f"{len(real_textures())} scikit-image pictures for textures", flush=True
    )  # loaded before the workers fork
    cfg = dataclasses.replace(V2, lr=lr, stages=[Stage(V2.stages[0].steps, CLIP_LEN, clips)])
    sampler = ParallelClipSampler(
        v2_movie,
        model.image_size,
        CLIP_LEN,
        cfg.max_objects,
        TRAIN_SEED,
        workers=workers,
        clips_per_movie=2,
    )
    val = validation_clips(model.image_size, val_clips, cfg.max_objects)
    model.to(device)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    best = {"val_iou_tracked": -1.0}

    def validate(step: int) -> float:
        t0 = time.time()
        scores = {"step": step, **evaluate(model, val, cfg), "elapsed": time.time() - started}
        log.write(json.dumps(scores) + "\n")
        log.flush()
        save_checkpoint(model, out)
        if scores["val_iou_tracked"] > best["val_iou_tracked"]:
            best.update(scores)
            save_checkpoint(model, best_path(out))
        print(
            f"step {step}: validation IoU first frame {scores['val_iou_first']:.3f}, tracked "
            f"{scores['val_iou_tracked']:.3f} (best {best['val_iou_tracked']:.3f} at step {best['step']}), "
            f"{time.time() - started:.0f} s",
            flush=True,
        )
        return time.time() - t0

    try:
        val_seconds = validate(0)
        # leave room for the last validation and saves within the budget
        cfg.budget_s = budget_s - (time.time() - started) - 1.5 * val_seconds - 5
        if cfg.budget_s <= 0:
            raise ValueError(f"a budget of {budget_s} s leaves no time to train after start-up")
        print(
            f"training for {cfg.budget_s:.0f} s on {device}: {clips} clips of {CLIP_LEN} frames per step, "
            f"{workers} data workers, {len(val)} validation clips",
            flush=True,
        )

        def progress(step, total, record):
            log.write(json.dumps(record) + "\n")
            if step % 20 == 0:
                print(
                    f"step {step}  loss {record['loss']:.3f}  iou first {record['iou_first']:.2f} tracked "
                    f"{record['iou_tracked']:.2f}  {record['seconds']:.2f} s/step  movies {sampler.movies}  "
                    f"{time.time() - started:.0f} s",
                    flush=True,
                )
            if step % val_every == 0:
                validate(step)

        history = train(model, sampler, cfg, progress=progress)
        if history and len(history) % val_every:
            validate(len(history))
    finally:
        sampler.close()
    return best
