"""Window mode against whole-frame mode, side by side in one run, for docs/benchmarks.md (issue 16).

    nice .venv/bin/python benchmarks/windows.py [--threads 2] [--quick] [--json out.json] [--picture out.png]

Every configuration runs in a subprocess of its own, so its peak RSS (``VmHWM``) is its own.

1. **Demo model, synthetic 1024 px movies** with 20-40 cells of the demo's training size (``synthetic_cells``,
   radius 9-15 px), seeded from their frame-0 truth labels (``TrackingSession.add_labels``) and tracked forward:
   whole frame (squeezed to the demo's 256 px) against 256 px windows. Mean IoU against the truth over the
   tracked frames, s/frame, s per object-frame, image encodings, peak RSS.
2. **Exclusive pixels** on and off, in windows, on crowded movies of touching cells (radius 14-20 px).
3. **RSS** in window mode: twice the frames, then twice the objects.
4. **Official sam2.1 tiny, random weights, timing only**: 8 objects on 2048 px frames (whole frame at 1024 px
   input against windows of 1024 and 512 px), and on 1024 px frames (whole frame against 256 px windows);
   with ``--sections objects`` (not in the default), 1, 10 and 50 objects, whole 1024 px frames against
   512 px windows on 2048 px frames, one tracked frame each.
5. **Real data**: scikit-image's immunohistochemistry picture (real tissue, stained nuclei), its haematoxylin
   channel moved by a known drift and rotation; nuclei found by a threshold on frame 0 are the seeds and, moved
   by the same warp, the truth.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from many_objects import rss_mb  # this folder is on sys.path when a script here runs

SEEDS = (11, 12, 13)


def synthetic(cfg):
    import numpy as np

    from napari_sam2.synthetic import synthetic_cells

    rng = np.random.default_rng(cfg["seed"])
    n = cfg.get("cells") or int(rng.integers(20, 41))
    return synthetic_cells(
        n_frames=cfg["frames"],
        size=(cfg["size"], cfg["size"]),
        n_cells=n,
        seed=cfg["seed"],
        radius=tuple(cfg.get("radius", (9.0, 15.0))),
        step=cfg.get("step", 2.0),
    )


def real(cfg):
    """The haematoxylin channel of skimage's immunohistochemistry picture (512 px), moved by a drift of
    (1.5, -2) px and 1 degree per frame; nuclei by Otsu's threshold on frame 0, moved the same way."""
    import numpy as np
    from scipy import ndimage
    from skimage import color, data, filters, measure, morphology

    hema = color.rgb2hed(data.immunohistochemistry())[..., 0]
    hema = (hema - hema.min()) / (hema.max() - hema.min())
    mask = ndimage.binary_opening(hema > filters.threshold_otsu(hema), structure=morphology.disk(2))
    labels = measure.label(mask)
    frames, truth = [], []
    centre = np.array(hema.shape) / 2
    for t in range(cfg["frames"]):
        angle = np.deg2rad(1.0 * t)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shift = np.array([1.5 * t, -2.0 * t])
        offset = (
            centre - rot @ centre - rot @ shift
        )  # output pixel p reads input pixel rot @ p + offset
        frames.append(ndimage.affine_transform(hema, rot, offset, order=1, mode="reflect"))
        truth.append(ndimage.affine_transform(labels, rot, offset, order=0, mode="constant"))
    image = (np.stack(frames) * 4000).astype(np.uint16)
    truth = np.stack(truth).astype(np.uint16)
    keep = [i for i in np.unique(truth[0]) if i and (truth == i).sum(axis=(1, 2)).min() > 30]
    truth = np.where(np.isin(truth, keep), truth, 0).astype(np.uint16)
    return image, truth


