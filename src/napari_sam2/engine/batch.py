"""Script-level tracking: prompts from CSV files, one stack or many files, results written to disk.

Used by ``napari-sam2 track`` and usable from scripts and workflow managers.
"""

from __future__ import annotations

import csv
import fnmatch
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path


POINT_COLUMNS = ("object_id", "frame", "y", "x", "label")
BOX_COLUMNS = ("object_id", "frame", "y0", "x0", "y1", "x1")


@dataclass
class Prompts:
    """Clicks and boxes per (object, frame), in (x, y) pixel order as the model takes them."""

    points: dict[tuple[int, int], list[tuple[float, float, int]]] = field(default_factory=dict)
    boxes: dict[tuple[int, int], tuple[float, float, float, float]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # the CSV files they were read from (inputs of a run)

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes)


def _rows(path: Path, columns: tuple[str, ...]):
    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # utf-8-sig: Excel's "CSV UTF-8" starts with a BOM
    except OSError as exc:
        raise ValueError(f"cannot read prompt file {path}: {exc.strerror}") from None
    with fh:
        try:
            yield from _dict_rows(fh, path, columns)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start}): "
                             "save it as CSV UTF-8") from None


DELIMITERS = ",;\t"  # commas; semicolons, as Excel writes CSV where the decimal mark is a comma; tabs
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
        raise ValueError(f"{path}: the header must contain {', '.join(columns)} (separated by commas, semicolons "
                         f"or tabs); missing {', '.join(missing)}")
    for n, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if delimiter != ",":  # such files write decimal commas: 12,5 is 12.5
            row = {k: v.replace(",", ".") if DECIMAL_COMMA.fullmatch(v) else v for k, v in row.items()}
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
            session.add_points(frame, obj, None if pts is None else [p[:2] for p in pts],
                               None if pts is None else [p[2] for p in pts], box, clear=(obj, frame) not in masked)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"prompt for object {obj} on frame {frame}: {exc}") from None


def read_masks(masks, num_frames: int, frame_shape, frame: int | None = None, ctc: bool = False
               ) -> dict:
    """Mask prompts ``{frame: (H, W) label image}`` from a label image path or array
    (:func:`~napari_sam2.io.label_prompts.read_label_prompts`) or a dict of that form, checked
    against the movie and the outputs: ids must fit uint16 with ``ctc`` (CTC masks), else uint32."""
    from ..io import label_prompts as lp

    max_id, holds = largest_id(ctc)
    if not isinstance(masks, dict):
        return lp.read_label_prompts(masks, num_frames, frame_shape, frame, max_id, holds)
    if frame is not None:
        raise ValueError("a frame number applies only to a single label image, not to {frame: labels}")
    checked = {}
    for f, image in sorted(masks.items()):
        if not 0 <= int(f) < num_frames:
            raise ValueError(f"label image for frame {f}: outside the movie's {num_frames} frames")
        checked[int(f)] = lp.check_label_image(image, frame_shape, f"the label image for frame {f}", max_id, holds)
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
        raise ValueError(f"object_id {max(big)} does not fit {holds}: the largest id allowed is {max_id}")
    for (obj, frame), points in sorted(prompts.points.items()):
        masked = frame in masks and (masks[frame] == obj).any()
        if not masked and (obj, frame) not in prompts.boxes and not any(p[2] == 1 for p in points):
            raise ValueError(f"object {obj} on frame {frame} has only negative clicks (label 0): an object needs "
                             "a positive click (label 1), a box or a mask on a frame; negative clicks take "
                             "area away from those")
    for obj, frame in sorted(prompts.boxes):
        if frame in masks and (masks[frame] == obj).any():
            raise ValueError(f"object {obj} on frame {frame} has both a mask (--masks) and a box: give one "
                             "(clicks may correct a mask, a box may not)")


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


OUT_SUFFIXES = (".tif", ".tiff", ".zarr")
# the command line's name of each output, for messages
OUTPUT_FLAGS = {"out": "--out", "session_json": "--session", "table": "--table", "ctc": "--ctc", "geff": "--geff",
                "trackmate": "--trackmate"}
