"""Time the automatic mask generator: the demo at its 256 px, and SAM 2.1 tiny (random weights) at 1024 px.

Usage: python benchmarks/automatic.py [--threads N] [--points 16 32]
Prints one table row per (model, size, points per side): seconds for one ``generate`` (image encoding
included) and the number of masks. Random weights make the 1024 px masks meaningless: that row is
about time only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from napari_sam2 import SAM2AutomaticMaskGenerator, build_sam2
from napari_sam2.synthetic import synthetic_cells


def _time(model, image, points: int) -> tuple[float, int]:
    gen = SAM2AutomaticMaskGenerator(
        model, points_per_side=points, pred_iou_thresh=0.7, stability_score_thresh=0.9
    )
    gen.generate(image[:64, :64])  # warm-up (allocations, kernels)
    t0 = time.perf_counter()
    masks = gen.generate(image)
    return time.perf_counter() - t0, len(masks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--points", type=int, nargs="+", default=[16, 32])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    demo = build_sam2("demo")
    image, _ = synthetic_cells(n_frames=1, size=(256, 256), n_cells=8, seed=0)
    for p in args.points:
        rows.append(("demo", 256, p, *_time(demo, image[0], p)))
    torch.manual_seed(0)
    tiny = build_sam2("sam2.1_hiera_tiny", checkpoint=None)
    big = np.asarray(synthetic_cells(n_frames=1, size=(1024, 1024), n_cells=40, seed=0)[0][0])
    for p in args.points:
        rows.append(("sam2.1_hiera_tiny (random)", 1024, p, *_time(tiny, big, p)))
    print(f"threads {args.threads}")
    print("| model | image px | points per side | seconds per generate | masks |")
    print("|---|---|---|---|---|")
    for name, size, p, seconds, n in rows:
        print(f"| {name} | {size} | {p} | {seconds:.1f} | {n} |")


if __name__ == "__main__":
    main()
