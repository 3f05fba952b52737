/* FP8 casts, scale layouts and UE8M0 packing against references written here: scales
 * recomputed from amax, quantised values by a brute-force nearest-e4m3 search over the
 * harness's own decoder, round trips within FP8 precision, tails, zero blocks, strided
 * (TMA-aligned MN-major) scales, and bad inputs that must leave outputs alone. */
#include "dlg_test.h"

#define F32 kDLFloat, 32
#define BF16 kDLBfloat, 16
#define E4M3 kDLFloat8_e4m3fn, 8
#define I32 kDLInt, 32

static dlg_context_t* g_ctx;
static dlg_context_t* g_gpu_ctx;
/* 1 when a CUDA driver and device exist. The GPU-context checks below use host memory
 * dressed as CUDA tensors: validation must pass, then the GPU path needs the driver, so
 * without one (CI) they get DLG_ERR_NO_DRIVER; with one they are skipped (the kernels would
 * read host memory; the device runs are the conformance suite's job). */
static int g_have_driver;
#define GPU_PATH_NEEDS_DRIVER(call) \
  do {                              \
    if (!g_have_driver) CHECK_STATUS(call, DLG_ERR_NO_DRIVER); \
  } while (0)

static DLTensor cuda_view(const test_tensor_t* t) {
  DLTensor v = t->t;
  v.device.device_type = kDLCUDA;
  v.device.device_id = 0;
  return v;
}

/* Nearest finite e4m3fn value to v, ties to the even code, saturating at ±448. */
static double nearest_e4m3(double v) {
  double a = fabs(v), best = 0, best_err = INFINITY;
  int best_code = 0;
  for (int code = 0; code <= 0x7E; ++code) {
    double c = test_e4m3_to_double((uint8_t)code), err = fabs(c - a);
    if (err < best_err || (err == best_err && (code & 1) == 0 && (best_code & 1))) {
      best = c, best_err = err, best_code = code;
    }
  }
  return v < 0 ? -best : best;
}

/* Smallest power of two >= s (s > 0). */
static double pow2_ceil(double s) {
  int e;
  double m = frexp(s, &e);
  return m == 0.5 ? s : ldexp(1.0, e);
}

static int is_pow2(double s) {
  int e;
  return s > 0 && frexp(s, &e) == 0.5;
}

static int64_t idx2(const test_tensor_t* t, int64_t i, int64_t j) {
  return i * t->strides[0] + j * t->strides[1];
}

/* Checks out/sf of a tiled cast of 2-D x (tiles bm × 128). Returns the bad count. */
static int64_t check_tiles(const test_tensor_t* x, const test_tensor_t* out,
                           const test_tensor_t* sf, int64_t bm, int ue8m0) {
  int64_t m = x->shape[0], k = x->shape[1], bad = 0;
  for (int64_t r0 = 0; r0 < m; r0 += bm)
    for (int64_t c0 = 0; c0 < k; c0 += 128) {
      int64_t r1 = r0 + bm < m ? r0 + bm : m, c1 = c0 + 128 < k ? c0 + 128 : k;
      double amax = 0;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) amax = fmax(amax, fabs(tt_get(x, idx2(x, r, c))));
      float want_sf = amax == 0 ? 1.0f : (float)amax / 448.0f;
      if (ue8m0 && amax != 0) want_sf = (float)pow2_ceil(want_sf);
      double got_sf = tt_get(sf, idx2(sf, r0 / bm, c0 / 128));
      if (got_sf != want_sf || (ue8m0 && !is_pow2(got_sf))) {
        if (!bad)
          fprintf(stderr, "sf tile (%lld, %lld): got %.9g want %.9g\n", (long long)(r0 / bm),
                  (long long)(c0 / 128), got_sf, (double)want_sf);
        ++bad;
        continue;
      }
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          double xv = tt_get(x, idx2(x, r, c));
          double want = nearest_e4m3((float)(xv / want_sf));
          double got = tt_get(out, idx2(out, r, c));
          /* round trip: within half an e4m3 ulp (relative 2^-4) or the subnormal step */
          double deq = got * got_sf;
          int ok = got == want && fabs(deq - xv) <= fabs(xv) * 0x1p-4 + got_sf * 0x1p-10;
          if (!ok && !bad)
            fprintf(stderr, "out (%lld, %lld): x %.9g got %.9g want %.9g (sf %.9g)\n",
                    (long long)r, (long long)c, xv, got, want, got_sf);
          bad += !ok;
        }
    }
  return bad;
}

