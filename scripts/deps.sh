#!/usr/bin/env bash
# Installs the pinned build/test dependencies from the package registries into .deps/venv
# (idempotent) and prints nothing but errors. Every other script sources scripts/env.sh after it.
#   - DLPack 1.x headers: apache-tvm-ffi (ships dlpack/dlpack.h)
#   - cuda.h + nvrtc.h + libnvrtc.so.13: NVIDIA's CUDA 13.0 wheels (match the H100's driver 580)
#   - SWIG, NumPy, ml_dtypes, pytest, scikit-build-core for the Python binding and tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.deps/venv"
stamp="$venv/.stamp-$(sha256sum "$root/scripts/requirements-dev.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r "$root/scripts/requirements-dev.txt"
  touch "$stamp"
fi
