/* testing.h: what every language's test suite shares — the seeded generator, calc_diff,
 * poison, and raw device memory / copies through core/gpu.h.
 *
 * dlg_testing_fill: THE ALGORITHM (other languages reimplement it bit for bit; changing any
 * line changes every test's inputs, so don't):
 *
 *   All integer arithmetic is on uint64 modulo 2^64.
 *     mix(z):         z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
 *                     z = (z ^ (z >> 27)) * 0x94D049BB133111EB
 *                     return z ^ (z >> 31)
 *     splitmix64(x) = mix(x + 0x9E3779B97F4A7C15)
 *     draw(n)       = splitmix64(seed ^ (n * 0x9E3779B97F4A7C15))
 *     u(n)          = (double)(draw(n) >> 11) * 2^-53          (the top 53 bits: [0, 1))
 *
 *   The element whose row-major logical index is i (0-based over the shape, whatever the
 *   strides; a 0-d tensor has the one index 0) gets the double v:
 *     UNIFORM  v = lo + (hi - lo) * u(i)        IEEE double, each operation rounded
 *                                               separately (no fused multiply-add)
 *     NORMAL   u1 = u(2i), u2 = u(2i + 1)
 *              v = lo + hi * (sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2))
 *              (mean lo, std hi; reproducible to the accuracy of the platform's log/cos)
 *     INT      v = floor(lo + (hi - lo + 1) * u(i)), then clamped to [lo, hi]
 *              (lo and hi must be integers)
 *
 *   v is stored as the tensor's dtype:
 *     float64        v
 *     float32        (float)v, round to nearest even
 *     bfloat16       (float)v, then round to nearest even to bfloat16
 *     float8_e4m3fn  (float)v, then round to nearest even to e4m3fn, saturating at ±448
 *     int32, int64, uint8   floor(v) clamped to the dtype's range
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "ref/numeric.h"
#include "ref/ref.h"
#include "validate.h"


/* ---- generator ---- */

#define DLG_GOLDEN_GAMMA UINT64_C(0x9E3779B97F4A7C15)

static uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + DLG_GOLDEN_GAMMA;
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double unit_draw(uint64_t seed, uint64_t n) {
  uint64_t bits = splitmix64(seed ^ (n * DLG_GOLDEN_GAMMA)) >> 11;
  return (double)bits * 0x1p-53;
}

static double draw_value(uint64_t seed, uint64_t i, dlg_fill_t dist, double lo, double hi) {
  if (dist == DLG_FILL_UNIFORM) {
    double span = hi - lo;
    double scaled = span * unit_draw(seed, i);
    return lo + scaled;
  }
  if (dist == DLG_FILL_NORMAL) {
    double u1 = unit_draw(seed, 2 * i), u2 = unit_draw(seed, 2 * i + 1);
    double radius = sqrt(-2.0 * log(1.0 - u1));
    double z = radius * cos(6.283185307179586 * u2);
    double scaled = hi * z;
    return lo + scaled;
  }
  double count = hi - lo + 1.0;
  double scaled = count * unit_draw(seed, i);
  double v = floor(lo + scaled);
  return v < lo ? lo : v > hi ? hi : v;
}

static double clamp_floor(double v, double lo, double hi) {
  if (v != v) return 0.0;
  v = floor(v);
  return v < lo ? lo : v > hi ? hi : v;
}

/* The dtypes fill knows how to store. */
static int fill_dtype_ok(const DLTensor* t) {
  return dlg_dtype_is(t, kDLFloat, 32) || dlg_dtype_is(t, kDLFloat, 64) ||
         dlg_dtype_is(t, DLG_DT_BF16) || dlg_dtype_is(t, DLG_DT_E4M3) ||
         dlg_dtype_is(t, DLG_DT_I32) || dlg_dtype_is(t, kDLInt, 64) || dlg_dtype_is(t, DLG_DT_U8);
}

