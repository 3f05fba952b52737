package dlgemm

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// MaxNDim is the most dimensions a tensor may have (the library's limit).
const MaxNDim = 8

// Element is a Go type that can hold tensor storage: float32 (float32), uint16 (bfloat16 bit
// patterns), uint8 (float8_e4m3fn bytes, uint8) and int32 (int32).
type Element interface {
	~float32 | ~uint16 | ~uint8 | ~int32
}

// Tensor describes a strided n-dimensional array: a dtype, a shape, strides in elements and
// the memory holding it. The memory is either a Go slice (a CPU tensor, see FromSlice,
// FromBytes and Zeros) or an address the Go runtime does not manage: CUDA memory from
// DeviceAlloc or a framework, or host memory allocated in C (see FromPointer).
//
// A Tensor is only a description: it owns nothing but Go memory, and the library never keeps
// it past the call it is passed to. For the duration of each call the Go memory of its tensors
// is pinned (runtime.Pinner) and a C DLTensor describing it is built in C memory; both are
// released before the call returns. A Tensor may be passed to any number of concurrent calls;
// as with any Go memory, two calls writing the same storage at once race.
type Tensor struct {
	dtype   DType
	device  Device
	shape   []int64
	strides []int64
	addr    uintptr        // memory outside the Go heap (FromPointer)
	host    unsafe.Pointer // first byte of Go storage (nil: none, or empty)
	nbytes  int            // bytes of Go storage reachable from host
}

// FromPointer describes memory the Go runtime does not manage: a CUDA device address (from
// DeviceAlloc or another library), or host memory allocated outside Go. strides nil means
// row-major. addr may be 0 for a tensor with no elements. The caller keeps the memory alive
// and unchanged in location for every call the tensor is passed to. Never pass the address
// of Go memory here: use FromSlice, which pins it for each call.
func FromPointer(addr uintptr, device Device, dtype DType, shape, strides []int64) (*Tensor, error) {
	t, err := describe(device, dtype, shape, strides)
	if err != nil {
		return nil, err
	}
	t.addr = addr
	return t, nil
}

// FromSlice describes a CPU tensor stored in a Go slice: float32 for Float32, uint16 (bit
// patterns) for BFloat16, uint8 for Float8E4M3FN and UInt8, int32 for Int32. strides nil means
// row-major; strides must be non-negative and every element must lie inside data. The slice
// is referenced, not copied: ops write their outputs into it.
func FromSlice[T Element](data []T, dtype DType, shape, strides []int64) (*Tensor, error) {
	var zero T
	if size := int(unsafe.Sizeof(zero)); size != dtype.Size() {
		return nil, newError(StatusDType, "data: a slice of %d-byte elements cannot hold %s",
			size, dtype)
	}
	return fromGo(unsafe.Pointer(unsafe.SliceData(data)), len(data)*int(unsafe.Sizeof(zero)),
		dtype, shape, strides)
}

// FromBytes describes a CPU tensor of any dtype stored in a byte slice (a typed view of raw
// storage, e.g. the FP32 scales inside a paged KV cache). data must be aligned to the element
// size; take sub-slices for byte offsets.
func FromBytes(data []byte, dtype DType, shape, strides []int64) (*Tensor, error) {
	p := unsafe.Pointer(unsafe.SliceData(data))
	if size := dtype.Size(); size > 1 && len(data) > 0 && uintptr(p)%uintptr(size) != 0 {
		return nil, newError(StatusLayout, "data: not aligned to the %d-byte elements of %s",
			size, dtype)
	}
	return fromGo(p, len(data), dtype, shape, strides)
}

// Zeros allocates a zeroed, row-major CPU tensor in Go memory. Like make, it panics on a
// negative extent, more than MaxNDim dimensions or an absurd size (over 2^40 elements).
func Zeros(dtype DType, shape ...int64) *Tensor {
	const maxElems = int64(1) << 40
	n := int64(1)
	for _, e := range shape {
		if e < 0 || (e > 0 && n > maxElems/e) {
			panic(fmt.Sprintf("dlgemm.Zeros: bad shape %v", shape))
		}
		n *= e
	}
	var t *Tensor
	var err error
	switch dtype.Size() {
	case 4:
		t, err = FromSlice(make([]int32, n), Int32, shape, nil)
	case 2:
		t, err = FromSlice(make([]uint16, n), BFloat16, shape, nil)
	default:
		t, err = FromSlice(make([]uint8, n*int64(dtype.Size())), UInt8, shape, nil)
	}
	if err != nil {
		panic("dlgemm.Zeros: " + err.Error())
	}
	t.dtype = dtype
	return t
}

// describe checks the rank and extents and fills in row-major strides.
func describe(device Device, dtype DType, shape, strides []int64) (*Tensor, error) {
	if len(shape) > MaxNDim {
		return nil, newError(StatusInvalidArgument, "shape: at most %d dimensions, got %d",
			MaxNDim, len(shape))
	}
	for i, e := range shape {
		if e < 0 {
			return nil, newError(StatusShape, "shape: dim %d is negative (%d)", i, e)
		}
	}
	t := &Tensor{dtype: dtype, device: device, shape: append([]int64(nil), shape...)}
	if strides == nil {
		t.strides = make([]int64, len(shape))
		running := int64(1)
		for i := len(shape) - 1; i >= 0; i-- {
			t.strides[i] = running
			running *= max(shape[i], 1)
		}
	} else {
		if len(strides) != len(shape) {
			return nil, newError(StatusShape, "strides: expected %d entries, got %d", len(shape),
				len(strides))
		}
		t.strides = append([]int64(nil), strides...)
	}
	return t, nil
}

