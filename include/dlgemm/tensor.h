/* dlgemm — DLTensor helpers for bindings that cannot build a DLTensor themselves (SWIG Go /
 * Java): one heap block owns the struct, its shape and its strides. The data is borrowed. */
#ifndef DLGEMM_TENSOR_H_
#define DLGEMM_TENSOR_H_

#include <stddef.h>
#include <stdint.h>
#include <dlpack/dlpack.h>
#include "dlgemm/export.h"
#include "dlgemm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds a DLTensor view of `data` (not copied, not owned). device_type: kDLCPU (1) or
 * kDLCUDA (2). strides NULL = row-major contiguous. ndim in [0, 8]. */
DLG_API dlg_status_t dlg_tensor_create(void* data, int device_type, int device_id,
                                       int dtype_code, int dtype_bits, int ndim,
                                       const int64_t* shape, const int64_t* strides,
                                       DLTensor** out);
/* Frees what dlg_tensor_create made (not the data). NULL is a no-op. */
DLG_API void dlg_tensor_destroy(DLTensor* t);

/* Number of elements (1 for ndim 0), and bytes spanned from the first to one past the last
 * element given the strides (0 if empty). */
DLG_API int64_t dlg_tensor_numel(const DLTensor* t);
DLG_API int64_t dlg_tensor_span_bytes(const DLTensor* t);
/* Readable dtype name ("float8_e4m3fn", "bfloat16", ...); static storage. */
DLG_API const char* dlg_dtype_name(int dtype_code, int dtype_bits);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_TENSOR_H_ */
