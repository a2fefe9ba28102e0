"""Lineage files: Cell Tracking Challenge (CTC) ground-truth folders and GEFF graphs. No napari or Qt imports.

Conventions as in :mod:`napari_sam2.io.exports`: ``labels`` is an integer array (T, Y, X) (a
single (Y, X) frame counts as T=1), 0 is background, every id > 0 is one tracked object, and
``parents`` is ``{daughter_id: parent_id}``. Writers are atomic and refuse to replace an existing
output unless ``overwrite=True``.

CTC ground truth layout (as distributed by the challenge)::

    folder/TRA/man_track000.tif ...   uint16 (Y, X) masks, one per frame (4 digits when T > 1000)
    folder/TRA/man_track.txt          one "L B E P" line per track (label, begin, end, parent or 0)

GEFF (graph exchange file format, https://liveimagetrackingtools.org/geff) is a zarr store with one
node per (object, frame) and directed edges forward in time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .exports import (
    _as_tyx,
    _check_labels,
    _check_parents,
    _measure,
    read_ctc_layout,
    write_ctc_files,
)

GT_MASK_PREFIX = "man_track"
GT_TRACK_FILE = "man_track.txt"


def write_ctc_ground_truth(folder, labels, parents=None, overwrite: bool = False) -> Path:
    """Write labels (T, Y, X) or (Y, X) as a CTC ground-truth folder (``folder/TRA/...``).

    Tracks are split exactly as :func:`~napari_sam2.io.exports.write_ctc` does (an object
    that vanishes and reappears gets a new label whose parent is its earlier run); only the file
    names differ: ``TRA/man_track000.tif``... and ``TRA/man_track.txt``. No ``SEG`` folder is
    written (:func:`napari_sam2.io.evaluate.evaluate_ctc` derives one from TRA when needed).
    Returns ``Path(folder)``.
    """
    with atomic_output(folder, overwrite, folder=True) as tmp:
        tmp.mkdir()
        write_ctc_files(tmp / "TRA", labels, parents, GT_MASK_PREFIX, GT_TRACK_FILE)
    return Path(folder)


def ground_truth_tra(folder) -> Path | None:
    """The folder holding ``man_track.txt``: ``folder/TRA`` or ``folder`` itself; None if neither has it."""
    folder = Path(folder)
    for candidate in (folder / "TRA", folder):
        if (candidate / GT_TRACK_FILE).is_file():
            return candidate
    return None


def read_ctc_ground_truth(folder) -> tuple[np.ndarray, dict]:
    """Read a CTC ground-truth folder (or its ``TRA`` subfolder) written by :func:`write_ctc_ground_truth`.

    Returns ``(labels (T, Y, X) uint16, parents {label: parent} without 0s)`` like
    :func:`~napari_sam2.io.exports.read_ctc`.
    """
    folder = Path(folder)
    tra = ground_truth_tra(folder)
    if tra is None:
        raise ValueError(
            f"folder {folder} has no {GT_TRACK_FILE} (neither in it nor in its TRA subfolder)"
        )
    return read_ctc_layout(tra, GT_MASK_PREFIX, GT_TRACK_FILE)


def lineage_graph(labels, parents=None):
    """The lineage of labels (T, Y, X) as a ``networkx.DiGraph``.

    Nodes are ``0..N-1``, one per (object, frame) where the object has pixels, numbered in order
    of object id then frame; attributes ``t`` (int), ``y``, ``x`` (float centroid, pixels),
    ``label`` (object id) and ``area`` (pixels). Edges point forward in time: from each
    appearance of an object to its next appearance (consecutive frames, or across a gap when the
    object vanished for a while), and from a parent's last appearance before a daughter begins to
    the daughter's first node. Parents absent from ``labels`` (or seen only after the daughter
    begins) give no edge.
    """
    import networkx as nx

    tyx = _as_tyx(_check_labels(labels))
    parent_of = _check_parents(parents)
    graph = nx.DiGraph()
    frames_of: dict[
        int, list[tuple[int, int]]
    ] = {}  # object id -> [(frame, node), ...] in time order
    for node, ((oid, t), (area, cy, cx, _)) in enumerate(sorted(_measure(tyx).items())):
        graph.add_node(node, t=t, y=cy, x=cx, label=oid, area=area)
        frames_of.setdefault(oid, []).append((t, node))
    for appearances in frames_of.values():
        graph.add_edges_from((a[1], b[1]) for a, b in zip(appearances[:-1], appearances[1:]))
    for child, parent in parent_of.items():
        if child not in frames_of or parent not in frames_of:
            continue
        begin, first = frames_of[child][0]
        before = [node for t, node in frames_of[parent] if t < begin]
        if before:
            graph.add_edge(before[-1], first)
    return graph


def write_geff(path, labels, parents=None, overwrite: bool = False) -> Path:
    """Write the lineage of labels (T, Y, X) or (Y, X) as a GEFF zarr store at ``path`` (a directory).

    The graph is :func:`lineage_graph`'s: one node per (object, frame) with properties t, y, x,
    label, area; axes ``t`` (time) and ``y``, ``x`` (space, pixels). The geff package writes it
    (zarr format 2) and checks the store against the GEFF specification before it is moved into
    place. Returns ``Path(path)``.
    """
    import geff

    graph = lineage_graph(labels, parents)
    with atomic_output(path, overwrite, folder=True) as tmp:
        geff.write(
            graph,
            str(tmp),
            axis_names=["t", "y", "x"],
            axis_types=["time", "space", "space"],
            axis_units=[None, "pixel", "pixel"],
            structure_validation=True,
        )
    return Path(path)


def read_geff(path):
    """Read a GEFF store into a ``networkx.DiGraph`` (node attributes as stored, e.g. t, y, x, label, area).

    The store's structure and its graph (unique node ids, edges between existing nodes, no self
    or repeated edges) are validated by the geff package; a failure raises ValueError.
    """
    import geff
    from geff.validate.data import ValidationConfig

    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"path {path} is not a GEFF store (no such directory)")
    try:
        graph, _ = geff.read(
            str(path), structure_validation=True, data_validation=ValidationConfig(graph=True)
        )
    except (KeyError, FileNotFoundError) as exc:
        raise ValueError(f"path {path} is not a valid GEFF store: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"path {path} is not a valid GEFF store: {exc}") from None
    return graph
