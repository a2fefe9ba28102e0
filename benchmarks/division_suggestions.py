"""Precision and recall of division suggestions on synthetic dividing cells, with the bundled demo model.

Each movie is the napari sample's recipe (20 frames, 256x256, six cells; cell 2 divides on frame 7 and
cell 5 on frame 13) with another seed; seed 1 is the sample itself. Every cell is clicked at its centre
on frame 0 and tracked forward; a suggestion is right when it names a dividing cell and its division
frame (exactly, or within one frame); each true division is matched once.
Usage: python benchmarks/division_suggestions.py [seed ...]   (default: 1 2 3 4 5 6)
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from napari_sam2 import build_sam2_video_predictor
from napari_sam2.engine import TrackingSession
from napari_sam2.synthetic import synthetic_dividing_cells

TRUE = [(2, 7), (5, 13)]
SETTINGS = {"persist 1": {"persist": 1}, "persist 2": {"persist": 2}, "persist 3 (default)": {}}


def matched(found: list[dict], tolerance: int) -> int:
    used = set()
    for d in found:
        hit = [
            e
            for e in TRUE
            if e not in used and e[0] == d["object_id"] and abs(e[1] - d["frame"]) <= tolerance
        ]
        if hit:
            used.add(hit[0])
    return len(used)


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    model = build_sam2_video_predictor("demo").model
    totals = {name: np.zeros(3) for name in SETTINGS}
    for seed in seeds:
        image, truth, _ = synthetic_dividing_cells(
            n_frames=20, size=(256, 256), n_cells=6, seed=seed, divide=((2, 7), (5, 13))
        )
        session = TrackingSession(model, image)
        for cell in range(1, 7):
            y, x = np.argwhere(truth[0] == cell).mean(0)
            session.add_points(0, cell, [[x, y]], [1])
        session.propagate()
        for name, kwargs in SETTINGS.items():
            found = session.division_suggestions(**kwargs)
            totals[name] += [len(found), matched(found, 0), matched(found, 1)]
            print(
                f"seed {seed} {name}: {[(d['object_id'], d['frame'], d['reasons']) for d in found]}"
            )
    events = len(TRUE) * len(seeds)
    for name, (n, exact, near) in totals.items():
        print(
            f"{name}: {int(n)} suggestions for {events} divisions; exact frame: precision {exact / max(n, 1):.2f} "
            f"recall {exact / events:.2f}; within one frame: precision {near / max(n, 1):.2f} recall {near / events:.2f}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 2, 3, 4, 5, 6])
