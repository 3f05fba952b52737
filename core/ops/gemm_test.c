/* dlg_gemm on CPU tensors against an independent naive reference in double precision
 * (decoders from tests/dlg_test.c, the obvious triple loop), plus argument validation. */
#include <time.h>
#include "dlg_test.h"

/* ---- inputs: a tiny LCG, so the test needs nothing but the op under test ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng >> 33);
}
static double rnd_unit(void) { return rnd() / 2147483648.0; } /* [0, 1) */

/* Random finite e4m3 bytes in every storage slot (gaps included: they must not matter). */
static void fill_fp8(test_tensor_t* t) {
  uint8_t* p = t->mem;
  for (size_t i = 0; i < t->bytes; ++i) {
    uint8_t exp = (uint8_t)(rnd() % 12), man = (uint8_t)(rnd() % 8), sign = (uint8_t)(rnd() % 2);
    p[i] = (uint8_t)(sign << 7 | exp << 3 | man);
  }
}
static int64_t storage_elems(const test_tensor_t* t) {
  return (int64_t)(t->bytes / ((t->t.dtype.bits + 7) / 8));
}
static void fill_uniform(test_tensor_t* t, double lo, double hi) {
  if (t->t.dtype.code == kDLFloat8_e4m3fn) {
    fill_fp8(t);
    return;
  }
  for (int64_t i = 0; i < storage_elems(t); ++i) tt_set(t, i, lo + (hi - lo) * rnd_unit());
}
/* Packed UE8M0 words: four exponents 2^-7 .. 2^7. */
static void fill_packed(test_tensor_t* t) {
  int32_t* p = t->mem;
  for (int64_t i = 0; i < storage_elems(t); ++i) {
    uint32_t w = 0;
    for (int j = 0; j < 4; ++j) w |= (uint32_t)(120 + rnd() % 15) << (8 * j);
    p[i] = (int32_t)w;
  }
}

static int64_t at2(const test_tensor_t* t, int64_t i, int64_t j) {
  return i * t->strides[0] + j * t->strides[1];
}
/* Scale of (row, K block) of a [rows, kb] f32 or packed int32 scale tensor. */
static double scale2(const test_tensor_t* s, int64_t r, int64_t kb) {
  if (s->t.dtype.code == kDLFloat) return tt_get(s, at2(s, r, kb));
  uint32_t w = (uint32_t)((const int32_t*)s->mem)[at2(s, r, kb / 4)];
  return ldexp(1.0, (int)((w >> (8 * (kb % 4))) & 0xFF) - 127);
}

/* ---- the naive reference ---- */

typedef struct {
  dlg_recipe_t recipe;
  test_tensor_t *a, *sfa, *b, *sfb, *c, *d;
  const double* c_values; /* C as it was before the call (aliasing C = D), [m*n] */
} ref_args_t;

static double naive(const ref_args_t* r, int64_t i, int64_t j) {
  const int64_t k = r->a->shape[1];
  double acc = 0;
  for (int64_t kb = 0; kb * 128 < k; ++kb) {
    double part = 0;
    for (int64_t kk = kb * 128; kk < k && kk < kb * 128 + 128; ++kk)
      part += tt_get(r->a, at2(r->a, i, kk)) * tt_get(r->b, at2(r->b, j, kk));
    if (r->recipe == DLG_RECIPE_FP8_1D2D) part *= scale2(r->sfa, i, kb) * scale2(r->sfb, j / 128, kb);
    if (r->recipe == DLG_RECIPE_FP8_1D1D) part *= scale2(r->sfa, i, kb) * scale2(r->sfb, j, kb);
    acc += part;
  }
  if (r->recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    if (r->sfa) acc *= tt_get(r->sfa, 0);
    if (r->sfb) acc *= tt_get(r->sfb, 0);
  }
  if (r->c_values) acc += r->c_values[i * r->d->shape[1] + j];
  return acc;
}

