package dlgemm_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// mqaScore is Σ_h relu((q_h · kv)·scale)·weight_h over e4m3 q [H, D] and kv [D], float64.
func mqaScore(q []uint8, kv []uint8, scale float32, weights []float32, h, dim int) float64 {
	var s float64
	for hi := 0; hi < h; hi++ {
		var dot float64
		for j := 0; j < dim; j++ {
			dot += float64(e4m3Value(q[hi*dim+j])) * float64(e4m3Value(kv[j]))
		}
		s += math.Max(dot*float64(scale), 0) * float64(weights[hi])
	}
	return s
}

func TestMqaLogits(t *testing.T) {
	ctx, r := newCPU(t), newRand(9)
	s, h, dim, skv := 12, 4, 64, 50
	S, H, D, SKV := int64(s), int64(h), int64(dim), int64(skv)
	q, kv := toE4M3(randn(r, s*h*dim, 1)), toE4M3(randn(r, skv*dim, 1))
	kvScale, weights := uniform(r, skv, 0.5, 1.5), randn(r, s*h, 1)
	ks, ke := make([]int32, s), make([]int32, s)
	for i := range ks {
		ks[i] = int32(r.IntN(20))
		ke[i] = ks[i] + int32(r.IntN(40)) // may run past S_kv: clipped
	}
	ref := make([]float64, s*skv)
	valid := make([]bool, s*skv)
	for i := 0; i < s; i++ {
		for j := 0; j < skv; j++ {
			ref[i*skv+j] = mqaScore(q[i*h*dim:(i+1)*h*dim], kv[j*dim:(j+1)*dim], kvScale[j], weights[i*h:(i+1)*h], h, dim)
			valid[i*skv+j] = j >= int(ks[i]) && j < int(ke[i])
		}
	}
	qt, kvt := tensor(t, q, dlgemm.Float8E4M3FN, S, H, D), tensor(t, kv, dlgemm.Float8E4M3FN, SKV, D)
	st, wt := tensor(t, kvScale, dlgemm.Float32, SKV), tensor(t, weights, dlgemm.Float32, S, H)
	kst, ket := tensor(t, ks, dlgemm.Int32, S), tensor(t, ke, dlgemm.Int32, S)
	check := func(got []float64, rtol, atol float64, outside func(v float64) bool) {
		t.Helper()
		for i, v := range got {
			if valid[i] {
				if math.Abs(v-ref[i]) > atol+rtol*math.Abs(ref[i]) {
					t.Fatalf("logit %d: got %g, want %g", i, v, ref[i])
				}
			} else if !outside(v) {
				t.Fatalf("logit %d outside the range: %g", i, v)
			}
		}
	}
	isNegInf := func(v float64) bool { return math.IsInf(v, -1) }
	logits := dlgemm.Zeros(dlgemm.Float32, S, SKV)
	must(t, ctx.MQALogits(qt, kvt, st, wt, kst, ket, true, logits, 0))
	check(values(t, logits), 1e-5, 1e-4, isNegInf)

	// Without cleaning, positions outside the range stay as they were; padded row stride.
	stride := dlgemm.MQALogitsRowStride(SKV)
	buf := fillF32(s*int(stride), 42)
	view := strided(t, buf, dlgemm.Float32, []int64{S, SKV}, []int64{stride, 1})
	must(t, ctx.MQALogits(qt, kvt, st, wt, kst, ket, false, view, 0))
	check(values(t, view), 1e-5, 1e-4, func(v float64) bool { return v == 42 })
	for i := 0; i < s; i++ {
		for _, v := range buf[i*int(stride)+skv : (i+1)*int(stride)] {
			if v != 42 {
				t.Fatal("the row padding was written")
			}
		}
	}
	// bfloat16 logits.
	lb := dlgemm.Zeros(dlgemm.BFloat16, S, SKV)
	must(t, ctx.MQALogits(qt, kvt, st, wt, kst, ket, true, lb, 0))
	check(values(t, lb), 1.0/128, 1e-2, isNegInf)
}

// scheduleReference: the batches' KV blocks end to end; SM i starts at floor(i·total/numSMs);
// (B, 0) past the end (attention.h).
func scheduleReference(lens []int32, batch, nextN, blockKV, numSMs int, twoD bool) []int32 {
	prefix := []int{0}
	for b := 0; b < batch; b++ {
		longest := int(lens[b])
		if twoD {
			longest = 0
			for j := 0; j < nextN; j++ {
				longest = max(longest, int(lens[b*nextN+j]))
			}
		}
		prefix = append(prefix, prefix[b]+ceilDiv(max(longest, 0), blockKV))
	}
	total := prefix[batch]
	out := make([]int32, 2*(numSMs+1))
	for s := 0; s <= numSMs; s++ {
		g := total
		if s < numSMs {
			g = s * total / numSMs
		}
		if g >= total {
			out[2*s] = int32(batch)
			continue
		}
		b := 0
		for prefix[b+1] <= g {
			b++
		}
		out[2*s], out[2*s+1] = int32(b), int32(g-prefix[b])
	}
	return out
}

