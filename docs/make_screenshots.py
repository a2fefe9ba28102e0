"""Screenshots for docs/user_guide.md from a real napari window (run under a display, e.g. xvfb-run).

Usage: xvfb-run -a python docs/make_screenshots.py [--checkpoint PATH --model NAME] [--random]
By default the bundled demo model (trained on synthetic cells, not SAM 2 quality) makes the masks;
--checkpoint uses real weights; --random a random-weight model (plumbing only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "images"


def open_viewer(sample: str, image: str, height: int, ckpt, args):
    """A viewer of ``height`` px with the napari-sam2 ``sample`` open, the widget docked and set to the
    model to use (not yet started); returns (viewer, widget, settle), ``settle(condition)`` processing
    events until ``condition()`` holds and no job runs."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_sam2.gui.widget import SAM2Widget
    from napari_sam2.model.configs import DEMO

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, height)
    viewer.open_sample("napari-sam2", sample)
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    if not isinstance(widget, SAM2Widget):
        raise SystemExit("the plugin widget did not load")
    app = QApplication.instance()

    def settle(condition=lambda: True, seconds=120):
        end = time.time() + seconds
        while time.time() < end and not (condition() and not widget.busy):
            app.processEvents()
            time.sleep(0.02)
        for _ in range(20):
            app.processEvents()

    setup = widget.setup
    setup.image.value = viewer.layers[image]
    if ckpt is None:  # the bundled demo model at its own input size
        setup.control("model").value = DEMO
    else:
        setup.control("model").value = args.model or "auto"
        setup.control("checkpoint").value = str(ckpt)
        setup.control("image_size").value = args.image_size
    setup.control("device").value = "cpu"
    viewer.layers["ground truth"].visible = False  # the masks on screen are the model's
    return viewer, widget, settle


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument(
        "--model", default=None, help="model name for --checkpoint (default: the checkpoint's)"
    )
    ap.add_argument(
        "--random", action="store_true", help="random weights instead of the demo model"
    )
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--only", default=None, help="one of timelapse, volume, automatic, windows")
    args = ap.parse_args()
    import torch

    from napari_sam2 import build_sam2_video_predictor

    ckpt = args.checkpoint
    if args.random:
        torch.manual_seed(0)
        model = build_sam2_video_predictor(
            "sam2.1_hiera_tiny", checkpoint=None, image_size=args.image_size
        ).model
        with torch.no_grad():
            model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(3.0)
        ckpt = "/tmp/napari_sam2_screenshot_model.pt"
        torch.save({"model": model.state_dict()}, ckpt)

    OUT.mkdir(exist_ok=True)
    for shot in (timelapse, volume, automatic, windows):
        if args.only in (None, shot.__name__):
            shot(ckpt, args)
    print("wrote", sorted(p.name for p in OUT.glob("*.png")))


def timelapse(ckpt, args) -> None:
    """1_session, 2_clicks, 3_propagated: the cell time-lapse, three cells clicked on frame 0 and tracked."""
    viewer, widget, settle = open_viewer("timelapse", "synthetic cells (T,Y,X)", 900, ckpt, args)
    truth = viewer.layers["ground truth"].data
    viewer.dims.set_current_step(0, 0)
    widget.controller.start_session()
    settle(lambda: widget.controller.session is not None)
    viewer.reset_view()  # fit the image into the canvas the dock widget left
    settle()
    viewer.window.screenshot(str(OUT / "1_session.png"), canvas_only=False)

    for obj in (1, 3, 4):
        if obj > 1:
            widget.controller.add_object()
        y, x = np.argwhere(truth[0] == obj).mean(0)
        widget.controller.add_click(0, y, x)
    settle()
    viewer.window.screenshot(str(OUT / "2_clicks.png"), canvas_only=False)

    widget.controller.propagate("forward")
    settle()
    viewer.dims.set_current_step(0, 12)
    widget.controller.select_object(1)
    widget.scroll_to(widget.tracking)  # the confidence strip
    settle()
    viewer.window.screenshot(str(OUT / "3_propagated.png"), canvas_only=False)
    viewer.close()


def volume(ckpt, args) -> None:
    """4_volume.png: the nuclei volume along z ('slices'), the Advanced section unfolded, three nuclei
    clicked on the middle slice and tracked both directions (red: slices the nucleus is not in)."""
    viewer, widget, settle = open_viewer("volume", "synthetic nuclei (Z,Y,X)", 1000, ckpt, args)
    truth = viewer.layers["ground truth"].data
    widget.setup.control("axis").value = "z"
    widget.setup.advanced_toggle.setChecked(True)
    mid = truth.shape[0] // 2
    viewer.dims.set_current_step(0, mid)
    widget.controller.start_session()
    settle(lambda: widget.controller.session is not None)
    viewer.reset_view()
    ids = [i for i in np.unique(truth[mid]) if i][:3]
    for k, obj in enumerate(ids):
        if k:
            widget.controller.add_object()
        y, x = np.argwhere(truth[mid] == obj).mean(0)
        widget.controller.add_click(mid, y, x)
    settle()
    widget.controller.propagate("both")
    settle()
    widget.controller.select_object(1)
    viewer.dims.set_current_step(0, mid + 3)
    settle()
    viewer.window.screenshot(str(OUT / "4_volume.png"), canvas_only=False)
    viewer.close()


def automatic(ckpt, args) -> None:
    """5_automatic.png: Segment all on frame 0 of the time-lapse, its settings unfolded (the demo's
    own, with a min area of 100 px), the preview of every cell found (before Accept all turns the
    remaining labels into objects)."""
    viewer, widget, settle = open_viewer("timelapse", "synthetic cells (T,Y,X)", 1000, ckpt, args)
    viewer.dims.set_current_step(0, 0)
    widget.controller.start_session()
    settle(lambda: widget.controller.session is not None)
    viewer.reset_view()
    widget.automatic.settings_toggle.setChecked(True)
    widget.automatic.form["min_area"].value = 100  # the demo's own settings, and no debris
    widget.controller.segment_all()
    settle()
    widget.scroll_to(widget.automatic)
    settle()
    viewer.window.screenshot(str(OUT / "5_automatic.png"), canvas_only=False)
    viewer.close()


def windows(ckpt, args) -> None:
    """6_windows.png: a 1024 px movie of small cells in window mode (256 px windows at native scale), eight
    cells clicked on frame 0 and tracked forward; the Advanced section shows the window setting."""
    from napari_sam2.synthetic import synthetic_cells

    viewer, widget, settle = open_viewer("timelapse", "synthetic cells (T,Y,X)", 1000, ckpt, args)
    image, truth = synthetic_cells(n_frames=6, size=(1024, 1024), n_cells=24, seed=11)
    viewer.add_image(image, name="large movie (T,Y,X)")
    for name in ("synthetic cells (T,Y,X)", "ground truth"):
        viewer.layers.remove(name)
    widget.setup.image.value = viewer.layers["large movie (T,Y,X)"]
    widget.setup.advanced_toggle.setChecked(True)
    widget.setup.control("window").value = 256
    viewer.dims.set_current_step(0, 0)
    widget.controller.start_session()
    settle(lambda: widget.controller.session is not None)
    viewer.reset_view()
    for k, obj in enumerate([i for i in np.unique(truth[0]) if i][:8]):
        if k:
            widget.controller.add_object()
        y, x = np.argwhere(truth[0] == obj).mean(0)
        widget.controller.add_click(0, y, x)
        settle()
    widget.controller.propagate("forward")
    settle(seconds=300)
    viewer.dims.set_current_step(0, 5)
    settle()
    viewer.window.screenshot(str(OUT / "6_windows.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main()
