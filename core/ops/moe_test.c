/* The MoE grouped GEMMs on CPU tensors against an independent naive reference in double
 * precision, plus argument and value validation (exact status, outputs left untouched). */
#include "dlg_test.h"

/* ---- inputs: a tiny LCG ---- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng >> 33);
}
static double rnd_unit(void) { return rnd() / 2147483648.0; }
static int64_t storage_elems(const test_tensor_t* t) {
  return (int64_t)(t->bytes / ((t->t.dtype.bits + 7) / 8));
}
/* Every storage slot: finite e4m3 bytes, uniform floats, or packed UE8M0 words (2^-7..2^7). */
static void fill(test_tensor_t* t, double lo, double hi) {
  if (t->t.dtype.code == kDLFloat8_e4m3fn) {
    uint8_t* p = t->mem;
    for (size_t i = 0; i < t->bytes; ++i)
      p[i] = (uint8_t)((rnd() % 2) << 7 | (rnd() % 12) << 3 | rnd() % 8);
  } else if (t->t.dtype.code == kDLInt) {
    int32_t* p = t->mem;
    for (int64_t i = 0; i < storage_elems(t); ++i) {
      uint32_t w = 0;
      for (int j = 0; j < 4; ++j) w |= (uint32_t)(120 + rnd() % 15) << (8 * j);
      p[i] = (int32_t)w;
    }
  } else {
    for (int64_t i = 0; i < storage_elems(t); ++i) tt_set(t, i, lo + (hi - lo) * rnd_unit());
  }
}
static test_tensor_t* tensor(int code, int bits, int ndim, const int64_t* shape,
                             const int64_t* strides) {
  return tt_new_strided(code, bits, ndim, shape, strides);
}
static test_tensor_t* int_vector(const int32_t* v, int64_t n) {
  test_tensor_t* t = tt_new(kDLInt, 32, 1, n);
  for (int64_t i = 0; i < n; ++i) tt_set(t, i, v[i]);
  return t;
}

/* ---- element access for the naive reference ---- */

static int64_t off3(const test_tensor_t* t, int64_t i, int64_t j, int64_t k) {
  int64_t idx[3] = {i, j, k}, o = 0;
  for (int d = 0; d < t->t.ndim; ++d) o += idx[3 - t->t.ndim + d] * t->strides[d];
  return o;
}
/* Element (i, j, k) with the leading indices dropped for fewer dimensions. */
static double el(const test_tensor_t* t, int64_t i, int64_t j, int64_t k) {
  return tt_get(t, off3(t, i, j, k));
}
/* Block scale (…, row, kb) of an f32 or packed UE8M0 tensor. */
static double block_scale(const test_tensor_t* s, int64_t g, int64_t row, int64_t kb) {
  if (s->t.dtype.code == kDLFloat) return el(s, g, row, kb);
  uint32_t w = (uint32_t)((const int32_t*)s->mem)[off3(s, g, row, kb / 4)];
  return ldexp(1.0, (int)((w >> (8 * (kb % 4))) & 0xFF) - 127);
}
/* Per-tensor scale: NULL = 1, one element, or element g of [G]. */
static double tensor_scale(const test_tensor_t* s, int64_t g) {
  if (!s) return 1.0;
  return dlg_tensor_numel(&s->t) == 1 ? tt_get(s, 0) : tt_get(s, g * s->strides[0]);
}

/* Compares one computed element with the wanted one: bf16 within rounding, f32 tight. */
static int close_enough(double x, double y, double maxy, int bf16) {
  double diff = fabs(x - y);
  if (bf16) return diff <= fabs(y) * ldexp(1.0, -8) + 1e-5 * maxy;
  return diff <= 1e-5 * (maxy + 1e-30);
}
/* Bytes of one output row still hold the poison. */
static int row_untouched(const test_tensor_t* d, int64_t first_elem, int64_t n, int64_t col_stride) {
  const unsigned char* p = d->mem;
  int64_t es = d->t.dtype.bits / 8;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t b = 0; b < es; ++b)
      if (p[(first_elem + j * col_stride) * es + b] != 0xA5) return 0;
  return 1;
}