func TestMqaLogitsCompressed(t *testing.T) {
	ctx, r := newCPU(t), newRand(10)
	s, h, dim, skv, width := 8, 2, 32, 30, 8
	S, H, D, SKV, W := int64(s), int64(h), int64(dim), int64(skv), int64(width)
	q, kv := toE4M3(randn(r, s*h*dim, 1)), toE4M3(randn(r, skv*dim, 1))
	kvScale, weights := uniform(r, skv, 0.5, 1.5), randn(r, s*h, 1)
	ks, ke := make([]int32, s), make([]int32, s)
	for i := range ks {
		ks[i] = int32(r.IntN(20))
		ke[i] = ks[i] + int32(r.IntN(15)) // some windows longer than W: cut
	}
	qt, kvt := tensor(t, q, dlgemm.Float8E4M3FN, S, H, D), tensor(t, kv, dlgemm.Float8E4M3FN, SKV, D)
	st, wt := tensor(t, kvScale, dlgemm.Float32, SKV), tensor(t, weights, dlgemm.Float32, S, H)
	kst, ket := tensor(t, ks, dlgemm.Int32, S), tensor(t, ke, dlgemm.Int32, S)
	logits := dlgemm.Zeros(dlgemm.Float32, S, W)
	must(t, ctx.MQALogitsCompressed(qt, kvt, st, wt, kst, ket, true, logits, 0))
	got := values(t, logits)
	for i := 0; i < s; i++ {
		n := min(min(int(ke[i]), skv)-int(ks[i]), width)
		for c := 0; c < width; c++ {
			v := got[i*width+c]
			if c >= n {
				if !math.IsInf(v, -1) {
					t.Fatalf("row %d column %d past the window: %g", i, c, v)
				}
				continue
			}
			j := int(ks[i]) + c
			want := mqaScore(q[i*h*dim:(i+1)*h*dim], kv[j*dim:(j+1)*dim], kvScale[j], weights[i*h:(i+1)*h], h, dim)
			if math.Abs(v-want) > 1e-4+1e-5*math.Abs(want) {
				t.Fatalf("row %d column %d: got %g, want %g", i, c, v, want)
			}
		}
	}
}

