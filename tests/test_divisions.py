"""Cell divisions in the engine: lineage, life spans, suggestions, exports with parents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import present_model
from napari_sam2.engine import TrackingSession
from napari_sam2.engine.exports import read_ctc, tracks_data, write_ctc
from napari_sam2.engine.session import FrameResult
from napari_sam2.synthetic import synthetic_dividing_cells

SIZE = 128


@pytest.fixture(scope="module")
def model():
    return present_model(SIZE, seed=3)


@pytest.fixture(scope="module")
def movie():
    return synthetic_dividing_cells(n_frames=10, size=(96, 96), n_cells=2, seed=4, divide=((1, 5),),
                                    radius=(8.0, 11.0))


def centre(labels, frame, obj):
    y, x = np.argwhere(labels[frame] == obj).mean(0)
    return [[float(x), float(y)]]


def test_division_gives_the_lineage_and_life_spans(model, movie):
    image, truth, parents = movie
    assert parents == {3: 1, 4: 1}
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(truth, 0, 1), [1])
    s.add_points(0, 2, centre(truth, 0, 2), [1])
    s.propagate("forward")
    assert 7 in s.objects[1].results
    s.divide(1, 5, {3: {"points": centre(truth, 5, 3), "labels": [1]},
                    4: {"points": centre(truth, 5, 4), "labels": [1]}})
    assert max(s.objects[1].results) == 4  # the parent's track now ends before the division
    s.propagate("both", obj_ids=[3, 4])
    for d in (3, 4):
        assert sorted(s.objects[d].results) == list(range(5, 10))  # never before the division
    s.propagate("forward")  # a full forward pass does not revive the parent
    assert max(s.objects[1].results) == 4
    assert s.parents == {3: 1, 4: 1}
    labels = s.labels()
    _, graph = tracks_data(labels, s.parents)
    present = set(np.unique(labels))
    assert {d: graph[d] for d in (3, 4) if d in present} == {d: [1] for d in (3, 4) if d in present}


def test_division_errors(model, movie):
    image, truth, _ = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(truth, 0, 1), [1])
    s.add_points(7, 1, centre(truth, 4, 1), [1])
    with pytest.raises(ValueError, match=r"prompts on frame\(s\) \[7\]"):
        s.mark_division(1, 5, [3, 4])
    s.clear_prompts(7, 1)
    s.add_points(0, 2, centre(truth, 0, 2), [1])
    with pytest.raises(ValueError, match=r"ids \[2\] are already used"):
        s.mark_division(1, 5, [2, 3])
    with pytest.raises(ValueError, match="distinct new object ids"):
        s.mark_division(1, 5, [1, 3])
    with pytest.raises(ValueError, match="at least 1"):
        s.mark_division(1, 0, [3, 4])
    s.mark_division(1, 5, [3, 4])
    with pytest.raises(ValueError, match="starts at frame 5"):
        s.add_points(2, 3, centre(truth, 2, 1), [1])
    with pytest.raises(ValueError, match="divided after frame 4"):
        s.add_points(6, 1, centre(truth, 4, 1), [1])
    s.remove_object(1)
    assert s.parents == {} and s.ends == {}


def test_saved_session_keeps_divisions(model, movie):
    import json

    image, truth, _ = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(truth, 0, 1), [1])
    s.divide(1, 5, {3: {"points": centre(truth, 5, 3), "labels": [1]}, 4: {"mask": truth[5] == 4}})
    s.propagate("forward")
    saved = json.loads(json.dumps(s.prompts_dict()))
    assert saved["divisions"] == [{"parent": 1, "frame": 5, "daughters": [3, 4]}]
    t = TrackingSession(model, image)
    t.load_prompts(saved)
    t.propagate("forward")
    assert t.parents == s.parents and np.array_equal(t.labels(), s.labels())


def test_ctc_export_carries_parents(tmp_path, movie):
    _, truth, parents = movie
    write_ctc(tmp_path / "RES", truth, parents=parents)
    lines = (tmp_path / "RES" / "res_track.txt").read_text().split("\n")
    assert "3 5 9 1" in lines and "4 5 9 1" in lines and "1 0 4 0" in lines
    labels, back = read_ctc(tmp_path / "RES")
    assert back == {3: 1, 4: 1} and np.array_equal(labels, truth)


def _result(mask_lowres, score=5.0):
    logits = torch.where(torch.as_tensor(mask_lowres), 10.0, -10.0).float()[None, None]
    return FrameResult(logits, torch.zeros(1, 256), score, 0.9, "forward")


def test_division_suggestions_on_known_masks(model):
    image = np.zeros((6, 64, 64), np.uint16)
    s = TrackingSession(model, image, fill_hole_area=0)
    s.add_points(0, 1, [[20.0, 20.0]], [1])
    grid = SIZE // 4
    yy, xx = np.mgrid[:grid, :grid]
    whole = (yy - 16) ** 2 + (xx - 16) ** 2 < 64              # one round cell
    two = ((yy - 16) ** 2 + (xx - 10) ** 2 < 30) | ((yy - 16) ** 2 + (xx - 22) ** 2 < 30)  # two halves apart
    half = (yy - 16) ** 2 + (xx - 16) ** 2 < 25
    obj = s.objects[1]
    obj.results = {0: obj.results[0], 1: _result(whole), 2: _result(whole), 3: _result(two), 4: _result(half),
                   5: _result(half, score=-3.0)}
    found = {d["frame"]: d["reasons"] for d in s.division_suggestions()}
    assert found[3] == ["split"]
    assert "area drop" in found[4]
    assert found[5] == ["score collapse"] or "score collapse" in found[5]
    assert 2 not in found


def test_divisions_by_prompts_export_a_valid_ctc_result(model, movie, tmp_path):
    """Engine -> CTC result folder: the lineage is right, the metric library accepts the folder,
    and napari's reader brings it back."""
    from napari_sam2._reader import get_reader
    from napari_sam2.engine.evaluate import evaluate_ctc
    from napari_sam2.engine.lineage_io import read_geff, write_ctc_ground_truth, write_geff

    image, truth, parents = movie
    s = TrackingSession(model, image)
    s.add_points(0, 1, centre(truth, 0, 1), [1])
    s.add_points(0, 2, centre(truth, 0, 2), [1])
    s.propagate()
    s.divide(1, 5, {3: {"mask": truth[5] == 3}, 4: {"mask": truth[5] == 4}})
    s.propagate(start=5)
    labels = s.labels()
    write_ctc(tmp_path / "RES", labels, parents=s.parents)
    write_ctc_ground_truth(tmp_path / "GT", truth, parents=parents)
    lines = (tmp_path / "RES" / "res_track.txt").read_text().split("\n")
    assert any(line.startswith("3 5 ") and line.endswith(" 1") for line in lines)
    assert any(line.startswith("4 5 ") and line.endswith(" 1") for line in lines)
    scores = evaluate_ctc(tmp_path / "RES", tmp_path / "GT")
    assert scores["valid"] is True and 0.0 <= scores["TRA"] <= 1.0
    # the metric itself, on results whose score is known: the truth scores 1; the truth without its two
    # division links costs exactly two missing edges (1.5 each in AOGM), so TRA = 1 - 3 / AOGM_0, where
    # AOGM_0 (building the truth from nothing) = 10 per detection + 1.5 per link
    write_ctc(tmp_path / "PERFECT", truth, parents=parents)
    perfect = evaluate_ctc(tmp_path / "PERFECT", tmp_path / "GT")
    assert perfect["valid"] and perfect["TRA"] == pytest.approx(1.0) and perfect["AOGM"] == pytest.approx(0.0)
    detections = sum(len(np.unique(frame)) - 1 for frame in truth)
    links = sum(len(np.flatnonzero([(frame == obj).any() for frame in truth])) - 1
                for obj in np.unique(truth)[1:]) + len(parents)
    aogm_0 = 10.0 * detections + 1.5 * links
    write_ctc(tmp_path / "ORPHANS", truth, parents=None)
    orphans = evaluate_ctc(tmp_path / "ORPHANS", tmp_path / "GT")
    assert orphans["AOGM_0"] == pytest.approx(aogm_0) and orphans["AOGM"] == pytest.approx(3.0)
    assert orphans["TRA"] == pytest.approx(1.0 - 3.0 / aogm_0) and scores["TRA"] < perfect["TRA"]
    layers = get_reader(str(tmp_path / "RES"))(str(tmp_path / "RES"))
    kinds = {kind for _, _, kind in layers}
    assert kinds == {"labels", "tracks"}
    back = next(data for data, _, kind in layers if kind == "labels")
    assert np.array_equal(back > 0, labels > 0)
    graph = read_geff(write_geff(tmp_path / "lineage.zarr", labels, s.parents))
    assert graph.number_of_nodes() == sum(len(np.unique(f)) - 1 for f in labels)
