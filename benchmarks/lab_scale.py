"""Lab scale (issue 32): many cells in large frames through the command line, as a user runs it.

    nice .venv/bin/python benchmarks/lab_scale.py [--cells 100] [--size 1024] [--frames 20]
        [--window 256] [--device cpu] [--precision fp32] [--threads 2] [--out DIR] [TRACK OPTIONS]

Makes a synthetic movie (``synthetic_cells``, cells of radius 8-14 px, seeded from its frame-0 truth
labels), runs ``napari-sam2 track MOVIE --masks SEED --model demo`` in a fresh process (start-up,
imports and seeding included in the time, as a user pays them), and prints one line: seconds per
frame, the mean IoU of every object-frame after frame 0 with its true cell, and the peak RSS of the
tracking process. Exit code 1 when the run fails. Options it does not know go to ``track`` as they are
(e.g. ``--memory-frames 2``). With ``--out``, a movie made there before with the same sizes is used
again (making one takes about a minute).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_sam2.io.evaluate import object_ious
from napari_sam2.synthetic import synthetic_cells


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=100)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--window", default="256")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--out", default=None, help="folder for the movie and the labels (default: a temp one)"
    )
    args, track_options = p.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        truth = _movie(out, args.cells, args.size, args.frames)
        labels = out / "labels.tif"
        command = [
            sys.executable, "-m", "napari_sam2.cli", "track", str(out / "movie.tif"),
            "--masks", str(out / "seed.tif"), "--model", "demo", "--window", args.window,
            "--device", args.device, "--precision", args.precision, "--threads", str(args.threads),
            "--out", str(labels), "--overwrite", *track_options,
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
            print(f"lab scale: track failed (exit code {done.returncode})")
            return 1
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ids = [int(i) for i in np.unique(truth[0]) if i]
        ious = np.stack(list(object_ious(tifffile.imread(labels), truth, ids).values()))[:, 1:]
        print(
            f"lab scale: {len(ids)} cells, {args.size}x{args.size} px, {args.frames} frames, "
            f"window {args.window}, {args.device} {args.precision}, {args.threads} threads"
            f"{' ' + ' '.join(track_options) if track_options else ''}: "
            f"{seconds / args.frames:.2f} s per frame (start-up included), mean IoU "
            f"{np.nanmean(ious):.3f}, peak RSS {peak_mb:.0f} MB"
        )
    return 0


def _movie(out: Path, cells: int, size: int, frames: int) -> np.ndarray:
    """The synthetic movie (``movie.tif``) and its frame-0 labels (``seed.tif``) in ``out``, made unless
    one of these sizes is there already; returns the true labels."""
    made = {"cells": cells, "size": size, "frames": frames, "seed": 32}
    record = out / "movie.json"
    if record.exists() and json.loads(record.read_text()) == made:
        return tifffile.imread(out / "truth.tif")
    image, truth = synthetic_cells(
        n_frames=frames, size=(size, size), n_cells=cells, seed=32, radius=(8.0, 14.0)
    )
    tifffile.imwrite(out / "movie.tif", image)
    tifffile.imwrite(out / "seed.tif", truth[0])
    tifffile.imwrite(out / "truth.tif", truth)
    record.write_text(json.dumps(made))
    return truth


if __name__ == "__main__":
    sys.exit(main())
