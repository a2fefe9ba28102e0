"""The widget's files: the labels, table, lineage and session written in the background, the Tracks
layer that follows the labels, and session files read back. Nothing is replaced without the user's
yes, and never what :func:`~napari_sam2.io.atomic.check_output` refuses. Paths come from the caller
(the export panel asks for them); no Qt here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .jobs import PROMPT
from .palette import tracks_coloring
from .prompt_sync import saved_prompts
from .words import TRACKS


def with_suffix(path, suffix: str, *others: str) -> Path:
    """``path`` ending in ``suffix`` or one of ``others`` (``suffix`` added when it ends in none of
    them)."""
    text = str(path).rstrip("/\\")
    return Path(text if text.lower().endswith((suffix, *others)) else text + suffix)


def image_file(layer) -> Path | None:
    """The file image ``layer`` was read from, when napari knows it."""
    source = getattr(getattr(layer, "source", None), "path", None)
    return Path(source) if source else None


class Exports:
    """The files of ``controller``'s session. ``confirmed`` (each writer's argument): a save dialog
    has already agreed to replace exactly the path given."""

    def __init__(self, controller) -> None:
        self._c = controller
        self._tracks_state = "idle"  # "running", or "again" when the labels changed while measuring

    # ------------------------------------------------------------------ shared steps

    def _labels_copy(self) -> np.ndarray | None:
        data = self._c.labels.copy()
        if data is None:
            self._c.say("nothing to export yet", "info", status=False)
        return data

    def _write(self, what: str, write, target) -> None:
        """Run ``write()`` beside the model jobs; say where it went."""
        c = self._c
        c.say(f"writing {what}...")
        c.queue.side(write, lambda _: c.say(f"wrote {target}"))

    def may_write(self, target: Path, confirmed: bool = False) -> bool:
        """Whether ``target`` may be written: never the image's own file (or inside or around it), a
        folder for a file or a file for a folder, or a folder holding files this plugin did not
        write (:func:`~napari_sam2.io.atomic.check_output`); an existing one only after a yes (a
        folder always asks: a file dialog does not confirm replacing one). A refusal is said."""
        from ..io.atomic import OutputRefused, check_output

        c = self._c
        folder = target.suffix.lower() == ".zarr" or target.name == "RES"
        source = image_file(c.layer or c.image_layer)
        try:
            check_output(target, folder=folder, overwrite=True, inputs=[source] if source else [])
        except OutputRefused as exc:
            c.say(f"not written: {exc}", "error", status=False)
            c.say(f"not written: {exc}")
            return False
        if not (target.exists() or target.is_symlink()) or (confirmed and not target.is_dir()):
            return True
        kind = "folder" if target.is_dir() else "file"
        if c.confirm(
            "Replace existing output?",
            f"{target} already exists. Replace this {kind}? Everything in it is deleted.",
        ):
            return True
        c.say(f"not written: {target} exists and was kept")
        return False

    def _labels_and_target(
        self, path, confirmed: bool, *suffixes: str
    ) -> tuple[np.ndarray, Path] | None:
        """The labels and the file to write (the first of ``suffixes`` added unless ``path`` ends in
        one of them), when they may replace it; None otherwise."""
        data = self._labels_copy()
        if data is None:
            return None
        target = with_suffix(path, *suffixes)
        confirmed = confirmed and target == Path(path)  # the dialog agreed to the name it returned
        return (data, target) if self.may_write(target, confirmed) else None

    # ------------------------------------------------------------------ files

    def tiff(self, path, confirmed: bool = False) -> None:
        from ..io import exports

        chosen = self._labels_and_target(path, confirmed, ".tif", ".tiff")
        if chosen is not None:
            data, target = chosen
            self._write(
                "labels TIFF",
                lambda: exports.write_labels_tiff(target, data, overwrite=True),
                target,
            )

    def zarr(self, path, confirmed: bool = False) -> None:
        from ..io import exports

        chosen = self._labels_and_target(path, confirmed, ".zarr")
        if chosen is not None:
            data, target = chosen
            self._write(
                "labels zarr",
                lambda: exports.write_labels_zarr(target, data, overwrite=True),
                target,
            )

    def table(self, path, confirmed: bool = False) -> None:
        from ..io import exports

        chosen = self._labels_and_target(path, confirmed, ".csv")
        if chosen is None:
            return
        data, target = chosen
        session = self._c.session

        def write():  # regionprops over the whole stack: never on the GUI thread
            records = session.records() if session is not None else None
            parents = session.lineage() if session is not None else None
            exports.write_table_csv(
                target, exports.object_table(data, records, parents), overwrite=True
            )

        self._write("object table", write, target)

    def ctc(self, folder) -> None:
        from ..io import exports

        data = self._labels_copy()
        if data is None:
            return
        target = Path(folder) / "RES"
        if not self.may_write(target):
            return
        session = self._c.session

        def write():
            parents = session.lineage() if session is not None else None
            exports.write_ctc(target, data, parents=parents, overwrite=True)

        self._write("CTC result", write, target)

    def geff(self, path, confirmed: bool = False) -> None:
        from ..io.lineage_io import write_geff

        self._lineage_file("GEFF lineage", write_geff, path, confirmed, ".zarr")

    def trackmate(self, path, confirmed: bool = False) -> None:
        from ..io.trackmate import write_trackmate

        # pixels, frames
        self._lineage_file("TrackMate XML", write_trackmate, path, confirmed, ".xml")

    def _lineage_file(self, what: str, writer, path, confirmed: bool, suffix: str) -> None:
        """The labels with the session's lineage, written by ``writer(target, labels, parents)`` in
        the background."""
        chosen = self._labels_and_target(path, confirmed, suffix)
        if chosen is None:
            return
        data, target = chosen
        session = self._c.session

        def write():
            writer(target, data, session.lineage() if session is not None else None, overwrite=True)

        self._write(what, write, target)

    # ------------------------------------------------------------------ tracks layer

    def add_tracks_layer(self) -> None:
        if self._c.labels.present() is None:
            self._c.say("nothing to export yet", "info", status=False)
            return
        self.refresh_tracks(explicit=True)

    def refresh_tracks(self, explicit: bool = False) -> None:
        """Measure centroids on a copy of the labels in a worker; the handler only replaces the
        layer. While one measurement runs, a newer request waits for it and then measures once
        more."""
        if self._tracks_state != "idle":
            self._tracks_state = "again"
            return
        data = self._labels_copy()
        if data is None:
            return
        from ..io import exports

        c = self._c
        session = c.session
        self._tracks_state = "running"

        def measure():
            lineage = session.lineage() if session is not None else {}
            return exports.tracks_data(data, lineage), lineage

        def apply(result):
            again = self._tracks_state == "again"
            self._tracks_state = "idle"
            (tracks, graph), lineage = result
            if any(
                c.parents.get(d) != p for d, p in lineage.items()
            ):  # e.g. divisions of a loaded session
                c.set_parents({**c.parents, **lineage})
            if len(tracks) == 0:
                if explicit:
                    c.say("no objects in the labels yet", "info", status=False)
                if TRACKS in c.viewer.layers:
                    c.viewer.layers.remove(TRACKS)
            else:
                self._show_tracks(tracks, graph)
            if again:
                self.refresh_tracks()

        c.queue.side(measure, apply)

    def _show_tracks(self, tracks: np.ndarray, graph: dict) -> None:
        """Show (id, frame, y, x) ``tracks`` at the image's dimensions (4D: the fixed axis at its
        index), each track in its object's palette colour."""
        c = self._c
        viewer, layer = c.viewer, c.layer
        if TRACKS in viewer.layers:
            viewer.layers.remove(TRACKS)
        coords = c.place.coords(0, len(tracks))
        coords[:, c.place.track_dim], coords[:, -2:] = tracks[:, 1], tracks[:, 2:4]
        values, cmap = tracks_coloring(tracks[:, 0], c.parents)
        viewer.add_tracks(
            np.column_stack([tracks[:, 0], coords]),
            graph=graph,
            name=TRACKS,
            scale=layer.scale,
            translate=layer.translate,
            properties={"palette": values},
            color_by="palette",
            colormaps_dict={"palette": cmap},
        )

    # ------------------------------------------------------------------ session files

    def save_session(self, path, confirmed: bool = False) -> None:
        from ..io.session_files import write_session_json

        c = self._c
        if c.session is None:
            return
        target = with_suffix(path, ".json")
        if self.may_write(target, confirmed and target == Path(path)):
            data = c.session.prompts_dict()  # a locked snapshot
            data["names"] = {str(k): v for k, v in c.names.items()}
            write_session_json(target, data, overwrite=True)
            c.say(f"wrote {target}")

    def read_session(self, path) -> dict | None:
        """The saved session at ``path`` when it fits the current stack; None (with the reason said)
        otherwise."""
        from ..io.session_files import read_session_json

        c = self._c
        if c.session is None:
            c.say("start a session on the same image first", "info", status=False)
            return None
        try:
            data = read_session_json(path)
            if list(data.get("shape", [])) != list(c.session.shape):
                raise ValueError(
                    f"it is for a stack of shape {data.get('shape')}, this one is {c.session.shape}"
                )
        except (ValueError, OSError) as exc:
            c.say(f"cannot load {path}: {exc}", "error", status=False)
            return None
        return data

    def load_session(self, path) -> None:
        """Replace the prompts with a saved session's and recompute the frames they touch."""
        c, data = self._c, self.read_session(path)
        if data is None:
            return
        if (c.session.obj_ids or c.prompts.known) and not c.confirm(
            "Load session?",
            f"Load {Path(path).name}? The prompts and the tracking on screen are replaced by the "
            "saved session's (labels you painted yourself stay). Save the session first if you "
            "need it.",
        ):
            c.say("Session not loaded: the prompts and tracking on screen are kept.")
            return
        prompts = c.prompts
        old_ids = set(c.timelines) | {obj for obj, _ in prompts.known}
        for obj in old_ids:
            prompts.remove_of(obj)
        c.set_parents(
            {int(d): int(dv["parent"]) for dv in data.get("divisions", []) for d in dv["daughters"]}
        )
        with prompts.quiet():
            for obj in data["objects"]:
                c.list_object(int(obj))
                c.rename_object(int(obj), data.get("names", {}).get(obj, ""))
            for obj, f, clicks, box, _ in saved_prompts(data):
                for y, x, positive in clicks:
                    c.add_click(f, y, x, positive, obj=obj)
                if box is not None:
                    c.add_box(f, *box, obj=obj)
        prompts.known = prompts.collect()
        session = c.session
        new_ids = {int(o) for o in data["objects"]}

        def job(_):
            before = set(session.clear())
            session.load_prompts(data)
            frames = before | {int(f) for frames in data["objects"].values() for f in frames}
            return [(f, session.label_frame(f)) for f in sorted(frames)]

        first = min((int(f) for frames in data["objects"].values() for f in frames), default=None)

        def done(frames):
            c.labels.write(frames)
            for obj in old_ids - new_ids:
                c.labels.erase(obj)
            if first is not None:
                c.go_to_frame(first)

        c.submit(job, on_return=done, label="loading session", kind=PROMPT)
