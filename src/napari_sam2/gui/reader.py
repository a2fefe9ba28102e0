"""npe2 reader for what this plugin writes, and nothing else (no napari or Qt imports): a Cell
Tracking Challenge folder opens as a Labels and a Tracks layer, a session file as its prompts.

Accepted:

* a CTC result folder: ``mask000.tif``... + ``res_track.txt`` (as written by ``track --ctc``);
* a CTC ground-truth folder: ``TRA/man_track000.tif``... + ``TRA/man_track.txt``, or that ``TRA``
  folder itself;
* a session file (``.json`` of format ``napari-sam2-session``, written by Save session or
  ``track --session``).

The manifest registers it for folders and ``*.json`` only, so a TIFF opens with napari's own reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SESSION_MARK = '"format": "napari-sam2-session"'  # near the start of every session file we write


def _ctc_kind(path: Path) -> str | None:
    """ "result", "ground_truth" or None, from file names only (nothing is read)."""
    if not path.is_dir():
        return None
    if (path / "res_track.txt").is_file():
        return "result"
    if (path / "man_track.txt").is_file() or (path / "TRA" / "man_track.txt").is_file():
        return "ground_truth"
    return None


def _is_session_file(path: Path) -> bool:
    """Whether ``path`` is a session file, from its first bytes (cheap)."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as f:
        return SESSION_MARK.encode() in f.read(512)


def get_reader(path):
    """A reader function for a CTC folder or a session file ``path``; None for anything else.

    Only checks which files exist and a session file's first bytes (cheap). A list of paths, another
    file or any other folder gives None.
    """
    if isinstance(path, (list, tuple)):
        return None
    path = Path(path)
    if _ctc_kind(path) is not None:
        return lambda _path=None: read_ctc_folder(path)
    if _is_session_file(path):
        return lambda _path=None: read_session_file(path)
    return None


def read_session_file(path) -> list[tuple]:
    """Layer data tuples of a session file's prompts, in (frame, y, x) pixels: its clicks as a
    Points layer (features ``obj_id`` and ``positive``, green or red), its boxes as a Shapes layer
    (feature ``obj_id``), its painted masks as a Labels layer (value = object id). The layers that
    would be empty are left out."""
    from ..io.session_files import read_session_json
    from .palette import object_color
    from .prompt_layers import NEGATIVE, POSITIVE
    from .prompt_sync import box_corners, saved_prompts

    path = Path(path)
    data = read_session_json(path)
    n, h, w = (int(v) for v in data["shape"])
    points, signs, point_ids, boxes, box_ids = [], [], [], [], []
    masks = np.zeros((n, h, w), np.uint16)
    for obj, f, clicks, box, mask in saved_prompts(data):
        for y, x, positive in clicks:
            points.append([f, y, x])
            signs.append(positive)
            point_ids.append(obj)
        if box is not None:
            boxes.append(np.array([[f, *corner] for corner in box_corners(*box)], float))
            box_ids.append(obj)
        if mask is not None:
            masks[f, mask[:, 0], mask[:, 1]] = obj
    name = path.stem
    layers = []
    if points:
        features = {"obj_id": np.array(point_ids), "positive": np.array(signs)}
        layers.append(
            (
                np.array(points, float),
                {
                    "name": f"{name} clicks",
                    "features": features,
                    "face_color": [POSITIVE if s else NEGATIVE for s in signs],
                    "border_color": [object_color(o) for o in point_ids],
                },
                "points",
            )
        )
    if boxes:
        layers.append(
            (
                boxes,
                {
                    "name": f"{name} boxes",
                    "features": {"obj_id": np.array(box_ids)},
                    "shape_type": "rectangle",
                    "edge_color": [object_color(o) for o in box_ids],
                    "face_color": [0, 0, 0, 0],
                },
                "shapes",
            )
        )
    if masks.any():
        layers.append((masks, {"name": f"{name} masks", "opacity": 0.5}, "labels"))
    return layers


def read_ctc_folder(folder) -> list[tuple]:
    """Layer data tuples for a CTC folder.

    Returns ``[(labels, {"name": "<folder> labels"}, "labels"), (data, {"name": "<folder> lineage",
    "graph": graph}, "tracks")]``: labels is (T, Y, X) uint16; data is (N, 4) float
    (track_id, t, y, x) centroids and graph ``{daughter: [parent]}`` from
    :func:`napari_sam2.io.exports.tracks_data`. The tracks layer is left out when the masks
    are all background.
    """
    from ..io.exports import read_ctc, tracks_data
    from ..io.lineage_io import read_ctc_ground_truth

    folder = Path(folder)
    kind = _ctc_kind(folder)
    if kind is None:
        raise ValueError(
            f"folder {folder} is not a CTC folder (no res_track.txt, man_track.txt or "
            "TRA/man_track.txt)"
        )
    labels, parents = read_ctc(folder) if kind == "result" else read_ctc_ground_truth(folder)
    name = folder.name or str(folder)
    layers = [(labels, {"name": f"{name} labels"}, "labels")]
    data, graph = tracks_data(labels, parents)
    if len(data):
        layers.append((data, {"name": f"{name} lineage", "graph": graph}, "tracks"))
    return layers
