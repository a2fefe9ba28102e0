"""Forward in the napari widget on a quiet and on a loaded CPU, with the default threads and all cores.

    xvfb-run -a -s "-screen 0 1600x1100x24" python benchmarks/widget_load.py
    xvfb-run -a python benchmarks/widget_load.py --busy 2 --repeats 2 --max-wait 600
    xvfb-run -a python benchmarks/widget_load.py --threads 2     # one thread count only

Each run is a fresh process with a real napari window: the 'timelapse' sample, the SAM 2 tracking dock
widget with the bundled demo model on the CPU, one click on each of the 6 cells of frame 0 (the centroids
of the 'ground truth' labels), then ``widget.controller.propagate("forward")`` (what the Forward button calls). The
time is from that call until the widget is no longer busy, the Qt event loop running all the while
(``processEvents``), as in a real window. "loaded" starts ``--busy`` pure-Python busy loops (other programs
on the machine) before the run and stops them after.

A quiet run waits until the 1-minute load average is below ``--quiet-load`` (other jobs on the machine
would make it a loaded run); after ``--max-wait`` seconds in all it runs anyway and says so in the table.
Prints a markdown table (docs/threads.md has a recorded run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1000003


def _worker(threads: int | None) -> dict:
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from napari_sam2.model.configs import DEMO

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open_sample("napari-sam2", "timelapse")
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    app = QApplication.instance()

    def settle(condition=lambda: True, seconds=1800.0) -> None:
        end = time.time() + seconds
        while time.time() < end and not (condition() and not widget.busy):
            app.processEvents()
            time.sleep(0.005)
        app.processEvents()

    c, setup = widget.controller, widget.setup
    if threads is not None:
        setup.control("threads").value = threads
    setup.image.value = viewer.layers["synthetic cells (T,Y,X)"]
    setup.control("model").value = DEMO
    setup.control("device").value = "cpu"
    c.start_session()
    settle(lambda: c.session is not None)
    truth = viewer.layers["ground truth"].data
    ids = [int(i) for i in np.unique(truth[0]) if i]
    t0 = time.perf_counter()
    for k, obj in enumerate(ids):
        if k:
            c.add_object()
        y, x = np.argwhere(truth[0] == obj).mean(0)
        c.add_click(0, y, x)
    settle()
    clicks = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.propagate("forward")
    settle()
    forward = time.perf_counter() - t0
    status = widget.status.text
    frames = int(c.session.num_frames)
    n_threads = int(c.settings.model.threads)
    viewer.close()
    return {
        "forward": forward,
        "clicks": clicks,
        "threads": n_threads,
        "objects": len(ids),
        "frames": frames,
        "status": status,
    }


def _load1() -> float:
    return os.getloadavg()[0]


def _wait_quiet(limit: float, deadline: float) -> tuple[bool, float]:
    """Wait (up to ``deadline``) for the 1-minute load average to drop below ``limit``."""
    while True:
        load = _load1()
        if load < limit:
            return True, load
        if time.time() >= deadline:
            return False, load
        print(f"  waiting: load average {load:.2f} >= {limit}", file=sys.stderr, flush=True)
        time.sleep(15)


def _run(threads: int | None, busy: int) -> dict:
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        args = [sys.executable, __file__, "--worker", "0" if threads is None else str(threads)]
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=3600)
    finally:
        stop.set()
        for p in spinners:
            p.join()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quiet-load", type=float, default=1.0)
    parser.add_argument(
        "--max-wait", type=float, default=600.0, help="seconds of waiting for quiet, in all"
    )
    parser.add_argument(
        "--threads",
        default=None,
        help="comma separated thread counts (default: the widget's default, then all cores)",
    )
    parser.add_argument(
        "--worker", type=int, default=None, help=argparse.SUPPRESS
    )  # 0: the widget's default
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(_worker(args.worker or None)))
        return
    import torch

    from napari_sam2.threads import available_cores, default_threads

    cores = available_cores()
    deadline = time.time() + args.max_wait
    print(
        f"{cores} cores, torch {torch.__version__}; widget default threads {default_threads()}; "
        f"loaded = next to {args.busy} busy loops; quiet = 1-min load average < {args.quiet_load}\n"
    )
    configs = [(f"{default_threads()} (default)", None), (f"{cores} (all cores)", cores)]
    if args.threads:
        configs = [
            (
                f"{n}"
                + (
                    " (default)" if n == default_threads() else " (all cores)" if n == cores else ""
                ),
                n,
            )
            for n in (int(t) for t in args.threads.split(","))
        ]
    print(
        "| threads | quiet (s) | load avg before quiet | loaded (s) | load avg before loaded | loaded / quiet |\n"
        "|---|---|---|---|---|---|"
    )
    for label, n in configs:
        for _ in range(args.repeats):
            ok, load = _wait_quiet(args.quiet_load, deadline)
            quiet = _run(n, 0)
            before_loaded = _load1()
            loaded = _run(n, args.busy)
            note = "" if ok else " (never quiet)"
            print(
                f"| {label} | {quiet['forward']:.2f} | {load:.2f}{note} | {loaded['forward']:.2f} | "
                f"{before_loaded:.2f} | {loaded['forward'] / quiet['forward']:.1f}x |",
                flush=True,
            )
            print(f"  quiet: {quiet}\n  loaded: {loaded}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
