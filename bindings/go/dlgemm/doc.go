// Package dlgemm is the Go binding of dlgemm: DeepSeek DeepGEMM's op families (FP8/BF16 dense
// GEMMs, MoE grouped GEMMs, MQA logits, FP8 cast utilities) behind one C ABI over DLPack
// tensors. GPU kernels are compiled at run time by NVRTC; every op also runs on CPU tensors
// through the library's reference path.
//
// The package sits on a SWIG-generated cgo layer (internal/raw) and adds Go types, errors and
// memory safety:
//
//   - A Context (NewContext, WithDevice, ...) owns a device's kernel cache and knobs; every op
//     is a method of it returning error. A Context is safe for concurrent use by many
//     goroutines.
//   - A Tensor describes memory: a Go slice on the CPU (FromSlice, FromBytes, Zeros) or an
//     address the Go runtime does not manage, typically CUDA memory (FromPointer,
//     Context.DeviceAlloc). Shapes are logical; strides (in elements) give the layout, so
//     K-major and MN-major operands are just strides. A nil *Tensor is the C NULL.
//   - Every failure is an *Error carrying the library's Status and message ("b: expected dtype
//     float8_e4m3fn, got bfloat16"); errors.Is(err, ErrDType) tests for a kind.
//
// # Memory and the cgo rules
//
// The library never keeps a tensor past the call it is passed to. For each call the Go
// memory of the call's tensors is pinned with a runtime.Pinner and a C DLTensor describing it
// is built in C memory (dlg_tensor_create); both are released before the call returns, so no
// Go pointer outlives a call in C memory and no Go memory passed to C contains Go pointers.
// The tests run with GOEXPERIMENT=cgocheck2 and the race detector.
//
// # Building
//
// cgo needs the headers and the static library (libdlgemm.a, linked statically so programs
// carry it):
//
//	CGO_CFLAGS="-O2 -I<prefix>/include" CGO_LDFLAGS="-L<prefix>/lib" go build
//
// where <prefix> is a `cmake --install` of the C library (it installs dlpack/dlpack.h too).
// See docs/go.md.
package dlgemm
