#!/usr/bin/env bash
# Regenerates the SWIG layer internal/raw (raw.go + raw_wrap.c) from bindings/swig/go.i.
# -DSWIGWORDSIZE64: int64_t is `long` on LP64 Linux, as in <stdint.h>.
# The output is checked in (`go get` cannot run SWIG); scripts/test_go.sh regenerates it into a
# temporary directory and diffs. Needs the pinned SWIG: bash scripts/deps.sh; source scripts/env.sh.
#   bash bindings/go/generate.sh [OUTDIR]     (default: bindings/go/internal/raw)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$root/bindings/go/internal/raw}
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
mkdir -p "$out"
cd "$root" # the generated files name their source relative to the repository root
swig -go -cgo -intgosize 64 -DSWIGWORDSIZE64 -module raw -Iinclude -Ibindings/swig \
  -outdir "$out" -o "$out/raw_wrap.c" bindings/swig/go.i
"$(dirname "$go")/gofmt" -w "$out/raw.go"