/* x [m, k] (padded rows when x_pad), sf MN-major TMA-aligned when sf_mn_major. */
static void test_cast_tiles(int64_t m, int64_t k, int64_t bm, int bf16, int ue8m0, int x_pad,
                            int sf_mn_major, uint64_t seed) {
  int64_t xs[2] = {k + (x_pad ? 5 : 0), 1}, shape[2] = {m, k};
  test_tensor_t* x = tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, shape, xs);
  tt_fill(x, seed, -30, 30);
  /* a zero tile, and a row of tiny values */
  for (int64_t c = 0; c < (k < 128 ? k : 128); ++c) tt_set(x, idx2(x, m - 1, c), 0.0);
  if (bm > 1)
    for (int64_t r = (m - 1) / bm * bm; r < m; ++r)
      for (int64_t c = 0; c < (k < 128 ? k : 128); ++c) tt_set(x, idx2(x, r, c), 0.0);
  if (m > 2)
    for (int64_t c = 0; c < k; ++c) tt_set(x, idx2(x, 1, c), tt_get(x, idx2(x, 1, c)) * 1e-5);
  test_tensor_t* out = tt_new(E4M3, 2, m, k);
  int64_t sm = bm == 1 ? m : (m + 127) / 128, kb = (k + 127) / 128;
  int64_t sshape[2] = {sm, kb}, sstr[2] = {1, dlg_tma_aligned_size(sm, 4)};
  test_tensor_t* sf = tt_new_strided(F32, 2, sshape, sf_mn_major ? sstr : NULL);
  tt_poison(out);
  tt_poison(sf);
  if (bm == 1) CHECK_OK(dlg_cast_fp8_per_token(g_ctx, &x->t, ue8m0, &out->t, &sf->t, NULL));
  else CHECK_OK(dlg_cast_fp8_per_block(g_ctx, &x->t, ue8m0, &out->t, &sf->t, NULL));
  int64_t bad = check_tiles(x, out, sf, bm, ue8m0);
  /* the TMA padding rows of the MN-major sf stay untouched */
  if (sf_mn_major)
    for (int64_t j = 0; j < kb; ++j)
      for (int64_t i = sm; i < sstr[1] && (j + 1 < kb); ++i) {
        const unsigned char* p = (const unsigned char*)sf->mem + (i + j * sstr[1]) * 4;
        bad += p[0] != 0xA5 || p[3] != 0xA5;
      }
  if (bad)
    fprintf(stderr, "cast m=%lld k=%lld bm=%lld bf16=%d ue8m0=%d: %lld bad\n", (long long)m,
            (long long)k, (long long)bm, bf16, ue8m0, (long long)bad);
  CHECK(bad == 0);
  tt_free(x);
  tt_free(out);
  tt_free(sf);
}

typedef dlg_status_t (*cast_fn)(dlg_context_t*, const DLTensor*, int, DLTensor*, DLTensor*,
                                void*);

