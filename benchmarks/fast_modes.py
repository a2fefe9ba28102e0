"""Fast modes: their speed against the exact mode and the official predictor, and their cost in quality.

    python benchmarks/fast_modes.py                       # quality + speed (1024 px, 10 frames, 4 objects)
    python benchmarks/fast_modes.py --frames 30 --objects 8

Modes (``TrackingSession`` options, also ``napari-sam2 track --image-size/--memory-frames/--precision``):
exact (the default), a memory bank of 2 or 1 recent frames instead of 6, a model input of 3/4 or
1/2 the model's size, a combination, and bfloat16 compute.

* quality: the bundled demo model (trained weights; official ones cannot be downloaded on the
  machines this was written on) on held-out ``synthetic_cells`` movies, one click per cell on
  frame 0, tracked over 30 frames. Per mode: mean IoU against the exact mode's labels (per
  object and frame) and against the ground truth. bf16 is forced on where the CPU only emulates
  it (the numbers are the same; the time is not, so no time is reported for it there).
* speed: sam2.1 tiny at 1024 px (time does not depend on the weights, so random ones), ``--objects``
  cells clicked on frame 0 of a ``--frames``-frame movie; seconds per propagated frame for each
  mode and for the official predictor on the same weights and frames in the same run (when the
  ``sam2`` package is installed). Ratios are official / ours.

Prints markdown tables (docs/benchmarks.md has a recorded run).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import napari_sam2.device as device_module  # noqa: E402
from napari_sam2.engine.session import TrackingSession  # noqa: E402
from napari_sam2.predictor.video_predictor import build_sam2_video_predictor  # noqa: E402
from napari_sam2.synthetic import synthetic_cells  # noqa: E402
from napari_sam2.io.evaluate import mask_iou  # noqa: E402
from napari_sam2.train.demo.quality import inner_point  # noqa: E402

THREADS = 2
# name -> (fraction of the model's input size, memory frames, precision)
MODES = {
    "exact": (1.0, None, "fp32"),
    "memory 2": (1.0, 2, "fp32"),
    "memory 1": (1.0, 1, "fp32"),
    "size 3/4": (0.75, None, "fp32"),
    "size 1/2": (0.5, None, "fp32"),
    "size 3/4 + memory 2": (0.75, 2, "fp32"),
    "bf16": (1.0, None, "bf16"),
}
HELD_OUT = (101, 202, 303, 404)


def run(model, image, points, memory, precision) -> tuple[np.ndarray, float]:
    """Labels of a one-click-per-object forward run, and seconds per propagated frame."""
    session = TrackingSession(model, image, memory_frames=memory, precision=precision)
    for oid, xy in points.items():
        session.add_points(0, oid, [xy], [1])
    report = session.propagate()
    return session.labels(), report.elapsed / max(len(report.frames), 1)


def quality(emulated_bf16: bool) -> list[tuple]:
    base = build_sam2_video_predictor("demo", checkpoint="auto").model
    size = base.image_size
    movies = []
    for seed in HELD_OUT:
        image, truth = synthetic_cells(n_frames=31, size=(128, 128), n_cells=3, seed=seed)
        movies.append((image, truth, {o: inner_point(truth[0] == o) for o in (1, 2, 3)}))
    exact_labels = []
    rows = []
    for name, (fraction, memory, precision) in MODES.items():
        model = (
            base
            if fraction == 1.0
            else build_sam2_video_predictor(
                "demo", checkpoint="auto", image_size=int(round(size * fraction / 32)) * 32
            ).model
        )
        vs_exact, vs_truth, seconds = [], [], []
        for k, (image, truth, points) in enumerate(movies):
            labels, per_frame = run(model, image, points, memory, precision)
            if name == "exact":
                exact_labels.append(labels)
            ref = exact_labels[k]
            for t in range(1, len(truth)):
                for o in points:
                    vs_exact.append(mask_iou(labels[t] == o, ref[t] == o))
                    vs_truth.append(mask_iou(labels[t] == o, truth[t] == o))
            seconds.append(per_frame)
        timing = None if precision == "bf16" and emulated_bf16 else float(np.mean(seconds))
        rows.append(
            (
                name,
                model.image_size,
                float(np.mean(vs_exact)),
                float(np.min(vs_exact)),
                float(np.mean(vs_truth)),
                timing,
            )
        )
    return rows


def speed(frames: int, objects: int, emulated_bf16: bool) -> list[tuple]:
    image, labels = synthetic_cells(
        n_frames=frames, size=(1024, 1024), n_cells=objects, seed=3, radius=(40.0, 60.0), step=8.0
    )
    points = {o: inner_point(labels[0] == o) for o in range(1, objects + 1)}
    official = importlib.util.find_spec("sam2") is not None
    rows = []
    if official:
        import oracle

        from napari_sam2.predictor.frames import FrameSource

        offv = oracle.build_official_video("sam2.1_hiera_tiny", None, object_bias=3.0)
        model = oracle.ours_video_like(offv, "sam2.1_hiera_tiny").model
        src = FrameSource(image, 1024)
        state = offv.init_state((torch.stack([src[i] for i in range(len(src))]), 1024, 1024))
        for oid, xy in points.items():
            offv.add_new_points_or_box(state, 0, oid, points=[xy], labels=[1])
        t0, n = time.perf_counter(), 0
        for _ in offv.propagate_in_video(state):
            n += 1
        rows.append(("official sam2 1.1.0", 1024, (time.perf_counter() - t0) / n))
        state_dict = model.state_dict()
    else:
        torch.manual_seed(0)
        model = build_sam2_video_predictor(
            "sam2.1_hiera_tiny", checkpoint=None, image_size=1024
        ).model
        state_dict = model.state_dict()
    for name, (fraction, memory, precision) in MODES.items():
        if precision == "bf16" and emulated_bf16:
            continue
        size = int(round(1024 * fraction / 32)) * 32
        m = (
            model
            if size == 1024
            else build_sam2_video_predictor(
                "sam2.1_hiera_tiny", checkpoint=None, image_size=size
            ).model
        )
        if m is not model:
            m.load_state_dict(state_dict)
        rows.append((name, size, run(m, image, points, memory, precision)[1]))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    emulated = not device_module.bf16_is_fast("cpu")
    if emulated:  # same numbers, emulated: quality can be measured, speed cannot
        device_module.bf16_is_fast = lambda device: True
    print(
        f"# fast modes: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{THREADS} threads, bf16 {'emulated (forced on for quality only)' if emulated else 'native'}\n"
    )
    print("## quality (demo model, 4 held-out movies x 3 cells x 30 tracked frames)\n")
    print(
        "| mode | input px | IoU vs exact (mean) | IoU vs exact (worst) | IoU vs truth | s/frame (3 cells) |"
    )
    print("|---|---|---|---|---|---|")
    for name, px, mean, worst, truth, secs in quality(emulated):
        print(
            f"| {name} | {px} | {mean:.3f} | {worst:.3f} | {truth:.3f} | {'-' if secs is None else f'{secs:.3f}'} |"
        )
    if args.skip_speed:
        return
    print(
        f"\n## speed (sam2.1 tiny, 1024 px movie, {args.objects} objects, {args.frames} frames)\n"
    )
    rows = speed(args.frames, args.objects, emulated)
    official = next((r[2] for r in rows if r[0].startswith("official")), None)
    exact = next(r[2] for r in rows if r[0] == "exact")
    print("| mode | input px | s/frame | vs exact | vs official |")
    print("|---|---|---|---|---|")
    for name, px, secs in rows:
        vs_off = f"x{official / secs:.2f}" if official else "-"
        print(f"| {name} | {px} | {secs:.2f} | x{exact / secs:.2f} | {vs_off} |")


if __name__ == "__main__":
    main()
