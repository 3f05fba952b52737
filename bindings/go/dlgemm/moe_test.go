package dlgemm_test

import (
	"testing"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// quantGroups casts each of g [n, k] matrices per 128×128 block: bytes [g, n, k] and scales
// [g, ceil(n/128), ceil(k/128)].
func quantGroups(w []float32, g, n, k int) ([]uint8, []float32) {
	var q []uint8
	var sf []float32
	for i := 0; i < g; i++ {
		qi, si := quantBlocks(w[i*n*k:(i+1)*n*k], n, k, false)
		q, sf = append(q, qi...), append(sf, si...)
	}
	return q, sf
}

func TestMGroupedContiguous(t *testing.T) {
	ctx, r := newCPU(t), newRand(6)
	g, m, n, k := 3, 40, 64, 256
	G, M, N, K := int64(g), int64(m), int64(n), int64(k)
	x, w := randn(r, m*k, 1), randn(r, g*n*k, 1)
	ids := make([]int32, m)
	for i := range ids {
		ids[i] = int32(r.IntN(g+1)) - 1
	}
	copy(ids, []int32{-1, 0, 2})

	// BF16, row-id layout: padding rows (-1) keep their content.
	a, b := toBF16(x), toBF16(w)
	five := bf16Bits(5)
	d := tensor(t, fillU16(m*n, five), dlgemm.BFloat16, M, N)
	must(t, ctx.MGroupedGemmContiguous(dlgemm.RecipeBF16, tensor(t, a, dlgemm.BFloat16, M, K), nil,
		tensor(t, b, dlgemm.BFloat16, G, N, K), nil, tensor(t, ids, dlgemm.Int32, M),
		dlgemm.GroupLayoutRowIDs, d, 0))
	got := values(t, d)
	af, bf := decodeBF16(a), decodeBF16(b)
	for row, id := range ids {
		if id < 0 {
			for _, v := range got[row*n : (row+1)*n] {
				if v != 5 {
					t.Fatalf("padding row %d was written", row)
				}
			}
			continue
		}
		ref := matmulNT(af[row*k:(row+1)*k], bf[int(id)*n*k:(int(id)+1)*n*k], 1, n, k)
		assertClose(t, got[row*n:(row+1)*n], ref, bf16Rtol, bf16Atol)
	}

	// FP8 1D2D, offsets layout with an empty group; rows outside [off[0], off[G]) untouched.
	qa, sfa := quantRows(x, m, k, false)
	qb, sfb := quantGroups(w, g, n, k)
	off := []int32{2, 10, 10, 30}
	three := bf16Bits(3)
	d = tensor(t, fillU16(m*n, three), dlgemm.BFloat16, M, N)
	kb := int64(ceilDiv(k, 128))
	must(t, ctx.MGroupedGemmContiguous(dlgemm.RecipeFP8_1D2D, tensor(t, qa, dlgemm.Float8E4M3FN, M, K),
		tensor(t, sfa, dlgemm.Float32, M, kb), tensor(t, qb, dlgemm.Float8E4M3FN, G, N, K),
		tensor(t, sfb, dlgemm.Float32, G, 1, kb), tensor(t, off, dlgemm.Int32, G+1),
		dlgemm.GroupLayoutOffsets, d, 0))
	got = values(t, d)
	xa := dequant(qa, sfa, m, k, 1, 128)
	for i := 0; i < g; i++ {
		lo, hi := int(off[i]), int(off[i+1])
		if lo == hi {
			continue
		}
		wb := dequant(qb[i*n*k:(i+1)*n*k], sfb[i*int(kb):(i+1)*int(kb)], n, k, 128, 128)
		assertClose(t, got[lo*n:hi*n], matmulNT(xa[lo*k:hi*k], wb, hi-lo, n, k), bf16Rtol, bf16Atol)
	}
	for row := 0; row < m; row++ {
		if row >= 2 && row < 30 {
			continue
		}
		for _, v := range got[row*n : (row+1)*n] {
			if v != 3 {
				t.Fatalf("row %d outside the groups was written", row)
			}
		}
	}
}

func TestMGroupedMasked(t *testing.T) {
	ctx, r := newCPU(t), newRand(7)
	g, maxM, n, k := 3, 16, 32, 128
	G, MM, N, K := int64(g), int64(maxM), int64(n), int64(k)
	x, w := randn(r, g*maxM*k, 1), randn(r, g*n*k, 1)
	masked := []int32{5, 0, 16}
	var qa []uint8
	var sfa []float32
	for i := 0; i < g; i++ {
		q, s := quantRows(x[i*maxM*k:(i+1)*maxM*k], maxM, k, false)
		qa, sfa = append(qa, q...), append(sfa, s...)
	}
	qb, sfb := quantGroups(w, g, n, k)
	nine := bf16Bits(9)
	d := tensor(t, fillU16(g*maxM*n, nine), dlgemm.BFloat16, G, MM, N)
	maskedT := tensor(t, masked, dlgemm.Int32, G)
	must(t, ctx.MGroupedGemmMasked(dlgemm.RecipeFP8_1D2D, tensor(t, qa, dlgemm.Float8E4M3FN, G, MM, K),
		tensor(t, sfa, dlgemm.Float32, G, MM, 1), tensor(t, qb, dlgemm.Float8E4M3FN, G, N, K),
		tensor(t, sfb, dlgemm.Float32, G, 1, 1), maskedT, 8, d, 0))
	got := values(t, d)
	for i := 0; i < g; i++ {
		mm := int(masked[i])
		ref := matmulNT(dequant(qa[i*maxM*k:(i+1)*maxM*k], sfa[i*maxM:(i+1)*maxM], maxM, k, 1, 128),
			dequant(qb[i*n*k:(i+1)*n*k], sfb[i:i+1], n, k, 128, 128), maxM, n, k)
		base := i * maxM * n
		if mm > 0 {
			assertClose(t, got[base:base+mm*n], ref[:mm*n], bf16Rtol, bf16Atol)
		}
		for _, v := range got[base+mm*n : base+maxM*n] {
			if v != 9 {
				t.Fatalf("group %d: a row past masked_m was written", i)
			}
		}
	}
	// BF16.
	a, b := toBF16(x), toBF16(w)
	d2 := dlgemm.Zeros(dlgemm.BFloat16, G, MM, N)
	must(t, ctx.MGroupedGemmMasked(dlgemm.RecipeBF16, tensor(t, a, dlgemm.BFloat16, G, MM, K), nil,
		tensor(t, b, dlgemm.BFloat16, G, N, K), nil, maskedT, 8, d2, 0))
	got = values(t, d2)
	ref := matmulNT(decodeBF16(a[2*maxM*k:]), decodeBF16(b[2*n*k:]), maxM, n, k)
	assertClose(t, got[2*maxM*n:], ref, bf16Rtol, bf16Atol)
}

func TestKGrouped(t *testing.T) {
	ctx, r := newCPU(t), newRand(8)
	m, n := 24, 40
	ks := []int32{128, 0, 256}
	kt := 384
	M, N, KT, G := int64(m), int64(n), int64(kt), int64(len(ks))
	x, w := randn(r, m*kt, 1), randn(r, n*kt, 1)
	qa, sfa := quantRows(x, m, kt, false)
	qb, sfb := quantRows(w, n, kt, false)
	c := randn(r, len(ks)*m*n, 1)
	dbuf := append([]float32(nil), c...)
	d := tensor(t, dbuf, dlgemm.Float32, G, M, N)
	kst := tensor(t, ks, dlgemm.Int32, G)
	must(t, ctx.KGroupedGemmContiguous(dlgemm.RecipeFP8_1D1D, tensor(t, qa, dlgemm.Float8E4M3FN, M, KT),
		tensor(t, sfa, dlgemm.Float32, M, KT/128), tensor(t, qb, dlgemm.Float8E4M3FN, N, KT),
		tensor(t, sfb, dlgemm.Float32, N, KT/128), kst, d, d, 0))
	xa, xb := dequant(qa, sfa, m, kt, 1, 128), dequant(qb, sfb, n, kt, 1, 128)
	segment := func(v []float64, rows, start, width int) []float64 {
		out := make([]float64, 0, rows*width)
		for i := 0; i < rows; i++ {
			out = append(out, v[i*kt+start:i*kt+start+width]...)
		}
		return out
	}
	got := values(t, d)
	start := 0
	for gi, kg := range ks {
		ref := matmulNT(segment(xa, m, start, int(kg)), segment(xb, n, start, int(kg)), m, n, int(kg))
		for i := range ref {
			ref[i] += float64(c[gi*m*n+i])
		}
		assertClose(t, got[gi*m*n:(gi+1)*m*n], ref, 1e-5, 1e-3)
		start += int(kg)
	}
	// Per-tensor recipe with per-group scales [G].
	sa, sb := []float32{0.5, 1, 2}, []float32{1, 3, 0.25}
	a8, b8 := toE4M3(x), toE4M3(w)
	d2 := dlgemm.Zeros(dlgemm.Float32, G, M, N)
	must(t, ctx.KGroupedGemmContiguous(dlgemm.RecipeFP8PerTensor, tensor(t, a8, dlgemm.Float8E4M3FN, M, KT),
		tensor(t, sa, dlgemm.Float32, G), tensor(t, b8, dlgemm.Float8E4M3FN, N, KT),
		tensor(t, sb, dlgemm.Float32, G), kst, nil, d2, 0))
	got = values(t, d2)
	start = 0
	for gi, kg := range ks {
		ref := matmulNT(segment(decodeE4M3(a8), m, start, int(kg)), segment(decodeE4M3(b8), n, start, int(kg)), m, n, int(kg))
		for i := range ref {
			ref[i] *= float64(sa[gi]) * float64(sb[gi])
		}
		assertClose(t, got[gi*m*n:(gi+1)*m*n], ref, 1e-5, 1e-3)
		start += int(kg)
	}
}