static void test_cast_bad_inputs(cast_fn fn, int64_t bm) {
  int64_t m = 130, k = 200, sm = bm == 1 ? m : 2;
  test_tensor_t* x = tt_new(F32, 2, m, k);
  test_tensor_t* out = tt_new(E4M3, 2, m, k);
  test_tensor_t* sf = tt_new(F32, 2, sm, (int64_t)2);
  tt_fill(x, 5, -1, 1);
  tt_poison(out);
  tt_poison(sf);
  CHECK_STATUS(fn(NULL, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(fn(g_ctx, NULL, 0, &out->t, &sf->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  x->t.dtype.code = kDLInt;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_DTYPE);
  x->t.dtype.code = kDLFloat;
  out->t.dtype.code = kDLUInt;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_DTYPE);
  out->t.dtype.code = kDLFloat8_e4m3fn;
  x->t.ndim = 1;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  x->t.ndim = 2;
  out->shape[1] = k - 1;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  out->shape[1] = k;
  sf->shape[0] = bm == 1 ? 2 : m; /* the other cast's scale shape */
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  sf->shape[0] = sm;
  sf->shape[1] = 1;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  sf->shape[1] = 2;
  sf->t.dtype.code = kDLBfloat;
  sf->t.dtype.bits = 16;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_DTYPE);
  sf->t.dtype.code = kDLFloat;
  sf->t.dtype.bits = 32;
  out->strides[0] = 0;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf->t, NULL), DLG_ERR_LAYOUT);
  out->strides[0] = k;
  DLTensor sf_in_out = sf->t;
  sf_in_out.data = out->mem; /* scales on top of the quantised values */
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &out->t, &sf_in_out, NULL), DLG_ERR_INVALID_ARGUMENT);
  DLTensor x_as_out = out->t;
  x_as_out.data = x->mem;
  CHECK_STATUS(fn(g_ctx, &x->t, 0, &x_as_out, &sf->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  DLTensor xc = cuda_view(x), oc = cuda_view(out), sc = cuda_view(sf);
  CHECK_STATUS(fn(g_ctx, &xc, 0, &out->t, &sf->t, NULL), DLG_ERR_DEVICE);
  CHECK_STATUS(fn(g_ctx, &xc, 0, &oc, &sc, NULL), DLG_ERR_DEVICE);
  GPU_PATH_NEEDS_DRIVER(fn(g_gpu_ctx, &xc, 0, &oc, &sc, NULL));
  CHECK(tt_untouched(out));
  CHECK(tt_untouched(sf));
  tt_free(x);
  tt_free(out);
  tt_free(sf);
}

static void test_per_tensor(int bf16, int zero, uint64_t seed) {
  test_tensor_t* x = tt_new(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 3, (int64_t)3,
                            (int64_t)5, (int64_t)70);
  if (!zero) tt_fill(x, seed, -100, 100);
  test_tensor_t* out = tt_new(E4M3, 3, (int64_t)3, (int64_t)5, (int64_t)70);
  test_tensor_t* sf = tt_new(F32, 0);
  tt_poison(out);
  tt_poison(sf);
  CHECK_OK(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf->t, NULL));
  int64_t n = 3 * 5 * 70;
  double amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = fmax(amax, fabs(tt_get(x, i)));
  float want_sf = amax == 0 ? 1.0f : (float)amax / 448.0f;
  CHECK(tt_get(sf, 0) == want_sf);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    double xv = tt_get(x, i), got = tt_get(out, i);
    bad += got != nearest_e4m3((float)(xv / want_sf));
    bad += fabs(got * want_sf - xv) > fabs(xv) * 0x1p-4 + want_sf * 0x1p-10;
  }
  CHECK(bad == 0);

  /* bad inputs */
  tt_poison(out);
  tt_poison(sf);
  CHECK_STATUS(dlg_cast_fp8_per_tensor(NULL, &x->t, &out->t, &sf->t, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  test_tensor_t* sf2 = tt_new(F32, 1, (int64_t)2);
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf2->t, NULL), DLG_ERR_SHAPE);
  tt_free(sf2);
  out->shape[2] = 69;
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  out->shape[2] = 70;
  out->t.ndim = 2;
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf->t, NULL), DLG_ERR_SHAPE);
  out->t.ndim = 3;
  sf->t.dtype.code = kDLInt;
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf->t, NULL), DLG_ERR_DTYPE);
  sf->t.dtype.code = kDLFloat;
  x->t.dtype.code = kDLFloat8_e4m3fn;
  x->t.dtype.bits = 8;
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf->t, NULL), DLG_ERR_DTYPE);
  x->t.dtype.code = bf16 ? kDLBfloat : kDLFloat;
  x->t.dtype.bits = bf16 ? 16 : 32;
  DLTensor sf_alias = sf->t;
  sf_alias.data = out->mem;
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &out->t, &sf_alias, NULL),
               DLG_ERR_INVALID_ARGUMENT);
  DLTensor xc = cuda_view(x), oc = cuda_view(out), sc = cuda_view(sf);
  CHECK_STATUS(dlg_cast_fp8_per_tensor(g_ctx, &x->t, &oc, &sf->t, NULL), DLG_ERR_DEVICE);
  GPU_PATH_NEEDS_DRIVER(dlg_cast_fp8_per_tensor(g_gpu_ctx, &xc, &oc, &sc, NULL));
  CHECK(tt_untouched(out));
  CHECK(tt_untouched(sf));
  tt_free(x);
  tt_free(out);
  tt_free(sf);
}

