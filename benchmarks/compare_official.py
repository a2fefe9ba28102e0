"""Side-by-side numbers against the official sam2 package on identical random weights.

Prints, for the image and the video predictor: the largest logit difference and the
wall time of each step for ours and the official code, with their ratio.
Usage: python benchmarks/compare_official.py [--image-size 1024] [--frames 8] [--model sam2.1_hiera_tiny]
    [--device cpu|cuda] [--check 1e-4]

``--check TOL`` ends with exit code 1 when a logit differs by more than TOL (fp32 parity on a device).
On CUDA it also tracks under ``torch.autocast(bfloat16)`` (the official notebooks' setting) with both
implementations and prints how far the two fp32-vs-bf16 answers agree (mask IoU): reported, not checked.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import oracle  # noqa: E402

from napari_sam2 import SAM2ImagePredictor  # noqa: E402
from napari_sam2.predictor.frames import FrameSource  # noqa: E402
from napari_sam2.synthetic import synthetic_cells  # noqa: E402


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def row(label, ours, theirs):
    print(
        f"{label:<34} ours {ours:8.3f} s   official {theirs:8.3f} s   speed-up x{theirs / ours:5.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sam2.1_hiera_tiny")
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--check", type=float, default=None, help="largest logit difference allowed")
    args = ap.parse_args()
    torch.set_num_threads(2)
    device = torch.device(args.device)
    size = None if args.image_size == 1024 else args.image_size
    image, labels = synthetic_cells(n_frames=args.frames, size=(256, 256), n_cells=4, seed=3)
    grey = (image.astype(np.float32) / image.max() * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    y, x = np.argwhere(labels[0] == 1).mean(0)
    print(
        f"{args.model}, input {args.image_size} px, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )

    off = oracle.build_official(args.model, size).to(device)
    ours = oracle.ours_like(off, args.model).to(device)
    po, pn = oracle.official_image_predictor(off), SAM2ImagePredictor(ours)
    for _ in range(2):  # second round is the steady state
        _, t_off = timed(po.set_image, rgb[0])
        _, t_ours = timed(pn.set_image, rgb[0])
    row("image: set_image (encode)", t_ours, t_off)
    kw = dict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), return_logits=True)
    a, t_off = timed(po.predict, **kw)
    b, t_ours = timed(pn.predict, **kw)
    row("image: one click -> masks", t_ours, t_off)
    print(f"{'image: max |logit delta|':<34} {np.abs(a[0] - b[0]).max():.3g}")

    offv = oracle.build_official_video(args.model, size, object_bias=3.0).to(device)
    oursv = oracle.ours_video_like(offv, args.model)
    oursv.model.to(device)
    src = FrameSource(rgb, offv.image_size)
    stacked = torch.stack([src[i] for i in range(len(src))]).to(device)
    s_off, t_off = timed(offv.init_state, (stacked, 256, 256))
    s_ours, t_ours = timed(oursv.init_state, rgb)
    row("video: init_state", t_ours, t_off)
    prompts = [(0, 1, [[x, y]])] + [
        (0, i, [np.argwhere(labels[0] == i).mean(0)[::-1].tolist()]) for i in (2, 3, 4)
    ]
    deltas = []
    for n_obj in (1, 4):
        for p, s in ((offv, s_off), (oursv, s_ours)):
            p.reset_state(s)
        t_click = [0.0, 0.0]
        for frame, obj, pts in prompts[:n_obj]:
            for k, (p, s) in enumerate(((offv, s_off), (oursv, s_ours))):
                _, t = timed(p.add_new_points_or_box, s, frame, obj, points=pts, labels=[1])
                t_click[k] += t
        row(f"video: {n_obj} click(s)", t_click[1], t_click[0])
        runs = []
        for p, s in ((offv, s_off), (oursv, s_ours)):
            t0 = time.perf_counter()
            out = [(f, m.clone()) for f, _, m in p.propagate_in_video(s)]
            runs.append((out, (time.perf_counter() - t0) / len(out)))
        deltas += [(a[1] - b[1]).abs().max().item() for a, b in zip(runs[0][0], runs[1][0])]
        row(f"video: per frame, {n_obj} object(s)", runs[1][1], runs[0][1])
    print(f"{'video: max |logit delta|':<34} {max(deltas):.3g} over {len(deltas)} frames")
    if device.type == "cuda":
        agree = []
        for p, s in ((offv, s_off), (oursv, s_ours)):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                agree.append([m.float() > 0 for _, _, m in p.propagate_in_video(s)])
        ious = [((a & b).sum() / (a | b).sum().clamp(min=1)).item() for a, b in zip(*agree)]
        print(f"{'video bf16 autocast: mask IoU':<34} min {min(ious):.3f} over {len(ious)} frames")
    worst = max(deltas + [float(np.abs(a[0] - b[0]).max())])
    if args.check is not None:
        verdict = "ok" if worst <= args.check else "FAILED"
        print(f"parity {verdict}: largest logit difference {worst:.3g} (allowed {args.check:g})")
        if worst > args.check:
            sys.exit(1)


if __name__ == "__main__":
    main()
