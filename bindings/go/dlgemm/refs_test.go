package dlgemm_test

// The Go reference math the tests compare dlgemm against, written independently of the C
// library: own bfloat16 / float8_e4m3fn codecs, products in float64, scales as the headers
// define them (sf = amax / 448, UE8M0 = 2^ceil(log2 sf), all-zero block -> 1).

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

const fp8Max = 448.0

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9E3779B97F4A7C15)) }

// randn: n standard-normal values times scale, as float32.
func randn(r *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * scale)
	}
	return out
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return out
}

// ---- number formats --------------------------------------------------------------------

func bf16Value(u uint16) float32 { return math.Float32frombits(uint32(u) << 16) }

// bf16Bits rounds to nearest even.
func bf16Bits(f float32) uint16 {
	u := math.Float32bits(f)
	if f != f {
		return 0x7FC0
	}
	u += 0x7FFF + (u>>16)&1
	return uint16(u >> 16)
}

func bf16Round(f float32) float32 { return bf16Value(bf16Bits(f)) }

func e4m3Value(b uint8) float32 {
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	exp, man := int(b>>3)&15, int(b&7)
	if exp == 15 && man == 7 {
		return float32(math.NaN())
	}
	if exp == 0 {
		return sign * float32(man) / 512 // subnormal: man · 2^-9
	}
	return sign * float32(8+man) * float32(math.Ldexp(1, exp-10))
}

// e4m3Bits rounds to the nearest e4m3 value, ties to the even code, saturating at ±448.
func e4m3Bits(f float32) uint8 {
	if f != f {
		return 0x7F
	}
	var sign uint8
	if math.Signbit(float64(f)) {
		sign, f = 0x80, -f
	}
	if f >= fp8Max {
		return sign | 0x7E
	}
	lo := uint8(0) // largest code whose value is <= f
	for c := uint8(1); c <= 0x7E && e4m3Value(c) <= f; c++ {
		lo = c
	}
	dLo, dHi := f-e4m3Value(lo), e4m3Value(lo+1)-f
	if dHi < dLo || (dHi == dLo && lo&1 == 1) {
		lo++
	}
	return sign | lo
}

// ue8m0Ceil is the smallest power of two >= sf (sf > 0).
func ue8m0Ceil(sf float32) float32 {
	frac, exp := math.Frexp(float64(sf)) // sf = frac · 2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		exp--
	}
	return float32(math.Ldexp(1, exp))
}

// ue8m0Byte is the biased (127) exponent of ue8m0Ceil(sf).
func ue8m0Byte(sf float32) uint8 {
	_, exp := math.Frexp(float64(ue8m0Ceil(sf)))
	return uint8(exp - 1 + 127)
}

func scaleOf(amax float32, ue8m0 bool) float32 {
	if !(amax > 0) {
		return 1
	}
	sf := amax / float32(fp8Max)
	if ue8m0 {
		sf = ue8m0Ceil(sf)
	}
	return sf
}

// quantTiles is the block-scaled FP8 cast of a row-major [m, k] matrix with bm×bk tiles: the
// e4m3 bytes and the scales [ceil(m/bm), ceil(k/bk)].
func quantTiles(x []float32, m, k, bm, bk int, ue8m0 bool) ([]uint8, []float32) {
	mb, kb := ceilDiv(m, bm), ceilDiv(k, bk)
	sf := make([]float32, mb*kb)
	q := make([]uint8, m*k)
	for i := 0; i < mb; i++ {
		for j := 0; j < kb; j++ {
			var amax float32
			for r := i * bm; r < min(m, (i+1)*bm); r++ {
				for c := j * bk; c < min(k, (j+1)*bk); c++ {
					amax = max(amax, float32(math.Abs(float64(x[r*k+c]))))
				}
			}
			s := scaleOf(amax, ue8m0)
			sf[i*kb+j] = s
			for r := i * bm; r < min(m, (i+1)*bm); r++ {
				for c := j * bk; c < min(k, (j+1)*bk); c++ {
					q[r*k+c] = e4m3Bits(x[r*k+c] / s)
				}
			}
		}
	}
	return q, sf
}

func quantRows(x []float32, m, k int, ue8m0 bool) ([]uint8, []float32) {
	return quantTiles(x, m, k, 1, 128, ue8m0)
}

