"""Export tracked label time-lapses: TIFF, zarr, object tables (CSV), napari tracks, Cell Tracking
Challenge (CTC) folders (session files: :mod:`napari_sam2.io.session_files`). No napari or Qt imports.

Conventions: ``labels`` is an integer array (T, Y, X) (a single (Y, X) frame counts as T=1), or a
:class:`LabelStack` made one frame at a time (then no writer holds more than a frame of it); 0 is
background and every id > 0 is one tracked object. Points are (y, x); ``t`` is the frame index.
Every writer is atomic: it writes a hidden temporary file or folder next to the target and renames
it into place, and refuses to replace an existing output unless ``overwrite=True`` (the
FileExistsError carries the path as ``filename``, so a command line can word its own advice).
:class:`LabelWriter` streams frames into a visible ``.partial`` file instead, renamed into place at
the end: a long run that stops early keeps every frame it finished there.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import tifffile
from skimage.measure import regionprops

# the label-stack classes and safe-output helpers have their own modules; exports is where a caller
# writing results looks for them, so their names are importable from here too
from .atomic import OutputExistsError, atomic_output, exists_error  # noqa: F401
from .label_files import LabelStack, LabelWriter, imagej_ok  # noqa: F401
from .session_files import read_session_json, write_session_json  # noqa: F401  (once defined here)

TABLE_COLUMNS = (
    "object_id",
    "frame",
    "area",
    "centroid_y",
    "centroid_x",
    "bbox_y0",
    "bbox_x0",
    "bbox_y1",
    "bbox_x1",
    "object_score",
    "predicted_iou",
    "lost",
    "suspect",
    "parent_id",
)
# the table of many movies: each movie's rows, with the movie they come from first
MOVIES_TABLE_COLUMNS = ("movie", *TABLE_COLUMNS)
# a run's summary, one row per movie: object-frames lost, and suspect but not lost (as the command line's
# summary line counts them), the seconds tracking took
SUMMARY_COLUMNS = (
    "movie",
    "objects",
    "frames",
    "object_frames",
    "lost",
    "suspect",
    "seconds",
    "labels",
)


def _check_labels(labels) -> np.ndarray | LabelStack:
    """Validate ``labels`` and return it as a non-negative integer array of ndim 2 or 3 (or the
    :class:`LabelStack` it is, which validates each frame as it is read)."""
    if isinstance(labels, LabelStack):
        return labels
    arr = np.asarray(labels)
    if arr.ndim not in (2, 3):
        raise ValueError(f"labels must have shape (T, Y, X) or (Y, X), got ndim={arr.ndim}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must have an integer dtype, got {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"labels must not be empty, got shape {arr.shape}")
    if arr.min() < 0:
        raise ValueError("labels must not contain negative values")
    if int(arr.max()) >= 2**32:
        raise ValueError(f"labels: max id {int(arr.max())} does not fit uint32")
    return arr


def _as_tyx(arr: np.ndarray) -> np.ndarray:
    return arr[None] if arr.ndim == 2 else arr


def _label_dtype(arr: np.ndarray | LabelStack) -> type:
    if isinstance(arr, LabelStack):
        return arr.dtype.type
    return np.uint16 if int(arr.max()) < 65536 else np.uint32


def _check_parents(parents) -> dict[int, int]:
    if parents is None:
        return {}
    if not isinstance(parents, dict):
        raise ValueError(
            f"parents must be a dict {{object_id: parent_id}}, got {type(parents).__name__}"
        )
    try:
        out = {int(k): int(v) for k, v in parents.items() if v is not None and int(v) != 0}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"parents must map integer ids to integer ids: {exc}") from None
    if any(k == v for k, v in out.items()):
        raise ValueError("parents: an object cannot be its own parent")
    return out


def _opt(convert, value):
    return None if value is None else convert(value)


def _measure(tyx: np.ndarray) -> dict[tuple[int, int], tuple]:
    """Per (object_id, frame): (area, centroid_y, centroid_x, (y0, x0, y1, x1)) in pixels."""
    out = {}
    for t, frame in enumerate(tyx):
        for region in regionprops(frame):
            cy, cx = region.centroid
            out[(int(region.label), t)] = (
                int(region.area),
                float(cy),
                float(cx),
                tuple(int(v) for v in region.bbox),
            )
    return out


def write_labels_tiff(path, labels, overwrite: bool = False) -> Path:
    """Write labels (T, Y, X) or (Y, X) as an ImageJ hyperstack TIFF with axes 'TYX' or 'YX'.

    The dtype is uint16 when the largest id is < 65536. Otherwise it is uint32, which ImageJ does
    not support: then a plain (non-ImageJ) TIFF with tifffile's shaped metadata is written instead,
    as it is for a stack of one frame (which an ImageJ TIFF would give back as (Y, X)).
    """
    arr = _check_labels(labels)
    dtype = _label_dtype(arr)
    axes = "TYX" if arr.ndim == 3 else "YX"
    imagej = imagej_ok(arr.shape, dtype)
    with atomic_output(path, overwrite) as tmp:
        if isinstance(arr, LabelStack):  # page by page
            tifffile.imwrite(
                tmp, iter(arr), shape=arr.shape, dtype=dtype, imagej=imagej, metadata={"axes": axes}
            )
        else:
            tifffile.imwrite(
                tmp, arr.astype(dtype, copy=False), imagej=imagej, metadata={"axes": axes}
            )
    return Path(path)


def write_labels_zarr(path, labels, overwrite: bool = False, chunks=None) -> Path:
    """Write labels (T, Y, X) or (Y, X) as a zarr array in the directory ``path`` (name ends in .zarr).

    Default chunks are one full frame (1, Y, X); attributes are ``{"axes": "TYX"}`` (or "YX" for 2D
    input). The dtype follows :func:`write_labels_tiff` (uint16, or uint32 for ids >= 65536).
    """
    import zarr

    if not str(path).rstrip("/\\").endswith(".zarr"):
        raise ValueError(f"path must be a directory name ending in .zarr, got {str(path)!r}")
    arr = _check_labels(labels)
    if chunks is None:
        chunks = (1,) * (arr.ndim - 2) + arr.shape[-2:]
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != arr.ndim or min(chunks) < 1:
        raise ValueError(f"chunks must be {arr.ndim} positive integers, got {chunks}")
    with atomic_output(path, overwrite, folder=True) as tmp:
        z = zarr.open_array(
            store=str(tmp), mode="w", shape=arr.shape, chunks=chunks, dtype=_label_dtype(arr)
        )
        if isinstance(arr, LabelStack):  # frame by frame
            for t, frame in enumerate(arr):
                z[t] = frame
        else:
            z[...] = arr.astype(z.dtype, copy=False)
        z.attrs["axes"] = "TYX" if arr.ndim == 3 else "YX"
    return Path(path)


def object_table(labels, records=None, parents=None, spacing=None) -> list[dict]:
    """One row per (object, frame) where the object has pixels or a tracking record.

    ``labels`` is (T, Y, X) or (Y, X); ``records`` are dicts with object_id, frame, object_score,
    predicted_iou (the model's own estimate, not a measured IoU), lost, suspect (the reasons a mask
    is probably wrong, joined by ";", as ``TrackingSession.records`` gives them). Columns are
    :data:`TABLE_COLUMNS`; bbox is half-open [y0, y1) x [x0, x1) in pixel indices, area is in pixels.
    ``lost`` is True where the record says so, and also where an object has a record but no pixel
    in ``labels`` (its mask is empty, or wholly hidden under another object, which wins every pixel
    it claims with a higher logit): a row never shows a tracked object as present with no area.
    Where there is no record, ``lost`` and ``suspect`` are None; a record without a suspect entry
    gives "". With ``spacing=(dy, dx)`` centroids are multiplied by (dy, dx) and
    area by dy*dx (bbox stays in pixels). Missing values (no pixels, no record, no parent) are None.
    Rows are sorted by object_id, then frame.
    """
    tyx = _as_tyx(_check_labels(labels))
    parent_of = _check_parents(parents)
    dy, dx = 1.0, 1.0
    if spacing is not None:
        if len(spacing) != 2 or min(float(s) for s in spacing) <= 0:
            raise ValueError(f"spacing must be two positive numbers (dy, dx), got {spacing!r}")
        dy, dx = float(spacing[0]), float(spacing[1])
    by_key = {}
    for rec in records or []:
        if not isinstance(rec, dict) or "object_id" not in rec or "frame" not in rec:
            raise ValueError(
                f"records: each entry must be a dict with 'object_id' and 'frame', got {rec!r}"
            )
        by_key[(int(rec["object_id"]), int(rec["frame"]))] = rec
    props = _measure(tyx)
    rows = []
    for oid, t in sorted(set(props) | set(by_key)):
        area, cy, cx, bbox = props.get((oid, t), (None, None, None, (None,) * 4))
        if area is not None and spacing is not None:
            area, cy, cx = area * dy * dx, cy * dy, cx * dx
        rec = by_key.get((oid, t))
        lost = None if rec is None else bool(rec.get("lost")) or area is None
        suspect = None if rec is None else str(rec.get("suspect") or "")
        rec = rec or {}
        values = (
            oid,
            t,
            area,
            cy,
            cx,
            *bbox,
            _opt(float, rec.get("object_score")),
            _opt(float, rec.get("predicted_iou")),
            lost,
            suspect,
            parent_of.get(oid),
        )
        rows.append(dict(zip(TABLE_COLUMNS, values)))
    return rows


def write_table_csv(path, rows, overwrite: bool = False, columns=TABLE_COLUMNS) -> Path:
    """Write rows from :func:`object_table` as CSV with header ``columns`` (:data:`TABLE_COLUMNS`, or
    :data:`MOVIES_TABLE_COLUMNS` for the table of many movies, :data:`SUMMARY_COLUMNS` for a run's summary);
    None is empty."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("rows must be a list of dicts (as returned by object_table)")
    extra = {key for r in rows for key in r} - set(columns)
    if extra:
        raise ValueError(f"rows: unknown columns {sorted(extra)}")
    with atomic_output(path, overwrite) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


def tracks_data(labels, parents=None) -> tuple[np.ndarray, dict]:
    """napari Tracks data from labels (T, Y, X): float array (N, 4) of (track_id, t, y, x) centroids.

    Rows are sorted by track_id then t; graph is {child_id: [parent_id]} for children whose parent
    also appears in ``labels``.
    """
    tyx = _as_tyx(_check_labels(labels))
    parent_of = _check_parents(parents)
    props = _measure(tyx)
    data = np.array(
        [(oid, t, p[1], p[2]) for (oid, t), p in sorted(props.items())], dtype=float
    ).reshape(-1, 4)
    present = {oid for oid, _ in props}
    graph = {c: [p] for c, p in sorted(parent_of.items()) if c in present and p in present}
    return data, graph


def _ctc_segments(
    tyx: np.ndarray, parent_of: dict[int, int]
) -> tuple[list[tuple[int, int, int, int]], dict]:
    """Split objects into time-continuous tracks.

    Returns ([(label, begin, end, parent)] sorted by label, {frame: {object_id: new_label}}).
    """
    frames: dict[int, list[int]] = {}
    for t, frame in enumerate(tyx):
        for oid in np.unique(frame[frame > 0]):
            frames.setdefault(int(oid), []).append(t)
    next_id = max(frames, default=0) + 1
    runs: dict[int, list[list[int]]] = {}  # object_id -> [[label, begin, end], ...] in time order
    for oid in sorted(frames):
        runs[oid] = []
        for t in frames[oid]:
            if runs[oid] and runs[oid][-1][2] == t - 1:
                runs[oid][-1][2] = t
            elif not runs[oid]:
                runs[oid].append([oid, t, t])
            else:
                runs[oid].append([next_id, t, t])
                next_id += 1
    tracks, relabel = [], {}
    for oid, obj_runs in runs.items():
        for i, (label, begin, end) in enumerate(obj_runs):
            parent = 0
            if i > 0:
                parent = obj_runs[i - 1][0]
            elif parent_of.get(oid) in runs:
                parent_runs = runs[parent_of[oid]]
                parent = ([r for r in parent_runs if r[1] < begin] or parent_runs[:1])[-1][0]
            tracks.append((label, begin, end, parent))
            if label != oid:
                for t in range(begin, end + 1):
                    relabel.setdefault(t, {})[oid] = label
    return sorted(tracks), relabel


def write_ctc(folder, labels, parents=None, overwrite: bool = False) -> Path:
    """Write labels (T, Y, X) or (Y, X) in the Cell Tracking Challenge result format.

    The folder gets uint16 masks ``mask000.tif``... (4 digits when T > 1000) and ``res_track.txt``
    with one ``L B E P`` line per track (label, first frame, last frame, parent label or 0).
    CTC tracks must be continuous in time, so an object that vanishes and reappears is split: each
    later run of frames gets a fresh label (max id + 1, + 2, ... in order of object id, then time)
    whose parent is the previous run. A child's parent becomes the last parent run that begins
    before the child does (else the parent's first run); parents absent from ``labels`` become 0.
    """
    with atomic_output(folder, overwrite, folder=True) as tmp:
        write_ctc_files(tmp, labels, parents, "mask", "res_track.txt")
    return Path(folder)


def write_ctc_files(folder: Path, labels, parents, mask_prefix: str, track_name: str) -> None:
    """Make ``folder`` and write the CTC masks (``<mask_prefix>000.tif``...) and track file into it, as
    :func:`write_ctc` describes (a result folder, or a ground truth's TRA folder with other names)."""
    tyx = _as_tyx(_check_labels(labels))
    tracks, relabel = _ctc_segments(tyx, _check_parents(parents))
    if tracks and max(tr[0] for tr in tracks) >= 65536:
        raise ValueError("labels: too many track labels after splitting gaps for uint16 CTC masks")
    digits = max(3, len(str(len(tyx) - 1)))
    folder.mkdir()
    for t, frame in enumerate(tyx):
        mask = frame.astype(np.uint16)
        for oid, label in relabel.get(t, {}).items():
            mask[frame == oid] = label
        tifffile.imwrite(folder / f"{mask_prefix}{t:0{digits}d}.tif", mask)
    (folder / track_name).write_text("".join(f"{lb} {b} {e} {p}\n" for lb, b, e, p in tracks))


def read_ctc(folder) -> tuple[np.ndarray, dict]:
    """Read a CTC result folder into (labels (T, Y, X) uint16, parents {label: parent} without 0s)."""
    return read_ctc_layout(folder, "mask", "res_track.txt")


def read_ctc_layout(folder, mask_prefix: str, track_name: str) -> tuple[np.ndarray, dict]:
    """Read ``<mask_prefix>NNN.tif`` masks and a ``L B E P`` track file from ``folder``
    (result folders: ``mask`` / ``res_track.txt``; ground truth: ``man_track`` / ``man_track.txt``)."""
    folder = Path(folder)
    pattern = re.compile(re.escape(mask_prefix) + r"(\d+)\.tif")
    masks = {
        int(m.group(1)): p
        for p in folder.glob(f"{mask_prefix}*.tif")
        if (m := pattern.fullmatch(p.name))
    }
    if not masks:
        raise ValueError(f"folder {folder} contains no {mask_prefix}*.tif files")
    if sorted(masks) != list(range(len(masks))):
        raise ValueError(
            f"folder {folder}: {mask_prefix} frame numbers are not 0..{len(masks) - 1}"
        )
    frames = [tifffile.imread(masks[t]) for t in range(len(masks))]
    if len({f.shape for f in frames}) != 1 or frames[0].ndim != 2:
        raise ValueError(f"folder {folder}: masks must all be 2D images of the same shape")
    track_file = folder / track_name
    if not track_file.is_file():
        raise ValueError(f"folder {folder} has no {track_name}")
    parents = _read_track_file(track_file)
    return np.stack(frames).astype(np.uint16, copy=False), parents


def _read_track_file(path: Path) -> dict[int, int]:
    """``{label: parent}`` (no 0s) of an ``L B E P`` file; a ValueError names the line that is not
    four integers, or a parent that is not itself a track of the file."""
    tracks, parents = set(), {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not all(f.isdigit() for f in fields):
            raise ValueError(f"{path} line {n}: expected 'L B E P' integers, got {line!r}")
        tracks.add(int(fields[0]))
        if int(fields[3]) != 0:
            parents[int(fields[0])] = int(fields[3])
    for label, parent in sorted(parents.items()):
        if parent not in tracks:
            raise ValueError(
                f"{path}: track {label} has parent {parent}, which is not a track in the file"
            )
    return parents
