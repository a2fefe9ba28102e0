"""Many objects: speed, peak memory and CTC scores of tracking 25 against 100 cells, for docs/benchmarks.md.

    nice .venv/bin/python benchmarks/many_objects.py [--size 256] [--cells 100] [--objects 25,100]
        [--max-batch 16] [--frames 8] [--threads 1]

One synthetic movie (``synthetic_cells``) is seeded from its frame-0 truth labels
(``TrackingSession.add_labels``): the first N labels for N objects, so the 25-object run tracks a subset
of the 100-object run's cells. The bundled demo model tracks forward; each configuration runs in a
subprocess of its own, so its peak RSS (``VmHWM`` from /proc/self/status) is its own. Reported:

* s/frame: propagation wall time over the tracked frames (every frame after frame 0), and that per object;
* seeding: ``add_labels`` (decoding each object's mask prompt on frame 0);
* peak RSS of the process, and the RSS before seeding (model built, movie made) for the increment;
* CTC DET/SEG/TRA (``io.evaluate.evaluate_ctc``) of the tracked labels against the same N cells' truth
  (prediction via ``io.exports.write_ctc``, truth via ``io.lineage_io.write_ctc_ground_truth``);
* the largest batch that reached memory attention (a forward hook): at most ``--max-batch``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def movie(args):
    from napari_sam2.synthetic import synthetic_cells

    return synthetic_cells(
        n_frames=args.frames,
        size=(args.size, args.size),
        n_cells=args.cells,
        seed=args.seed,
        radius=(args.radius[0], args.radius[1]),
        step=args.step,
    )


def child(args) -> dict:
    """One configuration, in this process: seed ``args.objects`` cells, track, score."""
    import numpy as np
    import torch

    from napari_sam2.engine import TrackingSession
    from napari_sam2.io.evaluate import evaluate_ctc
    from napari_sam2.io.exports import write_ctc
    from napari_sam2.io.lineage_io import write_ctc_ground_truth
    from napari_sam2.threads import set_threads

    set_threads(args.threads)
    image, truth = movie(args)
    truth = np.where(truth <= args.objects, truth, 0).astype(truth.dtype)  # the first N cells
    session = TrackingSession.from_name(
        image, "demo", checkpoint="auto", image_size=args.image_size, max_batch=args.max_batch
    )
    rss_before = rss_mb("VmRSS")
    t0 = time.perf_counter()
    ids = session.add_labels(0, truth[0])
    seeding = time.perf_counter() - t0
    batches = []
    hook = session.model.memory_attention.register_forward_hook(
        lambda m, a, o: batches.append(a[0].shape[1])
    )
    events = []
    t0 = time.perf_counter()
    session.propagate("forward", progress=events.append)
    tracking = time.perf_counter() - t0
    hook.remove()
    peak = rss_mb("VmHWM")
    labels = session.labels()
    with tempfile.TemporaryDirectory() as tmp:
        write_ctc(Path(tmp) / "pred", labels, parents=session.lineage())
        write_ctc_ground_truth(Path(tmp) / "gt", truth)
        scores = evaluate_ctc(Path(tmp) / "pred", Path(tmp) / "gt")
    tracked = args.frames - 1
    lost = sum(len(v) for v in session.lost_frames().values())
    return {
        "objects": len(ids),
        "max_batch": args.max_batch,
        "threads": torch.get_num_threads(),
        "image_size": session.model.image_size,
        "frames_tracked": tracked,
        "progress_events": len(events),
        "seeding_s": seeding,
        "s_per_frame": tracking / tracked,
        "s_per_frame_per_object": tracking / tracked / len(ids),
        "largest_batch": max(batches),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "lost_object_frames": lost,
        "object_frames": len(ids) * args.frames,
        "DET": scores["DET"],
        "SEG": scores["SEG"],
        "TRA": scores["TRA"],
        "valid": scores["valid"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=256, help="frame size in px (square)")
    parser.add_argument("--cells", type=int, default=100, help="cells in the movie")
    parser.add_argument(
        "--radius", type=float, nargs=2, default=(6.0, 8.0), help="cell radius range, px"
    )
    parser.add_argument("--step", type=float, default=1.0, help="cell drift per frame, px")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--objects", default="25,100", help="comma-separated object counts, one run each"
    )
    parser.add_argument(
        "--image-size", type=int, default=None, help="model input px (default: the demo's 256)"
    )
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in every run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.objects = int(args.objects)
        print(json.dumps(child(args)))
        return

    import numpy as np

    _, truth = movie(args)
    present = len(np.unique(truth[0])) - 1
    if present < args.cells:
        sys.exit(
            f"only {present} of {args.cells} cells fit in {args.size} px: use smaller --radius or larger --size"
        )
    started = time.perf_counter()
    rows = []
    for n in [int(x) for x in args.objects.split(",")]:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--objects",
            str(n),
            "--size",
            str(args.size),
            "--cells",
            str(args.cells),
            "--radius",
            *map(str, args.radius),
            "--step",
            str(args.step),
            "--frames",
            str(args.frames),
            "--seed",
            str(args.seed),
            "--max-batch",
            str(args.max_batch),
            "--threads",
            str(args.threads),
        ] + ([] if args.image_size is None else ["--image-size", str(args.image_size)])
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode:
            sys.exit(f"run with {n} objects failed:\n{done.stderr}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{args.size} x {args.size} px, {args.cells} cells (radius {args.radius[0]:g}-{args.radius[1]:g} px), "
        f"{args.frames} frames, demo model at {rows[0]['image_size']} px, max_batch {args.max_batch}, "
        f"{args.threads} thread(s); total {time.perf_counter() - started:.0f} s\n"
    )
    print(
        "| objects | seeding | s/frame | s/frame per object | largest batch | RSS before seeding | peak RSS "
        "| lost object-frames | DET | SEG | TRA |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['objects']} | {r['seeding_s']:.1f} s | {r['s_per_frame']:.2f} | {r['s_per_frame_per_object']:.3f} "
            f"| {r['largest_batch']} | {r['rss_before_mb']:.0f} MB | {r['peak_rss_mb']:.0f} MB "
            f"| {r['lost_object_frames']} of {r['object_frames']} | {r['DET']:.3f} | {r['SEG']:.3f} | {r['TRA']:.3f} |"
        )


if __name__ == "__main__":
    main()
