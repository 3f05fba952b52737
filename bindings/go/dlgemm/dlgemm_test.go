package dlgemm_test

// dlgemm's Go binding on CPU tensors against Go reference math. Test names are shared with
// the other language bindings (Python, Rust, Java).

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// ---- library facts -----------------------------------------------------------------------

func TestVersion(t *testing.T) {
	if got := dlgemm.VersionString(); got != "0.1.0" {
		t.Fatalf("VersionString = %q", got)
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(dlgemm.VersionString(), "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatal(err)
	}
	if v := dlgemm.Version(); v != major*10000+minor*100+patch || v != dlgemm.HeaderVersion() {
		t.Fatalf("Version = %d, header %d", v, dlgemm.HeaderVersion())
	}
}

func TestStatusStrings(t *testing.T) {
	if dlgemm.StatusOK.String() != "ok" || dlgemm.StatusOK.Name() != "DLG_OK" {
		t.Fatal(dlgemm.StatusOK.String(), dlgemm.StatusOK.Name())
	}
	if dlgemm.StatusDType.String() != "unsupported dtype" || dlgemm.StatusDType.Name() != "DLG_ERR_DTYPE" {
		t.Fatal(dlgemm.StatusDType.String(), dlgemm.StatusDType.Name())
	}
	if s := dlgemm.Status(999).String(); s != "unknown status" {
		t.Fatal(s)
	}
	// The Go constants are the C values (checked against the SWIG layer).
	cValues := map[dlgemm.Status]raw.Enum_SS_dlg_status{
		dlgemm.StatusOK: raw.DLG_OK, dlgemm.StatusInvalidArgument: raw.DLG_ERR_INVALID_ARGUMENT,
		dlgemm.StatusDType: raw.DLG_ERR_DTYPE, dlgemm.StatusShape: raw.DLG_ERR_SHAPE,
		dlgemm.StatusLayout: raw.DLG_ERR_LAYOUT, dlgemm.StatusDevice: raw.DLG_ERR_DEVICE,
		dlgemm.StatusUnsupported: raw.DLG_ERR_UNSUPPORTED, dlgemm.StatusNoDriver: raw.DLG_ERR_NO_DRIVER,
		dlgemm.StatusNoNVRTC: raw.DLG_ERR_NO_NVRTC, dlgemm.StatusCompile: raw.DLG_ERR_COMPILE,
		dlgemm.StatusCUDA: raw.DLG_ERR_CUDA, dlgemm.StatusOutOfMemory: raw.DLG_ERR_OUT_OF_MEMORY,
		dlgemm.StatusIO: raw.DLG_ERR_IO, dlgemm.StatusInternal: raw.DLG_ERR_INTERNAL,
	}
	for s, c := range cValues {
		if int(s) != int(c) {
			t.Errorf("%s = %d, C says %d", s.Name(), int(s), int(c))
		}
	}
	if int(dlgemm.RecipeFP8_1D2D) != int(raw.DLG_RECIPE_FP8_1D2D) || int(dlgemm.RecipeFP8_1D1D) != int(raw.DLG_RECIPE_FP8_1D1D) ||
		int(dlgemm.RecipeFP8PerTensor) != int(raw.DLG_RECIPE_FP8_PER_TENSOR) || int(dlgemm.RecipeBF16) != int(raw.DLG_RECIPE_BF16) ||
		int(dlgemm.GroupLayoutRowIDs) != int(raw.DLG_GROUP_LAYOUT_ROW_IDS) || int(dlgemm.GroupLayoutOffsets) != int(raw.DLG_GROUP_LAYOUT_OFFSETS) ||
		int(dlgemm.FillUniform) != int(raw.DLG_FILL_UNIFORM) || int(dlgemm.FillNormal) != int(raw.DLG_FILL_NORMAL) ||
		int(dlgemm.FillInt) != int(raw.DLG_FILL_INT) || dlgemm.FP8E4M3Max != raw.DLG_FP8_E4M3_MAX {
		t.Error("an enum constant differs from the C value")
	}
	// Every failure status has its sentinel, matched by errors.Is for that status only.
	for code := 1; code <= 13; code++ {
		s := dlgemm.Status(code)
		sentinel := dlgemm.Sentinel(s)
		e := &dlgemm.Error{Status: s, Message: "x: y"}
		if sentinel == nil || !errors.Is(e, sentinel) {
			t.Fatalf("status %d: no sentinel", code)
		}
		for other := 1; other <= 13; other++ {
			if other != code && errors.Is(e, dlgemm.Sentinel(dlgemm.Status(other))) {
				t.Fatalf("status %d matches the sentinel of %d", code, other)
			}
		}
		if !strings.Contains(e.Error(), s.Name()) || !strings.Contains(e.Error(), "x: y") {
			t.Fatalf("Error() = %q", e.Error())
		}
	}
	if dlgemm.Sentinel(dlgemm.StatusOK) != nil || dlgemm.Sentinel(999) != nil {
		t.Fatal("Sentinel of OK / unknown must be nil")
	}
	if errors.Is(&dlgemm.Error{Status: dlgemm.StatusDType, Message: "a"}, &dlgemm.Error{Status: dlgemm.StatusDType, Message: "b"}) {
		t.Fatal("only sentinels match by status")
	}
	// A failed call: sentinel, status, message naming the argument.
	ctx := newCPU(t)
	a := tensor(t, make([]float32, 4*8), dlgemm.Float32, 4, 8)
	b := tensor(t, make([]uint16, 4*8), dlgemm.BFloat16, 4, 8)
	d := tensor(t, make([]uint16, 4*4), dlgemm.BFloat16, 4, 4)
	err := ctx.Gemm(dlgemm.RecipeBF16, a, nil, b, nil, nil, d, 0)
	var e *dlgemm.Error
	if !errors.Is(err, dlgemm.ErrDType) || !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if e.Status != dlgemm.StatusDType || !strings.HasPrefix(e.Message, "a: ") ||
		e.Error() != "dlgemm: "+e.Message+" (DLG_ERR_DTYPE)" {
		t.Fatalf("error %#v: %q", e, e.Error())
	}
	// Names of dtypes, devices and recipes.
	if dlgemm.Float8E4M3FN.String() != "float8_e4m3fn" || dlgemm.BFloat16.String() != "bfloat16" {
		t.Fatal(dlgemm.Float8E4M3FN, dlgemm.BFloat16)
	}
	for _, dt := range []dlgemm.DType{dlgemm.Float32, dlgemm.BFloat16, dlgemm.Float8E4M3FN, dlgemm.Int32, dlgemm.UInt8} {
		if got, err := dlgemm.ParseDType(dt.String()); err != nil || got != dt {
			t.Fatalf("ParseDType(%v) = %v, %v", dt, got, err)
		}
	}
	if _, err := dlgemm.ParseDType("float4"); !errors.Is(err, dlgemm.ErrDType) {
		t.Fatal(err)
	}
	if dlgemm.RecipeBF16.String() == "" || dlgemm.RecipeBF16.String() == dlgemm.RecipeFP8_1D2D.String() {
		t.Fatal(dlgemm.RecipeBF16.String())
	}
	if dlgemm.CUDA(1).String() != "cuda:1" || dlgemm.CPU.String() != "cpu" {
		t.Fatal(dlgemm.CUDA(1), dlgemm.CPU)
	}
}

func TestContextKnobs(t *testing.T) {
	dir := t.TempDir()
	ctx, err := dlgemm.NewContext(dlgemm.WithDevice(-1))
	must(t, err)
	if ctx.Device() != -1 || ctx.Closed() || ctx.MaxSMs() != 0 || ctx.PDL() {
		t.Fatalf("fresh context: %v %v %v %v", ctx.Device(), ctx.Closed(), ctx.MaxSMs(), ctx.PDL())
	}
	must(t, ctx.SetMaxSMs(8))
	if ctx.MaxSMs() != 8 {
		t.Fatal(ctx.MaxSMs())
	}
	err = ctx.SetMaxSMs(-1)
	var e *dlgemm.Error
	if !errors.Is(err, dlgemm.ErrInvalidArgument) || !errors.As(err, &e) || !strings.Contains(e.Message, "max_sms") {
		t.Fatalf("SetMaxSMs(-1) = %v", err)
	}
	if ctx.MaxSMs() != 8 {
		t.Fatal("a refused knob value changed the knob")
	}
	must(t, ctx.SetPDL(true))
	if !ctx.PDL() {
		t.Fatal("PDL")
	}
	def, err := ctx.CacheDir()
	must(t, err)
	if def == "" {
		t.Fatal("empty default cache dir")
	}
	must(t, ctx.SetCacheDir(dir))
	if got, _ := ctx.CacheDir(); got != dir {
		t.Fatal(got)
	}
	must(t, ctx.SetCacheDir(""))
	if got, _ := ctx.CacheDir(); got != def {
		t.Fatal(got)
	}
	must(t, ctx.SetJITOptions("-lineinfo"))
	if ctx.JITOptions() != "-lineinfo" {
		t.Fatal(ctx.JITOptions())
	}
	must(t, ctx.SetJITOptions(""))
	if ctx.JITOptions() != "" {
		t.Fatal(ctx.JITOptions())
	}
	if !strings.Contains(ctx.String(), "cpu") {
		t.Fatal(ctx.String())
	}
	info := dlgemm.GetRuntimeInfo()
	if !info.DriverFound {
		if _, err := ctx.DeviceInfo(); err == nil {
			t.Fatal("a CPU context has no device to describe")
		}
		if info.Why == "" {
			t.Fatal("RuntimeInfo.Why is empty without a driver")
		}
	}
	must(t, ctx.WarmupGemm(dlgemm.RecipeBF16, 128, 128, 128, dlgemm.BFloat16)) // no-op on CPU
	must(t, ctx.Close())
	if !ctx.Closed() || !strings.Contains(ctx.String(), "closed") {
		t.Fatal(ctx.String())
	}
	if err := ctx.SetMaxSMs(1); !errors.Is(err, dlgemm.ErrClosed) {
		t.Fatal(err)
	}
	if ctx.MaxSMs() != 0 {
		t.Fatal("a closed context reads 0")
	}
	must(t, ctx.Close()) // idempotent

	// Options at construction.
	c2, err := dlgemm.NewContext(dlgemm.WithMaxSMs(4), dlgemm.WithPDL(true), dlgemm.WithCacheDir(dir),
		dlgemm.WithJITOptions("-G"))
	must(t, err)
	defer c2.Close()
	if got, _ := c2.CacheDir(); c2.MaxSMs() != 4 || !c2.PDL() || got != dir || c2.JITOptions() != "-G" {
		t.Fatal(c2.MaxSMs(), c2.PDL(), got, c2.JITOptions())
	}
	if _, err := dlgemm.NewContext(dlgemm.WithMaxSMs(-3)); !errors.Is(err, dlgemm.ErrInvalidArgument) {
		t.Fatal(err)
	}
	_, err = dlgemm.NewContext(dlgemm.WithDevice(-2))
	if !errors.Is(err, dlgemm.ErrInvalidArgument) || !strings.Contains(err.Error(), "device_ordinal") {
		t.Fatal(err)
	}
	// A GPU context is created without touching CUDA.
	gpu, err := dlgemm.NewContext(dlgemm.WithDevice(0))
	must(t, err)
	if gpu.Device() != 0 || !strings.Contains(gpu.String(), "cuda:0") {
		t.Fatal(gpu)
	}
	gpu.Close()
	// Size queries.
	if dlgemm.MKAlignmentForContiguousLayout() != 128 || dlgemm.TMAAlignedSize(5, 4) != 8 ||
		dlgemm.MQALogitsRowStride(100) < 100 || dlgemm.PagedMQALogitsMetadataRows(132) != 133 {
		t.Fatal(dlgemm.MKAlignmentForContiguousLayout(), dlgemm.TMAAlignedSize(5, 4),
			dlgemm.MQALogitsRowStride(100), dlgemm.PagedMQALogitsMetadataRows(132))
	}
}

// ---- dense GEMM --------------------------------------------------------------------------

func TestGemmBf16(t *testing.T) {
	ctx, r := newCPU(t), newRand(1)
	m, n, k := 33, 70, 200
	a, b := toBF16(randn(r, m*k, 1)), toBF16(randn(r, n*k, 1))
	ref := matmulNT(decodeBF16(a), decodeBF16(b), m, n, k)
	at, bt := tensor(t, a, dlgemm.BFloat16, int64(m), int64(k)), tensor(t, b, dlgemm.BFloat16, int64(n), int64(k))
	d := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeBF16, at, nil, bt, nil, nil, d, 0))
	assertClose(t, values(t, d), ref, bf16Rtol, bf16Atol)

	// f32 output, C accumulation with C aliasing D (in-place).
	c := randn(r, m*n, 1)
	d32 := tensor(t, append([]float32(nil), c...), dlgemm.Float32, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeBF16, at, nil, bt, nil, d32, d32, 0))
	want := make([]float64, m*n)
	for i := range want {
		want[i] = ref[i] + float64(c[i])
	}
	assertClose(t, values(t, d32), want, 1e-5, 1e-4)

	// K = 0 writes C, or zeros.
	a0, b0 := dlgemm.Zeros(dlgemm.BFloat16, int64(m), 0), dlgemm.Zeros(dlgemm.BFloat16, int64(n), 0)
	d0 := tensor(t, fillF32(m*n, 7), dlgemm.Float32, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeBF16, a0, nil, b0, nil, nil, d0, 0))
	for _, v := range d0.Float32s() {
		if v != 0 {
			t.Fatal("K = 0 must write zeros")
		}
	}
}