/* ---- transform_sf ---- */

static void test_transform_sf(void) {
  for (int batched = 0; batched <= 1; ++batched) {
    int64_t g = batched ? 3 : 1, mn = 37, kb = 5, tma = dlg_tma_aligned_size(mn, 4);
    CHECK(tma == 40);
    int64_t shape[3] = {g, mn, kb};
    int64_t out_str[3] = {tma * kb, 1, tma};
    test_tensor_t* in = tt_new_strided(F32, batched ? 3 : 2, batched ? shape : shape + 1, NULL);
    test_tensor_t* out =
        tt_new_strided(F32, batched ? 3 : 2, batched ? shape : shape + 1, batched ? out_str : out_str + 1);
    tt_fill(in, 11, 0.001, 4);
    tt_poison(out);
    CHECK_OK(dlg_transform_sf(g_ctx, &in->t, &out->t, NULL));
    int64_t bad = 0;
    for (int64_t b = 0; b < g; ++b)
      for (int64_t i = 0; i < mn; ++i)
        for (int64_t j = 0; j < kb; ++j)
          bad += tt_get(in, (b * mn + i) * kb + j) != tt_get(out, b * tma * kb + i + j * tma);
    /* padding rows mn..tma of each column stay poisoned (except past the allocation end) */
    for (int64_t b = 0; b < g; ++b)
      for (int64_t j = 0; j < kb; ++j)
        for (int64_t i = mn; i < tma; ++i) {
          int64_t idx = b * tma * kb + i + j * tma;
          if ((size_t)(idx * 4) >= out->bytes) continue;
          const unsigned char* p = (const unsigned char*)out->mem + idx * 4;
          bad += p[0] != 0xA5;
        }
    CHECK(bad == 0);
    /* in place is a no-op */
    CHECK_OK(dlg_transform_sf(g_ctx, &out->t, &out->t, NULL));
    tt_free(in);
    tt_free(out);
  }
  /* bad inputs */
  test_tensor_t* in = tt_new(F32, 2, (int64_t)8, (int64_t)3);
  test_tensor_t* out = tt_new(F32, 2, (int64_t)8, (int64_t)3);
  tt_poison(out);
  CHECK_STATUS(dlg_transform_sf(NULL, &in->t, &out->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  out->shape[0] = 7;
  CHECK_STATUS(dlg_transform_sf(g_ctx, &in->t, &out->t, NULL), DLG_ERR_SHAPE);
  out->shape[0] = 8;
  in->t.ndim = 1;
  out->t.ndim = 1;
  CHECK_STATUS(dlg_transform_sf(g_ctx, &in->t, &out->t, NULL), DLG_ERR_SHAPE);
  in->t.ndim = 2;
  out->t.ndim = 2;
  out->t.dtype.code = kDLInt;
  CHECK_STATUS(dlg_transform_sf(g_ctx, &in->t, &out->t, NULL), DLG_ERR_DTYPE);
  out->t.dtype.code = kDLFloat;
  out->strides[1] = 0;
  CHECK_STATUS(dlg_transform_sf(g_ctx, &in->t, &out->t, NULL), DLG_ERR_LAYOUT);
  out->strides[1] = 1;
  DLTensor shifted = out->t;
  shifted.data = (char*)in->mem + 4; /* overlaps sf_in, not the same view */
  CHECK_STATUS(dlg_transform_sf(g_ctx, &in->t, &shifted, NULL), DLG_ERR_INVALID_ARGUMENT);
  DLTensor ic = cuda_view(in), oc = cuda_view(out);
  CHECK_STATUS(dlg_transform_sf(g_ctx, &ic, &out->t, NULL), DLG_ERR_DEVICE);
  GPU_PATH_NEEDS_DRIVER(dlg_transform_sf(g_gpu_ctx, &ic, &oc, NULL));
  CHECK(tt_untouched(out));
  tt_free(in);
  tt_free(out);
}

/* ---- pack_ue8m0 ---- */

static void test_pack(int64_t g, int64_t mn, int64_t kb, int mn_major) {
  int64_t words = (kb + 3) / 4;
  int64_t shape[3] = {g, mn, kb}, pshape[3] = {g, mn, words};
  int64_t tma = dlg_tma_aligned_size(mn, 4), pstr[3] = {tma * words, 1, tma};
  int nd = g ? 3 : 2;
  test_tensor_t* sf = tt_new_strided(F32, nd, g ? shape : shape + 1, NULL);
  test_tensor_t* packed =
      tt_new_strided(I32, nd, g ? pshape : pshape + 1, mn_major ? (g ? pstr : pstr + 1) : NULL);
  tt_fill(sf, 21 + (uint64_t)kb, 1e-6, 8);
  int64_t rows = (g ? g : 1) * mn;
  /* exact powers of two must stay */
  ((float*)sf->mem)[0] = 0.25f;
  if (kb > 1) ((float*)sf->mem)[1] = 1.0f;
  ((float*)sf->mem)[rows * kb - 1] = 0x1p-20f;
  tt_poison(packed);
  CHECK_OK(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL));
  int64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < words; ++w) {
      int64_t b = r / mn, i = r % mn;
      int64_t idx = (nd == 3 ? b * packed->strides[0] : 0) + i * packed->strides[nd - 2] +
                    w * packed->strides[nd - 1];
      uint32_t word = (uint32_t)((int32_t*)packed->mem)[idx];
      for (int j = 0; j < 4; ++j) {
        int64_t c = 4 * w + j;
        unsigned want = 0;
        if (c < kb) {
          int e;
          frexp(pow2_ceil(tt_get(sf, r * kb + c)), &e);
          want = (unsigned)(e - 1 + 127);
        }
        bad += ((word >> (8 * j)) & 0xFF) != want;
      }
    }
  CHECK(bad == 0);
  CHECK((((int32_t*)packed->mem)[0] & 0xFF) == 125); /* 0.25 = 2^-2 */
  tt_free(sf);
  tt_free(packed);
}

