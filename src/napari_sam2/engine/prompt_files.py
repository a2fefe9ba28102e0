"""Prompt files: clicks and boxes from CSV files, label images as mask prompts, checked before any compute
and put into a :class:`~napari_sam2.engine.session.TrackingSession`."""

from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path


POINT_COLUMNS = ("object_id", "frame", "y", "x", "label")
BOX_COLUMNS = ("object_id", "frame", "y0", "x0", "y1", "x1")


@dataclass
class Prompts:
    """Clicks and boxes per (object, frame), in (x, y) pixel order as the model takes them."""

    points: dict[tuple[int, int], list[tuple[float, float, int]]] = field(default_factory=dict)
    boxes: dict[tuple[int, int], tuple[float, float, float, float]] = field(default_factory=dict)
    files: list[Path] = field(
        default_factory=list
    )  # the CSV files they were read from (inputs of a run)

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes)


def _rows(path: Path, columns: tuple[str, ...]):
    try:
        fh = open(
            path, newline="", encoding="utf-8-sig"
        )  # utf-8-sig: Excel's "CSV UTF-8" starts with a BOM
    except OSError as exc:
        raise ValueError(f"cannot read prompt file {path}: {exc.strerror}") from None
    with fh:
        try:
            yield from _dict_rows(fh, path, columns)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start}): "
                "save it as CSV UTF-8"
            ) from None


DELIMITERS = (
    ",;\t"  # commas; semicolons, as Excel writes CSV where the decimal mark is a comma; tabs
)
DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d*")


