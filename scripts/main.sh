#!/usr/bin/env bash
# The README's main job: build the library and the CLI, print what it finds, and run one FP8
# GEMM through the C ABI — on the GPU when there is one (checked against the CPU reference),
# else on the CPU reference path. On a GPU machine it also runs the benchmark if built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
source scripts/env.sh
# Options explicit: a build dir configured earlier (by the tests, a binding) keeps its cache.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDLG_BUILD_TESTS=OFF -DDLG_BUILD_TOOLS=ON >/dev/null
cmake --build build -j "$(nproc)"
./build/dlgemm info
./build/dlgemm demo
if [ -x build/dlgemm_bench ] && ./build/dlgemm info | grep -q '^  device 0'; then
  ./build/dlgemm_bench --quick
fi
