"""CTC metrics (py-ctcmetrics) of result folders against ground truth, and `napari-sam2 evaluate`."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.io.evaluate import evaluate_ctc, mask_iou
from napari_sam2.io.exports import write_ctc
from napari_sam2.io.lineage_io import write_ctc_ground_truth
from napari_sam2.synthetic import synthetic_dividing_cells


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """GT folder, a perfect RES folder and a RES folder where daughter 5 is merged into daughter 4."""
    _, labels, parents = synthetic_dividing_cells(
        n_frames=12, size=(128, 128), n_cells=3, seed=3, divide=((1, 6),)
    )
    root = tmp_path_factory.mktemp("ctc")
    gt = write_ctc_ground_truth(root / "01_GT", labels, parents)
    perfect = write_ctc(root / "perfect_RES", labels, parents)
    merged = labels.copy()
    merged[merged == 5] = 4
    merged_res = write_ctc(root / "merged_RES", merged, {4: 1})
    return gt, perfect, merged_res


def test_ground_truth_scores_perfectly(folders):
    gt, perfect, _ = folders
    m = evaluate_ctc(perfect, gt)
    assert m["valid"] is True and m["issues"] == []
    assert m["DET"] == m["SEG"] == m["TRA"] == 1.0
    assert m["AOGM"] == 0
    assert m["gt_divisions"] == 1 and m["tp_div(0)"] == 1 and m["BC(0)"] == 1.0
    assert m["seg_from_tra"] is True
    json.dumps(m, allow_nan=False)  # plain Python values


def test_merged_daughters_score_lower(folders):
    gt, perfect, merged = folders
    m = evaluate_ctc(merged, gt)
    assert m["valid"] is True
    assert m["TRA"] < 1.0 and m["DET"] < 1.0 and m["SEG"] < 1.0
    assert m["AOGM"] > 0
    assert m["BC(0)"] == 0.0 and m["fn_div(0)"] == 1 and m["tp_div(0)"] == 0


def test_missing_division_link_lowers_tra_and_division_score(tmp_path):
    _, labels, parents = synthetic_dividing_cells(
        n_frames=12, size=(128, 128), n_cells=3, seed=3, divide=((1, 6),)
    )
    gt = write_ctc_ground_truth(tmp_path / "gt", labels, parents)
    m = evaluate_ctc(write_ctc(tmp_path / "res", labels), gt)  # same masks, no parents
    assert m["DET"] == 1.0 and m["SEG"] == 1.0
    assert m["TRA"] < 1.0 and m["AOGM_EA"] == 2  # the two parent links must be added
    assert m["BC(0)"] == 0.0


def test_seg_folder_is_used_when_present(tmp_path, folders):
    gt, perfect, _ = folders
    with_seg = tmp_path / "gt_seg"
    shutil.copytree(gt, with_seg)
    (with_seg / "SEG").mkdir()
    # annotate only frame 7, with object 2 cut in half: SEG must drop below 1 for the perfect result
    seg = tifffile.imread(gt / "TRA" / "man_track007.tif")
    rows = np.nonzero((seg == 2).any(axis=1))[0]
    seg[rows[len(rows) // 2] :, :][seg[rows[len(rows) // 2] :, :] == 2] = 0
    tifffile.imwrite(with_seg / "SEG" / "man_seg007.tif", seg)
    m = evaluate_ctc(perfect, with_seg)
    assert m["seg_from_tra"] is False
    assert m["TRA"] == 1.0 and 0.0 < m["SEG"] < 1.0


def test_invalid_result_is_reported_not_scored(tmp_path, folders):
    gt, perfect, _ = folders
    bad = tmp_path / "bad_RES"
    shutil.copytree(perfect, bad)
    (bad / "res_track.txt").write_text("1 0 5 0\n2 0 11 0\n3 0 11 0\n4 6 11 1\n")  # track 5 missing
    m = evaluate_ctc(bad, gt)
    assert m["valid"] is False
    assert m["TRA"] is None and m["DET"] is None
    assert any("5" in issue for issue in m["issues"])


def test_bad_folders_are_named(tmp_path, folders):
    gt, perfect, _ = folders
    with pytest.raises(ValueError, match="pred_folder .*nowhere"):
        evaluate_ctc(tmp_path / "nowhere", gt)
    with pytest.raises(ValueError, match="gt_folder .*TRA/man_track.txt"):
        evaluate_ctc(perfect, perfect)
    with pytest.raises(ValueError, match="pred_folder .*res_track.txt"):
        evaluate_ctc(gt, gt)
    short = tmp_path / "short_RES"
    shutil.copytree(perfect, short)
    (short / "mask011.tif").unlink()
    with pytest.raises(ValueError, match="11 masks .* 12 TRA masks"):
        evaluate_ctc(short, gt)
    orphan = tmp_path / "orphan_RES"
    shutil.copytree(perfect, orphan)
    (orphan / "res_track.txt").write_text("1 0 5 0\n2 0 11 0\n3 0 11 0\n4 6 11 9\n5 6 11 1\n")
    with pytest.raises(ValueError, match="pred_folder .*track 4 has parent 9"):
        evaluate_ctc(orphan, gt)
    (orphan / "res_track.txt").write_text("1 0 5\n")
    with pytest.raises(ValueError, match="pred_folder .*line 1"):
        evaluate_ctc(orphan, gt)
    small = write_ctc(tmp_path / "small_RES", np.zeros((12, 64, 64), np.uint16))
    with pytest.raises(
        ValueError, match=r"small_RES has masks of shape \(64, 64\) but gt_folder .* \(128, 128\)"
    ):
        evaluate_ctc(small, gt)


def table_rows(lines: list[str]) -> dict[str, tuple[str, str]]:
    """``{metric: (value, meaning)}`` of the printed table (columns are separated by two or more spaces)."""
    rows = {}
    for line in lines[1:]:
        if line.startswith(("note:", "issue:", "wrote ")):
            continue
        name, value, *meaning = re.split(r"\s{2,}", line, maxsplit=2)
        rows[name] = (value, meaning[0] if meaning else "")
    return rows


def test_cli_prints_a_table_and_writes_json(tmp_path, capsys, folders):
    gt, perfect, merged = folders
    out = tmp_path / "sub" / "metrics.json"
    assert main(["evaluate", str(merged), str(gt), "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    saved = json.loads(out.read_text())
    assert saved == evaluate_ctc(merged, gt)  # the JSON is the raw result, unchanged
    assert re.split(r"\s{2,}", lines[0]) == ["metric", "value", "meaning"]
    rows = table_rows(lines)
    assert rows["TRA"][0] == f"{saved['TRA']:.3f}" and 0.5 < float(rows["TRA"][0]) < 1.0
    assert rows["TRA"][1].startswith("tracking accuracy")
    assert (
        rows["valid"][0] == "yes"
        and rows["BC(0)"][0] == "0.000"
        and "division F1" in rows["BC(0)"][1]
    )
    assert (
        rows["divisions(0)"][0] == "0 / 0 / 1"
    )  # the merged daughters: the one true division missed
    assert rows["gt_divisions"][0] == "1" and rows["AOGM"][0] == f"{saved['AOGM']:.3f}"
    assert not any("tp_div" in line or ": None" in line for line in lines)
    assert any(line.startswith("note:") and "TRA masks" in line for line in lines)
    assert lines[-1] == f"wrote {out}"

    assert main(["evaluate", str(perfect), str(gt)]) == 0
    rows = table_rows(capsys.readouterr().out.splitlines())
    assert rows["TRA"][0] == rows["DET"][0] == rows["SEG"][0] == "1.000"
    assert rows["BC(0)"][0] == "1.000" and rows["divisions(0)"][0] == "1 / 0 / 0"


def test_cli_shows_missing_values_as_na_with_the_reason(tmp_path, capsys):
    _, labels, parents = synthetic_dividing_cells(
        n_frames=6, size=(64, 64), n_cells=2, seed=3, divide=()
    )
    gt = write_ctc_ground_truth(tmp_path / "gt", labels, parents)
    assert main(["evaluate", str(write_ctc(tmp_path / "res", labels)), str(gt)]) == 0
    rows = table_rows(capsys.readouterr().out.splitlines())
    assert rows["gt_divisions"][0] == "0" and rows["TRA"][0] == "1.000"
    assert rows["BC(0)"][0] == "n/a"
    assert rows["BC(0)"][1].endswith("n/a: no divisions in the ground truth or the result")


def test_cli_invalid_result_says_why_values_are_missing(tmp_path, capsys, folders):
    gt, perfect, _ = folders
    bad = tmp_path / "bad_RES"
    shutil.copytree(perfect, bad)
    (bad / "res_track.txt").write_text("1 0 5 0\n2 0 11 0\n3 0 11 0\n4 6 11 1\n")  # track 5 missing
    assert main(["evaluate", str(bad), str(gt)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = table_rows(lines)
    assert (
        rows["valid"][0] == "no"
        and rows["DET"][0] == "n/a"
        and "failed the format check" in rows["DET"][1]
    )
    assert any(line.startswith("issue:") and "5" in line for line in lines)


def test_mask_iou():
    a = np.zeros((4, 5), bool)
    b = np.zeros((4, 5), bool)
    a[:2] = True  # 10 pixels
    b[1:3] = True  # 10 pixels, 5 shared
    assert mask_iou(a, b) == pytest.approx(5 / 15)
    assert mask_iou(a, a) == 1.0 and mask_iou(a, ~a) == 0.0
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # nothing to find, nothing found
    with pytest.raises(ValueError, match="different shapes"):
        mask_iou(a, b[:3])


def test_cli_bad_folder_exits_2(tmp_path, capsys, folders):
    gt, perfect, _ = folders
    assert main(["evaluate", str(tmp_path / "nowhere"), str(gt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pred_folder") and "nowhere" in err
    assert main(["evaluate", str(perfect), str(tmp_path)]) == 2
    assert "gt_folder" in capsys.readouterr().err
