/* TMA tensor-map encoding for the SM90 launchers. */
#include <string.h>
#include "jit/dl.h"
#include "launch/tma.h"

size_t dlg_tma_elem_bytes(CUtensorMapDataType dtype) {
  switch (dtype) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8: return 1;
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16: return 2;
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32: return 4;
    default: return 0;
  }
}

static uint32_t swizzle_span(CUtensorMapSwizzle s) {
  switch (s) {
    case CU_TENSOR_MAP_SWIZZLE_32B: return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B: return 64;
    case CU_TENSOR_MAP_SWIZZLE_128B: return 128;
    default: return 0;
  }
}

int dlg_tma_2d_ok(const dlg_tma_2d_t* t, const char** why) {
  const char* dummy;
  if (!why) why = &dummy;
  const size_t eb = dlg_tma_elem_bytes(t->dtype);
  if (eb == 0) return *why = "element type not used by the SM90 kernels", 0;
  if ((uintptr_t)t->base % 16) return *why = "base address not 16-byte aligned", 0;
  if (t->inner == 0 || t->outer == 0) return *why = "empty extent", 0;
  if (t->inner > (UINT64_C(1) << 32) || t->outer > (UINT64_C(1) << 32))
    return *why = "extent above 2^32", 0;
  if (t->outer > 1) { /* a single row's stride is never used (encode picks one) */
    if (t->row_stride_bytes % 16) return *why = "row stride not a multiple of 16 bytes", 0;
    if (t->row_stride_bytes >= (UINT64_C(1) << 40)) return *why = "row stride >= 2^40 bytes", 0;
    if (t->row_stride_bytes < t->inner * eb)
      return *why = "rows overlap (row stride smaller than a row)", 0;
  }
  if (t->box_inner == 0 || t->box_outer == 0 || t->box_inner > 256 || t->box_outer > 256)
    return *why = "box extent outside 1..256", 0;
  if ((t->box_inner * eb) % 16) return *why = "box row not a multiple of 16 bytes", 0;
  const uint32_t span = swizzle_span(t->swizzle);
  if (span && t->box_inner * eb > span) return *why = "box row wider than the swizzle span", 0;
  return 1;
}

/* The last few successful encodings of this thread: a tensor map is a pure function of the
 * view (pointer included), and a model calling the same GEMM on the same buffers asks for
 * the same maps every step, so the driver call (the bulk of a cached call's host time after
 * the plan cache) is skipped. Thread-local: no lock, nothing shared. */
#define TMA_MEMO_SLOTS 16
typedef struct tma_memo {
  dlg_tma_2d_t view; /* canonical: zeroed padding, compared with memcmp */
  CUtensorMap map;
  int valid;
} tma_memo_t;
static __thread tma_memo_t t_memo[TMA_MEMO_SLOTS];

static void canonical_view(const dlg_tma_2d_t* t, dlg_tma_2d_t* out) {
  memset(out, 0, sizeof *out);
  out->base = t->base;
  out->dtype = t->dtype;
  out->inner = t->inner;
  out->outer = t->outer;
  out->row_stride_bytes = t->row_stride_bytes;
  out->box_inner = t->box_inner;
  out->box_outer = t->box_outer;
  out->swizzle = t->swizzle;
  out->l2_promotion = t->l2_promotion;
}

static size_t memo_slot(const dlg_tma_2d_t* v) {
  uint64_t h = (uint64_t)(uintptr_t)v->base * 0x9e3779b97f4a7c15ull;
  h ^= (v->inner * 31 + v->outer) * 0xbf58476d1ce4e5b9ull;
  h ^= ((uint64_t)v->box_inner << 32 | v->box_outer) + (uint64_t)v->dtype * 7 + v->row_stride_bytes;
  h ^= h >> 31;
  return (size_t)(h % TMA_MEMO_SLOTS);
}

dlg_status_t dlg_tma_encode_2d(CUtensorMap* map, const dlg_tma_2d_t* t, const char* what) {
  dlg_tma_2d_t view;
  canonical_view(t, &view);
  tma_memo_t* memo = &t_memo[memo_slot(&view)];
  if (memo->valid && memcmp(&memo->view, &view, sizeof view) == 0) {
    memcpy(map, &memo->map, sizeof *map);
    return DLG_OK;
  }
  const char* why = NULL;
  if (!dlg_tma_2d_ok(t, &why)) return dlg_fail(DLG_ERR_LAYOUT, "%s: not a TMA-compatible view: %s", what, why);
  const dlg_cuda_api_t* api;
  dlg_status_t s = dlg_cuda_open(&api);
  if (s != DLG_OK) return s;
  if (!api->tensor_map_encode_tiled)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: the CUDA driver (%d) has no cuTensorMapEncodeTiled (needs CUDA 12+)",
                    what, api->driver_version);
  /* A 1-row view still needs a valid stride: a whole row rounded up to 16 bytes. */
  const size_t eb = dlg_tma_elem_bytes(t->dtype);
  cuuint64_t stride = t->row_stride_bytes;
  if (t->outer == 1) stride = (t->inner * eb + 15) / 16 * 16;
  const cuuint64_t dims[2] = {t->inner, t->outer};
  const cuuint64_t strides[1] = {stride};
  const cuuint32_t box[2] = {t->box_inner, t->box_outer};
  const cuuint32_t elem_strides[2] = {1, 1};
  memset(map, 0, sizeof *map);
  CUresult r = api->tensor_map_encode_tiled(
      map, t->dtype, 2, (void*)t->base, dims, strides, box, elem_strides,
      CU_TENSOR_MAP_INTERLEAVE_NONE, t->swizzle, t->l2_promotion,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return dlg_cu_fail(r, "%s: cuTensorMapEncodeTiled(dims %llu x %llu, stride %llu B, box %u x %u)",
                       what, (unsigned long long)t->inner, (unsigned long long)t->outer,
                       (unsigned long long)stride, t->box_inner, t->box_outer);
  memo->view = view;
  memcpy(&memo->map, map, sizeof *map);
  memo->valid = 1;
  return DLG_OK;
}
