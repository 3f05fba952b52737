/* Pieces of core/launch/sm90_mqa_logits.c that the paged launcher shares. */
#ifndef DLG_LAUNCH_SM90_MQA_LOGITS_H_
#define DLG_LAUNCH_SM90_MQA_LOGITS_H_

#include <cuda.h>
#include "internal.h"

/* H the SM90 MQA kernels cover: a divisor of 128, at least 16 (wgmma N granularity). */
int dlg_sm90_mqa_heads_ok(int64_t h);

/* Tensor map of a [rows, D] FP8 matrix read in boxes of 128 bytes × box_rows rows with the
 * 128B swizzle (columns past D are zero-filled). */
dlg_status_t dlg_sm90_mqa_map_rows(CUtensorMap* map, const void* base, int64_t rows, int64_t d,
                                   int64_t row_stride, uint32_t box_rows, const char* what);

#endif /* DLG_LAUNCH_SM90_MQA_LOGITS_H_ */