# what each file output must end in (the CTC result is a folder of any name)
SUFFIXES = {"out": OUT_SUFFIXES, "session_json": (".json",), "table": (".csv",), "geff": (".zarr",),
            "trackmate": (".xml",)}
WHY = {"out": "a label stack", "session_json": "a JSON file", "table": "a CSV file",
       "geff": "a zarr store", "trackmate": "TrackMate opens XML files"}


def _is_folder(key: str, path: Path) -> bool:
    """Whether the output ``key`` at ``path`` is written as a folder (zarr stores, the CTC folder)."""
    return key in ("ctc", "geff") or path.suffix.lower() == ".zarr"


def check_outputs(out, table=None, ctc=None, session_json=None, geff=None, overwrite: bool = False,
                  inputs=(), trackmate=None) -> dict[str, Path | None]:
    """Check every output of a tracking run before any compute starts.

    Each output must end in its own suffix (:data:`SUFFIXES`: the labels in .tif, .tiff or .zarr,
    the table in .csv, the session in .json, GEFF in .zarr, TrackMate in .xml); no two outputs may
    be the same path or lie one inside the other; and each follows
    :func:`~napari_sam2.io.atomic.check_output`: never one of the ``inputs`` (the movie, prompt
    files, label images), inside one or holding one; never a folder where a file is written or the
    reverse; never a folder holding files napari-sam2 did not write; an existing output only with
    ``overwrite`` (a FileExistsError whose ``filename`` is the path). The labels' partial file
    (:func:`~napari_sam2.io.label_files.partial_path`) is checked as an output too. Returns
    ``{name: Path or None}`` with the names of :data:`OUTPUT_FLAGS`.
    """
    from ..io.atomic import check_output, inside, one_of, same_path
    from ..io.label_files import partial_path

    paths = {"out": Path(out), "session_json": session_json, "table": table, "ctc": ctc, "geff": geff,
             "trackmate": trackmate}
    paths = {k: None if p is None else Path(p) for k, p in paths.items()}
    given = {k: p for k, p in paths.items() if p is not None}
    for k, p in given.items():
        if k in SUFFIXES and p.suffix.lower() not in SUFFIXES[k]:
            raise ValueError(f"{OUTPUT_FLAGS[k]} must end in {one_of(SUFFIXES[k])} ({WHY[k]}), got {p}")
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if same_path(given[a], given[b]):
                raise ValueError(f"{OUTPUT_FLAGS[a]} and {OUTPUT_FLAGS[b]} are the same path ({given[a]}): "
                                 "give each output its own name")
            if inside(given[a], given[b]) or inside(given[b], given[a]):
                raise ValueError(f"{OUTPUT_FLAGS[a]} {given[a]} and {OUTPUT_FLAGS[b]} {given[b]}: one lies inside "
                                 "the other, and writing one would replace the other")
    inputs = [Path(p) for p in inputs if p is not None]
    for k, p in given.items():
        check_output(p, folder=_is_folder(k, p), overwrite=overwrite, inputs=inputs,
                     name=f"{OUTPUT_FLAGS[k]} {p}")
    partial = partial_path(given["out"])
    check_output(partial, folder=_is_folder("out", partial), overwrite=overwrite, inputs=inputs,
                 name=f"{partial} (where --out is written while tracking)")
    return paths


