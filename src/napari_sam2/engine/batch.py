"""Script-level tracking: prompts from CSV files, one stack or many files, results written to disk.

Used by ``napari-sam2 track`` and usable from scripts and workflow managers.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path


POINT_COLUMNS = ("object_id", "frame", "y", "x", "label")
BOX_COLUMNS = ("object_id", "frame", "y0", "x0", "y1", "x1")


@dataclass
class Prompts:
    """Clicks and boxes per (object, frame), in (x, y) pixel order as the model takes them."""

    points: dict[tuple[int, int], list[tuple[float, float, int]]] = field(default_factory=dict)
    boxes: dict[tuple[int, int], tuple[float, float, float, float]] = field(default_factory=dict)

    def frames(self) -> list[int]:
        return sorted({f for _, f in [*self.points, *self.boxes]})

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes)


def _rows(path: Path, columns: tuple[str, ...]):
    try:
        fh = open(path, newline="")
    except OSError as exc:
        raise ValueError(f"cannot read prompt file {path}: {exc.strerror}") from None
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise ValueError(f"{path}: the header must contain {', '.join(columns)}; missing {', '.join(missing)}")
        for n, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
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
        for n, row in _rows(Path(path), columns):
            if file_name is not None and row.get("file") and not fnmatch.fnmatch(file_name, row["file"]):
                continue
            try:
                obj, frame = int(row["object_id"]), int(row["frame"])
                if columns is POINT_COLUMNS:
                    label = int(row["label"])
                    if label not in (0, 1):
                        raise ValueError
                    prompts.points.setdefault((obj, frame), []).append((float(row["x"]), float(row["y"]), label))
                else:
                    y0, x0, y1, x1 = (float(row[c]) for c in ("y0", "x0", "y1", "x1"))
                    prompts.boxes[(obj, frame)] = (x0, y0, x1, y1)
            except ValueError:
                raise ValueError(f"{path}, line {n}: cannot read {row} "
                                 f"(object_id and frame are integers, label is 0 or 1)") from None
            if obj <= 0:
                raise ValueError(f"{path}, line {n}: object_id must be a positive integer (0 is background)")
    return prompts


def apply_prompts(session, prompts: Prompts) -> None:
    """Put every prompt into a :class:`~napari_sam2.engine.session.TrackingSession` (errors name the prompt)."""
    keys = sorted(set(prompts.points) | set(prompts.boxes))
    for obj, frame in keys:
        pts = prompts.points.get((obj, frame))
        box = prompts.boxes.get((obj, frame))
        try:
            session.add_points(frame, obj, None if pts is None else [p[:2] for p in pts],
                               None if pts is None else [p[2] for p in pts], box, clear=True)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"prompt for object {obj} on frame {frame}: {exc}") from None


def write_outputs(session, out: Path, table: Path | None = None, ctc: Path | None = None,
                  session_json: Path | None = None, overwrite: bool = False, geff: Path | None = None) -> list[Path]:
    """Write the label stack (.tif/.tiff or .zarr) and the optional table, CTC folder, GEFF lineage
    and session file."""
    from . import exports

    suffix = out.suffix.lower()
    if suffix not in (".tif", ".tiff", ".zarr"):
        raise ValueError(f"--out must end in .tif, .tiff or .zarr, got {out}")
    for target in (out, table, ctc, session_json, geff):
        if target is not None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
    # the label stack is made and written a frame at a time; the other outputs read it back the same
    # way, so memory does not grow with the number of frames
    stack = session.label_stack()
    write = exports.write_labels_zarr if suffix == ".zarr" else exports.write_labels_tiff
    written = [write(out, stack, overwrite=overwrite)]
    labels = exports.LabelStack.from_file(out)
    if table is not None:
        rows = exports.object_table(labels, session.records(), session.parents)
        written.append(exports.write_table_csv(table, rows, overwrite=overwrite))
    if ctc is not None:
        written.append(exports.write_ctc(ctc, labels, parents=session.parents, overwrite=overwrite))
    if geff is not None:
        from .lineage_io import write_geff

        written.append(write_geff(geff, labels, session.parents, overwrite=overwrite))
    if session_json is not None:
        written.append(exports.write_session_json(session_json, session.prompts_dict(), overwrite=overwrite))
    return written


def pick_device(name: str = "auto") -> str:
    """"auto" -> cuda, then mps, then cpu; other names are checked."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but it is not available")
    return name


