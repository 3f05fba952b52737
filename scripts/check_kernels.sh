#!/usr/bin/env bash
# Kernel checks that need no GPU:
#   1. nvrtc_test: every embedded kernel compiles with NVRTC for its arch(es); SASS rules
#      (wgmma kernels use GMMA and never local memory; the portable GEMM has no FFMA).
#   2. portable_gemm_emu: kernels/portable_generic_gemm.cuh run on the host through the real
#      dlg_gemm launch path, bit-exact against the CPU reference for every recipe and layout.
# usage: scripts/check_kernels.sh [build-dir]    (default: build; needs g++ with C++20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
source "$root/scripts/env.sh"
build=$(cd "${1:-$root/build}" && pwd)
cmake --build "$build" -j2 --target dlgemm_objects nvrtc_test
"$build/nvrtc_test"
objdir="$build/CMakeFiles/dlgemm_objects.dir"
# The library minus the GPU runtime and the other launchers, which the emulator replaces.
mapfile -t objs < <(find "$objdir" -name '*.o' ! -path '*/core/jit/*' ! -path '*/core/launch/*')
g++ -std=c++20 -O1 -ffp-contract=off -w -I"$root/kernels" -I"$root/core" -I"$root/include" \
  -I"$DLG_DLPACK_INCLUDE_DIR" -I"$DLG_CUDA_INCLUDE_DIR" "$root/scripts/portable_gemm_emu.cpp" \
  "${objs[@]}" "$objdir/core/launch/generic_gemm.c.o" -lpthread -ldl -lm -o "$build/portable_gemm_emu"
"$build/portable_gemm_emu"