/* A operand [.., rows, K] in K-major or MN-major storage; B [G, N, K] likewise. */
static test_tensor_t* operand(int fp8, int ndim, int64_t g, int64_t rows, int64_t k, int k_major) {
  int64_t shape[3] = {g, rows, k};
  int64_t r1 = rows ? rows : 1, k1 = k ? k : 1;
  int64_t strides[3] = {r1 * k1, k_major ? k1 : 1, k_major ? 1 : r1};
  test_tensor_t* t = tensor(fp8 ? kDLFloat8_e4m3fn : kDLBfloat, fp8 ? 8 : 16, ndim,
                            shape + 3 - ndim, strides + 3 - ndim);
  fill(t, -2, 2);
  return t;
}
/* Block scales [.., rows, kb] f32 (MN-major) or packed [.., rows, ceil(kb/4)] (row-major). */
static test_tensor_t* block_scales(int ndim, int64_t g, int64_t rows, int64_t kb, int packed) {
  int64_t cols = packed ? (kb + 3) / 4 : kb;
  int64_t shape[3] = {g, rows, cols};
  int64_t r1 = rows ? rows : 1, c1 = cols ? cols : 1;
  int64_t strides[3] = {r1 * c1, packed ? c1 : 1, packed ? 1 : r1};
  test_tensor_t* t = tensor(packed ? kDLInt : kDLFloat, 32, ndim, shape + 3 - ndim,
                            strides + 3 - ndim);
  fill(t, 0.5, 2);
  return t;
}
static test_tensor_t* scalar_scale(double v) {
  test_tensor_t* t = tt_new(kDLFloat, 32, 0);
  tt_set(t, 0, v);
  return t;
}
static test_tensor_t* group_scales(int64_t g) {
  test_tensor_t* t = tt_new(kDLFloat, 32, 1, g);
  fill(t, 0.5, 2);
  return t;
}

/* Σ over K of one M-grouped output element, in the recipe's scaling. a_g / b_g / sfa_g pick
 * the group slice of 3-D tensors (ignored for 2-D ones). */
static double m_grouped_dot(dlg_recipe_t recipe, const test_tensor_t* a, int64_t a_g, int64_t r,
                            const test_tensor_t* sfa, const test_tensor_t* b, int64_t g,
                            int64_t n, const test_tensor_t* sfb, int64_t k) {
  double acc = 0;
  for (int64_t kb = 0; kb * 128 < k; ++kb) {
    double part = 0;
    for (int64_t kk = kb * 128; kk < k && kk < kb * 128 + 128; ++kk)
      part += el(a, a_g, r, kk) * el(b, g, n, kk);
    if (recipe == DLG_RECIPE_FP8_1D2D)
      part *= block_scale(sfa, a_g, r, kb) * block_scale(sfb, g, n / 128, kb);
    acc += part;
  }
  if (recipe == DLG_RECIPE_FP8_PER_TENSOR) acc *= tensor_scale(sfa, a_g) * tensor_scale(sfb, g);
  return acc;
}

/* ---- m_grouped_gemm_contiguous ---- */

static int run_contiguous(dlg_context_t* ctx, dlg_recipe_t recipe, dlg_group_layout_t kind,
                          int64_t m, int64_t n, int64_t k, int layout, int scale_mode) {
  const int64_t groups = 3, kb = (k + 127) / 128;
  const int fp8 = recipe != DLG_RECIPE_BF16;
  test_tensor_t* a = operand(fp8, 2, 1, m, k, layout & 1);
  test_tensor_t* b = operand(fp8, 3, groups, n, k, !(layout & 2));
  test_tensor_t *sfa = NULL, *sfb = NULL;
  if (recipe == DLG_RECIPE_FP8_1D2D) {
    sfa = block_scales(2, 1, m, kb, scale_mode);
    sfb = block_scales(3, groups, (n + 127) / 128, kb, scale_mode);
  } else if (recipe == DLG_RECIPE_FP8_PER_TENSOR && scale_mode == 0) {
    sfa = scalar_scale(0.75);
    sfb = group_scales(groups);
  } else if (recipe == DLG_RECIPE_FP8_PER_TENSOR && scale_mode == 1) {
    sfb = scalar_scale(1.5);
  }
  /* Which group each row belongs to (-1: not touched). */
  int32_t* gid = malloc(sizeof(int32_t) * (size_t)(m + 1));
  test_tensor_t* lay;
  if (kind == DLG_GROUP_LAYOUT_ROW_IDS) {
    for (int64_t r = 0; r < m; ++r) gid[r] = (int32_t)(rnd() % (groups + 1)) - 1;
    lay = int_vector(gid, m);
  } else {
    /* rows before off[0] and from off[G] on are outside; group 1 empty */
    int32_t off[4] = {(int32_t)(m > 4 ? 2 : 0), 0, 0, (int32_t)(m > 4 ? m - 1 : m)};
    off[1] = off[0] + (off[3] - off[0]) / 2;
    off[2] = off[1];
    for (int64_t r = 0; r < m; ++r) {
      gid[r] = -1;
      for (int g = 0; g < groups; ++g)
        if (r >= off[g] && r < off[g + 1]) gid[r] = g;
    }
    lay = int_vector(off, groups + 1);
  }
  test_tensor_t* d = tt_new(kDLBfloat, 16, 2, m, n);
  tt_poison(d);
  dlg_status_t st = dlg_m_grouped_gemm_contiguous(ctx, recipe, &a->t, sfa ? &sfa->t : NULL,
                                                  &b->t, sfb ? &sfb->t : NULL, &lay->t, kind,
                                                  &d->t, NULL);
  int ok = st == DLG_OK;
  if (!ok) fprintf(stderr, "contiguous: %s: %s\n", dlg_status_name(st), dlg_last_error());
  double maxy = 0;
  double* want = calloc((size_t)(m * n + 1), sizeof(double));
  for (int64_t r = 0; r < m && ok; ++r)
    for (int64_t j = 0; j < n && gid[r] >= 0; ++j) {
      want[r * n + j] = m_grouped_dot(recipe, a, 0, r, sfa, b, gid[r], j, sfb, k);
      if (fabs(want[r * n + j]) > maxy) maxy = fabs(want[r * n + j]);
    }
  for (int64_t r = 0; r < m && ok; ++r) {
    if (gid[r] < 0) {
      ok = row_untouched(d, r * n, n, 1);
      if (!ok) fprintf(stderr, "contiguous: padding row %lld was written\n", (long long)r);
      continue;
    }
    for (int64_t j = 0; j < n && ok; ++j) {
      ok = close_enough(tt_get(d, r * n + j), want[r * n + j], maxy, 1);
      if (!ok)
        fprintf(stderr, "contiguous %s kind %d layout %d: D[%lld, %lld] = %g, want %g\n",
                dlg_recipe_name(recipe), kind, layout, (long long)r, (long long)j,
                tt_get(d, r * n + j), want[r * n + j]);
    }
  }
  free(want);
  free(gid);
  tt_free(a);
  tt_free(b);
  tt_free(sfa);
  tt_free(sfb);
  tt_free(lay);
  tt_free(d);
  return ok;
}

