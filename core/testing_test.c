/* testing.h: the generator against its documented algorithm (re-implemented here) and a
 * known splitmix64 value, stride independence, dtype conversions, calc_diff's rules,
 * mismatch counts, poison, copies, host-side memory calls, and bad inputs. */
#include "dlg_test.h"

#define F32 kDLFloat, 32
#define F64 kDLFloat, 64
#define BF16 kDLBfloat, 16
#define E4M3 kDLFloat8_e4m3fn, 8
#define I32 kDLInt, 32
#define I64 kDLInt, 64
#define U8 kDLUInt, 8

static dlg_context_t* g_ctx;
static dlg_context_t* g_gpu_ctx;

/* ---- the algorithm of testing.c, written again ---- */

static uint64_t spec_draw(uint64_t seed, uint64_t n) {
  uint64_t z = (seed ^ (n * 0x9E3779B97F4A7C15ull)) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double spec_u(uint64_t seed, uint64_t n) { return ldexp((double)(spec_draw(seed, n) >> 11), -53); }

static DLTensor cuda_view(const test_tensor_t* t) {
  DLTensor v = t->t;
  v.device.device_type = kDLCUDA;
  v.device.device_id = 0;
  return v;
}

static void test_fill_known_answers(void) {
  CHECK(spec_draw(0, 0) == 0xE220A8397B1DCDAFull); /* splitmix64's first output from state 0 */
  test_tensor_t* t = tt_new(F64, 2, (int64_t)7, (int64_t)9);
  CHECK_OK(dlg_testing_fill(&t->t, 0, DLG_FILL_UNIFORM, 0, 1));
  CHECK(((double*)t->mem)[0] == ldexp((double)(0xE220A8397B1DCDAFull >> 11), -53));
  int bad = 0;
  CHECK_OK(dlg_testing_fill(&t->t, 1234, DLG_FILL_UNIFORM, -3, 5));
  for (int64_t i = 0; i < 63; ++i) {
    double span = 5.0 - -3.0, scaled = span * spec_u(1234, (uint64_t)i);
    bad += ((double*)t->mem)[i] != -3.0 + scaled;
  }
  CHECK_OK(dlg_testing_fill(&t->t, 99, DLG_FILL_NORMAL, 1, 2));
  for (int64_t i = 0; i < 63; ++i) {
    double u1 = spec_u(99, 2 * (uint64_t)i), u2 = spec_u(99, 2 * (uint64_t)i + 1);
    double z = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
    bad += fabs(((double*)t->mem)[i] - (1.0 + 2.0 * z)) > 1e-12;
  }
  CHECK(bad == 0);
  tt_free(t);

  test_tensor_t* f = tt_new(F32, 1, (int64_t)50);
  CHECK_OK(dlg_testing_fill(&f->t, 7, DLG_FILL_UNIFORM, -1, 1));
  bad = 0;
  for (int64_t i = 0; i < 50; ++i) {
    double scaled = 2.0 * spec_u(7, (uint64_t)i);
    bad += ((float*)f->mem)[i] != (float)(-1.0 + scaled);
  }
  CHECK(bad == 0);
  tt_free(f);

  test_tensor_t* ints = tt_new(I32, 1, (int64_t)2000);
  CHECK_OK(dlg_testing_fill(&ints->t, 5, DLG_FILL_INT, -3, 3));
  int seen[7] = {0};
  bad = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    int32_t v = ((int32_t*)ints->mem)[i];
    double want = floor(-3.0 + 7.0 * spec_u(5, (uint64_t)i));
    bad += v != (int32_t)want || v < -3 || v > 3;
    if (v >= -3 && v <= 3) seen[v + 3] = 1;
  }
  CHECK(bad == 0);
  for (int k = 0; k < 7; ++k) CHECK(seen[k]);
  tt_free(ints);
}

