/* dlgemm — FP8 casts, scale-factor layouts, UE8M0 packing, alignment queries.
 * Scales are FP32 dequantisation multipliers: x ≈ fp8 × sf, sf = amax / 448 (or its UE8M0
 * rounding, 2^ceil(log2(amax / 448))). An all-zero block gets sf = 1 (UE8M0: 2^0). */
#ifndef DLGEMM_QUANT_H_
#define DLGEMM_QUANT_H_

#include <stddef.h>
#include <stdint.h>
#include <dlpack/dlpack.h>
#include "dlgemm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest finite float8_e4m3fn. */
#define DLG_FP8_E4M3_MAX 448.0f

/* Per-token (1×128) cast: x [M, K] f32 or bf16 -> out [M, K] e4m3fn, sf [M, ceil(K/128)]
 * f32 (any strides: pass a TMA-aligned MN-major view to feed the GEMMs directly) or, with
 * use_ue8m0, f32 powers of two. */
DLG_API dlg_status_t dlg_cast_fp8_per_token(dlg_context_t* ctx, const DLTensor* x, int use_ue8m0,
                                            DLTensor* out, DLTensor* sf, void* stream);

/* Per-block (128×128) cast: x [M, K] -> out [M, K] e4m3fn, sf [ceil(M/128), ceil(K/128)] f32. */
DLG_API dlg_status_t dlg_cast_fp8_per_block(dlg_context_t* ctx, const DLTensor* x, int use_ue8m0,
                                            DLTensor* out, DLTensor* sf, void* stream);

/* Per-tensor cast: x (any shape) -> out e4m3fn (same shape), sf scalar f32 = amax / 448. */
DLG_API dlg_status_t dlg_cast_fp8_per_tensor(dlg_context_t* ctx, const DLTensor* x,
                                             DLTensor* out, DLTensor* sf, void* stream);

/* Copies scale factors sf_in [.., MN, Kb] f32 (any strides) into sf_out of the same shape
 * (typically the TMA-aligned MN-major layout: stride(-2) == 1, stride(-1) ==
 * dlg_tma_aligned_size(MN, 4), batch stride = that × Kb). */
DLG_API dlg_status_t dlg_transform_sf(dlg_context_t* ctx, const DLTensor* sf_in,
                                      DLTensor* sf_out, void* stream);

/* Rounds f32 scales up to powers of two and packs them, four per int32:
 * sf [.., MN, Kb] f32 -> packed [.., MN, ceil(Kb/4)] int32, byte j of word w = biased
 * exponent of column 4w+j (zero-padded past Kb). */
DLG_API dlg_status_t dlg_pack_ue8m0(dlg_context_t* ctx, const DLTensor* sf, DLTensor* packed,
                                    void* stream);

/* Elements of `elem_size` bytes needed so that `mn` rows of them end on a 16-byte boundary
 * (the TMA stride rule): ceil(mn * elem_size / 16) * 16 / elem_size. */
DLG_API int64_t dlg_tma_aligned_size(int64_t mn, int64_t elem_size);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_QUANT_H_ */