def track_file(source, prompts: Prompts, out, *, model: str = "sam2.1_hiera_tiny", checkpoint=None,
               image_size: int | None = None, axis: str = "t", direction: str = "forward", device: str = "auto",
               table=None, ctc=None, session_json=None, geff=None, trackmate=None, overwrite: bool = False,
               progress=None,
               time_point: int | None = None, z: int | None = None, channel: int | str | None = None,
               precision: str = "fp32", memory_frames: int | None = None, masks=None,
               masks_frame: int | None = None, max_batch: int = 16, auto=None, auto_frame: int | None = 0,
               auto_new: int | None = None, exclusive: bool = False, window: int | None = None) -> dict:
    """Track one stack from ``prompts`` and/or ``masks`` and write the results. Returns a summary dict.

    source: a TIFF path or an array-like; axis "t" (time-lapse) or "z" (volume; use
    direction "both" to go both ways from the prompted slices); channel: passed to
    :func:`~napari_sam2.engine.stack.stack_view` as given. precision and memory_frames: the
    fast modes of :class:`~napari_sam2.engine.session.TrackingSession`; max_batch: its bound on the
    objects that go through the model at once (memory; results agree to float rounding); exclusive: each
    pixel belongs to at most one object (the session's option of that name); window: window mode, each
    object tracked in a window of this many px at native scale (the model runs at that input size).

    masks: a label image whose values are object ids, as mask prompts (:func:`read_masks`): a path
    (.tif/.tiff, .npy, .zarr) or an array, ``(Y, X)`` for frame ``masks_frame`` (default 0) or
    ``(T, Y, X)`` with the movie's frames (every frame with labels is prompted), or a dict
    ``{frame: (Y, X) labels}``. It is read and checked against the movie and the outputs (ids must
    fit the labels file, or uint16 with ``ctc``) before the model is built. Clicks in ``prompts`` for
    an object that has a mask on the same frame correct that mask; a box there is refused.

    auto: :class:`~napari_sam2.engine.auto.AutoSettings` for the automatic mask generator. With it,
    every object it finds on ``auto_frame`` is seeded (numbered after the other prompts' ids; None:
    no seeding); with
    ``auto_new`` = K (forward tracking only), every K-th frame is searched for regions no tracked
    object covers, and each becomes a new object tracked on from there.

    The order keeps a failed or interrupted run from losing work: every output is checked first
    (:func:`check_outputs`, before the model is built), then the prompts are applied and the
    session file (prompts and settings) is written, then the labels are streamed into ``out``
    as frames are tracked (:class:`~napari_sam2.io.label_files.LabelWriter`: a Ctrl-C or an
    error leaves every finished frame in the file, untracked frames 0), and last the table, CTC
    folder, GEFF graph and TrackMate XML file are made from the finished file.

    Summary keys: input, frames (frames that hold a result of any object), objects, object_frames
    (object-frames with a result), lost (how many of those are lost), lost_frames ``{object id: [frames]}``,
    seconds, written (paths, the labels first). Lost is the session's flag (object score below
    the model's threshold, or an empty mask) or no pixel in the written labels (wholly hidden
    under another object): the rule of the table's lost column.
    """
    from ..device import pick_device
    from ..io import exports
    from ..io.label_files import LabelStack
    from ..io.readers import open_frames
    from .session import TrackingSession
    from .stack import stack_view

    if auto_new is not None and (auto_new < 1 or direction != "forward"):
        raise ValueError(f"--auto-new K needs K >= 1 and forward tracking (new cells are tracked on from where "
                         f"they appear); got K={auto_new}, direction {direction}")
    if auto is None and auto_new is not None:
        raise ValueError("--auto-new needs the automatic segmentation settings")
    if not prompts and masks is None and (auto is None or auto_frame is None):
        raise ValueError("no prompts: give --points, --boxes and/or --masks with at least one object for this input")
    inputs = [source] if isinstance(source, (str, Path)) else []
    inputs += [*prompts.files, *([masks] if isinstance(masks, (str, Path)) else [])]
    paths = check_outputs(out, table, ctc, session_json, geff, overwrite, inputs, trackmate)
    data = open_frames(source)
    if len(data.shape) < 3:
        raise ValueError(f"{source} is a single image of shape {tuple(data.shape)}: tracking needs a stack")
    view = stack_view(data, axis=axis, time_point=time_point, z=z, channel=channel)
    label_masks = {} if masks is None else read_masks(masks, view.shape[0], view.shape[1:3], masks_frame,
                                                      ctc=paths["ctc"] is not None)
    check_prompt_ids(prompts, label_masks, ctc=paths["ctc"] is not None)
    session = TrackingSession.from_name(view, name=model, checkpoint=checkpoint, device=pick_device(device),
                                        image_size=image_size, precision=precision, memory_frames=memory_frames,
                                        max_batch=max_batch, exclusive=exclusive, window=window)
    masked = apply_label_prompts(session, label_masks)  # masks first: clicks on a masked frame correct them
    apply_prompts(session, prompts, masked)
    max_id, _ = largest_id(paths["ctc"] is not None)
    if auto is not None and auto_frame is not None:
        from .auto import seed_objects

        seed_objects(session, session._check_frame(auto_frame), auto, max_id)
    for p in paths.values():
        if p is not None:
            p.parent.mkdir(parents=True, exist_ok=True)
    written = [paths["out"]]
    if paths["session_json"] is not None:  # the user's clicks are safe before the long part starts
        settings = {"input": str(source) if isinstance(source, (str, Path)) else None, "axis": axis, "direction": direction,
                    "channel": channel, "time_point": time_point, "z": z, "device": device,
                    "checkpoint": None if checkpoint is None else str(checkpoint)}
        written.append(exports.write_session_json(paths["session_json"],
                                                  {**session.prompts_dict(), "run": {**settings, "finished": False}},
                                                  overwrite=overwrite))
    new_cells = None if auto_new is None else (auto_new, auto, max_id)
    report, records, areas = _track_into(session, paths["out"], direction, overwrite, progress, new_cells)
    lost = {oid: [] for oid in session.obj_ids}
    for r in records:
        if r["lost"] or areas[r["frame"]].get(r["object_id"], 0) == 0:
            lost[r["object_id"]].append(r["frame"])
    if paths["session_json"] is not None:  # again, now with the frames tracked and lost (the table's rule)
        final = {**session.prompts_dict(), "lost_frames": {str(o): f for o, f in lost.items() if f},
                 "run": {**settings, "finished": True}}
        exports.write_session_json(paths["session_json"], final, overwrite=True)
    if any(paths[k] is not None for k in ("table", "ctc", "geff", "trackmate")):
        # read back a frame at a time: no output holds the whole (T, Y, X) stack
        labels = LabelStack.from_file(paths["out"])
        if paths["table"] is not None:
            rows = exports.object_table(labels, records, session.parents)
            written.append(exports.write_table_csv(paths["table"], rows, overwrite=overwrite))
        if paths["ctc"] is not None:
            written.append(exports.write_ctc(paths["ctc"], labels, parents=session.parents, overwrite=overwrite))
        if paths["geff"] is not None:
            from ..io.lineage_io import write_geff

            written.append(write_geff(paths["geff"], labels, session.parents, overwrite=overwrite))
        if paths["trackmate"] is not None:
            from ..io.trackmate import write_trackmate

            written.append(write_trackmate(paths["trackmate"], labels, session.parents, overwrite=overwrite))
    return {"input": str(source), "frames": len({r["frame"] for r in records}), "objects": len(session.obj_ids),
            "object_frames": len(records), "lost": sum(len(v) for v in lost.values()), "lost_frames": lost,
            "seconds": round(report.elapsed, 2), "written": [str(p) for p in written]}