/* Same seed: same logical values whatever the strides; another seed: different values. */
static void test_fill_stride_independent(void) {
  const int dt[][2] = {{F32}, {F64}, {BF16}, {E4M3}, {I32}, {I64}, {U8}};
  for (size_t k = 0; k < sizeof dt / sizeof dt[0]; ++k) {
    int code = dt[k][0], bits = dt[k][1];
    int64_t shape[3] = {4, 5, 6};
    int64_t transposed[3] = {1, 4 * 6 + 3, 4}; /* dims permuted and padded */
    test_tensor_t* a = tt_new_strided(code, bits, 3, shape, NULL);
    test_tensor_t* b = tt_new_strided(code, bits, 3, shape, transposed);
    test_tensor_t* c = tt_new_strided(code, bits, 3, shape, NULL);
    dlg_fill_t dist = code == kDLInt || code == kDLUInt ? DLG_FILL_INT : DLG_FILL_UNIFORM;
    double lo = dist == DLG_FILL_INT ? 0 : -10, hi = dist == DLG_FILL_INT ? 200 : 10;
    CHECK_OK(dlg_testing_fill(&a->t, 42, dist, lo, hi));
    CHECK_OK(dlg_testing_fill(&b->t, 42, dist, lo, hi));
    CHECK_OK(dlg_testing_fill(&c->t, 43, dist, lo, hi));
    int64_t mismatch = -1, differ = -1;
    CHECK_OK(dlg_testing_count_mismatch(&a->t, &b->t, &mismatch));
    CHECK_OK(dlg_testing_count_mismatch(&a->t, &c->t, &differ));
    CHECK(mismatch == 0);
    CHECK(differ > 60);
    tt_free(a);
    tt_free(b);
    tt_free(c);
  }
}

static uint16_t spec_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t lsb = (u >> 16) & 1;
  return (uint16_t)((u + 0x7FFF + lsb) >> 16);
}

static void test_fill_dtypes(void) {
  test_tensor_t* f = tt_new(F32, 1, (int64_t)300);
  test_tensor_t* b = tt_new(BF16, 1, (int64_t)300);
  test_tensor_t* e = tt_new(E4M3, 1, (int64_t)300);
  test_tensor_t* u = tt_new(U8, 1, (int64_t)300);
  test_tensor_t* l = tt_new(I64, 1, (int64_t)300);
  CHECK_OK(dlg_testing_fill(&f->t, 8, DLG_FILL_UNIFORM, -1000, 1000));
  CHECK_OK(dlg_testing_fill(&b->t, 8, DLG_FILL_UNIFORM, -1000, 1000));
  CHECK_OK(dlg_testing_fill(&e->t, 8, DLG_FILL_UNIFORM, -1000, 1000));
  CHECK_OK(dlg_testing_fill(&u->t, 8, DLG_FILL_UNIFORM, -1000, 1000));
  CHECK_OK(dlg_testing_fill(&l->t, 8, DLG_FILL_INT, -1e15, 1e15));
  int bad = 0, saturated = 0;
  for (int64_t i = 0; i < 300; ++i) {
    float x = ((float*)f->mem)[i];
    bad += ((uint16_t*)b->mem)[i] != spec_bf16(x);
    double ev = tt_get(e, i);
    bad += fabs(ev) > 448 || isnan(ev);
    saturated += fabs(ev) == 448;
    if (fabs(x) < 400) bad += fabs(ev - x) > fabs(x) * 0x1p-4 + 0x1p-10;
    double scaled = 2000.0 * spec_u(8, (uint64_t)i), v = -1000.0 + scaled;
    uint8_t uv = ((uint8_t*)u->mem)[i];
    bad += v < 0 ? uv != 0 : v >= 255 ? uv != 255 : uv != (uint8_t)floor(v);
    int64_t lv = ((int64_t*)l->mem)[i];
    bad += lv < -1000000000000000ll || lv > 1000000000000000ll;
  }
  CHECK(bad == 0);
  CHECK(saturated > 100);
  tt_free(f), tt_free(b), tt_free(e), tt_free(u), tt_free(l);

  /* a normal sample has about the requested mean and deviation */
  test_tensor_t* n = tt_new(F64, 1, (int64_t)20000);
  CHECK_OK(dlg_testing_fill(&n->t, 3, DLG_FILL_NORMAL, 2, 0.5));
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < 20000; ++i) {
    double v = ((double*)n->mem)[i];
    s += v, s2 += v * v;
  }
  double mean = s / 20000, sd = sqrt(s2 / 20000 - mean * mean);
  CHECK_NEAR(mean, 2.0, 0.02);
  CHECK_NEAR(sd, 0.5, 0.02);
  tt_free(n);
}

