/* MQA logits: the ops against naive double-precision references written here (FP8 decoded
 * by the harness's own decoder), ks/ke and context-length edge cases, clean on/off, bf16
 * output, padded rows, the paged schedule, and bad inputs that must leave outputs alone. */
#include "dlg_test.h"

#define F32 kDLFloat, 32
#define BF16 kDLBfloat, 16
#define E4M3 kDLFloat8_e4m3fn, 8
#define I32 kDLInt, 32
#define U8 kDLUInt, 8

static dlg_context_t* g_ctx;     /* CPU */
static dlg_context_t* g_gpu_ctx; /* cuda:0 */
/* A fully valid call on CUDA views of host memory reaches the GPU path: without a driver it
 * must stop there (NO_DRIVER); with one it would launch on host pointers, so it is skipped
 * (core/launch/mqa_determinism_test.c covers real device tensors). */
static int g_have_gpu;
#define CHECK_GPU_PATH(expr)                          \
  do {                                                \
    if (!g_have_gpu) CHECK_STATUS(expr, DLG_ERR_NO_DRIVER); \
  } while (0)

static int elem_poisoned(const test_tensor_t* t, int64_t idx) {
  int64_t es = t->t.dtype.bits / 8;
  const unsigned char* p = (const unsigned char*)t->mem + idx * es;
  for (int64_t b = 0; b < es; ++b)
    if (p[b] != 0xA5) return 0;
  return 1;
}

/* Strided views leave the last row's padding outside the allocation. */
static int in_storage(const test_tensor_t* t, int64_t idx) {
  return (size_t)(idx * (t->t.dtype.bits / 8)) < t->bytes;
}

static double i32_at(const test_tensor_t* t, int64_t idx) { return ((const int32_t*)t->mem)[idx]; }

/* A CUDA-typed view of host storage: validation never dereferences CUDA data. */
static DLTensor cuda_view(const test_tensor_t* t) {
  DLTensor v = t->t;
  v.device.device_type = kDLCUDA;
  v.device.device_id = 0;
  return v;
}

/* |got - want| within FP32-accumulation error of a sum whose terms total `mag` in magnitude,
 * plus the output's rounding. */
static int close_enough(double got, double want, double mag, int bf16) {
  double tol = 1e-5 * mag + 1e-6 + (bf16 ? fabs(want) * 0x1p-8 : fabs(want) * 0x1p-22);
  return fabs(got - want) <= tol;
}

/* ---- non-paged ---- */

/* Row i's [ks, ke) drawn from edge cases: full, ks < 0, ke > S_kv, empty, ks > ke, past the
 * end, all negative, a sub-range. */
static void pick_range(int64_t i, int64_t s_kv, int32_t* ks, int32_t* ke) {
  switch (i % 8) {
    case 0: *ks = 0; *ke = (int32_t)s_kv; break;
    case 1: *ks = -5; *ke = (int32_t)(s_kv / 2 + 1); break;
    case 2: *ks = (int32_t)(s_kv / 3); *ke = (int32_t)(s_kv + 10); break;
    case 3: *ks = *ke = (int32_t)(s_kv / 2); break;
    case 4: *ks = (int32_t)(s_kv / 2 + 1); *ke = 1; break;
    case 5: *ks = (int32_t)(s_kv + 3); *ke = (int32_t)(s_kv + 7); break;
    case 6: *ks = -10; *ke = -1; break;
    default:
      *ks = (int32_t)(i % s_kv);
      *ke = (int32_t)(*ks + 1 + (i * 7) % s_kv);
  }
}

typedef struct {
  test_tensor_t *q, *kv, *scale, *w, *ks, *ke, *logits;
  int64_t s, h, d, s_kv;
} mqa_case_t;

static mqa_case_t mqa_make(int64_t s, int64_t h, int64_t d, int64_t s_kv, int64_t row_stride,
                           int bf16, uint64_t seed) {
  mqa_case_t c = {0};
  c.s = s, c.h = h, c.d = d, c.s_kv = s_kv;
  c.q = tt_new(E4M3, 3, s, h, d);
  c.kv = tt_new(E4M3, 2, s_kv, d);
  c.scale = tt_new(F32, 1, s_kv);
  c.w = tt_new(F32, 2, s, h);
  c.ks = tt_new(I32, 1, s);
  c.ke = tt_new(I32, 1, s);
  int64_t shape[2] = {s, s_kv}, strides[2] = {row_stride, 1};
  c.logits = tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, shape, strides);
  tt_fill(c.q, seed, -2, 2);
  tt_fill(c.kv, seed + 1, -2, 2);
  tt_fill(c.scale, seed + 2, 0.1, 1.0);
  tt_fill(c.w, seed + 3, -1, 1);
  for (int64_t i = 0; i < s; ++i) {
    int32_t a, b;
    pick_range(i, s_kv, &a, &b);
    tt_set(c.ks, i, a);
    tt_set(c.ke, i, b);
  }
  return c;
}