def _track_into(session, out: Path, direction: str, overwrite: bool, progress, new_cells=None):
    """Propagate, writing each frame's labels into ``out`` as soon as the frame is tracked.

    new_cells: ``(K, AutoSettings, max id)`` to add new cells every K-th frame after the first pass
    (each found region tracked forward from its frame). Returns (the run report, the session's
    records, ``{frame: {object id: pixels}}`` of the file). A frame tracked twice (direction "both",
    new cells) is written twice; its last write is final.
    """
    from ..io.label_files import LabelWriter

    areas: dict[int, dict[int, int]] = {}
    most = max(session.obj_ids) if new_cells is None else new_cells[2]
    with LabelWriter(out, session.shape, most, overwrite=overwrite) as writer:
        def put(f: int) -> None:
            writer.write(f, session.label_frame(f))
            areas[f] = {oid: seen.pixels for oid, seen in session.visibility(f).items()}

        def step(event) -> None:
            put(event.frame)
            if progress is not None:
                progress(event)

        for f in session.result_frames():  # the prompted frames first: a run that stops early keeps them
            put(f)
        report = session.propagate(direction, progress=step)
        if new_cells is not None:
            report = _add_new_cells(session, report, new_cells, put, step)
        records = session.records()
        for f in sorted({r["frame"] for r in records} - set(areas)):  # results outside this run's passes
            put(f)
    return report, records, areas


def expand_inputs(pattern: str) -> list[Path]:
    """Files matching a glob pattern such as ``data/*.tif`` (sorted); an error when none match."""
    import glob

    files = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    if not files:
        raise ValueError(f"no files match {pattern!r}")
    return files


