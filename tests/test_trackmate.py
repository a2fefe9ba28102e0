"""TrackMate XML export: spots, links and divisions written, read back and checked against the masks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from napari_sam2.io.label_files import LabelStack
from napari_sam2.io.trackmate import read_trackmate, write_trackmate


def dividing_movie() -> tuple[np.ndarray, dict]:
    """Cell 1 on frames 0-2 divides into 2 and 3 (frames 3-5); cell 4 stays apart on every frame;
    cell 5 is seen on frame 4 only."""
    labels = np.zeros((6, 40, 50), np.uint16)
    for t in range(3):
        labels[t, 5 + t : 15 + t, 5:17] = 1
    for t in range(3, 6):
        labels[t, 6:12, 4 + t : 10 + t] = 2
        labels[t, 16:23, 6:11] = 3
    labels[:, 30:36, 30:38] = 4
    labels[4, 2:4, 44:47] = 5
    return labels, {2: 1, 3: 1}


def expected_centroid(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(cols.mean()), float(rows.mean())


def spot_of(doc: dict, frame: int, obj: int) -> dict:
    (spot,) = [s for s in doc["spots"][frame] if s["name"] == f"object {obj}"]
    return spot


def test_spots_and_links_match_the_masks(tmp_path):
    labels, parents = dividing_movie()
    path = write_trackmate(tmp_path / "cells.xml", labels, parents)
    doc = read_trackmate(path)

    assert doc["spatial_units"] == "pixel" and doc["time_units"] == "frame"
    assert (
        doc["image"]["width"] == 50
        and doc["image"]["height"] == 40
        and doc["image"]["nframes"] == 6
    )
    assert sorted(doc["spots"]) == list(range(6))
    assert [len(doc["spots"][t]) for t in range(6)] == [2, 2, 2, 3, 4, 3]
    for t in range(6):
        for obj in np.unique(labels[t])[1:]:
            spot = spot_of(doc, t, obj)
            assert spot["frame"] == t
            assert (spot["x"], spot["y"]) == pytest.approx(expected_centroid(labels[t] == obj))
            assert spot["area"] == np.count_nonzero(labels[t] == obj)

    ids = {(s["name"], s["frame"]): s["id"] for frame in doc["spots"].values() for s in frame}
    division = {(ids["object 1", 2], ids["object 2", 3]), (ids["object 1", 2], ids["object 3", 3])}
    assert division <= set(doc["edges"])
    assert (
        len(doc["edges"]) == 2 + 2 + 2 + 2 + 5
    )  # cell 1's, the division's, 2's, 3's, and 4's links
    cell_4 = [(ids["object 4", t], ids["object 4", t + 1]) for t in range(5)]
    # the lineage of 1, 2 and 3 is one track, cell 4 another; cell 5 alone is a spot of no track
    assert sorted(map(sorted, doc["tracks"].values())) == sorted(
        [sorted(set(doc["edges"]) - set(cell_4)), cell_4]
    )
    assert sorted(doc["filtered_tracks"]) == sorted(doc["tracks"])
    assert all(ids["object 5", 4] not in edge for edge in doc["edges"])


def test_the_file_has_trackmate_layout(tmp_path):
    labels, parents = dividing_movie()
    root = ET.parse(write_trackmate(tmp_path / "cells.xml", labels, parents)).getroot()
    assert root.tag == "TrackMate"
    model = root.find("Model")
    assert model.find("AllSpots").get("nspots") == "16"
    spot = model.find("AllSpots/SpotsInFrame/Spot")
    assert {
        "ID",
        "name",
        "FRAME",
        "POSITION_X",
        "POSITION_Y",
        "POSITION_Z",
        "POSITION_T",
        "RADIUS",
        "QUALITY",
    } <= set(spot.attrib)
    division_track = [t for t in model.iterfind("AllTracks/Track") if t.get("NUMBER_SPLITS") == "1"]
    assert len(division_track) == 1 and division_track[0].get("NUMBER_SPOTS") == "9"
    assert root.find("Settings/ImageData").get("nframes") == "6"


def test_spacing_scales_positions_and_area(tmp_path):
    labels, parents = dividing_movie()
    doc = read_trackmate(write_trackmate(tmp_path / "um.xml", labels, parents, spacing=(0.5, 0.25)))
    assert doc["spatial_units"] == "micron"
    spot = spot_of(doc, 0, 4)
    x, y = expected_centroid(labels[0] == 4)
    assert (spot["x"], spot["y"]) == pytest.approx((x * 0.25, y * 0.5))
    assert spot["area"] == pytest.approx(48 * 0.125)
    with pytest.raises(ValueError, match="spacing"):
        write_trackmate(tmp_path / "bad.xml", labels, spacing=(0, 1))


def test_label_stack_is_written_like_the_array(tmp_path):
    labels, parents = dividing_movie()
    stack = LabelStack(*labels.shape, lambda t: labels[t], max_id=5)
    a = read_trackmate(write_trackmate(tmp_path / "a.xml", labels, parents))
    b = read_trackmate(write_trackmate(tmp_path / "b.xml", stack, parents))
    assert a == b


def test_existing_file_is_refused_without_overwrite(tmp_path):
    labels, parents = dividing_movie()
    path = tmp_path / "cells.xml"
    path.write_text("keep me")
    with pytest.raises(FileExistsError) as info:
        write_trackmate(path, labels, parents)
    assert info.value.filename == str(path) and path.read_text() == "keep me"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    write_trackmate(path, labels, parents, overwrite=True)
    assert len(read_trackmate(path)["edges"]) == 13


def test_reader_names_bad_files(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<Other/>")
    with pytest.raises(ValueError, match="bad.xml is not a TrackMate XML file"):
        read_trackmate(bad)
    bad.write_text("not xml")
    with pytest.raises(ValueError, match="bad.xml is not an XML file"):
        read_trackmate(bad)
    bad.write_text(
        '<TrackMate><Model><AllSpots><SpotsInFrame frame="0">'
        '<Spot ID="0" FRAME="0" POSITION_X="1" POSITION_Y="2"/></SpotsInFrame></AllSpots>'
        '<AllTracks><Track TRACK_ID="0"><Edge SPOT_SOURCE_ID="0" SPOT_TARGET_ID="7"/></Track></AllTracks>'
        "</Model></TrackMate>"
    )
    with pytest.raises(ValueError, match="track 0 links spots \\(0, 7\\)"):
        read_trackmate(bad)


def test_track_outputs_check_the_trackmate_file_before_compute(tmp_path):
    from napari_sam2.settings import OutputSettings, SettingError

    outputs = OutputSettings(out=tmp_path / "l.tif", trackmate=tmp_path / "cells.xml")
    outputs.check_paths()
    assert outputs.trackmate == tmp_path / "cells.xml"
    with pytest.raises(SettingError) as info:
        OutputSettings(out=tmp_path / "l.tif", trackmate=tmp_path / "cells.csv")
    assert info.value.worded().startswith("--trackmate must end in .xml")
    with pytest.raises(SettingError) as info:
        OutputSettings(
            out=tmp_path / "l.tif", table=tmp_path / "x.xml", trackmate=tmp_path / "x.xml"
        )
    assert info.value.worded().startswith("--table must end in .csv")
    (tmp_path / "cells.xml").write_text("")
    with pytest.raises(FileExistsError) as info:
        outputs.check_paths()
    assert info.value.filename == str(tmp_path / "cells.xml")
    outputs.replaced(overwrite=True).check_paths()