/* max|x - y| / max|y| for f32 D; for bf16 D every element within bf16 rounding. */
static int compare(const ref_args_t* r, const char* what) {
  const int64_t m = r->d->shape[0], n = r->d->shape[1];
  double* want = malloc(sizeof(double) * (size_t)(m * n + 1));
  double maxy = 0, maxdiff = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      want[i * n + j] = naive(r, i, j);
      if (fabs(want[i * n + j]) > maxy) maxy = fabs(want[i * n + j]);
    }
  int ok = 1;
  const int bf16 = r->d->t.dtype.code == kDLBfloat;
  for (int64_t i = 0; i < m && ok; ++i)
    for (int64_t j = 0; j < n && ok; ++j) {
      double x = tt_get(r->d, at2(r->d, i, j)), y = want[i * n + j];
      double diff = fabs(x - y);
      if (diff > maxdiff) maxdiff = diff;
      if (bf16 && !(diff <= fabs(y) * ldexp(1.0, -8) + 1e-5 * maxy)) ok = 0;
      if (!bf16 && !(diff <= 1e-5 * (maxy + 1e-30))) ok = 0;
      if (!ok)
        fprintf(stderr, "%s: D[%lld, %lld] = %.9g, want %.9g (max|y| %g)\n", what, (long long)i,
                (long long)j, x, y, maxy);
    }
  free(want);
  return ok;
}

/* ---- one correct call ---- */

typedef struct { int64_t m, n, k; } shape_t;
enum { C_NONE, C_F32, C_BF16, C_ALIAS, C_MODES };
/* A and B layouts: NT (both K-major), NN, TN, TT (the other is MN-major), then padded odd
 * strides for every tensor incl. D. */
enum { L_NT, L_NN, L_TN, L_TT, L_ODD, LAYOUTS };

static test_tensor_t* matrix(int code, int bits, int64_t rows, int64_t cols, int k_major,
                             int odd) {
  int64_t shape[2] = {rows, cols};
  int64_t r1 = rows > 0 ? rows : 1, c1 = cols > 0 ? cols : 1;
  int64_t strides[2] = {c1, 1};
  if (!k_major) { strides[0] = 1; strides[1] = r1; }
  if (odd) { strides[0] = 2; strides[1] = 2 * r1 + 3; }
  return tt_new_strided(code, bits, 2, shape, strides);
}

