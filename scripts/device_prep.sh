#!/usr/bin/env bash
# Prepares what the GPU machine cannot fetch itself: the pinned DLPack headers, copied into
# .device/include, and the pinned CUPTI headers (dlgemm_bench's kernel timing), copied into
# .device/include/cupti where CMakeLists.txt looks for them (ignored by git, carried by the
# device tool).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
source "$root/scripts/env.sh"
mkdir -p "$root/.device/include"
rm -rf "$root/.device/include/dlpack"
cp -r "$DLG_DLPACK_INCLUDE_DIR/dlpack" "$root/.device/include/"
rm -rf "$root/.device/include/cupti"
mkdir -p "$root/.device/include/cupti"
# cupti_activity.h and what it includes that is CUPTI's own (cuda.h & co. come from the GPU
# machine's CUDA 13.0).
cp "$DLG_CUPTI_INCLUDE_DIR"/cupti*.h "$DLG_CUPTI_INCLUDE_DIR/cuda_stdint.h" "$root/.device/include/cupti/"
cp -r "$DLG_CUPTI_INCLUDE_DIR/Openacc" "$DLG_CUPTI_INCLUDE_DIR/Openmp" "$root/.device/include/cupti/"
