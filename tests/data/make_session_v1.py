"""How the version-1 session files here were made (napari-sam2 on 2026-12-07, before settings became types): kept for the record."""

import numpy as np, tifffile, subprocess, sys
from napari_sam2.synthetic import synthetic_cells
from napari_sam2.engine import TrackingSession
from napari_sam2.io import exports

image, labels = synthetic_cells(n_frames=4, size=(48, 48), n_cells=3, seed=11, radius=(6.0, 8.0))
tifffile.imwrite("/tmp/u/v1movie.tif", image, photometric="minisblack")
ys, xs = np.argwhere(labels[0] == 1).mean(0)
open("/tmp/u/v1p.csv", "w").write(
    f"object_id,frame,y,x,label\n1,0,{ys:.1f},{xs:.1f},1\n1,0,2,2,0\n"
)
b = np.argwhere(labels[0] == 2)
y0, x0 = b.min(0)
y1, x1 = b.max(0)
open("/tmp/u/v1b.csv", "w").write(f"object_id,frame,y0,x0,y1,x1\n2,0,{y0},{x0},{y1},{x1}\n")
rc = subprocess.call(
    [
        sys.executable,
        "-m",
        "napari_sam2.cli",
        "track",
        "/tmp/u/v1movie.tif",
        "--points",
        "/tmp/u/v1p.csv",
        "--boxes",
        "/tmp/u/v1b.csv",
        "--model",
        "demo",
        "--out",
        "/tmp/u/v1l.tif",
        "--session",
        "/tmp/u/v1s.json",
        "--max-batch",
        "8",
        "--exclusive",
        "--overwrite",
        "--threads",
        "1",
    ]
)
assert rc == 0
# the widget's Save session: the session's prompts_dict plus the object names
s = TrackingSession.from_name(image, name="demo", window=None)
s.add_points(0, 1, [[xs, ys]], [1])
s.add_mask(1, 3, labels[1] == 3)
s.add_points(0, 2, None, None, [x0, y0, x1, y1])
s.mark_division(2, 2, [4, 5])
data = s.prompts_dict()
data["names"] = {
    "1": "mother cell",
    "2": "object 2",
    "3": "object 3",
    "4": "object 2.1",
    "5": "object 2.2",
}
exports.write_session_json("/tmp/u/v1w.json", data, overwrite=True)
