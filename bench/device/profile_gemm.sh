#!/usr/bin/env bash
# Nsight Compute profile of one dense GEMM kernel on the GPU machine (after
# bench/device/run.sh built build-gpu): stall reasons per SASS instruction (SourceCounters),
# warp states, scheduler and memory sections, for PROF_RECIPE at PROF_SHAPE with the
# heuristic's config or PROF_CONFIG ($DLG_SM90_GEMM_CONFIG syntax). Writes
# $OUT/prof_<tag>.txt (details page) and $OUT/prof_<tag>_sass.csv (source page, SASS).
#   PROF_RECIPE=fp8_1d2d PROF_SHAPE=4096x4096x7168 PROF_CONFIG="bm=256,pipe=0" PROF_TAG=bm256 \
#     bash bench/device/profile_gemm.sh
# PROF_BASELINE=1 runs cuBLASLt alongside (profile its kernel with e.g.
# PROF_KERNEL="regex:nvjet|xmma|cutlass"); PROF_SECTIONS replaces the section list.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
tag=${PROF_TAG:-default}
rep="$OUT/prof_$tag"
DLG_SM90_GEMM_CONFIG="${PROF_CONFIG:-}" ncu --clock-control none \
  --kernel-name "regex:${PROF_KERNEL:-sm90_(fp8|bf16)_gemm}" --launch-skip "${PROF_SKIP:-2}" --launch-count 1 \
  ${PROF_SECTIONS:---section SpeedOfLight --section WarpStateStats --section SourceCounters \
  --section SchedulerStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis} \
  -f -o "$rep" ./build-gpu/dlgemm_bench --recipe "${PROF_RECIPE:-fp8_1d2d}" \
  --shape "${PROF_SHAPE:-4096x4096x7168}" $([ "${PROF_BASELINE:-0}" = 1 ] || echo --no-baseline) \
  --iters 3 --warmup 1 --no-compile \
  --no-overhead --check-rows 0 >"$rep.run.txt" 2>&1 || { tail -20 "$rep.run.txt"; exit 1; }
ncu -i "$rep.ncu-rep" --page details >"$rep.txt" 2>&1
ncu -i "$rep.ncu-rep" --page source --csv --print-source sass >"${rep}_sass.csv" 2>&1
rm -f "$rep.ncu-rep"
echo "profile $tag: $rep.txt ${rep}_sass.csv"
