/* Shared argument checks: every op funnels its tensors through these. */
#include <string.h>
#include "validate.h"

int64_t dlg_stride(const DLTensor* t, int dim) {
  if (t->strides) return t->strides[dim];
  int64_t s = 1;
  for (int i = t->ndim - 1; i > dim; --i) s *= t->shape[i];
  return s;
}

static const char* dev_name(int type) {
  switch (type) {
    case kDLCPU: return "cpu";
    case kDLCUDA: return "cuda";
    case kDLCUDAHost: return "cuda_host";
    case kDLCUDAManaged: return "cuda_managed";
    default: return "unsupported device";
  }
}

dlg_status_t dlg_check_tensor(const char* name, const DLTensor* t) {
  if (!t) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "%s: must not be NULL", name);
  if (t->ndim < 0 || t->ndim > DLG_MAX_NDIM)
    return dlg_fail(DLG_ERR_SHAPE, "%s: ndim %d out of range 0..%d", name, t->ndim, DLG_MAX_NDIM);
  if (t->ndim > 0 && !t->shape) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "%s: shape is NULL", name);
  int dt = t->device.device_type;
  if (dt != kDLCPU && dt != kDLCUDA && dt != kDLCUDAHost)
    return dlg_fail(DLG_ERR_DEVICE, "%s: device type %d (%s) not supported; expected cpu or cuda",
                    name, dt, dev_name(dt));
  if (t->dtype.lanes != 1)
    return dlg_fail(DLG_ERR_DTYPE, "%s: vector dtypes (lanes %d) not supported", name, t->dtype.lanes);
  if (t->dtype.bits == 0 || t->dtype.bits % 8 != 0)
    return dlg_fail(DLG_ERR_DTYPE, "%s: dtype %s with %d bits not supported", name,
                    dlg_dtype_name(t->dtype.code, t->dtype.bits), t->dtype.bits);
  /* Overflow: numel and the span must fit comfortably in int64. */
  int64_t numel = 1;
  for (int i = 0; i < t->ndim; ++i) {
    int64_t e = t->shape[i];
    if (e < 0) return dlg_fail(DLG_ERR_SHAPE, "%s: dim %d is negative (%lld)", name, i, (long long)e);
    if (e && numel > (INT64_C(1) << 48) / e)
      return dlg_fail(DLG_ERR_SHAPE, "%s: size overflows (dim %d = %lld)", name, i, (long long)e);
    numel *= e;
  }
  if (numel > 0) {
    int64_t span = 0;
    for (int i = 0; i < t->ndim; ++i) {
      int64_t s = dlg_stride(t, i);
      if (s < 0)
        return dlg_fail(DLG_ERR_LAYOUT, "%s: negative stride %lld in dim %d not supported", name,
                        (long long)s, i);
      if (t->shape[i] > 1 && s > (INT64_C(1) << 48) / (t->shape[i] - 1))
        return dlg_fail(DLG_ERR_SHAPE, "%s: stride of dim %d overflows", name, i);
      span += (t->shape[i] - 1) * s;
      if (span > (INT64_C(1) << 48)) return dlg_fail(DLG_ERR_SHAPE, "%s: extent overflows", name);
    }
    if (!t->data) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "%s: data is NULL", name);
  }
  return DLG_OK;
}

dlg_status_t dlg_check_dtype(const char* name, const DLTensor* t, int code, int bits) {
  if (dlg_dtype_is(t, code, bits)) return DLG_OK;
  return dlg_fail(DLG_ERR_DTYPE, "%s: expected dtype %s, got %s", name, dlg_dtype_name(code, bits),
                  dlg_dtype_name(t->dtype.code, t->dtype.bits));
}

dlg_status_t dlg_check_dtype2(const char* name, const DLTensor* t, int code1, int bits1, int code2,
                              int bits2) {
  if (dlg_dtype_is(t, code1, bits1) || dlg_dtype_is(t, code2, bits2)) return DLG_OK;
  return dlg_fail(DLG_ERR_DTYPE, "%s: expected dtype %s or %s, got %s", name,
                  dlg_dtype_name(code1, bits1), dlg_dtype_name(code2, bits2),
                  dlg_dtype_name(t->dtype.code, t->dtype.bits));
}

dlg_status_t dlg_check_ndim(const char* name, const DLTensor* t, int ndim) {
  if (t->ndim == ndim) return DLG_OK;
  return dlg_fail(DLG_ERR_SHAPE, "%s: expected %d dimensions, got %d", name, ndim, t->ndim);
}

dlg_status_t dlg_check_dim(const char* name, const DLTensor* t, int dim, int64_t expected,
                           const char* what) {
  if (dim < t->ndim && t->shape[dim] == expected) return DLG_OK;
  return dlg_fail(DLG_ERR_SHAPE, "%s: dim %d (%s) expected %lld, got %lld", name, dim, what,
                  (long long)expected, dim < t->ndim ? (long long)t->shape[dim] : -1LL);
}

