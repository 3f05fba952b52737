package dlgemm

import "github.com/dlgemm/dlgemm/bindings/go/internal/raw"

// Gemm computes D = C + A·Bᵀ (dlg_gemm). Shapes are logical: a [M, K], b [N, K], c and d
// [M, N]; the memory layout (K-major, M/N-major) is read from the strides. sfa and sfb are the
// scales the recipe takes (nil for RecipeBF16, nil = 1 for RecipeFP8PerTensor); c is optional
// (nil = zero) and may be d itself (in-place accumulation). All tensors live on the context's
// device; d is written only when every argument is valid. M, N or K may be 0.
func (c *Context) Gemm(recipe Recipe, a, sfa, b, sfb, cIn, d *Tensor, stream Stream) error {
	return c.run([]*Tensor{a, sfa, b, sfb, cIn, d}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_gemm(h, raw.Enum_SS_dlg_recipe(recipe), t[0], t[1], t[2], t[3], t[4], t[5],
			uintptr(stream))
	})
}

// WarmupGemm compiles (or loads from the disk cache) the kernel Gemm would launch for an
// M×N×K problem with a D of type dOut, so that the first real call does not pay for NVRTC. A
// problem with no GPU kernel returns ErrUnsupported; on a CPU context it does nothing.
func (c *Context) WarmupGemm(recipe Recipe, m, n, k int64, dOut DType) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_warmup_gemm(h, raw.Enum_SS_dlg_recipe(recipe), m, n, k, int(dOut.Code),
			int(dOut.Bits))
	})
}

// MGroupedGemmContiguous is the M-grouped contiguous GEMM of MoE prefill
// (dlg_m_grouped_gemm_contiguous): row r of group g gets D[r, :] = A[r, :]·B[g]ᵀ, with the
// groups given by groupedLayout as layout says. a [M, K], b [G, N, K], d [M, N] bf16; recipes
// RecipeFP8_1D2D, RecipeFP8PerTensor, RecipeBF16. Rows of no group are not touched.
func (c *Context) MGroupedGemmContiguous(recipe Recipe, a, sfa, b, sfb, groupedLayout *Tensor,
	layout GroupLayout, d *Tensor, stream Stream) error {
	return c.run([]*Tensor{a, sfa, b, sfb, groupedLayout, d}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_m_grouped_gemm_contiguous(h, raw.Enum_SS_dlg_recipe(recipe), t[0], t[1],
			t[2], t[3], t[4], raw.Enum_SS_dlg_group_layout(layout), t[5], uintptr(stream))
	})
}

// MGroupedGemmMasked is the M-grouped masked GEMM of MoE decode (dlg_m_grouped_gemm_masked):
// D[g, r, :] = A[g, r, :]·B[g]ᵀ for r < maskedM[g]; later rows are not touched. a [G, max_m, K],
// b [G, N, K], d [G, max_m, N], maskedM int32 [G] (read on the device); expectedM (> 0) is a
// hint for the kernel configuration.
func (c *Context) MGroupedGemmMasked(recipe Recipe, a, sfa, b, sfb, maskedM *Tensor,
	expectedM int, d *Tensor, stream Stream) error {
	return c.run([]*Tensor{a, sfa, b, sfb, maskedM, d}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_m_grouped_gemm_masked(h, raw.Enum_SS_dlg_recipe(recipe), t[0], t[1], t[2],
			t[3], t[4], expectedM, t[5], uintptr(stream))
	})
}

// KGroupedGemmContiguous is the K-grouped GEMM of MoE weight gradients
// (dlg_k_grouped_gemm_contiguous): K is split in G segments of ks[g] columns (multiples of 128,
// zero allowed) and D[g] = C[g] + A[:, seg g]·B[:, seg g]ᵀ. a [M, ΣK], b [N, ΣK], ks int32 [G],
// c optional (may be d), d [G, M, N] f32. Recipes RecipeFP8_1D1D, RecipeFP8PerTensor.
func (c *Context) KGroupedGemmContiguous(recipe Recipe, a, sfa, b, sfb, ks, cIn, d *Tensor,
	stream Stream) error {
	return c.run([]*Tensor{a, sfa, b, sfb, ks, cIn, d}, func(h uintptr, t []uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_k_grouped_gemm_contiguous(h, raw.Enum_SS_dlg_recipe(recipe), t[0], t[1],
			t[2], t[3], t[4], t[5], t[6], uintptr(stream))
	})
}
