#!/usr/bin/env bash
# The README's test command: installs what it needs (pinned, from the registries), builds the C
# library, runs the C tests (plain and ASan+UBSan), the NVRTC compile + SASS checks of every
# embedded kernel (no GPU needed), every binding's tests, and the conformance suite.
# Usage: scripts/test_all.sh [--skip LANG,...]   (LANG in c,asan,python,rust,go,java,conformance)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
skip=",${DLG_SKIP:-},"
[ "${1:-}" = "--skip" ] && skip=",$2,"
bash scripts/deps.sh || { echo "deps: install failed"; exit 1; }
source scripts/env.sh
jobs=$(nproc)

declare -a names results
step() { # step NAME COMMAND...: runs one suite, records pass/fail, never stops the others
  local name=$1; shift
  if [[ "$skip" == *",$name,"* ]]; then names+=("$name"); results+=("skipped"); return; fi
  echo "::group:: $name"
  local t0=$SECONDS
  if "$@"; then results+=("passed ($((SECONDS - t0)) s)"); else results+=("FAILED ($((SECONDS - t0)) s)"); fi
  names+=("$name")
  echo "::endgroup::"
}

c_tests() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLG_BUILD_TESTS=ON \
    -DDLG_BUILD_TOOLS=ON >/dev/null &&
    cmake --build build -j "$jobs" &&
    ctest --test-dir build --output-on-failure -j "$jobs"
}
asan_tests() {
  # The ASan build skips the NVRTC tests: NVRTC itself is not instrumented and ASan's
  # interceptors make it slow; the plain build runs them.
  cmake -S . -B build-asan -G Ninja -DDLG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
    cmake --build build-asan -j "$jobs" &&
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure -j "$jobs" -E 'nvrtc_test|sm90_kernels_test'
}

step c c_tests
step asan asan_tests
[ -f scripts/test_python.sh ] && step python bash scripts/test_python.sh
[ -f scripts/test_rust.sh ] && step rust bash scripts/test_rust.sh
[ -f scripts/test_go.sh ] && step go bash scripts/test_go.sh
[ -f scripts/test_java.sh ] && step java bash scripts/test_java.sh
[ -f conformance/run_all.sh ] && step conformance bash conformance/run_all.sh --device cpu

echo
echo "== summary =="
pass=0 fail=0
for i in "${!names[@]}"; do
  printf '  %-12s %s\n' "${names[$i]}" "${results[$i]}"
  case "${results[$i]}" in passed*) pass=$((pass + 1)) ;; FAILED*) fail=$((fail + 1)) ;; esac
done
echo "suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
