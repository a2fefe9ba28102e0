#!/usr/bin/env bash
# Demo model v2 (issue 20) on a GPU machine, in one command of at most ~10 minutes, from the repo root:
#
#     OUT=/some/folder bash tools/train_demo_gpu.sh [BUDGET_S]
#
# Fine-tunes the shipped demo (v1) until BUDGET_S seconds (default 470) after start-up, start-up,
# validations and saves included. Writes to $OUT:
#   demo_v2.pt            latest weights (official checkpoint format), rewritten at every validation
#   demo_v2.best.pt       best by validation IoU (tracked frames, fixed validation seeds)
#   train.log             what this prints (versions, progress, validations)
#   train.log.jsonl       one JSON line per step and per validation
# Needs python3 with torch, numpy, scipy, scikit-image (its bundled pictures; no network), pillow.
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
BUDGET_S="${1:-470}"
WORKERS="${WORKERS:-14}"
CLIPS="${CLIPS:-16}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1
{
  python3 -c "import sys, torch, numpy, scipy, skimage; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-', '| numpy', numpy.__version__, '| scipy', scipy.__version__, '| skimage', skimage.__version__)"
  nproc
  python3 -m napari_sam2.train.demo --phase v2 --resume src/napari_sam2/demo/napari_sam2_demo.pt \
    --device cuda --threads 2 --budget-s "$BUDGET_S" --workers "$WORKERS" --clips "$CLIPS" \
    --val-every 100 --val-clips 32 --out "$OUT/demo_v2.pt" --log "$OUT/train.log.jsonl"
} 2>&1 | tee "$OUT/train.log"