static void store_value(const DLTensor* t, char* p, double v) {
  int code = t->dtype.code, bits = t->dtype.bits;
  if (code == kDLFloat && bits == 64) {
    memcpy(p, &v, 8);
  } else if (code == kDLFloat) {
    float f = (float)v;
    memcpy(p, &f, 4);
  } else if (code == kDLBfloat) {
    uint16_t b = dlg_f32_to_bf16((float)v);
    memcpy(p, &b, 2);
  } else if (code == kDLFloat8_e4m3fn) {
    *(uint8_t*)p = dlg_f32_to_e4m3((float)v);
  } else if (code == kDLUInt) {
    *(uint8_t*)p = (uint8_t)clamp_floor(v, 0.0, 255.0);
  } else if (bits == 32) {
    int32_t x = (int32_t)clamp_floor(v, -2147483648.0, 2147483647.0);
    memcpy(p, &x, 4);
  } else {
    double c = clamp_floor(v, -9223372036854775808.0, 9223372036854775807.0);
    int64_t x = c >= 9223372036854775807.0 ? INT64_MAX : (int64_t)c; /* 2^63 is not an int64 */
    memcpy(p, &x, 8);
  }
}

dlg_status_t dlg_testing_fill(DLTensor* t, uint64_t seed, dlg_fill_t dist, double lo, double hi) {
  DLG_TRY(dlg_check_tensor("t", t));
  if (!dlg_on_cpu(t))
    return dlg_fail(DLG_ERR_DEVICE, "t: must be a CPU tensor (fill on the host, then copy with "
                                    "dlg_tensor_copy)");
  if (!fill_dtype_ok(t))
    return dlg_fail(DLG_ERR_DTYPE,
                    "t: dtype %s not supported (float32, float64, bfloat16, float8_e4m3fn, "
                    "int32, int64, uint8)",
                    dlg_dtype_name(t->dtype.code, t->dtype.bits));
  if (!isfinite(lo) || !isfinite(hi))
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "lo, hi: must be finite, got %g, %g", lo, hi);
  switch (dist) {
    case DLG_FILL_UNIFORM:
      if (hi < lo)
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "hi: must be >= lo (%g), got %g", lo, hi);
      break;
    case DLG_FILL_NORMAL:
      if (hi < 0)
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "hi: the standard deviation must be >= 0, got %g",
                        hi);
      break;
    case DLG_FILL_INT:
      if (floor(lo) != lo || floor(hi) != hi || hi < lo || hi - lo >= 0x1p53)
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                        "lo, hi: DLG_FILL_INT needs integers lo <= hi less than 2^53 apart, got "
                        "%g, %g",
                        lo, hi);
      break;
    default:
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "dist: unknown distribution %d", (int)dist);
  }
  DLG_TRY(dlg_check_distinct_elements("t", t));
  int64_t n = dlg_tensor_numel(t), esize = t->dtype.bits / 8;
  char* base = dlg_data(t);
  for (int64_t i = 0; i < n; ++i)
    store_value(t, base + dlg_ref_elem_offset(t, i) * esize,
                draw_value(seed, (uint64_t)i, dist, lo, hi));
  return DLG_OK;
}

/* ---- comparisons ---- */

static double f16_to_double(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
  double mag;
  if (exp == 31) mag = man ? NAN : INFINITY;
  else if (exp == 0) mag = ldexp(man, -24);
  else mag = ldexp(1024 + man, exp - 25);
  return sign ? -mag : mag;
}

static int float_dtype(const DLTensor* t) {
  return dlg_dtype_is(t, kDLFloat, 32) || dlg_dtype_is(t, kDLFloat, 64) ||
         dlg_dtype_is(t, kDLFloat, 16) || dlg_dtype_is(t, DLG_DT_BF16) ||
         dlg_dtype_is(t, DLG_DT_E4M3);
}

static double load_double(const DLTensor* t, int64_t off) {
  const char* p = dlg_data(t);
  switch (t->dtype.bits) {
    case 64: {
      double v;
      memcpy(&v, p + off * 8, 8);
      return v;
    }
    case 32: {
      float v;
      memcpy(&v, p + off * 4, 4);
      return v;
    }
    case 16: {
      uint16_t v;
      memcpy(&v, p + off * 2, 2);
      return t->dtype.code == kDLBfloat ? dlg_bf16_to_f32(v) : f16_to_double(v);
    }
    default: return dlg_e4m3_to_f32(((const uint8_t*)p)[off]);
  }
}

