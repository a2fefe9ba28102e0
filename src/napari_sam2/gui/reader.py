"""npe2 reader: open a Cell Tracking Challenge folder as a Labels and a Tracks layer (no napari or
Qt imports).

Accepted folders:

* a CTC result folder: ``mask000.tif``... + ``res_track.txt`` (as written by ``track --ctc``);
* a CTC ground-truth folder: ``TRA/man_track000.tif``... + ``TRA/man_track.txt``, or that ``TRA``
  folder itself.
"""

from __future__ import annotations

from pathlib import Path


def _ctc_kind(path: Path) -> str | None:
    """ "result", "ground_truth" or None, from file names only (nothing is read)."""
    if not path.is_dir():
        return None
    if (path / "res_track.txt").is_file():
        return "result"
    if (path / "man_track.txt").is_file() or (path / "TRA" / "man_track.txt").is_file():
        return "ground_truth"
    return None


def get_reader(path):
    """Return a reader function for a CTC folder ``path``, or None for anything else.

    Only checks which files exist (cheap). A list of paths, a file or any other folder gives None.
    """
    if isinstance(path, (list, tuple)):
        return None
    folder = Path(path)
    kind = _ctc_kind(folder)
    if kind is None:
        return None

    def read(_path=None) -> list[tuple]:
        return read_ctc_folder(folder)

    return read


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