static int run_case(dlg_context_t* ctx, dlg_recipe_t recipe, int d_f32, int layout, shape_t s,
                    int c_mode, int scale_mode) {
  const int fp8 = recipe != DLG_RECIPE_BF16;
  const int code = fp8 ? kDLFloat8_e4m3fn : kDLBfloat, bits = fp8 ? 8 : 16;
  const int odd = layout == L_ODD;
  ref_args_t r = {recipe, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  r.a = matrix(code, bits, s.m, s.k, layout == L_NT || layout == L_NN, odd);
  r.b = matrix(code, bits, s.n, s.k, layout == L_NT || layout == L_TN, odd);
  fill_uniform(r.a, -2, 2);
  fill_uniform(r.b, -2, 2);
  const int64_t kb = (s.k + 127) / 128;
  if (recipe == DLG_RECIPE_FP8_1D2D || recipe == DLG_RECIPE_FP8_1D1D) {
    const int64_t sfb_rows = recipe == DLG_RECIPE_FP8_1D2D ? (s.n + 127) / 128 : s.n;
    if (scale_mode == 1) { /* packed UE8M0, MN-major sfa */
      r.sfa = matrix(kDLInt, 32, s.m, (kb + 3) / 4, 0, odd);
      r.sfb = matrix(kDLInt, 32, sfb_rows, (kb + 3) / 4, 1, odd);
      fill_packed(r.sfa);
      fill_packed(r.sfb);
    } else {
      r.sfa = matrix(kDLFloat, 32, s.m, kb, 0, odd);
      r.sfb = matrix(kDLFloat, 32, sfb_rows, kb, 1, odd);
      fill_uniform(r.sfa, 0.5, 2);
      fill_uniform(r.sfb, 0.5, 2);
    }
  } else if (recipe == DLG_RECIPE_FP8_PER_TENSOR && scale_mode == 0) {
    r.sfa = tt_new(kDLFloat, 32, 0);
    r.sfb = tt_new(kDLFloat, 32, 2, (int64_t)1, (int64_t)1);
    tt_set(r.sfa, 0, 0.75);
    tt_set(r.sfb, 0, 1.5);
  }
  r.d = matrix(d_f32 ? kDLFloat : kDLBfloat, d_f32 ? 32 : 16, s.m, s.n, 1, 0);
  if (odd) { /* D column-major with padding */
    tt_free(r.d);
    int64_t shape[2] = {s.m, s.n}, strides[2] = {1, s.m + 2};
    r.d = tt_new_strided(d_f32 ? kDLFloat : kDLBfloat, d_f32 ? 32 : 16, 2, shape, strides);
  }
  tt_poison(r.d);
  double* cv = NULL;
  const DLTensor* c = NULL;
  if (c_mode != C_NONE) {
    cv = malloc(sizeof(double) * (size_t)(s.m * s.n + 1));
    if (c_mode == C_ALIAS) {
      r.c = r.d;
    } else {
      r.c = matrix(c_mode == C_F32 ? kDLFloat : kDLBfloat, c_mode == C_F32 ? 32 : 16, s.m,
                   s.n, !odd, 0);
    }
    fill_uniform(r.c, -100, 100);
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) cv[i * s.n + j] = tt_get(r.c, at2(r.c, i, j));
    c = &r.c->t;
    r.c_values = cv;
  }
  char what[160];
  snprintf(what, sizeof what, "%s d=%s layout=%d m=%lld n=%lld k=%lld c=%d scales=%d",
           dlg_recipe_name(recipe), d_f32 ? "f32" : "bf16", layout, (long long)s.m,
           (long long)s.n, (long long)s.k, c_mode, scale_mode);
  dlg_status_t st = dlg_gemm(ctx, recipe, &r.a->t, r.sfa ? &r.sfa->t : NULL, &r.b->t,
                             r.sfb ? &r.sfb->t : NULL, c, &r.d->t, NULL);
  int ok = st == DLG_OK;
  if (!ok) fprintf(stderr, "%s: %s: %s\n", what, dlg_status_name(st), dlg_last_error());
  if (ok) ok = compare(&r, what);
  tt_free(r.a);
  tt_free(r.b);
  tt_free(r.sfa);
  tt_free(r.sfb);
  if (r.c != r.d) tt_free(r.c);
  tt_free(r.d);
  free(cv);
  return ok;
}

static void test_correctness(dlg_context_t* ctx) {
  const shape_t shapes[] = {{0, 16, 128}, {1, 64, 128}, {17, 40, 200}, {8, 1, 256}, {3, 130, 72},
                            {4, 9, 0},    {2, 5, 1},    {16, 0, 64},   {5, 129, 129}};
  const dlg_recipe_t recipes[] = {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_1D1D,
                                  DLG_RECIPE_FP8_PER_TENSOR, DLG_RECIPE_BF16};
  for (int ri = 0; ri < 4; ++ri)
    for (int d_f32 = 0; d_f32 < 2; ++d_f32)
      for (int layout = 0; layout < LAYOUTS; ++layout)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si)
          for (int c_mode = 0; c_mode < C_MODES; ++c_mode)
            for (int sm = 0; sm < (recipes[ri] == DLG_RECIPE_BF16 ? 1 : 2); ++sm)
              CHECK(run_case(ctx, recipes[ri], d_f32, layout, shapes[si], c_mode, sm));
  /* A medium shape with several N chunks of the reference's panel, once per recipe. */
  for (int ri = 0; ri < 4; ++ri) {
    shape_t s = {33, 600, 384};
    CHECK(run_case(ctx, recipes[ri], ri % 2, L_NT, s, C_F32, 1));
  }
}

/* How long the CPU reference takes for 256x512x1024 (expected ~0.05 s), printed only: timings
 * are measured in benchmarks, not asserted in tests (a shared or sanitized machine may be
 * many times slower). */
