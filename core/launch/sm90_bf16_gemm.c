/* Launcher of kernels/sm90_bf16_gemm.cuh: BF16 GEMM on SM90 (wgmma + TMA), D bf16|f32,
 * optional C. Declines (DLG_ERR_UNSUPPORTED, nothing launched) non-K-major operands and
 * TMA-misaligned tensors; the portable kernel takes those. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "launch/gemm_plan_cache.h"
#include "launch/sm90_gemm_common.h"
#include "validate.h"

/* Byte-for-byte twin of dlg::Sm90Bf16GemmParams in the kernel. */
typedef struct sm90_bf16_params {
  uint32_t m, n, k, flags; /* dlg_sm90_load_flags */
  const void* c;
  int64_t ldc;
  void* d;
  int64_t ldd;
} sm90_bf16_params_t;
_Static_assert(sizeof(sm90_bf16_params_t) == 48, "must match dlg::Sm90Bf16GemmParams");

/* Byte-for-byte twin of dlg::Sm90Bf16GemvParams (kernels/sm90_bf16_gemv.cuh). */
typedef struct sm90_bf16_gemv_params {
  uint32_t m, n, k, pad_;
  const void* a;
  int64_t lda;
  const void* b;
  int64_t ldb;
  const void* c;
  int64_t ldc;
  void* d;
  int64_t ldd;
} sm90_bf16_gemv_params_t;
_Static_assert(sizeof(sm90_bf16_gemv_params_t) == 80, "must match dlg::Sm90Bf16GemvParams");

#define GEMV_MAX_M 4
#define GEMV_WARPS 8          /* per CTA (kernels/sm90_bf16_gemv.cuh) */
#define GEMV_WARPS_PER_SM 24  /* the split fills at least this many warps per SM */

void dlg_sm90_bf16_gemv_source(int m, int split, int f32_out, int c_mode, char* name,
                               size_t name_cap, char* source, size_t source_cap) {
  snprintf(name, name_cap, "sm90_bf16_gemv<%d, %d, %s, %d>", m, split,
           f32_out ? "float" : "dlg_bf16", c_mode);
  snprintf(source, source_cap,
           "#include \"sm90_bf16_gemv.cuh\"\n"
           "template __global__ void %s(const dlg::Sm90Bf16GemvParams);\n", name);
}

/* Warps per B row: the fewest (1, 2, 4, 8) that put GEMV_WARPS_PER_SM warps on every SM,
 * while each keeps 2 chunks of 256 K elements at least. */
int dlg_sm90_bf16_gemv_split(int64_t n, int64_t k, int num_sms) {
  int split = 1;
  while (split < GEMV_WARPS && n * split < (int64_t)GEMV_WARPS_PER_SM * num_sms &&
         k >= (int64_t)512 * split * 2)
    split *= 2;
  return split;
}

/* The GEMV path: M <= 4 rows of A (decode), K a whole number of 16-byte vectors; the
 * operands already passed the TMA checks (K-major, 16-byte aligned rows). $DLG_BF16_GEMV=0
 * turns it off (A/B). */
static int gemv_ok(const dlg_gemm_problem_t* p) {
  const char* v = getenv("DLG_BF16_GEMV");
  if (v && !strcmp(v, "0")) return 0;
  return p->m <= GEMV_MAX_M && p->k % 8 == 0;
}

/* The GEMV's plan (a dlg_sm90_plan_maker_t; c_tma unused): 8-warp CTAs, `split` warps per
 * B row, one CTA per 8 / split rows of B (not persistent; no cluster, so the plan cache's
 * cluster fitting leaves the grid as it is). */