func TestGemmFp8PerTensor(t *testing.T) {
	ctx, r := newCPU(t), newRand(2)
	m, n, k := 40, 24, 160
	x, w := randn(r, m*k, 1), randn(r, n*k, 1)
	amax := func(v []float32) float32 {
		var a float32
		for _, e := range v {
			a = max(a, float32(math.Abs(float64(e))))
		}
		return a
	}
	sa, sb := amax(x)/fp8Max, amax(w)/fp8Max
	qa, qb := make([]uint8, m*k), make([]uint8, n*k)
	for i := range qa {
		qa[i] = e4m3Bits(x[i] / sa)
	}
	for i := range qb {
		qb[i] = e4m3Bits(w[i] / sb)
	}
	plain := matmulNT(decodeE4M3(qa), decodeE4M3(qb), m, n, k)
	ref := make([]float64, len(plain))
	for i := range ref {
		ref[i] = plain[i] * float64(sa) * float64(sb)
	}
	at, bt := tensor(t, qa, dlgemm.Float8E4M3FN, int64(m), int64(k)), tensor(t, qb, dlgemm.Float8E4M3FN, int64(n), int64(k))
	sat, sbt := tensor(t, []float32{sa}, dlgemm.Float32), tensor(t, []float32{sb}, dlgemm.Float32) // 0-d scalars
	d := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8PerTensor, at, sat, bt, sbt, nil, d, 0))
	assertClose(t, values(t, d), ref, bf16Rtol, bf16Atol)
	// nil scales mean 1; f32 output.
	d1 := dlgemm.Zeros(dlgemm.Float32, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8PerTensor, at, nil, bt, nil, nil, d1, 0))
	assertClose(t, values(t, d1), plain, 1e-5, 1e-3)
	// One-element scales of any rank are scalars too.
	d2 := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8PerTensor, at, tensor(t, []float32{sa}, dlgemm.Float32, 1, 1), bt,
		tensor(t, []float32{sb}, dlgemm.Float32, 1), nil, d2, 0))
	assertClose(t, values(t, d2), ref, bf16Rtol, bf16Atol)
}

