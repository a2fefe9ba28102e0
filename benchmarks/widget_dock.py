"""How long docking the SAM 2 widget holds napari's GUI thread, and whether loading the model does.

    xvfb-run -a -s "-screen 0 1600x1100x24" python benchmarks/widget_dock.py
    xvfb-run -a python benchmarks/widget_dock.py --repeats 3 --source /path/to/other/src   # compare

Each run is a fresh process: a napari window (shown) with the 'timelapse' sample open and settled,
then ``Plugins > SAM 2 tracking`` as napari does it (``add_plugin_dock_widget``: the manifest's
command imports the widget module and builds the widget), timed until the event queue is empty
again. Then Start session with the bundled demo model; while the model loads, a 10 ms timer on the
GUI thread records its longest wait (a frozen window is a long wait). ``torch`` says whether docking
imported torch. ``--source`` runs another copy of the package (e.g. an older checkout's ``src``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _worker() -> dict:
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open_sample("napari-sam2", "timelapse")
    app = QApplication.instance()
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    torch_before = "torch" in sys.modules
    t0 = time.perf_counter()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    app.processEvents()
    dock = time.perf_counter() - t0
    torch_after = "torch" in sys.modules

    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    image = viewer.layers["synthetic cells (T,Y,X)"]
    if hasattr(widget, "controller"):  # this package's widget
        widget.setup.image.value = image
        widget.setup.control("model").value = "napari_sam2_demo"
        widget.setup.control("device").value = "cpu"
        widget.controller.start_session()

        def session():
            return widget.controller.session
    else:  # the widget before the gui package
        c = widget._controls
        c.image.value, c.model.value, c.device.value = image, "napari_sam2_demo", "cpu"
        widget.start_session()

        def session():
            return widget.session

    t0 = time.perf_counter()
    while session() is None or widget.busy:
        app.processEvents()
        time.sleep(0.002)
        if time.perf_counter() - t0 > 600:
            break
    ready = time.perf_counter() - t0
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    viewer.close()
    return {
        "dock_s": dock,
        "torch_before": torch_before,
        "torch_after_dock": torch_after,
        "session_ready_s": ready,
        "longest_gui_wait_s": max(gaps, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--source", default=None, help="a folder holding napari_sam2 to import instead"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker()))
        return
    env = dict(os.environ)
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join([args.source, env.get("PYTHONPATH", "")])
    print(f"load average {os.getloadavg()[0]:.2f}; source: {args.source or 'this checkout'}\n")
    print(
        "| run | dock (s) | torch imported by docking | session ready (s) | longest GUI wait "
        "while loading (s) |\n|---|---|---|---|---|"
    )
    for run in range(args.repeats):
        out = subprocess.run(
            [sys.executable, __file__, "--worker"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=900,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        torch = "already" if r["torch_before"] else ("yes" if r["torch_after_dock"] else "no")
        print(
            f"| {run + 1} | {r['dock_s']:.2f} | {torch} | {r['session_ready_s']:.2f} | "
            f"{r['longest_gui_wait_s']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
