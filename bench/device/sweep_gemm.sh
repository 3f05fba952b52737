#!/usr/bin/env bash
# Tile-config sweep of the SM90 dense GEMMs on the GPU machine: each (recipe, shape) is run
# once with cuBLASLt alongside (the heuristic's own choice), then once per forced config
# ($DLG_SM90_GEMM_CONFIG) without the baseline. Run after bench/device/run.sh has built
# build-gpu (any step list). Writes $OUT/sweep.log (a config line + the table row per run).
#   SWEEP_RECIPES="fp8_1d2d bf16" SWEEP_SHAPES="4096x4096x7168 ..." bash bench/device/sweep_gemm.sh
# Configs per recipe: SWEEP_FP8 / SWEEP_BF16 (space-separated override specs).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
bench=./build-gpu/dlgemm_bench
log="$OUT/sweep.log"
shapes=${SWEEP_SHAPES:-"4096x4096x7168 4096x2112x7168 4096x24576x1536 4096x32768x512 4096x7168x16384 4096x7168x2048 4096x576x7168 4096x4096x4096 8192x8192x8192"}
recipes=${SWEEP_RECIPES:-"fp8_1d2d bf16"}
fp8_cfgs=${SWEEP_FP8:-"bm=128,bn=128,cm=1,cn=2,pipe=1 bm=256,bn=128,cm=1,cn=2,pipe=0 bm=256,bn=128,cm=2,cn=1,pipe=0 bm=256,bn=112,cm=1,cn=2,pipe=0 bm=256,bn=96,cm=1,cn=2,pipe=0"}
bf16_cfgs=${SWEEP_BF16:-"bm=128,bn=256,cm=2,cn=1 bm=128,bn=208,cm=1,cn=2 bm=256,bn=128,cm=1,cn=2 bm=256,bn=128,cm=2,cn=1 bm=256,bn=192,cm=1,cn=2 bm=256,bn=160,cm=2,cn=1"}
common="--no-compile --no-overhead --iters ${SWEEP_ITERS:-20} --check-rows 16"
: >"$log"
# run LABEL CONFIG ARGS...: one bench process (CONFIG "" = the heuristic's choice), its config
# lines and table row appended to the log once each.
run() {
  local label=$1 cfg=$2
  shift 2
  echo "## $label" >>"$log"
  DLG_PRINT_CONFIGS=1 DLG_SM90_GEMM_CONFIG="$cfg" $bench "$@" $common >"$OUT/one.txt" 2>&1
  grep -E "^dlgemm|^(fp8|bf16)|error|FAIL" "$OUT/one.txt" | awk '!seen[$0]++' >>"$log"
}
for recipe in $recipes; do
  case $recipe in bf16) cfgs=$bf16_cfgs ;; *) cfgs=$fp8_cfgs ;; esac
  for shape in $shapes; do
    run "$recipe $shape heuristic" "" --recipe "$recipe" --shape "$shape"
    for cfg in $cfgs; do
      run "$recipe $shape $cfg" "$cfg" --recipe "$recipe" --shape "$shape" --no-baseline
    done
  done
done
rm -f "$OUT/one.txt"
echo "sweep: $(grep -c '^##' "$log") runs -> $log"