func quantBlocks(x []float32, m, k int, ue8m0 bool) ([]uint8, []float32) {
	return quantTiles(x, m, k, 128, 128, ue8m0)
}

// dequant: q [m, k] e4m3 times its bm×bk tile scales, in float64.
func dequant(q []uint8, sf []float32, m, k, bm, bk int) []float64 {
	kb := ceilDiv(k, bk)
	out := make([]float64, m*k)
	for r := 0; r < m; r++ {
		for c := 0; c < k; c++ {
			out[r*k+c] = float64(e4m3Value(q[r*k+c])) * float64(sf[(r/bm)*kb+c/bk])
		}
	}
	return out
}

func decodeE4M3(q []uint8) []float64 {
	out := make([]float64, len(q))
	for i, b := range q {
		out[i] = float64(e4m3Value(b))
	}
	return out
}

func decodeBF16(u []uint16) []float64 {
	out := make([]float64, len(u))
	for i, b := range u {
		out[i] = float64(bf16Value(b))
	}
	return out
}

func toBF16(x []float32) []uint16 {
	out := make([]uint16, len(x))
	for i, v := range x {
		out[i] = bf16Bits(v)
	}
	return out
}

func toE4M3(x []float32) []uint8 {
	out := make([]uint8, len(x))
	for i, v := range x {
		out[i] = e4m3Bits(v)
	}
	return out
}

func f64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// matmulNT: a [m, k] · b [n, k]ᵀ -> [m, n], row-major, float64.
func matmulNT(a, b []float64, m, n, k int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[j*k+p]
			}
			out[i*n+j] = s
		}
	}
	return out
}

// calcDiff is DeepGEMM's calc_diff in float64 (an independent Go version).
func calcDiff(x, y []float64) float64 {
	var xy, den float64
	for i := range x {
		xy += x[i] * y[i]
		den += x[i]*x[i] + y[i]*y[i]
	}
	if den == 0 {
		return 0
	}
	return 1 - 2*xy/den
}

// ---- tensors ----------------------------------------------------------------------------

func tensor[T dlgemm.Element](t testing.TB, data []T, dtype dlgemm.DType, shape ...int64) *dlgemm.Tensor {
	t.Helper()
	x, err := dlgemm.FromSlice(data, dtype, shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func strided[T dlgemm.Element](t testing.TB, data []T, dtype dlgemm.DType, shape, strides []int64) *dlgemm.Tensor {
	t.Helper()
	x, err := dlgemm.FromSlice(data, dtype, shape, strides)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// values reads a CPU tensor's elements in row-major logical order as float64.
func values(t testing.TB, x *dlgemm.Tensor) []float64 {
	t.Helper()
	shape, strides := x.Shape(), x.Strides()
	n := 1
	for _, e := range shape {
		n *= int(e)
	}
	out := make([]float64, n)
	raw := x.Bytes()
	for i := range out {
		off, rest := int64(0), int64(i)
		for d := len(shape) - 1; d >= 0; d-- {
			off += rest % shape[d] * strides[d]
			rest /= shape[d]
		}
		switch x.DType() {
		case dlgemm.Float32:
			out[i] = float64(x.Float32s()[off])
		case dlgemm.BFloat16:
			out[i] = float64(bf16Value(x.Uint16s()[off]))
		case dlgemm.Float8E4M3FN:
			out[i] = float64(e4m3Value(raw[off]))
		case dlgemm.Int32:
			out[i] = float64(x.Int32s()[off])
		case dlgemm.UInt8:
			out[i] = float64(raw[off])
		default:
			t.Fatalf("values: dtype %v", x.DType())
		}
	}
	return out
}

// assertClose checks a GEMM-like output against a float64 reference: DeepGEMM's calc_diff
// and an elementwise bound (bfloat16 outputs round to 8 bits).
func assertClose(t testing.TB, got, want []float64, rtol, atol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d", len(got), len(want))
	}
	if d := calcDiff(got, want); d > 1e-4 {
		t.Fatalf("calc_diff = %g", d)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > atol+rtol*math.Abs(want[i]) {
			t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
		}
	}
}

const bf16Rtol, bf16Atol = 1.0 / 64, 1e-2

func newCPU(t testing.TB) *dlgemm.Context {
	t.Helper()
	ctx, err := dlgemm.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fillF32(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func fillU16(n int, v uint16) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = v
	}
	return out
}
