/* MQA logits (attention.h): argument validation, then the CPU reference or, for CUDA
 * tensors, the GPU kernels (core/launch/sm90_mqa_logits.c, sm90_paged_mqa_logits.c,
 * clean_logits.c). On the GPU the non-paged kernel writes only valid entries and clean_logits
 * is a second launch on the same stream (the paged kernel writes the -inf itself); values
 * (ks/ke, lengths, block table) cannot be checked there, so the kernels clamp ranges and
 * never read or write outside the tensors.
 *
 * Paged schedule (dlg_paged_mqa_logits_metadata). Deterministic, depends only on
 * context_lens, block_kv and num_sms:
 *   - batch b owns blocks(b) = ceil(L(b) / block_kv) KV blocks, L(b) = the longest valid row
 *     of b (context_lens [B, next_n]: max over t of len[b, t]; [B]: len[b], DeepGEMM's
 *     convention making row t = next_n - 1 the longest);
 *   - the batches' blocks are laid end to end (prefix sums P(b), total = P(B)) and SM s in
 *     [0, num_sms) starts at global block g(s) = floor(s · total / num_sms), i.e. at
 *     entry (b, g(s) - P(b)) for the b with P(b) <= g(s) < P(b + 1) (empty batches skipped);
 *   - an SM whose start is past the last block (only when total < num_sms leaves it nothing
 *     to start, or total == 0) and the sentinel entry num_sms are (B, 0).
 * So SM s works on [g(s), g(s + 1)): every SM gets floor or ceil of total / num_sms blocks,
 * and the sentinel tells the last SM where to stop. One entry is (batch, block within
 * batch); the kernel walks the batch's next_n rows itself. */
#include <limits.h>
#include <string.h>
#include "gpu.h"
#include "launch/launch.h"
#include "ref/ref.h"
#include "validate.h"

static dlg_status_t check_ctx(dlg_context_t* ctx) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  return DLG_OK;
}

/* Same device as `ref` (already checked) and, for CUDA, the context's device. */
static dlg_status_t check_device(dlg_context_t* ctx, const char* name, const DLTensor* t,
                                 const char* ref_name, const DLTensor* ref) {
  DLG_TRY(dlg_check_same_device(name, t, ref_name, ref));
  return dlg_check_context_device(ctx, name, t);
}


static dlg_status_t check_logits_out(const DLTensor* logits, const DLTensor* const* inputs,
                                     const char* const* names, int n) {
  DLG_TRY(dlg_check_distinct_elements("logits", logits));
  for (int i = 0; i < n; ++i)
    if (inputs[i]) DLG_TRY(dlg_check_no_overlap("logits", logits, names[i], inputs[i]));
  return DLG_OK;
}

/* ---- non-paged ---- */

/* Everything both non-paged entry points check; `compressed`: logits [S, W] with any W >= 1
 * instead of [S, S_kv]. */
