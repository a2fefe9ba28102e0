"""The widget's exports: save dialogs, the rule that nothing is replaced without the user's yes, and the
export buttons (files written in the background, a Tracks layer, session files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QMessageBox

from ._widget_jobs import PROMPT
from ._widget_palette import tracks_coloring
from ._widget_text import OUTPUT, TRACKS


def ask_path(parent, title: str, filter_: str = "", folder: bool = False, default: str = "",
             open_: bool = False, start: str = "") -> str | None:
    """A save dialog, an open dialog (``open_``) or a folder chooser, starting in folder ``start`` (with
    ``default`` as the proposed name); None when cancelled. A save dialog itself asks before replacing an
    existing file with exactly the name it returns."""
    where = str(Path(start) / default) if start and default else (start or default)
    if folder:
        path = QFileDialog.getExistingDirectory(parent, title, start)
    elif open_:
        path, _ = QFileDialog.getOpenFileName(parent, title, where, filter_)
    else:
        path, _ = QFileDialog.getSaveFileName(parent, title, where, filter_)
    return path or None


def start_folder(last: str | None, layer) -> str:
    """Where a dialog starts: the folder used last, else the folder of the file ``layer`` was read from,
    else "" (Qt's default)."""
    if last:
        return last
    source = getattr(getattr(layer, "source", None), "path", None)
    return str(Path(source).parent) if source else ""


def with_suffix(path: str, suffix: str, *others: str) -> Path:
    """``path`` ending in ``suffix`` or one of ``others`` (``suffix`` added when it ends in none of them)."""
    text = str(path).rstrip("/\\")
    return Path(text if text.lower().endswith((suffix, *others)) else text + suffix)


def may_replace(parent, target: Path, chosen: str | None = None) -> bool:
    """Whether writing ``target`` may go ahead: it does not exist, or it is the very file the save
    dialog returned (``chosen``, which the dialog confirmed), or the user says yes now. A folder
    (zarr store, CTC result) is always asked about: a file dialog does not confirm replacing one."""
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return True
    if chosen is not None and Path(chosen) == target and not target.is_dir():
        return True
    kind = "folder" if target.is_dir() else "file"
    answer = QMessageBox.question(parent, "Replace existing output?",
                                  f"{target} already exists. Replace this {kind}? Everything in it is deleted.",
                                  QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class Exports:
    """The export buttons of ``widget``: files written beside the model jobs, the Tracks layer that
    follows the labels, and session files. Paths come from :meth:`ask_path` (tests replace it)."""

    def __init__(self, widget) -> None:
        self._widget = widget
        self._tracks_state = "idle"  # "running", or "again" when the labels changed while measuring
        self._last_dir: str | None = None  # the folder of the last file dialog

    def ask_path(self, title: str, filter_: str = "", folder: bool = False, default: str = "",
                 open_: bool = False) -> str | None:
        """A file or folder dialog starting in the folder used last or the image's folder."""
        w = self._widget
        path = ask_path(w, title, filter_, folder, default, open_=open_,
                        start=start_folder(self._last_dir, w._layer or w._controls.image.value))
        if path:
            self._last_dir = path if folder else str(Path(path).parent)
        return path

    # ------------------------------------------------------------------ shared steps

    def _labels_copy(self) -> np.ndarray | None:
        """A copy of the tracked (frames, H, W) part of the labels layer (of 4D data: the slice at the fixed
        index), taken because the worker writes it while the user may keep painting."""
        out = self._widget._layer_or_none(OUTPUT)
        if out is None:
            show_info("SAM 2: nothing to export yet")
            return None
        return np.array(self._widget._labels.frames(out))

    def _write(self, what: str, write, target) -> None:
        """Run ``write()`` beside the model jobs; say where it went."""
        self._widget._status.show(f"writing {what}...")
        self._widget._jobs.side(write, lambda _: self._widget._status.show(f"wrote {target}"))

    def _may_write(self, target: Path, chosen: str | None = None) -> bool:
        """Whether ``target`` may be written: never the image's own file (or inside or around it), a folder for
        a file or a file for a folder, or a folder holding files this plugin did not write
        (:func:`~napari_sam2.io.atomic.check_output`); else as :func:`may_replace` says. A refusal is shown."""
        from .io.atomic import OutputRefused, check_output

        folder = target.suffix.lower() == ".zarr" or target.name == "RES"
        try:
            check_output(target, folder=folder, overwrite=True, inputs=self._inputs())
        except OutputRefused as exc:
            show_error(f"SAM 2: not written: {exc}")
            self._widget._status.show(f"not written: {exc}")
            return False
        if may_replace(self._widget, target, chosen):
            return True
        self._widget._status.show(f"not written: {target} exists and was kept")
        return False

    def _inputs(self) -> list[Path]:
        """The files the session reads: the image layer's own file, when it came from one."""
        layer = self._widget._layer or self._widget._controls.image.value
        source = getattr(getattr(layer, "source", None), "path", None)
        return [Path(source)] if source else []

    def _labels_and_target(self, title: str, filter_: str, default: str,
                           *suffixes: str) -> tuple[np.ndarray, Path] | None:
        """The labels and the file the user chose (the first of ``suffixes`` added unless it ends in one
        of them), when they may replace it; None otherwise."""
        data = self._labels_copy()
        path = data is not None and self.ask_path(title, filter_, default=default)
        if not path:
            return None
        target = with_suffix(path, *suffixes)
        return (data, target) if self._may_write(target, path) else None

    # ------------------------------------------------------------------ files

    def tiff(self) -> None:
        from .io import exports

        chosen = self._labels_and_target("Save labels as TIFF", "TIFF (*.tif *.tiff)", "labels.tif", ".tif", ".tiff")
        if chosen is not None:
            data, target = chosen
            self._write("labels TIFF", lambda: exports.write_labels_tiff(target, data, overwrite=True), target)

    def zarr(self) -> None:
        from .io import exports

        chosen = self._labels_and_target("Save labels as zarr", "zarr (*.zarr)", "labels.zarr", ".zarr")
        if chosen is not None:
            data, target = chosen
            self._write("labels zarr", lambda: exports.write_labels_zarr(target, data, overwrite=True), target)

    def table(self) -> None:
        from .io import exports

        chosen = self._labels_and_target("Save object table", "CSV (*.csv)", "objects.csv", ".csv")
        if chosen is None:
            return
        data, target = chosen
        session = self._widget.session

        def write():  # regionprops over the whole stack: never on the GUI thread
            records = session.records() if session is not None else None
            parents = session.lineage() if session is not None else None
            exports.write_table_csv(target, exports.object_table(data, records, parents), overwrite=True)

        self._write("object table", write, target)

    def ctc(self) -> None:
        from .io import exports

        data = self._labels_copy()
        path = data is not None and self.ask_path("Cell Tracking Challenge result folder", folder=True)
        if not path:
            return
        target = Path(path) / "RES"
        if not self._may_write(target):
            return
        session = self._widget.session

        def write():
            parents = session.lineage() if session is not None else None
            exports.write_ctc(target, data, parents=parents, overwrite=True)

        self._write("CTC result", write, target)

    def geff(self) -> None:
        from .io.lineage_io import write_geff

        self._lineage_file("GEFF lineage", write_geff, "Save lineage as GEFF", "GEFF zarr (*.zarr)", "lineage.zarr",
                           ".zarr")

    def trackmate(self) -> None:
        from .io.trackmate import write_trackmate

        # positions in pixels, time in frames
        self._lineage_file("TrackMate XML", write_trackmate, "Save tracks as TrackMate XML", "TrackMate XML (*.xml)",
                           "tracks.xml", ".xml")

    def _lineage_file(self, what: str, writer, title: str, filter_: str, default: str, suffix: str) -> None:
        """The labels with the session's lineage, written by ``writer(target, labels, parents)`` in the
        background to the file the user chose."""
        chosen = self._labels_and_target(title, filter_, default, suffix)
        if chosen is None:
            return
        data, target = chosen
        session = self._widget.session

        def write():
            writer(target, data, session.lineage() if session is not None else None, overwrite=True)

        self._write(what, write, target)

    # ------------------------------------------------------------------ tracks layer

    def add_tracks_layer(self) -> None:
        if self._widget._layer_or_none(OUTPUT) is None:
            show_info("SAM 2: nothing to export yet")
            return
        self.refresh_tracks(explicit=True)

    def refresh_tracks(self, explicit: bool = False) -> None:
        """Measure centroids on a copy of the labels in a worker; the handler only replaces the layer.
        While one measurement runs, a newer request waits for it and then measures once more."""
        if self._tracks_state != "idle":
            self._tracks_state = "again"
            return
        data = self._labels_copy()
        if data is None:
            return
        from .io import exports

        session = self._widget.session
        self._tracks_state = "running"

        def measure():
            lineage = session.lineage() if session is not None else {}
            return exports.tracks_data(data, lineage), lineage

        def apply(result):
            again = self._tracks_state == "again"
            self._tracks_state = "idle"
            (tracks, graph), lineage = result
            objects = self._widget._controls.objects
            if any(objects.parents.get(d) != p for d, p in lineage.items()):  # e.g. divisions of a loaded session
                objects.parents.update(lineage)
                objects.color_all(self._widget._layer_or_none(OUTPUT))
            viewer = self._widget.viewer
            if len(tracks) == 0:
                if explicit:
                    show_info("SAM 2: no objects in the labels yet")
                if TRACKS in viewer.layers:
                    viewer.layers.remove(TRACKS)
            else:
                self._show_tracks(tracks, graph)
            if again:
                self.refresh_tracks()

        self._widget._jobs.side(measure, apply)

    def _show_tracks(self, tracks: np.ndarray, graph: dict) -> None:
        """Show (id, frame, y, x) ``tracks`` at the image's dimensions (4D: the fixed axis at its index),
        each track in its object's palette colour."""
        w = self._widget
        viewer, layer = w.viewer, w._layer
        if TRACKS in viewer.layers:
            viewer.layers.remove(TRACKS)
        coords = w._place.coords(0, len(tracks))
        coords[:, w._place.track_dim], coords[:, -2:] = tracks[:, 1], tracks[:, 2:4]
        values, cmap = tracks_coloring(tracks[:, 0], w._controls.objects.parents)
        viewer.add_tracks(np.column_stack([tracks[:, 0], coords]), graph=graph, name=TRACKS, scale=layer.scale,
                          translate=layer.translate, properties={"palette": values}, color_by="palette",
                          colormaps_dict={"palette": cmap})

    # ------------------------------------------------------------------ session files

    def save_session(self) -> None:
        from .io import exports

        widget = self._widget
        if widget.session is None:
            return
        path = self.ask_path("Save session", "JSON (*.json)", default="session.json")
        target = path and with_suffix(path, ".json")
        if path and self._may_write(target, path):
            data = widget.session.prompts_dict()  # a locked snapshot
            data["names"] = {str(k): v for k, v in widget.names.items()}
            exports.write_session_json(target, data, overwrite=True)
            widget._status.show(f"wrote {target}")

    def read_session(self) -> dict | None:
        """A saved session the user chose that fits the current stack; None (with the reason shown) otherwise."""
        from .io import exports

        session = self._widget.session
        if session is None:
            show_info("SAM 2: start a session on the same image first")
            return None
        path = self.ask_path("Load session", "JSON (*.json)", open_=True)
        if not path:
            return None
        try:
            data = exports.read_session_json(path)
            if list(data.get("shape", [])) != list(session.shape):
                raise ValueError(f"it is for a stack of shape {data.get('shape')}, this one is {session.shape}")
        except (ValueError, OSError) as exc:
            show_error(f"SAM 2: cannot load {path}: {exc}")
            return None
        return data

    def load_session(self) -> None:
        """Replace the prompts with a saved session's and recompute the frames they touch."""
        w, data = self._widget, self.read_session()
        if data is None:
            return
        prompts = w._prompts
        old_ids = set(w._timelines) | {obj for obj, _ in prompts.known}
        for obj in old_ids:
            prompts.remove_of(obj)
        w._controls.objects.parents = {int(d): int(dv["parent"]) for dv in data.get("divisions", [])
                                       for d in dv["daughters"]}
        with prompts.quiet():
            for obj, frames in data["objects"].items():
                w.names[int(obj)] = data.get("names", {}).get(obj, f"object {obj}")
                w._actions.list_object(int(obj)).setText(w._controls.objects.text(int(obj), w._timelines))
                for f, steps in frames.items():
                    for step in steps:
                        for (x, y), lab in zip(step.get("points") or [], step.get("labels") or []):
                            w.add_click(int(f), y, x, bool(lab), obj=int(obj))
                        if step.get("box"):
                            x0, y0, x1, y1 = step["box"]
                            w.add_box(int(f), y0, x0, y1, x1, obj=int(obj))
        prompts.known = prompts.collect()
        session = w.session
        new_ids = {int(o) for o in data["objects"]}

        def job(_):
            before = set(session.clear())
            session.load_prompts(data)
            frames = before | {int(f) for frames in data["objects"].values() for f in frames}
            return [(f, session.label_frame(f)) for f in sorted(frames)]

        def done(frames):
            w._labels.write(frames)
            for obj in old_ids - new_ids:
                w._labels.erase(obj)

        w._run(job, on_return=done, label="loading session", kind=PROMPT)
