/* The shared test harness. Decoders here are written independently of core/ref so that a
 * bug in the library's conversions cannot hide in its own tests. */
#include "dlg_test.h"
#include <stdarg.h>

int dlg_test_failures = 0;
int dlg_test_checks = 0;

int dlg_test_finish(const char* name) {
  int passed = dlg_test_checks - dlg_test_failures;
  printf("%s: %d passed, %d failed\n", name, passed, dlg_test_failures);
  return dlg_test_failures ? 1 : 0;
}

static size_t elem_bytes(int bits) { return (size_t)(bits + 7) / 8; }

test_tensor_t* tt_new_strided(int code, int bits, int ndim, const int64_t* shape,
                              const int64_t* strides) {
  test_tensor_t* t = calloc(1, sizeof *t);
  int64_t span = 1, numel = 1;
  int64_t run = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    t->shape[i] = shape[i];
    t->strides[i] = strides ? strides[i] : run;
    run *= shape[i] ? shape[i] : 1;
    numel *= shape[i];
  }
  if (numel) {
    span = 1;
    for (int i = 0; i < ndim; ++i) span += (shape[i] - 1) * t->strides[i];
  } else {
    span = 0;
  }
  t->bytes = (size_t)span * elem_bytes(bits);
  size_t alloc = (t->bytes + 64 + 63) / 64 * 64;
  t->mem = aligned_alloc(64, alloc);
  memset(t->mem, 0, alloc);
  t->t.data = t->mem;
  t->t.device.device_type = kDLCPU;
  t->t.ndim = ndim;
  t->t.dtype.code = (uint8_t)code;
  t->t.dtype.bits = (uint8_t)bits;
  t->t.dtype.lanes = 1;
  t->t.shape = t->shape;
  t->t.strides = t->strides;
  return t;
}

test_tensor_t* tt_new(int code, int bits, int ndim, ...) {
  int64_t shape[8];
  va_list ap;
  va_start(ap, ndim);
  for (int i = 0; i < ndim; ++i) shape[i] = va_arg(ap, int64_t);
  va_end(ap);
  return tt_new_strided(code, bits, ndim, shape, NULL);
}

void tt_free(test_tensor_t* t) {
  if (!t) return;
  free(t->mem);
  free(t);
}

void tt_fill(test_tensor_t* t, uint64_t seed, double lo, double hi) {
  dlg_fill_t kind = (t->t.dtype.code == kDLInt || t->t.dtype.code == kDLUInt) ? DLG_FILL_INT
                                                                               : DLG_FILL_UNIFORM;
  dlg_status_t st = dlg_testing_fill(&t->t, seed, kind, lo, hi);
  if (st != DLG_OK) {
    fprintf(stderr, "tt_fill: %s\n", dlg_last_error());
    abort();
  }
}

/* Poison remembers its pattern by byte value: every byte 0xA5. */
void tt_poison(test_tensor_t* t) { memset(t->mem, 0xA5, t->bytes); }
int tt_untouched(const test_tensor_t* t) {
  const unsigned char* p = t->mem;
  for (size_t i = 0; i < t->bytes; ++i)
    if (p[i] != 0xA5) return 0;
  return 1;
}

double test_bf16_to_double(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

double test_e4m3_to_double(uint8_t v) {
  int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  double mag;
  if (exp == 15 && man == 7) return NAN;
  if (exp == 0) mag = ldexp(man / 8.0, -6);
  else mag = ldexp(1.0 + man / 8.0, exp - 7);
  return sign ? -mag : mag;
}

static uint16_t to_bf16(double v) {
  float f = (float)v;
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

double tt_get(const test_tensor_t* t, int64_t i) {
  const void* p = t->mem;
  int code = t->t.dtype.code, bits = t->t.dtype.bits;
  if (code == kDLFloat && bits == 32) return ((const float*)p)[i];
  if (code == kDLFloat && bits == 64) return ((const double*)p)[i];
  if (code == kDLBfloat) return test_bf16_to_double(((const uint16_t*)p)[i]);
  if (code == kDLFloat8_e4m3fn) return test_e4m3_to_double(((const uint8_t*)p)[i]);
  if (code == kDLInt && bits == 32) return ((const int32_t*)p)[i];
  if (code == kDLUInt && bits == 8) return ((const uint8_t*)p)[i];
  abort();
}

void tt_set(test_tensor_t* t, int64_t i, double v) {
  void* p = t->mem;
  int code = t->t.dtype.code, bits = t->t.dtype.bits;
  if (code == kDLFloat && bits == 32) ((float*)p)[i] = (float)v;
  else if (code == kDLBfloat) ((uint16_t*)p)[i] = to_bf16(v);
  else if (code == kDLInt && bits == 32) ((int32_t*)p)[i] = (int32_t)v;
  else if (code == kDLUInt && bits == 8) ((uint8_t*)p)[i] = (uint8_t)v;
  else abort();
}

test_tensor_t* tt_new_padded(int code, int bits, int64_t rows, int64_t cols, int64_t ld) {
  const int64_t shape[2] = {rows, cols}, strides[2] = {ld, 1};
  return tt_new_strided(code, bits, 2, shape, strides);
}

int64_t tt_padding_diff(const test_tensor_t* t, const test_tensor_t* before) {
  const size_t eb = t->t.dtype.bits / 8, cols = (size_t)t->shape[1], ld = (size_t)t->strides[0];
  const uint8_t *p = t->mem, *q = before->mem;
  int64_t touched = 0;
  for (int64_t r = 0; r + 1 < t->shape[0]; ++r)
    for (size_t i = ((size_t)r * ld + cols) * eb; i < (size_t)(r + 1) * ld * eb; ++i)
      touched += p[i] != q[i];
  return touched;
}

dlg_context_t* tt_sm90_context(const char* test, const char* what) {
  dlg_context_t* gpu = NULL;
  dlg_device_info_t info;
  if (dlg_context_create(0, &gpu) == DLG_OK && dlg_context_device_info(gpu, &info) == DLG_OK &&
      info.sm_major == 9)
    return gpu;
  printf("%s: %s skipped (needs an sm_90 GPU)\n", test, what);
  if (gpu) dlg_context_destroy(gpu);
  return NULL;
}

DLTensor tt_to_device(dlg_context_t* ctx, const test_tensor_t* h, void** mem) {
  DLTensor t = h->t;
  CHECK_OK(dlg_device_alloc(ctx, h->bytes, mem));
  CHECK_OK(dlg_memcpy(ctx, *mem, h->mem, h->bytes));
  t.data = *mem;
  t.byte_offset = 0;
  t.device.device_type = kDLCUDA;
  t.device.device_id = dlg_context_device(ctx);
  return t;
}