static dlg_status_t plan_gemv(dlg_context_t* ctx, const dlg_gemm_problem_t* p, int c_tma,
                              int num_sms, dlg_gemm_plan_t* out) {
  (void)c_tma;
  memset(out, 0, sizeof *out);
  dlg_sm90_gemm_config_t* cfg = &out->cfg;
  const int split = dlg_sm90_bf16_gemv_split(p->n, p->k, num_sms);
  cfg->block_m = (int)p->m;
  cfg->block_n = GEMV_WARPS / split; /* B rows (D columns) per CTA */
  cfg->split_k = split;              /* here: warps per B row */
  cfg->stages = 1;
  cfg->cluster_m = cfg->cluster_n = 1;
  cfg->threads = GEMV_WARPS * 32;
  cfg->grid = (unsigned)((p->n + cfg->block_n - 1) / cfg->block_n);
  out->c_mode = dlg_sm90_c_mode(p);
  char name[160], source[512];
  dlg_sm90_bf16_gemv_source((int)p->m, split, dlg_dtype_is(p->d, DLG_DT_F32), out->c_mode, name,
                            sizeof name, source, sizeof source);
  dlg_kernel_spec_t spec = {source, name, 90, 0};
  return dlg_jit_get(ctx, &spec, &out->kernel);
}

static dlg_status_t launch_gemv(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* stream,
                                int warmup_only) {
  const dlg_gemm_plan_t* plan;
  dlg_gemm_plan_t fresh;
  dlg_sm90_gemm_config_t cfg;
  dlg_kernel_t kernel;
  DLG_TRY(dlg_sm90_find_plan(ctx, DLG_PLAN_SM90_BF16_GEMV, p, 0, warmup_only, plan_gemv, &fresh,
                             &plan, &cfg, &kernel));
  const int pdl = dlg_context_get_pdl(ctx);
  dlg_sm90_print_config("sm90_bf16_gemv", p, &cfg, &kernel, pdl);
  if (warmup_only) return DLG_OK;
  sm90_bf16_gemv_params_t params;
  memset(&params, 0, sizeof params);
  params.m = (uint32_t)p->m;
  params.n = (uint32_t)p->n;
  params.k = (uint32_t)p->k;
  params.a = dlg_data(p->a);
  params.lda = dlg_stride(p->a, 0);
  params.b = dlg_data(p->b);
  params.ldb = dlg_stride(p->b, 0);
  if (p->c) {
    params.c = dlg_data(p->c);
    params.ldc = dlg_stride(p->c, 0);
  }
  params.d = dlg_data(p->d);
  params.ldd = dlg_stride(p->d, 0);
  dlg_launch_config_t lc = dlg_launch_config_1d(cfg.grid, (unsigned)cfg.threads, 1, 0, pdl, stream);
  void* args[] = {&params};
  dlg_status_t s = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (s != DLG_OK) dlg_error_prefix("sm90 bf16 gemv");
  return s;
}

void dlg_sm90_bf16_gemm_source(const dlg_sm90_gemm_config_t* cfg, int f32_out, int c_mode,
                               char* name, size_t name_cap, char* source, size_t source_cap) {
  /* kSplitK last, left out when off (the other kernels keep their names and cache keys). */
  char split[16] = "";
  if (cfg->split_k > 1) snprintf(split, sizeof split, ", %d", cfg->split_k);
  snprintf(name, name_cap, "sm90_bf16_gemm<%d, %d, %d, %d, %d, %d, %s, %d, %d%s>", cfg->block_m,
           cfg->block_n, cfg->stages, cfg->cluster_m, cfg->cluster_n, cfg->group_n,
           f32_out ? "float" : "dlg_bf16", c_mode, dlg_sm90_store_mode(cfg), split);
  snprintf(source, source_cap,
           "#include \"sm90_bf16_gemm.cuh\"\n"
           "template __global__ void %s(DLG_SM90_BF16_GEMM_SIGNATURE);\n", name);
}

/* What a first call decides: config (heuristics, then $DLG_SM90_GEMM_CONFIG) and the loaded
 * kernel. Cached per context by the caller. */