static void test_fill_bad_inputs(void) {
  test_tensor_t* t = tt_new(F32, 2, (int64_t)3, (int64_t)4);
  tt_poison(t);
  CHECK_STATUS(dlg_testing_fill(NULL, 1, DLG_FILL_UNIFORM, 0, 1), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, (dlg_fill_t)7, 0, 1), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_UNIFORM, 1, 0), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_UNIFORM, NAN, 1), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_NORMAL, 0, -1), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_INT, 0.5, 3), DLG_ERR_INVALID_ARGUMENT);
  t->t.dtype.bits = 16; /* float16: not a fill dtype */
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_UNIFORM, 0, 1), DLG_ERR_DTYPE);
  t->t.dtype.bits = 32;
  DLTensor c = cuda_view(t);
  CHECK_STATUS(dlg_testing_fill(&c, 1, DLG_FILL_UNIFORM, 0, 1), DLG_ERR_DEVICE);
  t->strides[0] = 0;
  CHECK_STATUS(dlg_testing_fill(&t->t, 1, DLG_FILL_UNIFORM, 0, 1), DLG_ERR_LAYOUT);
  t->strides[0] = 4;
  CHECK(tt_untouched(t));
  tt_free(t);
}

/* ---- calc_diff / count_mismatch ---- */

