#!/usr/bin/env bash
# GPU-machine check of the MoE grouped GEMMs and the quantisation kernels (issue 9): build,
# the CUDA-graph masked test, the conformance cases of these ops on cuda, the grouped bench,
# compute-sanitizer memcheck on small cases. Steps: STEPS="graph conf bench sanitizer" (default
# all), BENCH_ARGS (default --quick). Logs and JSON go to $OUT, packed into results.tgz.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/moe-out}
mkdir -p "$OUT"
export CC=/usr/bin/gcc CXX=/usr/bin/g++ DLG_JIT_CACHE_DIR=${DLG_JIT_CACHE_DIR:-/tmp/dlg-cache}
steps=" ${STEPS:-graph conf bench sanitizer} "
t0=$SECONDS
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDLG_DLPACK_INCLUDE_DIR="$PWD/.device/include" \
  -DDLG_CUDA_INCLUDE_DIR=/usr/local/cuda/include >"$OUT/build.log" 2>&1
ninja -C build-gpu -k 0 -j16 >>"$OUT/build.log" 2>&1
echo "== build rc=$? ($((SECONDS - t0)) s)"; grep -E "error" "$OUT/build.log" | head -5
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
runner=build-gpu/conformance/runners/c/dlg_conformance
if [[ "$steps" == *" graph "* ]]; then
  echo "== graph"; timeout 120 ./build-gpu/masked_graph_test 2>&1 | tail -6
fi
if [[ "$steps" == *" conf "* ]]; then
  t1=$SECONDS
  for f in ${CONF_FILTERS:-mgc_ mgm_ kgc_ cast_ transform_ pack_}; do
    timeout 200 "$runner" --cases conformance/cases --device cuda --out "$OUT/conf_$f.json" --filter "$f" \
      >"$OUT/conf_$f.log" 2>&1
    tail -n 1 "$OUT/conf_$f.log"
    grep -E '"status": "(fail|not-run)"' -A1 "$OUT/conf_$f.json" | grep -v '^--' | head -12
  done
  echo "== conformance ($((SECONDS - t1)) s)"
fi
if [[ "$steps" == *" bench "* ]]; then
  t1=$SECONDS
  timeout 240 ./build-gpu/dlgemm_bench --op grouped ${BENCH_ARGS:---quick} --json "$OUT/grouped.json" \
    2>&1 | tee "$OUT/bench.log" | tail -n 40
  echo "== bench ($((SECONDS - t1)) s)"
fi
if [[ "$steps" == *" sanitizer "* ]]; then
  t1=$SECONDS
  for c in ${SAN_CASES:-mgm_fp8_1d2d_g3 mgc_fp8_1d2d_rowids_padding mgc_bf16_offsets kgc_fp8_1d1d_g4_c cast_block_bf16_m130 cast_token_bf16_m17 cast_tensor_bf16_3d transform_sf_17x3 pack_ue8m0_17x5}; do
    timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 "$runner" --cases conformance/cases \
      --device cuda --out "$OUT/san.json" --filter "$c" >"$OUT/san_$c.log" 2>&1
    echo "memcheck $c: rc=$? $(grep -c 'Invalid\|ERROR SUMMARY: [1-9]' "$OUT/san_$c.log") error lines; $(tail -n 1 "$OUT/san_$c.log")"
  done
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/masked_graph_test \
    >"$OUT/san_graph.log" 2>&1
  echo "memcheck masked_graph_test: rc=$? $(tail -n 1 "$OUT/san_graph.log")"
  echo "== sanitizer ($((SECONDS - t1)) s)"
fi
( cd "$OUT" && tar czf results.tgz --remove-files ./*.log ./*.json 2>/dev/null )
echo "== total $((SECONDS - t0)) s"
