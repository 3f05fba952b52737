package main

// Case files and their tensor sets: parse the spec, allocate Go storage, fill inputs, poison
// outputs, mirror to a device and back (conformance/README.md).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"unsafe"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

const poison = 0xA5

type fillSpec struct {
	Dist string      `json:"dist"`
	Lo   *float64    `json:"lo"`
	Hi   *float64    `json:"hi"`
	Seed json.Number `json:"seed"`
}

type partSpec struct {
	DType      string    `json:"dtype"`
	Shape      []int64   `json:"shape"`
	Strides    []int64   `json:"strides"`
	ByteOffset int64     `json:"byte_offset"`
	Fill       *fillSpec `json:"fill"`
}

type tensorSpec struct {
	Name    string     `json:"name"`
	DType   string     `json:"dtype"`
	Shape   []int64    `json:"shape"`
	Strides []int64    `json:"strides"`
	Role    string     `json:"role"`
	Fill    *fillSpec  `json:"fill"`
	Values  []float64  `json:"values"`
	Parts   []partSpec `json:"parts"`
	Alias   string     `json:"alias"`
}

type checkSpec struct {
	Metric    string    `json:"metric"`
	Tol       float64   `json:"tol"`
	Untouched [][]int64 `json:"untouched"`
	Equals    *int64    `json:"equals"`
	Min       *int64    `json:"min"`
}

type caseFile struct {
	Name          string                     `json:"name"`
	Op            string                     `json:"op"`
	Attrs         map[string]json.RawMessage `json:"attrs"`
	Tensors       []tensorSpec               `json:"tensors"`
	Check         map[string]checkSpec       `json:"check"`
	Expect        json.RawMessage            `json:"expect"`
	Devices       []string                   `json:"devices"`
	DevicesReason string                     `json:"devices_reason"`
}

func loadCase(path string) (*caseFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c caseFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// attrInt is an integer attribute (0 when absent).
func (c *caseFile) attrInt(key string) int64 {
	var v float64
	if raw, ok := c.Attrs[key]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return int64(v)
}

// attrEnum is an enum attribute given by name (names[i] is value i+1) or as a raw integer;
// -1 for an unknown name (the library must reject it), 0 when absent.
func (c *caseFile) attrEnum(key string, names ...string) int {
	raw, ok := c.Attrs[key]
	if !ok {
		return 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for i, n := range names {
			if n == s {
				return i + 1
			}
		}
		return -1
	}
	var v float64
	_ = json.Unmarshal(raw, &v)
	return int(v)
}

// caseTensor is one tensor of a set: host storage in Go memory, and a device mirror.
type caseTensor struct {
	spec    *tensorSpec
	alias   int // index of the tensor passed instead, or -1
	dtype   dlgemm.DType
	shape   []int64
	strides []int64 // explicit strides of the case, or nil (compact)
	elems   int64   // storage span in elements
	storage []byte  // host storage, 8-byte aligned
	host    *dlgemm.Tensor
	dev     *dlgemm.Tensor // the view the op gets on a device run
	devPtr  uintptr        // device memory to free
	mirror  []byte         // --mirror: host memory standing in for the device
}

type caseSet struct{ t []*caseTensor }

// alignedBytes is a zeroed byte slice whose first element is 8-byte aligned.
func alignedBytes(n int64) []byte {
	words := make([]uint64, (n+7)/8+1)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

func spanElems(shape, strides []int64) (int64, error) {
	for _, e := range shape {
		if e == 0 {
			return 0, nil
		}
	}
	span := int64(1)
	for i, e := range shape {
		if e < 0 || strides[i] < 0 {
			return 0, fmt.Errorf("negative extents or strides")
		}
		span += (e - 1) * strides[i]
		if span > 1<<31 {
			return 0, fmt.Errorf("over 2^31 elements")
		}
	}
	return span, nil
}

func compactStrides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	run := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = run
		run *= max(shape[i], 1)
	}
	return s
}

func fillView(view *dlgemm.Tensor, f *fillSpec, what string) error {
	if f == nil || f.Dist == "" {
		return fmt.Errorf("%s: fill needs \"dist\"", what)
	}
	dist := map[string]dlgemm.FillDist{"uniform": dlgemm.FillUniform, "normal": dlgemm.FillNormal,
		"int": dlgemm.FillInt}[f.Dist]
	if dist == 0 {
		return fmt.Errorf("%s: unknown fill dist '%s'", what, f.Dist)
	}
	seed, err := strconv.ParseUint(f.Seed.String(), 10, 64)
	if f.Seed == "" {
		seed, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("%s: bad seed %q", what, f.Seed)
	}
	lo, hi := 0.0, 1.0
	if f.Lo != nil {
		lo = *f.Lo
	}
	if f.Hi != nil {
		hi = *f.Hi
	}
	if err := dlgemm.Fill(view, seed, dist, lo, hi); err != nil {
		return fmt.Errorf("%s: dlg_testing_fill -> %v", what, err)
	}
	return nil
}

