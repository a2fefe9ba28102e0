"""Demo v2 (shipped until demo v3 tuned its decoder, train/demo/decoder_tune.py): v1 and the v2 fine-tune averaged weight by weight, the mix chosen on validation.

The GPU fine-tune (``--phase v2``) learned small, crowded, colour and real-texture cells but lost a little
of v1's own world (isolated cells tracked from one click: 0.81 -> 0.77 on v1's test movies). Averaging
the weights of a fine-tuned model and its parent keeps much of both (both models share one start, so
their weights lie in one basin). ``python -m napari_sam2.train.demo.blend V1.pt V2.pt --out DEMO.pt`` scores
each mix ``alpha`` (0 = v1, 1 = v2) on two validation sets that no test or benchmark uses, and writes
the mix with the best mean:

* the v2 world: :func:`~napari_sam2.train.demo.v2.validation_clips` (seeds from 3,000,000), one click
  per object, tracked IoU;
* v1's world: isolated cells (``synthetic_cells``, 128 px, 3 cells, seeds :data:`V1_SEEDS`), one click,
  mean IoU over 30 tracked frames.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from ...model.build import build_model
from ...model.configs import DEMO, get_config
from ..trainer import evaluate, save_checkpoint

ALPHAS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
V1_SEEDS = (9001, 9002, 9003, 9004)


def mix(first: dict, second: dict, alpha: float) -> dict:
    """``(1 - alpha) * first + alpha * second`` for floating-point tensors; others from ``second``."""
    return {
        k: torch.lerp(first[k].float(), second[k].float(), alpha).to(first[k].dtype)
        if first[k].is_floating_point()
        else second[k]
        for k in first
    }


def v1_world(model) -> float:
    from .quality import isolated_cells

    return float(np.mean(isolated_cells(model, V1_SEEDS)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("v1", help="the v1 checkpoint")
    parser.add_argument("v2", help="the --phase v2 checkpoint (its best by validation)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--alphas", default=",".join(map(str, ALPHAS)))
    parser.add_argument("--val-clips", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from .v2 import V2, validation_clips

    states = [
        torch.load(p, map_location="cpu", weights_only=True)["model"] for p in (args.v1, args.v2)
    ]
    model = build_model(
        get_config(DEMO)
    ).eval()  # as inference runs it (no dropout, eval-only rules)
    clips = validation_clips(model.image_size, args.val_clips, V2.max_objects)
    best = None
    for alpha in (float(a) for a in args.alphas.split(",")):
        model.load_state_dict(mix(*states, alpha))
        record = {
            "alpha": alpha,
            "v2_world": evaluate(model, clips, V2)["val_iou_tracked"],
            "v1_world": v1_world(model),
        }
        record["mean"] = (record["v2_world"] + record["v1_world"]) / 2
        print(json.dumps(record), flush=True)
        if best is None or record["mean"] > best["mean"]:
            best = record
    model.load_state_dict(mix(*states, best["alpha"]))
    save_checkpoint(model, args.out)
    print(f"wrote {args.out}: alpha {best['alpha']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