static dlg_status_t check_mqa_args(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                                   const DLTensor* kv_scale, const DLTensor* weights,
                                   const DLTensor* ks, const DLTensor* ke, DLTensor* logits,
                                   int compressed) {
  DLG_TRY(check_ctx(ctx));
  const DLTensor* ins[] = {q, kv, kv_scale, weights, ks, ke};
  const char* names[] = {"q", "kv", "kv_scale", "weights", "ks", "ke"};
  for (int i = 0; i < 6; ++i) DLG_TRY(dlg_check_tensor(names[i], ins[i]));
  DLG_TRY(dlg_check_tensor("logits", logits));
  DLG_TRY(dlg_check_dtype("q", q, DLG_DT_E4M3));
  DLG_TRY(dlg_check_dtype("kv", kv, DLG_DT_E4M3));
  DLG_TRY(dlg_check_dtype("kv_scale", kv_scale, DLG_DT_F32));
  DLG_TRY(dlg_check_dtype("weights", weights, DLG_DT_F32));
  DLG_TRY(dlg_check_dtype("ks", ks, DLG_DT_I32));
  DLG_TRY(dlg_check_dtype("ke", ke, DLG_DT_I32));
  DLG_TRY(dlg_check_dtype2("logits", logits, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("q", q, 3));
  int64_t s = q->shape[0], h = q->shape[1], d = q->shape[2];
  DLG_TRY(dlg_check_ndim("kv", kv, 2));
  int64_t s_kv = kv->shape[0];
  DLG_TRY(dlg_check_dim("kv", kv, 1, d, "D, from q"));
  DLG_TRY(dlg_check_ndim("kv_scale", kv_scale, 1));
  DLG_TRY(dlg_check_dim("kv_scale", kv_scale, 0, s_kv, "S_kv, from kv"));
  DLG_TRY(dlg_check_ndim("weights", weights, 2));
  DLG_TRY(dlg_check_dim("weights", weights, 0, s, "S, from q"));
  DLG_TRY(dlg_check_dim("weights", weights, 1, h, "H, from q"));
  DLG_TRY(dlg_check_ndim("ks", ks, 1));
  DLG_TRY(dlg_check_dim("ks", ks, 0, s, "S, from q"));
  DLG_TRY(dlg_check_ndim("ke", ke, 1));
  DLG_TRY(dlg_check_dim("ke", ke, 0, s, "S, from q"));
  DLG_TRY(dlg_check_ndim("logits", logits, 2));
  DLG_TRY(dlg_check_dim("logits", logits, 0, s, "S, from q"));
  if (!compressed) DLG_TRY(dlg_check_dim("logits", logits, 1, s_kv, "S_kv, from kv"));
  else if (logits->shape[1] < 1)
    return dlg_fail(DLG_ERR_SHAPE, "logits: compressed width (shape[1]) must be >= 1");
  for (int i = 1; i < 6; ++i) DLG_TRY(check_device(ctx, names[i], ins[i], "q", q));
  DLG_TRY(check_device(ctx, "q", q, "q", q));
  DLG_TRY(check_device(ctx, "logits", logits, "q", q));
  return check_logits_out(logits, ins, names, 6);
}

dlg_status_t dlg_mqa_logits(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                            const DLTensor* kv_scale, const DLTensor* weights, const DLTensor* ks,
                            const DLTensor* ke, int clean_logits, DLTensor* logits,
                            void* stream) {
  DLG_TRY(check_mqa_args(ctx, q, kv, kv_scale, weights, ks, ke, logits, 0));
  if (!dlg_on_cpu(q)) {
    DLG_TRY(dlg_gpu_enter(ctx, q));
    DLG_TRY(dlg_launch_sm90_mqa_logits(ctx, q, kv, kv_scale, weights, ks, ke, 0, logits, stream));
    return clean_logits ? dlg_launch_clean_logits(ctx, ks, ke, logits, stream) : DLG_OK;
  }
  return dlg_ref_mqa_logits(q, kv, kv_scale, weights, ks, ke, clean_logits, 0, logits);
}

dlg_status_t dlg_mqa_logits_compressed(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                                       const DLTensor* kv_scale, const DLTensor* weights,
                                       const DLTensor* ks, const DLTensor* ke, int clean_logits,
                                       DLTensor* logits, void* stream) {
  DLG_TRY(check_mqa_args(ctx, q, kv, kv_scale, weights, ks, ke, logits, 1));
  if (!dlg_on_cpu(q)) {
    DLG_TRY(dlg_gpu_enter(ctx, q));
    DLG_TRY(dlg_launch_sm90_mqa_logits(ctx, q, kv, kv_scale, weights, ks, ke, 1, logits, stream));
    return clean_logits
               ? dlg_launch_clean_compressed_logits(ctx, ks, ke, kv->shape[0], logits, stream)
               : DLG_OK;
  }
  return dlg_ref_mqa_logits(q, kv, kv_scale, weights, ks, ke, clean_logits, 1, logits);
}

/* 256 columns: a row of f32 or bf16 logits then spans a multiple of 16 bytes (the TMA store
 * stride rule) and a whole number of the kernel's KV tiles (its block of 256 keys), so the
 * kernel never needs a bounds-checked tail store. */
int64_t dlg_mqa_logits_row_stride(int64_t seq_len_kv) {
  if (seq_len_kv < 0 || seq_len_kv > INT64_MAX - 255) return -1;
  return (seq_len_kv + 255) / 256 * 256;
}

/* ---- paged: shared checks ---- */

static int32_t load_i32_at(const DLTensor* t, int64_t off) {
  int32_t v;
  memcpy(&v, dlg_data(t) + off * 4, 4);
  return v;
}

/* context_lens int32 [B] or [B, next_n] (next_n < 0: not known, any). */
static dlg_status_t check_context_lens(const DLTensor* lens, int64_t batch, int64_t next_n) {
  DLG_TRY(dlg_check_dtype("context_lens", lens, DLG_DT_I32));
  if (lens->ndim != 1 && lens->ndim != 2)
    return dlg_fail(DLG_ERR_SHAPE, "context_lens: expected 1 ([B]) or 2 ([B, next_n]) dimensions, got %d",
                    lens->ndim);
  if (batch >= 0) DLG_TRY(dlg_check_dim("context_lens", lens, 0, batch, "B, from q"));
  if (lens->ndim == 2 && next_n >= 0)
    DLG_TRY(dlg_check_dim("context_lens", lens, 1, next_n, "next_n, from q"));
  return DLG_OK;
}

/* CPU values: every length >= 0. */
static dlg_status_t check_lens_values(const DLTensor* lens) {
  int64_t cols = lens->ndim == 2 ? lens->shape[1] : 1;
  for (int64_t b = 0; b < lens->shape[0]; ++b)
    for (int64_t t = 0; t < cols; ++t) {
      int64_t off = b * dlg_stride(lens, 0) + (lens->ndim == 2 ? t * dlg_stride(lens, 1) : 0);
      int32_t v = load_i32_at(lens, off);
      if (v < 0) {
        if (lens->ndim == 2)
          return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "context_lens: entry [%lld, %lld] is negative (%d)",
                          (long long)b, (long long)t, v);
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "context_lens: entry [%lld] is negative (%d)",
                        (long long)b, v);
      }
    }
  return DLG_OK;
}