func TestPagedMqaLogits(t *testing.T) {
	ctx, r := newCPU(t), newRand(10)
	batch, nextN, h, dim, blockKV, numBlocks, maxBlocks := 3, 2, 4, 32, 8, 10, 4
	q := toE4M3(randn(r, batch*nextN*h*dim, 1))
	kv := toE4M3(randn(r, numBlocks*blockKV*dim, 1))
	scales := uniform(r, numBlocks*blockKV, 0.5, 2)
	// Per block: block_kv·D FP8 bytes, then block_kv little-endian FP32 scales.
	per := blockKV * (dim + 4)
	cache := make([]byte, numBlocks*per)
	for blk := 0; blk < numBlocks; blk++ {
		copy(cache[blk*per:], kv[blk*blockKV*dim:(blk+1)*blockKV*dim])
		for row := 0; row < blockKV; row++ {
			binary.LittleEndian.PutUint32(cache[blk*per+blockKV*dim+4*row:], math.Float32bits(scales[blk*blockKV+row]))
		}
	}
	weights := randn(r, batch*nextN*h, 1)
	table := make([]int32, batch*maxBlocks)
	for i := range table {
		table[i] = int32(r.IntN(numBlocks))
	}
	maxLen := maxBlocks * blockKV
	lens1d := []int32{5, 32, 17} // DeepGEMM's convention: row t is valid on [0, len - next_n + t + 1)
	lens2d := []int32{3, 4, 30, 32, 0, 9}
	reference := func(lens []int32, twoD bool) []float64 {
		ref := make([]float64, batch*nextN*maxLen)
		for i := range ref {
			ref[i] = math.Inf(-1)
		}
		for b := 0; b < batch; b++ {
			for tk := 0; tk < nextN; tk++ {
				nValid := max(int(lens[b])-nextN+tk+1, 0)
				if twoD {
					nValid = int(lens[b*nextN+tk])
				}
				row := b*nextN + tk
				for j := 0; j < nValid; j++ {
					blk, slot := int(table[b*maxBlocks+j/blockKV]), j%blockKV
					ref[row*maxLen+j] = mqaScore(q[row*h*dim:(row+1)*h*dim], kv[(blk*blockKV+slot)*dim:(blk*blockKV+slot+1)*dim],
						scales[blk*blockKV+slot], weights[row*h:(row+1)*h], h, dim)
				}
			}
		}
		return ref
	}
	B, NN, H, D := int64(batch), int64(nextN), int64(h), int64(dim)
	qt := tensor(t, q, dlgemm.Float8E4M3FN, B, NN, H, D)
	cacheT, err := dlgemm.FromBytes(cache, dlgemm.UInt8, []int64{int64(numBlocks), int64(blockKV), 1, D + 4}, nil)
	must(t, err)
	wt := tensor(t, weights, dlgemm.Float32, B*NN, H)
	tt := tensor(t, table, dlgemm.Int32, B, int64(maxBlocks))
	closeTo := func(got, ref []float64, keep func(v float64) bool) {
		t.Helper()
		for i := range ref {
			if math.IsInf(ref[i], -1) {
				if !keep(got[i]) {
					t.Fatalf("logit %d past the length: %g", i, got[i])
				}
			} else if math.Abs(got[i]-ref[i]) > 1e-4+1e-5*math.Abs(ref[i]) {
				t.Fatalf("logit %d: got %g, want %g", i, got[i], ref[i])
			}
		}
	}
	for _, c := range []struct {
		lens []int32
		twoD bool
	}{{lens1d, false}, {lens2d, true}} {
		lensT := tensor(t, c.lens, dlgemm.Int32, B)
		if c.twoD {
			lensT = tensor(t, c.lens, dlgemm.Int32, B, NN)
		}
		meta := dlgemm.Zeros(dlgemm.Int32, dlgemm.PagedMQALogitsMetadataRows(4), 2)
		must(t, ctx.PagedMQALogitsMetadata(lensT, blockKV, 4, meta, 0))
		want := scheduleReference(c.lens, batch, nextN, blockKV, 4, c.twoD)
		for i, v := range meta.Int32s() {
			if v != want[i] {
				t.Fatalf("schedule %v, want %v", meta.Int32s(), want)
			}
		}
		logits := dlgemm.Zeros(dlgemm.Float32, B*NN, int64(maxLen))
		must(t, ctx.PagedMQALogits(qt, cacheT, wt, lensT, tt, meta, true, logits, 0))
		closeTo(values(t, logits), reference(c.lens, c.twoD), func(v float64) bool { return math.IsInf(v, -1) })
	}
	// No schedule on the CPU, no cleaning: positions past each row's length are untouched.
	out := tensor(t, fillF32(batch*nextN*maxLen, 7), dlgemm.Float32, B*NN, int64(maxLen))
	must(t, ctx.PagedMQALogits(qt, cacheT, wt, tensor(t, lens2d, dlgemm.Int32, B, NN), tt, nil, false, out, 0))
	closeTo(values(t, out), reference(lens2d, true), func(v float64) bool { return v == 7 })
	// A CPU context has no SM count to default to.
	err = ctx.PagedMQALogitsMetadata(tensor(t, lens1d, dlgemm.Int32, B), blockKV, 0, dlgemm.Zeros(dlgemm.Int32, 1, 2), 0)
	var e *dlgemm.Error
	if !errors.As(err, &e) || e.Status != dlgemm.StatusInvalidArgument || !strings.Contains(e.Message, "num_sms") {
		t.Fatal(err)
	}
}

func TestCleanLogits(t *testing.T) {
	ctx, r := newCPU(t), newRand(11)
	rows, width := 6, 20
	ks := []int32{0, 3, 5, 19, 2, 0}
	ke := []int32{20, 10, 5, 20, 30, 1}
	before := randn(r, rows*width, 1)
	logits := tensor(t, append([]float32(nil), before...), dlgemm.Float32, int64(rows), int64(width))
	must(t, ctx.CleanLogits(tensor(t, ks, dlgemm.Int32, int64(rows)), tensor(t, ke, dlgemm.Int32, int64(rows)), logits, 0))
	for i, v := range logits.Float32s() {
		row, col := i/width, i%width
		keep := col >= int(ks[row]) && col < int(ke[row])
		if keep && v != before[i] || !keep && !math.IsInf(float64(v), -1) {
			t.Fatalf("element (%d, %d) = %g", row, col, v)
		}
	}
	// ks nil means 0; bfloat16 logits.
	lbBefore := toBF16(randn(r, rows*width, 1))
	lb := tensor(t, append([]uint16(nil), lbBefore...), dlgemm.BFloat16, int64(rows), int64(width))
	must(t, ctx.CleanLogits(nil, tensor(t, ke, dlgemm.Int32, int64(rows)), lb, 0))
	for i, v := range lb.Uint16s() {
		keep := i%width < int(ke[i/width])
		if keep && v != lbBefore[i] || !keep && !math.IsInf(float64(bf16Value(v)), -1) {
			t.Fatalf("element %d = %g", i, bf16Value(v))
		}
	}
}