def track_file(source, prompts: Prompts, out, *, model: str = "sam2.1_hiera_tiny", checkpoint=None,
               image_size: int | None = None, axis: str = "t", direction: str = "forward", device: str = "auto",
               table=None, ctc=None, session_json=None, geff=None, overwrite: bool = False, progress=None,
               time_point: int | None = None, z: int | None = None, channel: int | None = None,
               precision: str = "fp32", memory_frames: int | None = None) -> dict:
    """Track one stack from ``prompts`` and write the results. Returns a small summary dict.

    source: a TIFF path or an array-like; axis "t" (time-lapse) or "z" (volume; use
    direction "both" to go both ways from the prompted slices). precision and memory_frames:
    the fast modes of :class:`~napari_sam2.engine.session.TrackingSession`.
    """
    from ..predictor.frames import open_frames
    from .session import TrackingSession
    from .stack import stack_view

    if not prompts:
        raise ValueError("no prompts: give --points and/or --boxes with at least one row for this input")
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists already (use --overwrite to replace it)")
    data = open_frames(source)
    if len(data.shape) < 3:
        raise ValueError(f"{source} is a single image of shape {tuple(data.shape)}: tracking needs a stack")
    view = stack_view(data, axis=axis, time_point=time_point, z=z, channel=channel)
    session = TrackingSession.from_name(view, name=model, checkpoint=checkpoint, device=pick_device(device),
                                        image_size=image_size, precision=precision, memory_frames=memory_frames)
    apply_prompts(session, prompts)
    report = session.propagate(direction, progress=progress)
    written = write_outputs(session, out, table and Path(table), ctc and Path(ctc),
                            session_json and Path(session_json), overwrite, geff and Path(geff))
    lost = sum(r["lost"] for r in session.records())
    return {"input": str(source), "frames": len(report.frames), "objects": len(session.obj_ids),
            "lost_frames": int(lost), "seconds": round(report.elapsed, 2), "written": [str(p) for p in written]}


def expand_inputs(pattern: str) -> list[Path]:
    """Files matching a glob pattern such as ``data/*.tif`` (sorted); an error when none match."""
    import glob

    files = sorted(Path(p) for p in glob.glob(pattern))
    if not files:
        raise ValueError(f"no files match {pattern!r}")
    return files


def track_many(pattern: str, points_csv, boxes_csv, out_dir, scheduler: str | None = None, **options) -> list[dict]:
    """Track every file matching ``pattern`` into ``out_dir/<name>_labels.tif``.

    Prompts come from the shared CSVs (rows with a ``file`` column apply to matching files)
    or from ``<name>.points.csv`` / ``<name>.boxes.csv`` next to each file. With a dask
    ``scheduler`` address the files are tracked on that cluster, else one after another here.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for f in expand_inputs(pattern):
        pts = points_csv or (f.with_suffix(".points.csv") if f.with_suffix(".points.csv").exists() else None)
        bxs = boxes_csv or (f.with_suffix(".boxes.csv") if f.with_suffix(".boxes.csv").exists() else None)
        prompts = read_prompts(pts, bxs, file_name=f.name)
        jobs.append((f, prompts, out_dir / f"{f.stem}_labels.tif"))
    if scheduler is None:
        return [track_file(f, p, o, **options) for f, p, o in jobs]
    from distributed import Client

    with Client(scheduler) as client:
        futures = [client.submit(track_file, f, p, o, pure=False, **options) for f, p, o in jobs]
        return client.gather(futures)
