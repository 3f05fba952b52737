//! MoE grouped GEMMs: M-grouped contiguous and masked, K-grouped contiguous.

use crate::context::{Context, Stream};
use crate::error::{call, Result};
use crate::gemm::Recipe;
use crate::tensor::{opt_dl, opt_ptr, TensorView, TensorViewMut};
use dlgemm_sys as sys;

/// How rows of the M-grouped contiguous layout are assigned to groups (`dlg_group_layout_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupLayout {
    /// int32 `[M]`: the group of each row, -1 for a padding row (neither read nor written).
    RowIds,
    /// int32 `[G + 1]`: non-decreasing offsets; rows [off\[g\], off\[g+1\]) belong to group g.
    Offsets,
}

impl GroupLayout {
    /// The C value.
    pub fn to_raw(self) -> sys::dlg_group_layout_t {
        match self {
            GroupLayout::RowIds => sys::DLG_GROUP_LAYOUT_ROW_IDS,
            GroupLayout::Offsets => sys::DLG_GROUP_LAYOUT_OFFSETS,
        }
    }
}

/// Row alignment of each group's segment in the contiguous layout on the GPU
/// (`dlg_mk_alignment_for_contiguous_layout`, 128 on SM90).
pub fn mk_alignment_for_contiguous_layout() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::dlg_mk_alignment_for_contiguous_layout() }
}

impl Context {
    /// M-grouped contiguous GEMM, MoE prefill (`dlg_m_grouped_gemm_contiguous`): each row r of
    /// group g gets `D[r, :] = A[r, :]·B[g]ᵀ`. a `[M, K]`, b `[G, N, K]`, d `[M, N]` bf16;
    /// `grouped_layout` as `layout_kind` says. Recipes: FP8 1D2D (sfa `[M, Kb]`,
    /// sfb `[G, ceil(N/128), Kb]`), FP8 per-tensor, BF16.
    #[allow(clippy::too_many_arguments)]
    pub fn m_grouped_gemm_contiguous(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        grouped_layout: &TensorView<'_>,
        layout_kind: GroupLayout,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb, gl) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb), grouped_layout.dl());
        let mut d = d.dl();
        // SAFETY: every descriptor describes memory its view borrows for this call.
        call(|| unsafe {
            sys::dlg_m_grouped_gemm_contiguous(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                &gl,
                layout_kind.to_raw(),
                &mut d,
                stream.as_raw(),
            )
        })
    }

    /// M-grouped masked GEMM, MoE decode (`dlg_m_grouped_gemm_masked`): for each group g and
    /// row r < masked_m\[g\], `D[g, r, :] = A[g, r, :]·B[g]ᵀ`; other rows are not touched.
    /// a `[G, max_m, K]`, b `[G, N, K]`, d `[G, max_m, N]`; masked_m int32 `[G]` on the data's device;
    /// `expected_m` (> 0) is a hint for the kernel configuration.
    #[allow(clippy::too_many_arguments)]
    pub fn m_grouped_gemm_masked(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        masked_m: &TensorView<'_>,
        expected_m: i32,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb, mm) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb), masked_m.dl());
        let mut d = d.dl();
        // SAFETY: as above.
        call(|| unsafe {
            sys::dlg_m_grouped_gemm_masked(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                &mm,
                expected_m,
                &mut d,
                stream.as_raw(),
            )
        })
    }

    /// K-grouped contiguous GEMM, MoE weight gradients (`dlg_k_grouped_gemm_contiguous`): K is
    /// split in G segments of ks\[g\] columns (multiples of 128, zero allowed) and
    /// `D[g] = C[g] + A[:, seg g]·B[:, seg g]ᵀ`. a `[M, ΣK]`, b `[N, ΣK]`, ks int32 `[G]` on the
    /// data's device, c (optional) and d `[G, M, N]` f32. Recipes: FP8 1D1D (sfa `[M, ΣK/128]`,
    /// sfb `[N, ΣK/128]`), FP8 per-tensor.
    #[allow(clippy::too_many_arguments)]
    pub fn k_grouped_gemm_contiguous(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        ks: &TensorView<'_>,
        c: Option<&TensorView<'_>>,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb, ks, c) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb), ks.dl(), opt_dl(c));
        let mut d = d.dl();
        // SAFETY: as above.
        call(|| unsafe {
            sys::dlg_k_grouped_gemm_contiguous(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                &ks,
                opt_ptr(&c),
                &mut d,
                stream.as_raw(),
            )
        })
    }

    /// [`Context::k_grouped_gemm_contiguous`] accumulating in place: `D[g] += A·Bᵀ` per segment
    /// (C aliasing D).
    #[allow(clippy::too_many_arguments)]
    pub fn k_grouped_gemm_contiguous_accumulate(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        ks: &TensorView<'_>,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb, ks) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb), ks.dl());
        let mut d = d.dl();
        let d: *mut sys::DLTensor = &mut d;
        // SAFETY: as above; C and D are the same view, which the ABI allows.
        call(|| unsafe {
            sys::dlg_k_grouped_gemm_contiguous(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                &ks,
                d,
                d,
                stream.as_raw(),
            )
        })
    }
}