func fromGo(p unsafe.Pointer, nbytes int, dtype DType, shape, strides []int64) (*Tensor, error) {
	t, err := describe(CPU, dtype, shape, strides)
	if err != nil {
		return nil, err
	}
	span, err := t.spanElems()
	if err != nil {
		return nil, err
	}
	if span*int64(dtype.Size()) > int64(nbytes) {
		return nil, newError(StatusShape, "data: %d bytes cannot hold %d elements of %s "+
			"(shape %v, strides %v)", nbytes, span, dtype, t.shape, t.strides)
	}
	if span > 0 {
		t.host, t.nbytes = p, nbytes
	}
	return t, nil
}

// spanElems is the storage the strides reach: 1 + Σ (shape[i]-1)·strides[i] elements, 0 when
// empty. Go memory must contain it, so negative strides and overflow are refused.
func (t *Tensor) spanElems() (int64, error) {
	for _, e := range t.shape {
		if e == 0 {
			return 0, nil
		}
	}
	span := int64(1)
	for i, e := range t.shape {
		s := t.strides[i]
		if s < 0 {
			return 0, newError(StatusLayout, "strides: negative stride %d in dim %d not "+
				"supported for Go memory", s, i)
		}
		if s > 0 && e-1 > (math.MaxInt64/8-span)/s {
			return 0, newError(StatusShape, "strides: the extent of dim %d overflows", i)
		}
		span += (e - 1) * s
	}
	return span, nil
}

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Device is where the memory lives.
func (t *Tensor) Device() Device { return t.device }

// NDim is the number of dimensions.
func (t *Tensor) NDim() int { return len(t.shape) }

// Shape returns a copy of the extents.
func (t *Tensor) Shape() []int64 { return append([]int64(nil), t.shape...) }

// Strides returns a copy of the strides, in elements.
func (t *Tensor) Strides() []int64 { return append([]int64(nil), t.strides...) }

// Pointer is the address given to FromPointer (0 for Go memory).
func (t *Tensor) Pointer() uintptr { return t.addr }

// Numel is the number of elements (1 for a 0-d tensor), computed by dlg_tensor_numel.
func (t *Tensor) Numel() int64 {
	var n int64
	_ = t.withDescriptor(func(dl uintptr) { n = raw.Dlg_tensor_numel(dl) })
	return n
}

// SpanBytes is the number of bytes from the first element to one past the last given the
// strides (0 if empty), computed by dlg_tensor_span_bytes.
func (t *Tensor) SpanBytes() int64 {
	var n int64
	_ = t.withDescriptor(func(dl uintptr) { n = raw.Dlg_tensor_span_bytes(dl) })
	return n
}

// withDescriptor runs f with a C DLTensor of t that f may only inspect (no data access).
func (t *Tensor) withDescriptor(f func(dl uintptr)) error {
	var b binder
	defer b.release()
	dl, err := b.bind(t)
	if err != nil {
		return err
	}
	f(dl)
	return nil
}

// Bytes is the Go storage as bytes (nil for a tensor not stored in Go memory, or empty). It
// aliases the tensor: writes show through.
func (t *Tensor) Bytes() []byte {
	if t.host == nil {
		return nil
	}
	return unsafe.Slice((*byte)(t.host), t.nbytes)
}

// Float32s is the Go storage of a 4-byte-element tensor as []float32 (nil otherwise).
func (t *Tensor) Float32s() []float32 { return hostAs[float32](t) }

// Uint16s is the Go storage of a 2-byte-element tensor (bfloat16 bit patterns) as []uint16.
func (t *Tensor) Uint16s() []uint16 { return hostAs[uint16](t) }

// Int32s is the Go storage of a 4-byte-element tensor as []int32 (nil otherwise).
func (t *Tensor) Int32s() []int32 { return hostAs[int32](t) }

func hostAs[T Element](t *Tensor) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if t.host == nil || t.dtype.Size() != size || uintptr(t.host)%uintptr(size) != 0 {
		return nil
	}
	return unsafe.Slice((*T)(t.host), t.nbytes/size)
}

// binder turns the Tensors of one call into C DLTensors: it pins their Go memory and builds
// each descriptor in C memory (dlg_tensor_create); release undoes both after the call.
type binder struct {
	pinner runtime.Pinner
	made   []uintptr
	seen   []*Tensor // the same *Tensor passed twice gets the same DLTensor (in-place C = D)
}

// bind returns the C DLTensor for t (0 = NULL for a nil t).
func (b *binder) bind(t *Tensor) (uintptr, error) {
	if t == nil {
		return 0, nil
	}
	for i, s := range b.seen {
		if s == t {
			return b.made[i], nil
		}
	}
	data := t.addr
	if t.host != nil {
		b.pinner.Pin(t.host) // C holds the address until release
		data = uintptr(t.host)
	}
	out := make([]uintptr, 1)
	err := call(func() raw.Enum_SS_dlg_status {
		return raw.Dlg_tensor_create(data, int(t.device.Type), t.device.ID, int(t.dtype.Code),
			int(t.dtype.Bits), len(t.shape), t.shape, t.strides, out)
	})
	if err != nil {
		return 0, err
	}
	b.made = append(b.made, out[0])
	b.seen = append(b.seen, t)
	return out[0], nil
}

// bindAll binds every tensor, in order.
func (b *binder) bindAll(ts []*Tensor) ([]uintptr, error) {
	dl := make([]uintptr, len(ts))
	for i, t := range ts {
		p, err := b.bind(t)
		if err != nil {
			return nil, err
		}
		dl[i] = p
	}
	return dl, nil
}

// release frees the descriptors, then unpins: nothing in C memory points to Go memory after.
func (b *binder) release() {
	for _, p := range b.made {
		raw.Dlg_tensor_destroy(p)
	}
	b.made, b.seen = nil, nil
	b.pinner.Unpin()
}