def child(cfg: dict) -> dict:
    import numpy as np

    from napari_sam2.engine import TrackingSession
    from napari_sam2.io.evaluate import mask_iou
    from napari_sam2.threads import set_threads

    set_threads(cfg["threads"])
    image, truth = real(cfg) if cfg["movie"] == "real" else synthetic(cfg)
    if cfg.get("objects"):
        ids = [i for i in np.unique(truth[0]) if i][: cfg["objects"]]
        truth = np.where(np.isin(truth, ids), truth, 0).astype(truth.dtype)
    Path("/proc/self/clear_refs").write_text(
        "5"
    )  # peak RSS from here on: not the movie's generation
    model, ckpt = ("demo", "auto") if cfg["model"] == "demo" else (cfg["model"], None)
    size = cfg.get("image_size")
    session = TrackingSession.from_name(
        image,
        model,
        checkpoint=ckpt,
        window=cfg["window"],
        image_size=None if cfg["window"] else size,
        exclusive=cfg.get("exclusive", False),
    )
    ids = session.add_labels(0, truth[0])
    t0 = time.perf_counter()
    session.propagate("forward")
    seconds = time.perf_counter() - t0
    data_mb = (image.nbytes + truth.nbytes) / 2**20  # the movie and its truth, held by this script
    out = {
        "config": cfg,
        "shape": list(image.shape),
        "objects": len(ids),
        "s_per_frame": seconds / (cfg["frames"] - 1),
        "encoded": session.encoded_frames,
        "peak_rss_mb": rss_mb("VmHWM"),
        "data_mb": data_mb,
        "feature_cache_mb": session.core.features.nbytes() / 2**20,
    }
    out["s_per_object_frame"] = out["s_per_frame"] / len(ids)
    if cfg["model"] == "demo":
        labels = session.labels()
        ious = [
            mask_iou(labels[f] == i, truth[f] == i)
            for f in range(1, cfg["frames"])
            for i in ids
            if (truth[f] == i).any()
        ]
        out["mean_iou"] = float(np.mean(ious))
        out["lost"] = sum(len(v) for v in session.lost_frames().values())
        if cfg.get("picture"):
            np.savez_compressed(cfg["picture"], image=image[-1], truth=truth[-1], labels=labels[-1])
    return out


