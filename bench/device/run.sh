#!/usr/bin/env bash
# The one script run on the GPU machine (through the device tool): builds with /usr/bin/gcc
# (the image's default $CC wrapper broke JIT kernels), then runs the steps named on the
# command line, each logging to $OUT/<step>.log and never stopping the others.
#   steps: info demo ctest conformance sanitizer bench bindings all
# `bindings` runs every binding's GPU tests from .device/bundle (scripts/device_bundle.sh makes
# it here) and the conformance suite through every runner (RUNNERS=c,python,rust,go,java).
# Needs the DLPack headers carried in .device/include (scripts/device_prep.sh makes them);
# cuda.h / nvrtc.h / libnvrtc come from the image's CUDA 13.0.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
mkdir -p "$OUT"
export CC=/usr/bin/gcc CXX=/usr/bin/g++
export DLG_JIT_CACHE_DIR=${DLG_JIT_CACHE_DIR:-/tmp/dlg-cache}
cuda_inc=/usr/local/cuda/include
steps=" ${*:-all} "
want() { [[ "$steps" == *" $1 "* || "$steps" == *" all "* ]]; }
run_step() { # run_step NAME CMD...
  local name=$1; shift
  echo "== $name"
  local t0=$SECONDS
  ( "$@" ) >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n "${TAIL:-25}" "$OUT/$name.log"
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)"
}

t0=$SECONDS
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDLG_DLPACK_INCLUDE_DIR="$root/.device/include" -DDLG_CUDA_INCLUDE_DIR="$cuda_inc" \
  >"$OUT/build.log" 2>&1 && cmake --build build-gpu -j 16 >>"$OUT/build.log" 2>&1
echo "== build: rc=$? ($((SECONDS - t0)) s)"; tail -n 5 "$OUT/build.log"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader

want info && run_step info ./build-gpu/dlgemm info
want demo && run_step demo env DLG_PRINT_CONFIGS=1 DLG_JIT_DEBUG=1 ./build-gpu/dlgemm demo
want ctest && run_step ctest ctest --test-dir build-gpu --output-on-failure -j 8
if want sanitizer; then
  run_step sanitizer compute-sanitizer --tool memcheck --error-exitcode 9 \
    ./build-gpu/dlgemm demo --m 130 --n 200 --k 384
fi
if want bench && [ -x build-gpu/dlgemm_bench ]; then
  run_step bench ./build-gpu/dlgemm_bench ${BENCH_ARGS:-} --json "$OUT/bench.json"
fi
bundle="$root/.device/bundle"
if want bindings && [ -d "$bundle" ]; then
  # Python: the extension compiled here from the carried SWIG wrapper, then torch/JAX checks.
  run_step python_build python3 bindings/python/build_inplace.py build --gen "$bundle/python/gen" \
    --out "$root/build-python/inplace" --cc /usr/bin/gcc --lib "$root/build-gpu/libdlgemm.a"
  export PYTHONPATH="$root/build-python/inplace"
  run_step python_gpu python3 bindings/python/gpu_check.py
  run_step rust_gpu env DLGEMM_REQUIRE_GPU=1 "$bundle/rust/dlgemm_gpu_test" --nocapture --test-threads 1
  run_step go_gpu env DLGEMM_REQUIRE_GPU=1 "$bundle/go/dlgemm_go.test" -test.run GPU -test.v
  run_step java_gpu env DLG_JAVA_BUNDLE="$bundle/java" bash bindings/java/device_run.sh --gpu-only
  # The runners' binaries where their run scripts look for them (DLG_NO_BUILD: nothing to build).
  mkdir -p build-gpu/conformance/runners/{go,java} conformance/runners/rust/target/release
  cp "$bundle/go/dlg_conformance_go" build-gpu/conformance/runners/go/
  cp -r "$bundle/java/classes" "$bundle/java/dlgemm.jar" build-gpu/conformance/runners/java/
  cp "$bundle/rust/dlg_conformance_rust" conformance/runners/rust/target/release/
  export DLG_JAVA="$bundle/java/jre/bin/java"
  RUNNERS=${RUNNERS:-c,python,rust,go,java}
fi
if want conformance; then
  run_step conformance env DLG_BUILD_DIR="$root/build-gpu" DLG_NO_BUILD=1 \
    bash conformance/run_all.sh --device all --runners "${RUNNERS:-c}" --results-dir "$OUT"
fi

# The device tool returns at most 8 files: pack everything into one archive.
( cd "$OUT" && tar czf results.tgz --remove-files ./*.log ./*.json 2>/dev/null )
echo "packed: $OUT/results.tgz"
