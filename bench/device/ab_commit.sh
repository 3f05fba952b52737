#!/usr/bin/env bash
# A/B of the working tree against another commit on the GPU machine, in alternating bench
# processes (so both see the same clocks): builds the base commit's tree from a carried
# archive (.device/base.tgz, made here by `git archive BASE | gzip > .device/base.tgz`) into
# build-base, then runs dlgemm_bench with AB_ARGS alternately from build-gpu (new) and
# build-base (base), AB_ROUNDS times each. Run after bench/device/run.sh built build-gpu.
# Writes $OUT/ab.log: each process's table rows, tagged new/base.
#   AB_ARGS="--recipe fp8_1d2d --filter M=4096" AB_ROUNDS=2 bash bench/device/ab_commit.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
log="$OUT/ab.log"
base_src=/tmp/dlg-base
rm -rf "$base_src" && mkdir -p "$base_src"
tar xzf .device/base.tgz -C "$base_src" || { echo "ab: .device/base.tgz missing" >&2; exit 2; }
( cd "$base_src" && CC=/usr/bin/gcc CXX=/usr/bin/g++ cmake -S . -B build-base -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DDLG_DLPACK_INCLUDE_DIR="$root/.device/include" \
    -DDLG_CUDA_INCLUDE_DIR=/usr/local/cuda/include >"$OUT/ab_build.log" 2>&1 &&
  cmake --build build-base -j 16 --target dlgemm_bench >>"$OUT/ab_build.log" 2>&1 ) ||
  { echo "ab: base build failed"; tail -5 "$OUT/ab_build.log"; exit 2; }
# (the grouped suites take none of these: AB_COMMON="" for them)
common=${AB_COMMON-"--no-compile --no-overhead --check-rows 16"}
: >"$log"
for r in $(seq "${AB_ROUNDS:-2}"); do
  for side in new base; do
    bench=./build-gpu/dlgemm_bench
    [ "$side" = base ] && bench="$base_src/build-base/dlgemm_bench"
    echo "## $side round $r" >>"$log"
    DLG_JIT_CACHE_DIR=/tmp/dlg-cache-$side $bench ${AB_ARGS:-} $common >"$OUT/one.txt" 2>&1
    grep -E '\|.*\||GB/s \(|error|FAIL' "$OUT/one.txt" | grep -v '^op ' >>"$log"
  done
done
rm -f "$OUT/one.txt"
echo "ab: $(grep -c '^##' "$log") runs -> $log"