/* ---- paged metadata ---- */

int64_t dlg_paged_mqa_logits_metadata_rows(int num_sms) {
  return num_sms < 0 ? -1 : (int64_t)num_sms + 1;
}

dlg_status_t dlg_paged_mqa_logits_metadata(dlg_context_t* ctx, const DLTensor* context_lens,
                                           int block_kv, int num_sms, DLTensor* schedule_meta,
                                           void* stream) {
  DLG_TRY(check_ctx(ctx));
  DLG_TRY(dlg_check_tensor("context_lens", context_lens));
  DLG_TRY(dlg_check_tensor("schedule_meta", schedule_meta));
  DLG_TRY(check_context_lens(context_lens, -1, -1));
  if (block_kv < 1)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "block_kv: expected >= 1, got %d", block_kv);
  if (num_sms < 0)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "num_sms: expected >= 0 (0 = the device's), got %d",
                    num_sms);
  DLG_TRY(dlg_check_dtype("schedule_meta", schedule_meta, DLG_DT_I32));
  DLG_TRY(dlg_check_ndim("schedule_meta", schedule_meta, 2));
  DLG_TRY(dlg_check_dim("schedule_meta", schedule_meta, 1, 2, "(row, block) pair"));
  DLG_TRY(check_device(ctx, "context_lens", context_lens, "context_lens", context_lens));
  DLG_TRY(check_device(ctx, "schedule_meta", schedule_meta, "context_lens", context_lens));
  DLG_TRY(dlg_check_distinct_elements("schedule_meta", schedule_meta));
  DLG_TRY(dlg_check_no_overlap("schedule_meta", schedule_meta, "context_lens", context_lens));
  if (num_sms == 0) {
    if (ctx->device < 0)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "num_sms: 0 means the device's SM count, which a CPU context does not "
                      "have; pass an explicit count");
    DLG_TRY(dlg_gpu_num_sms(ctx, &num_sms));
  }
  DLG_TRY(dlg_check_dim("schedule_meta", schedule_meta, 0, dlg_paged_mqa_logits_metadata_rows(num_sms),
                    "num_sms + 1"));
  if (!dlg_on_cpu(context_lens)) {
    DLG_TRY(dlg_gpu_enter(ctx, context_lens));
    return dlg_launch_paged_mqa_metadata(ctx, context_lens, block_kv, num_sms, schedule_meta,
                                         stream);
  }
  DLG_TRY(check_lens_values(context_lens));
  dlg_ref_paged_mqa_logits_metadata(context_lens, block_kv, num_sms, schedule_meta);
  return DLG_OK;
}

/* ---- paged logits ---- */

/* kv_cache uint8 [num_blocks, block_kv, 1, D + 4]: each block is block_kv·(D + 4) contiguous
 * bytes (rows of D FP8 values, then block_kv FP32 scales), blocks stride(0) bytes apart. */
