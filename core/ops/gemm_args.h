/* Argument checks shared by the GEMM family (dense: gemm.c, grouped: moe.c). Each returns
 * DLG_OK or records a message naming the argument and returns the status. */
#ifndef DLG_OPS_GEMM_ARGS_H_
#define DLG_OPS_GEMM_ARGS_H_

#include "validate.h"

/* The recipe enum holds a known value (else DLG_ERR_INVALID_ARGUMENT). */
dlg_status_t dlg_check_recipe(dlg_recipe_t recipe);

/* A or B operand: float8_e4m3fn for FP8 recipes, bfloat16 for BF16. */
dlg_status_t dlg_check_operand_dtype(const char* name, const DLTensor* t, dlg_recipe_t recipe);

/* Block scales [lead..., rows, ceil(K/128)] float32, or when allow_packed also int32
 * [lead..., rows, ceil(ceil(K/128)/4)] (packed UE8M0). `lead` gives the leading extents
 * (n_lead of them, e.g. the group count). */
dlg_status_t dlg_check_block_scales(const char* name, const DLTensor* sf, int n_lead,
                                    const int64_t* lead, int64_t rows, int64_t k,
                                    int allow_packed);

/* Per-tensor scale: NULL (= 1), a float32 scalar, or when groups >= 0 float32 [groups]
 * (groups < 0: the op has no group dimension here). */
dlg_status_t dlg_check_tensor_scale(const char* name, const DLTensor* sf, int64_t groups);


#endif /* DLG_OPS_GEMM_ARGS_H_ */