static void mqa_free(mqa_case_t* c) {
  tt_free(c->q), tt_free(c->kv), tt_free(c->scale), tt_free(c->w);
  tt_free(c->ks), tt_free(c->ke), tt_free(c->logits);
}

static dlg_status_t mqa_call(dlg_context_t* ctx, mqa_case_t* c, int clean) {
  return dlg_mqa_logits(ctx, &c->q->t, &c->kv->t, &c->scale->t, &c->w->t, &c->ks->t, &c->ke->t,
                        clean, &c->logits->t, NULL);
}

static void test_mqa(int64_t s, int64_t h, int64_t d, int64_t s_kv, int padded, int bf16,
                     int clean, uint64_t seed) {
  int64_t stride = padded ? dlg_mqa_logits_row_stride(s_kv) : s_kv;
  mqa_case_t c = mqa_make(s, h, d, s_kv, stride, bf16, seed);
  tt_poison(c.logits);
  CHECK_OK(mqa_call(g_ctx, &c, clean));
  int64_t bad = 0;
  for (int64_t i = 0; i < s; ++i) {
    int64_t lo = (int64_t)i32_at(c.ks, i), hi = (int64_t)i32_at(c.ke, i);
    if (lo < 0) lo = 0;
    if (hi > s_kv) hi = s_kv;
    for (int64_t j = 0; j < stride; ++j) {
      int64_t idx = i * stride + j;
      int ok;
      if (!in_storage(c.logits, idx)) continue;
      if (j >= s_kv) {
        ok = elem_poisoned(c.logits, idx); /* padding is never written */
      } else if (j >= lo && j < hi) {
        double want = 0, mag = 0;
        for (int64_t hh = 0; hh < h; ++hh) {
          double dot = 0, dmag = 0;
          for (int64_t dd = 0; dd < d; ++dd) {
            double a = test_e4m3_to_double(((uint8_t*)c.q->mem)[(i * h + hh) * d + dd]);
            double b = test_e4m3_to_double(((uint8_t*)c.kv->mem)[j * d + dd]);
            dot += a * b;
            dmag += fabs(a * b);
          }
          double sc = tt_get(c.scale, j), w = tt_get(c.w, i * h + hh);
          double v = dot * sc;
          want += (v > 0 ? v : 0) * w;
          mag += dmag * sc * fabs(w);
        }
        ok = close_enough(tt_get(c.logits, idx), want, mag, bf16);
        if (!ok && bad == 0)
          fprintf(stderr, "mqa [%lld, %lld]: got %.9g want %.9g\n", (long long)i, (long long)j,
                  tt_get(c.logits, idx), want);
      } else if (clean) {
        ok = tt_get(c.logits, idx) == -INFINITY;
      } else {
        ok = elem_poisoned(c.logits, idx);
      }
      bad += !ok;
    }
  }
  if (bad)
    fprintf(stderr, "mqa S=%lld H=%lld D=%lld S_kv=%lld padded=%d bf16=%d clean=%d: %lld bad\n",
            (long long)s, (long long)h, (long long)d, (long long)s_kv, padded, bf16, clean,
            (long long)bad);
  CHECK(bad == 0);
  mqa_free(&c);
}

/* dlg_mqa_logits_compressed against dlg_mqa_logits (checked against naive math above): column
 * c of row i is the full output's key lo + c, for c < min(hi - lo, W); the rest -inf (clean) or
 * untouched. W below, at and above the windows' widths. */
