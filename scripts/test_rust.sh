#!/usr/bin/env bash
# Rust binding: the bindgen regenerate-and-diff check, formatting, `cargo test` of both crates
# (default features and all features; tests/gpu.rs runs through the device when there is one),
# the example, and `cargo doc` with warnings denied. The C library
# is built from this tree by dlgemm-sys's build script (CMake), linked statically.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
source scripts/env.sh

# bindgen loads libclang at run time (Debian's libclang-dev; the checked-in bindings were made
# with its version, 14): install it when missing. (libclang itself: a machine may carry only
# libclang-cpp, which bindgen cannot use.)
if ! compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null &&
  ! compgen -G "/usr/lib/llvm-*/lib/libclang-[0-9]*.so*" >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! apt-cache policy libclang-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $sudo apt-get update -q >/dev/null
  fi
  apt-cache policy libclang-dev | sed -n 1,3p
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libclang-dev >/dev/null
fi

cd bindings/rust
# Pinned crates, Cargo.lock as committed.
export CARGO_TERM_COLOR=never
echo "== bindgen: src/bindings.rs matches include/dlgemm.h =="
cargo test --locked -p dlgemm-sys --test regenerate
echo "== cargo fmt =="
cargo fmt --check
echo "== cargo test (default features) =="
cargo test --locked --no-fail-fast --workspace
echo "== cargo test (all features: half, float8) =="
cargo test --locked --no-fail-fast --workspace --all-features
echo "== example =="
cargo run --locked -q -p dlgemm --example gemm
echo "== cargo doc =="
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features
