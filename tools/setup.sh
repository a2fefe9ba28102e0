#!/usr/bin/env bash
# Sets up a development/test environment in ./.venv on Debian/Ubuntu with Python 3.10 or later:
# system libraries for a virtual display (napari needs an OpenGL context), the package with
# its test extras (napari included), and the official sam2 package as the test oracle (CPU
# build, no deps). Safe to run again: what is there already is kept. $PYTHON picks the interpreter.
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

# the first of these that exists and is 3.10 or later (a .venv that exists already is kept)
is_ok() { command -v "$1" >/dev/null 2>&1 && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }
PY=""
for candidate in ${PYTHON:-} python3.12 python3.11 python3.10 python3; do
  if is_ok "$candidate"; then PY=$candidate; break; fi
done
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  [ -n "$PY" ] || { echo "setup: needs Python 3.10 or later (set PYTHON=/path/to/python3.x)" >&2; exit 1; }
  if ! "$PY" -m venv .venv; then  # Debian/Ubuntu ship venv's pip (ensurepip) as pythonX.Y-venv
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$("$PY" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
    "$PY" -m venv --clear .venv
  fi
fi
. .venv/bin/activate
python -m pip install --upgrade pip setuptools wheel
# The CPU wheel first: the package's torch range accepts it, so nothing bigger is pulled in.
python -m pip install "torch==2.13.0"
python -m pip install -e ".[testing]"
# Test oracle only, never a runtime dependency.
python -c "import sam2" 2>/dev/null || SAM2_BUILD_CUDA=0 python -m pip install --no-build-isolation --no-deps "sam2==1.1.0"
python -c "import torch, napari_sam2, sam2; print('torch', torch.__version__, '| napari-sam2', napari_sam2.__version__, '| oracle sam2 ok')"
