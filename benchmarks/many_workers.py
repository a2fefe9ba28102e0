"""Many movies on a dask cluster (issue 32): wall time of ``track --many`` on 1 and 2 local workers.

    nice .venv/bin/python benchmarks/many_workers.py [--movies 4] [--frames 20] [--size 256]

Makes ``--movies`` synthetic movies (6 cells, ``synthetic_cells``) with a ``name.masks.tif`` label
image of frame 0 beside each, starts a local dask.distributed cluster of one-thread worker
processes, and times ``napari-sam2 track "DIR/*.tif" --many --model demo --scheduler ADDRESS``
(a fresh process: start-up and every worker's model loading included) for: 1 worker with 1 thread,
2 workers with 1 thread each, and no cluster with 2 threads (movies one after another, as without
``--scheduler``). Prints one line per setup with the seconds and the ratio to the 1-worker run.
Needs ``pip install "napari-sam2[cluster]"``; run it on a machine with nothing else running.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tifffile

from napari_sam2.synthetic import synthetic_cells


def run_many(folder: Path, scheduler: str | None, threads: int) -> float:
    out = folder / f"out_{'local' if scheduler is None else scheduler.rsplit(':', 1)[-1]}"
    command = [
        sys.executable, "-m", "napari_sam2.cli", "track", str(folder / "movies" / "*.tif"),
        "--many", "--model", "demo", "--out", str(out), "--overwrite", "--threads", str(threads),
        "--summary", str(folder / f"{out.name}.csv"),
    ]  # fmt: skip
    if scheduler is not None:
        command += ["--scheduler", scheduler]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--movies", type=int, default=4)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args(argv)
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "movies").mkdir()
        for k in range(args.movies):
            image, truth = synthetic_cells(
                n_frames=args.frames, size=(args.size, args.size), n_cells=6, seed=40 + k
            )
            tifffile.imwrite(folder / "movies" / f"m{k}.tif", image)
            tifffile.imwrite(folder / "movies" / f"m{k}.masks.tif", truth[0])
        rows = []
        for workers in (1, 2):
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                seconds = run_many(folder, cluster.scheduler_address, threads=1)
            rows.append((f"{workers} worker(s) x 1 thread", seconds))
        rows.append(("no cluster, 2 threads", run_many(folder, None, threads=2)))
    base = rows[0][1]
    for name, seconds in rows:
        print(
            f"{args.movies} movies of {args.frames} frames, {name}: {seconds:.1f} s "
            f"({seconds / base:.2f}x the 1-worker run)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