/* ---- m_grouped_gemm_masked ---- */

static int run_masked(dlg_context_t* ctx, dlg_recipe_t recipe, const int32_t* masked,
                      int64_t max_m, int64_t n, int64_t k, int layout, int scale_mode) {
  const int64_t groups = 3, kb = (k + 127) / 128;
  const int fp8 = recipe != DLG_RECIPE_BF16;
  test_tensor_t* a = operand(fp8, 3, groups, max_m, k, layout & 1);
  test_tensor_t* b = operand(fp8, 3, groups, n, k, !(layout & 2));
  test_tensor_t *sfa = NULL, *sfb = NULL;
  if (recipe == DLG_RECIPE_FP8_1D2D) {
    sfa = block_scales(3, groups, max_m, kb, scale_mode);
    sfb = block_scales(3, groups, (n + 127) / 128, kb, scale_mode);
  } else if (recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    sfa = scale_mode ? scalar_scale(0.5) : group_scales(groups);
    sfb = scale_mode ? NULL : group_scales(groups);
  }
  test_tensor_t* mm = int_vector(masked, groups);
  test_tensor_t* d = tt_new(kDLBfloat, 16, 3, groups, max_m, n);
  tt_poison(d);
  dlg_status_t st = dlg_m_grouped_gemm_masked(ctx, recipe, &a->t, sfa ? &sfa->t : NULL, &b->t,
                                              sfb ? &sfb->t : NULL, &mm->t, 8, &d->t, NULL);
  int ok = st == DLG_OK;
  if (!ok) fprintf(stderr, "masked: %s: %s\n", dlg_status_name(st), dlg_last_error());
  for (int64_t g = 0; g < groups && ok; ++g) {
    double maxy = 0;
    double* want = calloc((size_t)(max_m * n + 1), sizeof(double));
    for (int64_t r = 0; r < masked[g]; ++r)
      for (int64_t j = 0; j < n; ++j) {
        want[r * n + j] = m_grouped_dot(recipe, a, g, r, sfa, b, g, j, sfb, k);
        if (fabs(want[r * n + j]) > maxy) maxy = fabs(want[r * n + j]);
      }
    for (int64_t r = 0; r < max_m && ok; ++r) {
      const int64_t row = (g * max_m + r) * n;
      if (r >= masked[g]) {
        ok = row_untouched(d, row, n, 1);
        if (!ok) fprintf(stderr, "masked: group %lld row %lld was written\n", (long long)g, (long long)r);
        continue;
      }
      for (int64_t j = 0; j < n && ok; ++j) {
        ok = close_enough(tt_get(d, row + j), want[r * n + j], maxy, 1);
        if (!ok)
          fprintf(stderr, "masked %s: D[%lld, %lld, %lld] = %g, want %g\n",
                  dlg_recipe_name(recipe), (long long)g, (long long)r, (long long)j,
                  tt_get(d, row + j), want[r * n + j]);
      }
    }
    free(want);
  }
  tt_free(a);
  tt_free(b);
  tt_free(sfa);
  tt_free(sfb);
  tt_free(mm);
  tt_free(d);
  return ok;
}

