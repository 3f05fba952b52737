#!/usr/bin/env bash
# Runs the conformance suite through every runner found (conformance/runners/*/run) and prints
# the matrix case x runner x device. See conformance/README.md for the runner contract.
#
#   bash conformance/run_all.sh [--device auto|cpu|cuda|all] [--filter SUBSTRING]
#                               [--runners c,python,...] [--results-dir DIR] [--no-save]
#
# --device auto (default): cpu, plus cuda when an NVIDIA GPU is visible. DLG_BUILD_DIR selects
# the CMake build directory (default: build/; configured and built here if needed).
# Exit status: 0 when nothing failed (not-run cells are counted as skipped, not as passes).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
device=auto filter="" only="" results_dir="$here/results" save=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --runners) only=$2; shift 2 ;;
    --results-dir) results_dir=$2; shift 2 ;;
    --no-save) save=0; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# The pinned toolchain (python, headers) when this checkout has it.
if [[ -f "$root/scripts/env.sh" && -d "$root/.deps/venv" ]]; then
  # shellcheck disable=SC1091
  source "$root/scripts/env.sh"
fi
export DLG_BUILD_DIR=${DLG_BUILD_DIR:-$root/build}
export DLG_JOBS=${DLG_JOBS:-2}
if [[ -z "${DLG_NO_BUILD:-}" ]]; then
  if [[ ! -f "$DLG_BUILD_DIR/CMakeCache.txt" ]]; then
    gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$root" -B "$DLG_BUILD_DIR" "${gen[@]}" >/dev/null || { echo "cmake configure failed" >&2; exit 2; }
  fi
  if ! cmake --build "$DLG_BUILD_DIR" --target dlgemm -j "$DLG_JOBS" >"$DLG_BUILD_DIR/conformance-build.log" 2>&1; then
    tail -n 40 "$DLG_BUILD_DIR/conformance-build.log" >&2
    echo "building libdlgemm failed" >&2
    exit 2
  fi
fi

case "$device" in
  cpu|cuda) devices=("$device") ;;
  all) devices=(cpu cuda) ;;
  auto)
    devices=(cpu)
    if [[ -e /dev/nvidia0 ]] || { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
      devices+=(cuda)
    fi ;;
  *) echo "run_all.sh: --device must be auto, cpu, cuda or all" >&2; exit 2 ;;
esac

runners=()
for run in "$here"/runners/*/run; do
  [[ -x "$run" ]] || continue
  lang=$(basename "$(dirname "$run")")
  if [[ -n "$only" && ",$only," != *",$lang,"* ]]; then continue; fi
  runners+=("$lang")
done
[[ ${#runners[@]} -gt 0 ]] || { echo "run_all.sh: no runner found under $here/runners" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dlg-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
runs=()
for dev in "${devices[@]}"; do
  for lang in "${runners[@]}"; do
    out="$work/$lang-$dev.json" log="$work/$lang-$dev.log"
    args=(--cases "$here/cases" --device "$dev" --out "$out")
    [[ -n "$filter" ]] && args+=(--filter "$filter")
    echo "== $lang runner, $dev"
    "$here/runners/$lang/run" "${args[@]}" >"$log" 2>&1
    rc=$?
    # The runner's own summary (its last line), and its log when it did not finish cleanly.
    if [[ $rc -gt 1 || ! -s "$out" ]]; then cat "$log"; else tail -n 1 "$log"; fi
    runs+=("$lang:$dev:$out:$rc")
  done
done

echo
mx=(--cases "$here/cases" --runs "${runs[@]}")
[[ -n "$filter" ]] && mx+=(--filter "$filter")
[[ $save -eq 1 ]] && mx+=(--save-dir "$results_dir")
python3 "$here/matrix.py" "${mx[@]}"