static void test_reference_time(dlg_context_t* ctx) {
  test_tensor_t* a = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)256, (int64_t)1024);
  test_tensor_t* b = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)512, (int64_t)1024);
  test_tensor_t* sfa = tt_new(kDLFloat, 32, 2, (int64_t)256, (int64_t)8);
  test_tensor_t* sfb = tt_new(kDLFloat, 32, 2, (int64_t)4, (int64_t)8);
  test_tensor_t* d = tt_new(kDLBfloat, 16, 2, (int64_t)256, (int64_t)512);
  fill_fp8(a);
  fill_fp8(b);
  fill_uniform(sfa, 0.5, 2);
  fill_uniform(sfb, 0.5, 2);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_OK(dlg_gemm(ctx, DLG_RECIPE_FP8_1D2D, &a->t, &sfa->t, &b->t, &sfb->t, NULL, &d->t, NULL));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("reference fp8_1d2d 256x512x1024: %.3f s\n", secs);
  tt_free(a);
  tt_free(b);
  tt_free(sfa);
  tt_free(sfb);
  tt_free(d);
}

/* ---- validation: exact status, and D never written ---- */

typedef struct {
  test_tensor_t *a, *sfa, *b, *sfb, *c, *d;
} valid_t;

static valid_t make_valid(void) { /* FP8_1D2D, M 17, N 40, K 200, D bf16 */
  valid_t v;
  v.a = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)17, (int64_t)200);
  v.b = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)40, (int64_t)200);
  v.sfa = tt_new(kDLFloat, 32, 2, (int64_t)17, (int64_t)2);
  v.sfb = tt_new(kDLFloat, 32, 2, (int64_t)1, (int64_t)2);
  v.c = tt_new(kDLFloat, 32, 2, (int64_t)17, (int64_t)40);
  v.d = tt_new(kDLBfloat, 16, 2, (int64_t)17, (int64_t)40);
  fill_fp8(v.a);
  fill_fp8(v.b);
  fill_uniform(v.sfa, 0.5, 2);
  fill_uniform(v.sfb, 0.5, 2);
  tt_poison(v.d);
  return v;
}
static void free_valid(valid_t* v) {
  tt_free(v->a);
  tt_free(v->b);
  tt_free(v->sfa);
  tt_free(v->sfb);
  tt_free(v->c);
  tt_free(v->d);
}

/* Asserts the exact status and that D (v.d) still holds its poison. */
#define GEMM_REJECTS(ctx_, recipe_, a_, sfa_, b_, sfb_, c_, d_, status_)              \
  do {                                                                                 \
    CHECK_STATUS(dlg_gemm(ctx_, recipe_, a_, sfa_, b_, sfb_, c_, d_, NULL), status_);  \
    CHECK(tt_untouched(v.d));                                                          \
  } while (0)

