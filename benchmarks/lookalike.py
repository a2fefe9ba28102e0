"""Look-alike neighbours (issue 28): identity swaps, IoU, error episodes, CTC TRA, and how well the
suspect flags point at the errors, per movie and tracking configuration, with the demo model.

    nice .venv/bin/python benchmarks/lookalike.py [--movies pairs,dividing] [--seeds 0,1,2]
        [--configs whole,windows+exclusive] [--threads 1] [--tune] [--json out.json]
        [--checkpoint demo_finetuned.pt]

Movies (each seeded from its frame-0 truth labels with ``add_labels``, except ``sample``, tracked
forward):

* ``pairs``: ``synthetic_passing_pairs`` (16 look-alike cells in 8 pairs that pass side by side and
  touch, 384 px, 24 frames); ``approach``: the same with converging and parting paths
  (``approach=1``);
* ``dividing``: ``synthetic_dividing_cells`` (256 px, 20 frames, 5 cells, cells 1 and 3 divide);
* ``sample``: the CLI's ``track sample`` movie (6 cells, 256 px, 20 frames, one click on each cell);
* ``crowded``: ``synthetic_world`` 256 px field of 40+ touching cells (radius 7-10 px, 16 frames);
* ``nuclei``: real stained nuclei (scikit-image's immunohistochemistry picture, 512 px) moved by a
  known drift and rotation (benchmarks/windows.py), 60 nuclei, 10 frames.

Per run: swaps (objects whose mask on the last frame lies mostly on another true cell), mean IoU
with the true cell over frames 1.., error episodes (runs of frames with IoU < 0.5), CTC TRA, seconds
per frame of tracking, the suspect checks' cost against it, and the flags' precision and recall
(:func:`napari_sam2.io.evaluate.flag_quality`). ``--tune`` scores a grid of suspect settings on the
same runs (tracking once) and prints the best.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

CONFIGS = {
    "whole": {},
    "exclusive": {"exclusive": True},
    "windows": {"window": 256},
    "windows+exclusive": {"window": 256, "exclusive": True},
    "resolved": {"memory": "resolved"},
    "windows+resolved": {"window": 256, "memory": "resolved"},
    "auto+resolved": {"window": "auto", "memory": "resolved"},
}


def movie(name: str, seed: int):
    """``(image, truth, parents, clicks)``; clicks: one click on each object, not its mask."""
    from napari_sam2 import synthetic

    if name in ("pairs", "approach"):
        image, truth = synthetic.synthetic_passing_pairs(
            seed=seed, approach=1.0 if name == "approach" else 0.0
        )
        return image, truth, {}, False
    if name == "dividing":
        image, truth, parents = synthetic.synthetic_dividing_cells(
            20, (256, 256), 5, seed=seed, divide=((1, 8), (3, 12))
        )
        return image, truth, parents, False
    if name == "sample":
        image, truth = synthetic.synthetic_cells(
            n_frames=20, size=(256, 256), n_cells=6, seed=1 + seed
        )
        return image, truth, {}, True
    if name == "crowded":
        from napari_sam2.train.demo.world import synthetic_world

        image, truth, _ = synthetic_world(
            n_frames=16,
            size=(256, 256),
            seed=4_000_001 + seed,
            radius=(7.0, 10.0),
            n_cells=48,
            pictures=(),
            p_divide=0.0,
            p_enter=0.0,
        )
        return image, truth, {}, False
    if name == "nuclei":
        from windows import real

        image, truth = real({"frames": 10})
        ids = [i for i in np.unique(truth[0]) if i][:60]
        return image, np.where(np.isin(truth, ids), truth, 0).astype(truth.dtype), {}, False
    raise ValueError(f"unknown movie {name!r}")


def tra(pred: np.ndarray, truth: np.ndarray, parents: dict, truth_parents: dict) -> float | None:
    from napari_sam2.io.evaluate import evaluate_ctc
    from napari_sam2.io.exports import write_ctc
    from napari_sam2.io.lineage_io import write_ctc_ground_truth

    with tempfile.TemporaryDirectory() as d:
        write_ctc(Path(d) / "res", pred, parents=parents)
        write_ctc_ground_truth(Path(d) / "gt", truth, parents=truth_parents)
        return evaluate_ctc(Path(d) / "res", Path(d) / "gt")["TRA"]


def run(name: str, seed: int, options: dict, tune: bool = False, checkpoint="auto") -> dict:
    from napari_sam2.engine import TrackingSession
    from napari_sam2.io.evaluate import flag_quality, object_ious, swapped
    from napari_sam2.train.demo.quality import inner_point

    image, truth, truth_parents, clicks = movie(name, seed)
    session = TrackingSession.from_name(image, "demo", checkpoint=checkpoint, **options)
    if clicks:
        ids = [int(i) for i in np.unique(truth[0]) if i]
        for oid in ids:
            session.add_points(0, oid, [inner_point(truth[0] == oid)], [1])
    else:
        ids = session.add_labels(0, truth[0])
    t0 = time.perf_counter()
    session.propagate("forward")
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    flags = session.suspects()
    suspect_seconds = time.perf_counter() - t0
    pred = session.labels()
    ious = object_ious(pred, truth, ids)
    for row in ious.values():
        row[0] = np.nan  # the prompted frame
    out = {
        "movie": name,
        "seed": seed,
        "options": options,
        "objects": len(ids),
        "swaps": len(swapped(pred, truth, ids)),
        "mean_iou": float(np.nanmean(np.stack(list(ious.values())))),
        "tra": tra(pred, truth, session.parents, truth_parents),
        "s_per_frame": seconds / (len(image) - 1),
        "suspect_cost": suspect_seconds / seconds,
        "flags": flag_quality(ious, flags),
        "lost": sum(map(len, session.lost_frames().values())),
    }
    out["episodes"] = out["flags"]["episodes"]
    if tune:
        out["sweep"] = sweep(session, ious)
    return out


# --tune: each threshold swept alone, every other check off (each check decides its own reason)
NEVER = 1e9
SWEEP = {
    "overlap": [{"overlap": a} for a in (0.2, 0.35, 0.5)],
    "area": [{"area_band": a} for a in (1.4, 1.5, 1.6, 1.8, 2.0)],
    "position": [{"position": a} for a in (0.5, 0.75, 1.0)],
    "confidence": [{"iou_drop": a} for a in (0.3, 0.4, 0.5, 0.6)],
    "fragments": [{"fragments": a} for a in (0.25, 0.35, 0.5)],
}


def sweep(session, ious) -> dict:
    """``{check: [(thresholds, flag_quality)]}`` of :data:`SWEEP` on one tracked session."""
    from napari_sam2.engine.suspects import SuspectSettings
    from napari_sam2.io.evaluate import flag_quality

    off = SuspectSettings(
        overlap=1.0,
        takeover=1.0,
        area_band=NEVER,
        position=NEVER,
        score_drop=NEVER,
        iou_drop=NEVER,
        fragments=1.0,
        max_size=1.0,
    )
    return {
        check: [
            (v, flag_quality(ious, session.suspects(dataclasses.replace(off, **v)))) for v in values
        ]
        for check, values in SWEEP.items()
    }


def pooled(rows: list[dict]) -> dict:
    """Flag precision and recall over runs (counts summed)."""
    keys = ("flags", "right_flags", "episodes", "episodes_flagged")
    total = {k: sum(r["flags"][k] for r in rows) for k in keys}
    total["precision"] = total["right_flags"] / total["flags"] if total["flags"] else None
    total["recall"] = total["episodes_flagged"] / total["episodes"] if total["episodes"] else None
    return total


def groups(results: list[dict]):
    """``[((movie, config), runs)]`` in the order run."""
    out: dict = {}
    for r in results:
        out.setdefault((r["movie"], r["config"]), []).append(r)
    return list(out.items())


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--movies", default="pairs")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument(
        "--configs",
        default="whole,windows+exclusive",
        help=f"comma-separated names ({', '.join(CONFIGS)}) or NAME=JSON of options",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tune", action="store_true", help="sweep each suspect threshold alone")
    p.add_argument("--json", default=None)
    p.add_argument(
        "--checkpoint", default="auto", help="a demo-sized checkpoint (default: the shipped demo)"
    )
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    configs = {}
    for item in re.split(r",(?![^{]*})", args.configs):  # commas outside a JSON object
        name, _, options = item.partition("=")
        configs[name] = json.loads(options) if options else CONFIGS[name]
    print(
        "| movie | seed | config | objects | swaps | mean IoU | episodes | TRA | s/frame | "
        "suspects' cost | flag precision | flag recall | lost |"
    )
    results = []
    for name in args.movies.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            for cname, options in configs.items():
                r = dict(run(name, seed, options, args.tune, args.checkpoint), config=cname)
                results.append(r)
                print(
                    f"| {name} | {seed} | {cname} | {r['objects']} | {r['swaps']} | "
                    f"{r['mean_iou']:.3f} | {r['episodes']} | {fmt(r['tra'], 3)} | "
                    f"{r['s_per_frame']:.2f} | {100 * r['suspect_cost']:.1f} % | "
                    f"{fmt(r['flags']['precision'])} | {fmt(r['flags']['recall'])} | "
                    f"{r['lost']} |",
                    flush=True,
                )
    print("\n| movie | config | swaps | mean IoU | episodes | TRA | flag precision | flag recall |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, cname), rows in groups(results):
        pool = pooled(rows)
        tras = [r["tra"] for r in rows if r["tra"] is not None]
        print(
            f"| {name} | {cname} | {np.mean([r['swaps'] for r in rows]):.1f} | "
            f"{np.mean([r['mean_iou'] for r in rows]):.3f} | "
            f"{np.mean([r['episodes'] for r in rows]):.1f} | "
            f"{fmt(np.mean(tras) if tras else None, 3)} | {fmt(pool['precision'])} | "
            f"{fmt(pool['recall'])} |"
        )
    print("\nper reason, pooled per movie and config: flags, precision, episodes caught")
    for (name, cname), rows in groups(results):
        for reason in sorted({k for r in rows for k in r["flags"]["by_reason"]}):
            q = [r["flags"]["by_reason"][reason] for r in rows if reason in r["flags"]["by_reason"]]
            n, right = sum(x["flags"] for x in q), sum(x["right_flags"] for x in q)
            print(
                f"  {name}/{cname} {reason}: {n} flags, precision {fmt(right / n if n else None)}"
                f", {sum(x['episodes_flagged'] for x in q)} of "
                f"{sum(r['episodes'] for r in rows)} episodes"
            )
    if args.tune:
        print("\nthresholds one at a time: flags, right flags, episodes caught of episodes")
        for check, values in SWEEP.items():
            for k, v in enumerate(values):
                cells = []
                for (name, cname), rows in groups(results):
                    q = [r["sweep"][check][k][1] for r in rows]
                    cells.append(
                        f"{name}/{cname} {sum(x['flags'] for x in q)} "
                        f"{sum(x['right_flags'] for x in q)} "
                        f"{sum(x['episodes_flagged'] for x in q)}/"
                        f"{sum(x['episodes'] for x in q)}"
                    )
                print(f"  {v}: " + " | ".join(cells))
        for r in results:
            r.pop("sweep")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
