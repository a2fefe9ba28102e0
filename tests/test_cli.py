"""The `napari-sam2 segment` command."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2 import SAM2ImagePredictor, build_sam2
from napari_sam2.cli import main
from napari_sam2.synthetic import synthetic_cells


def _checkpoint(tmp_path):
    torch.manual_seed(5)
    model = build_sam2("sam2.1_hiera_tiny", image_size=256)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict()}, path)
    return model, path


def test_segment_writes_the_predictor_mask(tmp_path, capsys):
    model, ckpt = _checkpoint(tmp_path)
    stack, _ = synthetic_cells(n_frames=3, size=(96, 120), n_cells=3, seed=4)
    src = tmp_path / "movie.tif"
    tifffile.imwrite(src, stack)
    out = tmp_path / "out" / "mask.tif"
    rc = main(["segment", str(src), "--frame", "2", "--point", "40,30", "--point", "80,60,0",
               "--checkpoint", str(ckpt), "--image-size", "256", "--out", str(out)])
    assert rc == 0
    written = tifffile.imread(out)
    pred = SAM2ImagePredictor(model)
    pred.set_image(stack[2])
    masks, scores, _ = pred.predict(np.array([[40.0, 30.0], [80.0, 60.0]]), np.array([1, 0]),
                                    multimask_output=False)
    assert written.shape == (96, 120) and written.dtype == np.uint8
    assert np.array_equal(written.astype(bool), masks[0])
    assert "wrote" in capsys.readouterr().out


def test_segment_sample_reports_iou(tmp_path, capsys):
    _, ckpt = _checkpoint(tmp_path)
    rc = main(["segment", "sample", "--point", "128,128", "--checkpoint", str(ckpt), "--image-size", "256",
               "--out", str(tmp_path / "m.tif")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "predicted IoU" in text


@pytest.mark.parametrize("args, message", [
    (["segment", "missing.tif", "--point", "1,1", "--out", "x.tif"], "not found"),
    (["segment", "sample", "--out", "x.tif"], "at least one --point"),
])
def test_segment_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message):
        main(args)


def test_segment_point_outside_image_is_reported(tmp_path, capsys):
    rc = main(["segment", "sample", "--point", "900,5", "--image-size", "256", "--out", str(tmp_path / "m.tif")])
    assert rc == 2
    assert "outside the 256x256 image" in capsys.readouterr().err
    assert not (tmp_path / "m.tif").exists()


def test_segment_frame_out_of_range(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((2, 16, 16), np.uint16))
    with pytest.raises(SystemExit, match="--frame 5 is outside the stack of 2 frames"):
        main(["segment", str(tmp_path / "s.tif"), "--frame", "5", "--point", "1,1", "--out", "x.tif"])
