/* Tiny test harness shared by the C tests (the _test.c files under core): checks, CPU tensors, poison. */
#ifndef DLG_TEST_H_
#define DLG_TEST_H_

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlgemm.h"

extern int dlg_test_failures;
extern int dlg_test_checks;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    ++dlg_test_checks;                                                                \
    if (!(cond)) {                                                                    \
      ++dlg_test_failures;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                                                 \
  } while (0)

#define CHECK_OK(expr)                                                                \
  do {                                                                                \
    ++dlg_test_checks;                                                                \
    dlg_status_t st_ = (expr);                                                        \
    if (st_ != DLG_OK) {                                                              \
      ++dlg_test_failures;                                                            \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,             \
              dlg_status_name(st_), dlg_last_error());                                \
    }                                                                                 \
  } while (0)

/* Asserts a call fails with `status` and leaves a non-empty message. */
#define CHECK_STATUS(expr, status)                                                    \
  do {                                                                                \
    ++dlg_test_checks;                                                                \
    dlg_clear_error();                                                                \
    dlg_status_t st_ = (expr);                                                        \
    if (st_ != (status) || dlg_last_error()[0] == '\0') {                             \
      ++dlg_test_failures;                                                            \
      fprintf(stderr, "%s:%d: %s -> %s (want %s), message '%s'\n", __FILE__, __LINE__, \
              #expr, dlg_status_name(st_), dlg_status_name(status), dlg_last_error()); \
    }                                                                                 \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                         \
  do {                                                                                \
    ++dlg_test_checks;                                                                \
    double a_ = (a), b_ = (b);                                                        \
    if (!(fabs(a_ - b_) <= (tol))) {                                                  \
      ++dlg_test_failures;                                                            \
      fprintf(stderr, "%s:%d: %s = %g, %s = %g, |diff| > %g\n", __FILE__, __LINE__,   \
              #a, a_, #b, b_, (double)(tol));                                         \
    }                                                                                 \
  } while (0)

/* Prints "<name>: N passed, M failed" and returns the exit code. */
int dlg_test_finish(const char* name);

/* A CPU tensor owning its (row-major, 64-byte aligned) storage. */
typedef struct {
  DLTensor t;
  int64_t shape[8];
  int64_t strides[8];
  void* mem;
  size_t bytes;
} test_tensor_t;

/* dtype as (code, bits); ndim extents follow. Storage is zero-filled. */
test_tensor_t* tt_new(int code, int bits, int ndim, ...);
/* Same, with explicit element strides (storage sized to the span). */
test_tensor_t* tt_new_strided(int code, int bits, int ndim, const int64_t* shape,
                              const int64_t* strides);
void tt_free(test_tensor_t* t);
/* Fills with the library's seeded generator. */
void tt_fill(test_tensor_t* t, uint64_t seed, double lo, double hi);
/* Sets every byte to 0xA5 and remembers a copy; tt_untouched() tells whether it stayed. */
void tt_poison(test_tensor_t* t);
int tt_untouched(const test_tensor_t* t);

/* A device twin of host tensor h on ctx's GPU (same shape and strides) holding a copy of its
 * contents; *mem receives the allocation (free with dlg_device_free). */
DLTensor tt_to_device(dlg_context_t* ctx, const test_tensor_t* h, void** mem);

/* A row-major [rows, cols] matrix whose rows are ld >= cols elements apart: the gaps are
 * where a kernel writing the matrix must not write (storage ends at the last row's col cols). */
test_tensor_t* tt_new_padded(int code, int bits, int64_t rows, int64_t cols, int64_t ld);
/* Bytes of the row gaps of a tt_new_padded matrix that differ from `before`'s (same shape). */
int64_t tt_padding_diff(const test_tensor_t* t, const test_tensor_t* before);

/* A context on GPU 0 when that is an sm_90 device (the SM90 kernels' GPU tests); else NULL,
 * after printing "<test>: <what> skipped (needs an sm_90 GPU)". */
dlg_context_t* tt_sm90_context(const char* test, const char* what);

/* Element access as double (f32, bf16, e4m3fn, int32, uint8), by flat storage index. */
double tt_get(const test_tensor_t* t, int64_t storage_index);
void tt_set(test_tensor_t* t, int64_t storage_index, double v);

/* Decoders used by the independent naive references in tests. */
double test_bf16_to_double(uint16_t v);
double test_e4m3_to_double(uint8_t v);

#endif /* DLG_TEST_H_ */
