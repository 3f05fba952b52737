/* dlg_gemm: D = C + A·Bᵀ. Validate everything, then route: CPU tensors -> reference,
 * CUDA tensors -> the launcher. Nothing is written before validation passed. */
#include "gpu.h"
#include "launch/launch.h"
#include "ops/gemm_args.h"
#include "ref/ref.h"

const char* dlg_recipe_name(dlg_recipe_t recipe) {
  switch (recipe) {
    case DLG_RECIPE_FP8_1D2D: return "fp8_1d2d";
    case DLG_RECIPE_FP8_1D1D: return "fp8_1d1d";
    case DLG_RECIPE_FP8_PER_TENSOR: return "fp8_per_tensor";
    case DLG_RECIPE_BF16: return "bf16";
  }
  return "unknown recipe";
}


/* Scales per recipe (gemm.h's table): block scales for 1D2D / 1D1D, optional scalars for
 * PER_TENSOR, none for BF16. */
static dlg_status_t check_scales(dlg_recipe_t recipe, const DLTensor* sfa, const DLTensor* sfb,
                                 int64_t m, int64_t n, int64_t k) {
  const char* rname = dlg_recipe_name(recipe);
  switch (recipe) {
    case DLG_RECIPE_BF16:
      if (sfa) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfa: must be NULL for recipe bf16");
      if (sfb) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfb: must be NULL for recipe bf16");
      return DLG_OK;
    case DLG_RECIPE_FP8_PER_TENSOR:
      if (sfa) DLG_TRY(dlg_check_tensor("sfa", sfa));
      if (sfb) DLG_TRY(dlg_check_tensor("sfb", sfb));
      DLG_TRY(dlg_check_tensor_scale("sfa", sfa, -1));
      return dlg_check_tensor_scale("sfb", sfb, -1);
    default:
      if (!sfa) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfa: required for recipe %s", rname);
      if (!sfb) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "sfb: required for recipe %s", rname);
      DLG_TRY(dlg_check_tensor("sfa", sfa));
      DLG_TRY(dlg_check_tensor("sfb", sfb));
      DLG_TRY(dlg_check_block_scales("sfa", sfa, 0, NULL, m, k, 1));
      return dlg_check_block_scales("sfb", sfb, 0, NULL,
                                    recipe == DLG_RECIPE_FP8_1D2D ? dlg_ceil_div64(n, 128) : n,
                                    k, 1);
  }
}

static dlg_status_t validate(dlg_context_t* ctx, dlg_recipe_t recipe, const DLTensor* a,
                             const DLTensor* sfa, const DLTensor* b, const DLTensor* sfb,
                             const DLTensor* c, const DLTensor* d) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  DLG_TRY(dlg_check_recipe(recipe));
  DLG_TRY(dlg_check_tensor("a", a));
  DLG_TRY(dlg_check_tensor("b", b));
  DLG_TRY(dlg_check_tensor("d", d));
  if (c) DLG_TRY(dlg_check_tensor("c", c));
  DLG_TRY(dlg_check_operand_dtype("a", a, recipe));
  DLG_TRY(dlg_check_operand_dtype("b", b, recipe));
  DLG_TRY(dlg_check_dtype2("d", d, DLG_DT_BF16, DLG_DT_F32));
  if (c) DLG_TRY(dlg_check_dtype2("c", c, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("a", a, 2));
  DLG_TRY(dlg_check_ndim("b", b, 2));
  DLG_TRY(dlg_check_ndim("d", d, 2));
  if (c) DLG_TRY(dlg_check_ndim("c", c, 2));
  const int64_t m = a->shape[0], k = a->shape[1], n = b->shape[0];
  DLG_TRY(dlg_check_dim("b", b, 1, k, "K"));
  DLG_TRY(dlg_check_dim("d", d, 0, m, "M"));
  DLG_TRY(dlg_check_dim("d", d, 1, n, "N"));
  if (c) {
    DLG_TRY(dlg_check_dim("c", c, 0, m, "M"));
    DLG_TRY(dlg_check_dim("c", c, 1, n, "N"));
  }
  DLG_TRY(check_scales(recipe, sfa, sfb, m, n, k));
  /* One device for all, and it is the context's when it is a GPU. */
  DLG_TRY(dlg_check_same_device("a", a, "d", d));
  DLG_TRY(dlg_check_same_device("b", b, "d", d));
  if (c) DLG_TRY(dlg_check_same_device("c", c, "d", d));
  if (sfa) DLG_TRY(dlg_check_same_device("sfa", sfa, "d", d));
  if (sfb) DLG_TRY(dlg_check_same_device("sfb", sfb, "d", d));
  DLG_TRY(dlg_check_context_device(ctx, "d", d));
  /* D is written once per element and never over an input (C only as the exact same view). */
  DLG_TRY(dlg_check_distinct_elements("d", d));
  DLG_TRY(dlg_check_no_overlap("d", d, "a", a));
  DLG_TRY(dlg_check_no_overlap("d", d, "b", b));
  DLG_TRY(dlg_check_no_overlap("d", d, "sfa", sfa));
  DLG_TRY(dlg_check_no_overlap("d", d, "sfb", sfb));
  if (c && !dlg_same_view(c, d)) DLG_TRY(dlg_check_no_overlap("d", d, "c", c));
  return DLG_OK;
}

