package dlgemm_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"testing"
	"unsafe"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// input is x as the op sees it: the f32 values, or their bfloat16 rounding and bit patterns.
func input(t *testing.T, x []float32, bf16 bool, shape ...int64) ([]float32, *dlgemm.Tensor) {
	if !bf16 {
		return x, tensor(t, x, dlgemm.Float32, shape...)
	}
	bits := toBF16(x)
	rounded := make([]float32, len(x))
	for i, b := range bits {
		rounded[i] = bf16Value(b)
	}
	return rounded, tensor(t, bits, dlgemm.BFloat16, shape...)
}

func equalF32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %#x, want %#x", what, i, got[i], want[i])
		}
	}
}

func TestCastPerToken(t *testing.T) {
	ctx, r := newCPU(t), newRand(12)
	m, k := 37, 300
	kb := ceilDiv(k, 128)
	for _, bf16 := range []bool{false, true} {
		for _, ue8m0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("bf16=%v/ue8m0=%v", bf16, ue8m0), func(t *testing.T) {
				raw := randn(r, m*k, 3)
				for c := 128; c < 256; c++ {
					raw[4*k+c] = 0 // an all-zero block gets sf = 1
				}
				x, xt := input(t, raw, bf16, int64(m), int64(k))
				q, sfRef := quantRows(x, m, k, ue8m0)
				out := dlgemm.Zeros(dlgemm.Float8E4M3FN, int64(m), int64(k))
				sf := dlgemm.Zeros(dlgemm.Float32, int64(m), int64(kb))
				must(t, ctx.CastFP8PerToken(xt, ue8m0, out, sf, 0))
				equalF32(t, "sf", sf.Float32s(), sfRef)
				if sf.Float32s()[4*kb+1] != 1 {
					t.Fatal("the zero block's scale is not 1")
				}
				equalBytes(t, "out", out.Bytes(), q)
				// Scales written straight into a TMA-aligned MN-major view.
				aligned := dlgemm.TMAAlignedSize(int64(m), 4)
				buf := make([]float32, int(aligned)*kb)
				view := strided(t, buf, dlgemm.Float32, []int64{int64(m), int64(kb)}, []int64{1, aligned})
				must(t, ctx.CastFP8PerToken(xt, ue8m0, dlgemm.Zeros(dlgemm.Float8E4M3FN, int64(m), int64(k)), view, 0))
				got := values(t, view)
				for i := range sfRef {
					if float32(got[i]) != sfRef[i] {
						t.Fatalf("TMA view sf[%d] = %g, want %g", i, got[i], sfRef[i])
					}
				}
			})
		}
	}
}

func TestCastPerBlock(t *testing.T) {
	ctx, r := newCPU(t), newRand(13)
	m, k := 200, 260
	for _, ue8m0 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ue8m0=%v", ue8m0), func(t *testing.T) {
			x := randn(r, m*k, 5)
			q, sfRef := quantBlocks(x, m, k, ue8m0)
			out := dlgemm.Zeros(dlgemm.Float8E4M3FN, int64(m), int64(k))
			sf := dlgemm.Zeros(dlgemm.Float32, 2, 3)
			must(t, ctx.CastFP8PerBlock(tensor(t, x, dlgemm.Float32, int64(m), int64(k)), ue8m0, out, sf, 0))
			equalF32(t, "sf", sf.Float32s(), sfRef)
			equalBytes(t, "out", out.Bytes(), q)
			if d := calcDiff(dequant(out.Bytes(), sf.Float32s(), m, k, 128, 128), f64s(x)); d > 1e-3 {
				t.Fatalf("calc_diff(dequant, x) = %g", d)
			}
		})
	}
}

