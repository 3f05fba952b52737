/* DLTensor helpers: construction for bindings, sizes, dtype names. */
#include <stdlib.h>
#include <string.h>
#include "validate.h"

dlg_status_t dlg_tensor_create(void* data, int device_type, int device_id, int dtype_code,
                               int dtype_bits, int ndim, const int64_t* shape,
                               const int64_t* strides, DLTensor** out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  *out = NULL;
  if (ndim < 0 || ndim > DLG_MAX_NDIM)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ndim: expected 0..%d, got %d", DLG_MAX_NDIM, ndim);
  if (ndim > 0 && !shape) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "shape: must not be NULL");
  if (device_type != kDLCPU && device_type != kDLCUDA && device_type != kDLCUDAHost)
    return dlg_fail(DLG_ERR_DEVICE, "device_type: expected kDLCPU (1) or kDLCUDA (2), got %d",
                    device_type);
  if (dtype_code < 0 || dtype_code > 255 || dtype_bits <= 0 || dtype_bits > 255)
    return dlg_fail(DLG_ERR_DTYPE, "dtype: invalid code %d / bits %d", dtype_code, dtype_bits);
  /* One block: the struct, then shape[ndim], then strides[ndim]. */
  DLTensor* t = calloc(1, sizeof(DLTensor) + 2 * sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
  if (!t) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "tensor: allocation failed");
  int64_t* sh = (int64_t*)(t + 1);
  int64_t* st = sh + ndim;
  int64_t running = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    if (shape[i] < 0) {
      free(t);
      return dlg_fail(DLG_ERR_SHAPE, "shape: dim %d is negative (%lld)", i, (long long)shape[i]);
    }
    sh[i] = shape[i];
    st[i] = strides ? strides[i] : running;
    running *= shape[i] > 0 ? shape[i] : 1;
  }
  t->data = data;
  t->device.device_type = (DLDeviceType)device_type;
  t->device.device_id = device_id;
  t->ndim = ndim;
  t->dtype.code = (uint8_t)dtype_code;
  t->dtype.bits = (uint8_t)dtype_bits;
  t->dtype.lanes = 1;
  t->shape = sh;
  t->strides = st;
  t->byte_offset = 0;
  *out = t;
  return DLG_OK;
}

void dlg_tensor_destroy(DLTensor* t) { free(t); }

int64_t dlg_tensor_numel(const DLTensor* t) {
  if (!t) return 0;
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

int64_t dlg_tensor_span_bytes(const DLTensor* t) {
  if (!t || dlg_tensor_numel(t) == 0) return 0;
  int64_t last = 0;
  for (int i = 0; i < t->ndim; ++i) last += (t->shape[i] - 1) * dlg_stride(t, i);
  int64_t esize = (t->dtype.bits * t->dtype.lanes + 7) / 8;
  return (last + 1) * esize;
}

const char* dlg_dtype_name(int code, int bits) {
  switch (code) {
    case kDLInt: return bits == 8 ? "int8" : bits == 16 ? "int16" : bits == 32 ? "int32" : bits == 64 ? "int64" : "int?";
    case kDLUInt: return bits == 8 ? "uint8" : bits == 16 ? "uint16" : bits == 32 ? "uint32" : bits == 64 ? "uint64" : "uint?";
    case kDLFloat: return bits == 16 ? "float16" : bits == 32 ? "float32" : bits == 64 ? "float64" : "float?";
    case kDLBfloat: return bits == 16 ? "bfloat16" : "bfloat?";
    case kDLBool: return "bool";
    case kDLFloat8_e4m3fn: return "float8_e4m3fn";
    case kDLFloat8_e5m2: return "float8_e5m2";
    case kDLFloat8_e4m3: return "float8_e4m3";
    case kDLFloat8_e8m0fnu: return "float8_e8m0fnu";
    case kDLFloat4_e2m1fn: return "float4_e2m1fn";
    default: return "unknown dtype";
  }
}