static void test_validation(dlg_context_t* ctx) {
  valid_t v = make_valid();
  const dlg_recipe_t R = DLG_RECIPE_FP8_1D2D;
  DLTensor a = v.a->t, sfa = v.sfa->t, b = v.b->t, sfb = v.sfb->t, c = v.c->t, d = v.d->t;
  /* the valid call works (then re-poison) */
  CHECK_OK(dlg_gemm(ctx, R, &a, &sfa, &b, &sfb, &c, &d, NULL));
  CHECK(!tt_untouched(v.d));
  tt_poison(v.d);

  /* NULLs and enums */
  GEMM_REJECTS(NULL, R, &a, &sfa, &b, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, R, NULL, &sfa, &b, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, R, &a, &sfa, NULL, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, R, &a, NULL, &b, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, NULL, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_gemm(ctx, R, &a, &sfa, &b, &sfb, &c, NULL, NULL), DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, (dlg_recipe_t)0, &a, &sfa, &b, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);
  GEMM_REJECTS(ctx, (dlg_recipe_t)99, &a, &sfa, &b, &sfb, &c, &d, DLG_ERR_INVALID_ARGUMENT);

  /* dtypes */
  DLTensor x = b;
  x.dtype.code = kDLBfloat;
  x.dtype.bits = 16;
  GEMM_REJECTS(ctx, R, &a, &sfa, &x, &sfb, &c, &d, DLG_ERR_DTYPE);
  CHECK(strcmp(dlg_last_error(), "b: expected dtype float8_e4m3fn, got bfloat16") == 0);
  GEMM_REJECTS(ctx, DLG_RECIPE_BF16, &a, NULL, &b, NULL, &c, &d, DLG_ERR_DTYPE);
  x = d;
  x.dtype.code = kDLFloat; /* float16 */
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &c, &x, DLG_ERR_DTYPE);
  x = c;
  x.dtype.code = kDLInt;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &x, &d, DLG_ERR_DTYPE);
  x = sfa;
  x.dtype.code = kDLBfloat;
  x.dtype.bits = 16;
  GEMM_REJECTS(ctx, R, &a, &x, &b, &sfb, &c, &d, DLG_ERR_DTYPE);

  /* ndim and shapes */
  int64_t shape3[3] = {1, 17, 200}, strides3[3] = {3400, 200, 1};
  x = a;
  x.ndim = 3;
  x.shape = shape3;
  x.strides = strides3;
  GEMM_REJECTS(ctx, R, &x, &sfa, &b, &sfb, &c, &d, DLG_ERR_SHAPE);
  int64_t bshape[2] = {40, 199};
  x = b;
  x.shape = bshape; /* K mismatch */
  GEMM_REJECTS(ctx, R, &a, &sfa, &x, &sfb, &c, &d, DLG_ERR_SHAPE);
  int64_t sshape[2] = {17, 3};
  x = sfa;
  x.shape = sshape; /* ceil(200/128) = 2 blocks, not 3 */
  GEMM_REJECTS(ctx, R, &a, &x, &b, &sfb, &c, &d, DLG_ERR_SHAPE);
  int64_t sbshape[2] = {40, 2};
  x = sfb;
  x.shape = sbshape; /* 1D2D wants ceil(N/128) = 1 row */
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &x, &c, &d, DLG_ERR_SHAPE);
  GEMM_REJECTS(ctx, DLG_RECIPE_FP8_1D1D, &a, &sfa, &b, &sfb, &c, &d, DLG_ERR_SHAPE);
  int64_t pshape[2] = {17, 2};
  x = sfa;
  x.dtype.code = kDLInt; /* packed: ceil(2/4) = 1 word per row, not 2 */
  x.shape = pshape;
  GEMM_REJECTS(ctx, R, &a, &x, &b, &sfb, &c, &d, DLG_ERR_SHAPE);
  int64_t dshape[2] = {17, 39};
  x = d;
  x.shape = dshape;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &c, &x, DLG_ERR_SHAPE);
  x = c;
  x.shape = dshape;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &x, &d, DLG_ERR_SHAPE);

  /* recipe-specific scales */
  {
    test_tensor_t* ab = tt_new(kDLBfloat, 16, 2, (int64_t)17, (int64_t)200);
    test_tensor_t* bb = tt_new(kDLBfloat, 16, 2, (int64_t)40, (int64_t)200);
    GEMM_REJECTS(ctx, DLG_RECIPE_BF16, &ab->t, &sfa, &bb->t, NULL, &c, &d,
                 DLG_ERR_INVALID_ARGUMENT);
    GEMM_REJECTS(ctx, DLG_RECIPE_BF16, &ab->t, NULL, &bb->t, &sfb, &c, &d,
                 DLG_ERR_INVALID_ARGUMENT);
    tt_free(ab);
    tt_free(bb);
  }
  GEMM_REJECTS(ctx, DLG_RECIPE_FP8_PER_TENSOR, &a, &sfa, &b, NULL, &c, &d, DLG_ERR_SHAPE);
  x = sfa;
  x.dtype.code = kDLInt;
  x.ndim = 0;
  GEMM_REJECTS(ctx, DLG_RECIPE_FP8_PER_TENSOR, &a, &x, &b, NULL, &c, &d, DLG_ERR_DTYPE);

  /* devices: a fake CUDA tensor must be rejected before any GPU call */
  x = b;
  x.device.device_type = kDLCUDA;
  GEMM_REJECTS(ctx, R, &a, &sfa, &x, &sfb, &c, &d, DLG_ERR_DEVICE);
  x = sfb;
  x.device.device_type = kDLCUDA;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &x, &c, &d, DLG_ERR_DEVICE);
  {
    DLTensor ga = a, gsfa = sfa, gb = b, gsfb = sfb, gc = c, gd = d;
    DLTensor* all[] = {&ga, &gsfa, &gb, &gsfb, &gc, &gd};
    for (int i = 0; i < 6; ++i) all[i]->device.device_type = kDLCUDA;
    GEMM_REJECTS(ctx, R, &ga, &gsfa, &gb, &gsfb, &gc, &gd, DLG_ERR_DEVICE); /* CPU context */
    dlg_context_t* gpu0 = NULL;
    CHECK_OK(dlg_context_create(0, &gpu0));
    for (int i = 0; i < 6; ++i) all[i]->device.device_id = 1;
    GEMM_REJECTS(gpu0, R, &ga, &gsfa, &gb, &gsfb, &gc, &gd, DLG_ERR_DEVICE); /* other ordinal */
    dlg_context_destroy(gpu0);
  }

  /* layouts and overlap */
  int64_t neg[2] = {-40, 1};
  x = d;
  x.strides = neg;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &c, &x, DLG_ERR_LAYOUT);
  int64_t bcast[2] = {0, 1};
  x = d;
  x.strides = bcast; /* every row the same memory */
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &c, &x, DLG_ERR_LAYOUT);
  x = c;
  x.data = v.d->mem;
  x.byte_offset = 2; /* C overlaps D without being the same view */
  x.dtype.code = kDLBfloat;
  x.dtype.bits = 16;
  GEMM_REJECTS(ctx, R, &a, &sfa, &b, &sfb, &x, &d, DLG_ERR_INVALID_ARGUMENT);
  {
    /* D inside A's storage: A must stay intact. */
    unsigned char* saved = malloc(v.a->bytes);
    memcpy(saved, v.a->mem, v.a->bytes);
    x = d;
    x.data = v.a->mem;
    CHECK_STATUS(dlg_gemm(ctx, R, &a, &sfa, &b, &sfb, &c, &x, NULL), DLG_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(saved, v.a->mem, v.a->bytes) == 0);
    x.data = v.sfb->mem;
    CHECK_STATUS(dlg_gemm(ctx, R, &a, &sfa, &b, &sfb, NULL, &x, NULL), DLG_ERR_INVALID_ARGUMENT);
    free(saved);
  }
  CHECK(tt_untouched(v.d));
  free_valid(&v);
}

