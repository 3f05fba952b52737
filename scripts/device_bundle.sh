#!/usr/bin/env bash
# Builds here what the GPU machine cannot build (no Go, Rust, JDK, SWIG or network there) and
# stages it in .device/bundle (ignored by git; the device tool carries .device):
#   go/     dlgemm_go.test (the Go tests) and dlg_conformance_go
#   rust/   the dlgemm crate's gpu test binary and dlg_conformance_rust
#   java/   jlinked JRE + jars + JUnit launcher (bindings/java/target/device) and the runner
#   python/ the SWIG wrapper + headers for bindings/python/build_inplace.py
# Every binary links libdlgemm statically, kernels embedded: build after the last kernel change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/device_prep.sh
source scripts/env.sh
out="$root/.device/bundle"
rm -rf "$out"
mkdir -p "$out"/{go,rust,java,python}

# The library and the C runner, the same sources as the device build.
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

# Go: the tests and the conformance runner (scripts/test_go.sh builds dlgemm_go.test).
bash scripts/test_go.sh >/dev/null
cp bindings/go/.build/dlgemm_go.test "$out/go/"
DLG_BUILD_DIR="$root/build" bash conformance/runners/go/run --help >/dev/null 2>&1 || true
cp build/conformance/runners/go/dlg_conformance_go "$out/go/"

# Rust: the gpu test binary (release) and the runner, both against build/libdlgemm.a.
export DLGEMM_LIB_DIR="$root/build"
gpu_test=$(cd bindings/rust && cargo test --release --locked -p dlgemm --test gpu --no-run \
  --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu":
        print(m["executable"])')
cp "$gpu_test" "$out/rust/dlgemm_gpu_test"
(cd conformance/runners/rust && cargo build --release --locked -q)
cp conformance/runners/rust/target/release/dlg_conformance_rust "$out/rust/"

# Java: the device bundle of scripts/test_java.sh and the runner's classes.
DLG_BUILD_DIR="$root/build" bash conformance/runners/java/run --help >/dev/null 2>&1 || true
[ -d bindings/java/target/device/jre ] || bash scripts/test_java.sh >/dev/null
cp -r bindings/java/target/device/. "$out/java/"
cp -r build/conformance/runners/java/classes build/conformance/runners/java/dlgemm.jar "$out/java/"

# Python: generated wrapper + headers; the extension is compiled on the device.
python3 bindings/python/build_inplace.py generate --out "$out/python/gen" >/dev/null

du -sh "$out"/* "$out"
