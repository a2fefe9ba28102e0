"""``napari-sam2 evaluate``: Cell Tracking Challenge metrics of a result folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from ..io.evaluate import evaluate_ctc

    metrics = evaluate_ctc(args.pred, args.gt)
    for key, value in metrics.items():
        if key == "issues":
            for issue in value:
                print(f"issue: {issue}")
        else:
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0

