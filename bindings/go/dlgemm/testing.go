package dlgemm

import (
	"runtime"
	"unsafe"

	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// The helpers every binding and the conformance suite share (include/dlgemm/testing.h): a
// seeded generator, DeepGEMM's calc_diff, and raw device memory through the CUDA driver.

// withTensors runs f with the C descriptors of ts (no context involved).
func withTensors(ts []*Tensor, f func(dl []uintptr) raw.Enum_SS_dlg_status) error {
	var b binder
	defer b.release()
	dl, err := b.bindAll(ts)
	if err != nil {
		return err
	}
	return call(func() raw.Enum_SS_dlg_status { return f(dl) })
}

// Fill fills a CPU tensor (any dtype the library knows, any strides) from the library's
// counter-based generator: the element of row-major index i gets f(seed, i), whatever the
// strides, threads or language (dlg_testing_fill). Floating values are rounded to the dtype.
func Fill(t *Tensor, seed uint64, dist FillDist, lo, hi float64) error {
	return withTensors([]*Tensor{t}, func(dl []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_testing_fill(dl[0], seed, raw.Enum_SS_dlg_fill(dist), lo, hi)
	})
}

// CalcDiff is DeepGEMM's calc_diff, 1 - 2·Σxy / Σ(x² + y²), in double over two CPU tensors of
// equal shape (any float dtypes) (dlg_testing_calc_diff).
func CalcDiff(x, y *Tensor) (float64, error) {
	out := make([]float64, 1)
	err := withTensors([]*Tensor{x, y}, func(dl []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_testing_calc_diff(dl[0], dl[1], out)
	})
	return out[0], err
}

// CountMismatch counts the elements that differ bitwise between two CPU tensors of equal
// shape and dtype (dlg_testing_count_mismatch).
func CountMismatch(x, y *Tensor) (int64, error) {
	out := make([]int64, 1)
	err := withTensors([]*Tensor{x, y}, func(dl []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_testing_count_mismatch(dl[0], dl[1], out)
	})
	return out[0], err
}

// Poison sets every byte of t's elements to b, on the CPU or the context's GPU
// (dlg_testing_poison).
func (c *Context) Poison(t *Tensor, b byte) error {
	return c.run([]*Tensor{t}, func(h uintptr, dl []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_testing_poison(h, dl[0], int(b))
	})
}

// DeviceAlloc allocates bytes of device memory on the context's device through the driver
// API (dlg_device_alloc). Free it with DeviceFree.
func (c *Context) DeviceAlloc(bytes int64) (uintptr, error) {
	out := make([]uintptr, 1)
	err := c.do(func(h uintptr) raw.Enum_SS_dlg_status { return raw.Dlg_device_alloc(h, bytes, out) })
	return out[0], err
}

// DeviceFree frees memory from DeviceAlloc (0 is a no-op) (dlg_device_free).
func (c *Context) DeviceFree(ptr uintptr) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status { return raw.Dlg_device_free(h, ptr) })
}

// Memcpy copies bytes between host and device memory, synchronously (dlg_memcpy). An address
// of Go memory must stay pinned (runtime.Pinner) for the call: CopyToDevice and CopyFromDevice
// do that for Go slices.
func (c *Context) Memcpy(dst, src uintptr, bytes int64) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status { return raw.Dlg_memcpy(h, dst, src, bytes) })
}

// CopyToDevice copies the bytes of src (Go memory) to dst, device memory or memory the Go
// runtime does not manage, synchronously (dlg_memcpy).
func (c *Context) CopyToDevice(dst uintptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&src[0])
	return c.Memcpy(dst, uintptr(unsafe.Pointer(&src[0])), int64(len(src)))
}

// CopyFromDevice fills dst (Go memory) with len(dst) bytes from src, device memory or memory
// the Go runtime does not manage, synchronously (dlg_memcpy).
func (c *Context) CopyFromDevice(dst []byte, src uintptr) error {
	if len(dst) == 0 {
		return nil
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&dst[0])
	return c.Memcpy(uintptr(unsafe.Pointer(&dst[0])), src, int64(len(dst)))
}

// TensorCopy copies src's elements into dst (same shape and dtype) across CPU and CUDA memory
// and strides, synchronously (dlg_tensor_copy).
func (c *Context) TensorCopy(src, dst *Tensor) error {
	return c.run([]*Tensor{src, dst}, func(h uintptr, dl []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_tensor_copy(h, dl[0], dl[1])
	})
}

// StreamSynchronize waits for all work on stream (0 = the legacy default stream)
// (dlg_stream_synchronize).
func (c *Context) StreamSynchronize(stream Stream) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_stream_synchronize(h, uintptr(stream))
	})
}
