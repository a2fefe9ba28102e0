"""The npe2 manifest and the sample data as napari sees them."""

from __future__ import annotations

import numpy as np
import pytest


def test_manifest_is_valid_and_found():
    npe2 = pytest.importorskip("npe2")
    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-sam2")
    assert manifest.display_name == "SAM 2 for microscopy"
    assert [s.key for s in manifest.contributions.sample_data] == ["timelapse"]


def test_synthetic_cells_ground_truth_matches_the_image():
    from napari_sam2.synthetic import synthetic_cells

    image, labels = synthetic_cells(n_frames=4, size=(80, 90), n_cells=3, seed=2)
    assert image.shape == labels.shape == (4, 80, 90) and image.dtype == np.uint16
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
    assert inside > outside + 800
    # cells move between frames
    assert not np.array_equal(labels[0], labels[-1])


@pytest.mark.gui
def test_sample_opens_in_napari(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", "timelapse")
    names = [layer.name for layer in viewer.layers]
    assert names == ["synthetic cells (T,Y,X)", "ground truth"]
    assert viewer.layers[0].data.shape == (20, 256, 256)
    assert viewer.dims.ndim == 3


def test_imports_stay_light():
    """napari's plugin discovery imports the package: that must not pull in torch, and the
    model and predictors must work without napari or Qt."""
    import subprocess
    import sys

    code = ("import sys, napari_sam2; assert 'torch' not in sys.modules, 'torch imported';"
            "from napari_sam2 import build_sam2, build_sam2_video_predictor, SAM2ImagePredictor;"
            "bad = [m for m in ('napari', 'qtpy', 'PySide6', 'PyQt5', 'magicgui') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
