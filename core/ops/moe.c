/* MoE grouped GEMMs: validate, then run the CPU reference or, for CUDA tensors, the SM90
 * kernels (core/launch/sm90_grouped_gemm.c; other archs get DLG_ERR_UNSUPPORTED). */
#include "gpu.h"
#include "launch/launch.h"
#include "ops/gemm_args.h"
#include "ref/ref.h"


int dlg_mk_alignment_for_contiguous_layout(void) { return 128; }

/* Known recipe, and one the op implements (moe.h lists them). */
static dlg_status_t check_recipe_for(const char* op, dlg_recipe_t recipe, dlg_recipe_t r1,
                                     dlg_recipe_t r2, dlg_recipe_t r3) {
  DLG_TRY(dlg_check_recipe(recipe));
  if (recipe == r1 || recipe == r2 || recipe == r3) return DLG_OK;
  return dlg_fail(DLG_ERR_UNSUPPORTED, "recipe: %s is not supported by %s (use %s, %s%s%s)",
                  dlg_recipe_name(recipe), op, dlg_recipe_name(r1), dlg_recipe_name(r2),
                  r3 != r2 ? " or " : "", r3 != r2 ? dlg_recipe_name(r3) : "");
}

/* Scales of the M-grouped ops: a's per row (lead_a = its leading group dim, 0 or 1 of them),
 * b's per (group, 128-row block). Per-tensor scales: scalar or one per group. */
static dlg_status_t check_m_grouped_scales(dlg_recipe_t recipe, const DLTensor* sfa,
                                           const DLTensor* sfb, int n_lead_a, int64_t groups,
                                           int64_t m, int64_t n, int64_t k) {
  if (recipe == DLG_RECIPE_BF16) {
    if (sfa) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfa: must be NULL for recipe bf16");
    if (sfb) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfb: must be NULL for recipe bf16");
    return DLG_OK;
  }
  if (recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    if (sfa) DLG_TRY(dlg_check_tensor("sfa", sfa));
    if (sfb) DLG_TRY(dlg_check_tensor("sfb", sfb));
    DLG_TRY(dlg_check_tensor_scale("sfa", sfa, n_lead_a ? groups : -1));
    return dlg_check_tensor_scale("sfb", sfb, groups);
  }
  if (!sfa) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfa: required for recipe fp8_1d2d");
  if (!sfb) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfb: required for recipe fp8_1d2d");
  DLG_TRY(dlg_check_tensor("sfa", sfa));
  DLG_TRY(dlg_check_tensor("sfb", sfb));
  DLG_TRY(dlg_check_block_scales("sfa", sfa, n_lead_a, &groups, m, k, 1));
  return dlg_check_block_scales("sfb", sfb, 1, &groups, dlg_ceil_div64(n, 128), k, 1);
}

/* Every tensor on d's device, that device the context's when a GPU, d over no input. */
static dlg_status_t check_devices_and_overlap(dlg_context_t* ctx, DLTensor* d,
                                              const char* const* names,
                                              const DLTensor* const* ins, int n_ins) {
  for (int i = 0; i < n_ins; ++i)
    if (ins[i]) DLG_TRY(dlg_check_same_device(names[i], ins[i], "d", d));
  DLG_TRY(dlg_check_context_device(ctx, "d", d));
  DLG_TRY(dlg_check_distinct_elements("d", d));
  for (int i = 0; i < n_ins; ++i) DLG_TRY(dlg_check_no_overlap("d", d, names[i], ins[i]));
  return DLG_OK;
}

