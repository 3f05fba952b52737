/* CPU reference of the MQA-logits ops (attention.h). FP8 inputs are decoded bit-exactly, dot
 * products accumulate in FP32 in index order (d, then h), the result is rounded once to the
 * output dtype. Arguments are validated by core/ops/attention.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ref/numeric.h"
#include "ref/parallel.h"
#include "ref/ref.h"
#include "validate.h"

static int32_t load_i32(const DLTensor* t, int64_t off) {
  int32_t v;
  memcpy(&v, dlg_data(t) + off * 4, 4);
  return v;
}

static float load_f32(const DLTensor* t, int64_t off) {
  float v;
  memcpy(&v, dlg_data(t) + off * 4, 4);
  return v;
}

/* logits is f32 or bf16; (i, j) addressed through its strides. */
static void store_logit(DLTensor* logits, int64_t i, int64_t j, float v) {
  char* p = dlg_data(logits);
  int64_t off = i * dlg_stride(logits, 0) + j * dlg_stride(logits, 1);
  if (logits->dtype.code == kDLBfloat) {
    uint16_t b = dlg_f32_to_bf16(v);
    memcpy(p + off * 2, &b, 2);
  } else {
    memcpy(p + off * 4, &v, 4);
  }
}

static void fill_neg_inf(DLTensor* logits, int64_t i, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) store_logit(logits, i, j, -INFINITY);
}

static void e4m3_table(float lut[256]) {
  for (int v = 0; v < 256; ++v) lut[v] = dlg_e4m3_to_f32((uint8_t)v);
}

/* Decodes an e4m3 tensor [R, ..., D] of any strides into compact floats [numel]. */
static float* decode_e4m3(const DLTensor* t, const float lut[256]) {
  int64_t n = dlg_tensor_numel(t);
  float* out = malloc((size_t)(n ? n : 1) * sizeof(float));
  if (!out) return NULL;
  const uint8_t* p = (const uint8_t*)dlg_data(t);
  for (int64_t i = 0; i < n; ++i) out[i] = lut[p[dlg_ref_elem_offset(t, i)]];
  return out;
}

/* Σ_h relu(dot(q_h, k) · scale) · w_h with FP32 accumulation; k is D floats (kf) or, when
 * kf is NULL, D e4m3 bytes (kb) decoded through lut. */
static float head_sum(const float* qrow, int64_t h_count, int64_t d_count, const float* kf,
                      const uint8_t* kb, const float* lut, float scale, const float* w) {
  float acc = 0.0f;
  for (int64_t h = 0; h < h_count; ++h) {
    const float* qh = qrow + h * d_count;
    float dot = 0.0f;
    if (kf) {
      for (int64_t d = 0; d < d_count; ++d) dot += qh[d] * kf[d];
    } else {
      for (int64_t d = 0; d < d_count; ++d) dot += qh[d] * lut[kb[d]];
    }
    float v = dot * scale;
    acc += (v > 0.0f ? v : 0.0f) * w[h];
  }
  return acc;
}

/* ---- non-paged ---- */

typedef struct {
  const float *qf, *kvf, *wf, *scale;
  const DLTensor *ks, *ke;
  int64_t h, d, s_kv;
  int clean, compressed;
  DLTensor* logits;
} mqa_job_t;

static void mqa_rows(int64_t begin, int64_t end, void* arg) {
  const mqa_job_t* job = arg;
  for (int64_t i = begin; i < end; ++i) {
    int64_t lo = load_i32(job->ks, i * dlg_stride(job->ks, 0));
    int64_t hi = load_i32(job->ke, i * dlg_stride(job->ke, 0));
    if (lo < 0) lo = 0;
    if (lo > job->s_kv) lo = job->s_kv;
    if (hi > job->s_kv) hi = job->s_kv;
    if (hi < lo) hi = lo;
    /* Compressed: column c holds key lo + c; the row's keys past its width are not computed. */
    const int64_t shift = job->compressed ? lo : 0;
    const int64_t width = job->logits->shape[1];
    if (job->compressed && hi - lo > width) hi = lo + width;
    if (job->clean) fill_neg_inf(job->logits, i, 0, lo - shift);
    const float* qrow = job->qf + i * job->h * job->d;
    const float* w = job->wf + i * job->h;
    for (int64_t j = lo; j < hi; ++j)
      store_logit(job->logits, i, j - shift,
                  head_sum(qrow, job->h, job->d, job->kvf + j * job->d, NULL, NULL, job->scale[j], w));
    if (job->clean) fill_neg_inf(job->logits, i, hi - shift, width);
  }
}

