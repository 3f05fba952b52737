/* dlgemm — MoE grouped GEMMs. Recipes and scale layouts as in gemm.h, with a leading group
 * dimension on B's tensors. Layouts, devices and streams as in gemm.h. */
#ifndef DLGEMM_MOE_H_
#define DLGEMM_MOE_H_

#include <dlpack/dlpack.h>
#include "dlgemm/context.h"
#include "dlgemm/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How rows of the contiguous layout are assigned to groups. */
typedef enum dlg_group_layout {
  /* int32 [M]: group id of each row, -1 for a padding row (neither read nor written). */
  DLG_GROUP_LAYOUT_ROW_IDS = 1,
  /* int32 [G + 1]: non-decreasing offsets; rows [off[g], off[g+1]) belong to group g; rows
   * before off[0] and from off[G] on are not touched. */
  DLG_GROUP_LAYOUT_OFFSETS = 2
} dlg_group_layout_t;

/* M-grouped contiguous (MoE prefill): for each row r of group g,
 *   D[r, :] = A[r, :] · B[g]ᵀ.
 * a [M, K], sfa [M, ceil(K/128)] (FP8_1D2D) or scalar (FP8_PER_TENSOR);
 * b [G, N, K], sfb [G, ceil(N/128), ceil(K/128)] (FP8_1D2D) or [G] / scalar (PER_TENSOR);
 * d [M, N] bf16. Recipes: FP8_1D2D, FP8_PER_TENSOR, BF16. On the GPU, each group's segment
 * must start at a multiple of dlg_mk_alignment_for_contiguous_layout(). */
DLG_API dlg_status_t dlg_m_grouped_gemm_contiguous(dlg_context_t* ctx, dlg_recipe_t recipe,
                                                   const DLTensor* a, const DLTensor* sfa,
                                                   const DLTensor* b, const DLTensor* sfb,
                                                   const DLTensor* grouped_layout,
                                                   dlg_group_layout_t layout_kind,
                                                   DLTensor* d, void* stream);

/* M-grouped masked (MoE decode, CUDA-graph safe): for each group g and row r < masked_m[g],
 *   D[g, r, :] = A[g, r, :] · B[g]ᵀ;   rows r >= masked_m[g] are not touched.
 * a [G, max_m, K], sfa [G, max_m, ceil(K/128)]; b [G, N, K], sfb as contiguous; d [G, max_m, N];
 * masked_m int32 [G] read on the device (no host synchronisation); expected_m is a hint for
 * the kernel configuration (typical rows per group, > 0), not a bound. */
DLG_API dlg_status_t dlg_m_grouped_gemm_masked(dlg_context_t* ctx, dlg_recipe_t recipe,
                                               const DLTensor* a, const DLTensor* sfa,
                                               const DLTensor* b, const DLTensor* sfb,
                                               const DLTensor* masked_m, int expected_m,
                                               DLTensor* d, void* stream);

/* K-grouped contiguous (MoE weight gradients): K is split in G consecutive segments of
 * ks[g] columns (each a multiple of 128, zero allowed):
 *   D[g] = C[g] + A[:, seg g] · B[:, seg g]ᵀ.
 * a [M, K_total], b [N, K_total] (K_total = Σ ks, any layout the recipe allows);
 * sfa [M, K_total/128], sfb [N, K_total/128] (FP8_1D1D) or [G] / scalar (FP8_PER_TENSOR);
 * ks int32 [G] on the same device as the data (read on the device); c optional, d [G, M, N]
 * f32 (c may alias d). Recipes: FP8_1D1D, FP8_PER_TENSOR. */
DLG_API dlg_status_t dlg_k_grouped_gemm_contiguous(dlg_context_t* ctx, dlg_recipe_t recipe,
                                                   const DLTensor* a, const DLTensor* sfa,
                                                   const DLTensor* b, const DLTensor* sfb,
                                                   const DLTensor* ks,
                                                   const DLTensor* c, DLTensor* d, void* stream);

/* Row alignment of each group's segment in the contiguous layout (128 on SM90). */
DLG_API int dlg_mk_alignment_for_contiguous_layout(void);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_MOE_H_ */