dlg_status_t dlg_m_grouped_gemm_contiguous(dlg_context_t* ctx, dlg_recipe_t recipe,
                                           const DLTensor* a, const DLTensor* sfa,
                                           const DLTensor* b, const DLTensor* sfb,
                                           const DLTensor* grouped_layout,
                                           dlg_group_layout_t layout_kind, DLTensor* d,
                                           void* stream) {
  static const char op[] = "m_grouped_gemm_contiguous";
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  DLG_TRY(check_recipe_for(op, recipe, DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_PER_TENSOR,
                       DLG_RECIPE_BF16));
  if (layout_kind != DLG_GROUP_LAYOUT_ROW_IDS && layout_kind != DLG_GROUP_LAYOUT_OFFSETS)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                    "layout_kind: unknown value %d (expected 1 row ids or 2 offsets)",
                    (int)layout_kind);
  DLG_TRY(dlg_check_tensor("a", a));
  DLG_TRY(dlg_check_tensor("b", b));
  DLG_TRY(dlg_check_tensor("grouped_layout", grouped_layout));
  DLG_TRY(dlg_check_tensor("d", d));
  DLG_TRY(dlg_check_operand_dtype("a", a, recipe));
  DLG_TRY(dlg_check_operand_dtype("b", b, recipe));
  DLG_TRY(dlg_check_dtype("grouped_layout", grouped_layout, DLG_DT_I32));
  DLG_TRY(dlg_check_dtype("d", d, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("a", a, 2));
  DLG_TRY(dlg_check_ndim("b", b, 3));
  DLG_TRY(dlg_check_ndim("grouped_layout", grouped_layout, 1));
  DLG_TRY(dlg_check_ndim("d", d, 2));
  const int64_t m = a->shape[0], k = a->shape[1], groups = b->shape[0], n = b->shape[1];
  DLG_TRY(dlg_check_dim("b", b, 2, k, "K"));
  DLG_TRY(dlg_check_dim("d", d, 0, m, "M"));
  DLG_TRY(dlg_check_dim("d", d, 1, n, "N"));
  if (layout_kind == DLG_GROUP_LAYOUT_ROW_IDS)
    DLG_TRY(dlg_check_dim("grouped_layout", grouped_layout, 0, m, "M (one group id per row)"));
  else
    DLG_TRY(dlg_check_dim("grouped_layout", grouped_layout, 0, groups + 1, "G + 1 (offsets)"));
  DLG_TRY(check_m_grouped_scales(recipe, sfa, sfb, 0, groups, m, n, k));
  const char* names[] = {"a", "sfa", "b", "sfb", "grouped_layout"};
  const DLTensor* ins[] = {a, sfa, b, sfb, grouped_layout};
  DLG_TRY(check_devices_and_overlap(ctx, d, names, ins, 5));
  if (!dlg_on_cpu(d)) {
    DLG_TRY(dlg_gpu_enter(ctx, d));
    const dlg_m_grouped_problem_t p = {recipe, 0, layout_kind, 0, groups, m, n, k,
                                       a, sfa, b, sfb, grouped_layout, d};
    return dlg_launch_sm90_m_grouped_gemm(ctx, &p, stream);
  }
  return dlg_ref_m_grouped_contiguous(recipe, a, sfa, b, sfb, grouped_layout, layout_kind, d);
}

dlg_status_t dlg_m_grouped_gemm_masked(dlg_context_t* ctx, dlg_recipe_t recipe,
                                       const DLTensor* a, const DLTensor* sfa,
                                       const DLTensor* b, const DLTensor* sfb,
                                       const DLTensor* masked_m, int expected_m, DLTensor* d,
                                       void* stream) {
  static const char op[] = "m_grouped_gemm_masked";
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  DLG_TRY(check_recipe_for(op, recipe, DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_PER_TENSOR,
                       DLG_RECIPE_BF16));
  if (expected_m <= 0)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "expected_m: must be > 0, got %d", expected_m);
  DLG_TRY(dlg_check_tensor("a", a));
  DLG_TRY(dlg_check_tensor("b", b));
  DLG_TRY(dlg_check_tensor("masked_m", masked_m));
  DLG_TRY(dlg_check_tensor("d", d));
  DLG_TRY(dlg_check_operand_dtype("a", a, recipe));
  DLG_TRY(dlg_check_operand_dtype("b", b, recipe));
  DLG_TRY(dlg_check_dtype("masked_m", masked_m, DLG_DT_I32));
  DLG_TRY(dlg_check_dtype("d", d, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("a", a, 3));
  DLG_TRY(dlg_check_ndim("b", b, 3));
  DLG_TRY(dlg_check_ndim("masked_m", masked_m, 1));
  DLG_TRY(dlg_check_ndim("d", d, 3));
  const int64_t groups = b->shape[0], n = b->shape[1], max_m = a->shape[1], k = a->shape[2];
  DLG_TRY(dlg_check_dim("a", a, 0, groups, "G"));
  DLG_TRY(dlg_check_dim("b", b, 2, k, "K"));
  DLG_TRY(dlg_check_dim("masked_m", masked_m, 0, groups, "G"));
  DLG_TRY(dlg_check_dim("d", d, 0, groups, "G"));
  DLG_TRY(dlg_check_dim("d", d, 1, max_m, "max_m"));
  DLG_TRY(dlg_check_dim("d", d, 2, n, "N"));
  DLG_TRY(check_m_grouped_scales(recipe, sfa, sfb, 1, groups, max_m, n, k));
  const char* names[] = {"a", "sfa", "b", "sfb", "masked_m"};
  const DLTensor* ins[] = {a, sfa, b, sfb, masked_m};
  DLG_TRY(check_devices_and_overlap(ctx, d, names, ins, 5));
  if (!dlg_on_cpu(d)) {
    DLG_TRY(dlg_gpu_enter(ctx, d));
    const dlg_m_grouped_problem_t p = {recipe, 1, DLG_GROUP_LAYOUT_ROW_IDS, expected_m, groups,
                                       max_m, n, k, a, sfa, b, sfb, masked_m, d};
    return dlg_launch_sm90_m_grouped_gemm(ctx, &p, stream);
  }
  return dlg_ref_m_grouped_masked(recipe, a, sfa, b, sfb, masked_m, d);
}