/* Compact f32 copy of a validated f32 tensor. */
static float* gather_f32(const DLTensor* t) {
  int64_t n = dlg_tensor_numel(t);
  float* out = malloc((size_t)(n ? n : 1) * sizeof(float));
  if (!out) return NULL;
  for (int64_t i = 0; i < n; ++i) out[i] = load_f32(t, dlg_ref_elem_offset(t, i));
  return out;
}

dlg_status_t dlg_ref_mqa_logits(const DLTensor* q, const DLTensor* kv, const DLTensor* kv_scale,
                                const DLTensor* weights, const DLTensor* ks, const DLTensor* ke,
                                int clean_logits, int compressed, DLTensor* logits) {
  float lut[256];
  e4m3_table(lut);
  float* qf = decode_e4m3(q, lut);
  float* kvf = decode_e4m3(kv, lut);
  float* wf = gather_f32(weights);
  float* sc = gather_f32(kv_scale);
  dlg_status_t st = DLG_OK;
  if (!qf || !kvf || !wf || !sc) {
    st = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "mqa_logits: reference scratch allocation failed");
  } else {
    mqa_job_t job = {qf, kvf, wf, sc, ks, ke, q->shape[1], q->shape[2], kv->shape[0],
                     clean_logits, compressed, logits};
    dlg_parallel_for(q->shape[0], mqa_rows, &job);
  }
  free(qf);
  free(kvf);
  free(wf);
  free(sc);
  return st;
}

/* ---- paged ---- */

int64_t dlg_ref_paged_row_len(const DLTensor* context_lens, int64_t next_n, int64_t b,
                              int64_t t) {
  int64_t len;
  if (context_lens->ndim == 2) {
    len = load_i32(context_lens, b * dlg_stride(context_lens, 0) + t * dlg_stride(context_lens, 1));
  } else {
    len = load_i32(context_lens, b * dlg_stride(context_lens, 0)) - next_n + t + 1;
  }
  return len > 0 ? len : 0;
}

typedef struct {
  const float *qf, *wf, *lut;
  const DLTensor *kv_cache, *context_lens, *block_table;
  int64_t next_n, h, d, block_kv;
  int clean;
  DLTensor* logits;
} paged_job_t;

static void paged_rows(int64_t begin, int64_t end, void* arg) {
  const paged_job_t* job = arg;
  const DLTensor* kc = job->kv_cache;
  int64_t width = job->logits->shape[1];
  int64_t blk_stride = dlg_stride(kc, 0); /* uint8 elements = bytes */
  int64_t bt0 = dlg_stride(job->block_table, 0), bt1 = dlg_stride(job->block_table, 1);
  for (int64_t r = begin; r < end; ++r) {
    int64_t b = r / job->next_n, t = r % job->next_n;
    int64_t len = dlg_ref_paged_row_len(job->context_lens, job->next_n, b, t);
    const float* qrow = job->qf + r * job->h * job->d;
    const float* w = job->wf + r * job->h;
    for (int64_t j = 0; j < len; ++j) {
      int64_t phys = load_i32(job->block_table, b * bt0 + (j / job->block_kv) * bt1);
      int64_t row = j % job->block_kv;
      /* Fused block layout: block_kv rows of D FP8 bytes, then block_kv FP32 scales. */
      const uint8_t* base = (const uint8_t*)dlg_data(kc) + phys * blk_stride;
      const uint8_t* vals = base + row * job->d;
      float scale;
      memcpy(&scale, base + job->block_kv * job->d + 4 * row, 4);
      store_logit(job->logits, r, j,
                  head_sum(qrow, job->h, job->d, NULL, vals, job->lut, scale, w));
    }
    if (job->clean) fill_neg_inf(job->logits, r, len, width);
  }
}