func TestCastPerTensor(t *testing.T) {
	ctx, r := newCPU(t), newRand(14)
	x, xt := input(t, randn(r, 3*5*70, 10), true, 3, 5, 70)
	out := dlgemm.Zeros(dlgemm.Float8E4M3FN, 3, 5, 70)
	sf := dlgemm.Zeros(dlgemm.Float32) // 0-d
	must(t, ctx.CastFP8PerTensor(xt, out, sf, 0))
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	s := sf.Float32s()[0]
	if s != scaleOf(amax, false) {
		t.Fatalf("sf = %g, want %g", s, scaleOf(amax, false))
	}
	want := make([]byte, len(x))
	for i, v := range x {
		want[i] = e4m3Bits(v / s)
	}
	equalBytes(t, "out", out.Bytes(), want)
	sf0 := dlgemm.Zeros(dlgemm.Float32)
	must(t, ctx.CastFP8PerTensor(dlgemm.Zeros(dlgemm.Float32, 4, 4), dlgemm.Zeros(dlgemm.Float8E4M3FN, 4, 4), sf0, 0))
	if sf0.Float32s()[0] != 1 {
		t.Fatal("zeros: sf must be 1")
	}
}

func TestTransformSf(t *testing.T) {
	ctx, r := newCPU(t), newRand(15)
	sf := uniform(r, 37*3, 0.1, 2)
	aligned := dlgemm.TMAAlignedSize(37, 4)
	if aligned != 40 {
		t.Fatal(aligned)
	}
	out := strided(t, make([]float32, 3*aligned), dlgemm.Float32, []int64{37, 3}, []int64{1, aligned}) // MN-major
	must(t, ctx.TransformSF(tensor(t, sf, dlgemm.Float32, 37, 3), out, 0))
	equalF32(t, "out", toF32(values(t, out)), sf)
	// Batched, from an MN-major source into a compact target, and into the TMA layout.
	sfb := uniform(r, 2*130*4, 0.1, 2)
	src := make([]float32, len(sfb)) // storage [2, 4, 130]
	for g := 0; g < 2; g++ {
		for i := 0; i < 130; i++ {
			for j := 0; j < 4; j++ {
				src[g*520+j*130+i] = sfb[g*520+i*4+j]
			}
		}
	}
	srcT := strided(t, src, dlgemm.Float32, []int64{2, 130, 4}, []int64{520, 1, 130})
	dst := dlgemm.Zeros(dlgemm.Float32, 2, 130, 4)
	must(t, ctx.TransformSF(srcT, dst, 0))
	equalF32(t, "dst", dst.Float32s(), sfb)
	a130 := dlgemm.TMAAlignedSize(130, 4)
	tma := strided(t, make([]float32, 2*4*a130), dlgemm.Float32, []int64{2, 130, 4}, []int64{4 * a130, 1, a130})
	must(t, ctx.TransformSF(dst, tma, 0))
	equalF32(t, "tma", toF32(values(t, tma)), sfb)
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestPackUe8m0(t *testing.T) {
	ctx, r := newCPU(t), newRand(16)
	sf := make([]float32, 2*9*6)
	for i := range sf {
		sf[i] = float32(math.Exp2(-20 + 40*r.Float64()))
	}
	copy(sf, []float32{1, 0.5, 3, float32(math.Ldexp(1, -30))}) // exact powers stay, others round up
	packed := dlgemm.Zeros(dlgemm.Int32, 2, 9, 2)
	must(t, ctx.PackUE8M0(tensor(t, sf, dlgemm.Float32, 2, 9, 6), packed, 0))
	want := make([]byte, 2*9*8)
	for row := 0; row < 18; row++ {
		for c := 0; c < 6; c++ {
			want[row*8+c] = ue8m0Byte(sf[row*6+c])
		}
	}
	for i, w := range packed.Int32s() {
		if uint32(w) != binary.LittleEndian.Uint32(want[4*i:]) {
			t.Fatalf("word %d = %#x, want %#x", i, uint32(w), binary.LittleEndian.Uint32(want[4*i:]))
		}
	}
	equalBytes(t, "first word", packed.Bytes()[:4], []byte{127, 126, 129, 97})
	if ue8m0Ceil(3) != 4 {
		t.Fatal("ue8m0Ceil")
	}
}

func TestTestingHelpers(t *testing.T) {
	ctx, r := newCPU(t), newRand(17)
	a := dlgemm.Zeros(dlgemm.Float32, 4, 5)
	must(t, dlgemm.Fill(a, 7, dlgemm.FillUniform, -1, 1))
	b := strided(t, make([]float32, 20), dlgemm.Float32, []int64{4, 5}, []int64{1, 4}) // other strides: same values
	must(t, dlgemm.Fill(b, 7, dlgemm.FillUniform, -1, 1))
	av, bv := values(t, a), values(t, b)
	distinct := map[float64]bool{}
	for i := range av {
		if av[i] != bv[i] || av[i] < -1 || av[i] >= 1 {
			t.Fatalf("fill: %v vs %v", av, bv)
		}
		distinct[av[i]] = true
	}
	if len(distinct) < 2 {
		t.Fatal("fill: constant")
	}
	ints := dlgemm.Zeros(dlgemm.Int32, 100)
	must(t, dlgemm.Fill(ints, 3, dlgemm.FillInt, 0, 5))
	for _, v := range ints.Int32s() {
		if v < 0 || v > 5 {
			t.Fatal(v)
		}
	}
	f8 := dlgemm.Zeros(dlgemm.Float8E4M3FN, 8, 8)
	must(t, dlgemm.Fill(f8, 1, dlgemm.FillNormal, 0, 1))
	if calcDiff(values(t, f8), make([]float64, 64)) == 0 {
		t.Fatal("fp8 normal fill is all zero")
	}
	x, y := randn(r, 42, 1), randn(r, 42, 1)
	xt, yt := tensor(t, x, dlgemm.Float32, 6, 7), tensor(t, y, dlgemm.Float32, 6, 7)
	d, err := dlgemm.CalcDiff(xt, yt)
	must(t, err)
	if math.Abs(d-calcDiff(f64s(x), f64s(y))) > 1e-12 {
		t.Fatal(d, calcDiff(f64s(x), f64s(y)))
	}
	if d, _ := dlgemm.CalcDiff(xt, tensor(t, toBF16(x), dlgemm.BFloat16, 6, 7)); d > 1e-4 {
		t.Fatal(d)
	}
	y2 := append([]float32(nil), x...)
	y2t := tensor(t, y2, dlgemm.Float32, 6, 7)
	if n, err := dlgemm.CountMismatch(xt, y2t); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	y2[1*7+2]++
	if n, _ := dlgemm.CountMismatch(xt, y2t); n != 1 {
		t.Fatal(n)
	}
	must(t, ctx.Poison(y2t, 0xFF))
	for _, v := range y2t.Bytes() {
		if v != 0xFF {
			t.Fatal("poison")
		}
	}
	dst := strided(t, make([]float32, 42), dlgemm.Float32, []int64{6, 7}, []int64{1, 6})
	must(t, ctx.TensorCopy(xt, dst))
	equalF32(t, "copy", toF32(values(t, dst)), x)
	if xt.Numel() != 42 || xt.SpanBytes() != 42*4 || dlgemm.Zeros(dlgemm.Float32).Numel() != 1 ||
		dlgemm.Zeros(dlgemm.Float32, 3, 0).SpanBytes() != 0 || dst.SpanBytes() != 42*4 {
		t.Fatal(xt.Numel(), xt.SpanBytes())
	}
	must(t, ctx.StreamSynchronize(0)) // a no-op on the CPU
	// Raw copies between addresses; on a CPU context both are host memory. Go memory passed as
	// an address is pinned for the call.
	src, dstBytes := []byte("dlgemm memcpy"), make([]byte, 13)
	var pin runtime.Pinner
	pin.Pin(&src[0])
	pin.Pin(&dstBytes[0])
	must(t, ctx.Memcpy(uintptr(unsafe.Pointer(&dstBytes[0])), uintptr(unsafe.Pointer(&src[0])), 13))
	pin.Unpin()
	if string(dstBytes) != "dlgemm memcpy" {
		t.Fatal(string(dstBytes))
	}
	if !dlgemm.GetRuntimeInfo().DriverFound {
		if _, err := ctx.DeviceAlloc(16); err == nil {
			t.Fatal("DeviceAlloc on a CPU context without a driver succeeded")
		}
	}
}