static void test_mqa_compressed(int64_t width, int bf16, int clean, uint64_t seed) {
  const int64_t s = 16, h = 4, d = 32, s_kv = 90;
  mqa_case_t c = mqa_make(s, h, d, s_kv, s_kv, bf16, seed);
  CHECK_OK(mqa_call(g_ctx, &c, 1));
  int64_t shape[2] = {s, width}, strides[2] = {width + 3, 1}; /* padded rows stay untouched */
  test_tensor_t* out = tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, shape,
                                      strides);
  tt_poison(out);
  CHECK_OK(dlg_mqa_logits_compressed(g_ctx, &c.q->t, &c.kv->t, &c.scale->t, &c.w->t, &c.ks->t,
                                     &c.ke->t, clean, &out->t, NULL));
  int64_t bad = 0;
  for (int64_t i = 0; i < s; ++i) {
    int64_t lo = (int64_t)i32_at(c.ks, i), hi = (int64_t)i32_at(c.ke, i);
    if (lo < 0) lo = 0;
    if (lo > s_kv) lo = s_kv;
    if (hi > s_kv) hi = s_kv;
    if (hi < lo) hi = lo;
    const int64_t n = hi - lo < width ? hi - lo : width;
    for (int64_t col = 0; col < width + 3; ++col) {
      const int64_t idx = i * (width + 3) + col;
      if (!in_storage(out, idx)) continue;
      int ok;
      if (col >= width) ok = elem_poisoned(out, idx);
      else if (col < n) ok = tt_get(out, idx) == tt_get(c.logits, i * s_kv + lo + col);
      else if (clean) ok = tt_get(out, idx) == -INFINITY;
      else ok = elem_poisoned(out, idx);
      bad += !ok;
    }
  }
  if (bad)
    fprintf(stderr, "mqa compressed W=%lld bf16=%d clean=%d: %lld bad\n", (long long)width, bf16,
            clean, (long long)bad);
  CHECK(bad == 0);
  /* A width of 0 and a row count other than S are refused, nothing written. */
  int64_t bad_shape[2] = {s, 0}, bad_rows[2] = {s + 1, width};
  DLTensor zero = out->t, rows = out->t;
  zero.shape = bad_shape;
  rows.shape = bad_rows;
  CHECK_STATUS(dlg_mqa_logits_compressed(g_ctx, &c.q->t, &c.kv->t, &c.scale->t, &c.w->t,
                                         &c.ks->t, &c.ke->t, clean, &zero, NULL),
               DLG_ERR_SHAPE);
  CHECK_STATUS(dlg_mqa_logits_compressed(g_ctx, &c.q->t, &c.kv->t, &c.scale->t, &c.w->t,
                                         &c.ks->t, &c.ke->t, clean, &rows, NULL),
               DLG_ERR_SHAPE);
  tt_free(out);
  mqa_free(&c);
}