static void test_names_and_warmup(dlg_context_t* ctx) {
  CHECK(strcmp(dlg_recipe_name(DLG_RECIPE_FP8_1D2D), "fp8_1d2d") == 0);
  CHECK(strcmp(dlg_recipe_name(DLG_RECIPE_FP8_1D1D), "fp8_1d1d") == 0);
  CHECK(strcmp(dlg_recipe_name(DLG_RECIPE_FP8_PER_TENSOR), "fp8_per_tensor") == 0);
  CHECK(strcmp(dlg_recipe_name(DLG_RECIPE_BF16), "bf16") == 0);
  CHECK(strcmp(dlg_recipe_name((dlg_recipe_t)7), "unknown recipe") == 0);
  CHECK_OK(dlg_warmup_gemm(ctx, DLG_RECIPE_FP8_1D2D, 128, 256, 512, kDLBfloat, 16));
  CHECK_STATUS(dlg_warmup_gemm(NULL, DLG_RECIPE_BF16, 1, 1, 1, kDLFloat, 32),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_warmup_gemm(ctx, (dlg_recipe_t)0, 1, 1, 1, kDLFloat, 32),
               DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_warmup_gemm(ctx, DLG_RECIPE_BF16, -1, 1, 1, kDLFloat, 32), DLG_ERR_SHAPE);
  CHECK_STATUS(dlg_warmup_gemm(ctx, DLG_RECIPE_BF16, 1, 1, 1, kDLFloat, 16), DLG_ERR_DTYPE);
}

int main(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(-1, &ctx));
  test_names_and_warmup(ctx);
  test_validation(ctx);
  test_correctness(ctx);
  test_reference_time(ctx);
  dlg_context_destroy(ctx);
  return dlg_test_finish("gemm_test");
}
