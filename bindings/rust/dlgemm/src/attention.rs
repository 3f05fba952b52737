//! MQA logits for the sparse-attention indexer:
//! `logits[i, j] = Σ_h relu((q[i, h, :]·kv[j, :])·kv_scale[j])·weights[i, h]` over each row's
//! valid range; outside it -inf when `clean_logits` is set, untouched otherwise.

use crate::context::{Context, Stream};
use crate::error::{call, Result};
use crate::tensor::{opt_dl, opt_ptr, TensorView, TensorViewMut};
use dlgemm_sys as sys;

/// Recommended row stride (elements) of a logits buffer with `seq_len_kv` columns, the one
/// the GPU kernels write best (`dlg_mqa_logits_row_stride`).
pub fn mqa_logits_row_stride(seq_len_kv: i64) -> i64 {
    // SAFETY: plain value.
    unsafe { sys::dlg_mqa_logits_row_stride(seq_len_kv) }
}

/// Rows of the schedule-metadata tensor for `num_sms` SMs
/// (`dlg_paged_mqa_logits_metadata_rows`, num_sms + 1).
pub fn paged_mqa_logits_metadata_rows(num_sms: i32) -> i64 {
    // SAFETY: plain value.
    unsafe { sys::dlg_paged_mqa_logits_metadata_rows(num_sms) }
}

impl Context {
    /// Non-paged MQA logits, prefill (`dlg_mqa_logits`). q `[S, H, D]` and kv `[S_kv, D]` e4m3,
    /// kv_scale `[S_kv]` f32, weights `[S, H]` f32, ks/ke int32 `[S]` (row i valid on
    /// [ks\[i\], ke\[i\]) ∩ [0, S_kv)), logits `[S, S_kv]` f32 or bf16 (row stride may exceed S_kv).
    #[allow(clippy::too_many_arguments)]
    pub fn mqa_logits(
        &self,
        q: &TensorView<'_>,
        kv: &TensorView<'_>,
        kv_scale: &TensorView<'_>,
        weights: &TensorView<'_>,
        ks: &TensorView<'_>,
        ke: &TensorView<'_>,
        clean_logits: bool,
        logits: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (q, kv, kvs, w, ks, ke) = (q.dl(), kv.dl(), kv_scale.dl(), weights.dl(), ks.dl(), ke.dl());
        let mut out = logits.dl();
        // SAFETY: every descriptor describes memory its view borrows for this call.
        call(|| unsafe {
            sys::dlg_mqa_logits(
                self.as_raw(),
                &q,
                &kv,
                &kvs,
                &w,
                &ks,
                &ke,
                clean_logits as i32,
                &mut out,
                stream.as_raw(),
            )
        })
    }

    /// Non-paged MQA logits with a compressed output (`dlg_mqa_logits_compressed`, DeepGEMM's
    /// `max_seqlen_k`): logits `[S, W]`, column c of row i = key ks\[i\] + c (ks/ke clamped to
    /// [0, S_kv]); columns past the row's window are -inf when `clean_logits`, else untouched.
    #[allow(clippy::too_many_arguments)]
    pub fn mqa_logits_compressed(
        &self,
        q: &TensorView<'_>,
        kv: &TensorView<'_>,
        kv_scale: &TensorView<'_>,
        weights: &TensorView<'_>,
        ks: &TensorView<'_>,
        ke: &TensorView<'_>,
        clean_logits: bool,
        logits: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (q, kv, kvs, w, ks, ke) = (q.dl(), kv.dl(), kv_scale.dl(), weights.dl(), ks.dl(), ke.dl());
        let mut out = logits.dl();
        // SAFETY: every descriptor describes memory its view borrows for this call.
        call(|| unsafe {
            sys::dlg_mqa_logits_compressed(
                self.as_raw(),
                &q,
                &kv,
                &kvs,
                &w,
                &ks,
                &ke,
                clean_logits as i32,
                &mut out,
                stream.as_raw(),
            )
        })
    }

    /// Schedule metadata for the paged kernel (`dlg_paged_mqa_logits_metadata`): splits the
    /// KV blocks of all rows evenly over `num_sms` SMs (0 = the context's SM count).
    /// context_lens int32 `[B]` or `[B, next_n]`; schedule_meta int32
    /// [[`paged_mqa_logits_metadata_rows`], 2] receives where each SM starts (row, block).
    pub fn paged_mqa_logits_metadata(
        &self,
        context_lens: &TensorView<'_>,
        block_kv: i32,
        num_sms: i32,
        schedule_meta: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let lens = context_lens.dl();
        let mut meta = schedule_meta.dl();
        // SAFETY: as above.
        call(|| unsafe {
            sys::dlg_paged_mqa_logits_metadata(self.as_raw(), &lens, block_kv, num_sms, &mut meta, stream.as_raw())
        })
    }

    /// Paged MQA logits, decode (`dlg_paged_mqa_logits`). q `[B, next_n, H, D]` e4m3; kv_cache
    /// uint8 `[num_blocks, block_kv, 1, D + 4]` (per block: block_kv·D FP8 bytes, then block_kv
    /// f32 scales); weights `[B·next_n, H]` f32; context_lens int32 `[B, next_n]` or `[B]`;
    /// block_table int32 `[B, max_blocks]`; schedule_meta from
    /// [`Context::paged_mqa_logits_metadata`] (may be `None` on the CPU); logits
    /// `[B·next_n, max_context_len]` f32 or bf16.
    #[allow(clippy::too_many_arguments)]
    pub fn paged_mqa_logits(
        &self,
        q: &TensorView<'_>,
        kv_cache: &TensorView<'_>,
        weights: &TensorView<'_>,
        context_lens: &TensorView<'_>,
        block_table: &TensorView<'_>,
        schedule_meta: Option<&TensorView<'_>>,
        clean_logits: bool,
        logits: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (q, kc, w, lens, bt) = (q.dl(), kv_cache.dl(), weights.dl(), context_lens.dl(), block_table.dl());
        let meta = opt_dl(schedule_meta);
        let mut out = logits.dl();
        // SAFETY: as above.
        call(|| unsafe {
            sys::dlg_paged_mqa_logits(
                self.as_raw(),
                &q,
                &kc,
                &w,
                &lens,
                &bt,
                opt_ptr(&meta),
                clean_logits as i32,
                &mut out,
                stream.as_raw(),
            )
        })
    }

    /// Writes -inf outside each row's valid range (`dlg_clean_logits`): logits `[R, L]` f32 or
    /// bf16; ks int32 `[R]` or `None` (= 0); ke int32 `[R]`: row r valid on [ks\[r\], ke\[r\]).
    pub fn clean_logits(
        &self,
        ks: Option<&TensorView<'_>>,
        ke: &TensorView<'_>,
        logits: &mut TensorViewMut<'_>,
        stream: Stream,
    ) -> Result<()> {
        let (ks, ke) = (opt_dl(ks), ke.dl());
        let mut out = logits.dl();
        // SAFETY: as above.
        call(|| unsafe { sys::dlg_clean_logits(self.as_raw(), opt_ptr(&ks), &ke, &mut out, stream.as_raw()) })
    }
}
