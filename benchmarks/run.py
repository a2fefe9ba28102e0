"""Speed and memory of napari-sam2 ("ours") against the official ``sam2`` package, in one run.

Both sides get the same random weights (the official model built with a fixed seed, its
weights copied into ours, as in ``tests/oracle.py``) and the same synthetic frames
(:func:`napari_sam2.synthetic.synthetic_cells`). Ratios are official time / ours, so a
ratio above 1 means ours is faster. Measurements:

1. encode: ``set_image`` of one frame with each image predictor (best of 3 rounds after a
   warm-up), i.e. the image-encoder cost per frame.
2. click: latency of one click -> mask on a frame whose features are already cached
   (ours ``TrackingSession.add_points``, official ``add_new_points_or_box``), median of 5.
3. propagate: seconds per frame of a forward propagation over ``--frames`` frames with
   1, 4, 8 ... objects clicked on frame 0 (fresh session / inference state each time, so
   every frame is encoded during the propagation). Frames are handed to the official
   predictor as a ready tensor (its JPEG loader patched out), so this compares tracking only.
4. end-to-end: a 16-bit TIFF movie of each length in ``--tiff-frames``; in a fresh
   subprocess per run: open, one click on frame 0, propagate through the movie. Ours opens
   the TIFF lazily through ``TrackingSession``. The official predictor only reads JPEG
   folders, so its run first converts the TIFF to 8-bit JPEGs (one contrast window for the
   whole stack, the 0.1/99.9 percentiles, PIL, quality 95) and then calls its normal
   ``init_state(folder)``: conversion and loading are counted. Model build (from a saved
   state dict) is excluded from the wall time and reported separately.
5. peak RSS: the peak resident memory of each subprocess of (4), plotted against the frame
   count for both sides. ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded, but on
   Linux it carries over the parent's RSS through fork + exec (the benchmark parent holds
   several models), so where ``/proc/self/status`` exists its ``VmHWM`` (the same high-water
   mark, for this process image only) is the number reported.
6. first mask on screen: within the ours run on the longest TIFF, seconds from nothing
   (model already built) to the mask of the first click: open the TIFF, contrast window,
   encode frame 0, decode. The same instant is reported for the official run.

Usage::

    python benchmarks/run.py                      # 1024 px, 30 frames, objects 1,4,8, TIFFs 50,150,300
    python benchmarks/run.py --quick              # 256 px, 8 frames, objects 1,4, TIFFs 20,60
    python benchmarks/run.py --image-size 512 --frames 10 --objects 1,4 --tiff-frames 50,150
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare_official import timed  # noqa: E402

from napari_sam2 import SAM2ImagePredictor  # noqa: E402
from napari_sam2.engine.session import TrackingSession  # noqa: E402
from napari_sam2.predictor.frames import FrameSource  # noqa: E402
from napari_sam2.predictor.preprocess import DEFAULT_PERCENTILES  # noqa: E402
from napari_sam2.predictor.video_predictor import build_sam2_video_predictor  # noqa: E402
from napari_sam2.synthetic import synthetic_cells  # noqa: E402

THREADS = 2


def official_available() -> bool:
    return importlib.util.find_spec("sam2") is not None


def centroids(labels0: np.ndarray, n: int) -> list[list[float]]:
    """(x, y) centre of cells 1..n in a label frame."""
    return [np.argwhere(labels0 == i).mean(0)[::-1].tolist() for i in range(1, n + 1)]


def ratio(ours: float | None, theirs: float | None) -> str:
    return f"x{theirs / ours:.2f}" if ours and theirs else "-"


def fmt(v: float | None, unit: str = "s") -> str:
    if v is None:
        return "-"
    return f"{v:.0f} MB" if unit == "MB" else f"{v:.3f} s"


# ------------------------------------------------------------------ in-process measurements 1-3


def measure_encode(args, rows: list) -> None:
    import oracle

    rgb = np.repeat(np.full((args.movie_size, args.movie_size), 128, np.uint8)[..., None], 3, -1)
    rgb[::7] = 30
    size = None if args.image_size == 1024 else args.image_size
    if args.official:
        off = oracle.build_official(args.model, size)
        ours_model = oracle.ours_like(off, args.model)
        po = oracle.official_image_predictor(off)
    else:
        from napari_sam2 import build_sam2

        ours_model = build_sam2(args.model, checkpoint=None, image_size=args.image_size)
        po = None
    pn = SAM2ImagePredictor(ours_model)
    t_ours, t_off = [], []
    for _ in range(4):  # the first round is a warm-up
        if po is not None:
            t_off.append(timed(po.set_image, rgb)[1])
        t_ours.append(timed(pn.set_image, rgb)[1])
    rows.append(
        ("1. encode one frame (set_image)", min(t_ours[1:]), min(t_off[1:]) if t_off else None)
    )


def build_video_models(args):
    """(ours video predictor, official video predictor or None) with identical weights."""
    size = None if args.image_size == 1024 else args.image_size
    if args.official:
        import oracle

        offv = oracle.build_official_video(args.model, size, object_bias=3.0)
        return oracle.ours_video_like(offv, args.model), offv
    torch.manual_seed(0)
    return build_sam2_video_predictor(
        args.model, checkpoint=None, image_size=args.image_size, fill_hole_area=0
    ), None


def measure_video(args, oursv, offv, rows: list) -> None:
    n_cells = max(args.objects)
    image, labels = synthetic_cells(
        n_frames=args.frames, size=(args.movie_size,) * 2, n_cells=n_cells, seed=3
    )
    grey = (image.astype(np.float32) / image.max() * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    points = centroids(labels[0], n_cells)
    h, w = grey.shape[1:]
    if offv is not None:
        src = FrameSource(rgb, offv.image_size)
        stacked = torch.stack([src[i] for i in range(len(src))])

    # 2. click latency on an encoded frame
    session = TrackingSession(oursv.model, rgb, fill_hole_area=0)
    session.add_points(0, 1, points=[points[0]], labels=[1])  # encodes frame 0
    x, y = points[0]
    clicks = [[x + d, y] for d in (0, 1, -1, 2, -2)]
    t_ours = [
        timed(session.add_points, 0, 1, points=[c], labels=[1], clear=True)[1] for c in clicks
    ]
    t_off = []
    if offv is not None:
        state = offv.init_state((stacked, h, w))  # encodes frame 0
        offv.add_new_points_or_box(state, 0, 1, points=[points[0]], labels=[1])
        t_off = [
            timed(offv.add_new_points_or_box, state, 0, 1, points=[c], labels=[1])[1]
            for c in clicks
        ]
    rows.append(
        (
            "2. click -> mask, encoded frame (median of 5)",
            statistics.median(t_ours),
            statistics.median(t_off) if t_off else None,
        )
    )

    # 3. propagation per frame
    for n_obj in args.objects:
        session = TrackingSession(oursv.model, rgb, fill_hole_area=0)
        for i in range(n_obj):
            session.add_points(0, i + 1, points=[points[i]], labels=[1])
        report = session.propagate()
        ours = report.elapsed / len(report.frames)
        theirs = None
        if offv is not None:
            state = offv.init_state((stacked, h, w))
            for i in range(n_obj):
                offv.add_new_points_or_box(state, 0, i + 1, points=[points[i]], labels=[1])
            t0, n = time.perf_counter(), 0
            for _ in offv.propagate_in_video(state):
                n += 1
            theirs = (time.perf_counter() - t0) / n
        rows.append(
            (f"3. propagate, {n_obj} object(s), per frame ({args.frames} frames)", ours, theirs)
        )


# ------------------------------------------------------------------ subprocess runs 4-6


def tiff_to_jpeg_folder(tiff: Path, folder: Path) -> None:
    """What an official user must do first: 16-bit TIFF -> 8-bit JPEGs with one contrast window."""
    import tifffile
    from PIL import Image

    data = tifffile.memmap(tiff, mode="r")
    idx = np.unique(np.linspace(0, len(data) - 1, min(16, len(data))).round().astype(int))
    lo, hi = np.percentile(np.stack([data[i] for i in idx]).astype(np.float64), DEFAULT_PERCENTILES)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(data)):
        grey = np.clip(
            (data[i].astype(np.float32) - lo) / max(hi - lo, 1e-12) * 255 + 0.5, 0, 255
        ).astype(np.uint8)
        Image.fromarray(grey).convert("RGB").save(folder / f"{i:05d}.jpg", quality=95)


def peak_rss_mb() -> float:
    """Peak RSS of this process image in MB (see measurement 5 in the module docstring)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec: dict) -> dict:
    """One end-to-end run in this (fresh) process; returns timings and peak RSS."""
    torch.set_num_threads(THREADS)
    size = spec["image_size"]
    t0 = time.perf_counter()
    weights = torch.load(spec["weights"], mmap=True, weights_only=True)
    if spec["side"] == "ours":
        model = build_sam2_video_predictor(
            spec["model"], checkpoint=None, image_size=size, fill_hole_area=0
        ).model
    else:
        import oracle
        import sam2.sam2_video_predictor as svp

        loader = svp.load_video_frames
        model = oracle.build_official_video(spec["model"], None if size == 1024 else size)
        svp.load_video_frames = loader  # the official JPEG loader, not the test shortcut
    model.load_state_dict(weights, strict=True)
    del weights
    out = {"build_s": time.perf_counter() - t0, "rss_after_build_mb": peak_rss_mb()}

    t0 = time.perf_counter()
    point = [spec["point"]]
    if spec["side"] == "ours":
        session = TrackingSession(model, spec["tiff"], fill_hole_area=0)
        session.add_points(0, 1, points=point, labels=[1])
        out["first_mask_s"] = time.perf_counter() - t0
        n = len(session.propagate().frames)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tiff_to_jpeg_folder(Path(spec["tiff"]), Path(tmp))
            out["convert_s"] = time.perf_counter() - t0
            state = model.init_state(tmp)
            model.add_new_points_or_box(state, 0, 1, points=point, labels=[1])
            out["first_mask_s"] = time.perf_counter() - t0
            n = sum(1 for _ in model.propagate_in_video(state))
    out["wall_s"] = time.perf_counter() - t0
    out["frames_tracked"] = n
    out["peak_rss_mb"] = peak_rss_mb()
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['side']} run on {spec['tiff']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_tiffs(args, model, tmp: Path) -> list[dict]:
    import tifffile

    weights = tmp / "weights.pt"
    torch.save(model.state_dict(), weights)
    longest = max(args.tiff_frames)
    image, labels = synthetic_cells(
        n_frames=longest, size=(args.movie_size,) * 2, n_cells=4, seed=5
    )
    point = centroids(labels[0], 1)[0]
    results = []
    for n in args.tiff_frames:
        tiff = tmp / f"movie_{n}.tif"
        tifffile.imwrite(tiff, image[:n])
        for side in ("ours", "official") if args.official else ("ours",):
            spec = dict(
                side=side,
                tiff=str(tiff),
                weights=str(weights),
                model=args.model,
                image_size=args.image_size,
                point=point,
            )
            r = run_child(spec)
            r.update(side=side, n_frames=n)
            print(
                f"   {side:<8} {n:4d} frames: wall {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"first mask {r['first_mask_s']:.2f} s",
                flush=True,
            )
            results.append(r)
    return results


# ------------------------------------------------------------------ report


def plot_rss(runs: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written")
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for side, style in (("ours", "o-"), ("official", "s--")):
        pts = sorted((r["n_frames"], r["peak_rss_mb"]) for r in runs if r["side"] == side)
        if pts:
            ax.plot(
                *zip(*pts),
                style,
                label="napari-sam2 (lazy TIFF)"
                if side == "ours"
                else "official sam2 (JPEG folder)",
            )
    ax.set_xlabel("frames in the 16-bit TIFF movie")
    ax.set_ylabel("peak RSS (MB)")
    ax.set_title(title, fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def all_rows(rows: list, runs: list[dict]) -> list:
    out = list(rows)
    by = {(r["side"], r["n_frames"]): r for r in runs}
    for n in sorted({r["n_frames"] for r in runs}):
        o, f = by.get(("ours", n)), by.get(("official", n))
        out.append(
            (f"4. end-to-end wall, {n}-frame 16-bit TIFF", o and o["wall_s"], f and f["wall_s"])
        )
        out.append(
            (f"5. peak RSS, {n}-frame TIFF", o and o["peak_rss_mb"], f and f["peak_rss_mb"], "MB")
        )
    longest = max(by) if by else None
    if longest:
        n = max(r["n_frames"] for r in runs)
        o, f = by.get(("ours", n)), by.get(("official", n))
        out.append(
            (
                f"6. first mask on screen, {n}-frame TIFF",
                o and o["first_mask_s"],
                f and f["first_mask_s"],
            )
        )
        out.append(("   model build (excluded above)", o and o["build_s"], f and f["build_s"]))
    return out


def print_table(rows: list) -> None:
    print(f"\n{'measurement':<58} {'ours':>10} {'official':>10} {'official/ours':>14}")
    for label, ours, theirs, *unit in rows:
        u = unit[0] if unit else "s"
        print(f"{label:<58} {fmt(ours, u):>10} {fmt(theirs, u):>10} {ratio(ours, theirs):>14}")


def write_markdown(
    path: Path, args, rows: list, runs: list[dict], plot: Path | None, elapsed: float
) -> None:
    cmd = " ".join([".venv/bin/python", "benchmarks/run.py", *sys.argv[1:]])
    lines = [
        "# Benchmarks: napari-sam2 against the official sam2 package",
        "",
        "Produced by `benchmarks/run.py` (its module docstring explains each measurement).",
        "Both sides run in the same invocation on identical random weights and identical synthetic frames;",
        "ratios are official time / ours (above 1: ours is faster; for memory, official / ours).",
        "",
        "## Setup",
        "",
        f"- command: `{cmd}`",
        f"- model {args.model}, input {args.image_size} px, movie frames {args.movie_size} x {args.movie_size} px,"
        f" propagation over {args.frames} frames, objects {','.join(map(str, args.objects))},"
        f" TIFF lengths {','.join(map(str, args.tiff_frames))}",
        f"- machine: {platform.processor() or platform.machine()}, CPU only, {THREADS} cores"
        f" (`torch.set_num_threads({THREADS})`), torch {torch.__version__}, Python {platform.python_version()}",
        f"- official sam2 side: {'run' if args.official else 'skipped (package not importable or --skip-official)'}",
        f"- total benchmark time: {elapsed / 60:.1f} min",
        "",
        "## Results",
        "",
        "| measurement | ours | official | official / ours |",
        "|---|---:|---:|---:|",
    ]
    for label, ours, theirs, *unit in rows:
        u = unit[0] if unit else "s"
        lines.append(
            f"| {label.strip()} | {fmt(ours, u)} | {fmt(theirs, u)} | {ratio(ours, theirs)} |"
        )
    if runs:
        lines += [
            "",
            "End-to-end runs (one subprocess each; wall time excludes the model build):",
            "",
            "| side | frames | wall | of which TIFF->JPEG | first mask | peak RSS | RSS after build |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in runs:
            conv = f"{r['convert_s']:.2f} s" if "convert_s" in r else "-"
            lines.append(
                f"| {r['side']} | {r['n_frames']} | {r['wall_s']:.2f} s | {conv} | {r['first_mask_s']:.2f} s"
                f" | {r['peak_rss_mb']:.0f} MB | {r['rss_after_build_mb']:.0f} MB |"
            )
    if plot is not None:
        lines += [
            "",
            f"![peak RSS against frame count]({plot.relative_to(path.parent).as_posix()})",
        ]
    lines += [
        "",
        "## Still to do",
        "",
        "- the full configuration (`python benchmarks/run.py`: 1024 px, 30 frames, 1/4/8 objects,"
        " TIFFs of 50/150/300 frames) on this or a faster machine;",
        "- the fast modes (bf16, a smaller memory bank, crop tracking), not measured here.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="sam2.1_hiera_tiny")
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=30, help="frames for the propagation measurement")
    ap.add_argument(
        "--objects", default="1,4,8", help="object counts for the propagation measurement"
    )
    ap.add_argument(
        "--tiff-frames", default="50,150,300", help="TIFF movie lengths for end-to-end / RSS"
    )
    ap.add_argument(
        "--movie-size", type=int, default=512, help="frame height and width of the synthetic movies"
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 256 px, 8 frames, objects 1,4, TIFFs 20,60"
    )
    ap.add_argument("--skip-official", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "benchmark_rss.png")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.image_size, args.frames, args.objects, args.tiff_frames = 256, 8, "1,4", "20,60"
        args.movie_size = min(args.movie_size, 256)
    args.objects = [int(v) for v in str(args.objects).split(",")]
    args.tiff_frames = [int(v) for v in str(args.tiff_frames).split(",")]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    torch.set_num_threads(THREADS)
    args.official = not args.skip_official and official_available()
    if not args.skip_official and not args.official:
        print("the official `sam2` package is not importable: measuring ours only")
    print(
        f"{args.model}, input {args.image_size} px, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"official side {'on' if args.official else 'off'}",
        flush=True,
    )
    start, rows = time.perf_counter(), []
    print("1. encode ...", flush=True)
    measure_encode(args, rows)
    print("2-3. click and propagation ...", flush=True)
    oursv, offv = build_video_models(args)
    measure_video(args, oursv, offv, rows)
    print("4-6. end-to-end TIFF runs (one subprocess each) ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs = measure_tiffs(args, oursv.model, Path(tmp))
    rows = all_rows(rows, runs)
    print_table(rows)
    title = f"{args.model}, {args.image_size} px input, {args.movie_size} px 16-bit frames, CPU {THREADS} threads"
    plot = args.plot if plot_rss(runs, args.plot, title) else None
    write_markdown(args.out, args, rows, runs, plot, time.perf_counter() - start)
    print(f"\nwrote {args.out}" + (f" and {plot}" if plot else ""))


if __name__ == "__main__":
    main()
