"""The io layer stays torch-free: its modules import, write and read files without loading torch, napari or Qt."""

from __future__ import annotations

import subprocess
import sys

# runs in a fresh interpreter: the test session itself has torch loaded already
CHILD = """
import sys
import numpy as np
import napari_sam2.io.exports, napari_sam2.io.label_files, napari_sam2.io.lineage_io, napari_sam2.io.evaluate
import napari_sam2.io.readers, napari_sam2.io.trackmate, napari_sam2.gui.writer
from napari_sam2.gui.writer import write_labels
from napari_sam2.io.label_files import LabelStack

labels = np.zeros((3, 8, 9), np.uint16)
labels[:, 2:5, 3:7] = 4
labels[1, 6:8, 0:2] = 70
path = sys.argv[1] + "/labels.tif"
assert write_labels(path, labels, {}) == [path]
back = LabelStack.from_file(path)
assert back.shape == (3, 8, 9) and np.array_equal(np.stack(list(back)), labels)
napari_sam2.io.trackmate.write_trackmate(sys.argv[1] + "/t.xml", back, {70: 4})
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "napari", "qtpy", "PyQt5", "PyQt6", "PySide2",
                                                         "PySide6", "magicgui"})
print("heavy:", heavy)
"""


def test_io_modules_read_and_write_without_torch(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "heavy: []"
    assert (tmp_path / "labels.tif").stat().st_size > 3 * 8 * 9 * 2
    assert (tmp_path / "t.xml").read_text().count("<Spot ") == 4