func (t *caseTensor) numel() int64 {
	n := int64(1)
	for _, e := range t.shape {
		n *= e
	}
	return n
}

// storageIndex is the storage element of row-major logical index i.
func (t *caseTensor) storageIndex(i int64) int64 {
	strides := t.strides
	if strides == nil {
		strides = compactStrides(t.shape)
	}
	off := int64(0)
	for d := len(t.shape) - 1; d >= 0; d-- {
		e := max(t.shape[d], 1)
		off += i % e * strides[d]
		i /= e
	}
	return off
}

// untouched: do storage elements [start, end) still hold the poison in every byte?
func (t *caseTensor) untouched(start, end int64) bool {
	start, end = max(start, 0), min(end, t.elems)
	size := int64(t.dtype.Size())
	for i := start * size; i < end*size; i++ {
		if t.storage[i] != poison {
			return false
		}
	}
	return true
}

// get is storage element i as a float64 (own decoders: the runner uses the ABI only for ops).
func (t *caseTensor) get(i int64) float64 {
	b := t.storage
	switch t.dtype {
	case dlgemm.Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	case dlgemm.BFloat16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16))
	case dlgemm.Float8E4M3FN:
		v := b[i]
		exp, man := int(v>>3)&15, float64(v&7)
		if exp == 15 && man == 7 {
			return math.NaN()
		}
		mag := man / 512
		if exp > 0 {
			mag = (8 + man) * math.Ldexp(1, exp-10)
		}
		if v&0x80 != 0 {
			return -mag
		}
		return mag
	case dlgemm.Int32:
		return float64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return float64(b[i])
}