static dlg_status_t check_kv_cache(const DLTensor* kc, int64_t d) {
  DLG_TRY(dlg_check_dtype("kv_cache", kc, DLG_DT_U8));
  DLG_TRY(dlg_check_ndim("kv_cache", kc, 4));
  DLG_TRY(dlg_check_dim("kv_cache", kc, 2, 1, "heads of KV, always 1"));
  DLG_TRY(dlg_check_dim("kv_cache", kc, 3, d + 4, "D + 4, from q"));
  int64_t block_kv = kc->shape[1];
  if (block_kv < 1)
    return dlg_fail(DLG_ERR_SHAPE, "kv_cache: dim 1 (block_kv) must be >= 1, got %lld",
                    (long long)block_kv);
  int64_t bytes = block_kv * (d + 4);
  if (dlg_stride(kc, 3) != 1 || (block_kv > 1 && dlg_stride(kc, 1) != d + 4))
    return dlg_fail(DLG_ERR_LAYOUT,
                    "kv_cache: each block must be contiguous (strides [*, %lld, *, 1]), got "
                    "strides [%lld, %lld, %lld, %lld]",
                    (long long)(d + 4), (long long)dlg_stride(kc, 0), (long long)dlg_stride(kc, 1),
                    (long long)dlg_stride(kc, 2), (long long)dlg_stride(kc, 3));
  if (kc->shape[0] > 1 && dlg_stride(kc, 0) < bytes)
    return dlg_fail(DLG_ERR_LAYOUT, "kv_cache: block stride %lld is smaller than a block (%lld bytes)",
                    (long long)dlg_stride(kc, 0), (long long)bytes);
  return DLG_OK;
}

/* CPU values: row lengths fit the logits and the block table; used table entries are
 * physical blocks. Nothing is written before this passes. */
static dlg_status_t check_paged_values(const DLTensor* lens, const DLTensor* table,
                                       int64_t next_n, int64_t num_blocks, int64_t block_kv,
                                       int64_t width) {
  DLG_TRY(check_lens_values(lens));
  int64_t max_blocks = table->shape[1];
  int64_t cols = lens->ndim == 2 ? next_n : 1;
  for (int64_t b = 0; b < lens->shape[0]; ++b) {
    int64_t longest = 0;
    for (int64_t t = 0; t < cols; ++t) {
      int64_t len = lens->ndim == 2 ? dlg_ref_paged_row_len(lens, next_n, b, t)
                                    : dlg_ref_paged_row_len(lens, 1, b, 0);
      if (len > longest) longest = len;
    }
    if (longest > width)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "context_lens: batch %lld has %lld tokens, more than logits' %lld columns "
                      "(max_context_len)",
                      (long long)b, (long long)longest, (long long)width);
    if (dlg_ceil_div64(longest, block_kv) > max_blocks)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "context_lens: batch %lld has %lld tokens, more than block_table's %lld "
                      "blocks of %lld hold",
                      (long long)b, (long long)longest, (long long)max_blocks, (long long)block_kv);
    int64_t used = dlg_ceil_div64(longest, block_kv);
    for (int64_t k = 0; k < used; ++k) {
      int32_t phys = load_i32_at(table, b * dlg_stride(table, 0) + k * dlg_stride(table, 1));
      if (phys < 0 || phys >= num_blocks)
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                        "block_table: entry [%lld, %lld] = %d is not a block of kv_cache "
                        "(0..%lld)",
                        (long long)b, (long long)k, phys, (long long)num_blocks - 1);
    }
  }
  return DLG_OK;
}