static dlg_status_t check_pair(const DLTensor* x, const DLTensor* y) {
  DLG_TRY(dlg_check_tensor("x", x));
  DLG_TRY(dlg_check_tensor("y", y));
  if (!dlg_on_cpu(x)) return dlg_fail(DLG_ERR_DEVICE, "x: must be a CPU tensor");
  if (!dlg_on_cpu(y)) return dlg_fail(DLG_ERR_DEVICE, "y: must be a CPU tensor");
  DLG_TRY(dlg_check_ndim("y", y, x->ndim));
  for (int i = 0; i < x->ndim; ++i) DLG_TRY(dlg_check_dim("y", y, i, x->shape[i], "from x"));
  return DLG_OK;
}

dlg_status_t dlg_testing_calc_diff(const DLTensor* x, const DLTensor* y, double* out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  DLG_TRY(check_pair(x, y));
  if (!float_dtype(x))
    return dlg_fail(DLG_ERR_DTYPE, "x: expected a floating dtype, got %s",
                    dlg_dtype_name(x->dtype.code, x->dtype.bits));
  if (!float_dtype(y))
    return dlg_fail(DLG_ERR_DTYPE, "y: expected a floating dtype, got %s",
                    dlg_dtype_name(y->dtype.code, y->dtype.bits));
  double sxy = 0.0, sden = 0.0;
  int64_t n = dlg_tensor_numel(x);
  for (int64_t i = 0; i < n; ++i) {
    double a = load_double(x, dlg_ref_elem_offset(x, i));
    double b = load_double(y, dlg_ref_elem_offset(y, i));
    if (!isfinite(a) || !isfinite(b)) {
      if (a == -INFINITY && b == -INFINITY) continue; /* masked logits on both sides */
      *out = INFINITY;
      return DLG_OK;
    }
    sxy += a * b;
    sden += a * a + b * b;
  }
  *out = sden == 0.0 ? 0.0 : 1.0 - 2.0 * sxy / sden;
  return DLG_OK;
}

dlg_status_t dlg_testing_count_mismatch(const DLTensor* x, const DLTensor* y, int64_t* out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  DLG_TRY(check_pair(x, y));
  if (x->dtype.code != y->dtype.code || x->dtype.bits != y->dtype.bits)
    return dlg_fail(DLG_ERR_DTYPE, "y: expected dtype %s (as x), got %s",
                    dlg_dtype_name(x->dtype.code, x->dtype.bits),
                    dlg_dtype_name(y->dtype.code, y->dtype.bits));
  int64_t n = dlg_tensor_numel(x), esize = x->dtype.bits / 8, count = 0;
  const char *px = dlg_data(x), *py = dlg_data(y);
  for (int64_t i = 0; i < n; ++i)
    count += memcmp(px + dlg_ref_elem_offset(x, i) * esize, py + dlg_ref_elem_offset(y, i) * esize,
                    (size_t)esize) != 0;
  *out = count;
  return DLG_OK;
}

/* ---- layouts ---- */

/* Strides equal to the compact row-major ones (dims of extent 1 may have any stride). */
static int is_row_major(const DLTensor* t) {
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; --d) {
    if (t->shape[d] != 1 && dlg_stride(t, d) != expect) return 0;
    expect *= t->shape[d];
  }
  return 1;
}

/* Every element's bytes are a contiguous block of dlg_tensor_span_bytes() with no gaps. */
static int is_dense(const DLTensor* t) {
  if (dlg_tensor_numel(t) == 0) return 1;
  if (!dlg_distinct_elements(t)) return 0;
  return dlg_tensor_span_bytes(t) == dlg_tensor_numel(t) * (t->dtype.bits / 8);
}

/* Runs of consecutive bytes: the innermost dim when its stride is 1, else single elements. */
static int64_t run_elems(const DLTensor* t) {
  if (t->ndim == 0) return 1;
  int64_t inner = t->shape[t->ndim - 1];
  return dlg_stride(t, t->ndim - 1) == 1 && inner > 0 ? inner : 1;
}


