package dlgemm_test

// Every op through CUDA device 0, compared with the CPU reference path on the same inputs.
// Each case builds its host tensors twice (identically: dlgemm.Fill with fixed seeds); one set
// runs on a CPU context, the other is copied into device memory allocated through the ABI
// (DeviceAlloc + TensorCopy), runs on a context for device 0, and its outputs are copied back
// and compared: DeepGEMM's calc_diff for floating outputs (FP8 < 1e-3, BF16 < 1e-5), bitwise
// for integer ones. Device layouts follow the GPU rules (K-major FP8, TMA-aligned MN-major
// per-row scales, 128-aligned MoE segments); the CPU path takes them too.
//
// Without a CUDA device each case runs its CPU half only (which checks the case) and is
// skipped; DLGEMM_REQUIRE_GPU=1 makes a missing device a failure. An op without a GPU kernel
// (ErrUnsupported while the CPU path works) is skipped as "no kernel", never passed. On the
// H100: go test -c -o dlgemm_go.test here, then ./dlgemm_go.test -test.run GPU -test.v there
// (each case logs its calc_diff).

import (
	"errors"
	"os"
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// gpuArg is one tensor argument of a case: its host tensor and, for outputs, the check.
type gpuArg struct {
	host   *dlgemm.Tensor
	output bool
	tol    float64 // calc_diff bound for float outputs; integer outputs must match bitwise
}

type gpuCase struct {
	name string
	args func(t *testing.T) []gpuArg // host tensors in the op's argument order (nil = NULL)
	op   func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error
}

// alloc makes a zeroed CPU tensor of any strides, its Go storage sized to the span.
func alloc(t *testing.T, dtype dlgemm.DType, shape, strides []int64) *dlgemm.Tensor {
	t.Helper()
	span := int64(1)
	for i, e := range shape {
		if e == 0 {
			span = 0
			break
		}
		s := int64(1)
		if strides != nil {
			s = strides[i]
		} else {
			for _, f := range shape[i+1:] {
				s *= f
			}
		}
		span += (e - 1) * s
	}
	var x *dlgemm.Tensor
	var err error
	switch dtype.Size() {
	case 4:
		x, err = dlgemm.FromSlice(make([]float32, span), dtype, shape, strides)
	case 2:
		x, err = dlgemm.FromSlice(make([]uint16, span), dtype, shape, strides)
	default:
		x, err = dlgemm.FromSlice(make([]uint8, span), dtype, shape, strides)
	}
	must(t, err)
	return x
}

// filled is an input drawn from the library's seeded generator.
func filled(t *testing.T, dtype dlgemm.DType, seed uint64, dist dlgemm.FillDist, lo, hi float64,
	shape, strides []int64) gpuArg {
	x := alloc(t, dtype, shape, strides)
	must(t, dlgemm.Fill(x, seed, dist, lo, hi))
	return gpuArg{host: x}
}

func ints(t *testing.T, v []int32, shape ...int64) gpuArg {
	return gpuArg{host: tensor(t, append([]int32(nil), v...), dlgemm.Int32, shape...)}
}

func output(t *testing.T, dtype dlgemm.DType, tol float64, shape, strides []int64) gpuArg {
	return gpuArg{host: alloc(t, dtype, shape, strides), output: true, tol: tol}
}

// tmaScales is a per-row scale tensor [rows, cols] (batched: [g, rows, cols]) in the
// TMA-aligned MN-major layout the GPU GEMMs read.
func tmaScales(t *testing.T, seed uint64, shape ...int64) gpuArg {
	nd := len(shape)
	aligned := dlgemm.TMAAlignedSize(shape[nd-2], 4)
	strides := []int64{1, aligned}
	if nd == 3 {
		strides = []int64{aligned * shape[2], 1, aligned}
	}
	return filled(t, dlgemm.Float32, seed, dlgemm.FillUniform, 0.5, 2, shape, strides)
}

func fp8(t *testing.T, seed uint64, shape ...int64) gpuArg {
	return filled(t, dlgemm.Float8E4M3FN, seed, dlgemm.FillUniform, -2, 2, shape, nil)
}

func f32(t *testing.T, seed uint64, lo, hi float64, shape ...int64) gpuArg {
	return filled(t, dlgemm.Float32, seed, dlgemm.FillUniform, lo, hi, shape, nil)
}

func gpuCases() []gpuCase {
	gemm := func(recipe dlgemm.Recipe) func(*dlgemm.Context, []*dlgemm.Tensor) error {
		return func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.Gemm(recipe, x[0], x[1], x[2], x[3], x[4], x[5], 0)
		}
	}
	const m, n, k = 256, 512, 1024
	return []gpuCase{
		{"gemm_bf16", func(t *testing.T) []gpuArg {
			return []gpuArg{filled(t, dlgemm.BFloat16, 1, dlgemm.FillNormal, 0, 1, []int64{m, k}, nil), {},
				filled(t, dlgemm.BFloat16, 2, dlgemm.FillNormal, 0, 1, []int64{n, k}, nil), {}, {},
				output(t, dlgemm.BFloat16, 1e-5, []int64{m, n}, nil)}
		}, gemm(dlgemm.RecipeBF16)},
		{"gemm_fp8_1d2d", func(t *testing.T) []gpuArg {
			return []gpuArg{fp8(t, 3, m, k), tmaScales(t, 4, m, k/128), fp8(t, 5, n, k),
				f32(t, 6, 0.5, 2, n/128, k/128), {}, output(t, dlgemm.BFloat16, 1e-3, []int64{m, n}, nil)}
		}, gemm(dlgemm.RecipeFP8_1D2D)},
		{"gemm_fp8_1d1d", func(t *testing.T) []gpuArg {
			return []gpuArg{fp8(t, 7, 128, 384), tmaScales(t, 8, 128, 3), fp8(t, 9, 256, 384),
				tmaScales(t, 10, 256, 3), {}, output(t, dlgemm.Float32, 1e-3, []int64{128, 256}, nil)}
		}, gemm(dlgemm.RecipeFP8_1D1D)},
		{"gemm_fp8_per_tensor", func(t *testing.T) []gpuArg {
			return []gpuArg{fp8(t, 11, m, k), f32(t, 12, 0.5, 2), fp8(t, 13, n, k), f32(t, 14, 0.5, 2), {},
				output(t, dlgemm.BFloat16, 1e-3, []int64{m, n}, nil)}
		}, gemm(dlgemm.RecipeFP8PerTensor)},
		{"m_grouped_contiguous_fp8", func(t *testing.T) []gpuArg {
			ids := make([]int32, 512)
			for i := range ids {
				ids[i] = int32(i / 128) // 128-row (aligned) segments
			}
			ids[300] = -1
			return []gpuArg{fp8(t, 15, 512, 512), tmaScales(t, 16, 512, 4), fp8(t, 17, 4, 512, 512),
				f32(t, 18, 0.5, 2, 4, 4, 4), ints(t, ids, 512), output(t, dlgemm.BFloat16, 1e-3, []int64{512, 512}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.MGroupedGemmContiguous(dlgemm.RecipeFP8_1D2D, x[0], x[1], x[2], x[3], x[4],
				dlgemm.GroupLayoutRowIDs, x[5], 0)
		}},
		{"m_grouped_masked_fp8", func(t *testing.T) []gpuArg {
			return []gpuArg{fp8(t, 19, 4, 128, 512), tmaScales(t, 20, 4, 128, 4), fp8(t, 21, 4, 512, 512),
				f32(t, 22, 0.5, 2, 4, 4, 4), ints(t, []int32{96, 0, 128, 33}, 4),
				output(t, dlgemm.BFloat16, 1e-3, []int64{4, 128, 512}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.MGroupedGemmMasked(dlgemm.RecipeFP8_1D2D, x[0], x[1], x[2], x[3], x[4], 96, x[5], 0)
		}},
		{"k_grouped_fp8_1d1d", func(t *testing.T) []gpuArg {
			return []gpuArg{fp8(t, 23, 256, 1024), tmaScales(t, 24, 256, 8), fp8(t, 25, 256, 1024),
				tmaScales(t, 26, 256, 8), ints(t, []int32{256, 0, 768}, 3),
				output(t, dlgemm.Float32, 1e-3, []int64{3, 256, 256}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.KGroupedGemmContiguous(dlgemm.RecipeFP8_1D1D, x[0], x[1], x[2], x[3], x[4], nil, x[5], 0)
		}},
		{"mqa_logits", func(t *testing.T) []gpuArg {
			ks, ke := make([]int32, 128), make([]int32, 128)
			for i := range ks {
				ks[i], ke[i] = int32(i), int32(384+i)
			}
			return []gpuArg{fp8(t, 27, 128, 64, 128), fp8(t, 28, 512, 128), f32(t, 29, 0.5, 1.5, 512),
				f32(t, 30, -1, 1, 128, 64), ints(t, ks, 128), ints(t, ke, 128),
				output(t, dlgemm.Float32, 1e-3, []int64{128, 512}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.MQALogits(x[0], x[1], x[2], x[3], x[4], x[5], true, x[6], 0)
		}},
		{"paged_mqa_logits", pagedArgs, pagedOp},
		{"clean_logits", func(t *testing.T) []gpuArg {
			logits := f32(t, 31, -1, 1, 64, 300)
			logits.output, logits.tol = true, 0
			ks, ke := make([]int32, 64), make([]int32, 64)
			for i := range ks {
				ks[i], ke[i] = int32(i), int32(100+3*i)
			}
			return []gpuArg{ints(t, ks, 64), ints(t, ke, 64), logits}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error { return ctx.CleanLogits(x[0], x[1], x[2], 0) }},
		{"cast_per_token", func(t *testing.T) []gpuArg {
			aligned := dlgemm.TMAAlignedSize(256, 4)
			return []gpuArg{f32(t, 32, -4, 4, 256, 1024), output(t, dlgemm.Float8E4M3FN, 1e-3, []int64{256, 1024}, nil),
				output(t, dlgemm.Float32, 1e-5, []int64{256, 8}, []int64{1, aligned})}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.CastFP8PerToken(x[0], false, x[1], x[2], 0)
		}},
		{"cast_per_block_ue8m0", func(t *testing.T) []gpuArg {
			return []gpuArg{filled(t, dlgemm.BFloat16, 33, dlgemm.FillNormal, 0, 3, []int64{384, 512}, nil),
				output(t, dlgemm.Float8E4M3FN, 1e-3, []int64{384, 512}, nil), output(t, dlgemm.Float32, 1e-5, []int64{3, 4}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
			return ctx.CastFP8PerBlock(x[0], true, x[1], x[2], 0)
		}},
		{"cast_per_tensor", func(t *testing.T) []gpuArg {
			return []gpuArg{f32(t, 34, -10, 10, 128, 512), output(t, dlgemm.Float8E4M3FN, 1e-3, []int64{128, 512}, nil),
				output(t, dlgemm.Float32, 1e-5, nil, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error { return ctx.CastFP8PerTensor(x[0], x[1], x[2], 0) }},
		{"transform_sf", func(t *testing.T) []gpuArg {
			aligned := dlgemm.TMAAlignedSize(300, 4)
			return []gpuArg{f32(t, 35, 0.1, 2, 2, 300, 5),
				output(t, dlgemm.Float32, 0, []int64{2, 300, 5}, []int64{aligned * 5, 1, aligned})}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error { return ctx.TransformSF(x[0], x[1], 0) }},
		{"pack_ue8m0", func(t *testing.T) []gpuArg {
			return []gpuArg{f32(t, 36, 1e-3, 1e3, 256, 10), output(t, dlgemm.Int32, 0, []int64{256, 3}, nil)}
		}, func(ctx *dlgemm.Context, x []*dlgemm.Tensor) error { return ctx.PackUE8M0(x[0], x[1], 0) }},
	}
}

// The paged case: q [8, 1, 64, 128]; a KV cache of 67 blocks of 64 tokens (FP8 bytes, then
// FP32 scales, filled through typed views of the byte storage); a scrambled block table.
func pagedArgs(t *testing.T) []gpuArg {
	const blocks, blockKV, dim = 67, 64, 128
	cache := make([]byte, blocks*blockKV*(dim+4))
	per := int64(blockKV * (dim + 4))
	kv, err := dlgemm.FromBytes(cache, dlgemm.Float8E4M3FN, []int64{blocks, blockKV * dim}, []int64{per, 1})
	must(t, err)
	must(t, dlgemm.Fill(kv, 37, dlgemm.FillUniform, -2, 2))
	sc, err := dlgemm.FromBytes(cache[blockKV*dim:], dlgemm.Float32, []int64{blocks, blockKV}, []int64{per / 4, 1})
	must(t, err)
	must(t, dlgemm.Fill(sc, 38, dlgemm.FillUniform, 0.5, 2))
	cacheT, err := dlgemm.FromBytes(cache, dlgemm.UInt8, []int64{blocks, blockKV, 1, dim + 4}, nil)
	must(t, err)
	lens := []int32{512, 1, 300, 64, 65, 0, 200, 511}
	table := make([]int32, 8*8)
	for i := range table {
		table[i] = int32((i*29 + 7) % blocks)
	}
	return []gpuArg{fp8(t, 39, 8, 1, 64, dim), {host: cacheT}, f32(t, 40, -1, 1, 8, 64), ints(t, lens, 8),
		ints(t, table, 8, 8), output(t, dlgemm.Float32, 1e-3, []int64{8, 512}, nil)}
}

// pagedOp derives the schedule on the GPU (it is device-specific); the CPU path takes none.
func pagedOp(ctx *dlgemm.Context, x []*dlgemm.Tensor) error {
	if ctx.Device() < 0 {
		return ctx.PagedMQALogits(x[0], x[1], x[2], x[3], x[4], nil, true, x[5], 0)
	}
	info, err := ctx.DeviceInfo()
	if err != nil {
		return err
	}
	rows := dlgemm.PagedMQALogitsMetadataRows(info.NumSMs)
	ptr, err := ctx.DeviceAlloc(rows * 2 * 4)
	if err != nil {
		return err
	}
	meta, err := dlgemm.FromPointer(ptr, dlgemm.CUDA(ctx.Device()), dlgemm.Int32, []int64{rows, 2}, nil)
	if err == nil {
		err = ctx.PagedMQALogitsMetadata(x[3], int(x[1].Shape()[1]), info.NumSMs, meta, 0)
	}
	if err == nil {
		err = ctx.PagedMQALogits(x[0], x[1], x[2], x[3], x[4], meta, true, x[5], 0)
	}
	if err == nil {
		err = ctx.StreamSynchronize(0) // the schedule is freed below
	}
	if ferr := ctx.DeviceFree(ptr); err == nil {
		err = ferr
	}
	return err
}

// toDevice copies host tensors into fresh device memory; free releases it.
func toDevice(t *testing.T, ctx *dlgemm.Context, args []gpuArg) (dev []*dlgemm.Tensor, free func()) {
	t.Helper()
	var ptrs []uintptr
	free = func() {
		for _, p := range ptrs {
			if err := ctx.DeviceFree(p); err != nil {
				t.Error(err)
			}
		}
	}
	for _, a := range args {
		if a.host == nil {
			dev = append(dev, nil)
			continue
		}
		ptr, err := ctx.DeviceAlloc(max(a.host.SpanBytes(), 1))
		if err != nil {
			free()
			t.Fatal(err)
		}
		ptrs = append(ptrs, ptr)
		d, err := dlgemm.FromPointer(ptr, dlgemm.CUDA(ctx.Device()), a.host.DType(), a.host.Shape(), a.host.Strides())
		if err == nil {
			err = ctx.TensorCopy(a.host, d)
		}
		if err != nil {
			free()
			t.Fatal(err)
		}
		dev = append(dev, d)
	}
	return dev, free
}

func hostTensors(args []gpuArg) []*dlgemm.Tensor {
	out := make([]*dlgemm.Tensor, len(args))
	for i, a := range args {
		out[i] = a.host
	}
	return out
}

func TestGPU(t *testing.T) {
	cpu := newCPU(t)
	var gpu *dlgemm.Context
	rt := dlgemm.GetRuntimeInfo()
	if rt.DeviceCount > 0 {
		var err error
		gpu, err = dlgemm.NewContext(dlgemm.WithDevice(0))
		must(t, err)
		defer gpu.Close()
		info, err := gpu.DeviceInfo()
		must(t, err)
		t.Logf("device 0: %s, sm_%d%d, %d SMs; driver %d, NVRTC %d.%d", info.Name, info.SMMajor,
			info.SMMinor, info.NumSMs, rt.DriverVersion, rt.NVRTCMajor, rt.NVRTCMinor)
	} else if os.Getenv("DLGEMM_REQUIRE_GPU") == "1" {
		t.Fatalf("DLGEMM_REQUIRE_GPU=1 but there is no CUDA device: %s", rt.Why)
	} else {
		t.Logf("no CUDA device (%s): each case runs its CPU half only", rt.Why)
	}
	t.Run("memcpy", func(t *testing.T) {
		if gpu == nil {
			t.Skip("no CUDA device")
		}
		src := []byte("host -> device -> device -> host")
		a, err := gpu.DeviceAlloc(int64(len(src)))
		must(t, err)
		defer gpu.DeviceFree(a)
		b, err := gpu.DeviceAlloc(int64(len(src)))
		must(t, err)
		defer gpu.DeviceFree(b)
		back := make([]byte, len(src))
		must(t, gpu.CopyToDevice(a, src))
		must(t, gpu.Memcpy(b, a, int64(len(src))))
		must(t, gpu.CopyFromDevice(back, b))
		if string(back) != string(src) {
			t.Fatalf("round trip: %q", back)
		}
		poisoned, err := dlgemm.FromPointer(b, dlgemm.CUDA(0), dlgemm.UInt8, []int64{int64(len(src))}, nil)
		must(t, err)
		must(t, gpu.Poison(poisoned, 0xA5))
		must(t, gpu.CopyFromDevice(back, b))
		for _, v := range back {
			if v != 0xA5 {
				t.Fatal("Poison on the device")
			}
		}
	})
	for _, c := range gpuCases() {
		t.Run(c.name, func(t *testing.T) {
			ref := c.args(t)
			must(t, c.op(cpu, hostTensors(ref)))
			if gpu == nil {
				t.Skip("no CUDA device: the CPU half ran")
			}
			res := c.args(t)
			dev, free := toDevice(t, gpu, res)
			defer free()
			err := c.op(gpu, dev)
			if errors.Is(err, dlgemm.ErrUnsupported) {
				t.Skipf("no kernel: %v", err)
			}
			must(t, err)
			must(t, gpu.StreamSynchronize(0))
			for i, a := range res {
				if !a.output {
					continue
				}
				must(t, gpu.TensorCopy(dev[i], a.host))
				if a.host.DType() == dlgemm.Int32 || a.tol == 0 {
					mis, err := dlgemm.CountMismatch(a.host, ref[i].host)
					must(t, err)
					t.Logf("arg %d (%v): %d mismatches", i, a.host.DType(), mis)
					if mis != 0 {
						t.Errorf("arg %d: %d elements differ from the CPU path", i, mis)
					}
					continue
				}
				diff, err := dlgemm.CalcDiff(a.host, ref[i].host)
				must(t, err)
				t.Logf("arg %d (%v): calc_diff %.3g (tol %g)", i, a.host.DType(), diff, a.tol)
				if !(diff <= a.tol) {
					t.Errorf("arg %d: calc_diff %g > %g", i, diff, a.tol)
				}
			}
		})
	}
}
