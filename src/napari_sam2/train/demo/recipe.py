"""The bundled demo model: a small SAM 2 trained from scratch on synthetic microscopy movies.

Reproduce it (fixed seed; two phases, about 2 hours on 2 CPU cores: 58 + 69 minutes)::

    python -m napari_sam2.train.demo --out src/napari_sam2/demo/napari_sam2_demo.pt

Phase 1 (:data:`RECIPE`) is a curriculum: single frames first (the image decoder learns what a
cell is and how clicks, boxes and corrections work), then short clips, then 8-frame clips.
Phase 2 (:data:`TRACKING`) goes on with 8-frame clips only, from fresh optimiser state and data,
so that memory attention, object pointers and the object score learn to follow cells that move,
touch, divide, enter and leave. ``--phase 2 --resume PHASE1.pt`` runs phase 2 alone.
Phase 3 (:data:`COLOUR`, ``--phase 3 --resume PHASE2.pt``, not part of "all" and not shipped) goes
on from phase 2 with half of the movies turned into 8-bit RGB with random channel mixes (the cells
bright in one channel, dim in others, tinted backgrounds), because uint8 RGB reaches the model as is
and phases 1-2 saw grey only. It makes colour movies track (docs/training.md) but made corrective
clicks worse in both tries, so the shipped demo is phases 1-2 and warns on colour input.
Phase "v2" (``--phase v2 --resume V1.pt``, :mod:`.v2`) fine-tunes the shipped demo on a wider world
(small, large, crowded, textured, real-picture and colour cells, windows at native scale) on a wall-clock
budget, with validation and a best checkpoint; it is made for a GPU (``--device cuda --workers 14``).
Phase "neighbours" (``--phase neighbours --resume SHIPPED.pt``, :mod:`.neighbours`) trains the memory
and the mask decoder on look-alike pairs that touch (issue 28); measured and not shipped (docs/training.md).
It is a demo, not SAM 2 quality: it knows only the synthetic generators' world.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from ...model.build import build_model
from ...model.configs import DEMO, get_config
from ..data import ClipSampler
from ..trainer import Stage, TrainConfig, save_checkpoint, train
from .movies import CROP, colour_movie, tracking_movie, training_movie

SEED = 2026
# From scratch on small objects the paper's class weighting (focal alpha 0.25, dice weight 1) drives
# every mask to empty within ~60 steps (measured); without the alpha and with dice weighted 5 it learns.
RECIPE = TrainConfig(
    stages=[Stage(1500, 1, 8), Stage(250, 3, 4), Stage(200, 8, 2)],
    lr=5e-4,
    warmup=50,
    weight_decay=0.01,
    corrections=1,
    max_objects=8,
    seed=SEED,
    focal_alpha=-1.0,
    loss_weights={"focal": 20.0, "dice": 5.0, "iou": 1.0, "score": 1.0},
)
# Learning to follow the prompt from scratch takes phase 1's single-frame steps (the model ignores
# prompts for ~700 of them); tracking needs far more clip steps than phase 1 leaves. A peak
# learning rate of 3e-4 here undid phase 1's clicks (frame-0 IoU 0.95 -> 0.4-0.9 within 150 steps).
TRACKING = TrainConfig(
    stages=[Stage(1200, 8, 2)],
    lr=1e-4,
    warmup=100,
    weight_decay=0.01,
    corrections=1,
    max_objects=8,
    seed=SEED + 1,
    focal_alpha=-1.0,
    loss_weights={"focal": 20.0, "dice": 5.0, "iou": 1.0, "score": 1.0},
)
# Colour: short, at a low rate, from the phase 2 model, half grey so grey tracking is kept.
COLOUR = TrainConfig(
    stages=[Stage(300, 8, 2)],
    lr=3e-5,
    warmup=30,
    weight_decay=0.01,
    corrections=2,
    max_objects=8,
    seed=SEED + 2,
    focal_alpha=-1.0,
    loss_weights={"focal": 20.0, "dice": 5.0, "iou": 1.0, "score": 1.0},
)


def _with_steps(cfg: TrainConfig, steps: int) -> TrainConfig:
    """``cfg`` with its one stage cut or stretched to ``steps`` steps."""
    (stage,) = cfg.stages
    return dataclasses.replace(cfg, stages=[dataclasses.replace(stage, steps=steps)])


def run_phase(
    model, cfg: TrainConfig, generator, seed: int, out: str, log, save_every: int, started: float
) -> None:
    # a pool of 64 movies, one replaced every 8 clips: data the model sees several times learns faster
    sampler = ClipSampler(
        model.image_size, generator=generator, seed=seed, pool=64, refresh=8, crop=CROP
    )

    def progress(step, total, record):
        log.write(json.dumps(record) + "\n")
        log.flush()
        if step % save_every == 0 or step == total:
            save_checkpoint(model, out)
            model.train()
            print(
                f"step {step}/{total}  loss {record['loss']:.3f}  {time.time() - started:.0f} s",
                flush=True,
            )

    train(model, sampler, cfg, progress=progress)
    save_checkpoint(model, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="where to write the checkpoint (.pt)")
    parser.add_argument(
        "--log", default=None, help="JSON-lines log of every step (default: OUT + .log.jsonl)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument(
        "--steps", type=int, default=None, help="steps of phase neighbours (default: its recipe's)"
    )
    parser.add_argument(
        "--phase",
        choices=["all", "1", "2", "3", "v2", "neighbours"],
        default="all",
        help="'all' = phases 1 and 2 (the shipped demo); 3 = the colour experiment; "
        "v2 = demo v2 from the shipped demo (issue 20); neighbours = keep touching look-alikes "
        "apart, from the shipped demo (issue 28)",
    )
    parser.add_argument(
        "--resume",
        default=None,
        help="checkpoint of the previous phase (phase 1 for --phase 2, phase 2 for --phase 3 and v2)",
    )
    v2 = parser.add_argument_group("phase v2")
    v2.add_argument("--device", default="cpu", help="cpu or cuda")
    v2.add_argument(
        "--budget-s",
        type=float,
        default=470.0,
        help="wall-clock seconds from start to the last checkpoint (start-up and validation included)",
    )
    v2.add_argument(
        "--workers", type=int, default=0, help="processes making movies (0: in this process)"
    )
    v2.add_argument("--clips", type=int, default=16, help="clips per step")
    v2.add_argument(
        "--val-every", type=int, default=100, help="steps between validations (and checkpoints)"
    )
    v2.add_argument("--val-clips", type=int, default=32, help="fixed validation clips")
    v2.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default: the recipe's)"
    )
    args = parser.parse_args(argv)
    if (args.phase in ("2", "3", "v2", "neighbours")) != (args.resume is not None):
        parser.error("--resume goes with --phase 2, 3, v2 or neighbours (and those alone need it)")
    started = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    model = build_model(get_config(DEMO))
    if args.resume is not None:
        model.load_state_dict(
            torch.load(args.resume, map_location="cpu", weights_only=True)["model"]
        )
    log_path = Path(args.log or args.out + ".log.jsonl")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        if args.phase in ("all", "1"):
            run_phase(model, RECIPE, training_movie, SEED, args.out, log, args.save_every, started)
        if args.phase in ("all", "2"):
            run_phase(
                model, TRACKING, tracking_movie, SEED + 1, args.out, log, args.save_every, started
            )
        if args.phase == "3":
            run_phase(
                model, COLOUR, colour_movie, SEED + 2, args.out, log, args.save_every, started
            )
        if args.phase == "neighbours":
            from .neighbours import NEIGHBOURS, neighbours_movie

            cfg = NEIGHBOURS if args.steps is None else _with_steps(NEIGHBOURS, args.steps)
            run_phase(
                model, cfg, neighbours_movie, SEED + 4, args.out, log, args.save_every, started
            )
        if args.phase == "v2":
            from .v2 import V2, V2Run, run_v2

            run = V2Run(
                args.device,
                args.budget_s,
                args.workers,
                args.clips,
                args.val_every,
                args.val_clips,
                args.lr or V2.lr,
            )
            best = run_v2(model, args.out, log, run, started)
            print(f"best validation: {json.dumps(best)}")
    print(f"saved {args.out} after {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