dlg_status_t dlg_k_grouped_gemm_contiguous(dlg_context_t* ctx, dlg_recipe_t recipe,
                                           const DLTensor* a, const DLTensor* sfa,
                                           const DLTensor* b, const DLTensor* sfb,
                                           const DLTensor* ks, const DLTensor* c, DLTensor* d,
                                           void* stream) {
  static const char op[] = "k_grouped_gemm_contiguous";
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  DLG_TRY(check_recipe_for(op, recipe, DLG_RECIPE_FP8_1D1D, DLG_RECIPE_FP8_PER_TENSOR,
                       DLG_RECIPE_FP8_PER_TENSOR));
  DLG_TRY(dlg_check_tensor("a", a));
  DLG_TRY(dlg_check_tensor("b", b));
  DLG_TRY(dlg_check_tensor("ks", ks));
  DLG_TRY(dlg_check_tensor("d", d));
  if (c) DLG_TRY(dlg_check_tensor("c", c));
  DLG_TRY(dlg_check_operand_dtype("a", a, recipe));
  DLG_TRY(dlg_check_operand_dtype("b", b, recipe));
  DLG_TRY(dlg_check_dtype("ks", ks, DLG_DT_I32));
  DLG_TRY(dlg_check_dtype("d", d, DLG_DT_F32));
  if (c) DLG_TRY(dlg_check_dtype2("c", c, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("a", a, 2));
  DLG_TRY(dlg_check_ndim("b", b, 2));
  DLG_TRY(dlg_check_ndim("ks", ks, 1));
  DLG_TRY(dlg_check_ndim("d", d, 3));
  if (c) DLG_TRY(dlg_check_ndim("c", c, 3));
  const int64_t m = a->shape[0], k = a->shape[1], n = b->shape[0], groups = ks->shape[0];
  if (k % 128 != 0)
    return dlg_fail(DLG_ERR_SHAPE, "a: dim 1 (K_total) must be a multiple of 128, got %lld",
                    (long long)k);
  DLG_TRY(dlg_check_dim("b", b, 1, k, "K_total"));
  DLG_TRY(dlg_check_dim("d", d, 0, groups, "G"));
  DLG_TRY(dlg_check_dim("d", d, 1, m, "M"));
  DLG_TRY(dlg_check_dim("d", d, 2, n, "N"));
  if (c) {
    DLG_TRY(dlg_check_dim("c", c, 0, groups, "G"));
    DLG_TRY(dlg_check_dim("c", c, 1, m, "M"));
    DLG_TRY(dlg_check_dim("c", c, 2, n, "N"));
  }
  if (recipe == DLG_RECIPE_FP8_1D1D) {
    if (!sfa) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfa: required for recipe fp8_1d1d");
    if (!sfb) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfb: required for recipe fp8_1d1d");
    DLG_TRY(dlg_check_tensor("sfa", sfa));
    DLG_TRY(dlg_check_tensor("sfb", sfb));
    DLG_TRY(dlg_check_block_scales("sfa", sfa, 0, NULL, m, k, 1));
    DLG_TRY(dlg_check_block_scales("sfb", sfb, 0, NULL, n, k, 1));
  } else {
    if (sfa) DLG_TRY(dlg_check_tensor("sfa", sfa));
    if (sfb) DLG_TRY(dlg_check_tensor("sfb", sfb));
    DLG_TRY(dlg_check_tensor_scale("sfa", sfa, groups));
    DLG_TRY(dlg_check_tensor_scale("sfb", sfb, groups));
  }
  const char* names[] = {"a", "sfa", "b", "sfb", "ks", "c"};
  const DLTensor* ins[] = {a, sfa, b, sfb, ks, c && dlg_same_view(c, d) ? NULL : c};
  DLG_TRY(check_devices_and_overlap(ctx, d, names, ins, 6));
  if (c) DLG_TRY(dlg_check_same_device("c", c, "d", d));
  if (!dlg_on_cpu(d)) {
    DLG_TRY(dlg_gpu_enter(ctx, d));
    const dlg_k_grouped_problem_t p = {recipe, groups, m, n, k, a, sfa, b, sfb, ks, c, d};
    return dlg_launch_sm90_k_grouped_gemm(ctx, &p, stream);
  }
  return dlg_ref_k_grouped_contiguous(recipe, a, sfa, b, sfb, ks, c, d);
}