/* ---- k_grouped_gemm_contiguous ---- */

enum { C_NONE, C_SEPARATE, C_ALIAS };

static int run_k_grouped(dlg_context_t* ctx, dlg_recipe_t recipe, const int32_t* ks,
                         int64_t groups, int64_t m, int64_t n, int layout, int scale_mode,
                         int c_mode) {
  int64_t k = 0;
  for (int64_t g = 0; g < groups; ++g) k += ks[g];
  const int64_t kb = k / 128;
  test_tensor_t* a = operand(1, 2, 1, m, k, layout & 1);
  test_tensor_t* b = operand(1, 2, 1, n, k, !(layout & 2));
  test_tensor_t *sfa, *sfb;
  if (recipe == DLG_RECIPE_FP8_1D1D) {
    sfa = block_scales(2, 1, m, kb, scale_mode);
    sfb = block_scales(2, 1, n, kb, scale_mode);
  } else {
    sfa = scale_mode ? scalar_scale(2.0) : group_scales(groups);
    sfb = scale_mode ? NULL : group_scales(groups);
  }
  test_tensor_t* kst = int_vector(ks, groups);
  test_tensor_t* d = tt_new(kDLFloat, 32, 3, groups, m, n);
  tt_poison(d);
  test_tensor_t* c = NULL;
  double* cv = NULL;
  if (c_mode != C_NONE) {
    c = c_mode == C_ALIAS ? d : tt_new(kDLBfloat, 16, 3, groups, m, n);
    fill(c, -50, 50);
    cv = malloc(sizeof(double) * (size_t)(groups * m * n + 1));
    for (int64_t i = 0; i < groups * m * n; ++i) cv[i] = tt_get(c, i);
  }
  dlg_status_t st = dlg_k_grouped_gemm_contiguous(ctx, recipe, &a->t, &sfa->t, &b->t,
                                                  sfb ? &sfb->t : NULL, &kst->t,
                                                  c ? &c->t : NULL, &d->t, NULL);
  int ok = st == DLG_OK;
  if (!ok) fprintf(stderr, "k_grouped: %s: %s\n", dlg_status_name(st), dlg_last_error());
  int64_t k0 = 0;
  for (int64_t g = 0; g < groups && ok; ++g) {
    double maxy = 0;
    double* want = calloc((size_t)(m * n + 1), sizeof(double));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t kbl = k0 / 128; kbl < (k0 + ks[g]) / 128; ++kbl) {
          double part = 0;
          for (int64_t kk = kbl * 128; kk < kbl * 128 + 128; ++kk)
            part += el(a, 0, i, kk) * el(b, 0, j, kk);
          if (recipe == DLG_RECIPE_FP8_1D1D)
            part *= block_scale(sfa, 0, i, kbl) * block_scale(sfb, 0, j, kbl);
          acc += part;
        }
        if (recipe == DLG_RECIPE_FP8_PER_TENSOR) acc *= tensor_scale(sfa, g) * tensor_scale(sfb, g);
        if (cv) acc += cv[(g * m + i) * n + j];
        want[i * n + j] = acc;
        if (fabs(acc) > maxy) maxy = fabs(acc);
      }
    for (int64_t i = 0; i < m * n && ok; ++i) {
      double x = tt_get(d, g * m * n + i);
      ok = ks[g] == 0 ? x == want[i] : close_enough(x, want[i], maxy, 0);
      if (!ok)
        fprintf(stderr, "k_grouped %s: D[%lld] element %lld = %.9g, want %.9g\n",
                dlg_recipe_name(recipe), (long long)g, (long long)i, x, want[i]);
    }
    free(want);
    k0 += ks[g];
  }
  tt_free(a);
  tt_free(b);
  tt_free(sfa);
  tt_free(sfb);
  tt_free(kst);
  if (c != d) tt_free(c);
  tt_free(d);
  free(cv);
  return ok;
}

