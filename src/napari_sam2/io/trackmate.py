"""TrackMate XML files (what Fiji's TrackMate saves and opens): write a tracked label time-lapse, read one back.

Conventions as in :mod:`napari_sam2.io.exports`: ``labels`` is an integer array (T, Y, X) (a
single (Y, X) frame counts as T=1) or a :class:`~napari_sam2.io.label_files.LabelStack`, 0 is
background, every id > 0 is one tracked object, ``parents`` is ``{daughter_id: parent_id}``.

The file follows TrackMate's layout: a ``TrackMate`` root holding a ``Model`` (with
``spatialunits`` and ``timeunits``) whose ``AllSpots`` lists ``SpotsInFrame`` groups of ``Spot``
elements, whose ``AllTracks`` lists ``Track`` elements made of ``Edge`` links, and whose
``FilteredTracks`` names the visible tracks; ``Settings/ImageData`` gives the image size.
A spot is one object on one frame: its position is the mask's centroid (``POSITION_X`` is the
column, ``POSITION_Y`` the row, times the pixel size), ``AREA`` its area and ``RADIUS`` that of
the disc of the same area. Spots are linked as in :func:`napari_sam2.io.lineage_io.lineage_graph`
(each appearance to the object's next, a parent's last spot to each daughter's first), and each
connected group of linked spots is one TrackMate track.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx

from .atomic import atomic_output
from .exports import _as_tyx, _check_labels
from .lineage_io import lineage_graph

TRACKMATE_VERSION = "7.11.1"  # the file layout of TrackMate 7, which Fiji ships

# (feature, name, short name, dimension, is an integer) of what each element carries
_SPOT_FEATURES = (
    ("QUALITY", "Quality", "Quality", "QUALITY", False),
    ("POSITION_X", "X", "X", "POSITION", False),
    ("POSITION_Y", "Y", "Y", "POSITION", False),
    ("POSITION_Z", "Z", "Z", "POSITION", False),
    ("POSITION_T", "T", "T", "TIME", False),
    ("FRAME", "Frame", "Frame", "NONE", True),
    ("RADIUS", "Radius", "R", "LENGTH", False),
    ("VISIBILITY", "Visibility", "Visibility", "NONE", True),
    ("AREA", "Area", "Area", "AREA", False),
)
_EDGE_FEATURES = (
    ("SPOT_SOURCE_ID", "Source spot ID", "Source ID", "NONE", True),
    ("SPOT_TARGET_ID", "Target spot ID", "Target ID", "NONE", True),
)
_TRACK_FEATURES = (
    ("TRACK_ID", "Track ID", "ID", "NONE", True),
    ("TRACK_INDEX", "Track index", "Index", "NONE", True),
    ("NUMBER_SPOTS", "Number of spots in track", "N spots", "NONE", True),
    ("NUMBER_SPLITS", "Number of split events", "N splits", "NONE", True),
    ("TRACK_START", "Track start", "Track start", "TIME", False),
    ("TRACK_STOP", "Track stop", "Track stop", "TIME", False),
)


def _pixel_size(spacing) -> tuple[float, float]:
    """``(dy, dx)`` from None (pixels), one number (square pixels) or a pair."""
    if spacing is None:
        return 1.0, 1.0
    pair = (spacing, spacing) if isinstance(spacing, (int, float)) else tuple(spacing)
    try:
        dy, dx = (float(s) for s in pair)
    except (TypeError, ValueError):
        raise ValueError(
            f"spacing must be a positive number or two (dy, dx), got {spacing!r}"
        ) from None
    if not (dy > 0 and dx > 0 and math.isfinite(dy) and math.isfinite(dx)):
        raise ValueError(f"spacing must be a positive number or two (dy, dx), got {spacing!r}")
    return dy, dx


def _declarations(parent: ET.Element) -> None:
    decl = ET.SubElement(parent, "FeatureDeclarations")
    for tag, features in (
        ("SpotFeatures", _SPOT_FEATURES),
        ("EdgeFeatures", _EDGE_FEATURES),
        ("TrackFeatures", _TRACK_FEATURES),
    ):
        group = ET.SubElement(decl, tag)
        for feature, name, short, dimension, is_int in features:
            ET.SubElement(
                group,
                "Feature",
                feature=feature,
                name=name,
                shortname=short,
                dimension=dimension,
                isint=str(is_int).lower(),
            )


def _spots(model: ET.Element, graph: nx.DiGraph, dy: float, dx: float) -> None:
    all_spots = ET.SubElement(model, "AllSpots", nspots=str(graph.number_of_nodes()))
    by_frame: dict[int, list[int]] = {}
    for node, t in graph.nodes(data="t"):
        by_frame.setdefault(t, []).append(node)
    for t in sorted(by_frame):
        group = ET.SubElement(all_spots, "SpotsInFrame", frame=str(t))
        for node in by_frame[t]:
            n = graph.nodes[node]
            area = n["area"] * dy * dx
            ET.SubElement(
                group,
                "Spot",
                ID=str(node),
                name=f"object {n['label']}",
                VISIBILITY="1",
                QUALITY="1.0",
                POSITION_X=repr(n["x"] * dx),
                POSITION_Y=repr(n["y"] * dy),
                POSITION_Z="0.0",
                POSITION_T=repr(float(t)),
                FRAME=str(t),
                RADIUS=repr(math.sqrt(area / math.pi)),
                AREA=repr(area),
            )


def _tracks(model: ET.Element, graph: nx.DiGraph) -> list[int]:
    """Write AllTracks (one track per connected group of linked spots); return the track ids."""
    all_tracks = ET.SubElement(model, "AllTracks")
    groups = sorted(
        (sorted(g) for g in nx.weakly_connected_components(graph) if len(g) > 1), key=lambda g: g[0]
    )
    for track_id, nodes in enumerate(groups):
        edges = sorted(graph.subgraph(nodes).edges())
        times = [graph.nodes[n]["t"] for n in nodes]
        splits = sum(graph.out_degree(n) > 1 for n in nodes)
        track = ET.SubElement(
            all_tracks,
            "Track",
            name=f"Track_{track_id}",
            TRACK_ID=str(track_id),
            TRACK_INDEX=str(track_id),
            NUMBER_SPOTS=str(len(nodes)),
            NUMBER_SPLITS=str(splits),
            TRACK_START=repr(float(min(times))),
            TRACK_STOP=repr(float(max(times))),
        )
        for source, target in edges:
            ET.SubElement(track, "Edge", SPOT_SOURCE_ID=str(source), SPOT_TARGET_ID=str(target))
    return list(range(len(groups)))


def write_trackmate(path, labels, parents=None, overwrite: bool = False, spacing=None) -> Path:
    """Write labels (T, Y, X) or (Y, X) and their lineage as a TrackMate XML file at ``path``.

    ``spacing``: the pixel size in microns, one number or ``(dy, dx)``; positions, radii and
    areas are then in microns (``spatialunits="micron"``), else in pixels (``"pixel"``). Time
    is in frames. Spot ids are numbered from 0 in order of object id, then frame; every spot
    has ``QUALITY`` 1 (the masks are given, not detected). Lone spots (an object on a single
    frame, without parent or daughters) are spots of no track, as in TrackMate. Atomic, and an
    existing ``path`` is refused unless ``overwrite``, like every writer of
    :mod:`napari_sam2.io.exports`. Returns ``Path(path)``.
    """
    dy, dx = _pixel_size(spacing)
    tyx = _as_tyx(_check_labels(labels))
    graph = lineage_graph(tyx, parents)
    root = ET.Element("TrackMate", version=TRACKMATE_VERSION)
    model = ET.SubElement(
        root, "Model", spatialunits="pixel" if spacing is None else "micron", timeunits="frame"
    )
    _declarations(model)
    _spots(model, graph, dy, dx)
    track_ids = _tracks(model, graph)
    filtered = ET.SubElement(model, "FilteredTracks")
    for track_id in track_ids:
        ET.SubElement(filtered, "TrackID", TRACK_ID=str(track_id))
    settings = ET.SubElement(root, "Settings")
    n_frames, height, width = tyx.shape
    ET.SubElement(
        settings,
        "ImageData",
        filename="",
        folder="",
        width=str(width),
        height=str(height),
        nslices="1",
        nframes=str(n_frames),
        pixelwidth=repr(dx),
        pixelheight=repr(dy),
        voxeldepth="1.0",
        timeinterval="1.0",
    )
    ET.indent(root)
    with atomic_output(path, overwrite) as tmp:
        ET.ElementTree(root).write(tmp, encoding="UTF-8", xml_declaration=True)
    return Path(path)


def read_trackmate(path) -> dict:
    """Read a TrackMate XML file (as :func:`write_trackmate` or TrackMate writes it).

    Returns a dict with ``spatial_units`` and ``time_units`` (str), ``image`` (the ``ImageData``
    attributes as numbers, or ``{}``), ``spots`` ``{frame: [spot, ...]}`` where a spot is a dict
    with ``id``, ``frame`` (int), ``x``, ``y`` (float, in ``spatial_units``), ``area`` (float, or
    None when the file has none) and ``name``; ``edges`` (sorted ``(source id, target id)`` of
    every track); ``tracks`` ``{track id: [(source id, target id), ...]}``; ``filtered_tracks``
    (track ids). A ValueError names the file when it is not TrackMate XML, a spot lacks ID,
    FRAME or position, sits in the wrong frame group, or an edge or filtered track points at
    something that does not exist.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path} is not an XML file: {exc}") from None
    model = root.find("Model")
    if root.tag != "TrackMate" or model is None or model.find("AllSpots") is None:
        raise ValueError(f"{path} is not a TrackMate XML file (no TrackMate/Model/AllSpots)")
    spots = _read_spots(path, model.find("AllSpots"))
    ids = {s["id"] for frame in spots.values() for s in frame}
    tracks = _read_tracks(path, model.find("AllTracks"), ids)
    filtered = [_int_attr(path, e, "TRACK_ID") for e in model.iterfind("FilteredTracks/TrackID")]
    unknown = sorted(set(filtered) - set(tracks))
    if unknown:
        raise ValueError(
            f"{path}: FilteredTracks names tracks {unknown} that AllTracks does not have"
        )
    image = root.find("Settings/ImageData")
    return {
        "spatial_units": model.get("spatialunits", ""),
        "time_units": model.get("timeunits", ""),
        "image": {}
        if image is None
        else {k: _number(v) for k, v in image.attrib.items() if k not in ("filename", "folder")},
        "spots": spots,
        "edges": sorted(e for edges in tracks.values() for e in edges),
        "tracks": tracks,
        "filtered_tracks": filtered,
    }