static void test_pack_bad_inputs(void) {
  test_tensor_t* sf = tt_new(F32, 2, (int64_t)4, (int64_t)5);
  test_tensor_t* packed = tt_new(I32, 2, (int64_t)4, (int64_t)2);
  tt_fill(sf, 3, 0.1, 1);
  tt_poison(packed);
  CHECK_STATUS(dlg_pack_ue8m0(NULL, &sf->t, &packed->t, NULL), DLG_ERR_INVALID_ARGUMENT);
  packed->shape[1] = 1;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL), DLG_ERR_SHAPE);
  packed->shape[1] = 2;
  packed->shape[0] = 3;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL), DLG_ERR_SHAPE);
  packed->shape[0] = 4;
  packed->t.dtype.code = kDLFloat;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL), DLG_ERR_DTYPE);
  packed->t.dtype.code = kDLInt;
  sf->t.dtype.code = kDLBfloat;
  sf->t.dtype.bits = 16;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL), DLG_ERR_DTYPE);
  sf->t.dtype.code = kDLFloat;
  sf->t.dtype.bits = 32;
  sf->t.ndim = 1;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &packed->t, NULL), DLG_ERR_SHAPE);
  sf->t.ndim = 2;
  DLTensor alias = packed->t;
  alias.data = sf->mem;
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sf->t, &alias, NULL), DLG_ERR_INVALID_ARGUMENT);
  DLTensor sc = cuda_view(sf), pc = cuda_view(packed);
  CHECK_STATUS(dlg_pack_ue8m0(g_ctx, &sc, &packed->t, NULL), DLG_ERR_DEVICE);
  GPU_PATH_NEEDS_DRIVER(dlg_pack_ue8m0(g_gpu_ctx, &sc, &pc, NULL));
  CHECK(tt_untouched(packed));
  tt_free(sf);
  tt_free(packed);
}

