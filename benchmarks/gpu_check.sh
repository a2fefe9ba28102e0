#!/usr/bin/env bash
# The checks to run when a CUDA machine is lent, in one command of under 5 minutes, from the repo root:
#
#     bash benchmarks/gpu_check.sh            # on the GPU
#     bash benchmarks/gpu_check.sh --dry-run  # the same steps on the CPU at toy sizes (the suite runs it)
#
# 1. fp32 parity with the official package on the device (largest logit difference <= 1e-4, exit 1
#    otherwise), the official predictor's and ours' time per frame side by side, and how far the
#    bf16 autocast answers of the two agree;
# 2. the lab-scale run (100 cells, 1024 px, 20 frames, 256 px windows, start-up included) in fp32
#    and in our bf16 mode: seconds per frame, mean IoU, peak RSS.
# Needs the test environment (tools/setup.sh: the official sam2 package is the oracle).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
if [ "${1:-}" = "--dry-run" ]; then
  DEVICE=cpu; SIZE=128; FRAMES=2; CELLS=6; MOVIE=128; MOVIE_FRAMES=3; PRECISIONS="fp32"
else
  DEVICE=cuda; SIZE=1024; FRAMES=8; CELLS=100; MOVIE=1024; MOVIE_FRAMES=20; PRECISIONS="fp32 bf16"
fi
"$PY" -c "import torch; print('torch', torch.__version__, '| device', '$DEVICE', torch.cuda.get_device_name(0) if torch.cuda.is_available() else '(no CUDA)')"
echo "== parity and speed against the official package ($DEVICE, ${SIZE} px, $FRAMES frames)"
"$PY" benchmarks/compare_official.py --device "$DEVICE" --image-size "$SIZE" --frames "$FRAMES" --check 1e-4 2>&1 \
  | grep -E "ours|delta|parity|IoU|threads"
for precision in $PRECISIONS; do
  echo "== lab scale ($precision)"
  "$PY" benchmarks/lab_scale.py --device "$DEVICE" --precision "$precision" --cells "$CELLS" \
    --size "$MOVIE" --frames "$MOVIE_FRAMES"
done
echo "gpu check: done"