static void test_calc_diff(void) {
  test_tensor_t* x = tt_new(F32, 2, (int64_t)8, (int64_t)16);
  test_tensor_t* y = tt_new(F32, 2, (int64_t)8, (int64_t)16);
  test_tensor_t* yb = tt_new(BF16, 2, (int64_t)8, (int64_t)16);
  tt_fill(x, 1, -1, 1);
  memcpy(y->mem, x->mem, y->bytes);
  double d = -1;
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(d == 0.0);
  for (int64_t i = 0; i < 128; ++i) tt_set(y, i, -tt_get(x, i));
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK_NEAR(d, 2.0, 1e-12);
  /* against an independent double computation, mixed dtypes */
  for (int64_t i = 0; i < 128; ++i) tt_set(yb, i, tt_get(x, i) * 0.9 + 0.01);
  double sxy = 0, sden = 0;
  for (int64_t i = 0; i < 128; ++i) {
    double a = tt_get(x, i), b = tt_get(yb, i);
    sxy += a * b, sden += a * a + b * b;
  }
  CHECK_OK(dlg_testing_calc_diff(&x->t, &yb->t, &d));
  CHECK_NEAR(d, 1 - 2 * sxy / sden, 1e-12);
  /* both zero */
  memset(x->mem, 0, x->bytes);
  memset(y->mem, 0, y->bytes);
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(d == 0.0);
  /* -inf on both sides at the same index is skipped; anything else non-finite is +inf */
  tt_set(x, 0, 1.0), tt_set(y, 0, 1.0);
  tt_set(x, 5, -INFINITY), tt_set(y, 5, -INFINITY);
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(d == 0.0);
  tt_set(y, 5, 0.0);
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(isinf(d) && d > 0);
  tt_set(y, 5, -INFINITY), tt_set(x, 6, INFINITY), tt_set(y, 6, INFINITY);
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(isinf(d) && d > 0);
  tt_set(x, 6, 0.0), tt_set(y, 6, NAN);
  CHECK_OK(dlg_testing_calc_diff(&x->t, &y->t, &d));
  CHECK(isinf(d) && d > 0);
  tt_set(y, 6, 0.0);
  /* bad inputs */
  d = 123;
  CHECK_STATUS(dlg_testing_calc_diff(&x->t, &y->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_calc_diff(NULL, &y->t, &d), DLG_ERR_INVALID_ARGUMENT);
  y->shape[1] = 15;
  CHECK_STATUS(dlg_testing_calc_diff(&x->t, &y->t, &d), DLG_ERR_SHAPE);
  y->shape[1] = 16;
  y->t.ndim = 1;
  CHECK_STATUS(dlg_testing_calc_diff(&x->t, &y->t, &d), DLG_ERR_SHAPE);
  y->t.ndim = 2;
  y->t.dtype.code = kDLInt;
  CHECK_STATUS(dlg_testing_calc_diff(&x->t, &y->t, &d), DLG_ERR_DTYPE);
  y->t.dtype.code = kDLFloat;
  DLTensor xc = cuda_view(x);
  CHECK_STATUS(dlg_testing_calc_diff(&xc, &y->t, &d), DLG_ERR_DEVICE);
  CHECK(d == 123);
  tt_free(x), tt_free(y), tt_free(yb);
}

static void test_count_mismatch(void) {
  int64_t shape[2] = {5, 7}, colmajor[2] = {1, 6};
  test_tensor_t* a = tt_new_strided(BF16, 2, shape, NULL);
  test_tensor_t* b = tt_new_strided(BF16, 2, shape, colmajor);
  tt_fill(a, 4, -2, 2);
  tt_fill(b, 4, -2, 2);
  int64_t n = -1;
  CHECK_OK(dlg_testing_count_mismatch(&a->t, &b->t, &n));
  CHECK(n == 0);
  ((uint16_t*)b->mem)[0] ^= 1;      /* (0, 0) */
  ((uint16_t*)b->mem)[6 + 2] ^= 0x8000; /* (2, 1) */
  CHECK_OK(dlg_testing_count_mismatch(&a->t, &b->t, &n));
  CHECK(n == 2);
  /* bad inputs */
  n = 77;
  CHECK_STATUS(dlg_testing_count_mismatch(&a->t, &b->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_count_mismatch(&a->t, NULL, &n), DLG_ERR_INVALID_ARGUMENT);
  b->t.dtype.code = kDLFloat;
  CHECK_STATUS(dlg_testing_count_mismatch(&a->t, &b->t, &n), DLG_ERR_DTYPE);
  b->t.dtype.code = kDLBfloat;
  b->shape[0] = 4;
  CHECK_STATUS(dlg_testing_count_mismatch(&a->t, &b->t, &n), DLG_ERR_SHAPE);
  b->shape[0] = 5;
  DLTensor bc = cuda_view(b);
  CHECK_STATUS(dlg_testing_count_mismatch(&a->t, &bc, &n), DLG_ERR_DEVICE);
  CHECK(n == 77);
  tt_free(a), tt_free(b);
}

/* ---- poison, copies, memory ---- */

static void test_poison(void) {
  int64_t shape[2] = {3, 4}, strides[2] = {6, 1};
  test_tensor_t* t = tt_new_strided(F32, 2, shape, strides);
  memset(t->mem, 0, t->bytes);
  CHECK_OK(dlg_testing_poison(g_ctx, &t->t, 0x5A));
  CHECK_OK(dlg_testing_poison(NULL, &t->t, 0x5A)); /* CPU tensors need no context */
  int bad = 0;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 6; ++c) {
      int64_t idx = r * 6 + c;
      if ((size_t)(idx * 4) >= t->bytes) continue;
      const unsigned char* p = (const unsigned char*)t->mem + idx * 4;
      unsigned want = c < 4 ? 0x5A : 0; /* gaps stay */
      for (int k = 0; k < 4; ++k) bad += p[k] != want;
    }
  CHECK(bad == 0);
  tt_poison(t);
  CHECK_STATUS(dlg_testing_poison(g_ctx, &t->t, 256), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_poison(g_ctx, &t->t, -1), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_testing_poison(g_ctx, NULL, 0), DLG_ERR_INVALID_ARGUMENT);
  DLTensor c = cuda_view(t);
  CHECK_STATUS(dlg_testing_poison(g_ctx, &c, 0), DLG_ERR_DEVICE);
  CHECK_STATUS(dlg_testing_poison(NULL, &c, 0), DLG_ERR_INVALID_ARGUMENT);
  c.device.device_id = 1;
  CHECK_STATUS(dlg_testing_poison(g_gpu_ctx, &c, 0), DLG_ERR_DEVICE);
  t->t.dtype.bits = 12;
  CHECK_STATUS(dlg_testing_poison(g_ctx, &t->t, 0), DLG_ERR_DTYPE);
  t->t.dtype.bits = 32;
  CHECK(tt_untouched(t));
  tt_free(t);
}

static void test_tensor_copy(void) {
  int64_t shape[3] = {3, 4, 5}, odd[3] = {1, 3 * 5 + 1, 3};
  const int dt[][2] = {{BF16}, {I64}, {E4M3}};
  for (int k = 0; k < 3; ++k) {
    test_tensor_t* src = tt_new_strided(dt[k][0], dt[k][1], 3, shape, odd);
    test_tensor_t* dst = tt_new_strided(dt[k][0], dt[k][1], 3, shape, NULL);
    dlg_fill_t dist = dt[k][0] == kDLInt ? DLG_FILL_INT : DLG_FILL_UNIFORM;
    CHECK_OK(dlg_testing_fill(&src->t, 9, dist, -50, 50));
    CHECK_OK(dlg_tensor_copy(g_ctx, &src->t, &dst->t));
    int64_t n = -1;
    CHECK_OK(dlg_testing_count_mismatch(&src->t, &dst->t, &n));
    CHECK(n == 0);
    CHECK_OK(dlg_tensor_copy(NULL, &dst->t, &dst->t)); /* same view: nothing to do */
    tt_free(src), tt_free(dst);
  }
  test_tensor_t* a = tt_new(F32, 2, (int64_t)4, (int64_t)4);
  test_tensor_t* b = tt_new(F32, 2, (int64_t)4, (int64_t)4);
  tt_fill(a, 2, 0, 1);
  tt_poison(b);
  CHECK_STATUS(dlg_tensor_copy(g_ctx, NULL, &b->t), DLG_ERR_INVALID_ARGUMENT);
  b->t.dtype.code = kDLInt;
  CHECK_STATUS(dlg_tensor_copy(g_ctx, &a->t, &b->t), DLG_ERR_DTYPE);
  b->t.dtype.code = kDLFloat;
  b->shape[1] = 3;
  CHECK_STATUS(dlg_tensor_copy(g_ctx, &a->t, &b->t), DLG_ERR_SHAPE);
  b->shape[1] = 4;
  b->strides[0] = 0;
  CHECK_STATUS(dlg_tensor_copy(g_ctx, &a->t, &b->t), DLG_ERR_LAYOUT);
  b->strides[0] = 4;
  DLTensor shifted = b->t;
  shifted.data = (float*)a->mem + 1;
  CHECK_STATUS(dlg_tensor_copy(g_ctx, &a->t, &shifted), DLG_ERR_INVALID_ARGUMENT);
  DLTensor bc = cuda_view(b);
  CHECK_STATUS(dlg_tensor_copy(g_ctx, &a->t, &bc), DLG_ERR_DEVICE);
  CHECK_STATUS(dlg_tensor_copy(NULL, &a->t, &bc), DLG_ERR_INVALID_ARGUMENT);
  CHECK(tt_untouched(b));
  tt_free(a), tt_free(b);
}

static void test_memory_calls(void) {
  void* p = (void*)1;
  CHECK_STATUS(dlg_device_alloc(g_ctx, 64, &p), DLG_ERR_DEVICE);
  CHECK(p == NULL);
  CHECK_STATUS(dlg_device_alloc(NULL, 64, &p), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_device_alloc(g_gpu_ctx, 64, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_OK(dlg_device_alloc(g_gpu_ctx, 0, &p));
  CHECK(p == NULL);
  CHECK_OK(dlg_device_free(g_ctx, NULL));
  CHECK_STATUS(dlg_device_free(g_ctx, (void*)&p), DLG_ERR_DEVICE);
  CHECK_STATUS(dlg_device_free(NULL, (void*)&p), DLG_ERR_INVALID_ARGUMENT);
  char src[32], dst[32];
  for (int i = 0; i < 32; ++i) src[i] = (char)i, dst[i] = 0;
  CHECK_OK(dlg_memcpy(g_ctx, dst, src, 32));
  CHECK(memcmp(src, dst, 32) == 0);
  memset(dst, 0, 32);
  CHECK_OK(dlg_memcpy(g_gpu_ctx, dst, src, 32)); /* host to host, driver or not */
  CHECK(memcmp(src, dst, 32) == 0);
  CHECK_OK(dlg_memcpy(g_ctx, NULL, src, 0));
  CHECK_STATUS(dlg_memcpy(g_ctx, NULL, src, 4), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_memcpy(g_ctx, dst, NULL, 4), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_memcpy(NULL, dst, src, 4), DLG_ERR_INVALID_ARGUMENT);
  CHECK_OK(dlg_stream_synchronize(g_ctx, NULL));
  CHECK_STATUS(dlg_stream_synchronize(NULL, NULL), DLG_ERR_INVALID_ARGUMENT);
  dlg_runtime_info_t info;
  dlg_runtime_info(&info);
  if (!info.driver_found || info.device_count == 0) {
    CHECK_STATUS(dlg_device_alloc(g_gpu_ctx, 64, &p), DLG_ERR_NO_DRIVER);
    CHECK_STATUS(dlg_stream_synchronize(g_gpu_ctx, NULL), DLG_ERR_NO_DRIVER);
  }
}

int main(void) {
  CHECK_OK(dlg_context_create(-1, &g_ctx));
  CHECK_OK(dlg_context_create(0, &g_gpu_ctx));
  test_fill_known_answers();
  test_fill_stride_independent();
  test_fill_dtypes();
  test_fill_bad_inputs();
  test_calc_diff();
  test_count_mismatch();
  test_poison();
  test_tensor_copy();
  test_memory_calls();
  dlg_context_destroy(g_ctx);
  dlg_context_destroy(g_gpu_ctx);
  return dlg_test_finish("testing_test");
}
