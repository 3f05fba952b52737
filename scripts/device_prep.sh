#!/usr/bin/env bash
# Prepares what the GPU machine cannot fetch itself: the pinned DLPack headers, copied into
# .device/include (ignored by git, carried by the device tool).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
source "$root/scripts/env.sh"
mkdir -p "$root/.device/include"
rm -rf "$root/.device/include/dlpack"
cp -r "$DLG_DLPACK_INCLUDE_DIR/dlpack" "$root/.device/include/"