static void test_mqa_bad_inputs(void) {
  mqa_case_t c = mqa_make(4, 2, 16, 20, 20, 0, 77);
  tt_poison(c.logits);
  CHECK_STATUS(mqa_call(NULL, &c, 1), DLG_ERR_INVALID_ARGUMENT);
  /* q dtype */
  c.q->t.dtype.code = kDLBfloat;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_DTYPE);
  c.q->t.dtype.code = kDLFloat8_e4m3fn;
  /* kv's D disagrees with q's */
  c.kv->shape[1] = 8;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_SHAPE);
  c.kv->shape[1] = 16;
  /* weights [S, H + 1] */
  c.w->shape[1] = 3;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_SHAPE);
  c.w->shape[1] = 2;
  /* ke int64-ish dtype */
  c.ke->t.dtype.bits = 64;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_DTYPE);
  c.ke->t.dtype.bits = 32;
  /* logits int32 */
  c.logits->t.dtype.code = kDLInt;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_DTYPE);
  c.logits->t.dtype.code = kDLFloat;
  /* logits columns != S_kv */
  c.logits->shape[1] = 19;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_SHAPE);
  c.logits->shape[1] = 20;
  /* rows of logits share memory */
  c.logits->strides[0] = 0;
  CHECK_STATUS(mqa_call(g_ctx, &c, 1), DLG_ERR_LAYOUT);
  c.logits->strides[0] = 20;
  /* logits overlapping an input */
  DLTensor alias = c.logits->t;
  alias.data = c.w->mem;
  CHECK_STATUS(dlg_mqa_logits(g_ctx, &c.q->t, &c.kv->t, &c.scale->t, &c.w->t, &c.ks->t,
                              &c.ke->t, 1, &alias, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  /* a CUDA input among CPU tensors; CUDA everywhere on a CPU context */
  DLTensor kv_cuda = cuda_view(c.kv);
  CHECK_STATUS(dlg_mqa_logits(g_ctx, &c.q->t, &kv_cuda, &c.scale->t, &c.w->t, &c.ks->t,
                              &c.ke->t, 1, &c.logits->t, NULL),
               DLG_ERR_DEVICE);
  DLTensor q = cuda_view(c.q), kv = cuda_view(c.kv), sc = cuda_view(c.scale), w = cuda_view(c.w),
           ks = cuda_view(c.ks), ke = cuda_view(c.ke), lg = cuda_view(c.logits);
  CHECK_STATUS(dlg_mqa_logits(g_ctx, &q, &kv, &sc, &w, &ks, &ke, 1, &lg, NULL), DLG_ERR_DEVICE);
  /* fully valid CUDA call: reaches the GPU path */
  CHECK_GPU_PATH(dlg_mqa_logits(g_gpu_ctx, &q, &kv, &sc, &w, &ks, &ke, 1, &lg, NULL));
  /* NULL tensor */
  CHECK_STATUS(dlg_mqa_logits(g_ctx, &c.q->t, &c.kv->t, NULL, &c.w->t, &c.ks->t, &c.ke->t, 1,
                              &c.logits->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK(tt_untouched(c.logits));
  mqa_free(&c);
}

static void test_row_stride(void) {
  CHECK(dlg_mqa_logits_row_stride(0) == 0);
  CHECK(dlg_mqa_logits_row_stride(1) == 256);
  CHECK(dlg_mqa_logits_row_stride(256) == 256);
  CHECK(dlg_mqa_logits_row_stride(257) == 512);
  CHECK(dlg_mqa_logits_row_stride(-1) == -1);
  CHECK(dlg_mqa_logits_row_stride(INT64_MAX) == -1);
}

/* ---- paged ---- */

typedef struct {
  test_tensor_t *q, *kv, *w, *lens, *table, *logits;
  int64_t b, next_n, h, d, bk, num_blocks, max_blocks, width, blk_stride;
} paged_case_t;

/* Length of row (b, t) the way the header defines it. */
static int64_t naive_row_len(const paged_case_t* c, int64_t b, int64_t t) {
  if (c->lens->t.ndim == 2) return (int64_t)i32_at(c->lens, b * c->next_n + t);
  int64_t len = (int64_t)i32_at(c->lens, b) - c->next_n + t + 1;
  return len > 0 ? len : 0;
}

static paged_case_t paged_make(int64_t b, int64_t next_n, int64_t h, int64_t d, int64_t bk,
                               int lens2d, int bf16, int pad_blocks, uint64_t seed) {
  paged_case_t c = {0};
  c.b = b, c.next_n = next_n, c.h = h, c.d = d, c.bk = bk;
  c.lens = lens2d ? tt_new(I32, 2, b, next_n) : tt_new(I32, 1, b);
  int64_t longest = 0;
  for (int64_t i = 0; i < b; ++i) {
    /* batch 0 empty-ish, batch 1 short, others a few blocks, never a multiple of bk */
    int64_t base = i == 0 ? 0 : i == 1 ? 1 : (i * 37) % (3 * bk) + bk + 3;
    if (lens2d) {
      for (int64_t t = 0; t < next_n; ++t) {
        int64_t len = t == 0 ? base : base + 2 * t + 1;
        tt_set(c.lens, i * next_n + t, (double)len);
        if (len > longest) longest = len;
      }
    } else {
      tt_set(c.lens, i, (double)base);
      if (base > longest) longest = base;
    }
  }
  c.width = longest + 5;
  c.max_blocks = (c.width + bk - 1) / bk + 1;
  c.num_blocks = b * c.max_blocks + 3;
  c.blk_stride = bk * (d + 4) + (pad_blocks ? 48 : 0);
  c.q = tt_new(E4M3, 4, b, next_n, h, d);
  tt_fill(c.q, seed, -2, 2);
  c.w = tt_new(F32, 2, b * next_n, h);
  tt_fill(c.w, seed + 1, -1, 1);
  int64_t kshape[4] = {c.num_blocks, bk, 1, d + 4}, kstr[4] = {c.blk_stride, d + 4, d + 4, 1};
  c.kv = tt_new_strided(U8, 4, kshape, kstr);
  test_tensor_t* vals = tt_new(E4M3, 1, c.num_blocks * bk * d);
  test_tensor_t* scales = tt_new(F32, 1, c.num_blocks * bk);
  tt_fill(vals, seed + 2, -2, 2);
  tt_fill(scales, seed + 3, 0.1, 1.0);
  for (int64_t blk = 0; blk < c.num_blocks; ++blk) {
    unsigned char* base = (unsigned char*)c.kv->mem + blk * c.blk_stride;
    memcpy(base, (unsigned char*)vals->mem + blk * bk * d, (size_t)(bk * d));
    memcpy(base + bk * d, (float*)scales->mem + blk * bk, (size_t)(bk * 4));
  }
  tt_free(vals);
  tt_free(scales);
  c.table = tt_new(I32, 2, b, c.max_blocks);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t k = 0; k < c.max_blocks; ++k) {
      /* scattered physical blocks; entries past a batch's last used block are garbage the op
       * must not look at */
      int64_t phys = (i * c.max_blocks + k) * 5 % c.num_blocks;
      int64_t used = 0;
      for (int64_t t = 0; t < next_n; ++t) {
        int64_t n = naive_row_len(&c, i, t);
        if (n > used) used = n;
      }
      tt_set(c.table, i * c.max_blocks + k, k < (used + bk - 1) / bk ? (double)phys : 999999.0);
    }
  int64_t lshape[2] = {b * next_n, c.width}, lstr[2] = {dlg_mqa_logits_row_stride(c.width), 1};
  c.logits = tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, lshape, lstr);
  return c;
}

static void paged_free(paged_case_t* c) {
  tt_free(c->q), tt_free(c->kv), tt_free(c->w), tt_free(c->lens), tt_free(c->table);
  tt_free(c->logits);
}

static dlg_status_t paged_call(dlg_context_t* ctx, paged_case_t* c, const DLTensor* meta,
                               int clean) {
  return dlg_paged_mqa_logits(ctx, &c->q->t, &c->kv->t, &c->w->t, &c->lens->t, &c->table->t,
                              meta, clean, &c->logits->t, NULL);
}

static double naive_paged(const paged_case_t* c, int64_t b, int64_t t, int64_t j, double* mag) {
  int64_t phys = (int64_t)i32_at(c->table, b * c->max_blocks + j / c->bk), row = j % c->bk;
  const unsigned char* base = (const unsigned char*)c->kv->mem + phys * c->blk_stride;
  float scale;
  memcpy(&scale, base + c->bk * c->d + 4 * row, 4);
  int64_t r = b * c->next_n + t;
  double want = 0;
  *mag = 0;
  for (int64_t h = 0; h < c->h; ++h) {
    double dot = 0, dmag = 0;
    for (int64_t d = 0; d < c->d; ++d) {
      double a = test_e4m3_to_double(((const uint8_t*)c->q->mem)[(r * c->h + h) * c->d + d]);
      double k = test_e4m3_to_double(base[row * c->d + d]);
      dot += a * k;
      dmag += fabs(a * k);
    }
    double w = tt_get(c->w, r * c->h + h), v = dot * scale;
    want += (v > 0 ? v : 0) * w;
    *mag += dmag * scale * fabs(w);
  }
  return want;
}

static void test_paged(int64_t b, int64_t next_n, int64_t bk, int lens2d, int bf16, int clean,
                       int pad_blocks, int with_meta, uint64_t seed) {
  paged_case_t c = paged_make(b, next_n, 4, 32, bk, lens2d, bf16, pad_blocks, seed);
  test_tensor_t* meta = tt_new(I32, 2, (int64_t)5, (int64_t)2);
  if (with_meta)
    CHECK_OK(dlg_paged_mqa_logits_metadata(g_ctx, &c.lens->t, (int)bk, 4, &meta->t, NULL));
  tt_poison(c.logits);
  CHECK_OK(paged_call(g_ctx, &c, with_meta ? &meta->t : NULL, clean));
  int64_t stride = c.logits->strides[0], bad = 0;
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < next_n; ++t) {
      int64_t r = i * next_n + t, len = naive_row_len(&c, i, t);
      for (int64_t j = 0; j < stride; ++j) {
        int64_t idx = r * stride + j;
        int ok;
        if (!in_storage(c.logits, idx)) continue;
        if (j >= c.width) {
          ok = elem_poisoned(c.logits, idx);
        } else if (j < len) {
          double mag, want = naive_paged(&c, i, t, j, &mag);
          ok = close_enough(tt_get(c.logits, idx), want, mag, bf16);
          if (!ok && bad == 0)
            fprintf(stderr, "paged [%lld, %lld]: got %.9g want %.9g\n", (long long)r,
                    (long long)j, tt_get(c.logits, idx), want);
        } else if (clean) {
          ok = tt_get(c.logits, idx) == -INFINITY;
        } else {
          ok = elem_poisoned(c.logits, idx);
        }
        bad += !ok;
      }
    }
  if (bad)
    fprintf(stderr, "paged B=%lld next_n=%lld bk=%lld lens2d=%d bf16=%d clean=%d: %lld bad\n",
            (long long)b, (long long)next_n, (long long)bk, lens2d, bf16, clean, (long long)bad);
  CHECK(bad == 0);
  tt_free(meta);
  paged_free(&c);
}