static void test_correctness(dlg_context_t* ctx) {
  const dlg_recipe_t m_recipes[] = {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_PER_TENSOR,
                                    DLG_RECIPE_BF16};
  for (int ri = 0; ri < 3; ++ri)
    for (int layout = 0; layout < 4; ++layout)
      for (int sm = 0; sm < 2; ++sm) {
        CHECK(run_contiguous(ctx, m_recipes[ri], DLG_GROUP_LAYOUT_ROW_IDS, 37, 40, 200, layout, sm));
        CHECK(run_contiguous(ctx, m_recipes[ri], DLG_GROUP_LAYOUT_OFFSETS, 37, 130, 128, layout, sm));
        CHECK(run_contiguous(ctx, m_recipes[ri], DLG_GROUP_LAYOUT_ROW_IDS, 1, 1, 72, layout, sm));
        CHECK(run_contiguous(ctx, m_recipes[ri], DLG_GROUP_LAYOUT_OFFSETS, 0, 16, 128, layout, sm));
        const int32_t masked_a[3] = {0, 7, 20}, masked_b[3] = {20, 1, 13};
        CHECK(run_masked(ctx, m_recipes[ri], masked_a, 20, 40, 200, layout, sm));
        CHECK(run_masked(ctx, m_recipes[ri], masked_b, 20, 130, 256, layout, sm));
        CHECK(run_masked(ctx, m_recipes[ri], masked_a, 20, 3, 0, layout, sm));
      }
  const dlg_recipe_t k_recipes[] = {DLG_RECIPE_FP8_1D1D, DLG_RECIPE_FP8_PER_TENSOR};
  const int32_t ks_a[4] = {128, 0, 256, 128}, ks_b[2] = {640, 0}, ks_c[1] = {0};
  for (int ri = 0; ri < 2; ++ri)
    for (int layout = 0; layout < 4; ++layout)
      for (int sm = 0; sm < 2; ++sm)
        for (int c_mode = 0; c_mode < 3; ++c_mode) {
          CHECK(run_k_grouped(ctx, k_recipes[ri], ks_a, 4, 17, 33, layout, sm, c_mode));
          CHECK(run_k_grouped(ctx, k_recipes[ri], ks_b, 2, 1, 130, layout, sm, c_mode));
          CHECK(run_k_grouped(ctx, k_recipes[ri], ks_c, 1, 5, 7, layout, sm, c_mode));
          CHECK(run_k_grouped(ctx, k_recipes[ri], ks_c, 0, 5, 7, layout, sm, c_mode));
        }
  CHECK(dlg_mk_alignment_for_contiguous_layout() == 128);
}

/* ---- validation ---- */

/* Asserts the exact status and that the output `out` (a test_tensor_t*) kept its poison. */
#define REJECTS(call, status_, out)  \
  do {                               \
    CHECK_STATUS(call, status_);     \
    CHECK(tt_untouched(out));        \
  } while (0)

