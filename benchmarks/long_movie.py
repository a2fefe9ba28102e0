"""Memory over a long movie (issue 32): the peak RSS of ``napari-sam2 track`` on the same kind of movie
at two lengths, as a user runs it.

    nice .venv/bin/python benchmarks/long_movie.py [--frames 400,1200] [--cells 2] [--size 256]

Makes one synthetic movie per length (``synthetic_cells``, 256 px, 2 cells drifting 0.5 px per frame,
seeded from its frame-0 truth labels), tracks it in a fresh process with the defaults of ``track`` and
the demo model, and prints per length the seconds, the process's peak RSS (``VmHWM``, read by the
process itself as it ends) and the ratio to the shortest. Goal: the longest within 1.10x of the shortest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import tifffile

from napari_sam2.synthetic import synthetic_cells

# runs the command line in this process, then reports its own peak RSS on stderr
CHILD = (
    "import sys\n"
    "from napari_sam2.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    "print('peak-kb', peak, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def track_peak_mb(folder: Path, frames: int, cells: int, size: int) -> tuple[float, float]:
    """(seconds, peak RSS MB) of tracking a ``frames``-frame movie made in ``folder``."""
    import time

    image, truth = synthetic_cells(
        n_frames=frames, size=(size, size), n_cells=cells, seed=5, step=0.5
    )
    movie, seed = folder / f"movie{frames}.tif", folder / f"seed{frames}.tif"
    tifffile.imwrite(movie, image)
    tifffile.imwrite(seed, truth[0])
    del image, truth
    command = [
        sys.executable, "-c", CHILD, "track", str(movie), "--masks", str(seed), "--model", "demo",
        "--out", str(folder / f"labels{frames}.tif"), "--overwrite",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    peak = [line for line in done.stderr.splitlines() if line.startswith("peak-kb")][-1]
    return seconds, int(peak.split()[1]) / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", default="400,1200")
    p.add_argument("--cells", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args(argv)
    lengths = sorted(int(f) for f in args.frames.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(n, *track_peak_mb(Path(tmp), n, args.cells, args.size)) for n in lengths]
    first = rows[0][2]
    for n, seconds, peak in rows:
        print(
            f"{n} frames, {args.cells} cells, {args.size} px: {seconds:.1f} s, "
            f"peak RSS {peak:.0f} MB ({peak / first:.2f}x the {lengths[0]}-frame run)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
