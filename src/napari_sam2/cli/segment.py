"""``napari-sam2 segment``: one mask on one image or frame from point/box prompts."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..settings import AutoSettings, ModelSettings, StackSettings
from .common import EXIT_OK, check_file_output, prepare_model
from .options import add_options, box, point, read


def _load_frame(
    source: str, frame: int, channel: int | str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """One (Y, X) or (Y, X, 3) frame of a TIFF (a 2D or RGB image, or frame ``frame`` of a stack),
    the channel chosen by :func:`~napari_sam2.engine.stack.stack_view`; and the true cells for 'sample'."""
    from ..engine.stack import stack_view

    truth = None
    if source == "sample":
        from ..synthetic import synthetic_cells

        data, truth = synthetic_cells(
            n_frames=max(frame + 1, 1), size=(256, 256), n_cells=6, seed=1
        )
        truth = truth[frame] if 0 <= frame < len(truth) else None
    else:
        import tifffile

        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"input file not found: {path}")
        try:
            data = tifffile.imread(path)
        except Exception as exc:  # tifffile raises many kinds for a file that is not a TIFF
            raise ValueError(f"cannot read {path} as TIFF: {exc}") from None
        if data.ndim == 2 or (data.ndim == 3 and data.shape[-1] in (3, 4)):
            if channel is None:
                return data, None  # an image as it is (RGB or RGBA included)
            data = data[None]  # one frame of a stack, so that stack_view picks the channel
        elif data.ndim not in (3, 4):
            raise ValueError(
                f"{path} has shape {data.shape}; expected (Y, X), (Y, X, C), (T, Y, X) or (T, Y, X, C)"
            )
    if not 0 <= frame < data.shape[0]:
        raise ValueError(f"--frame {frame} is outside the stack of {data.shape[0]} frames")
    return np.asarray(stack_view(data, channel=channel)[frame]), truth


def official_prompts(
    points: list, box: list | None
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The CLI's prompts in napari's (y, x) order -> the image predictor's official (x, y) order.

    points: ``[[y, x, label], ...]`` -> point_coords ``(N, 2)`` as ``(x, y)`` and point_labels ``(N,)``;
    box: ``[y0, x0, y1, x1]`` -> ``[x0, y0, x1, y1]`` (docs/coordinates.md)."""
    coords = np.array([[p[1], p[0]] for p in points], dtype=np.float64) if points else None
    labels = np.array([int(p[2]) for p in points]) if points else None
    xyxy = None if box is None else np.array([box[1], box[0], box[3], box[2]], dtype=np.float64)
    return coords, labels, xyxy


def write_image(path: Path, image: np.ndarray, overwrite: bool) -> None:
    """Write a mask or label image under a temporary name renamed into place."""
    import tifffile

    from ..io.atomic import atomic_output

    with atomic_output(path, overwrite) as tmp:
        tifffile.imwrite(tmp, image)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "segment", help="segment one image or one frame from point/box prompts, or everything"
    )
    p.add_argument(
        "input", help="a TIFF file (2D image or stack), or 'sample' for the synthetic cells"
    )
    p.add_argument(
        "--frame", type=_frame, default=0, help="frame of a (T, Y, X) stack to segment (default 0)"
    )
    p.add_argument(
        "--point",
        type=point,
        action="append",
        default=[],
        help="y,x[,label]: (y, x) pixels, napari order (row, column; as in track's CSV); "
        "label 1 positive (default), 0 negative; repeatable",
    )
    p.add_argument(
        "--box",
        type=box,
        default=None,
        help="y0,x0,y1,x1: two corners in (y, x) pixels, napari order (as in track's CSV)",
    )
    p.add_argument(
        "--auto",
        action="store_true",
        help="segment everything with the automatic mask generator instead of prompts: --out is a "
        "label image (overlaps go to the better mask; see --min-area/--max-area)",
    )
    add_options(p, AutoSettings)
    add_options(p, ModelSettings)
    add_options(p, StackSettings, only=("channel",))
    p.add_argument("--out", required=True, help="output mask (label image with --auto), .tif")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out file (never the input)"
    )


def _frame(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    model = read(args, ModelSettings)
    channel = read(args, StackSettings).channel
    if args.auto and (args.point or args.box is not None):
        raise ValueError("--auto segments everything without prompts: leave out --point and --box")
    if not args.auto and not args.point and args.box is None:
        raise ValueError("give at least one --point or a --box, or --auto to segment everything")
    out = check_file_output(
        args.out,
        "--out",
        (".tif", ".tiff"),
        args.overwrite,
        inputs=[] if args.input == "sample" else [args.input],
    )
    settings = (
        read(args, AutoSettings) if args.auto else None
    )  # bad settings are refused before any work
    image, truth = _load_frame(args.input, args.frame, channel)
    model = prepare_model(model)
    if settings is not None:
        return _segment_all(args, model, image, truth, settings, out)

    from .. import SAM2ImagePredictor, build_sam2
    from ..device import pick_device

    t0 = time.perf_counter()
    built = build_sam2(
        model.model,
        checkpoint=model.checkpoint,
        image_size=model.image_size,
        device=pick_device(model.device),
    )
    predictor = SAM2ImagePredictor(built)
    predictor.set_image(image)
    t1 = time.perf_counter()
    pts, labels, xyxy = official_prompts(args.point, args.box)
    single_click = args.box is None and len(args.point) == 1
    masks, scores, _ = predictor.predict(pts, labels, box=xyxy, multimask_output=single_click)
    best = int(np.argmax(scores))
    mask = masks[best].astype(np.uint8)
    t2 = time.perf_counter()
    write_image(out, mask, args.overwrite)
    line = f"mask: {int(mask.sum())} px, predicted IoU {scores[best]:.3f}; encode {t1 - t0:.2f} s, prompt {t2 - t1:.3f} s"
    if truth is not None and args.point:
        y, x = int(args.point[0][0]), int(args.point[0][1])
        inside = 0 <= y < truth.shape[0] and 0 <= x < truth.shape[1]
        cell = truth == truth[y, x] if inside and truth[y, x] else None
        if cell is not None:
            from ..io.evaluate import mask_iou

            line += f"; IoU with the true cell {mask_iou(cell, mask):.3f}"
    print(line)
    print(f"wrote {out}")
    return EXIT_OK


def _segment_all(
    args: argparse.Namespace,
    model: ModelSettings,
    image: np.ndarray,
    truth: np.ndarray | None,
    settings: AutoSettings,
    out: Path,
) -> int:
    """``segment --auto``: every object the automatic mask generator finds, as a label image."""
    from .. import build_sam2
    from ..device import pick_device
    from ..engine.auto import segment_all

    built = build_sam2(
        model.model,
        checkpoint=model.checkpoint,
        image_size=model.image_size,
        device=pick_device(model.device),
    )
    t0 = time.perf_counter()
    labels = segment_all(built, image, settings)
    seconds = time.perf_counter() - t0
    labels = labels.astype(np.uint16) if labels.max() < 65536 else labels
    write_image(out, labels, args.overwrite)
    line = f"{int(labels.max())} objects in {seconds:.1f} s"
    if truth is not None:
        from ..io.evaluate import mask_iou

        cells = [k for k in np.unique(truth) if k]
        found = sum(
            max(
                (mask_iou(truth == k, labels == j) for j in np.unique(labels[truth == k]) if j),
                default=0.0,
            )
            >= 0.5
            for k in cells
        )
        line += f"; {found} of {len(cells)} true cells found at IoU >= 0.5"
    print(line)
    print(f"wrote {out}")
    return EXIT_OK