static void test_contiguous_validation(dlg_context_t* ctx) {
  /* Valid: FP8_1D2D, M 8, G 2, N 16, K 200, row ids. */
  const int64_t sh_a[2] = {8, 200}, sh_b[3] = {2, 16, 200}, sh_sfa[2] = {8, 2},
                sh_sfb[3] = {2, 1, 2};
  test_tensor_t* ta = tensor(kDLFloat8_e4m3fn, 8, 2, sh_a, NULL);
  test_tensor_t* tb = tensor(kDLFloat8_e4m3fn, 8, 3, sh_b, NULL);
  test_tensor_t* tsfa = tensor(kDLFloat, 32, 2, sh_sfa, NULL);
  test_tensor_t* tsfb = tensor(kDLFloat, 32, 3, sh_sfb, NULL);
  const int32_t ids[8] = {0, 0, -1, 1, 1, 1, -1, 0};
  test_tensor_t* tl = int_vector(ids, 8);
  test_tensor_t* out = tt_new(kDLBfloat, 16, 2, (int64_t)8, (int64_t)16);
  fill(ta, 0, 0);
  fill(tb, 0, 0);
  fill(tsfa, 0.5, 2);
  fill(tsfb, 0.5, 2);
  DLTensor a = ta->t, sfa = tsfa->t, b = tb->t, sfb = tsfb->t, l = tl->t, d = out->t, x;
  const dlg_recipe_t R = DLG_RECIPE_FP8_1D2D;
  const dlg_group_layout_t K = DLG_GROUP_LAYOUT_ROW_IDS;
  tt_poison(out);
  CHECK_OK(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &l, K, &d, NULL));
  CHECK(!tt_untouched(out));
  tt_poison(out);

  REJECTS(dlg_m_grouped_gemm_contiguous(NULL, R, &a, &sfa, &b, &sfb, &l, K, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, NULL, &sfa, &b, &sfb, &l, K, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, NULL, K, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, (dlg_recipe_t)9, &a, &sfa, &b, &sfb, &l, K, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, DLG_RECIPE_FP8_1D1D, &a, &sfa, &b, &sfb, &l, K, &d,
                                        NULL), DLG_ERR_UNSUPPORTED, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &l, (dlg_group_layout_t)3, &d,
                                        NULL), DLG_ERR_INVALID_ARGUMENT, out);
  x = a; /* wrong dtype */
  x.dtype.code = kDLBfloat;
  x.dtype.bits = 16;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &x, &sfa, &b, &sfb, &l, K, &d, NULL),
          DLG_ERR_DTYPE, out);
  CHECK(strcmp(dlg_last_error(), "a: expected dtype float8_e4m3fn, got bfloat16") == 0);
  x = d;
  x.dtype.code = kDLFloat;
  x.dtype.bits = 32;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &l, K, &x, NULL),
          DLG_ERR_DTYPE, out);
  x = l;
  x.dtype.code = kDLFloat;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &x, K, &d, NULL),
          DLG_ERR_DTYPE, out);
  x = b; /* wrong ndim */
  x.ndim = 2;
  x.shape = (int64_t*)sh_b + 1;
  x.strides = tb->strides + 1;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &x, &sfb, &l, K, &d, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_b[3] = {2, 16, 256}; /* K mismatch */
  x = b;
  x.shape = bad_b;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &x, &sfb, &l, K, &d, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_sfb[3] = {2, 16, 2}; /* per-row, not per 128 rows */
  x = sfb;
  x.shape = bad_sfb;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &x, &l, K, &d, NULL),
          DLG_ERR_SHAPE, out);
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &l, DLG_GROUP_LAYOUT_OFFSETS,
                                        &d, NULL), DLG_ERR_SHAPE, out); /* needs G+1 = 3 */
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, NULL, &b, &sfb, &l, K, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  x = sfb; /* mixed devices */
  x.device.device_type = kDLCUDA;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &x, &l, K, &d, NULL),
          DLG_ERR_DEVICE, out);
  x = d; /* output over an input */
  x.data = ta->mem;
  REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &l, K, &x, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  /* group ids and offsets are checked before anything is written */
  const int32_t bad_ids1[8] = {0, 0, -1, 1, 2, 1, -1, 0}, bad_ids2[8] = {0, -2, 0, 0, 0, 0, 0, 0};
  const int32_t bad_off1[3] = {0, 5, 4}, bad_off2[3] = {0, 4, 9}, bad_off3[3] = {-1, 2, 4};
  const int32_t* bad_ids[2] = {bad_ids1, bad_ids2};
  for (int i = 0; i < 2; ++i) {
    test_tensor_t* t = int_vector(bad_ids[i], 8);
    REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &t->t, K, &d, NULL),
            DLG_ERR_INVALID_ARGUMENT, out);
    tt_free(t);
  }
  const int32_t* bad_offs[3] = {bad_off1, bad_off2, bad_off3};
  for (int i = 0; i < 3; ++i) {
    test_tensor_t* t = int_vector(bad_offs[i], 3);
    REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &t->t,
                                          DLG_GROUP_LAYOUT_OFFSETS, &d, NULL),
            DLG_ERR_INVALID_ARGUMENT, out);
    tt_free(t);
  }
  /* CUDA tensors: a CPU context is a device error; a GPU context passes validation and then
   * needs the driver (DLG_ERR_NO_DRIVER in CI). With a driver the call is skipped: the
   * pointers here are host memory (the device runs are the conformance suite's). */
  {
    DLTensor ga = a, gsfa = sfa, gb = b, gsfb = sfb, gl = l, gd = d;
    DLTensor* all[] = {&ga, &gsfa, &gb, &gsfb, &gl, &gd};
    for (int i = 0; i < 6; ++i) all[i]->device.device_type = kDLCUDA;
    REJECTS(dlg_m_grouped_gemm_contiguous(ctx, R, &ga, &gsfa, &gb, &gsfb, &gl, K, &gd, NULL),
            DLG_ERR_DEVICE, out);
    dlg_context_t* gpu0 = NULL;
    CHECK_OK(dlg_context_create(0, &gpu0));
    dlg_device_info_t info;
    if (dlg_context_device_info(gpu0, &info) != DLG_OK)
      REJECTS(dlg_m_grouped_gemm_contiguous(gpu0, R, &ga, &gsfa, &gb, &gsfb, &gl, K, &gd, NULL),
              DLG_ERR_NO_DRIVER, out);
    dlg_context_destroy(gpu0);
  }
  tt_free(ta);
  tt_free(tb);
  tt_free(tsfa);
  tt_free(tsfb);
  tt_free(tl);
  tt_free(out);
}

