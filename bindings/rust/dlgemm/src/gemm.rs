//! Dense GEMM: `D = C + A·Bᵀ` with the FP8 and BF16 scale recipes.

use crate::context::{Context, Stream};
use crate::dtype::DType;
use crate::error::{call, static_str, Result};
use crate::tensor::{opt_dl, opt_ptr, TensorView, TensorViewMut};
use dlgemm_sys as sys;

/// How A and B are stored and scaled (`dlg_recipe_t`). Shapes are those of [`Context::gemm`]:
/// A `[M, K]`, B `[N, K]`, Kb = ceil(K/128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Recipe {
    /// FP8 e4m3 A and B; sfa `[M, Kb]` f32 per token and 128-wide K block, sfb `[ceil(N/128), Kb]`
    /// f32 per 128×128 block (or both packed UE8M0, see `dlg_pack_ue8m0`). D bf16 or f32.
    Fp8_1d2d,
    /// FP8 e4m3 A and B; sfa `[M, Kb]` and sfb `[N, Kb]`, both per token (weight gradients).
    /// D f32 or bf16.
    Fp8_1d1d,
    /// FP8 e4m3 A and B with one f32 scale each (or none, meaning 1). D bf16 or f32.
    Fp8PerTensor,
    /// bfloat16 A and B, no scales. D bf16 or f32.
    Bf16,
}

impl Recipe {
    /// The C value.
    pub fn to_raw(self) -> sys::dlg_recipe_t {
        match self {
            Recipe::Fp8_1d2d => sys::DLG_RECIPE_FP8_1D2D,
            Recipe::Fp8_1d1d => sys::DLG_RECIPE_FP8_1D1D,
            Recipe::Fp8PerTensor => sys::DLG_RECIPE_FP8_PER_TENSOR,
            Recipe::Bf16 => sys::DLG_RECIPE_BF16,
        }
    }

    /// The library's name of the recipe (`dlg_recipe_name`).
    pub fn name(self) -> &'static str {
        // SAFETY: returns a static string for any value.
        unsafe { static_str(sys::dlg_recipe_name(self.to_raw())) }
    }
}

impl Context {
    /// `D = C + A·Bᵀ` (`dlg_gemm`). A `[M, K]`, B `[N, K]`, C (optional, `None` = zero) and D
    /// `[M, N]`; layouts come from the strides (K-major, or M-/N-major via
    /// [`TensorView::transpose`]). Scales as the [`Recipe`] says. All tensors on one device:
    /// CPU (reference) or the context's GPU (enqueued on `stream`).
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        c: Option<&TensorView<'_>>,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb, c) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb), opt_dl(c));
        let mut d = d.dl();
        // SAFETY: every descriptor describes memory its view borrows for this call.
        call(|| unsafe {
            sys::dlg_gemm(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                opt_ptr(&c),
                &mut d,
                stream.as_raw(),
            )
        })
    }

    /// `D += A·Bᵀ` in place (`dlg_gemm` with C aliasing D: weight-gradient accumulation).
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_accumulate(
        &self,
        recipe: Recipe,
        a: &TensorView<'_>,
        sfa: Option<&TensorView<'_>>,
        b: &TensorView<'_>,
        sfb: Option<&TensorView<'_>>,
        d: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (a, sfa, b, sfb) = (a.dl(), opt_dl(sfa), b.dl(), opt_dl(sfb));
        let mut d = d.dl();
        let d: *mut sys::DLTensor = &mut d;
        // SAFETY: as in `gemm`; C and D are the same view, which the ABI allows.
        call(|| unsafe {
            sys::dlg_gemm(
                self.as_raw(),
                recipe.to_raw(),
                &a,
                opt_ptr(&sfa),
                &b,
                opt_ptr(&sfb),
                d,
                d,
                stream.as_raw(),
            )
        })
    }

    /// Compiles (or loads from the disk cache) the kernel [`Context::gemm`] would launch for
    /// this problem, so the first call does not pay for NVRTC (`dlg_warmup_gemm`). `d_dtype`
    /// is [`DType::BF16`] or [`DType::F32`]. A no-op on a CPU context.
    pub fn warmup_gemm(&self, recipe: Recipe, m: i64, n: i64, k: i64, d_dtype: DType) -> Result<()> {
        let dt = d_dtype.to_dl();
        // SAFETY: plain values.
        call(|| unsafe {
            sys::dlg_warmup_gemm(self.as_raw(), recipe.to_raw(), m, n, k, dt.code as i32, dt.bits as i32)
        })
    }
}