dlg_status_t dlg_paged_mqa_logits(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv_cache,
                                  const DLTensor* weights, const DLTensor* context_lens,
                                  const DLTensor* block_table, const DLTensor* schedule_meta,
                                  int clean_logits, DLTensor* logits, void* stream) {
  DLG_TRY(check_ctx(ctx));
  const DLTensor* ins[] = {q, kv_cache, weights, context_lens, block_table, schedule_meta};
  const char* names[] = {"q", "kv_cache", "weights", "context_lens", "block_table",
                         "schedule_meta"};
  for (int i = 0; i < 5; ++i) DLG_TRY(dlg_check_tensor(names[i], ins[i]));
  if (schedule_meta) DLG_TRY(dlg_check_tensor("schedule_meta", schedule_meta));
  DLG_TRY(dlg_check_tensor("logits", logits));
  DLG_TRY(dlg_check_dtype("q", q, DLG_DT_E4M3));
  DLG_TRY(dlg_check_ndim("q", q, 4));
  int64_t batch = q->shape[0], next_n = q->shape[1], h = q->shape[2], d = q->shape[3];
  DLG_TRY(check_kv_cache(kv_cache, d));
  int64_t num_blocks = kv_cache->shape[0], block_kv = kv_cache->shape[1];
  DLG_TRY(dlg_check_dtype("weights", weights, DLG_DT_F32));
  DLG_TRY(dlg_check_ndim("weights", weights, 2));
  DLG_TRY(dlg_check_dim("weights", weights, 0, batch * next_n, "B * next_n, from q"));
  DLG_TRY(dlg_check_dim("weights", weights, 1, h, "H, from q"));
  DLG_TRY(check_context_lens(context_lens, batch, next_n));
  DLG_TRY(dlg_check_dtype("block_table", block_table, DLG_DT_I32));
  DLG_TRY(dlg_check_ndim("block_table", block_table, 2));
  DLG_TRY(dlg_check_dim("block_table", block_table, 0, batch, "B, from q"));
  if (schedule_meta) {
    DLG_TRY(dlg_check_dtype("schedule_meta", schedule_meta, DLG_DT_I32));
    DLG_TRY(dlg_check_ndim("schedule_meta", schedule_meta, 2));
    DLG_TRY(dlg_check_dim("schedule_meta", schedule_meta, 1, 2, "(row, block) pair"));
    if (schedule_meta->shape[0] < 1)
      return dlg_fail(DLG_ERR_SHAPE, "schedule_meta: needs num_sms + 1 >= 1 rows, got 0");
  }
  DLG_TRY(dlg_check_dtype2("logits", logits, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("logits", logits, 2));
  DLG_TRY(dlg_check_dim("logits", logits, 0, batch * next_n, "B * next_n, from q"));
  for (int i = 0; i < 6; ++i)
    if (ins[i]) DLG_TRY(check_device(ctx, names[i], ins[i], "q", q));
  DLG_TRY(check_device(ctx, "logits", logits, "q", q));
  DLG_TRY(check_logits_out(logits, ins, names, 6));
  if (!dlg_on_cpu(q)) {
    if (!schedule_meta)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "schedule_meta: required on the GPU (from dlg_paged_mqa_logits_metadata)");
    DLG_TRY(dlg_gpu_enter(ctx, q));
    /* The launcher cleans too (in the kernel, or with portable_clean_logits). */
    return dlg_launch_sm90_paged_mqa_logits(ctx, q, kv_cache, weights, context_lens, block_table,
                                            schedule_meta, clean_logits, logits, stream);
  }
  DLG_TRY(check_paged_values(context_lens, block_table, next_n, num_blocks, block_kv,
                         logits->shape[1]));
  return dlg_ref_paged_mqa_logits(q, kv_cache, weights, context_lens, block_table, clean_logits,
                                  logits);
}

/* ---- clean ---- */

dlg_status_t dlg_clean_logits(dlg_context_t* ctx, const DLTensor* ks, const DLTensor* ke,
                              DLTensor* logits, void* stream) {
  DLG_TRY(check_ctx(ctx));
  if (ks) DLG_TRY(dlg_check_tensor("ks", ks));
  DLG_TRY(dlg_check_tensor("ke", ke));
  DLG_TRY(dlg_check_tensor("logits", logits));
  DLG_TRY(dlg_check_dtype2("logits", logits, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("logits", logits, 2));
  int64_t rows = logits->shape[0];
  DLG_TRY(dlg_check_dtype("ke", ke, DLG_DT_I32));
  DLG_TRY(dlg_check_ndim("ke", ke, 1));
  DLG_TRY(dlg_check_dim("ke", ke, 0, rows, "R, from logits"));
  if (ks) {
    DLG_TRY(dlg_check_dtype("ks", ks, DLG_DT_I32));
    DLG_TRY(dlg_check_ndim("ks", ks, 1));
    DLG_TRY(dlg_check_dim("ks", ks, 0, rows, "R, from logits"));
    DLG_TRY(check_device(ctx, "ks", ks, "logits", logits));
  }
  DLG_TRY(check_device(ctx, "ke", ke, "logits", logits));
  DLG_TRY(check_device(ctx, "logits", logits, "logits", logits));
  const DLTensor* ins[] = {ks, ke};
  const char* names[] = {"ks", "ke"};
  DLG_TRY(check_logits_out(logits, ins, names, 2));
  if (!dlg_on_cpu(logits)) {
    DLG_TRY(dlg_gpu_enter(ctx, logits));
    return dlg_launch_clean_logits(ctx, ks, ke, logits, stream);
  }
  dlg_ref_clean_logits(ks, ke, logits);
  return DLG_OK;
}
