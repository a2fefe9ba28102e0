"""Tracking runs for the command line and scripts: one stack from prompt files, label images or the
automatic segmentation, with every result written to disk (:class:`~napari_sam2.settings.RunSettings`).
Many movies in one run: :mod:`~napari_sam2.engine.many`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..settings import RunSettings
from .prompt_files import (
    Prompts,
    apply_label_prompts,
    apply_prompts,
    check_prompt_ids,
    largest_id,
    read_masks,
)
from .prompt_files import read_prompts  # noqa: F401  (scripts find the CSV reader here too)


@dataclass
class RunResult:
    """What a run did: the frames that hold a result of any object, its objects, the object-frames with a
    result (``object_frames``), which of them are lost (``lost_frames``: object id -> frames) and which are
    suspect (``suspects``: object id -> {frame: reasons}; never lost ones), the seconds it took, the paths
    it wrote (the labels first), and window "auto"'s choice with its reason (None otherwise). ``lost`` and
    ``suspect`` count object-frames. ``rows``: the object table's rows (:func:`~napari_sam2.io.exports.object_table`),
    kept only when asked (the table of many movies is made from them)."""

    input: str
    frames: int
    objects: int
    object_frames: int
    lost_frames: dict[int, list[int]]
    suspects: dict[int, dict[int, list[str]]]
    seconds: float
    written: list[str]
    window_choice: str | None = None
    rows: list[dict] | None = None

    @property
    def lost(self) -> int:
        return sum(len(v) for v in self.lost_frames.values())

    @property
    def suspect(self) -> int:
        return sum(len(v) for v in self.suspects.values())

    def summary_row(self) -> dict:
        """The run as one row of the summary (:data:`~napari_sam2.io.exports.SUMMARY_COLUMNS`)."""
        return {
            "movie": self.input,
            "objects": self.objects,
            "frames": self.frames,
            "object_frames": self.object_frames,
            "lost": self.lost,
            "suspect": self.suspect,
            "seconds": self.seconds,
            "labels": self.written[0] if self.written else None,
        }


def run_inputs(source, prompts: Prompts, run: RunSettings) -> list[Path]:
    """The files a run reads (the movie, prompt files, the label image), which no output may touch."""
    inputs = [Path(source)] if isinstance(source, (str, os.PathLike)) else []
    masks = run.seeds.masks
    return [*inputs, *prompts.files, *([masks] if masks is not None else [])]


def track_file(
    source, prompts: Prompts, run: RunSettings, progress=None, keep_rows: bool = False
) -> RunResult:
    """Track one stack as ``run`` says and write its outputs; returns what was done.

    source: a TIFF path, a folder of frames or an array-like; ``run.stack`` picks the tracked axis and
    channel (:func:`~napari_sam2.engine.stack.stack_view`), ``run.tracking`` the session's options,
    ``run.model`` the model. prompts: clicks and boxes (:func:`read_prompts`). ``run.seeds``: a label image
    whose values are object ids (:func:`read_masks`; clicks for an object on a masked frame correct its
    mask, a box there is refused), every object the automatic segmentation finds on a frame (``auto``,
    numbered after the other ids), and new cells every K-th frame (``auto_new``, forward tracking).
    progress(event) is called after each frame is written. keep_rows: return the object table's rows in the
    result (``rows``) whether or not ``run.outputs.table`` is written.

    The order keeps a failed or interrupted run from losing work: every output is checked first
    (:meth:`~napari_sam2.settings.OutputSettings.check_paths`, before the model is built), then the prompts
    are applied and the session file (prompts and settings) is written, then the labels are streamed into
    ``out``'s partial file as frames are tracked (:class:`~napari_sam2.io.label_files.LabelWriter`, renamed
    to ``out`` at the end), and last the table, CTC folder, GEFF graph and TrackMate file are made from the
    finished labels, and the summary (one row) at the very end. Lost object-frames follow the table's rule:
    the session's flag, or no pixel in the written labels (wholly hidden under another object).
    """
    seeds, outputs = run.seeds, run.outputs
    if outputs.out is None:
        raise ValueError("--out is needed: where the labels are written")
    if not prompts and seeds.masks is None and not seeds.auto:
        raise ValueError(
            "no prompts: give --points, --boxes and/or --masks with at least one object for this input"
        )
    outputs.check_paths(run_inputs(source, prompts, run))
    view = open_view(source, run)
    ctc = outputs.ctc is not None
    masks = (
        {}
        if seeds.masks is None
        else read_masks(seeds.masks, view.shape[0], view.shape[1:3], seeds.masks_frame, ctc=ctc)
    )
    check_prompt_ids(prompts, masks, ctc=ctc)
    session = _session(view, run)
    apply_prompts(
        session, prompts, apply_label_prompts(session, masks)
    )  # clicks on a masked frame correct it
    max_id, _ = largest_id(ctc)
    if seeds.auto:
        from .auto import seed_objects

        seed_objects(session, session.check_frame(seeds.auto_frame), run.auto, max_id)
    written = [outputs.out]
    record = {
        "input": str(source) if isinstance(source, (str, os.PathLike)) else None,
        "direction": run.direction,
        "stack": run.stack.as_dict(),
        "model": run.model.as_dict(),
    }
    if outputs.session is not None:  # the user's clicks are safe before the long part starts
        written.append(_write_session(session, outputs, {**record, "finished": False}))
    new_cells = None if seeds.auto_new is None else (seeds.auto_new, run.auto, max_id)
    t0 = time.perf_counter()
    records, areas = _track_into(session, run.direction, outputs, progress, new_cells)
    lost = {oid: [] for oid in session.obj_ids}
    for r in records:
        if r["lost"] or areas[r["frame"]].get(r["object_id"], 0) == 0:
            lost[r["object_id"]].append(r["frame"])
    suspects = {
        oid: {f: reasons for f, reasons in frames.items() if f not in lost[oid]}
        for oid, frames in session.suspects().items()
    }
    if (
        outputs.session is not None
    ):  # again, now with the frames tracked, lost (the table's rule) and suspect
        _write_session(session, outputs, {**record, "finished": True}, lost, suspects)
    done, rows = _exports(session, records, outputs, keep_rows)
    written += done
    result = RunResult(
        str(source),
        len({r["frame"] for r in records}),
        len(session.obj_ids),
        len(records),
        lost,
        {o: s for o, s in suspects.items() if s},
        round(time.perf_counter() - t0, 2),
        [str(p) for p in written],
        session.window_choice,
        rows,
    )
    if outputs.summary is not None:
        write_summary(outputs.summary, [result], outputs.overwrite)
        result.written.append(str(outputs.summary))
    return result


def write_summary(path, results: list[RunResult], overwrite: bool = False) -> Path:
    """The summary CSV: one row per run (:meth:`RunResult.summary_row`)."""
    from ..io import exports

    return exports.write_table_csv(
        path,
        [r.summary_row() for r in results],
        overwrite=overwrite,
        columns=exports.SUMMARY_COLUMNS,
    )


def write_movies_table(path, results: list[RunResult], overwrite: bool = False) -> Path:
    """One object table for many movies: each run's ``rows`` (kept with ``keep_rows``) after a ``movie``
    column that names its input."""
    from ..io import exports

    rows = [{"movie": r.input, **row} for r in results for row in (r.rows or [])]
    return exports.write_table_csv(
        path, rows, overwrite=overwrite, columns=exports.MOVIES_TABLE_COLUMNS
    )


def open_view(source, run: RunSettings):
    """The tracked stack of ``source`` (read lazily) as ``run.stack`` says; a single image is refused."""
    from ..io.readers import open_frames
    from .stack import stack_view

    data = open_frames(source)
    if len(data.shape) < 3:
        raise ValueError(
            f"{source} is a single image of shape {tuple(data.shape)}: tracking needs a stack"
        )
    st = run.stack
    return stack_view(data, axis=st.axis, time_point=st.time_point, z=st.z, channel=st.channel)


def _session(view, run: RunSettings):
    """The tracking session on ``view`` with the model and tracking settings of ``run``."""
    from .session import TrackingSession

    return TrackingSession.from_settings(view, run.model, run.tracking, suspects=run.suspects)


def _write_session(
    session, outputs, record: dict, lost: dict | None = None, suspects: dict | None = None
) -> Path:
    """The session file: the session's prompts and settings, with how the run was made (``run``), and once it
    has run, the lost frames (the table's rule) and the suspect object-frames with their reasons."""
    from ..io import exports

    data = {**session.prompts_dict(), "run": record}
    if lost is not None:
        data["lost_frames"] = {str(o): f for o, f in lost.items() if f}
    if suspects is not None:
        data["suspects"] = {
            str(o): {str(f): r for f, r in frames.items()}
            for o, frames in suspects.items()
            if frames
        }
    return exports.write_session_json(outputs.session, data, overwrite=True)


def _exports(
    session, records: list[dict], outputs, keep_rows: bool = False
) -> tuple[list[Path], list | None]:
    """The table, CTC folder, GEFF graph and TrackMate file, made from the finished labels file (read back a
    frame at a time: no output holds the whole (T, Y, X) stack). Returns (the paths written, the table's rows
    when ``keep_rows`` asks for them, else None)."""
    from ..io import exports
    from ..io.label_files import LabelStack

    wanted = [k for k in ("table", "ctc", "geff", "trackmate") if getattr(outputs, k) is not None]
    if not wanted and not keep_rows:
        return [], None
    labels, parents, overwrite, done = (
        LabelStack.from_file(outputs.out),
        session.parents,
        outputs.overwrite,
        [],
    )
    rows = None
    if outputs.table is not None or keep_rows:
        rows = exports.object_table(labels, records, parents)
    if outputs.table is not None:
        done.append(exports.write_table_csv(outputs.table, rows, overwrite=overwrite))
    if outputs.ctc is not None:
        done.append(exports.write_ctc(outputs.ctc, labels, parents=parents, overwrite=overwrite))
    if outputs.geff is not None:
        from ..io.lineage_io import write_geff

        done.append(write_geff(outputs.geff, labels, parents, overwrite=overwrite))
    if outputs.trackmate is not None:
        from ..io.trackmate import write_trackmate

        done.append(write_trackmate(outputs.trackmate, labels, parents, overwrite=overwrite))
    return done, rows if keep_rows else None


def _track_into(session, direction: str, outputs, progress, new_cells=None):
    """Propagate, writing each frame's labels into ``outputs.out``'s partial file as soon as the frame is
    tracked (the prompted frames first).

    new_cells: ``(K, AutoSettings, max id)`` to add new cells every K-th frame after the first pass (each
    found region tracked forward from its frame). Returns (the session's records, ``{frame: {object id:
    pixels}}`` of the file). A frame tracked twice (direction "both", new cells) is written twice; its last
    write is final.
    """
    from ..io.label_files import LabelWriter

    areas: dict[int, dict[int, int]] = {}
    most = max(session.obj_ids) if new_cells is None else new_cells[2]
    with LabelWriter(outputs.out, session.shape, most, overwrite=outputs.overwrite) as writer:

        def put(f: int) -> None:
            writer.write(f, session.label_frame(f))
            areas[f] = {oid: seen.pixels for oid, seen in session.visibility(f).items()}

        def step(event) -> None:
            put(event.frame)
            if progress is not None:
                progress(event)

        for f in (
            session.result_frames()
        ):  # the prompted frames first: a run that stops early keeps them
            put(f)
        session.propagate(direction, progress=step)
        if new_cells is not None:
            _add_new_cells(session, new_cells, put, step)
        records = session.records()
        for f in sorted(
            {r["frame"] for r in records} - set(areas)
        ):  # results outside this run's passes
            put(f)
    return records, areas


def _add_new_cells(session, new_cells, put, step) -> None:
    """Every K-th frame, regions no tracked object covers become new objects, tracked forward from there."""
    from .auto import add_new_cells
    from .results import FORWARD

    every, settings, max_id = new_cells
    for f in range(every, session.num_frames, every):
        ids = add_new_cells(session, f, settings, max_id=max_id)
        if ids:
            put(f)
            session.propagate(FORWARD, start=f, obj_ids=ids, progress=step)
