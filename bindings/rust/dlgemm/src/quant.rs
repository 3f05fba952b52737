//! FP8 casts, scale-factor layouts and UE8M0 packing. Scales are f32 dequantisation
//! multipliers: x ≈ fp8 × sf with sf = amax / 448 (or, with UE8M0, that rounded up to a power
//! of two); an all-zero block gets sf = 1.

use crate::context::{Context, Stream};
use crate::error::{call, Result};
use crate::tensor::{TensorView, TensorViewMut};
use dlgemm_sys as sys;

/// Elements of `elem_size` bytes needed so that `mn` of them end on a 16-byte boundary, the
/// TMA stride rule (`dlg_tma_aligned_size`).
pub fn tma_aligned_size(mn: i64, elem_size: i64) -> i64 {
    // SAFETY: plain values.
    unsafe { sys::dlg_tma_aligned_size(mn, elem_size) }
}

impl Context {
    /// Per-token (1×128) cast (`dlg_cast_fp8_per_token`): x `[M, K]` f32 or bf16 -> out `[M, K]`
    /// e4m3, sf `[M, ceil(K/128)]` f32 (any strides), powers of two when `use_ue8m0`.
    pub fn cast_fp8_per_token(
        &self,
        x: &TensorView<'_>,
        use_ue8m0: bool,
        out: &mut TensorViewMut<'_>,
        sf: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let x = x.dl();
        let (mut o, mut s) = (out.dl(), sf.dl());
        // SAFETY: every descriptor describes memory its view borrows for this call.
        call(|| unsafe {
            sys::dlg_cast_fp8_per_token(self.as_raw(), &x, use_ue8m0 as i32, &mut o, &mut s, stream.as_raw())
        })
    }

    /// Per-block (128×128) cast (`dlg_cast_fp8_per_block`): x `[M, K]` -> out `[M, K]` e4m3,
    /// sf `[ceil(M/128), ceil(K/128)]` f32.
    pub fn cast_fp8_per_block(
        &self,
        x: &TensorView<'_>,
        use_ue8m0: bool,
        out: &mut TensorViewMut<'_>,
        sf: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let x = x.dl();
        let (mut o, mut s) = (out.dl(), sf.dl());
        // SAFETY: as above.
        call(|| unsafe {
            sys::dlg_cast_fp8_per_block(self.as_raw(), &x, use_ue8m0 as i32, &mut o, &mut s, stream.as_raw())
        })
    }

    /// Per-tensor cast (`dlg_cast_fp8_per_tensor`): x (any shape) -> out e4m3 of the same
    /// shape, sf a one-element f32 tensor = amax / 448.
    pub fn cast_fp8_per_tensor(
        &self,
        x: &TensorView<'_>,
        out: &mut TensorViewMut<'_>,
        sf: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let x = x.dl();
        let (mut o, mut s) = (out.dl(), sf.dl());
        // SAFETY: as above.
        call(|| unsafe { sys::dlg_cast_fp8_per_tensor(self.as_raw(), &x, &mut o, &mut s, stream.as_raw()) })
    }

    /// Copies scale factors `[.., MN, Kb]` f32 into `sf_out` of the same shape and other strides,
    /// typically the TMA-aligned MN-major layout the GPU GEMMs take (`dlg_transform_sf`).
    pub fn transform_sf(&self, sf_in: &TensorView<'_>, sf_out: &mut TensorViewMut<'_>, stream: Stream) -> Result<()> {
        let i = sf_in.dl();
        let mut o = sf_out.dl();
        // SAFETY: as above.
        call(|| unsafe { sys::dlg_transform_sf(self.as_raw(), &i, &mut o, stream.as_raw()) })
    }

    /// Rounds f32 scales up to powers of two and packs their exponents four per int32
    /// (`dlg_pack_ue8m0`): sf `[.., MN, Kb]` -> packed `[.., MN, ceil(Kb/4)]`, byte j of word w
    /// holding column 4w+j.
    pub fn pack_ue8m0(&self, sf: &TensorView<'_>, packed: &mut TensorViewMut<'_>, stream: Stream) -> Result<()> {
        let s = sf.dl();
        let mut p = packed.dl();
        // SAFETY: as above.
        call(|| unsafe { sys::dlg_pack_ue8m0(self.as_raw(), &s, &mut p, stream.as_raw()) })
    }
}
