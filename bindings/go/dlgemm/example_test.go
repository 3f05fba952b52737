package dlgemm_test

import (
	"errors"
	"fmt"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// A BF16 GEMM on the CPU reference path: D = A·Bᵀ with A [2, 3], B [2, 3] in bfloat16 (Go
// stores bfloat16 as uint16 bit patterns) and D in float32.
func Example() {
	ctx, err := dlgemm.NewContext() // dlgemm.WithDevice(0) for CUDA device 0
	if err != nil {
		panic(err)
	}
	defer ctx.Close()

	bf16 := func(xs ...float32) []uint16 {
		out := make([]uint16, len(xs))
		for i, x := range xs {
			out[i] = dlgemm.BFloat16Bits(x)
		}
		return out
	}
	a, _ := dlgemm.FromSlice(bf16(1, 2, 3, 4, 5, 6), dlgemm.BFloat16, []int64{2, 3}, nil)
	b, _ := dlgemm.FromSlice(bf16(1, 0, 1, 0, 1, 0), dlgemm.BFloat16, []int64{2, 3}, nil)
	d := dlgemm.Zeros(dlgemm.Float32, 2, 2)
	if err := ctx.Gemm(dlgemm.RecipeBF16, a, nil, b, nil, nil, d, 0); err != nil {
		panic(err)
	}
	fmt.Println(d.Float32s())

	// Errors name the argument and match the sentinel of their kind.
	err = ctx.Gemm(dlgemm.RecipeBF16, d, nil, b, nil, nil, d, 0)
	fmt.Println(errors.Is(err, dlgemm.ErrDType))
	fmt.Println(err)
	// Output:
	// [4 2 10 5]
	// true
	// dlgemm: a: expected dtype bfloat16, got float32 (DLG_ERR_DTYPE)
}