static void test_masked_validation(dlg_context_t* ctx) {
  /* Valid: BF16, G 2, max_m 4, N 8, K 64. */
  const int64_t sh_a[3] = {2, 4, 64}, sh_b[3] = {2, 8, 64};
  test_tensor_t* ta = tensor(kDLBfloat, 16, 3, sh_a, NULL);
  test_tensor_t* tb = tensor(kDLBfloat, 16, 3, sh_b, NULL);
  const int32_t masked[2] = {3, 4};
  test_tensor_t* tm = int_vector(masked, 2);
  test_tensor_t* out = tt_new(kDLBfloat, 16, 3, (int64_t)2, (int64_t)4, (int64_t)8);
  fill(ta, -1, 1);
  fill(tb, -1, 1);
  DLTensor a = ta->t, b = tb->t, mm = tm->t, d = out->t, x;
  const dlg_recipe_t R = DLG_RECIPE_BF16;
  tt_poison(out);
  CHECK_OK(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &mm, 4, &d, NULL));
  CHECK(!tt_untouched(out));
  tt_poison(out);

  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, NULL, 4, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_masked(ctx, (dlg_recipe_t)-1, &a, NULL, &b, NULL, &mm, 4, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_masked(ctx, DLG_RECIPE_FP8_1D1D, &a, NULL, &b, NULL, &mm, 4, &d,
                                    NULL), DLG_ERR_UNSUPPORTED, out);
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &mm, 0, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_m_grouped_gemm_masked(ctx, DLG_RECIPE_FP8_1D2D, &a, NULL, &b, NULL, &mm, 4, &d,
                                    NULL), DLG_ERR_DTYPE, out);
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, &mm, &b, NULL, &mm, 4, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out); /* BF16 takes no scales */
  x = a;
  x.ndim = 2;
  x.shape = (int64_t*)sh_a + 1;
  x.strides = ta->strides + 1;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &x, NULL, &b, NULL, &mm, 4, &d, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_b[3] = {2, 8, 65};
  x = b;
  x.shape = bad_b;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &x, NULL, &mm, 4, &d, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_m[1] = {3};
  x = mm;
  x.shape = bad_m;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &x, 4, &d, NULL),
          DLG_ERR_SHAPE, out);
  x = mm;
  x.dtype.bits = 64;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &x, 4, &d, NULL),
          DLG_ERR_DTYPE, out);
  x = mm;
  x.device.device_type = kDLCUDA;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &x, 4, &d, NULL),
          DLG_ERR_DEVICE, out);
  x = d;
  x.data = tb->mem;
  REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &mm, 4, &x, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  /* masked_m values outside [0, max_m] */
  const int32_t neg[2] = {3, -1}, big[2] = {5, 0};
  const int32_t* bad[2] = {neg, big};
  for (int i = 0; i < 2; ++i) {
    test_tensor_t* t = int_vector(bad[i], 2);
    REJECTS(dlg_m_grouped_gemm_masked(ctx, R, &a, NULL, &b, NULL, &t->t, 4, &d, NULL),
            DLG_ERR_INVALID_ARGUMENT, out);
    tt_free(t);
  }
  /* 1D2D scale shapes */
  {
    const int64_t sh_fa[3] = {2, 4, 64}, sh_fb[3] = {2, 8, 64};
    const int64_t sh_sfa_bad[3] = {2, 4, 2}, sh_sfb[3] = {2, 1, 1};
    test_tensor_t* fa = tensor(kDLFloat8_e4m3fn, 8, 3, sh_fa, NULL);
    test_tensor_t* fb = tensor(kDLFloat8_e4m3fn, 8, 3, sh_fb, NULL);
    test_tensor_t* sa = tensor(kDLFloat, 32, 3, sh_sfa_bad, NULL);
    test_tensor_t* sb = tensor(kDLFloat, 32, 3, sh_sfb, NULL);
    REJECTS(dlg_m_grouped_gemm_masked(ctx, DLG_RECIPE_FP8_1D2D, &fa->t, &sa->t, &fb->t, &sb->t,
                                      &mm, 4, &d, NULL), DLG_ERR_SHAPE, out);
    tt_free(fa);
    tt_free(fb);
    tt_free(sa);
    tt_free(sb);
  }
  tt_free(ta);
  tt_free(tb);
  tt_free(tm);
  tt_free(out);
}

