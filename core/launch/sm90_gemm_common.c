/* Shared helpers of the SM90 GEMM launchers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "jit/dl.h"
#include "launch/sm90_gemm_common.h"
#include "validate.h"

#define SM90_SMEM_OPTIN 232448 /* H100/H200: 227 KiB per block, when the driver won't say */

static int aligned(const DLTensor* t, size_t bytes) {
  return ((uintptr_t)dlg_data(t)) % bytes == 0;
}

dlg_status_t dlg_sm90_check_operand(const char* name, const DLTensor* t, int elem_bytes,
                                    int check_ptr) {
  const int64_t rows = t->shape[0], k = t->shape[1];
  if (k > 1 && dlg_stride(t, 1) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel needs K-major storage (stride(1) == 1)", name);
  const int64_t ld = dlg_stride(t, 0);
  if (rows > 1 && (ld < k || (ld * elem_bytes) % 16 != 0))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: sm90 kernel needs a row stride >= K and a multiple of 16 bytes, got %lld elements",
                    name, (long long)ld);
  if (check_ptr && !aligned(t, 16))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel needs a 16-byte aligned base address", name);
  return DLG_OK;
}

dlg_status_t dlg_sm90_check_output(const dlg_gemm_problem_t* p, int check_ptr) {
  const DLTensor* d = p->d;
  const int d_bytes = dlg_dtype_is(d, DLG_DT_F32) ? 4 : 2;
  if (p->n > 1 && dlg_stride(d, 1) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 kernel needs row-major D (stride(1) == 1)");
  const int64_t ldd = dlg_stride(d, 0);
  if (p->m > 1 && (ldd < p->n || (ldd * d_bytes) % 16 != 0))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "d: sm90 kernel needs a row stride >= N and a multiple of 16 bytes, got %lld elements",
                    (long long)ldd);
  if (check_ptr && !aligned(d, 16))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 kernel needs a 16-byte aligned base address");
  const DLTensor* c = p->c;
  if (!c) return DLG_OK;
  /* The epilogue reads C as element pairs (columns 2i, 2i+1) with one 4- or 8-byte load. */
  const int c_bytes = dlg_dtype_is(c, DLG_DT_F32) ? 4 : 2;
  if (p->n % 2 != 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 kernel reads C in column pairs: N must be even");
  if (p->n > 1 && dlg_stride(c, 1) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 kernel needs row-major C (stride(1) == 1)");
  const int64_t ldc = dlg_stride(c, 0);
  if (p->m > 1 && (ldc < 0 || ldc % 2 != 0))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 kernel needs an even, non-negative row stride");
  if (check_ptr && !aligned(c, (size_t)(2 * c_bytes)))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 kernel needs a base aligned to %d bytes", 2 * c_bytes);
  return DLG_OK;
}

int dlg_sm90_c_mode(const dlg_gemm_problem_t* p) {
  if (!p->c) return 0;
  return dlg_dtype_is(p->c, DLG_DT_F32) ? 2 : 1;
}

dlg_status_t dlg_sm90_make_shape(dlg_context_t* ctx, const dlg_gemm_problem_t* p, int fp8,
                                 int sfa_in_smem, dlg_sm90_gemm_shape_t* out) {
  memset(out, 0, sizeof *out);
  dlg_status_t s = dlg_gpu_num_sms(ctx, &out->num_sms);
  if (s != DLG_OK) return s;
  dlg_device_info_t info;
  if ((s = dlg_context_device_info(ctx, &info)) != DLG_OK) return s;
  out->smem_limit = info.max_smem_per_block ? info.max_smem_per_block : SM90_SMEM_OPTIN;
  out->m = p->m;
  out->n = p->n;
  out->k = p->k;
  out->fp8 = fp8;
  out->sfa_in_smem = sfa_in_smem;
  out->out_bytes = dlg_dtype_is(p->d, DLG_DT_F32) ? 4 : 2;
  out->c_bytes = p->c ? (dlg_dtype_is(p->c, DLG_DT_F32) ? 4 : 2) : 0;
  switch (p->recipe) {
    case DLG_RECIPE_FP8_1D2D: out->promotion = DLG_SM90_PROMOTE_ROW_BLOCK; break;
    case DLG_RECIPE_FP8_1D1D: out->promotion = DLG_SM90_PROMOTE_ROW_COL; break;
    case DLG_RECIPE_FP8_PER_TENSOR: out->promotion = DLG_SM90_PROMOTE_ADD; break;
    default: out->promotion = DLG_SM90_PROMOTE_NONE; break;
  }
  return DLG_OK;
}

void dlg_sm90_apply_override(const dlg_sm90_gemm_shape_t* shape, dlg_sm90_gemm_config_t* cfg) {
  const char* spec = getenv("DLG_SM90_GEMM_CONFIG");
  if (!spec || !*spec) return;
  const char* why = NULL;
  if (!dlg_sm90_gemm_override(shape, spec, cfg, &why) && dlg_print_configs())
    fprintf(stderr, "dlgemm: DLG_SM90_GEMM_CONFIG='%s' ignored: %s\n", spec, why);
}

uint32_t dlg_sm90_load_flags(int64_t b_tile_rows, int one_wave) {
  /* The override read once (-1: none): no environment scan on the per-call path. Threads
   * racing on the first call store the same value. */
  static volatile int forced = -2;
  if (forced == -2) {
    const char* v = getenv("DLG_SM90_B_EVICT_FIRST");
    forced = v && (v[0] == '0' || v[0] == '1') && !v[1] ? v[0] - '0' : -1;
  }
  if (forced >= 0) return (uint32_t)forced;
  return b_tile_rows <= 2 || one_wave ? 1u : 0u;
}

uint32_t dlg_sm90_dense_load_flags(const dlg_gemm_problem_t* p, const dlg_sm90_gemm_config_t* cfg) {
  return dlg_sm90_load_flags(dlg_ceil_div64(p->m, cfg->block_m),
                             cfg->split_k > 1 || cfg->tiles <= (int64_t)cfg->grid);
}

dlg_status_t dlg_sm90_map_operand(CUtensorMap* map, const DLTensor* t, CUtensorMapDataType dtype,
                                  uint32_t box_rows, const char* what) {
  const size_t eb = dlg_tma_elem_bytes(dtype);
  dlg_tma_2d_t v;
  memset(&v, 0, sizeof v);
  v.base = dlg_data(t);
  v.dtype = dtype;
  v.inner = (uint64_t)t->shape[1];
  v.outer = (uint64_t)t->shape[0];
  v.row_stride_bytes = (uint64_t)dlg_stride(t, 0) * eb;
  v.box_inner = (uint32_t)(128 / eb); /* one 128-byte swizzle row of K */
  v.box_outer = box_rows;
  v.swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  v.l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  return dlg_tma_encode_2d(map, &v, what);
}

dlg_status_t dlg_sm90_map_output(CUtensorMap* map, const DLTensor* d,
                                 const dlg_sm90_gemm_config_t* cfg) {
  return dlg_sm90_map_epilogue(map, d, cfg, "d");
}

dlg_status_t dlg_sm90_map_epilogue(CUtensorMap* map, const DLTensor* d,
                                   const dlg_sm90_gemm_config_t* cfg, const char* what) {
  const int f32 = dlg_dtype_is(d, DLG_DT_F32);
  const size_t eb = f32 ? 4 : 2;
  dlg_tma_2d_t v;
  memset(&v, 0, sizeof v);
  v.base = dlg_data(d);
  v.dtype = f32 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  v.inner = (uint64_t)d->shape[1];
  v.outer = (uint64_t)d->shape[0];
  v.row_stride_bytes = (uint64_t)dlg_stride(d, 0) * eb;
  v.box_inner = (uint32_t)(cfg->d_swizzle / eb);
  v.box_outer = 64; /* each math warpgroup stores its own 64 rows */
  v.swizzle = cfg->d_swizzle == 128 ? CU_TENSOR_MAP_SWIZZLE_128B
              : cfg->d_swizzle == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                     : CU_TENSOR_MAP_SWIZZLE_32B;
  v.l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_NONE;
  return dlg_tma_encode_2d(map, &v, what);
}

void dlg_sm90_fit_clusters(const dlg_kernel_t* k, dlg_sm90_gemm_config_t* cfg) {
  if (cfg->split_k > 1) return; /* not persistent: one cluster per tile, whatever fits at once */
  cfg->grid = dlg_jit_fit_cluster_grid(k, cfg->grid, (unsigned)cfg->threads, cfg->smem_bytes,
                                       (unsigned)(cfg->cluster_m * cfg->cluster_n));
}

void dlg_sm90_print_config(const char* kernel, const dlg_gemm_problem_t* p,
                           const dlg_sm90_gemm_config_t* c, const dlg_kernel_t* k, int pdl) {
  if (!dlg_print_configs()) return;
  fprintf(stderr,
          "dlgemm: gemm %s m=%lld n=%lld k=%lld -> %s: BLOCK_M=%d BLOCK_N=%d stages=%d "
          "cluster=%dx%d%s split_k=%d pipelined=%d direct=%d ring=%d grid=%u block=%d smem=%zu tiles=%lld "
          "waves=%lld est=%.0f cyc regs=%d local=%d pdl=%d\n",
          dlg_recipe_name(p->recipe), (long long)p->m, (long long)p->n, (long long)p->k, kernel,
          c->block_m, c->block_n, c->stages, c->cluster_m, c->cluster_n,
          c->cluster_n == 2 ? " (multicast A)" : c->cluster_m == 2 ? " (multicast B)" : "",
          c->split_k > 1 ? c->split_k : 1, c->pipelined, c->direct_store, c->slab_ring, c->grid, c->threads, c->smem_bytes, (long long)c->tiles, (long long)c->waves,
          c->est_cycles, k ? k->num_regs : 0, k ? k->local_bytes : 0, pdl);
}

dlg_status_t dlg_sm90_find_plan(dlg_context_t* ctx, int launcher, const dlg_gemm_problem_t* p,
                                int c_tma, int warmup_only, dlg_sm90_plan_maker_t make,
                                dlg_gemm_plan_t* fresh, const dlg_gemm_plan_t** plan,
                                dlg_sm90_gemm_config_t* cfg, dlg_kernel_t* kernel) {
  int num_sms = 0;
  DLG_TRY(dlg_gpu_num_sms(ctx, &num_sms));
  dlg_gemm_plan_key_t key;
  const int cacheable = dlg_gemm_plan_key_init(&key, launcher, p->recipe, p->m, p->n, p->k,
                                               getenv("DLG_SM90_GEMM_CONFIG"));
  key.d_f32 = dlg_dtype_is(p->d, DLG_DT_F32);
  key.c_mode = dlg_sm90_c_mode(p);
  key.c_tma = c_tma;
  key.num_sms = num_sms;
  key.jit_options_gen = __atomic_load_n(&ctx->jit_options_gen, __ATOMIC_ACQUIRE);
  const dlg_gemm_plan_t* found = cacheable ? dlg_gemm_plan_find(ctx, &key) : NULL;
  if (!found) {
    DLG_TRY(make(ctx, p, c_tma, num_sms, fresh));
    found = cacheable ? dlg_gemm_plan_insert(ctx, &key, fresh) : NULL;
    if (!found) found = fresh;
  }
  *cfg = found->cfg;
  *kernel = found->kernel;
  if (!warmup_only) {
    const unsigned fitted = dlg_gemm_plan_fitted_grid(found);
    if (fitted) {
      cfg->grid = fitted;
    } else {
      dlg_sm90_fit_clusters(kernel, cfg);
      dlg_gemm_plan_set_fitted_grid(found, cfg->grid);
    }
  }
  *plan = found;
  return DLG_OK;
}
