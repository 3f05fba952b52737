#!/usr/bin/env bash
# Split-K on the GPU machine (after bench/device/run.sh has built build-gpu): the C
# conformance GEMM cases with split-K forced through $DLG_SM90_GEMM_CONFIG (splits 2, 3, 4, 8:
# M/N/K tails, empty k-slices), compute-sanitizer memcheck on the SPLIT_RECIPE cases, and a
# sweep of split-K configs against the search without it ($DLG_SM90_SPLIT_K=0) on the
# decode shapes. Writes $OUT/split_k.log (correctness) and $OUT/split_k_sweep.log.
#   SPLIT_RECIPE=bf16|fp8_1d2d|fp8_per_tensor SPLIT_MS="128 64 1" SPLIT_NKS="576x7168 ..."
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
B=./build-gpu
recipe=${SPLIT_RECIPE:-bf16}
log=$OUT/split_k.log sweep=$OUT/split_k_sweep.log
: >"$log"
: >"$sweep"
conf="$B/conformance/runners/c/dlg_conformance --cases conformance/cases --device cuda --out /tmp/split_k_conf.json"
for cfg in "bm=128,bn=64,split=4" "bm=64,bn=32,split=2,pipe=0" "bm=128,bn=128,split=3" "bm=64,bn=48,split=8"; do
  spec="$cfg,cm=1,cn=1,direct=1"
  res=$(DLG_SM90_GEMM_CONFIG=$spec DLG_PRINT_CONFIGS=1 $conf --filter gemm 2>/tmp/split_k_conf.err | tail -1)
  echo "conformance gemm, $spec: $res (launches with split-K: $(grep -c 'split_k=[2-8]' /tmp/split_k_conf.err))" >>"$log"
done
filter=$([ "$recipe" = bf16 ] && echo gemm_bf16 || echo "gemm_$recipe")
DLG_SM90_GEMM_CONFIG="bm=64,bn=32,cm=1,cn=1,direct=1,split=4" \
  compute-sanitizer --error-exitcode 9 $conf --filter "$filter" >/tmp/split_k_san.log 2>&1
echo "memcheck $filter split=4: rc=$? $(grep 'ERROR SUMMARY' /tmp/split_k_san.log)" >>"$log"
cat "$log"
common="--no-compile --no-overhead --iters ${SPLIT_ITERS:-20} --check-rows 8 --recipe $recipe"
# one LABEL ENV... : one bench process, its kernel us / baseline kernel us / check and config.
one() {
  local label=$1
  shift
  local r cfg row
  r=$(env DLG_PRINT_CONFIGS=1 "$@" 2>&1)
  cfg=$(echo "$r" | grep -o "BLOCK_M=.*split_k=[0-9]" | head -1 | sed 's/stages=[0-9]* //')
  row=$(echo "$r" | grep "^$recipe *fwd" | awk '{print $8, $14, $19, $20}')
  echo "$label | $row | $cfg" >>"$sweep"
}
for m in ${SPLIT_MS:-128 64 1}; do
  for nk in ${SPLIT_NKS:-2112x7168 576x7168 4096x7168 7168x2048}; do
    s=${m}x$nk
    bm=$([ "$m" -gt 64 ] && echo 128 || echo 64)
    one "$s no split" DLG_SM90_SPLIT_K=0 $B/dlgemm_bench $common --shape "$s"
    one "$s search" $B/dlgemm_bench $common --shape "$s" --no-baseline
    for v in "bn=64,split=2" "bn=128,split=2" "bn=64,split=4" "bn=32,split=4" "bn=128,split=4"; do
      one "$s $v" DLG_SM90_GEMM_CONFIG="bm=$bm,$v,cm=1,cn=1,direct=1" $B/dlgemm_bench $common \
        --shape "$s" --no-baseline
    done
  done
done
cat "$sweep"
