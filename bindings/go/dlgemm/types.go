package dlgemm

import (
	"fmt"
	"math"

	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// DType is a DLPack element type: a type code and a bit width (lanes are always 1).
type DType struct {
	Code uint8 // DLDataTypeCode: 0 int, 1 uint, 2 float, 4 bfloat, 10 float8_e4m3fn, ...
	Bits uint8 // bits per element
}

// The element types dlgemm's ops take (DLPack codes are part of the DLPack ABI).
var (
	Float32       = DType{Code: 2, Bits: 32} // (kDLFloat, 32)
	BFloat16      = DType{Code: 4, Bits: 16} // (kDLBfloat, 16): stored as uint16 bit patterns
	Float8E4M3FN  = DType{Code: 10, Bits: 8} // (kDLFloat8_e4m3fn, 8): stored as uint8 bytes
	Int32         = DType{Code: 0, Bits: 32} // (kDLInt, 32)
	UInt8         = DType{Code: 1, Bits: 8}  // (kDLUInt, 8)
	allKnownTypes = []DType{Float32, BFloat16, Float8E4M3FN, Int32, UInt8}
)

// String is the library's name of the type, e.g. "float8_e4m3fn" (dlg_dtype_name).
func (d DType) String() string { return raw.Dlg_dtype_name(int(d.Code), int(d.Bits)) }

// Size is the size of one element in bytes (rounded up).
func (d DType) Size() int { return (int(d.Bits) + 7) / 8 }

// ParseDType returns the DType of a name as String writes it ("float32", "bfloat16",
// "float8_e4m3fn", "int32", "uint8").
func ParseDType(name string) (DType, error) {
	for _, d := range allKnownTypes {
		if d.String() == name {
			return d, nil
		}
	}
	return DType{}, newError(StatusDType, "dtype: unknown name %q", name)
}

// DeviceType is a DLPack device type.
type DeviceType int

// The device types dlgemm takes.
const (
	DeviceCPU      DeviceType = 1 // kDLCPU: host memory, the reference path
	DeviceCUDA     DeviceType = 2 // kDLCUDA: memory of a CUDA device, the GPU kernels
	DeviceCUDAHost DeviceType = 3 // kDLCUDAHost: pinned host memory, treated as host memory
)

// Device is where a tensor's memory lives.
type Device struct {
	Type DeviceType // DLPack device type
	ID   int        // device ordinal (0 for host memory)
}

// CPU is host memory.
var CPU = Device{Type: DeviceCPU}

// CUDA is the memory of CUDA device ordinal.
func CUDA(ordinal int) Device { return Device{Type: DeviceCUDA, ID: ordinal} }

// String is "cpu", "cuda:N" or "cuda_host".
func (d Device) String() string {
	switch d.Type {
	case DeviceCPU:
		return "cpu"
	case DeviceCUDA:
		return fmt.Sprintf("cuda:%d", d.ID)
	case DeviceCUDAHost:
		return "cuda_host"
	}
	return fmt.Sprintf("device(%d):%d", int(d.Type), d.ID)
}

// Recipe is a scale recipe of the GEMMs (dlg_recipe_t; values are part of the ABI). See
// include/dlgemm/gemm.h for the tensors each takes.
type Recipe int

// The scale recipes.
const (
	// RecipeFP8_1D2D: e4m3 A and B; sfa [M, ceil(K/128)] f32 per token and 128-wide K block,
	// sfb [ceil(N/128), ceil(K/128)] f32 per 128×128 block (or both packed UE8M0). D bf16|f32.
	RecipeFP8_1D2D Recipe = 1
	// RecipeFP8_1D1D: e4m3 A and B; sfa [M, Kb] and sfb [N, Kb], both per token. D f32|bf16.
	RecipeFP8_1D1D Recipe = 2
	// RecipeFP8PerTensor: e4m3 A and B with one f32 scale each (nil means 1). D bf16|f32.
	RecipeFP8PerTensor Recipe = 3
	// RecipeBF16: bfloat16 A and B, no scales. D bf16|f32.
	RecipeBF16 Recipe = 4
)

// String is the library's name of the recipe (dlg_recipe_name).
func (r Recipe) String() string { return raw.Dlg_recipe_name(raw.Enum_SS_dlg_recipe(r)) }

// GroupLayout says how rows of the M-grouped contiguous layout map to groups
// (dlg_group_layout_t).
type GroupLayout int

// The group layouts.
const (
	// GroupLayoutRowIDs: int32 [M], the group of each row, -1 for a padding row.
	GroupLayoutRowIDs GroupLayout = 1
	// GroupLayoutOffsets: int32 [G+1] non-decreasing offsets; group g owns rows
	// [off[g], off[g+1]).
	GroupLayoutOffsets GroupLayout = 2
)

// FillDist is a distribution of Fill (dlg_fill_t).
type FillDist int

// The distributions of Fill.
const (
	FillUniform FillDist = 1 // uniform in [lo, hi)
	FillNormal  FillDist = 2 // normal with mean lo and standard deviation hi
	FillInt     FillDist = 3 // integers uniform in [lo, hi] (int32 / uint8 tensors)
)

// Stream is a CUDA stream (a CUstream handle); 0 is the legacy default stream. It is ignored
// on the CPU path.
type Stream uintptr

// FP8E4M3Max is the largest finite float8_e4m3fn value (DLG_FP8_E4M3_MAX).
const FP8E4M3Max = 448.0

// BFloat16Bits rounds f to bfloat16 (to nearest, ties to even) and returns its bit pattern,
// the storage of a BFloat16 tensor.
func BFloat16Bits(f float32) uint16 {
	u := math.Float32bits(f)
	if f != f {
		return 0x7FC0 // a quiet NaN
	}
	u += 0x7FFF + (u>>16)&1
	return uint16(u >> 16)
}

// BFloat16Value is the float32 value of a bfloat16 bit pattern.
func BFloat16Value(bits uint16) float32 { return math.Float32frombits(uint32(bits) << 16) }
