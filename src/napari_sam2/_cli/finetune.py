"""``napari-sam2 finetune``: fine-tune a model on image stacks and their label stacks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .common import _model_name, _set_threads, check_file_output


def run_finetune(args: argparse.Namespace) -> int:
    from .. import build_sam2
    from ..device import pick_device
    from ..train.files import input_paths, read_pairs
    from ..train.trainer import PARTS, Stage, TrainConfig, finetune, steps_for_epochs

    _set_threads(args.threads)
    inputs = [*input_paths(args.images), *input_paths(args.labels)]
    if args.checkpoint not in ("auto", "none", "local") and Path(args.checkpoint).exists():
        inputs.append(args.checkpoint)
    out = check_file_output(args.out, "--out", (".pt",), args.overwrite, inputs)
    parts = PARTS if args.train.strip() == "all" else tuple(p.strip() for p in args.train.split(",") if p.strip())
    pairs = read_pairs(args.images, args.labels)
    checkpoint = None if args.checkpoint == "none" else args.checkpoint
    model = build_sam2(_model_name(args.model, checkpoint), checkpoint=checkpoint, image_size=args.image_size,
                       device=pick_device(args.device))
    stage = Stage(0, args.clip_len, args.clips)
    stage.steps = steps_for_epochs(pairs, args.epochs, stage)
    cfg = TrainConfig(stages=[stage], lr=args.lr, parts=parts, seed=args.seed, warmup=min(20, stage.steps // 5 + 1))
    print(f"fine-tuning {model.cfg.name} ({', '.join(parts)}) on {len(pairs)} pair(s): {stage.steps} steps "
          f"of {args.clips} clip(s) x {args.clip_len} frames", file=sys.stderr)
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
        history = finetune(model, pairs, cfg, out=out, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    first, last = history[0]["loss"], np.mean([r["loss"] for r in history[-max(1, len(history) // 10):]])
    print(f"loss {first:.3f} -> {last:.3f}; wrote {out} (load it with --model {model.cfg.name} --checkpoint {out})")
    return 0