static void test_tma_aligned_size(void) {
  CHECK(dlg_tma_aligned_size(0, 4) == 0);
  CHECK(dlg_tma_aligned_size(1, 4) == 4);
  CHECK(dlg_tma_aligned_size(4, 4) == 4);
  CHECK(dlg_tma_aligned_size(5, 4) == 8);
  CHECK(dlg_tma_aligned_size(3, 2) == 8);
  CHECK(dlg_tma_aligned_size(17, 1) == 32);
  CHECK(dlg_tma_aligned_size(1, 8) == 2);
  CHECK(dlg_tma_aligned_size(4096, 4) == 4096);
  CHECK(dlg_tma_aligned_size(5, 3) == -1);
  CHECK(dlg_tma_aligned_size(5, 0) == -1);
  CHECK(dlg_tma_aligned_size(-1, 4) == -1);
  CHECK(dlg_tma_aligned_size(INT64_MAX, 8) == -1);
}

int main(void) {
  CHECK_OK(dlg_context_create(-1, &g_ctx));
  CHECK_OK(dlg_context_create(0, &g_gpu_ctx));
  dlg_device_info_t info;
  g_have_driver = dlg_context_device_info(g_gpu_ctx, &info) == DLG_OK;
  test_tma_aligned_size();
  /* m, k, tile rows, bf16, ue8m0, padded x rows, MN-major TMA-aligned sf */
  test_cast_tiles(1, 1, 1, 0, 0, 0, 0, 1);
  test_cast_tiles(3, 128, 1, 1, 1, 1, 1, 2);
  test_cast_tiles(130, 200, 1, 0, 1, 0, 1, 3);
  test_cast_tiles(67, 300, 1, 1, 0, 1, 0, 4);
  test_cast_tiles(1, 300, 128, 0, 0, 0, 0, 5);
  test_cast_tiles(130, 256, 128, 1, 1, 1, 1, 6);
  test_cast_tiles(257, 100, 128, 0, 1, 0, 0, 7);
  test_cast_tiles(200, 300, 128, 0, 0, 1, 1, 8);
  test_cast_bad_inputs(dlg_cast_fp8_per_token, 1);
  test_cast_bad_inputs(dlg_cast_fp8_per_block, 128);
  test_per_tensor(0, 0, 9);
  test_per_tensor(1, 0, 10);
  test_per_tensor(0, 1, 11);
  test_transform_sf();
  test_pack(0, 5, 1, 0);
  test_pack(0, 9, 4, 1);
  test_pack(2, 7, 5, 1);
  test_pack(3, 6, 9, 0);
  test_pack_bad_inputs();
  dlg_context_destroy(g_ctx);
  dlg_context_destroy(g_gpu_ctx);
  return dlg_test_finish("quant_test");
}
