#!/usr/bin/env bash
# Sets up a development/test environment in ./.venv on Debian/Ubuntu with Python 3.11:
# system libraries for a virtual display (napari needs an OpenGL context), the package with
# its test extras, and the official sam2 package as the test oracle (CPU build, no deps).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1 libdbus-1-3 libfontconfig1"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip setuptools wheel
# The CPU wheel first: the package's torch range accepts it, so nothing bigger is pulled in.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[testing]"
# Test oracle only, never a runtime dependency.
python -c "import sam2" 2>/dev/null || SAM2_BUILD_CUDA=0 python -m pip install -q --no-build-isolation --no-deps "sam2==1.1.0"
python -c "import torch, napari_sam2, sam2; print('torch', torch.__version__, '| napari-sam2', napari_sam2.__version__, '| oracle sam2 ok')"