def _delimiter(fh) -> str:
    """The delimiter of a CSV file: the one of :data:`DELIMITERS` its header line holds most often."""
    header = fh.readline()
    fh.seek(0)
    return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def _dict_rows(fh, path: Path, columns: tuple[str, ...]):
    delimiter = _delimiter(fh)
    reader = csv.DictReader(fh, delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(
            f"{path}: the header must contain {', '.join(columns)} (separated by commas, semicolons "
            f"or tabs); missing {', '.join(missing)}"
        )
    for n, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if delimiter != ",":  # such files write decimal commas: 12,5 is 12.5
            row = {
                k: v.replace(",", ".") if DECIMAL_COMMA.fullmatch(v) else v for k, v in row.items()
            }
        yield n, row


def read_prompts(points_csv=None, boxes_csv=None, file_name: str | None = None) -> Prompts:
    """Read ``object_id,frame,y,x,label`` clicks and ``object_id,frame,y0,x0,y1,x1`` boxes.

    An optional ``file`` column restricts a row to the input file whose name matches it
    (a glob pattern), so one CSV can hold the prompts of many files.
    """
    prompts = Prompts()
    for path, columns in ((points_csv, POINT_COLUMNS), (boxes_csv, BOX_COLUMNS)):
        if path is None:
            continue
        prompts.files.append(Path(path))
        for n, row in _rows(Path(path), columns):
            if (
                file_name is not None
                and row.get("file")
                and not fnmatch.fnmatch(file_name, row["file"])
            ):
                continue
            try:
                obj, frame = int(row["object_id"]), int(row["frame"])
                if columns is POINT_COLUMNS:
                    label = int(row["label"])
                    if label not in (0, 1):
                        raise ValueError
                    prompts.points.setdefault((obj, frame), []).append(
                        (float(row["x"]), float(row["y"]), label)
                    )
                else:
                    y0, x0, y1, x1 = (float(row[c]) for c in ("y0", "x0", "y1", "x1"))
                    prompts.boxes[(obj, frame)] = (x0, y0, x1, y1)
            except ValueError:
                raise ValueError(
                    f"{path}, line {n}: cannot read {row} "
                    f"(object_id and frame are integers, label is 0 or 1)"
                ) from None
            if obj <= 0:
                raise ValueError(
                    f"{path}, line {n}: object_id must be a positive integer (0 is background)"
                )
    return prompts


def apply_prompts(session, prompts: Prompts, masked=frozenset()) -> None:
    """Put every prompt into a :class:`~napari_sam2.engine.session.TrackingSession` (errors name the prompt).

    ``masked``: the (object, frame) pairs that already have a mask prompt (:func:`apply_label_prompts`);
    clicks there correct the mask instead of replacing it.
    """
    keys = sorted(set(prompts.points) | set(prompts.boxes))
    for obj, frame in keys:
        pts = prompts.points.get((obj, frame))
        box = prompts.boxes.get((obj, frame))
        try:
            session.add_points(
                frame,
                obj,
                None if pts is None else [p[:2] for p in pts],
                None if pts is None else [p[2] for p in pts],
                box,
                clear=(obj, frame) not in masked,
            )
        except (ValueError, IndexError) as exc:
            raise ValueError(f"prompt for object {obj} on frame {frame}: {exc}") from None


def read_masks(
    masks, num_frames: int, frame_shape, frame: int | None = None, ctc: bool = False
) -> dict:
    """Mask prompts ``{frame: (H, W) label image}`` from a label image path or array
    (:func:`~napari_sam2.io.label_prompts.read_label_prompts`) or a dict of that form, checked
    against the movie and the outputs: ids must fit uint16 with ``ctc`` (CTC masks), else uint32."""
    from ..io import label_prompts as lp

    max_id, holds = largest_id(ctc)
    if not isinstance(masks, dict):
        return lp.read_label_prompts(masks, num_frames, frame_shape, frame, max_id, holds)
    if frame is not None:
        raise ValueError(
            "a frame number applies only to a single label image, not to {frame: labels}"
        )
    checked = {}
    for f, image in sorted(masks.items()):
        if not 0 <= int(f) < num_frames:
            raise ValueError(f"label image for frame {f}: outside the movie's {num_frames} frames")
        checked[int(f)] = lp.check_label_image(
            image, frame_shape, f"the label image for frame {f}", max_id, holds
        )
    if not checked:
        raise ValueError("no objects in the label images: none was given")
    return checked


def largest_id(ctc: bool) -> tuple[int, str]:
    """The largest object id the outputs can hold, and the output that sets it (for messages)."""
    from ..io import label_prompts as lp

    if ctc:
        return lp.CTC_MAX_ID, "--ctc (CTC masks are uint16)"
    return lp.LABEL_FILE_MAX_ID, "the labels file (uint32)"


def check_prompt_ids(prompts: Prompts, masks: dict, ctc: bool = False) -> None:
    """Refuse, before any compute, click ids the outputs cannot hold, an object's clicks on a frame that
    are all negative with no box or mask there, and a box given beside a mask for the same object and
    frame (a box must be an object's first prompt on a frame)."""
    max_id, holds = largest_id(ctc)
    big = [obj for obj, _ in (*prompts.points, *prompts.boxes) if obj > max_id]
    if big:
        raise ValueError(
            f"object_id {max(big)} does not fit {holds}: the largest id allowed is {max_id}"
        )
    for (obj, frame), points in sorted(prompts.points.items()):
        masked = frame in masks and (masks[frame] == obj).any()
        if not masked and (obj, frame) not in prompts.boxes and not any(p[2] == 1 for p in points):
            raise ValueError(
                f"object {obj} on frame {frame} has only negative clicks (label 0): an object needs "
                "a positive click (label 1), a box or a mask on a frame; negative clicks take "
                "area away from those"
            )
    for obj, frame in sorted(prompts.boxes):
        if frame in masks and (masks[frame] == obj).any():
            raise ValueError(
                f"object {obj} on frame {frame} has both a mask (--masks) and a box: give one "
                "(clicks may correct a mask, a box may not)"
            )


def apply_label_prompts(session, masks: dict) -> set[tuple[int, int]]:
    """Every object of every label image as a mask prompt (``session.add_labels``); returns the
    (object, frame) pairs prompted."""
    done = set()
    for frame, image in sorted(masks.items()):
        try:
            ids = session.add_labels(frame, image)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"mask prompts on frame {frame}: {exc}") from None
        done.update((oid, frame) for oid in ids)
    return done
