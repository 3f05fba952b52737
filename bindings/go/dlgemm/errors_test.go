package dlgemm_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// wantErr checks that err is a dlgemm error of the sentinel's kind whose message starts with
// prefix.
func wantErr(t *testing.T, err error, sentinel error, prefix string) {
	t.Helper()
	var e *dlgemm.Error
	if !errors.Is(err, sentinel) || !errors.As(err, &e) {
		t.Fatalf("got %v, want %v", err, sentinel)
	}
	if !strings.HasPrefix(e.Message, prefix) || e.Message == "" {
		t.Fatalf("message %q does not start with %q", e.Message, prefix)
	}
}

func TestBadInputs(t *testing.T) {
	ctx, r := newCPU(t), newRand(18)
	a := tensor(t, toBF16(randn(r, 8*128, 1)), dlgemm.BFloat16, 8, 128)
	b := tensor(t, toBF16(randn(r, 16*128, 1)), dlgemm.BFloat16, 16, 128)
	three := bf16Bits(3)
	dbuf := fillU16(8*16, three)
	d := tensor(t, dbuf, dlgemm.BFloat16, 8, 16)
	untouched := func() {
		t.Helper()
		for _, v := range dbuf {
			if v != three {
				t.Fatal("a failing call wrote its output")
			}
		}
	}
	gemm := func(a, b, d *dlgemm.Tensor) error {
		return ctx.Gemm(dlgemm.RecipeBF16, a, nil, b, nil, nil, d, 0)
	}
	// Wrong dtype, mismatched shapes, nil where required: the kind and the argument's name.
	wantErr(t, gemm(tensor(t, make([]float32, 8*128), dlgemm.Float32, 8, 128), b, d), dlgemm.ErrDType, "a: ")
	bHalf := strided(t, toBF16(randn(r, 16*128, 1)), dlgemm.BFloat16, []int64{16, 64}, []int64{128, 1})
	wantErr(t, gemm(a, bHalf, d), dlgemm.ErrShape, "b: ")
	wantErr(t, gemm(a, b, strided(t, dbuf, dlgemm.BFloat16, []int64{8, 8}, []int64{16, 1})), dlgemm.ErrShape, "")
	wantErr(t, gemm(nil, b, d), dlgemm.ErrInvalidArgument, "a: ")
	wantErr(t, gemm(a, b, nil), dlgemm.ErrInvalidArgument, "d: ")
	// Bad enums.
	err := ctx.Gemm(dlgemm.Recipe(99), a, nil, b, nil, nil, d, 0)
	wantErr(t, err, dlgemm.ErrInvalidArgument, "")
	if !strings.Contains(err.Error(), "recipe") {
		t.Fatal(err)
	}
	wantErr(t, ctx.MGroupedGemmContiguous(dlgemm.RecipeBF16, a, nil, tensor(t, make([]uint16, 16*128), dlgemm.BFloat16, 1, 16, 128),
		nil, dlgemm.Zeros(dlgemm.Int32, 8), dlgemm.GroupLayout(7), d, 0), dlgemm.ErrInvalidArgument, "")
	untouched()

	// Descriptors the Go side refuses before any C call.
	if _, err := dlgemm.FromSlice(make([]float32, 10), dlgemm.Float32, []int64{4, 3}, nil); !errors.Is(err, dlgemm.ErrShape) ||
		!strings.Contains(err.Error(), "data: ") {
		t.Fatal("a slice too short for its shape:", err)
	}
	if _, err := dlgemm.FromSlice(make([]float32, 12), dlgemm.BFloat16, []int64{4, 3}, nil); !errors.Is(err, dlgemm.ErrDType) {
		t.Fatal("a slice of the wrong element size:", err)
	}
	if _, err := dlgemm.FromSlice(make([]int32, 12), dlgemm.Int32, []int64{4, 3}, []int64{-3, 1}); !errors.Is(err, dlgemm.ErrLayout) {
		t.Fatal("a negative stride:", err)
	}
	if _, err := dlgemm.FromSlice(make([]int32, 12), dlgemm.Int32, []int64{4, 3}, []int64{3}); !errors.Is(err, dlgemm.ErrShape) {
		t.Fatal("strides of the wrong rank:", err)
	}
	if _, err := dlgemm.FromSlice(make([]int32, 12), dlgemm.Int32, []int64{-4, 3}, nil); !errors.Is(err, dlgemm.ErrShape) {
		t.Fatal("a negative extent:", err)
	}
	if _, err := dlgemm.FromSlice(make([]int32, 1), dlgemm.Int32, make([]int64, 9), nil); !errors.Is(err, dlgemm.ErrInvalidArgument) {
		t.Fatal("9 dimensions:", err)
	}
	if _, err := dlgemm.FromBytes(make([]byte, 64)[1:], dlgemm.Float32, []int64{4}, nil); !errors.Is(err, dlgemm.ErrLayout) {
		t.Fatal("a misaligned byte view:", err)
	}
	if _, err := dlgemm.FromPointer(0, dlgemm.CUDA(0), dlgemm.Float32, []int64{2, 2}, []int64{1}); !errors.Is(err, dlgemm.ErrShape) {
		t.Fatal(err)
	}

	// Overlapping output strides, non-contiguous paged KV blocks.
	overlapping := strided(t, make([]float32, 40), dlgemm.Float32, []int64{8, 16}, []int64{0, 1})
	wantErr(t, ctx.CleanLogits(nil, dlgemm.Zeros(dlgemm.Int32, 8), overlapping, 0), dlgemm.ErrLayout, "logits: ")
	cache := strided(t, make([]uint8, 2*4*40), dlgemm.UInt8, []int64{2, 4, 1, 20}, []int64{160, 40, 40, 1})
	wantErr(t, ctx.PagedMQALogits(dlgemm.Zeros(dlgemm.Float8E4M3FN, 1, 1, 1, 16), cache, dlgemm.Zeros(dlgemm.Float32, 1, 1),
		tensor(t, []int32{1}, dlgemm.Int32, 1), dlgemm.Zeros(dlgemm.Int32, 1, 1), nil, true,
		dlgemm.Zeros(dlgemm.Float32, 1, 8), 0), dlgemm.ErrLayout, "kv_cache: ")

	// A CUDA tensor on a CPU context: refused before its memory is touched.
	fake, err := dlgemm.FromPointer(0x1000, dlgemm.CUDA(0), dlgemm.BFloat16, []int64{8, 16}, nil)
	must(t, err)
	err = gemm(a, b, fake)
	wantErr(t, err, dlgemm.ErrDevice, "")
	if !strings.Contains(err.Error(), "cuda") {
		t.Fatal(err)
	}

	// A closed context.
	closed, err := dlgemm.NewContext()
	must(t, err)
	closed.Close()
	if err := closed.Gemm(dlgemm.RecipeBF16, a, nil, b, nil, nil, d, 0); !errors.Is(err, dlgemm.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := closed.DeviceAlloc(8); !errors.Is(err, dlgemm.ErrClosed) {
		t.Fatal(err)
	}
	untouched()
}

// TestConcurrency shares one context between goroutines: results, knob writes racing with
// calls, failures whose (thread-local in C) messages must reach the right goroutine, shared
// input tensors pinned by many calls at once, and Close racing with calls.
func TestConcurrency(t *testing.T) {
	ctx, r := newCPU(t), newRand(19)
	m, n, k := 32, 48, 256
	kb := int64(ceilDiv(k, 128))
	type job struct {
		a, sfa, b, sfb *dlgemm.Tensor
		ref            []float64
	}
	jobs := make([]job, 8)
	for i := range jobs {
		x, w := randn(r, m*k, 1), randn(r, n*k, 1)
		qa, sfa := quantRows(x, m, k, false)
		qb, sfb := quantBlocks(w, n, k, false)
		jobs[i] = job{
			tensor(t, qa, dlgemm.Float8E4M3FN, int64(m), int64(k)), tensor(t, sfa, dlgemm.Float32, int64(m), kb),
			tensor(t, qb, dlgemm.Float8E4M3FN, int64(n), int64(k)), tensor(t, sfb, dlgemm.Float32, 1, kb),
			matmulNT(dequant(qa, sfa, m, k, 1, 128), dequant(qb, sfb, n, k, 128, 128), m, n, k),
		}
	}
	shared := jobs[0] // every goroutine also reads these same tensors
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range jobs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			j := jobs[i]
			for it := 0; it < 5; it++ {
				for _, use := range []job{j, shared} {
					d := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
					if err := ctx.Gemm(dlgemm.RecipeFP8_1D2D, use.a, use.sfa, use.b, use.sfb, nil, d, 0); err != nil {
						errs <- err
						return
					}
					got := values(t, d)
					if diff := calcDiff(got, use.ref); diff > 1e-4 {
						errs <- fmt.Errorf("goroutine %d: calc_diff %g", i, diff)
						return
					}
				}
				if err := ctx.SetMaxSMs(i); err != nil { // knob writes race with calls: allowed
					errs <- err
					return
				}
				_ = ctx.MaxSMs()
				// A failure: the message is read on the OS thread that made the call.
				err := ctx.Gemm(dlgemm.RecipeFP8_1D2D, j.sfa, j.sfa, j.b, j.sfb, nil, dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n)), 0)
				var e *dlgemm.Error
				if !errors.As(err, &e) || e.Status != dlgemm.StatusDType || !strings.HasPrefix(e.Message, "a: ") {
					errs <- fmt.Errorf("goroutine %d: failure reported as %v", i, err)
					return
				}
				err = ctx.Gemm(dlgemm.RecipeFP8_1D2D, j.a, j.sfa, nil, j.sfb, nil, dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n)), 0)
				if !errors.As(err, &e) || e.Status != dlgemm.StatusInvalidArgument || !strings.HasPrefix(e.Message, "b: ") {
					errs <- fmt.Errorf("goroutine %d: failure reported as %v", i, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Close while calls are in flight: each call either completes or returns ErrClosed.
	c2, err := dlgemm.NewContext()
	must(t, err)
	start := make(chan struct{})
	var done sync.WaitGroup
	results := make(chan error, 1024)
	for i := 0; i < 4; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			<-start
			for {
				d := dlgemm.Zeros(dlgemm.BFloat16, int64(m), int64(n))
				err := c2.Gemm(dlgemm.RecipeFP8_1D2D, shared.a, shared.sfa, shared.b, shared.sfb, nil, d, 0)
				if errors.Is(err, dlgemm.ErrClosed) {
					return
				}
				if err != nil {
					results <- err
					return
				}
			}
		}()
	}
	close(start)
	for i := 0; i < 3; i++ {
		_ = c2.SetPDL(i%2 == 0)
	}
	must(t, c2.Close())
	done.Wait()
	close(results)
	for err := range results {
		t.Error("a call racing Close:", err)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("DLGEMM_REQUIRE_CGOCHECK2") == "1" && !cgocheck2 {
		fmt.Fprintln(os.Stderr, "DLGEMM_REQUIRE_CGOCHECK2=1 but the test binary was built without GOEXPERIMENT=cgocheck2")
		os.Exit(2)
	}
	os.Exit(m.Run())
}