static int k_major(const DLTensor* t, int64_t k) { return k <= 1 || dlg_stride(t, 1) == 1; }

dlg_status_t dlg_gemm(dlg_context_t* ctx, dlg_recipe_t recipe, const DLTensor* a,
                      const DLTensor* sfa, const DLTensor* b, const DLTensor* sfb,
                      const DLTensor* c, DLTensor* d, void* stream) {
  DLG_TRY(validate(ctx, recipe, a, sfa, b, sfb, c, d));
  dlg_gemm_problem_t p = {recipe, a->shape[0], b->shape[0], a->shape[1], a, sfa, b, sfb, c, d,
                          0, 0};
  p.a_k_major = k_major(a, p.k);
  p.b_k_major = k_major(b, p.k);
  if (dlg_on_cpu(d)) return dlg_ref_gemm(&p);
  if (p.m == 0 || p.n == 0) return DLG_OK; /* nothing to write: no launch */
  DLG_TRY(dlg_gpu_enter(ctx, d));
  return dlg_launch_gemm(ctx, &p, stream, 0);
}

/* Rows of an MN-major scale tensor padded to a 16-byte TMA boundary (as dlg_tma_aligned_size). */
static int64_t tma_aligned_rows(int64_t rows) { return (rows + 3) / 4 * 4; }

dlg_status_t dlg_warmup_gemm(dlg_context_t* ctx, dlg_recipe_t recipe, int64_t m, int64_t n,
                             int64_t k, int d_dtype_code, int d_bits) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  DLG_TRY(dlg_check_recipe(recipe));
  const int64_t limit = INT64_C(1) << 31;
  if (m < 0 || n < 0 || k < 0 || m > limit || n > limit || k > limit)
    return dlg_fail(DLG_ERR_SHAPE, "m, n, k: expected 0..2^31, got %lld, %lld, %lld",
                    (long long)m, (long long)n, (long long)k);
  if (!((d_dtype_code == kDLBfloat && d_bits == 16) || (d_dtype_code == kDLFloat && d_bits == 32)))
    return dlg_fail(DLG_ERR_DTYPE, "d: expected dtype bfloat16 or float32, got %s",
                    dlg_dtype_name(d_dtype_code, d_bits));
  if (ctx->device < 0) return DLG_OK;
  /* Shape-only tensors in the layouts the kernels take: K-major A and B, MN-major scales. */
  const int fp8 = recipe != DLG_RECIPE_BF16;
  const DLDevice dev = {kDLCUDA, ctx->device};
  const DLDataType op_t = {(uint8_t)(fp8 ? kDLFloat8_e4m3fn : kDLBfloat), fp8 ? 8 : 16, 1};
  const DLDataType f32_t = {kDLFloat, 32, 1};
  const DLDataType d_t = {(uint8_t)d_dtype_code, (uint8_t)d_bits, 1};
  const int64_t kb = dlg_ceil_div64(k, 128);
  const int64_t sfb_rows = recipe == DLG_RECIPE_FP8_1D2D ? dlg_ceil_div64(n, 128) : n;
  int64_t a_shape[2] = {m, k}, a_strides[2] = {k, 1};
  int64_t b_shape[2] = {n, k}, b_strides[2] = {k, 1};
  int64_t d_shape[2] = {m, n}, d_strides[2] = {n, 1};
  int64_t sfa_shape[2] = {m, kb}, sfa_strides[2] = {1, tma_aligned_rows(m)};
  int64_t sfb_shape[2] = {sfb_rows, kb}, sfb_strides[2] = {1, tma_aligned_rows(sfb_rows)};
  if (recipe == DLG_RECIPE_FP8_1D2D) { /* 1D2D's B scales are K-major in DeepGEMM */
    sfb_strides[0] = kb;
    sfb_strides[1] = 1;
  }
  DLTensor ta = {NULL, dev, 2, op_t, a_shape, a_strides, 0};
  DLTensor tb = {NULL, dev, 2, op_t, b_shape, b_strides, 0};
  DLTensor td = {NULL, dev, 2, d_t, d_shape, d_strides, 0};
  DLTensor tsfa = {NULL, dev, 2, f32_t, sfa_shape, sfa_strides, 0};
  DLTensor tsfb = {NULL, dev, 2, f32_t, sfb_shape, sfb_strides, 0};
  const int block = recipe == DLG_RECIPE_FP8_1D2D || recipe == DLG_RECIPE_FP8_1D1D;
  dlg_gemm_problem_t p = {recipe, m, n, k, &ta, block ? &tsfa : NULL, &tb,
                          block ? &tsfb : NULL, NULL, &td, 1, 1};
  DLG_TRY(dlg_gpu_enter(ctx, &td));
  return dlg_launch_gemm(ctx, &p, NULL, 1);
}
