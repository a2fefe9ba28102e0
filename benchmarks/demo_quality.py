"""Quality of a SAM 2 model (default: the bundled demo) against ground truth, for docs/training.md.

    python benchmarks/demo_quality.py [--model demo] [--checkpoint auto]

* isolated cells: synthetic_cells movies (held-out seeds), one click per cell on frame 0,
  mean IoU over the 30 following frames;
* varied movies: synthetic_microscopy (held-out seeds; touching, dividing, entering cells),
  same protocol over the cells of frame 0 while they exist;
* correction: on the worst object-frame of the isolated-cell runs, one click on the error;
* colour: the isolated-cell movies as 8-bit RGB, cells bright in red and dim in green and blue
  (how a two-colour overlay or a stained sample looks), same protocol;
* a real image scikit-image ships (coins): one click per object, IoU against a classical
  segmentation (Otsu threshold, holes filled, small objects removed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage


def isolated(model, seeds):
    from napari_sam2.synthetic import synthetic_cells
    from napari_sam2.train.demo.quality import track_from_clicks, tracked_mean

    out = []
    for seed in seeds:
        image, truth = synthetic_cells(n_frames=31, size=(128, 128), n_cells=3, seed=seed)
        session, ious = track_from_clicks(model, image, truth)
        first = float(np.nanmean(np.stack(list(ious.values()))[:, 0]))
        out.append((seed, first, tracked_mean(ious), session, ious, truth))
    return out


def red_movie(image: np.ndarray) -> np.ndarray:
    """A grey movie as uint8 RGB with the cells bright in red and dim in green and blue."""
    lo, hi = np.percentile(image, (0.5, 99.8))
    g = np.clip((image.astype(np.float32) - lo) / (hi - lo), 0, 1)
    rgb = np.stack([20 + 230 * g, 20 + 60 * g, 20 + 60 * g], axis=-1)
    return rgb.round().astype(np.uint8)


def colour(model, seeds):
    from napari_sam2.synthetic import synthetic_cells
    from napari_sam2.train.demo.quality import track_from_clicks, tracked_mean

    out = []
    for seed in seeds:
        image, truth = synthetic_cells(n_frames=31, size=(128, 128), n_cells=3, seed=seed)
        _, ious = track_from_clicks(model, red_movie(image), truth)
        out.append(tracked_mean(ious))
    return out


def varied(model, seeds):
    from napari_sam2.synthetic import synthetic_microscopy
    from napari_sam2.train.demo.quality import track_from_clicks, tracked_mean

    scores = []
    for seed in seeds:
        image, truth, _ = synthetic_microscopy(n_frames=16, size=(128, 128), seed=seed)
        if not truth[0].any():
            continue
        _, ious = track_from_clicks(model, image, truth)
        scores.append(tracked_mean(ious))
    return scores


def correction(run):
    from napari_sam2.train.demo.quality import correct_worst

    _, _, _, session, ious, truth = run
    _, frame, before, after = correct_worst(session, ious, truth)
    return frame, before, after


def coin_labels(image: np.ndarray) -> np.ndarray:
    """scikit-image's coins, segmented the classical way: Otsu threshold, holes filled, small objects removed."""
    from skimage import filters, measure, morphology

    ref = ndimage.binary_fill_holes(image > filters.threshold_otsu(image))
    return measure.label(morphology.remove_small_objects(ref, 100))


def coins(model):
    from skimage import data

    from napari_sam2 import SAM2ImagePredictor
    from napari_sam2.io.evaluate import mask_iou
    from napari_sam2.train.demo.quality import inner_point

    image = data.coins()
    labels = coin_labels(image)
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(image)
    ious = []
    for region in range(1, labels.max() + 1):
        target = labels == region
        masks, scores, _ = predictor.predict(
            np.array([inner_point(target)]), np.array([1]), multimask_output=True
        )
        ious.append(mask_iou(masks[int(np.argmax(scores))] > 0, target))
    return ious


def main() -> None:
    from napari_sam2 import build_sam2_video_predictor

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="demo")
    parser.add_argument("--checkpoint", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_sam2_video_predictor(args.model, checkpoint=args.checkpoint).model
    t0 = time.perf_counter()
    runs = isolated(model, (101, 202, 303, 404))
    for seed, first, later, *_ in runs:
        print(
            f"isolated cells seed {seed}: frame 0 IoU {first:.3f}, frames 1-30 mean IoU {later:.3f}"
        )
    print(f"isolated cells, all: {np.mean([r[2] for r in runs]):.3f}")
    frame, before, after = correction(min(runs, key=lambda r: r[2]))
    print(f"correction click on the worst frame ({frame}): IoU {before:.3f} -> {after:.3f}")
    rgb = colour(model, (101, 202, 303, 404))
    print(
        f"colour (red) movies, frames 1-30: mean IoU {np.mean(rgb):.3f} (per movie {np.round(rgb, 2).tolist()})"
    )
    v = varied(model, range(9001, 9009))
    print(
        f"varied movies (8, 16 frames): mean IoU {np.mean(v):.3f} (per movie {np.round(v, 2).tolist()})"
    )
    c = coins(model)
    print(
        f"skimage coins, one click per coin ({len(c)}): mean IoU {np.mean(c):.3f}, median {np.median(c):.3f}"
    )
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