/* ---- poison ---- */

dlg_status_t dlg_testing_poison(dlg_context_t* ctx, DLTensor* t, int byte) {
  DLG_TRY(dlg_check_tensor("t", t));
  if (byte < 0 || byte > 255)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "byte: expected 0..255, got %d", byte);
  DLG_TRY(dlg_check_context_device(ctx, "t", t));
  int64_t n = dlg_tensor_numel(t), esize = t->dtype.bits / 8;
  if (n == 0) return DLG_OK;
  char* base = dlg_data(t);
  /* Only the elements' bytes: gaps between strided rows may belong to someone else. */
  if (is_dense(t)) {
    if (dlg_on_cpu(t)) {
      memset(base, byte, (size_t)dlg_tensor_span_bytes(t));
      return DLG_OK;
    }
    DLG_TRY(dlg_gpu_memset(ctx, base, byte, (size_t)dlg_tensor_span_bytes(t), NULL));
    return dlg_gpu_sync(ctx, NULL);
  }
  int64_t run = run_elems(t);
  for (int64_t i = 0; i < n; i += run) {
    char* p = base + dlg_ref_elem_offset(t, i) * esize;
    if (dlg_on_cpu(t)) memset(p, byte, (size_t)(run * esize));
    else DLG_TRY(dlg_gpu_memset(ctx, p, byte, (size_t)(run * esize), NULL));
  }
  return dlg_on_cpu(t) ? DLG_OK : dlg_gpu_sync(ctx, NULL);
}

/* ---- device memory ---- */

static dlg_status_t check_gpu_ctx(dlg_context_t* ctx) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (ctx->device < 0)
    return dlg_fail(DLG_ERR_DEVICE, "ctx: a CPU-only context (device -1) has no device memory");
  return DLG_OK;
}

dlg_status_t dlg_device_alloc(dlg_context_t* ctx, size_t bytes, void** out_ptr) {
  if (!out_ptr) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out_ptr: must not be NULL");
  *out_ptr = NULL;
  DLG_TRY(check_gpu_ctx(ctx));
  if (bytes == 0) return DLG_OK; /* nothing to hold: NULL, which dlg_device_free accepts */
  return dlg_gpu_alloc(ctx, bytes, out_ptr);
}

dlg_status_t dlg_device_free(dlg_context_t* ctx, void* ptr) {
  if (!ptr) return DLG_OK;
  DLG_TRY(check_gpu_ctx(ctx));
  return dlg_gpu_free(ctx, ptr);
}

dlg_status_t dlg_memcpy(dlg_context_t* ctx, void* dst, const void* src, size_t bytes) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (bytes == 0) return DLG_OK;
  if (!dst) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "dst: must not be NULL");
  if (!src) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "src: must not be NULL");
  /* A CPU-only context knows only host memory; without a driver no device memory can exist
   * in this process either: both cases are host-to-host copies. */
  if (ctx->device < 0) {
    memmove(dst, src, bytes);
    return DLG_OK;
  }
  dlg_status_t st = dlg_gpu_memcpy(ctx, dst, src, bytes);
  if (st == DLG_ERR_NO_DRIVER) {
    memmove(dst, src, bytes);
    return DLG_OK;
  }
  return st;
}

dlg_status_t dlg_stream_synchronize(dlg_context_t* ctx, void* stream) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (ctx->device < 0) return DLG_OK; /* the CPU path is synchronous */
  return dlg_gpu_sync(ctx, stream);
}

/* ---- tensor copy ---- */

/* Element i of src -> element i of dst, both in host memory. */
static void copy_elements(const DLTensor* src, const char* sbase, const DLTensor* dst,
                          char* dbase, int64_t esize) {
  int64_t n = dlg_tensor_numel(src);
  for (int64_t i = 0; i < n; ++i)
    memcpy(dbase + dlg_ref_elem_offset(dst, i) * esize,
           sbase + dlg_ref_elem_offset(src, i) * esize, (size_t)esize);
}