def output_names(files: list[Path], out_dir) -> list[Path]:
    """The labels file of each input with ``--many``: ``out_dir/<name>_labels.tif``.

    ``<name>`` is the file's stem; inputs that share a stem (``a/m.tif``, ``b/m.tif``) are named
    by their path below the folder they have in common, joined by ``_`` (``a_m``, ``b_m``). If
    names still collide (``m.tif`` beside ``m.tiff``), a ValueError names both inputs: one result
    never silently replaces another.
    """
    out_dir = Path(out_dir)
    stems = [f.stem for f in files]
    shared = {s.casefold() for s in stems if sum(t.casefold() == s.casefold() for t in stems) > 1}
    if shared:
        common = Path(os.path.commonpath([os.path.abspath(f.parent) for f in files]))
    names = []
    for f, stem in zip(files, stems):
        if stem.casefold() in shared:
            rel = Path(os.path.abspath(f)).relative_to(common)
            stem = "_".join((*rel.parts[:-1], rel.stem))
        names.append(stem)
    seen: dict[str, Path] = {}
    for f, name in zip(files, names):
        if name.casefold() in seen:
            raise ValueError(f"{seen[name.casefold()]} and {f} would both be written to "
                             f"{out_dir / (name + '_labels.tif')}: rename one, or track them in separate runs")
        seen[name.casefold()] = f
    return [out_dir / f"{name}_labels.tif" for name in names]


def track_many(pattern: str, points_csv, boxes_csv, out_dir, scheduler: str | None = None, on_result=None,
               **options) -> list[dict]:
    """Track every file matching ``pattern`` into ``out_dir`` (names: :func:`output_names`).

    Prompts come from the shared CSVs (rows with a ``file`` column apply to matching files)
    or from ``<name>.points.csv`` / ``<name>.boxes.csv`` next to each file. Every file's
    prompts and output are checked before the first file is tracked. With a dask ``scheduler``
    address the files are tracked on that cluster, else one after another here, with
    ``on_result(summary)`` called as each one finishes. ``options`` go to :func:`track_file`.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file: with --many, --out is the folder for the label files")
    files = expand_inputs(pattern)
    outs = output_names(files, out_dir)
    found = []
    for f in files:
        pts = points_csv or (f.with_suffix(".points.csv") if f.with_suffix(".points.csv").exists() else None)
        bxs = boxes_csv or (f.with_suffix(".boxes.csv") if f.with_suffix(".boxes.csv").exists() else None)
        prompts = read_prompts(pts, bxs, file_name=f.name)
        if not prompts:
            raise ValueError(f"no prompts for {f}: give --points/--boxes rows for it (a 'file' column) "
                             f"or {f.with_suffix('.points.csv').name} beside it")
        found.append(prompts)
    inputs = [*files, *{p for prompts in found for p in prompts.files}]
    jobs = []
    for f, prompts, o in zip(files, found, outs):
        check_outputs(o, overwrite=options.get("overwrite", False), inputs=inputs)
        jobs.append((f, prompts, o))
    out_dir.mkdir(parents=True, exist_ok=True)
    if scheduler is None:
        results = []
        for f, p, o in jobs:
            results.append(track_file(f, p, o, **options))
            if on_result is not None:
                on_result(results[-1])
        return results
    from distributed import Client

    with Client(scheduler) as client:
        futures = [client.submit(track_file, f, p, o, pure=False, **options) for f, p, o in jobs]
        results = client.gather(futures)
    if on_result is not None:
        for r in results:
            on_result(r)
    return results


def _add_new_cells(session, report, new_cells, put, step):
    """Every K-th frame, regions no tracked object covers become new objects, tracked forward from there;
    returns the run's report with those frames (each counted once) and the time they took."""
    from .auto import add_new_cells
    from .results import FORWARD, RunReport

    every, settings, max_id = new_cells
    t0, frames = time.perf_counter(), list(report.frames)
    for f in range(every, session.num_frames, every):
        ids = add_new_cells(session, f, settings, max_id=max_id)
        if ids:
            put(f)
            frames += session.propagate(FORWARD, start=f, obj_ids=ids, progress=step).frames
    return RunReport(sorted(set(frames)), report.cancelled, report.elapsed + time.perf_counter() - t0)