func TestGemmFp81d2d(t *testing.T) {
	ctx, r := newCPU(t), newRand(3)
	m, n, k := 50, 200, 300 // ragged tails in every dimension
	kb := ceilDiv(k, 128)
	x, w := randn(r, m*k, 1), randn(r, n*k, 1)
	qa, sfa := quantRows(x, m, k, false)
	qb, sfb := quantBlocks(w, n, k, false)
	ref := matmulNT(dequant(qa, sfa, m, k, 1, 128), dequant(qb, sfb, n, k, 128, 128), m, n, k)
	if d := calcDiff(ref, matmulNT(f64s(x), f64s(w), m, n, k)); d > 1e-3 {
		t.Fatalf("quantisation is off: calc_diff %g", d)
	}
	at := tensor(t, qa, dlgemm.Float8E4M3FN, int64(m), int64(k))
	bt := tensor(t, qb, dlgemm.Float8E4M3FN, int64(n), int64(k))
	sfat := tensor(t, sfa, dlgemm.Float32, int64(m), int64(kb))
	sfbt := tensor(t, sfb, dlgemm.Float32, int64(ceilDiv(n, 128)), int64(kb))
	d := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D2D, at, sfat, bt, sfbt, nil, d, 0))
	assertClose(t, values(t, d), ref, bf16Rtol, bf16Atol)
	// Scales in the TMA-aligned MN-major layout (what the GPU reads) give the same bits.
	aligned := dlgemm.TMAAlignedSize(int64(m), 4)
	sfaTMA := strided(t, make([]float32, int(aligned)*kb), dlgemm.Float32, []int64{int64(m), int64(kb)}, []int64{1, aligned})
	must(t, ctx.TransformSF(sfat, sfaTMA, 0))
	d2 := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D2D, at, sfaTMA, bt, sfbt, nil, d2, 0))
	if mis, err := dlgemm.CountMismatch(d, d2); err != nil || mis != 0 {
		t.Fatal(mis, err)
	}
}