/* A compact row-major host view of `like`'s shape and dtype over `data`. */
static DLTensor compact_view(const DLTensor* like, void* data) {
  DLTensor v = *like;
  v.data = data;
  v.byte_offset = 0;
  v.strides = NULL;
  v.device.device_type = kDLCPU;
  v.device.device_id = 0;
  return v;
}

static dlg_status_t copy_across(dlg_context_t* ctx, const DLTensor* src, DLTensor* dst) {
  int64_t n = dlg_tensor_numel(src), esize = src->dtype.bits / 8;
  size_t compact_bytes = (size_t)(n * esize);
  if (is_row_major(src) && is_row_major(dst))
    return dlg_gpu_memcpy(ctx, dlg_data(dst), dlg_data(src), compact_bytes);
  /* Stage through a compact row-major host buffer. */
  char* packed = malloc(compact_bytes);
  char* span = NULL;
  dlg_status_t st = DLG_OK;
  if (!packed) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "tensor_copy: staging allocation failed");
  DLTensor pv = compact_view(src, packed);
  if (dlg_on_cpu(src)) {
    copy_elements(src, dlg_data(src), &pv, packed, esize);
  } else if (is_row_major(src)) {
    st = dlg_gpu_memcpy(ctx, packed, dlg_data(src), compact_bytes);
  } else {
    /* Reading the gaps between elements is harmless: fetch the whole span, then gather. */
    size_t span_bytes = (size_t)dlg_tensor_span_bytes(src);
    span = malloc(span_bytes);
    if (!span) st = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "tensor_copy: staging allocation failed");
    else st = dlg_gpu_memcpy(ctx, span, dlg_data(src), span_bytes);
    if (st == DLG_OK) copy_elements(src, span, &pv, packed, esize);
  }
  if (st == DLG_OK) {
    if (dlg_on_cpu(dst)) {
      copy_elements(&pv, packed, dst, dlg_data(dst), esize);
    } else if (is_row_major(dst)) {
      st = dlg_gpu_memcpy(ctx, dlg_data(dst), packed, compact_bytes);
    } else {
      /* Writing must not touch the gaps: one copy per run of consecutive elements. */
      int64_t run = run_elems(dst);
      for (int64_t i = 0; i < n && st == DLG_OK; i += run)
        st = dlg_gpu_memcpy(ctx, dlg_data(dst) + dlg_ref_elem_offset(dst, i) * esize,
                            packed + i * esize, (size_t)(run * esize));
    }
  }
  free(span);
  free(packed);
  return st;
}

dlg_status_t dlg_tensor_copy(dlg_context_t* ctx, const DLTensor* src, DLTensor* dst) {
  DLG_TRY(dlg_check_tensor("src", src));
  DLG_TRY(dlg_check_tensor("dst", dst));
  if (src->dtype.code != dst->dtype.code || src->dtype.bits != dst->dtype.bits)
    return dlg_fail(DLG_ERR_DTYPE, "dst: expected dtype %s (as src), got %s",
                    dlg_dtype_name(src->dtype.code, src->dtype.bits),
                    dlg_dtype_name(dst->dtype.code, dst->dtype.bits));
  DLG_TRY(dlg_check_ndim("dst", dst, src->ndim));
  for (int i = 0; i < src->ndim; ++i) DLG_TRY(dlg_check_dim("dst", dst, i, src->shape[i], "from src"));
  DLG_TRY(dlg_check_context_device(ctx, "src", src));
  DLG_TRY(dlg_check_context_device(ctx, "dst", dst));
  DLG_TRY(dlg_check_distinct_elements("dst", dst));
  if (dlg_same_view(src, dst) && src->device.device_type == dst->device.device_type) return DLG_OK;
  DLG_TRY(dlg_check_no_overlap("dst", dst, "src", src));
  if (dlg_tensor_numel(src) == 0) return DLG_OK;
  if (dlg_on_cpu(src) && dlg_on_cpu(dst)) {
    copy_elements(src, dlg_data(src), dst, dlg_data(dst), src->dtype.bits / 8);
    return DLG_OK;
  }
  return copy_across(ctx, src, dst);
}
