/* TMA tensor maps (CUtensorMap) for the SM90 kernels, encoded on the host with the driver's
 * cuTensorMapEncodeTiled (through the dlopen table of core/jit/dl.h). */
#ifndef DLG_LAUNCH_TMA_H_
#define DLG_LAUNCH_TMA_H_

#include <cuda.h>
#include "internal.h"

/* A 2D row-major view as TMA sees it: `inner` elements per row (the contiguous dimension),
 * `outer` rows, `row_stride_bytes` between rows. */
typedef struct dlg_tma_2d {
  const void* base;
  CUtensorMapDataType dtype;
  uint64_t inner, outer;
  uint64_t row_stride_bytes;
  uint32_t box_inner, box_outer; /* box in elements */
  CUtensorMapSwizzle swizzle;
  CUtensorMapL2promotion l2_promotion;
} dlg_tma_2d_t;

/* Bytes per element of a TMA data type used here (UINT8, BFLOAT16, FLOAT32); 0 otherwise. */
size_t dlg_tma_elem_bytes(CUtensorMapDataType dtype);

/* 1 when base/stride/box meet TMA's rules (16-byte aligned base and row stride, stride >=
 * one row, box <= 256 per dimension, inner box bytes a multiple of 16 and within the swizzle
 * span). `why` (may be NULL) gets the first failing rule. Pure: no driver call. */
int dlg_tma_2d_ok(const dlg_tma_2d_t* t, const char** why);

/* Encodes *t into *map. `what` names the operand in messages ("a", "sfa", ...). Fails with
 * DLG_ERR_UNSUPPORTED when the driver lacks cuTensorMapEncodeTiled, DLG_ERR_LAYOUT when the
 * view breaks TMA's rules, DLG_ERR_CUDA when the driver rejects it. */
dlg_status_t dlg_tma_encode_2d(CUtensorMap* map, const dlg_tma_2d_t* t, const char* what);

#endif /* DLG_LAUNCH_TMA_H_ */