static void test_k_grouped_validation(dlg_context_t* ctx) {
  /* Valid: FP8_1D1D, M 4, N 8, ks {128, 128}: K_total 256. */
  test_tensor_t* ta = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)4, (int64_t)256);
  test_tensor_t* tb = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)8, (int64_t)256);
  test_tensor_t* tsfa = tt_new(kDLFloat, 32, 2, (int64_t)4, (int64_t)2);
  test_tensor_t* tsfb = tt_new(kDLFloat, 32, 2, (int64_t)8, (int64_t)2);
  const int32_t ks[2] = {128, 128};
  test_tensor_t* tks = int_vector(ks, 2);
  test_tensor_t* out = tt_new(kDLFloat, 32, 3, (int64_t)2, (int64_t)4, (int64_t)8);
  test_tensor_t* tc = tt_new(kDLFloat, 32, 3, (int64_t)2, (int64_t)4, (int64_t)8);
  fill(ta, 0, 0);
  fill(tb, 0, 0);
  fill(tsfa, 0.5, 2);
  fill(tsfb, 0.5, 2);
  DLTensor a = ta->t, sfa = tsfa->t, b = tb->t, sfb = tsfb->t, k = tks->t, c = tc->t, d = out->t, x;
  const dlg_recipe_t R = DLG_RECIPE_FP8_1D1D;
  tt_poison(out);
  CHECK_OK(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &k, &c, &d, NULL));
  CHECK(!tt_untouched(out));
  tt_poison(out);

  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, NULL, &c, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, (dlg_recipe_t)0, &a, &sfa, &b, &sfb, &k, &c, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, DLG_RECIPE_FP8_1D2D, &a, &sfa, &b, &sfb, &k, &c, &d,
                                        NULL), DLG_ERR_UNSUPPORTED, out);
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, DLG_RECIPE_BF16, &a, NULL, &b, NULL, &k, &c, &d,
                                        NULL), DLG_ERR_UNSUPPORTED, out);
  x = d;
  x.dtype.code = kDLBfloat;
  x.dtype.bits = 16;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &k, &c, &x, NULL),
          DLG_ERR_DTYPE, out);
  int64_t short_k[2] = {4, 200}; /* K_total not a multiple of 128 */
  int64_t short_kb[2] = {8, 200};
  x = a;
  x.shape = short_k;
  DLTensor y = b;
  y.shape = short_kb;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &x, &sfa, &y, &sfb, &k, &c, &d, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_d[3] = {3, 4, 8};
  x = d;
  x.shape = bad_d;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &k, &c, &x, NULL),
          DLG_ERR_SHAPE, out);
  int64_t bad_sfa[2] = {4, 3};
  x = sfa;
  x.shape = bad_sfa;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &x, &b, &sfb, &k, &c, &d, NULL),
          DLG_ERR_SHAPE, out);
  x = a;
  x.ndim = 3;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &x, &sfa, &b, &sfb, &k, &c, &d, NULL),
          DLG_ERR_SHAPE, out);
  x = b;
  x.device.device_type = kDLCUDA;
  x.device.device_id = 0;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &x, &sfb, &k, &c, &d, NULL),
          DLG_ERR_DEVICE, out);
  x = c; /* C overlapping D without being the same view */
  x.data = out->mem;
  x.byte_offset = 4;
  REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &k, &x, &d, NULL),
          DLG_ERR_INVALID_ARGUMENT, out);
  /* ks values: checked before anything is written */
  const int32_t ks_odd[2] = {100, 156}, ks_sum[2] = {128, 256}, ks_neg[2] = {384, -128};
  const int32_t* bad[3] = {ks_odd, ks_sum, ks_neg};
  for (int i = 0; i < 3; ++i) {
    test_tensor_t* t = int_vector(bad[i], 2);
    REJECTS(dlg_k_grouped_gemm_contiguous(ctx, R, &a, &sfa, &b, &sfb, &t->t, &c, &d, NULL),
            DLG_ERR_INVALID_ARGUMENT, out);
    tt_free(t);
  }
  /* per-tensor scales: [G] or scalar */
  {
    test_tensor_t* s3 = tt_new(kDLFloat, 32, 1, (int64_t)3);
    REJECTS(dlg_k_grouped_gemm_contiguous(ctx, DLG_RECIPE_FP8_PER_TENSOR, &a, &s3->t, &b, NULL,
                                          &k, &c, &d, NULL), DLG_ERR_SHAPE, out);
    tt_free(s3);
  }
  tt_free(ta);
  tt_free(tb);
  tt_free(tsfa);
  tt_free(tsfb);
  tt_free(tks);
  tt_free(tc);
  tt_free(out);
}

int main(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(-1, &ctx));
  test_contiguous_validation(ctx);
  test_masked_validation(ctx);
  test_k_grouped_validation(ctx);
  test_correctness(ctx);
  dlg_context_destroy(ctx);
  return dlg_test_finish("moe_test");
}
