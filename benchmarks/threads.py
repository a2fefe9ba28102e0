"""Torch threads on a quiet and on a loaded CPU: why the default leaves a core free.

    python benchmarks/threads.py                 # threads 1 .. all cores, quiet and next to 2 busy loops
    python benchmarks/threads.py --busy 1 --frames 10

Each run is a fresh process that tracks the bundled sample (the demo model, 6 cells clicked on
frame 0, ``--frames`` frames) with torch set to N threads, and reports the propagation time. "loaded"
starts ``--busy`` pure-Python busy loops (other programs on the machine) before the run and stops
them after. Prints a markdown table (docs/threads.md has a recorded run).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1000003


def _worker(threads: int, frames: int) -> None:
    from napari_sam2.cli.track import _sample_movie
    from napari_sam2.engine import TrackingSession
    from napari_sam2.engine.batch import apply_prompts
    from napari_sam2.threads import set_threads

    set_threads(threads)
    image, _, prompts = _sample_movie()
    session = TrackingSession.from_name(image[:frames], name="demo", checkpoint="auto")
    apply_prompts(session, prompts)
    report = session.propagate("forward")
    print(f"{report.elapsed:.3f}")


def _run(threads: int, frames: int, busy: int) -> float:
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(threads), "--frames", str(frames)],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
    finally:
        stop.set()
        for p in spinners:
            p.join()
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--threads", default=None, help="comma separated (default 1 .. all cores)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.frames)
        return
    from napari_sam2.threads import available_cores, default_threads

    cores = available_cores()
    counts = (
        [int(t) for t in args.threads.split(",")] if args.threads else list(range(1, cores + 1))
    )
    print(
        f"{cores} cores; default threads here: {default_threads()}; {args.frames} frames, 6 objects, demo model; "
        f"loaded = next to {args.busy} busy loops\n"
    )
    print("| threads | quiet (s) | loaded (s) | loaded / quiet |\n|---|---|---|---|")
    for n in counts:
        quiet = _run(n, args.frames, 0)
        loaded = _run(n, args.frames, args.busy)
        print(f"| {n} | {quiet:.2f} | {loaded:.2f} | {loaded / quiet:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
