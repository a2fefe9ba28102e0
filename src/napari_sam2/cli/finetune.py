"""``napari-sam2 finetune``: fine-tune a model on image stacks and their label stacks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..settings import FinetuneSettings, ModelSettings
from .common import check_file_output, prepare_model
from .options import add_options, read


def add_parser(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model on image stacks and their label stacks")
    p.add_argument(
        "images",
        help="TIFF stack (T, Y, X[, C]) or 2D image, a folder of frames, or a glob pattern",
    )
    p.add_argument(
        "labels", help="the matching label stacks (same form; 0 = background, one id per cell)"
    )
    p.add_argument("--out", required=True, help="the fine-tuned checkpoint (.pt, official format)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out file (never an input)"
    )
    add_options(p, FinetuneSettings)
    add_options(p, ModelSettings)


def run(args: argparse.Namespace) -> int:
    from .. import build_sam2
    from ..device import pick_device
    from ..train.files import input_paths, read_pairs
    from ..train.trainer import Stage, TrainConfig, finetune, steps_for_epochs

    model, train = read(args, ModelSettings), read(args, FinetuneSettings)
    inputs = [*input_paths(args.images), *input_paths(args.labels)]
    if model.checkpoint not in (None, "auto", "local") and Path(model.checkpoint).exists():
        inputs.append(model.checkpoint)
    out = check_file_output(args.out, "--out", (".pt",), args.overwrite, inputs)
    pairs = read_pairs(args.images, args.labels)
    model = prepare_model(model)
    built = build_sam2(
        model.model,
        checkpoint=model.checkpoint,
        image_size=model.image_size,
        device=pick_device(model.device),
    )
    stage = Stage(0, train.clip_len, train.clips)
    stage.steps = steps_for_epochs(pairs, train.epochs, stage)
    cfg = TrainConfig(
        stages=[stage],
        lr=train.lr,
        parts=train.parts,
        seed=train.seed,
        warmup=min(20, stage.steps // 5 + 1),
    )
    print(
        f"fine-tuning {built.cfg.name} ({', '.join(train.parts)}) on {len(pairs)} pair(s): {stage.steps} steps "
        f"of {train.clips} clip(s) x {train.clip_len} frames",
        file=sys.stderr,
    )
    try:
        from tqdm import tqdm

        bar = tqdm(total=stage.steps, unit="step", file=sys.stderr)
    except ImportError:
        bar = None

    def progress(step, total, record):
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            bar.update(1)
        elif step % 10 == 0 or step == total:
            print(f"step {step}/{total} loss {record['loss']:.3f}", file=sys.stderr)

    try:
        history = finetune(built, pairs, cfg, out=out, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    first, last = (
        history[0]["loss"],
        np.mean([r["loss"] for r in history[-max(1, len(history) // 10) :]]),
    )
    print(
        f"loss {first:.3f} -> {last:.3f}; wrote {out} (load it with --model {built.cfg.name} --checkpoint {out})"
    )
    return 0