dlg_status_t dlg_check_same_device(const char* name, const DLTensor* t, const char* ref_name,
                                   const DLTensor* ref) {
  int a = dlg_on_cpu(t) ? kDLCPU : t->device.device_type;
  int b = dlg_on_cpu(ref) ? kDLCPU : ref->device.device_type;
  if (a == b && (a == kDLCPU || t->device.device_id == ref->device.device_id)) return DLG_OK;
  return dlg_fail(DLG_ERR_DEVICE, "%s: on %s:%d but %s is on %s:%d", name,
                  dev_name(t->device.device_type), t->device.device_id, ref_name,
                  dev_name(ref->device.device_type), ref->device.device_id);
}

dlg_status_t dlg_check_scalar(const char* name, const DLTensor* t) {
  if (dlg_tensor_numel(t) == 1) return DLG_OK;
  return dlg_fail(DLG_ERR_SHAPE, "%s: expected a scalar (one element), got %lld elements", name,
                  (long long)dlg_tensor_numel(t));
}

dlg_status_t dlg_check_no_overlap(const char* out_name, const DLTensor* out, const char* in_name,
                                  const DLTensor* in) {
  if (!in || !out) return DLG_OK;
  int64_t ob = dlg_tensor_span_bytes(out), ib = dlg_tensor_span_bytes(in);
  if (!ob || !ib) return DLG_OK;
  if (out->device.device_type != in->device.device_type) return DLG_OK;
  const char* o = dlg_data(out);
  const char* i = dlg_data(in);
  if (o < i + ib && i < o + ob)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "%s: overlaps input %s in memory", out_name, in_name);
  return DLG_OK;
}

int dlg_same_view(const DLTensor* t, const DLTensor* u) {
  if (!t || !u) return 0;
  if (dlg_data(t) != dlg_data(u) || t->ndim != u->ndim) return 0;
  if (t->dtype.code != u->dtype.code || t->dtype.bits != u->dtype.bits) return 0;
  for (int i = 0; i < t->ndim; ++i)
    if (t->shape[i] != u->shape[i] || dlg_stride(t, i) != dlg_stride(u, i)) return 0;
  return 1;
}

/* Dims that step (extent > 1) sorted by stride; 0 at the first whose stride does not clear
 * the reach of the smaller ones (it is then reported through *bad), 1 when all do. */
static int distinct_elements(const DLTensor* t, int64_t bad[2]) {
  if (dlg_tensor_numel(t) <= 1) return 1;
  /* Dims that actually step (extent > 1), insertion-sorted by stride. */
  int64_t ext[DLG_MAX_NDIM], str[DLG_MAX_NDIM];
  int n = 0;
  for (int d = 0; d < t->ndim; ++d) {
    if (t->shape[d] <= 1) continue;
    int64_t s = dlg_stride(t, d), e = t->shape[d];
    int k = n++;
    while (k > 0 && str[k - 1] > s) {
      str[k] = str[k - 1];
      ext[k] = ext[k - 1];
      --k;
    }
    str[k] = s;
    ext[k] = e;
  }
  int64_t reach = 0; /* largest offset the smaller dims reach */
  for (int k = 0; k < n; ++k) {
    if (str[k] <= reach) {
      bad[0] = str[k];
      bad[1] = ext[k];
      return 0;
    }
    reach += (ext[k] - 1) * str[k];
  }
  return 1;
}

int dlg_distinct_elements(const DLTensor* t) {
  int64_t bad[2];
  return distinct_elements(t, bad);
}

dlg_status_t dlg_check_distinct_elements(const char* name, const DLTensor* t) {
  int64_t bad[2];
  if (distinct_elements(t, bad)) return DLG_OK;
  return dlg_fail(DLG_ERR_LAYOUT,
                  "%s: strides make distinct elements share memory (stride %lld with extent "
                  "%lld); outputs need non-overlapping strides",
                  name, (long long)bad[0], (long long)bad[1]);
}

dlg_status_t dlg_check_context_device(const dlg_context_t* ctx, const char* name,
                                      const DLTensor* t) {
  if (dlg_on_cpu(t)) return DLG_OK;
  if (!ctx)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL for CUDA tensor %s", name);
  if (ctx->device < 0)
    return dlg_fail(DLG_ERR_DEVICE, "%s: on cuda:%d but the context is CPU-only (device -1)",
                    name, t->device.device_id);
  if (t->device.device_id != ctx->device)
    return dlg_fail(DLG_ERR_DEVICE, "%s: on cuda:%d but the context is for cuda:%d", name,
                    t->device.device_id, ctx->device);
  return DLG_OK;
}