static void test_paged_bad_inputs(void) {
  paged_case_t c = paged_make(3, 2, 2, 16, 8, 1, 0, 0, 91);
  tt_poison(c.logits);
  CHECK_STATUS(paged_call(NULL, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  /* q must be 4-D */
  c.q->t.ndim = 3;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_SHAPE);
  c.q->t.ndim = 4;
  /* kv_cache dtype and last dim */
  c.kv->t.dtype.code = kDLInt;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_DTYPE);
  c.kv->t.dtype.code = kDLUInt;
  c.kv->shape[3] = 16;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_SHAPE);
  c.kv->shape[3] = 20;
  /* a block that is not contiguous */
  c.kv->strides[1] = 21;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_LAYOUT);
  c.kv->strides[1] = 20;
  /* blocks overlapping each other */
  c.kv->strides[0] = 100;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_LAYOUT);
  c.kv->strides[0] = c.blk_stride;
  /* weights rows != B * next_n */
  c.w->shape[0] = 3;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_SHAPE);
  c.w->shape[0] = 6;
  /* context_lens [B, next_n + 1] */
  c.lens->shape[1] = 3;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_SHAPE);
  c.lens->shape[1] = 2;
  /* schedule_meta [.., 3] */
  test_tensor_t* meta = tt_new(I32, 2, (int64_t)5, (int64_t)3);
  CHECK_STATUS(paged_call(g_ctx, &c, &meta->t, 1), DLG_ERR_SHAPE);
  tt_free(meta);
  /* a used block-table entry outside kv_cache */
  int32_t* table = c.table->mem;
  int32_t saved = table[c.max_blocks]; /* batch 1, block 0: used */
  table[c.max_blocks] = (int32_t)c.num_blocks;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  table[c.max_blocks] = -1;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  table[c.max_blocks] = saved;
  /* a negative length; a length past logits' columns; past the block table */
  int32_t* lens = c.lens->mem;
  int32_t saved_len = lens[3];
  lens[3] = -1;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  lens[3] = (int32_t)c.width + 1;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  c.logits->shape[1] = c.max_blocks * c.bk + 5; /* wide enough, but the table is not */
  lens[3] = (int32_t)(c.max_blocks * c.bk + 1);
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_INVALID_ARGUMENT);
  c.logits->shape[1] = c.width;
  lens[3] = saved_len;
  /* logits dtype */
  c.logits->t.dtype.code = kDLFloat8_e4m3fn;
  c.logits->t.dtype.bits = 8;
  CHECK_STATUS(paged_call(g_ctx, &c, NULL, 1), DLG_ERR_DTYPE);
  c.logits->t.dtype.code = kDLFloat;
  c.logits->t.dtype.bits = 32;
  CHECK(tt_untouched(c.logits));
  /* CUDA: valid shapes without schedule_meta, then with it (no kernel yet) */
  DLTensor q = cuda_view(c.q), kv = cuda_view(c.kv), w = cuda_view(c.w), ln = cuda_view(c.lens),
           tb = cuda_view(c.table), lg = cuda_view(c.logits);
  test_tensor_t* m5 = tt_new(I32, 2, (int64_t)5, (int64_t)2);
  DLTensor mt = cuda_view(m5);
  CHECK_STATUS(dlg_paged_mqa_logits(g_gpu_ctx, &q, &kv, &w, &ln, &tb, NULL, 1, &lg, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_GPU_PATH(dlg_paged_mqa_logits(g_gpu_ctx, &q, &kv, &w, &ln, &tb, &mt, 1, &lg, NULL));
  CHECK_STATUS(dlg_paged_mqa_logits(g_ctx, &q, &kv, &w, &ln, &tb, &mt, 1, &lg, NULL),
               DLG_ERR_DEVICE);
  tt_free(m5);
  CHECK(tt_untouched(c.logits));
  /* the valid call still works after all that */
  CHECK_OK(paged_call(g_ctx, &c, NULL, 0));
  paged_free(&c);
}

/* ---- schedule metadata ---- */

/* Naive split: list every (batch, block) in order, SM s takes item floor(s·total/num_sms). */
static void naive_schedule(const test_tensor_t* lens, int64_t bk, int64_t num_sms, int32_t* out) {
  int64_t batch = lens->t.shape[0], cols = lens->t.ndim == 2 ? lens->t.shape[1] : 1;
  int32_t items[4096][2];
  int64_t total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t longest = 0;
    for (int64_t t = 0; t < cols; ++t) {
      int64_t len = (int64_t)i32_at(lens, b * cols + t);
      if (len > longest) longest = len;
    }
    for (int64_t k = 0; k * bk < longest; ++k) {
      items[total][0] = (int32_t)b;
      items[total][1] = (int32_t)k;
      ++total;
    }
  }
  for (int64_t s = 0; s <= num_sms; ++s) {
    int64_t g = s < num_sms ? s * total / num_sms : total;
    out[2 * s] = g < total ? items[g][0] : (int32_t)batch;
    out[2 * s + 1] = g < total ? items[g][1] : 0;
  }
}