static dlg_status_t plan_bf16(dlg_context_t* ctx, const dlg_gemm_problem_t* p, int c_tma,
                              int num_sms, dlg_gemm_plan_t* out) {
  memset(out, 0, sizeof *out);
  dlg_sm90_gemm_shape_t shape;
  dlg_status_t s = dlg_sm90_make_shape(ctx, p, 0, 0, &shape);
  if (s != DLG_OK) return s;
  shape.num_sms = num_sms; /* the value the plan is keyed by */
  dlg_sm90_gemm_config_t* cfg = &out->cfg;
  if (!dlg_sm90_gemm_choose(&shape, cfg))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sm90 bf16 gemm: no tile config fits %zu bytes of shared memory",
                    shape.smem_limit);
  dlg_sm90_apply_override(&shape, cfg);
  out->c_mode = dlg_sm90_c_mode(p);
  char name[160], source[512];
  dlg_sm90_bf16_gemm_source(cfg, dlg_dtype_is(p->d, DLG_DT_F32), out->c_mode, name, sizeof name,
                            source, sizeof source);
  dlg_kernel_spec_t spec = {source, name, 90, cfg->smem_bytes};
  return dlg_jit_get(ctx, &spec, &out->kernel);
}

dlg_status_t dlg_launch_sm90_bf16_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                       void* stream, int warmup_only) {
  const int check_ptr = !warmup_only;
  dlg_status_t s;
  if (p->recipe != DLG_RECIPE_BF16)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "recipe: sm90 bf16 kernel covers bf16 only, not %s",
                    dlg_recipe_name(p->recipe));
  if (p->m <= 0 || p->n <= 0 || p->k <= 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "m, n, k: sm90 bf16 kernel needs a non-empty problem");
  if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "m, n, k: sm90 bf16 kernel takes extents below 2^31");
  if ((s = dlg_sm90_check_operand("a", p->a, 2, check_ptr)) != DLG_OK) return s;
  if ((s = dlg_sm90_check_operand("b", p->b, 2, check_ptr)) != DLG_OK) return s;
  if ((s = dlg_sm90_check_output(p, check_ptr)) != DLG_OK) return s;
  if (gemv_ok(p)) return launch_gemv(ctx, p, stream, warmup_only);

  const dlg_gemm_plan_t* plan;
  dlg_gemm_plan_t fresh;
  dlg_sm90_gemm_config_t cfg;
  dlg_kernel_t kernel;
  if ((s = dlg_sm90_find_plan(ctx, DLG_PLAN_SM90_BF16, p, 0, warmup_only, plan_bf16, &fresh,
                              &plan, &cfg, &kernel)) != DLG_OK)
    return s;
  const int pdl = dlg_context_get_pdl(ctx);
  dlg_sm90_print_config("sm90_bf16_gemm", p, &cfg, &kernel, pdl);
  if (warmup_only) return DLG_OK;

  CUtensorMap map_a, map_b, map_d;
  if ((s = dlg_sm90_map_operand(&map_a, p->a, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                                (uint32_t)(cfg.block_m / cfg.cluster_n), "a")) != DLG_OK)
    return s;
  if ((s = dlg_sm90_map_operand(&map_b, p->b, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                                (uint32_t)(cfg.block_n / cfg.cluster_m), "b")) != DLG_OK)
    return s;
  if ((s = dlg_sm90_map_output(&map_d, p->d, &cfg)) != DLG_OK) return s;

  sm90_bf16_params_t params;
  memset(&params, 0, sizeof params);
  params.m = (uint32_t)p->m;
  params.n = (uint32_t)p->n;
  params.k = (uint32_t)p->k;
  if (p->c) {
    params.c = dlg_data(p->c);
    params.ldc = dlg_stride(p->c, 0);
  }
  params.d = dlg_data(p->d);
  params.ldd = dlg_stride(p->d, 0);
  const int split = cfg.split_k > 1 ? cfg.split_k : 1;
  params.flags = dlg_sm90_dense_load_flags(p, &cfg);
  dlg_launch_config_t lc = dlg_launch_config_1d(cfg.grid, (unsigned)cfg.threads,
      (unsigned)(cfg.cluster_m * cfg.cluster_n * split), cfg.smem_bytes, pdl, stream);
  void* args[] = {&params, &map_a, &map_b, &map_d};
  s = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (s != DLG_OK) dlg_error_prefix("sm90 bf16 gemm");
  return s;
}
