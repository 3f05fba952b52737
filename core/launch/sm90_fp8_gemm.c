/* Launcher of the SM90 FP8 GEMMs: kernels/sm90_fp8_gemm_1d2d.cuh (DeepSeek 1D2D block scales
 * or per-tensor scales) and kernels/sm90_fp8_gemm_1d1d.cuh (1D1D: per-row scales on both
 * operands). Declines (DLG_ERR_UNSUPPORTED, nothing launched) what the kernels do not
 * cover: packed UE8M0 scales, non-K-major operands, TMA misalignment, scale layouts other
 * than MN-major TMA-aligned sfa (and, for 1D1D, sfb). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "launch/gemm_plan_cache.h"
#include "launch/sm90_gemm_common.h"
#include "validate.h"


static const float* scalar_or_null(const DLTensor* t) {
  return t && t->data ? (const float*)dlg_data(t) : NULL;
}

/* A per-row scale matrix [rows, ceil(K/128)] the kernel loads with TMA: MN-major, column
 * stride >= rows and a multiple of 4 floats, 16-byte aligned base. */
static dlg_status_t check_row_scales(const char* name, const DLTensor* sf, int64_t rows,
                                     int64_t k, int check_ptr) {
  const int64_t kb = dlg_ceil_div64(k, 128);
  if (rows > 1 && dlg_stride(sf, 0) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: sm90 kernel needs MN-major scales (stride(0) == 1; see dlg_transform_sf)", name);
  const int64_t lds = dlg_stride(sf, 1);
  if (kb > 1 && (lds < rows || (lds * 4) % 16 != 0))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: sm90 kernel needs stride(1) >= %lld and a multiple of 4 (TMA-aligned), got %lld",
                    name, (long long)rows, (long long)lds);
  if (check_ptr && ((uintptr_t)dlg_data(sf)) % 16 != 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel needs a 16-byte aligned base address", name);
  return DLG_OK;
}

/* Everything the kernels need from the scales, or UNSUPPORTED. */
static dlg_status_t check_scales(const dlg_gemm_problem_t* p, int check_ptr) {
  if (p->recipe == DLG_RECIPE_FP8_PER_TENSOR) return DLG_OK; /* scalars, validated by the op */
  if (p->recipe != DLG_RECIPE_FP8_1D2D && p->recipe != DLG_RECIPE_FP8_1D1D)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "recipe: sm90 fp8 kernels cover fp8_1d2d, fp8_1d1d and fp8_per_tensor, not %s",
                    dlg_recipe_name(p->recipe));
  if (!dlg_dtype_is(p->sfa, DLG_DT_F32) || !dlg_dtype_is(p->sfb, DLG_DT_F32))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sfa, sfb: sm90 kernel takes float32 scales (packed UE8M0 is SM100's)");
  dlg_status_t s = check_row_scales("sfa", p->sfa, p->m, p->k, check_ptr);
  if (s != DLG_OK) return s;
  if (p->recipe == DLG_RECIPE_FP8_1D1D) return check_row_scales("sfb", p->sfb, p->n, p->k, check_ptr);
  if (dlg_stride(p->sfb, 0) < 0 || dlg_stride(p->sfb, 1) < 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sfb: sm90 kernel needs non-negative strides");
  /* The kernel addresses sfb with 32-bit element offsets. */
  const int64_t span = (p->sfb->shape[0] - 1) * dlg_stride(p->sfb, 0) +
                       (dlg_ceil_div64(p->k, 128) - 1) * dlg_stride(p->sfb, 1);
  if (span > (int64_t)UINT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sfb: sm90 kernel needs a span below 2^32 elements");
  return DLG_OK;
}

/* kCMode 3 (C prefetched by TMA into the D staging tile) when C has D's dtype and a TMA-able
 * row-major layout; else the epilogue's global loads (dlg_sm90_c_mode). */
static int fp8_c_mode(const dlg_gemm_problem_t* p, int check_ptr) {
  const int mode = dlg_sm90_c_mode(p);
  if (mode == 0 || p->c->dtype.code != p->d->dtype.code || p->c->dtype.bits != p->d->dtype.bits)
    return mode;
  const int64_t eb = p->c->dtype.bits / 8, ldc = dlg_stride(p->c, 0);
  if (p->n > 1 && dlg_stride(p->c, 1) != 1) return mode;
  if (p->m > 1 && (ldc < p->n || (ldc * eb) % 16 != 0)) return mode;
  if (check_ptr && ((uintptr_t)dlg_data(p->c)) % 16 != 0) return mode;
  return 3;
}

static void fill_params(const dlg_gemm_problem_t* p, dlg_sm90_fp8_params_t* q) {
  memset(q, 0, sizeof *q);
  q->m = (uint32_t)p->m;
  q->n = (uint32_t)p->n;
  q->k = (uint32_t)p->k;
  if (p->recipe == DLG_RECIPE_FP8_1D2D) {
    q->sfb = (const float*)dlg_data(p->sfb);
    q->sfb_stride_n = dlg_stride(p->sfb, 0);
    q->sfb_stride_k = dlg_stride(p->sfb, 1);
    q->sfb_rows = (uint32_t)p->sfb->shape[0];
  } else if (p->recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    q->scale_a = scalar_or_null(p->sfa);
    q->scale_b = scalar_or_null(p->sfb);
  }
  if (p->c) {
    q->c = dlg_data(p->c);
    q->ldc = dlg_stride(p->c, 0);
  }
  q->d = dlg_data(p->d);
  q->ldd = dlg_stride(p->d, 0);
}

/* Tensor map of a per-row scale matrix [rows, kb] (MN-major): box {block, 1}. */
static dlg_status_t encode_row_scales(CUtensorMap* map, const DLTensor* sf, int64_t rows,
                                      int64_t k, int block, const char* what) {
  dlg_tma_2d_t v;
  memset(&v, 0, sizeof v);
  v.base = dlg_data(sf);
  v.dtype = CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  v.inner = (uint64_t)rows;
  v.outer = (uint64_t)dlg_ceil_div64(k, 128);
  v.row_stride_bytes = (uint64_t)dlg_stride(sf, 1) * 4;
  v.box_inner = (uint32_t)block;
  v.box_outer = 1;
  v.swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
  v.l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  return dlg_tma_encode_2d(map, &v, what);
}

void dlg_sm90_fp8_gemm_source(const dlg_sm90_gemm_config_t* cfg, int per_tensor, int f32_out,
                              int c_mode, char* name, size_t name_cap, char* source,
                              size_t source_cap) {
  /* kSplitK is the last template argument, left out (default 1) when off: the names (and
   * so the disk-cache keys) of the other kernels stay what they were. */
  char split[16] = "";
  if (cfg->split_k > 1) snprintf(split, sizeof split, ", %d", cfg->split_k);
  snprintf(name, name_cap, "sm90_fp8_gemm_1d2d<%d, %d, %d, %d, %d, %d, %d, %s, %d, %d, %d%s>",
           cfg->block_m, cfg->block_n, cfg->stages, cfg->cluster_m, cfg->cluster_n, cfg->group_n,
           per_tensor, f32_out ? "float" : "dlg_bf16", c_mode, cfg->pipelined,
           dlg_sm90_store_mode(cfg), split);
  snprintf(source, source_cap,
           "#include \"sm90_fp8_gemm_1d2d.cuh\"\n"
           "template __global__ void %s(DLG_SM90_FP8_GEMM_SIGNATURE);\n", name);
}

void dlg_sm90_fp8_recipe_source(const dlg_sm90_gemm_config_t* cfg, dlg_recipe_t recipe,
                                int f32_out, int c_mode, char* name, size_t name_cap,
                                char* source, size_t source_cap) {
  if (recipe != DLG_RECIPE_FP8_1D1D) {
    dlg_sm90_fp8_gemm_source(cfg, recipe == DLG_RECIPE_FP8_PER_TENSOR, f32_out, c_mode, name,
                             name_cap, source, source_cap);
    return;
  }
  snprintf(name, name_cap, "sm90_fp8_gemm_1d1d<%d, %d, %d, %d, %d, %d, %s, %d, %d, %d>",
           cfg->block_m, cfg->block_n, cfg->stages, cfg->cluster_m, cfg->cluster_n, cfg->group_n,
           f32_out ? "float" : "dlg_bf16", c_mode, cfg->pipelined, dlg_sm90_store_mode(cfg));
  snprintf(source, source_cap,
           "#include \"sm90_fp8_gemm_1d1d.cuh\"\n"
           "template __global__ void %s(DLG_SM90_FP8_GEMM_1D1D_SIGNATURE);\n", name);
}

/* What a first call decides: config (heuristics, then $DLG_SM90_GEMM_CONFIG), kCMode and the
 * loaded kernel. Cached per context by the caller. */
static dlg_status_t plan_fp8(dlg_context_t* ctx, const dlg_gemm_problem_t* p, int c_tma,
                             int num_sms, dlg_gemm_plan_t* out) {
  memset(out, 0, sizeof *out);
  const int scales = p->recipe == DLG_RECIPE_FP8_PER_TENSOR ? 0
                     : p->recipe == DLG_RECIPE_FP8_1D1D ? (DLG_SM90_SMEM_SFA | DLG_SM90_SMEM_SFB)
                                                         : DLG_SM90_SMEM_SFA;
  dlg_sm90_gemm_shape_t shape;
  dlg_status_t s = dlg_sm90_make_shape(ctx, p, 1, scales, &shape);
  if (s != DLG_OK) return s;
  shape.num_sms = num_sms; /* the value the plan is keyed by */
  shape.c_via_tma = c_tma;
  dlg_sm90_gemm_config_t* cfg = &out->cfg;
  if (!dlg_sm90_gemm_choose(&shape, cfg))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sm90 fp8 gemm: no tile config fits %zu bytes of shared memory",
                    shape.smem_limit);
  dlg_sm90_apply_override(&shape, cfg);
  /* The TMA C prefetch lands in the staging tile: the direct and slab-ring epilogues read C
   * themselves. */
  out->c_mode = c_tma && dlg_sm90_store_mode(cfg) == 0 ? 3 : dlg_sm90_c_mode(p);
  char name[160], source[512];
  dlg_sm90_fp8_recipe_source(cfg, p->recipe, dlg_dtype_is(p->d, DLG_DT_F32), out->c_mode, name,
                             sizeof name, source, sizeof source);
  dlg_kernel_spec_t spec = {source, name, 90, cfg->smem_bytes};
  return dlg_jit_get(ctx, &spec, &out->kernel);
}

dlg_status_t dlg_launch_sm90_fp8_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                      void* stream, int warmup_only) {
  const int check_ptr = !warmup_only;
  dlg_status_t s;
  if (p->m <= 0 || p->n <= 0 || p->k <= 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "m, n, k: sm90 fp8 kernel needs a non-empty problem");
  if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "m, n, k: sm90 fp8 kernel takes extents below 2^31");
  if ((s = check_scales(p, check_ptr)) != DLG_OK) return s;
  if ((s = dlg_sm90_check_operand("a", p->a, 1, check_ptr)) != DLG_OK) return s;
  if ((s = dlg_sm90_check_operand("b", p->b, 1, check_ptr)) != DLG_OK) return s;
  if ((s = dlg_sm90_check_output(p, check_ptr)) != DLG_OK) return s;

  const int one_d_one_d = p->recipe == DLG_RECIPE_FP8_1D1D;
  const int per_tensor = p->recipe == DLG_RECIPE_FP8_PER_TENSOR;
  const int c_tma = fp8_c_mode(p, check_ptr) == 3;
  const dlg_gemm_plan_t* plan;
  dlg_gemm_plan_t fresh;
  dlg_sm90_gemm_config_t cfg;
  dlg_kernel_t kernel;
  if ((s = dlg_sm90_find_plan(ctx, DLG_PLAN_SM90_FP8, p, c_tma, warmup_only, plan_fp8, &fresh,
                              &plan, &cfg, &kernel)) != DLG_OK)
    return s;
  const int c_mode = plan->c_mode;
  const int pdl = dlg_context_get_pdl(ctx);
  dlg_sm90_print_config(one_d_one_d ? "sm90_fp8_gemm_1d1d" : "sm90_fp8_gemm_1d2d", p, &cfg,
                        &kernel, pdl);
  if (warmup_only) return DLG_OK;

  /* Tensor maps (the multicast operand is loaded in halves by the two CTAs); unused maps
   * stay zero (the kernel never touches them). */
  CUtensorMap map_a, map_b, map_sfa, map_sfb, map_d, map_c;
  memset(&map_sfa, 0, sizeof map_sfa);
  memset(&map_sfb, 0, sizeof map_sfb);
  memset(&map_c, 0, sizeof map_c);
  if ((s = dlg_sm90_map_operand(&map_a, p->a, CU_TENSOR_MAP_DATA_TYPE_UINT8,
                                (uint32_t)(cfg.block_m / cfg.cluster_n), "a")) != DLG_OK)
    return s;
  if ((s = dlg_sm90_map_operand(&map_b, p->b, CU_TENSOR_MAP_DATA_TYPE_UINT8,
                                (uint32_t)(cfg.block_n / cfg.cluster_m), "b")) != DLG_OK)
    return s;
  if (!per_tensor &&
      (s = encode_row_scales(&map_sfa, p->sfa, p->m, p->k, cfg.block_m, "sfa")) != DLG_OK)
    return s;
  if (one_d_one_d &&
      (s = encode_row_scales(&map_sfb, p->sfb, p->n, p->k, cfg.block_n, "sfb")) != DLG_OK)
    return s;
  if ((s = dlg_sm90_map_output(&map_d, p->d, &cfg)) != DLG_OK) return s;
  if (c_mode == 3 && (s = dlg_sm90_map_epilogue(&map_c, p->c, &cfg, "c")) != DLG_OK) return s;

  dlg_sm90_fp8_params_t params;
  fill_params(p, &params);
  const int split = cfg.split_k > 1 ? cfg.split_k : 1;
  params.flags = dlg_sm90_dense_load_flags(p, &cfg);
  dlg_launch_config_t lc = dlg_launch_config_1d(cfg.grid, (unsigned)cfg.threads,
      (unsigned)(cfg.cluster_m * cfg.cluster_n * split), cfg.smem_bytes, pdl, stream);
  void* args_1d2d[] = {&params, &map_a, &map_b, &map_sfa, &map_d, &map_c};
  void* args_1d1d[] = {&params, &map_a, &map_b, &map_sfa, &map_sfb, &map_d, &map_c};
  s = dlg_jit_launch(ctx, &kernel, &lc, one_d_one_d ? args_1d1d : args_1d2d);
  if (s != DLG_OK) dlg_error_prefix("sm90 fp8 gemm");
  return s;
}