static void test_metadata_case(const int32_t* len_values, int64_t batch, int64_t cols, int64_t bk,
                               int64_t num_sms, int strided_meta) {
  test_tensor_t* lens = cols ? tt_new(I32, 2, batch, cols) : tt_new(I32, 1, batch);
  int64_t n = batch * (cols ? cols : 1);
  for (int64_t i = 0; i < n; ++i) tt_set(lens, i, len_values[i]);
  int64_t shape[2] = {dlg_paged_mqa_logits_metadata_rows((int)num_sms), 2};
  int64_t strides[2] = {1, shape[0] + 3}; /* column-major with padding: any strides work */
  test_tensor_t* meta = tt_new_strided(I32, 2, shape, strided_meta ? strides : NULL);
  tt_poison(meta);
  CHECK_OK(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, (int)bk, (int)num_sms, &meta->t, NULL));
  int32_t want[2 * 65];
  naive_schedule(lens, bk, num_sms, want);
  int bad = 0;
  for (int64_t s = 0; s <= num_sms; ++s)
    for (int k = 0; k < 2; ++k) {
      int32_t got = ((int32_t*)meta->mem)[s * meta->strides[0] + k * meta->strides[1]];
      if (got != want[2 * s + k]) {
        if (!bad)
          fprintf(stderr, "schedule sm %lld [%d]: got %d want %d\n", (long long)s, k, got,
                  want[2 * s + k]);
        ++bad;
      }
    }
  CHECK(bad == 0);
  tt_free(meta);
  tt_free(lens);
}

