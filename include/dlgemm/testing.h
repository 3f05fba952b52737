/* dlgemm — what every binding and the conformance suite share so that all languages draw
 * identical inputs and compare the same way: a seeded generator, DeepGEMM's calc_diff, and
 * raw device memory through the driver API (for bindings without a GPU framework). */
#ifndef DLGEMM_TESTING_H_
#define DLGEMM_TESTING_H_

#include <stddef.h>
#include <stdint.h>
#include <dlpack/dlpack.h>
#include "dlgemm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Distributions of dlg_testing_fill. */
typedef enum dlg_fill {
  DLG_FILL_UNIFORM = 1, /* uniform in [lo, hi) */
  DLG_FILL_NORMAL = 2,  /* normal(mean = lo, std = hi) */
  DLG_FILL_INT = 3      /* integers uniform in [lo, hi] (int32 / uint8 tensors) */
} dlg_fill_t;

/* Fills a CPU tensor (any dtype the library knows, any strides) with values drawn from a
 * counter-based generator: element with row-major logical index i gets
 * f(seed, i), so the result does not depend on strides, threads or language. Floating values
 * are rounded to the tensor's dtype (FP8: round-to-nearest-even, saturating). */
DLG_API dlg_status_t dlg_testing_fill(DLTensor* t, uint64_t seed, dlg_fill_t dist, double lo,
                                      double hi);

/* DeepGEMM's calc_diff = 1 - 2·Σxy / Σ(x² + y²) in double over two CPU tensors of equal
 * shape (any float dtype each). Both zero -> 0. Non-finite values: -inf equal on both sides
 * at the same index are skipped; any other non-finite value makes the result +inf. */
DLG_API dlg_status_t dlg_testing_calc_diff(const DLTensor* x, const DLTensor* y, double* out);

/* Counts elements that differ bitwise (CPU tensors of equal shape and dtype). */
DLG_API dlg_status_t dlg_testing_count_mismatch(const DLTensor* x, const DLTensor* y,
                                                int64_t* out);

/* Sets every byte of the tensor's elements to `byte` (poisoning outputs). CPU or CUDA. */
DLG_API dlg_status_t dlg_testing_poison(dlg_context_t* ctx, DLTensor* t, int byte);

/* Device memory through the driver API, on the context's device. */
DLG_API dlg_status_t dlg_device_alloc(dlg_context_t* ctx, size_t bytes, void** out_ptr);
DLG_API dlg_status_t dlg_device_free(dlg_context_t* ctx, void* ptr); /* NULL is a no-op */
/* Copies bytes between host and device memory (direction inferred, synchronous). */
DLG_API dlg_status_t dlg_memcpy(dlg_context_t* ctx, void* dst, const void* src, size_t bytes);
/* Copies a tensor's elements into another of the same shape and dtype, across CPU/CUDA and
 * strides (synchronous). */
DLG_API dlg_status_t dlg_tensor_copy(dlg_context_t* ctx, const DLTensor* src, DLTensor* dst);
/* Waits for all work on `stream` (NULL = legacy default stream). */
DLG_API dlg_status_t dlg_stream_synchronize(dlg_context_t* ctx, void* stream);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_TESTING_H_ */
