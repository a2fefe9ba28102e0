"""``napari-sam2 evaluate``: Cell Tracking Challenge metrics of a result folder, printed as a table."""

from __future__ import annotations

import argparse
from .common import check_file_output

# the rows of the table, in order, with what each number means; BC(i) and division counts follow
MEANINGS = {
    "valid": "whether the result passes the challenge's format check",
    "DET": "detection accuracy, 0..1 (1 is perfect)",
    "SEG": "segmentation accuracy: mean IoU of matched objects, 0..1",
    "TRA": "tracking accuracy: 1 - normalised graph edit cost, 0..1",
    "OP_CSB": "(DET + SEG) / 2",
    "OP_CTB": "(SEG + TRA) / 2",
    "AOGM": "weighted cost of the edits that turn the result into the truth (0 is perfect)",
    "AOGM_0": "cost of building the truth from nothing (normalises TRA)",
    "AOGM_NS": "edits: objects to split",
    "AOGM_FN": "edits: missed objects to add",
    "AOGM_FP": "edits: false objects to delete",
    "AOGM_ED": "edits: false links to delete",
    "AOGM_EA": "edits: missing links to add",
    "AOGM_EC": "edits: links to relabel (division vs. same cell)",
    "gt_divisions": "divisions in the ground truth",
}
BRANCHING = range(4)


def _value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _missing_reason(key: str, metrics: dict) -> str:
    """Why a metric has no value (ctc_metrics gives None for several reasons; these are the ones we can tell)."""
    if not metrics.get("valid", True):
        return "the result failed the format check, see the issues below"
    if key.startswith("BC(") and metrics.get("gt_divisions") == 0:
        false = metrics.get(f"fp_div({key[3:-1]})")
        return "no divisions in the ground truth" + (" or the result" if false == 0 else "")
    return "not computed"


def _rows(metrics: dict) -> list[tuple[str, str, str]]:
    """(name, value, meaning) for every metric, in the order of :data:`MEANINGS`, then the division scores."""
    rows = []
    for key, meaning in MEANINGS.items():
        if key in metrics:
            rows.append((key, metrics[key], meaning))
    for i in BRANCHING:
        if f"BC({i})" in metrics:
            within = "on the true frame" if i == 0 else f"within {i} frame{'s' if i > 1 else ''}"
            rows.append(
                (f"BC({i})", metrics[f"BC({i})"], f"division F1 score, a division found {within}")
            )
        counts = [metrics.get(f"{kind}_div({i})") for kind in ("tp", "fp", "fn")]
        if None not in counts:
            rows.append(
                (
                    f"divisions({i})",
                    " / ".join(map(str, counts)),
                    "found / false / missed divisions",
                )
            )
    shown = {row[0] for row in rows} | {
        f"{k}_div({i})" for k in ("tp", "fp", "fn") for i in BRANCHING
    }
    rows += [
        (key, value, "")
        for key, value in metrics.items()
        if key not in shown and key not in ("issues", "seg_from_tra")
    ]
    return [
        (name, _value(value), meaning)
        if value is not None
        else (
            name,
            "n/a",
            "; ".join(filter(None, (meaning, f"n/a: {_missing_reason(name, metrics)}"))),
        )
        for name, value, meaning in rows
    ]


def metrics_table(metrics: dict) -> list[str]:
    """The lines of a readable table of :func:`~napari_sam2.io.evaluate.evaluate_ctc`'s result, with
    the format check's issues and a note when SEG was measured against the TRA masks."""
    rows = [("metric", "value", "meaning"), *_rows(metrics)]
    name_w = max(len(r[0]) for r in rows)
    value_w = max(len(r[1]) for r in rows)
    lines = [
        f"{name:<{name_w}}  {value:<{value_w}}  {meaning}".rstrip() for name, value, meaning in rows
    ]
    if metrics.get("seg_from_tra"):
        lines.append(
            "note: the ground truth has no SEG folder, so SEG compares with the TRA masks "
            "(meaningful only when they are full segmentations)"
        )
    lines += [f"issue: {issue}" for issue in metrics.get("issues", [])]
    return lines


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="Cell Tracking Challenge metrics (DET, SEG, TRA, divisions) of a result"
    )
    p.add_argument(
        "pred", help="CTC result folder: mask000.tif... + res_track.txt (e.g. from track --ctc)"
    )
    p.add_argument(
        "gt",
        help="CTC ground-truth folder: TRA/man_track000.tif... + TRA/man_track.txt, optional SEG/",
    )
    p.add_argument(
        "--table",
        default=None,
        help="the object table of the same run (track --table): also say how well its suspect "
        "flags point at the wrong object-frames (IoU < 0.5 with the cell each object started on)",
    )
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --json file (never an input)"
    )


def suspect_quality(pred, gt, table) -> dict:
    """:func:`~napari_sam2.io.evaluate.flag_quality` of the table's suspect flags on the result's masks
    against the ground truth's cells."""
    from ..io.evaluate import flag_quality, matched_ious, table_flags
    from ..io.exports import read_ctc
    from ..io.lineage_io import read_ctc_ground_truth

    labels, _ = read_ctc(pred)
    truth, _ = read_ctc_ground_truth(gt)
    return flag_quality(matched_ious(labels, truth), table_flags(table))


def flag_lines(q: dict, table) -> list[str]:
    """Readable lines of :func:`suspect_quality`."""

    def share(a, b, ratio):
        return f"{a} of {b}" + (f" ({ratio:.2f})" if ratio is not None else "")

    lines = [
        f"suspect flags of {table}:",
        f"  error episodes flagged within -1..+2 frames of their start: "
        f"{share(q['episodes_flagged'], q['episodes'], q['recall'])}",
        f"  flags within one frame of a wrong object-frame: {share(q['right_flags'], q['flags'], q['precision'])}",
        f"  wrong object-frames (IoU < 0.5) flagged: {share(q['wrong_flagged'], q['wrong'], q['frame_recall'])}",
    ]
    for reason, r in q["by_reason"].items():
        lines.append(
            f"  {reason}: {r['flags']} flags, {share(r['right_flags'], r['flags'], r['precision'])} right, "
            f"{r['episodes_flagged']} episodes caught"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    import json

    from ..io.atomic import atomic_output
    from ..io.evaluate import evaluate_ctc

    if args.json:
        check_file_output(
            args.json,
            "--json",
            (".json",),
            args.overwrite,
            inputs=[args.pred, args.gt, *([args.table] if args.table else [])],
        )
    metrics = evaluate_ctc(args.pred, args.gt)
    for line in metrics_table(metrics):
        print(line)
    if args.table:
        metrics["suspect_flags"] = flags = suspect_quality(args.pred, args.gt, args.table)
        for line in flag_lines(flags, args.table):
            print(line)
    if args.json:
        with atomic_output(args.json, args.overwrite) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
