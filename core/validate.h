/* Shared argument checks. Each returns DLG_OK or records a message naming the argument
 * ("b: expected dtype float8_e4m3fn, got bfloat16") and returns the status. */
#ifndef DLG_CORE_VALIDATE_H_
#define DLG_CORE_VALIDATE_H_

#include "internal.h"

/* Element dtypes the library knows, as (code, bits) pairs. */
#define DLG_DT_F32 kDLFloat, 32
#define DLG_DT_BF16 kDLBfloat, 16
#define DLG_DT_E4M3 kDLFloat8_e4m3fn, 8
#define DLG_DT_I32 kDLInt, 32
#define DLG_DT_U8 kDLUInt, 8

static inline int dlg_dtype_is(const DLTensor* t, int code, int bits) {
  return t->dtype.code == code && t->dtype.bits == bits && t->dtype.lanes == 1;
}

/* Non-NULL, ndim in [0, 8], shape >= 0, non-NULL data when non-empty, lanes == 1,
 * device CPU or CUDA, strides (NULL = compact row-major) that do not overflow. */
dlg_status_t dlg_check_tensor(const char* name, const DLTensor* t);
dlg_status_t dlg_check_dtype(const char* name, const DLTensor* t, int code, int bits);
/* dtype is one of two. */
dlg_status_t dlg_check_dtype2(const char* name, const DLTensor* t, int code1, int bits1,
                              int code2, int bits2);
dlg_status_t dlg_check_ndim(const char* name, const DLTensor* t, int ndim);
/* Extent of dimension `dim` equals `expected` ("a: dim 1 (K) expected 256, got 128"). */
dlg_status_t dlg_check_dim(const char* name, const DLTensor* t, int dim, int64_t expected,
                           const char* what);
/* Same device (type and id) as `ref`. */
dlg_status_t dlg_check_same_device(const char* name, const DLTensor* t, const char* ref_name,
                                   const DLTensor* ref);
/* One element (ndim 0 or every extent 1). */
dlg_status_t dlg_check_scalar(const char* name, const DLTensor* t);
/* Output must not overlap any byte of an input (exact aliasing is checked by callers). */
dlg_status_t dlg_check_no_overlap(const char* out_name, const DLTensor* out,
                                  const char* in_name, const DLTensor* in);
/* The output's elements do not share memory (every element is written once): sorted by
 * stride, each stepping dimension clears the reach of the smaller ones. Accepts every
 * compact or padded layout and permutation. DLG_ERR_LAYOUT otherwise. */
dlg_status_t dlg_check_distinct_elements(const char* name, const DLTensor* t);
int dlg_distinct_elements(const DLTensor* t); /* the same test, no message: 1 = distinct */
/* A CUDA tensor needs a context for its device (CPU tensors work with any context, or
 * none). DLG_ERR_DEVICE / DLG_ERR_INVALID_ARGUMENT otherwise. */
dlg_status_t dlg_check_context_device(const dlg_context_t* ctx, const char* name,
                                      const DLTensor* t);

/* Returns from the enclosing function when a check fails. */
#define DLG_TRY(expr)                  \
  do {                                 \
    dlg_status_t dlg_st_ = (expr);     \
    if (dlg_st_ != DLG_OK) return dlg_st_; \
  } while (0)

/* Element stride of dim (handles NULL strides). */
int64_t dlg_stride(const DLTensor* t, int dim);
/* Data pointer + byte_offset. */
static inline char* dlg_data(const DLTensor* t) { return (char*)t->data + t->byte_offset; }
/* True if t is the same view as u (data, offset, dtype, shape, strides). */
int dlg_same_view(const DLTensor* t, const DLTensor* u);
static inline int dlg_on_cpu(const DLTensor* t) {
  return t->device.device_type == kDLCPU || t->device.device_type == kDLCUDAHost;
}

#endif /* DLG_CORE_VALIDATE_H_ */
