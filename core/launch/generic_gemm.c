/* Launcher of the portable SIMT GEMM (kernels/portable_generic_gemm.cuh): every recipe,
 * layout and dtype on any arch. Everything about the problem travels in the parameter
 * struct, so one compiled kernel per arch serves all problems (one NVRTC run, ever). */
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "validate.h"

#define GG_BLOCK_M 64
#define GG_BLOCK_N 64
#define GG_THREADS 256
#define GG_MAX_GRID_Y 65535

/* Byte-for-byte twin of struct dlg_generic_gemm_params in the kernel. */
typedef struct generic_gemm_params {
  const void *a, *b, *sfa, *sfb, *c;
  void* d;
  int64_t m, n, k;
  int64_t a_sm, a_sk, b_sn, b_sk;
  int64_t sfa_s0, sfa_s1, sfb_s0, sfb_s1;
  int64_t c_sm, c_sn, d_sm, d_sn;
  int64_t sfb_rows_per_scale;
  int32_t ab_type, sfa_kind, sfb_kind, scale_mode, c_type, d_type;
} generic_gemm_params_t;
_Static_assert(sizeof(generic_gemm_params_t) == 200, "must match the kernel's params");

static const char k_source[] =
    "#define DLG_GG_BLOCK_M 64\n"
    "#define DLG_GG_BLOCK_N 64\n"
    "#define DLG_GG_BLOCK_K 32\n"
    "#include \"portable_generic_gemm.cuh\"\n";

static int32_t scale_kind(const DLTensor* sf) {
  if (!sf) return 0;
  return dlg_dtype_is(sf, DLG_DT_I32) ? 2 : 1;
}

static const void* data_or_null(const DLTensor* t) { return t && t->data ? dlg_data(t) : NULL; }

static void fill_params(const dlg_gemm_problem_t* p, generic_gemm_params_t* q) {
  memset(q, 0, sizeof *q);
  q->a = data_or_null(p->a);
  q->b = data_or_null(p->b);
  q->d = p->d->data ? dlg_data(p->d) : NULL;
  q->m = p->m;
  q->n = p->n;
  q->k = p->k;
  q->a_sm = dlg_stride(p->a, 0);
  q->a_sk = dlg_stride(p->a, 1);
  q->b_sn = dlg_stride(p->b, 0);
  q->b_sk = dlg_stride(p->b, 1);
  q->d_sm = dlg_stride(p->d, 0);
  q->d_sn = dlg_stride(p->d, 1);
  q->d_type = dlg_dtype_is(p->d, DLG_DT_F32) ? 1 : 2;
  q->ab_type = p->recipe == DLG_RECIPE_BF16 ? 1 : 0;
  q->sfb_rows_per_scale = p->recipe == DLG_RECIPE_FP8_1D2D ? 128 : 1;
  if (p->c) {
    q->c = data_or_null(p->c);
    q->c_sm = dlg_stride(p->c, 0);
    q->c_sn = dlg_stride(p->c, 1);
    q->c_type = dlg_dtype_is(p->c, DLG_DT_F32) ? 1 : 2;
  }
  switch (p->recipe) {
    case DLG_RECIPE_FP8_1D2D:
    case DLG_RECIPE_FP8_1D1D:
      q->scale_mode = 1;
      q->sfa = data_or_null(p->sfa);
      q->sfb = data_or_null(p->sfb);
      q->sfa_kind = scale_kind(p->sfa);
      q->sfb_kind = scale_kind(p->sfb);
      if (p->sfa) {
        q->sfa_s0 = dlg_stride(p->sfa, 0);
        q->sfa_s1 = dlg_stride(p->sfa, 1);
      }
      if (p->sfb) {
        q->sfb_s0 = dlg_stride(p->sfb, 0);
        q->sfb_s1 = dlg_stride(p->sfb, 1);
      }
      break;
    case DLG_RECIPE_FP8_PER_TENSOR:
      /* Scalars: element 0 of the (one-element) tensor; NULL means 1. */
      q->scale_mode = 2;
      q->sfa = data_or_null(p->sfa);
      q->sfb = data_or_null(p->sfb);
      q->sfa_kind = p->sfa ? 1 : 0;
      q->sfb_kind = p->sfb ? 1 : 0;
      break;
    case DLG_RECIPE_BF16:
      q->scale_mode = 0;
      break;
  }
}

dlg_status_t dlg_launch_generic_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                     void* stream, int warmup_only) {
  int arch = 0;
  dlg_status_t s = dlg_gpu_arch(ctx, &arch);
  if (s != DLG_OK) return s;
  dlg_kernel_spec_t spec = {k_source, "portable_generic_gemm", arch, 0};
  dlg_kernel_t kernel;
  if ((s = dlg_jit_get(ctx, &spec, &kernel)) != DLG_OK) return s;
  if (warmup_only || p->m == 0 || p->n == 0) return DLG_OK;

  generic_gemm_params_t q;
  fill_params(p, &q);
  int64_t tiles_n = dlg_ceil_div64(p->n, GG_BLOCK_N), tiles_m = dlg_ceil_div64(p->m, GG_BLOCK_M);
  if (tiles_n > 0x7fffffff)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "generic gemm: N = %lld is too large", (long long)p->n);
  dlg_launch_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.grid[0] = (unsigned)tiles_n;
  cfg.grid[1] = (unsigned)(tiles_m < GG_MAX_GRID_Y ? tiles_m : GG_MAX_GRID_Y); /* kernel loops */
  cfg.grid[2] = 1;
  cfg.block[0] = GG_THREADS;
  cfg.block[1] = cfg.block[2] = 1;
  cfg.pdl = dlg_context_get_pdl(ctx) && arch >= 90;
  cfg.stream = stream;
  if (dlg_print_configs())
    fprintf(stderr,
            "dlgemm: gemm %s m=%lld n=%lld k=%lld -> portable_generic_gemm sm_%d: grid (%u, %u), "
            "block %u, tile %dx%d, smem static, %d regs, %d B local, pdl %d\n",
            dlg_recipe_name(p->recipe), (long long)p->m, (long long)p->n, (long long)p->k, arch,
            cfg.grid[0], cfg.grid[1], cfg.block[0], GG_BLOCK_M, GG_BLOCK_N, kernel.num_regs,
            kernel.local_bytes, cfg.pdl);
  void* args[] = {&q};
  s = dlg_jit_launch(ctx, &kernel, &cfg, args);
  if (s != DLG_OK) dlg_error_prefix("generic gemm");
  return s;
}