func TestGemmFp81d1d(t *testing.T) {
	ctx, r := newCPU(t), newRand(4)
	m, n, k := 64, 48, 384
	kb := ceilDiv(k, 128)
	x, w := randn(r, m*k, 1), randn(r, n*k, 1)
	qa, sfa := quantRows(x, m, k, true)
	qb, sfb := quantRows(w, n, k, true)
	ref := matmulNT(dequant(qa, sfa, m, k, 1, 128), dequant(qb, sfb, n, k, 1, 128), m, n, k)
	at := tensor(t, qa, dlgemm.Float8E4M3FN, int64(m), int64(k))
	bt := tensor(t, qb, dlgemm.Float8E4M3FN, int64(n), int64(k))
	sfat := tensor(t, sfa, dlgemm.Float32, int64(m), int64(kb))
	sfbt := tensor(t, sfb, dlgemm.Float32, int64(n), int64(kb))
	d := dlgemm.Zeros(dlgemm.Float32, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D1D, at, sfat, bt, sfbt, nil, d, 0))
	assertClose(t, values(t, d), ref, 1e-5, 1e-3)
	// Packed UE8M0 scales (int32, four exponents a word) give the same numbers.
	pa, pb := dlgemm.Zeros(dlgemm.Int32, int64(m), 1), dlgemm.Zeros(dlgemm.Int32, int64(n), 1)
	must(t, ctx.PackUE8M0(sfat, pa, 0))
	must(t, ctx.PackUE8M0(sfbt, pb, 0))
	d2 := dlgemm.Zeros(dlgemm.Float32, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D1D, at, pa, bt, pb, nil, d2, 0))
	if mis, err := dlgemm.CountMismatch(d, d2); err != nil || mis != 0 {
		t.Fatal(mis, err)
	}
	d3 := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D1D, at, sfat, bt, sfbt, nil, d3, 0))
	assertClose(t, values(t, d3), ref, bf16Rtol, bf16Atol)
}

