#!/usr/bin/env bash
# The Python binding's CI: builds the wheel from ./bindings/python in a FRESH virtual
# environment (pip + scikit-build-core + the pinned SWIG) and runs its pytest suite on the CPU,
# the README's quick start included. Usage: bash scripts/test_python.sh [pytest args...]
# Build outputs go to $DLG_PY_BUILD_DIR (default build-python/); nothing is written elsewhere.
# --install-only: stop after installing (the venv conformance/runners/python/run uses).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
# shellcheck source=/dev/null
source scripts/env.sh # exports DLG_DLPACK_INCLUDE_DIR / DLG_CUDA_INCLUDE_DIR for the build

build=${DLG_PY_BUILD_DIR:-$root/build-python}
venv="$build/venv"
rm -rf "$venv"
mkdir -p "$build"
# The base interpreter, not the .deps venv's: the test venv must not see .deps packages.
base_python=$("$DLG_VENV/bin/python" -c 'import sys; print(sys._base_executable)')
"$base_python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade "pip>=24"

# What the README says: pip install the package with its test extra. The CMake build tree is
# kept under $build so a re-run recompiles only what changed.
"$venv/bin/python" -m pip install -q \
  -Cbuild-dir="$build/cmake" \
  "./bindings/python[test]"
[[ "${1:-}" == "--install-only" ]] && exit 0

# Run from outside the source tree so `import dlgemm` is the installed wheel.
cd "$build"
"$venv/bin/python" -c 'import dlgemm; print("dlgemm", dlgemm.version_string(), "from", dlgemm.__file__)'
"$venv/bin/pytest" -q -p no:cacheprovider "$root/bindings/python/tests" "$@"
