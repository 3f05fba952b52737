/* Argument checks shared by the dense and grouped GEMM ops. */
#include "ops/gemm_args.h"

#define KBLOCK 128

dlg_status_t dlg_check_recipe(dlg_recipe_t recipe) {
  switch (recipe) {
    case DLG_RECIPE_FP8_1D2D:
    case DLG_RECIPE_FP8_1D1D:
    case DLG_RECIPE_FP8_PER_TENSOR:
    case DLG_RECIPE_BF16: return DLG_OK;
  }
  return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                  "recipe: unknown value %d (expected 1 fp8_1d2d, 2 fp8_1d1d, 3 fp8_per_tensor "
                  "or 4 bf16)", (int)recipe);
}

dlg_status_t dlg_check_operand_dtype(const char* name, const DLTensor* t, dlg_recipe_t recipe) {
  if (recipe == DLG_RECIPE_BF16) return dlg_check_dtype(name, t, DLG_DT_BF16);
  return dlg_check_dtype(name, t, DLG_DT_E4M3);
}

dlg_status_t dlg_check_block_scales(const char* name, const DLTensor* sf, int n_lead,
                                    const int64_t* lead, int64_t rows, int64_t k,
                                    int allow_packed) {
  dlg_status_t st = allow_packed ? dlg_check_dtype2(name, sf, DLG_DT_F32, DLG_DT_I32)
                                 : dlg_check_dtype(name, sf, DLG_DT_F32);
  if (st != DLG_OK) return st;
  if ((st = dlg_check_ndim(name, sf, n_lead + 2)) != DLG_OK) return st;
  for (int i = 0; i < n_lead; ++i)
    if ((st = dlg_check_dim(name, sf, i, lead[i], "groups")) != DLG_OK) return st;
  if ((st = dlg_check_dim(name, sf, n_lead, rows, "rows")) != DLG_OK) return st;
  const int64_t kblocks = dlg_ceil_div64(k, KBLOCK);
  if (dlg_dtype_is(sf, DLG_DT_I32))
    return dlg_check_dim(name, sf, n_lead + 1, dlg_ceil_div64(kblocks, 4),
                         "packed UE8M0 words = ceil(ceil(K/128)/4)");
  return dlg_check_dim(name, sf, n_lead + 1, kblocks, "K blocks = ceil(K/128)");
}

dlg_status_t dlg_check_tensor_scale(const char* name, const DLTensor* sf, int64_t groups) {
  if (!sf) return DLG_OK;
  dlg_status_t st = dlg_check_dtype(name, sf, DLG_DT_F32);
  if (st != DLG_OK) return st;
  if (dlg_tensor_numel(sf) == 1) return DLG_OK;
  if (groups >= 0) {
    if (sf->ndim != 1 || sf->shape[0] != groups)
      return dlg_fail(DLG_ERR_SHAPE, "%s: expected a scalar or shape [%lld] (one per group)",
                      name, (long long)groups);
    return DLG_OK;
  }
  return dlg_check_scalar(name, sf);
}