static void test_metadata(void) {
  const int32_t lens1[] = {5, 0, 33, 16};
  test_metadata_case(lens1, 4, 0, 16, 2, 0);   /* blocks 1,0,3,1 */
  test_metadata_case(lens1, 4, 0, 16, 8, 1);   /* more SMs than blocks */
  test_metadata_case(lens1, 4, 0, 1, 7, 0);    /* block_kv 1 */
  test_metadata_case(lens1, 4, 0, 64, 3, 0);
  const int32_t lens2[] = {3, 70, 0, 0, 129, 128, 1, 2, 64, 65};
  test_metadata_case(lens2, 5, 2, 64, 4, 1);   /* [B, next_n]: max over t */
  test_metadata_case(lens2, 5, 2, 32, 64, 0);
  const int32_t zeros[] = {0, 0, 0};
  test_metadata_case(zeros, 3, 0, 64, 4, 0);   /* nothing to do: all (B, 0) */
  test_metadata_case(zeros, 0, 0, 64, 4, 0);   /* B = 0 */
  test_metadata_case(lens1, 4, 0, 16, 1, 0);

  CHECK(dlg_paged_mqa_logits_metadata_rows(132) == 133);
  CHECK(dlg_paged_mqa_logits_metadata_rows(0) == 1);
  CHECK(dlg_paged_mqa_logits_metadata_rows(-1) == -1);

  /* bad inputs */
  test_tensor_t* lens = tt_new(I32, 1, (int64_t)4);
  for (int i = 0; i < 4; ++i) tt_set(lens, i, lens1[i]);
  test_tensor_t* meta = tt_new(I32, 2, (int64_t)5, (int64_t)2);
  tt_poison(meta);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(NULL, &lens->t, 16, 4, &meta->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 0, 4, &meta->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, -1, &meta->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 0, &meta->t, NULL),
               DLG_ERR_INVALID_ARGUMENT); /* 0 = device SMs: not on a CPU context */
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 5, &meta->t, NULL),
               DLG_ERR_SHAPE); /* needs 6 rows */
  meta->t.dtype.code = kDLUInt;
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 4, &meta->t, NULL),
               DLG_ERR_DTYPE);
  meta->t.dtype.code = kDLInt;
  lens->t.dtype.code = kDLFloat;
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 4, &meta->t, NULL),
               DLG_ERR_DTYPE);
  lens->t.dtype.code = kDLInt;
  lens->t.ndim = 0;
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 4, &meta->t, NULL),
               DLG_ERR_SHAPE);
  lens->t.ndim = 1;
  tt_set(lens, 2, -4);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lens->t, 16, 4, &meta->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  tt_set(lens, 2, 33);
  DLTensor lc = cuda_view(lens), mc = cuda_view(meta);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_ctx, &lc, 16, 4, &mc, NULL), DLG_ERR_DEVICE);
  CHECK_STATUS(dlg_paged_mqa_logits_metadata(g_gpu_ctx, &lc, 16, 4, &meta->t, NULL),
               DLG_ERR_DEVICE);
  CHECK_GPU_PATH(dlg_paged_mqa_logits_metadata(g_gpu_ctx, &lc, 16, 4, &mc, NULL));
  CHECK(tt_untouched(meta));
  tt_free(meta);
  tt_free(lens);
}

/* ---- clean ---- */

