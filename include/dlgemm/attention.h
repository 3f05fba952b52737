/* dlgemm — MQA logits for the sparse-attention indexer (DeepSeek V3.2 "lightning indexer").
 *
 *   logits[i, j] = Σ_h relu( (q[i, h, :] · kv[j, :]) · kv_scale[j] ) · weights[i, h]
 *
 * for j in the valid range of row i; outside it the value is -inf when `clean_logits` is set
 * and left untouched otherwise. q and kv are float8_e4m3fn, products accumulate in FP32.
 * Devices and streams as in gemm.h. Output row strides may exceed the column count (padding):
 * query dlg_mqa_logits_row_stride() for the stride the GPU kernels write best. */
#ifndef DLGEMM_ATTENTION_H_
#define DLGEMM_ATTENTION_H_

#include <stdint.h>
#include <dlpack/dlpack.h>
#include "dlgemm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Non-paged (prefill). q [S, H, D] e4m3; kv [S_kv, D] e4m3; kv_scale [S_kv] f32;
 * weights [S, H] f32; ks, ke int32 [S]: row i is valid on [ks[i], ke[i]) ∩ [0, S_kv);
 * logits [S, S_kv] f32 or bf16 (row stride >= S_kv). */
DLG_API dlg_status_t dlg_mqa_logits(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                                    const DLTensor* kv_scale, const DLTensor* weights,
                                    const DLTensor* ks, const DLTensor* ke, int clean_logits,
                                    DLTensor* logits, void* stream);

/* The same with a compressed output (DeepGEMM's max_seqlen_k): logits [S, W] f32 or bf16, any
 * W >= 1 (row stride >= W), where column c of row i holds key ks'[i] + c, ks'/ke' being ks/ke
 * clamped to [0, S_kv] as above; columns c < min(ke'[i] - ks'[i], W) are written, the rest
 * are -inf when clean_logits is set and left untouched otherwise. Keys beyond W columns are not
 * computed. CPU tensors and, on SM90, the same kernel as dlg_mqa_logits with each row's stores
 * shifted (docs/mqa_logits.md). */
DLG_API dlg_status_t dlg_mqa_logits_compressed(dlg_context_t* ctx, const DLTensor* q,
                                               const DLTensor* kv, const DLTensor* kv_scale,
                                               const DLTensor* weights, const DLTensor* ks,
                                               const DLTensor* ke, int clean_logits,
                                               DLTensor* logits, void* stream);

/* Recommended row stride (elements) for a logits buffer of `seq_len_kv` columns. */
DLG_API int64_t dlg_mqa_logits_row_stride(int64_t seq_len_kv);

/* Schedule metadata for the paged kernel: splits the B·next_n rows' KV blocks evenly over
 * `num_sms` SMs (0 = the context's SM count). context_lens int32 [B] or [B, next_n];
 * schedule_meta int32 [num_sms + 1, 2] (caller-allocated; shape from
 * dlg_paged_mqa_logits_metadata_rows()). Each entry (row, block) is where an SM starts. */
DLG_API dlg_status_t dlg_paged_mqa_logits_metadata(dlg_context_t* ctx,
                                                   const DLTensor* context_lens, int block_kv,
                                                   int num_sms, DLTensor* schedule_meta,
                                                   void* stream);
DLG_API int64_t dlg_paged_mqa_logits_metadata_rows(int num_sms);

/* Paged (decode). q [B, next_n, H, D] e4m3; kv_cache uint8 [num_blocks, block_kv, 1, D + 4]
 * (per block: block_kv·D FP8 bytes, then block_kv FP32 scales); weights [B·next_n, H] f32;
 * context_lens int32 [B, next_n] (row (b,t) valid on [0, len[b,t])) or [B] (DeepGEMM's
 * convention: row (b,t) valid on [0, len[b] - next_n + t + 1)); block_table int32
 * [B, max_blocks]; schedule_meta from dlg_paged_mqa_logits_metadata() (NULL on the CPU
 * path is allowed); logits [B·next_n, max_context_len] f32 or bf16. clean_logits is
 * honoured here too. */
DLG_API dlg_status_t dlg_paged_mqa_logits(dlg_context_t* ctx, const DLTensor* q,
                                          const DLTensor* kv_cache, const DLTensor* weights,
                                          const DLTensor* context_lens,
                                          const DLTensor* block_table,
                                          const DLTensor* schedule_meta, int clean_logits,
                                          DLTensor* logits, void* stream);

/* Writes -inf outside each row's valid range: logits [R, L] f32 or bf16; ks int32 [R] or
 * NULL (= 0); ke int32 [R]: row r valid on [ks[r], ke[r]). For paged logits pass the
 * per-row context lengths as ke. */
DLG_API dlg_status_t dlg_clean_logits(dlg_context_t* ctx, const DLTensor* ks,
                                      const DLTensor* ke, DLTensor* logits, void* stream);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_ATTENTION_H_ */