def _int_attr(path: Path, element: ET.Element, key: str) -> int:
    try:
        return int(element.get(key))
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}: a {element.tag} without an integer {key}: {element.attrib}"
        ) from None


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _read_spots(path: Path, all_spots: ET.Element) -> dict[int, list[dict]]:
    spots: dict[int, list[dict]] = {}
    for group in all_spots.iterfind("SpotsInFrame"):
        for spot in group.iterfind("Spot"):
            try:
                record = {
                    "id": int(spot.get("ID")),
                    "frame": int(float(spot.get("FRAME"))),
                    "x": float(spot.get("POSITION_X")),
                    "y": float(spot.get("POSITION_Y")),
                    "area": None if spot.get("AREA") is None else float(spot.get("AREA")),
                    "name": spot.get("name", ""),
                }
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}: a spot without a numeric ID, FRAME, POSITION_X or POSITION_Y: "
                    f"{spot.attrib}"
                ) from None
            if group.get("frame") is not None and int(group.get("frame")) != record["frame"]:
                raise ValueError(
                    f"{path}: spot {record['id']} of frame {record['frame']} is listed in frame "
                    f"{group.get('frame')}"
                )
            spots.setdefault(record["frame"], []).append(record)
    return dict(sorted(spots.items()))


def _read_tracks(
    path: Path, all_tracks: ET.Element | None, ids: set[int]
) -> dict[int, list[tuple[int, int]]]:
    tracks: dict[int, list[tuple[int, int]]] = {}
    for track in [] if all_tracks is None else all_tracks.iterfind("Track"):
        edges = []
        for edge in track.iterfind("Edge"):
            link = (
                _int_attr(path, edge, "SPOT_SOURCE_ID"),
                _int_attr(path, edge, "SPOT_TARGET_ID"),
            )
            if not set(link) <= ids:
                raise ValueError(
                    f"{path}: track {track.get('TRACK_ID')} links spots {link}, not all of which exist"
                )
            edges.append(link)
        tracks[_int_attr(path, track, "TRACK_ID")] = sorted(edges)
    return tracks
