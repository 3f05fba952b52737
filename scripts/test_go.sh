#!/usr/bin/env bash
# Go binding: builds libdlgemm.a with CMake (bindings/go/.build), checks that the checked-in SWIG
# layer (bindings/go/internal/raw) matches a fresh `swig -go -cgo` of bindings/swig/go.i, then
# gofmt, `go vet ./...` and `go test -race ./...` with the full cgo pointer checks
# (GOEXPERIMENT=cgocheck2) in bindings/go, vets the Go conformance runner, and builds the test
# binary the GPU machine runs (bindings/go/.build/dlgemm_go.test, libdlgemm linked statically).
# Needs Go >= 1.24 (GO=/path/to/go, else `go` on PATH, else /usr/local/go/bin/go) and a C compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
source scripts/env.sh

go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x "$go" ]] || { echo "test_go.sh: no Go toolchain: install Go >= 1.24 or set GO" >&2; exit 1; }
export PATH="$(dirname "$go"):$PATH"
go version
build="$root/bindings/go/.build"

echo "== libdlgemm.a (CMake, bindings/go/.build) =="
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLG_BUILD_TESTS=OFF \
  -DDLG_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target dlgemm_static -j "${DLG_JOBS:-2}"

echo "== SWIG: bindings/go/internal/raw matches bindings/swig/go.i =="
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlg-go-swig.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
GO="$go" bash bindings/go/generate.sh "$tmp"
for f in raw.go raw_wrap.c; do
  diff -u "bindings/go/internal/raw/$f" "$tmp/$f" >"$tmp/$f.diff" || {
    head -n 40 "$tmp/$f.diff"
    echo "internal/raw/$f is stale: run bash bindings/go/generate.sh" >&2
    exit 1
  }
done

export CGO_ENABLED=1
# Go's build cache does not look at libdlgemm.a itself: its hash in the flags makes a changed
# library relink every test binary (else `go test -c` keeps a stale one).
lib_stamp=$(sha256sum "$build/libdlgemm.a" | cut -c1-16)
export CGO_CFLAGS="-O2 -g -I$root/include -I$DLG_DLPACK_INCLUDE_DIR -DDLG_LIB_STAMP=$lib_stamp"
export CGO_LDFLAGS="-L$build"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

echo "== gofmt =="
unformatted=$(gofmt -l bindings/go conformance/runners/go)
[[ -z "$unformatted" ]] || { echo "not gofmt-clean: $unformatted" >&2; exit 1; }

cd "$root/bindings/go"
echo "== go vet ./... =="
go vet ./...
echo "== go test -race ./... (GOEXPERIMENT=cgocheck2) =="
GOEXPERIMENT=cgocheck2 DLGEMM_REQUIRE_CGOCHECK2=1 go test -race -count=1 ./...

echo "== go vet: conformance runner =="
(cd "$root/conformance/runners/go" && go vet ./...)

echo "== test binary for the GPU machine: bindings/go/.build/dlgemm_go.test =="
go test -c -o "$build/dlgemm_go.test" ./dlgemm
if ldd "$build/dlgemm_go.test" | grep -q libdlgemm; then
  echo "dlgemm_go.test links libdlgemm dynamically; it must carry it statically" >&2
  exit 1
fi
echo "run it there with: ./dlgemm_go.test -test.run GPU -test.v   (DLGEMM_REQUIRE_GPU=1 to insist)"