// transposed returns the storage of the [cols, rows] row-major transpose of a [rows, cols]
// matrix: viewed with strides (1, rows) it is the same logical [rows, cols] matrix, MN-major.
func transposed[T any](x []T, rows, cols int) []T {
	out := make([]T, len(x))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j*rows+i] = x[i*cols+j]
		}
	}
	return out
}

func TestGemmLayouts(t *testing.T) {
	ctx, r := newCPU(t), newRand(5)
	m, n, k := 24, 40, 136
	x, w := randn(r, m*k, 1), randn(r, n*k, 1)
	a, b := toBF16(x), toBF16(w)
	ref := matmulNT(decodeBF16(a), decodeBF16(b), m, n, k)
	M, N, K := int64(m), int64(n), int64(k)
	as := []*dlgemm.Tensor{
		tensor(t, a, dlgemm.BFloat16, M, K),
		strided(t, transposed(a, m, k), dlgemm.BFloat16, []int64{M, K}, []int64{1, M}), // M-major
	}
	bs := []*dlgemm.Tensor{
		tensor(t, b, dlgemm.BFloat16, N, K),
		strided(t, transposed(b, n, k), dlgemm.BFloat16, []int64{N, K}, []int64{1, N}), // N-major
	}
	for i, at := range as {
		for j, bt := range bs {
			d := dlgemm.Zeros(dlgemm.BFloat16, M, N)
			must(t, ctx.Gemm(dlgemm.RecipeBF16, at, nil, bt, nil, nil, d, 0))
			t.Run(fmt.Sprintf("a%d_b%d", i, j), func(t *testing.T) { assertClose(t, values(t, d), ref, bf16Rtol, bf16Atol) })
		}
	}
	// FP8 operands MN-major (the CPU reference takes every layout), D strided.
	qa, sfa := quantRows(x, m, k, false)
	qb, sfb := quantBlocks(w, n, k, false)
	ref8 := matmulNT(dequant(qa, sfa, m, k, 1, 128), dequant(qb, sfb, n, k, 128, 128), m, n, k)
	big := make([]uint16, m*2*n)
	d := strided(t, big, dlgemm.BFloat16, []int64{M, N}, []int64{2 * N, 2})
	must(t, ctx.Gemm(dlgemm.RecipeFP8_1D2D,
		strided(t, transposed(qa, m, k), dlgemm.Float8E4M3FN, []int64{M, K}, []int64{1, M}),
		tensor(t, sfa, dlgemm.Float32, M, int64(ceilDiv(k, 128))),
		strided(t, transposed(qb, n, k), dlgemm.Float8E4M3FN, []int64{N, K}, []int64{1, N}),
		tensor(t, sfb, dlgemm.Float32, 1, int64(ceilDiv(k, 128))), nil, d, 0))
	assertClose(t, values(t, d), ref8, bf16Rtol, bf16Atol)
	for i := 1; i < len(big); i += 2 {
		if big[i] != 0 {
			t.Fatal("the gaps of the strided output were written")
		}
	}
}