def run(cfg: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{cfg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def picture(whole: str, window: str, out: str) -> None:
    """Last frame, 512 px crop: truth outlines in white, whole-frame masks (left) and window masks (right)."""
    import numpy as np
    from PIL import Image
    from scipy import ndimage

    panels = []
    for path in (whole, window):
        d = np.load(path)
        img = d["image"][:512, :512].astype(np.float32)
        img = (255 * (img - img.min()) / max(np.ptp(img), 1)).astype(np.uint8)
        rgb = np.repeat(img[..., None], 3, -1)
        pred, truth = d["labels"][:512, :512], d["truth"][:512, :512]
        edge = pred != ndimage.grey_erosion(pred, 3)
        rgb[(pred > 0) & ~edge] = (0.6 * rgb[(pred > 0) & ~edge] + [0, 80, 0]).astype(np.uint8)
        rgb[edge & (pred > 0)] = (255, 200, 0)
        rgb[truth != ndimage.grey_erosion(truth, 3)] = (255, 255, 255)
        panels.append(rgb)
    gap = np.full((512, 8, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([panels[0], gap, panels[1]], 1)).save(out)


def table(rows, columns) -> str:
    head = "| " + " | ".join(c for c, _ in columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(f(r) for _, f in columns) + " |\n" for r in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="one movie per row, fewer frames")
    p.add_argument("--json", default=None)
    p.add_argument("--picture", default="docs/images/windows_demo.png")
    p.add_argument("--sections", default="demo,exclusive,rss,tiny,real")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    seeds = SEEDS[:1] if args.quick else SEEDS
    frames = 6 if args.quick else 10
    base = dict(model="demo", movie="synthetic", size=1024, frames=frames, threads=args.threads)
    results = {"demo": [], "exclusive": [], "rss": [], "tiny": [], "objects": [], "real": []}
    sections = args.sections.split(",")
    for seed in seeds if "demo" in sections else ():
        for window in (None, 256):
            extra = {"picture": f"/tmp/windows_{window}.npz"} if seed == seeds[0] else {}
            results["demo"].append(run({**base, "seed": seed, "window": window, **extra}))
            print(json.dumps(results["demo"][-1]), flush=True)
    if "demo" in sections:
        picture("/tmp/windows_None.npz", "/tmp/windows_256.npz", args.picture)
    for seed in seeds if "exclusive" in sections else ():
        for exclusive in (False, True):
            cfg = {
                **base,
                "seed": seed,
                "window": 256,
                "exclusive": exclusive,
                "cells": 60,
                "radius": (14.0, 20.0),
            }
            results["exclusive"].append(run(cfg))
            print(json.dumps(results["exclusive"][-1]), flush=True)
    rss = ((frames, 10), (2 * frames, 10), (4 * frames, 10), (frames, 20), (frames, 40))
    for n_frames, objects in rss if "rss" in sections else ():
        results["rss"].append(
            run(
                {
                    **base,
                    "seed": SEEDS[0],
                    "window": 256,
                    "frames": n_frames,
                    "cells": 40,
                    "objects": objects,
                }
            )
        )
        print(json.dumps(results["rss"][-1]), flush=True)
    tiny = dict(
        model="sam2.1_hiera_tiny",
        movie="synthetic",
        frames=3,
        threads=args.threads,
        seed=1,
        cells=8,
        radius=(30.0, 50.0),
    )
    timing = (
        (2048, None, 1024),
        (2048, 1024, None),
        (2048, 512, None),
        (1024, None, 1024),
        (1024, 256, None),
    )
    for size, window, image_size in timing if "tiny" in sections else ():
        results["tiny"].append(
            run({**tiny, "size": size, "window": window, "image_size": image_size})
        )
        print(json.dumps(results["tiny"][-1]), flush=True)
    # the official tiny's cost per frame against the number of objects (--sections objects)
    for objects in (1, 10, 50) if "objects" in sections else ():
        for size, window, image_size in ((1024, None, 1024), (2048, 512, None)):
            cfg = {**tiny, "size": size, "window": window, "image_size": image_size}
            cfg.update(frames=2, cells=objects, radius=(14.0, 24.0), objects=objects)
            results["objects"].append(run(cfg))
            print(json.dumps(results["objects"][-1]), flush=True)
    for window in (None, 256) if "real" in sections else ():
        results["real"].append(
            run(
                {
                    **base,
                    "movie": "real",
                    "frames": frames,
                    "seed": 0,
                    "window": window,
                    "objects": 60,
                }
            )
        )
        print(json.dumps(results["real"][-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))

    def mode(r):
        w = r["config"]["window"]
        return f"windows of {w}" if w else f"whole frame at {r['config'].get('image_size') or 256}"

    quality = [
        (
            "movie (seed)",
            lambda r: f"{r['shape'][1]} px, {r['objects']} cells ({r['config']['seed']})",
        ),
        ("mode", mode),
        ("mean IoU", lambda r: f"{r['mean_iou']:.3f}"),
        ("lost object-frames", lambda r: str(r["lost"])),
        ("s/frame", lambda r: f"{r['s_per_frame']:.2f}"),
        ("s per object-frame", lambda r: f"{r['s_per_object_frame']:.3f}"),
        ("encodings", lambda r: str(r["encoded"])),
        ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
    ]
    print("\n### Demo model, 1024 px synthetic movies\n\n" + table(results["demo"], quality))
    print(
        "### Exclusive pixels (windows of 256, touching cells)\n\n"
        + table(
            results["exclusive"], [("exclusive", lambda r: str(r["config"]["exclusive"]))] + quality
        )
    )
    print(
        "### RSS in window mode\n\n"
        + table(
            results["rss"],
            [("frames", lambda r: str(r["config"]["frames"]))]
            + quality
            + [
                ("movie + truth MB", lambda r: f"{r['data_mb']:.0f}"),
                ("feature cache MB", lambda r: f"{r['feature_cache_mb']:.0f}"),
                ("peak RSS less movie MB", lambda r: f"{r['peak_rss_mb'] - r['data_mb']:.0f}"),
            ],
        )
    )
    print(
        "### sam2.1 tiny, random weights, timing only\n\n"
        + table(
            results["tiny"],
            [
                ("frame", lambda r: f"{r['config']['size']} px"),
                ("mode", mode),
                ("s/frame", lambda r: f"{r['s_per_frame']:.2f}"),
                ("s per object-frame", lambda r: f"{r['s_per_object_frame']:.3f}"),
                ("encodings", lambda r: str(r["encoded"])),
                ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
            ],
        )
    )
    print(
        "### Real image (skimage immunohistochemistry, warped)\n\n"
        + table(results["real"], quality)
    )


if __name__ == "__main__":
    main()