static void test_clean(int with_ks, int bf16) {
  int64_t rows = 9, width = 37, stride = 40;
  int64_t shape[2] = {rows, width}, strides[2] = {stride, 1};
  test_tensor_t* lg = tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, shape, strides);
  test_tensor_t* ks = tt_new(I32, 1, rows);
  test_tensor_t* ke = tt_new(I32, 1, rows);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t a, b;
    pick_range(r, width, &a, &b);
    tt_set(ks, r, a);
    tt_set(ke, r, b);
  }
  tt_poison(lg);
  CHECK_OK(dlg_clean_logits(g_ctx, with_ks ? &ks->t : NULL, &ke->t, &lg->t, NULL));
  int64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t lo = with_ks ? (int64_t)i32_at(ks, r) : 0, hi = (int64_t)i32_at(ke, r);
    for (int64_t j = 0; j < stride; ++j) {
      int64_t idx = r * stride + j;
      if (!in_storage(lg, idx)) continue;
      int inside = j >= lo && j < hi;
      if (j >= width || inside) bad += !elem_poisoned(lg, idx);
      else bad += tt_get(lg, idx) != -INFINITY;
    }
  }
  CHECK(bad == 0);

  /* bad inputs */
  tt_poison(lg);
  CHECK_STATUS(dlg_clean_logits(NULL, &ks->t, &ke->t, &lg->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, NULL, &lg->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  ke->shape[0] = rows - 1;
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, &ke->t, &lg->t, NULL), DLG_ERR_SHAPE);
  ke->shape[0] = rows;
  ks->t.dtype.code = kDLUInt;
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, &ke->t, &lg->t, NULL), DLG_ERR_DTYPE);
  ks->t.dtype.code = kDLInt;
  int code = lg->t.dtype.code;
  lg->t.dtype.code = kDLInt;
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, &ke->t, &lg->t, NULL), DLG_ERR_DTYPE);
  lg->t.dtype.code = (uint8_t)code;
  lg->t.ndim = 1;
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, &ke->t, &lg->t, NULL), DLG_ERR_SHAPE);
  lg->t.ndim = 2;
  DLTensor alias = ke->t;
  alias.data = lg->mem; /* ke inside the output */
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ks->t, &alias, &lg->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  DLTensor ksc = cuda_view(ks);
  CHECK_STATUS(dlg_clean_logits(g_ctx, &ksc, &ke->t, &lg->t, NULL), DLG_ERR_DEVICE);
  DLTensor kec = cuda_view(ke), lgc = cuda_view(lg);
  CHECK_GPU_PATH(dlg_clean_logits(g_gpu_ctx, &ksc, &kec, &lgc, NULL));
  CHECK(tt_untouched(lg));
  tt_free(lg);
  tt_free(ks);
  tt_free(ke);
}

int main(void) {
  CHECK_OK(dlg_context_create(-1, &g_ctx));
  CHECK_OK(dlg_context_create(0, &g_gpu_ctx));
  dlg_device_info_t info;
  g_have_gpu = dlg_context_device_info(g_gpu_ctx, &info) == DLG_OK;
  dlg_clear_error();
  test_row_stride();
  /* S, H, D, S_kv (S_kv not a multiple of 64), padded rows, bf16, clean */
  test_mqa(1, 1, 16, 1, 0, 0, 1, 1);
  test_mqa(1, 2, 32, 1, 1, 1, 0, 2);
  test_mqa(9, 4, 32, 70, 0, 0, 1, 3);
  test_mqa(9, 4, 32, 70, 1, 0, 0, 4);
  test_mqa(17, 8, 64, 130, 1, 1, 1, 5);
  test_mqa(17, 8, 64, 130, 0, 1, 0, 6);
  test_mqa(8, 3, 128, 200, 1, 0, 1, 7);
  test_mqa(3, 2, 16, 0, 0, 0, 1, 8); /* no keys at all */
  test_mqa_bad_inputs();
  /* compressed width, bf16, clean */
  test_mqa_compressed(16, 0, 1, 31);
  test_mqa_compressed(46, 1, 0, 32);
  test_mqa_compressed(90, 0, 0, 33);
  test_mqa_compressed(120, 1, 1, 34);
  /* B, next_n, block_kv, lens [B, next_n], bf16, clean, padded block stride, schedule_meta */
  for (int next_n = 1; next_n <= 2; ++next_n)
    for (int lens2d = 0; lens2d <= 1; ++lens2d)
      for (int clean = 0; clean <= 1; ++clean) {
        test_paged(4, next_n, 16, lens2d, 0, clean, lens2d, clean, 100 + next_n);
        test_paged(3, next_n, 64, lens2d, 1, clean, !lens2d, 0, 200 + next_n);
      }
  test_paged(1, 1, 1, 0, 0, 1, 0, 0, 300); /* block_kv 1 */
  test_paged_bad_inputs();
  test_metadata();
  test_clean(1, 0);
  test_clean(0, 1);
  dlg_context_destroy(g_ctx);
  dlg_context_destroy(g_gpu_ctx);
  return dlg_test_finish("attention_test");
}