func buildTensor(cpu *dlgemm.Context, spec *tensorSpec) (*caseTensor, error) {
	t := &caseTensor{spec: spec, alias: -1}
	if spec.Name == "" {
		return nil, fmt.Errorf("a tensor without \"name\"")
	}
	if spec.Alias != "" {
		return t, nil // resolved by the caller
	}
	if spec.Role != "input" && spec.Role != "output" && spec.Role != "inout" {
		return nil, fmt.Errorf("tensor %s: role must be input, output or inout", spec.Name)
	}
	var err error
	if t.dtype, err = dlgemm.ParseDType(spec.DType); err != nil {
		return nil, fmt.Errorf("tensor %s: unknown dtype", spec.Name)
	}
	if spec.Shape == nil || len(spec.Shape) > 8 {
		return nil, fmt.Errorf("tensor %s: bad shape", spec.Name)
	}
	t.shape = spec.Shape
	strides := compactStrides(t.shape)
	if spec.Strides != nil {
		if len(spec.Strides) != len(t.shape) {
			return nil, fmt.Errorf("tensor %s: strides rank differs from shape", spec.Name)
		}
		t.strides, strides = spec.Strides, spec.Strides
	}
	if t.elems, err = spanElems(t.shape, strides); err != nil {
		return nil, fmt.Errorf("tensor %s: %v", spec.Name, err)
	}
	t.storage = alignedBytes(t.elems * int64(t.dtype.Size()))
	if t.host, err = dlgemm.FromBytes(t.storage, t.dtype, t.shape, t.strides); err != nil {
		return nil, fmt.Errorf("tensor %s: %v", spec.Name, err)
	}
	if spec.Role == "output" {
		for i := range t.storage {
			t.storage[i] = poison // the gaps between strided rows too
		}
		if err := cpu.Poison(t.host, poison); err != nil { // exercised, same bytes
			return nil, fmt.Errorf("tensor %s: dlg_testing_poison -> %v", spec.Name, err)
		}
		return t, nil
	}
	given := 0
	for _, g := range []bool{spec.Fill != nil, spec.Values != nil, spec.Parts != nil} {
		if g {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, fmt.Errorf("tensor %s: give one of fill, values, parts", spec.Name)
	case spec.Fill != nil:
		return t, fillView(t.host, spec.Fill, spec.Name)
	case spec.Values != nil:
		return t, t.setValues(spec.Values)
	case spec.Parts != nil:
		return t, t.fillParts(spec.Parts)
	}
	return t, nil
}

func (t *caseTensor) setValues(values []float64) error {
	if int64(len(values)) != t.numel() {
		return fmt.Errorf("tensor %s: \"values\" needs %d entries", t.spec.Name, t.numel())
	}
	if t.strides != nil {
		return fmt.Errorf("tensor %s: \"values\" needs a compact tensor", t.spec.Name)
	}
	for i, v := range values {
		switch t.dtype {
		case dlgemm.Int32:
			binary.LittleEndian.PutUint32(t.storage[4*i:], uint32(int32(v)))
		case dlgemm.UInt8:
			t.storage[i] = uint8(v)
		case dlgemm.Float32:
			binary.LittleEndian.PutUint32(t.storage[4*i:], math.Float32bits(float32(v)))
		default:
			return fmt.Errorf("tensor %s: \"values\" only for int32, uint8, float32", t.spec.Name)
		}
	}
	return nil
}

// fillParts fills typed views into the storage (paged KV cache, packed words).
func (t *caseTensor) fillParts(parts []partSpec) error {
	for i, p := range parts {
		dt, err := dlgemm.ParseDType(p.DType)
		if err != nil || p.Shape == nil {
			return fmt.Errorf("tensor %s part %d: bad dtype or shape", t.spec.Name, i)
		}
		strides := p.Strides
		if strides == nil {
			strides = compactStrides(p.Shape)
		} else if len(strides) != len(p.Shape) {
			return fmt.Errorf("tensor %s part %d: strides rank differs from shape", t.spec.Name, i)
		}
		span, err := spanElems(p.Shape, strides)
		end := p.ByteOffset + span*int64(dt.Size())
		if err != nil || p.ByteOffset < 0 || p.ByteOffset > int64(len(t.storage)) || end > int64(len(t.storage)) {
			return fmt.Errorf("tensor %s part %d: outside the storage", t.spec.Name, i)
		}
		view, err := dlgemm.FromBytes(t.storage[p.ByteOffset:], dt, p.Shape, strides)
		if err != nil {
			return fmt.Errorf("tensor %s part %d: %v", t.spec.Name, i, err)
		}
		if err := fillView(view, p.Fill, fmt.Sprintf("tensor %s part %d", t.spec.Name, i)); err != nil {
			return err
		}
	}
	return nil
}

func buildSet(cpu *dlgemm.Context, c *caseFile) (*caseSet, error) {
	if len(c.Tensors) > 16 {
		return nil, fmt.Errorf("\"tensors\" must be a list of at most 16")
	}
	s := &caseSet{}
	for i := range c.Tensors {
		t, err := buildTensor(cpu, &c.Tensors[i])
		if err != nil {
			return nil, err
		}
		s.t = append(s.t, t)
	}
	for i, t := range s.t {
		if t.spec.Alias == "" {
			continue
		}
		for j, u := range s.t {
			if j != i && u.spec.Alias == "" && u.spec.Name == t.spec.Alias {
				t.alias = j
			}
		}
		if t.alias < 0 {
			return nil, fmt.Errorf("tensor %s: alias '%s' names no tensor", t.spec.Name, t.spec.Alias)
		}
	}
	return s, nil
}

func (s *caseSet) find(name string) *caseTensor {
	for _, t := range s.t {
		if t.spec.Name == name {
			return t
		}
	}
	return nil
}

// arg is the tensor handed to the op for argument name (alias resolved; the device view on a
// device run), or nil when the case has no such tensor.
func (s *caseSet) arg(name string) *dlgemm.Tensor {
	t := s.find(name)
	if t == nil {
		return nil
	}
	if t.alias >= 0 {
		t = s.t[t.alias]
	}
	if t.dev != nil {
		return t.dev
	}
	return t.host
}

// toDevice mirrors every tensor into device memory of ctx (or, with mirror, into fresh host
// memory standing in for it) and copies it there.
func (s *caseSet) toDevice(ctx *dlgemm.Context, mirror bool) error {
	for _, t := range s.t {
		if t.alias >= 0 {
			continue
		}
		bytes := int64(len(t.storage))
		var err error
		switch {
		case mirror:
			t.mirror = alignedBytes(bytes)
			t.dev, err = dlgemm.FromBytes(t.mirror, t.dtype, t.shape, t.strides)
		default:
			var ptr uintptr
			if bytes > 0 {
				if ptr, err = ctx.DeviceAlloc(bytes); err != nil {
					return fmt.Errorf("tensor %s: dlg_device_alloc(%d) -> %v", t.spec.Name, bytes, err)
				}
				t.devPtr = ptr
			}
			t.dev, err = dlgemm.FromPointer(ptr, dlgemm.CUDA(ctx.Device()), t.dtype, t.shape, t.strides)
		}
		if err != nil {
			return fmt.Errorf("tensor %s: %v", t.spec.Name, err)
		}
		if bytes > 0 {
			if err := ctx.TensorCopy(t.host, t.dev); err != nil {
				return fmt.Errorf("tensor %s: copy to device -> %v", t.spec.Name, err)
			}
		}
	}
	return nil
}

// fromDevice copies outputs and inouts back into the host storage.
func (s *caseSet) fromDevice(ctx *dlgemm.Context) error {
	for _, t := range s.t {
		if t.alias >= 0 || t.dev == nil || t.spec.Role == "input" || len(t.storage) == 0 {
			continue
		}
		if err := ctx.TensorCopy(t.dev, t.host); err != nil {
			return fmt.Errorf("tensor %s: copy to host -> %v", t.spec.Name, err)
		}
	}
	return nil
}

// free releases device memory (ctx may be nil when nothing is on a device).
func (s *caseSet) free(ctx *dlgemm.Context) {
	if s == nil {
		return
	}
	for _, t := range s.t {
		if t.devPtr != 0 && ctx != nil {
			_ = ctx.DeviceFree(t.devPtr)
		}
		t.devPtr, t.dev = 0, nil
	}
}
