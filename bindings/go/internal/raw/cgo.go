// Package raw is the SWIG-generated layer over the dlgemm C ABI (raw.go and raw_wrap.c, made by
// ../../generate.sh from bindings/swig/go.i; do not edit them). It is internal: use the package
// github.com/dlgemm/dlgemm/bindings/go/dlgemm.
//
// Headers and library come from the environment (docs/go.md):
//
//	CGO_CFLAGS="-I<dlgemm>/include -I<dir holding dlpack/dlpack.h>"
//	CGO_LDFLAGS="-L<dir holding libdlgemm.a>"
//
// The library is always linked statically (-l:libdlgemm.a, even where libdlgemm.so sits
// beside it), so Go programs and test binaries carry it and run without LD_LIBRARY_PATH.
package raw

//go:generate bash ../../generate.sh

// #cgo LDFLAGS: -l:libdlgemm.a -lpthread -ldl -lm
import "C"