dlg_status_t dlg_ref_paged_mqa_logits(const DLTensor* q, const DLTensor* kv_cache,
                                      const DLTensor* weights, const DLTensor* context_lens,
                                      const DLTensor* block_table, int clean_logits,
                                      DLTensor* logits) {
  float lut[256];
  e4m3_table(lut);
  int64_t d = q->shape[3];
  float* qf = decode_e4m3(q, lut);
  float* wf = gather_f32(weights);
  dlg_status_t st = DLG_OK;
  if (!qf || !wf) {
    st = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "paged_mqa_logits: reference scratch allocation failed");
  } else {
    paged_job_t job = {qf, wf, lut, kv_cache, context_lens, block_table, q->shape[1],
                       q->shape[2], d, kv_cache->shape[1], clean_logits, logits};
    dlg_parallel_for(q->shape[0] * q->shape[1], paged_rows, &job);
  }
  free(qf);
  free(wf);
  return st;
}

/* KV blocks batch b needs: its longest row over t. In the [B] convention the longest row
 * (t = next_n - 1) has length len[b] itself, whatever next_n is. */
static int64_t batch_blocks(const DLTensor* context_lens, int64_t b, int64_t block_kv) {
  int64_t longest = 0;
  if (context_lens->ndim == 2) {
    for (int64_t t = 0; t < context_lens->shape[1]; ++t) {
      int64_t len = dlg_ref_paged_row_len(context_lens, context_lens->shape[1], b, t);
      if (len > longest) longest = len;
    }
  } else {
    longest = dlg_ref_paged_row_len(context_lens, 1, b, 0);
  }
  return dlg_ceil_div64(longest, block_kv);
}

/* The split documented in core/ops/attention.c: SM s starts at global block
 * floor(s · total / num_sms) of the batches' blocks laid end to end. */
void dlg_ref_paged_mqa_logits_metadata(const DLTensor* context_lens, int64_t block_kv,
                                       int64_t num_sms, DLTensor* schedule_meta) {
  int64_t batch = context_lens->shape[0];
  int64_t total = 0;
  for (int64_t b = 0; b < batch; ++b) total += batch_blocks(context_lens, b, block_kv);
  int64_t m0 = dlg_stride(schedule_meta, 0), m1 = dlg_stride(schedule_meta, 1);
  char* out = dlg_data(schedule_meta);
  /* SM starts are non-decreasing in s, so one walk over the batches serves all SMs. */
  int64_t b = 0, before_b = 0, blocks_b = batch ? batch_blocks(context_lens, 0, block_kv) : 0;
  for (int64_t s = 0; s <= num_sms; ++s) {
    int64_t start = s < num_sms ? (int64_t)((__int128)s * total / num_sms) : total;
    while (b < batch && start >= before_b + blocks_b) { /* skips empty batches too */
      before_b += blocks_b;
      ++b;
      blocks_b = b < batch ? batch_blocks(context_lens, b, block_kv) : 0;
    }
    int32_t entry[2] = {(int32_t)batch, 0}; /* past the end: (B, 0) */
    if (b < batch) {
      entry[0] = (int32_t)b;
      entry[1] = (int32_t)(start - before_b);
    }
    memcpy(out + (s * m0) * 4, &entry[0], 4);
    memcpy(out + (s * m0 + m1) * 4, &entry[1], 4);
  }
}

void dlg_ref_clean_logits(const DLTensor* ks, const DLTensor* ke, DLTensor* logits) {
  int64_t rows = logits->shape[0], width = logits->shape[1];
  for (int64_t r = 0; r < rows; ++r) {
    int64_t lo = ks ? load_i32(ks, r * dlg_stride(ks, 0)) : 0;
    int64_t hi = load_i32(ke, r * dlg_stride(ke, 0));
    if (lo < 0) lo = 0;
    if (lo > width) lo = width;
    if (hi > width) hi = width;
    if (hi < lo) hi = lo;
    fill_neg_inf(logits, r, 0, lo);
    fill_neg_inf(logits, r, hi, width);
  }
}
