/* dlgemm_bench --op ...: the MoE grouped GEMMs (issue 9's shape sets) against a loop of
 * cuBLASLt GEMMs, one per group, in the same process and on the same stream.
 *
 *   m_grouped_contiguous  FP8 1D2D, (G, expected m) in {(4, 8192), (8, 4096)}, per-group m =
 *                         expected * U(0.7, 1.3), segments padded to 128 rows (row ids, -1
 *                         padding), (N, K) in {(6144, 7168), (7168, 3072), (4096, 4096),
 *                         (4096, 2048)}. TFLOPS on the valid rows.
 *   m_grouped_masked      FP8 1D2D, max_m 4096, (G, m) in {(32, 192), (6, 1024), (32, 20),
 *                         (6, 20)} x the same (N, K); masked_m = m * U(0.7, 1.3). TFLOPS and
 *                         GB/s on the valid rows (bytes: valid A rows + all B + valid D rows).
 *   k_grouped             FP8 1D1D, f32 D += A·Bᵀ per K segment (C = D), (G, M, N, expected K)
 *                         from the issue; ks = align128(K * U(0.7, 1.3)).
 *
 * Operands: FP8 rows are copies of a random pool (rows repeat every POOL_ROWS), so setting
 * up a 1 GB operand is an upload, not a fill; scales are random in [0.5, 2]. Correctness:
 * D poisoned (0xFF), one call, then SAMPLE_ROWS x SAMPLE_COLS elements compared with dot
 * products computed here in double (calc_diff), and every padding row / row past masked_m
 * (up to 256 per group) checked to still hold the poison.
 * Baseline: per group one cuBLASLt plan (the dense bench's bench_lt_*), rows rounded up to
 * 16; the K-grouped baseline reads compact per-group copies of A and B (cuBLASLt plans here
 * take compact operands) and accumulates into D (beta = 1), as dlgemm does. */
#define _POSIX_C_SOURCE 200809L
#include "grouped.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cublaslt.h"
#include "cupti.h"
#include "extras.h"
#include "json.h"
#include "problem.h"
#include "timing.h"

#define POOL_ROWS 256
#define SAMPLE_ROWS 16
#define SAMPLE_COLS 16
#define MAX_G 32
#define MASKED_MAX_M 4096

typedef enum { OP_CONTIG = 1, OP_MASKED = 2, OP_KGROUPED = 4, OP_CASTS = 8 } gop_t;

typedef struct gshape {
  gop_t op;
  int g;
  int64_t m, n, k; /* m: expected rows per group (contig/masked) or M (k-grouped); k: expected K */
} gshape_t;

typedef struct grec {
  gshape_t s;
  int64_t valid_rows, total_rows, k_total;
  double flops, bytes;
  double dl_us, lt_us;
  double copy_us;           /* masked: a copy of the same useful bytes (event time); 0 if none */
  bench_stats_t dl_t, lt_t; /* the whole timing, kernel times (CUPTI) included */
  int dl_ran, lt_ran;
  double diff;
  int64_t poison_bad;
  char status[320], lt_status[320];
} grec_t;

typedef struct gopts {
  int ops, quick, baseline, iters, warmup, device;
  int anchors; /* --anchors: DeepGEMM's anchor shapes (shared/anchors-h100.md) instead */
  double flush_mib;
  const char* json;
} gopts_t;

/* ---- small helpers -------------------------------------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* xorshift64*, [0, 1) */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (double)((g_rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double e4m3_value(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  if (exp == 15 && man == 7) return NAN;
  const double mag = exp == 0 ? ldexp((double)man, -9) : ldexp((double)(8 + man), exp - 10);
  return sign ? -mag : mag;
}

static double bf16_value(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/* A host tensor view over caller memory (for dlg_testing_fill). */
static DLTensor host_view(void* data, int code, int bits, int ndim, int64_t* shape,
                          int64_t* strides) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = (uint8_t)code;
  t.dtype.bits = (uint8_t)bits;
  t.dtype.lanes = 1;
  t.shape = shape;
  t.strides = strides;
  return t;
}

static DLTensor dev_view(int device, CUdeviceptr p, int code, int bits, int ndim, int64_t* shape,
                         int64_t* strides) {
  DLTensor t = host_view((void*)(uintptr_t)p, code, bits, ndim, shape, strides);
  t.device.device_type = kDLCUDA;
  t.device.device_id = device;
  return t;
}

/* Random f32 in [0.5, 2] (scales). */
static float* random_scales(size_t n, uint64_t seed) {
  float* s = malloc(n * sizeof *s);
  if (!s) return NULL;
  int64_t shape[1] = {(int64_t)n};
  DLTensor t = host_view(s, kDLFloat, 32, 1, shape, NULL);
  dlg_testing_fill(&t, seed, DLG_FILL_UNIFORM, 0.5, 2.0);
  return s;
}

/* The FP8 pool: POOL_ROWS x kmax bytes; operand row f is pool row (f + shift) % POOL_ROWS. */
typedef struct pool {
  uint8_t* data;
  int64_t kmax;
  uint8_t* stage; /* POOL_ROWS x k, compact, rebuilt per k */
  int64_t stage_k;
} pool_t;

static const uint8_t* pool_row(const pool_t* p, int64_t f) {
  return p->data + (f % POOL_ROWS) * p->kmax;
}

/* Uploads rows [first, first + count) of a compact [*, k] FP8 operand at dev (row `first`
 * at dev + 0), row f taken from pool row (f + shift) % POOL_ROWS, columns [k0, k0 + k). */
static int upload_rows(bench_cuda_t* cu, pool_t* p, CUdeviceptr dev, int64_t first,
                       int64_t count, int64_t k, int64_t k0, int64_t shift, char* why,
                       size_t cap) {
  if (p->stage_k != k + k0 * 1000003) { /* restage: k and k0 identify the content */
    free(p->stage);
    p->stage = malloc((size_t)(2 * POOL_ROWS) * (size_t)k);
    if (!p->stage) return snprintf(why, cap, "out of host memory"), -1;
    for (int64_t r = 0; r < 2 * POOL_ROWS; ++r)
      memcpy(p->stage + r * k, pool_row(p, r) + k0, (size_t)k);
    p->stage_k = k + k0 * 1000003;
  }
  int64_t done = 0;
  while (done < count) {
    const int64_t f = (first + done + shift) % POOL_ROWS;
    int64_t n = POOL_ROWS;
    if (n > count - done) n = count - done;
    CUresult r = cu->memcpy_htod(dev + (CUdeviceptr)(done * k), p->stage + f * k, (size_t)(n * k));
    if (r != CUDA_SUCCESS) return snprintf(why, cap, "upload: %s", bench_cu_error(cu, r)), -1;
    done += n;
  }
  return 0;
}

static int dev_alloc(bench_cuda_t* cu, bench_dev_buf_t* b, const void* src, size_t bytes,
                     char* why, size_t cap) {
  return bench_dev_upload(cu, b, src, bytes ? bytes : 16, why, cap);
}

/* calc_diff over sampled values. */
static double calc_diff(const double* x, const double* y, int n) {
  double xy = 0, xx = 0;
  for (int i = 0; i < n; ++i) {
    xy += x[i] * y[i];
    xx += x[i] * x[i] + y[i] * y[i];
  }
  return xx == 0 ? 0 : 1.0 - 2.0 * xy / xx;
}

/* ---- the three problems --------------------------------------------------------------- */

/* Everything one shape allocates; freed by free_problem. */
typedef struct gproblem {
  int64_t groups, n, k, kb, nb;
  int64_t rows;       /* A / D rows: M_total (contig), G*max_m (masked), M (k-grouped) */
  int64_t sfa_ld;     /* MN-major sfa: elements between k-blocks */
  int32_t* layout;    /* row ids (contig), masked_m (masked), ks (k-grouped) */
  int64_t* seg_start; /* contig: first row of each group; k-grouped: first K column */
  float *sfa, *sfb;   /* host copies */
  bench_dev_buf_t a, sfa_d, b, sfb_d, layout_d, d;
  bench_dev_buf_t lt_a, lt_b, lt_sfa, lt_sfb; /* baseline-only buffers */
  bench_lt_plan_t* plans[MAX_G];
  int64_t plan_rows_off[MAX_G]; /* D byte offset of each plan's output */
  int n_plans;
} gproblem_t;

static void free_problem(bench_cuda_t* cu, gproblem_t* p) {
  bench_dev_buf_t* bufs[] = {&p->a, &p->sfa_d, &p->b, &p->sfb_d, &p->layout_d, &p->d,
                             &p->lt_a, &p->lt_b, &p->lt_sfa, &p->lt_sfb};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) bench_dev_free(cu, bufs[i]);
  for (int i = 0; i < p->n_plans; ++i) bench_lt_plan_destroy(p->plans[i]);
  free(p->layout);
  free(p->seg_start);
  free(p->sfa);
  free(p->sfb);
  memset(p, 0, sizeof *p);
}

typedef struct gcall {
  bench_env_t* env;
  gproblem_t* p;
  const gshape_t* s;
} gcall_t;

/* The dlgemm call (tensors rebuilt each call: it is cheap, and keeps the shapes local). */
static int dl_launch(void* user, CUstream stream, char* why, size_t cap) {
  gcall_t* c = user;
  gproblem_t* p = c->p;
  const int dev = c->env->device;
  dlg_status_t st;
  if (c->s->op == OP_CONTIG) {
    int64_t a_sh[2] = {p->rows, p->k}, sfa_sh[2] = {p->rows, p->kb}, sfa_st[2] = {1, p->sfa_ld};
    int64_t b_sh[3] = {p->groups, p->n, p->k}, sfb_sh[3] = {p->groups, p->nb, p->kb};
    int64_t l_sh[1] = {p->rows}, d_sh[2] = {p->rows, p->n};
    DLTensor a = dev_view(dev, p->a.ptr, kDLFloat8_e4m3fn, 8, 2, a_sh, NULL);
    DLTensor sfa = dev_view(dev, p->sfa_d.ptr, kDLFloat, 32, 2, sfa_sh, sfa_st);
    DLTensor b = dev_view(dev, p->b.ptr, kDLFloat8_e4m3fn, 8, 3, b_sh, NULL);
    DLTensor sfb = dev_view(dev, p->sfb_d.ptr, kDLFloat, 32, 3, sfb_sh, NULL);
    DLTensor l = dev_view(dev, p->layout_d.ptr, kDLInt, 32, 1, l_sh, NULL);
    DLTensor d = dev_view(dev, p->d.ptr, kDLBfloat, 16, 2, d_sh, NULL);
    if (getenv("DLG_BENCH_CONTIG_AS_DENSE")) {
      /* Diagnostic (the check then fails): the dense GEMM on the same A, sfa and D with
       * group 0's B and sfb, to compare the two kernels on identical data. */
      int64_t b0_sh[2] = {p->n, p->k}, sfb0_sh[2] = {p->nb, p->kb};
      DLTensor b0 = dev_view(dev, p->b.ptr, kDLFloat8_e4m3fn, 8, 2, b0_sh, NULL);
      DLTensor sfb0 = dev_view(dev, p->sfb_d.ptr, kDLFloat, 32, 2, sfb0_sh, NULL);
      st = dlg_gemm(c->env->ctx, DLG_RECIPE_FP8_1D2D, &a, &sfa, &b0, &sfb0, NULL, &d, stream);
    } else {
      st = dlg_m_grouped_gemm_contiguous(c->env->ctx, DLG_RECIPE_FP8_1D2D, &a, &sfa, &b, &sfb, &l,
                                         DLG_GROUP_LAYOUT_ROW_IDS, &d, stream);
    }
  } else if (c->s->op == OP_MASKED) {
    const int64_t mm = MASKED_MAX_M;
    int64_t a_sh[3] = {p->groups, mm, p->k}, sfa_sh[3] = {p->groups, mm, p->kb},
            sfa_st[3] = {mm * p->kb, 1, mm};
    int64_t b_sh[3] = {p->groups, p->n, p->k}, sfb_sh[3] = {p->groups, p->nb, p->kb};
    int64_t l_sh[1] = {p->groups}, d_sh[3] = {p->groups, mm, p->n};
    DLTensor a = dev_view(dev, p->a.ptr, kDLFloat8_e4m3fn, 8, 3, a_sh, NULL);
    DLTensor sfa = dev_view(dev, p->sfa_d.ptr, kDLFloat, 32, 3, sfa_sh, sfa_st);
    DLTensor b = dev_view(dev, p->b.ptr, kDLFloat8_e4m3fn, 8, 3, b_sh, NULL);
    DLTensor sfb = dev_view(dev, p->sfb_d.ptr, kDLFloat, 32, 3, sfb_sh, NULL);
    DLTensor l = dev_view(dev, p->layout_d.ptr, kDLInt, 32, 1, l_sh, NULL);
    DLTensor d = dev_view(dev, p->d.ptr, kDLBfloat, 16, 3, d_sh, NULL);
    st = dlg_m_grouped_gemm_masked(c->env->ctx, DLG_RECIPE_FP8_1D2D, &a, &sfa, &b, &sfb, &l,
                                   (int)c->s->m, &d, stream);
  } else {
    const int64_t kt = p->k;
    int64_t a_sh[2] = {p->rows, kt}, sfa_sh[2] = {p->rows, kt / 128}, sfa_st[2] = {1, p->rows};
    int64_t b_sh[2] = {p->n, kt}, sfb_sh[2] = {p->n, kt / 128}, sfb_st[2] = {1, p->n};
    int64_t l_sh[1] = {p->groups}, d_sh[3] = {p->groups, p->rows, p->n};
    DLTensor a = dev_view(dev, p->a.ptr, kDLFloat8_e4m3fn, 8, 2, a_sh, NULL);
    DLTensor sfa = dev_view(dev, p->sfa_d.ptr, kDLFloat, 32, 2, sfa_sh, sfa_st);
    DLTensor b = dev_view(dev, p->b.ptr, kDLFloat8_e4m3fn, 8, 2, b_sh, NULL);
    DLTensor sfb = dev_view(dev, p->sfb_d.ptr, kDLFloat, 32, 2, sfb_sh, sfb_st);
    DLTensor l = dev_view(dev, p->layout_d.ptr, kDLInt, 32, 1, l_sh, NULL);
    DLTensor d = dev_view(dev, p->d.ptr, kDLFloat, 32, 3, d_sh, NULL);
    st = dlg_k_grouped_gemm_contiguous(c->env->ctx, DLG_RECIPE_FP8_1D1D, &a, &sfa, &b, &sfb, &l,
                                       &d, &d, stream);
  }
  if (st != DLG_OK) return snprintf(why, cap, "%s: %s", dlg_status_name(st), dlg_last_error()), -1;
  return 0;
}

static int lt_launch(void* user, CUstream stream, char* why, size_t cap) {
  gcall_t* c = user;
  for (int i = 0; i < c->p->n_plans; ++i) {
    const CUdeviceptr d = c->p->d.ptr + (CUdeviceptr)c->p->plan_rows_off[i];
    if (bench_lt_run(c->p->plans[i], d, d, stream, why, cap) != 0) return -1;
  }
  return 0;
}

/* Sets up one shape: operands, layout, baseline plans. 0 / -1 + why. */
static int make_problem(bench_env_t* env, bench_lt_t* lt, pool_t* pool, const gshape_t* s,
                        gproblem_t* p, grec_t* r, char* why, size_t cap) {
  bench_cuda_t* cu = &env->cu;
  memset(p, 0, sizeof *p);
  p->groups = s->g;
  p->n = s->n;
  p->nb = (s->n + 127) / 128;
  p->layout = calloc((size_t)s->g + 1, sizeof(int32_t));
  p->seg_start = calloc((size_t)s->g + 1, sizeof(int64_t));
  if (!p->layout || !p->seg_start) return snprintf(why, cap, "out of host memory"), -1;
  if (s->op == OP_KGROUPED) {
    int64_t kt = 0;
    for (int g = 0; g < s->g; ++g) {
      p->layout[g] = (int32_t)align_up((int64_t)(s->k * (0.7 + 0.6 * urand())), 128);
      p->seg_start[g] = kt;
      kt += p->layout[g];
    }
    p->k = kt;
    p->kb = kt / 128;
    p->rows = s->m;
    r->k_total = kt;
    r->valid_rows = r->total_rows = s->m;
    r->flops = 2.0 * (double)s->m * (double)s->n * (double)kt;
    r->bytes = (double)(s->m + s->n) * (double)kt + 2.0 * 4.0 * (double)s->g * (double)s->m * (double)s->n;
  } else {
    p->k = s->k;
    p->kb = (s->k + 127) / 128;
    int64_t rows = 0, valid = 0;
    for (int g = 0; g < s->g; ++g) {
      int64_t mg = (int64_t)(s->m * (0.7 + 0.6 * urand()));
      if (s->op == OP_MASKED && mg > MASKED_MAX_M) mg = MASKED_MAX_M;
      if (mg < 1) mg = 1;
      p->layout[g] = (int32_t)mg; /* rows of group g for now */
      p->seg_start[g] = rows;
      rows += s->op == OP_CONTIG ? align_up(mg, 128) : MASKED_MAX_M;
      valid += mg;
    }
    p->rows = rows;
    r->valid_rows = valid;
    r->total_rows = rows;
    r->k_total = s->k;
    r->flops = 2.0 * (double)valid * (double)s->n * (double)s->k;
    r->bytes = (double)valid * (double)s->k + (double)s->g * (double)s->n * (double)s->k +
               2.0 * (double)valid * (double)s->n;
  }
  const int64_t k = p->k;
  /* A */
  if (bench_dev_upload(cu, &p->a, NULL, (size_t)(p->rows * k), why, cap) != 0) return -1;
  for (int g = 0; g < (s->op == OP_KGROUPED ? 1 : s->g); ++g) {
    const int64_t first = s->op == OP_KGROUPED ? 0 : p->seg_start[g];
    const int64_t count = s->op == OP_KGROUPED ? p->rows : p->layout[g];
    if (upload_rows(cu, pool, p->a.ptr + (CUdeviceptr)(first * k), first, count, k, 0, 0, why, cap) != 0)
      return -1;
  }
  /* B: [G, N, K] (M-grouped) or [N, K_total] (k-grouped); rows shifted by 7 in the pool */
  const int64_t b_rows = s->op == OP_KGROUPED ? s->n : s->g * s->n;
  if (bench_dev_upload(cu, &p->b, NULL, (size_t)(b_rows * k), why, cap) != 0) return -1;
  if (upload_rows(cu, pool, p->b.ptr, 0, b_rows, k, 0, 7, why, cap) != 0) return -1;
  /* scales */
  if (s->op == OP_KGROUPED) {
    p->sfa = random_scales((size_t)(p->rows * p->kb), 11);
    p->sfb = random_scales((size_t)(s->n * p->kb), 12);
    p->sfa_ld = p->rows; /* sfa [M, Kb] MN-major: element (m, kb) at kb * M + m */
  } else {
    p->sfa_ld = s->op == OP_CONTIG ? p->rows : MASKED_MAX_M;
    p->sfa = random_scales((size_t)(p->rows * p->kb), 11);
    p->sfb = random_scales((size_t)(s->g * p->nb * p->kb), 12);
  }
  if (!p->sfa || !p->sfb) return snprintf(why, cap, "out of host memory"), -1;
  const size_t sfb_n = s->op == OP_KGROUPED ? (size_t)(s->n * p->kb) : (size_t)(s->g * p->nb * p->kb);
  if (bench_dev_upload(cu, &p->sfa_d, p->sfa, (size_t)(p->rows * p->kb) * 4, why, cap) != 0) return -1;
  if (bench_dev_upload(cu, &p->sfb_d, p->sfb, sfb_n * 4, why, cap) != 0) return -1;
  /* layout on the device: row ids (contig), masked_m, ks */
  if (s->op == OP_CONTIG) {
    int32_t* ids = malloc((size_t)p->rows * sizeof *ids);
    if (!ids) return snprintf(why, cap, "out of host memory"), -1;
    for (int64_t i = 0; i < p->rows; ++i) ids[i] = -1;
    for (int g = 0; g < s->g; ++g)
      for (int64_t i = 0; i < p->layout[g]; ++i) ids[p->seg_start[g] + i] = g;
    int rc = dev_alloc(cu, &p->layout_d, ids, (size_t)p->rows * 4, why, cap);
    free(ids);
    if (rc != 0) return -1;
  } else if (dev_alloc(cu, &p->layout_d, p->layout, (size_t)s->g * 4, why, cap) != 0) {
    return -1;
  }
  /* D */
  const size_t d_bytes = (size_t)(s->op == OP_KGROUPED ? s->g * p->rows * s->n * 4 : p->rows * s->n * 2);
  if (bench_dev_upload(cu, &p->d, NULL, d_bytes, why, cap) != 0) return -1;

  /* baseline plans: one per group */
  if (!lt) return 0;
  const int kgrp = s->op == OP_KGROUPED;
  if (kgrp) {
    /* compact per-group copies: A_g [M, K_g] at M * k0, B_g [N, K_g] at N * k0 */
    if (bench_dev_upload(cu, &p->lt_a, NULL, (size_t)(p->rows * k), why, cap) != 0 ||
        bench_dev_upload(cu, &p->lt_b, NULL, (size_t)(s->n * k), why, cap) != 0)
      goto lt_fail;
    for (int g = 0; g < s->g; ++g) {
      const int64_t k0 = p->seg_start[g], kg = p->layout[g];
      if (kg == 0) continue;
      if (upload_rows(cu, pool, p->lt_a.ptr + (CUdeviceptr)(p->rows * k0), 0, p->rows, kg, k0, 0, why, cap) != 0 ||
          upload_rows(cu, pool, p->lt_b.ptr + (CUdeviceptr)(s->n * k0), 0, s->n, kg, k0, 7, why, cap) != 0)
        goto lt_fail;
    }
  } else {
    /* cuBLASLt scale layouts: sfa VEC128 [Kb][m_g] per group, sfb BLK128x128
     * [Nb][round_up(Kb, 4)] per group (random values: timing only) */
    if (bench_dev_upload(cu, &p->lt_sfa, NULL, (size_t)(p->rows + 16 * s->g) * (size_t)p->kb * 4, why, cap) != 0 ||
        bench_dev_upload(cu, &p->lt_sfb, NULL, (size_t)s->g * (size_t)p->nb * (size_t)align_up(p->kb, 4) * 4, why, cap) != 0)
      goto lt_fail;
    cu->memset_d8(p->lt_sfa.ptr, 0x3F, p->lt_sfa.bytes); /* ~0.75: any finite value will do */
    cu->memset_d8(p->lt_sfb.ptr, 0x3F, p->lt_sfb.bytes);
  }
  int64_t sfa_off = 0;
  for (int g = 0; g < s->g; ++g) {
    bench_lt_problem_t lp;
    memset(&lp, 0, sizeof lp);
    if (kgrp) {
      const int64_t k0 = p->seg_start[g], kg = p->layout[g];
      if (kg == 0) continue;
      lp = (bench_lt_problem_t){DLG_RECIPE_FP8_1D1D, p->rows, s->n, kg, 1, 1,
                                p->lt_a.ptr + (CUdeviceptr)(p->rows * k0),
                                p->lt_b.ptr + (CUdeviceptr)(s->n * k0),
                                p->sfa_d.ptr + (CUdeviceptr)(k0 / 128 * p->rows * 4),
                                p->sfb_d.ptr + (CUdeviceptr)(k0 / 128 * s->n * 4)};
      p->plan_rows_off[p->n_plans] = (int64_t)g * p->rows * s->n * 4;
    } else {
      const int64_t mg = align_up(p->layout[g], 16);
      lp = (bench_lt_problem_t){DLG_RECIPE_FP8_1D2D, mg, s->n, k, 0, 0,
                                p->a.ptr + (CUdeviceptr)(p->seg_start[g] * k),
                                p->b.ptr + (CUdeviceptr)(g * s->n * k),
                                p->lt_sfa.ptr + (CUdeviceptr)(sfa_off * 4),
                                p->lt_sfb.ptr + (CUdeviceptr)((size_t)g * (size_t)p->nb * (size_t)align_up(p->kb, 4) * 4)};
      sfa_off += mg * p->kb;
      p->plan_rows_off[p->n_plans] = p->seg_start[g] * s->n * 2;
    }
    if (bench_lt_plan_create(lt, &lp, &p->plans[p->n_plans], why, cap) != 0) goto lt_fail;
    ++p->n_plans;
  }
  return 0;
lt_fail:
  snprintf(r->lt_status, sizeof r->lt_status, "%.300s", why);
  for (int i = 0; i < p->n_plans; ++i) bench_lt_plan_destroy(p->plans[i]);
  p->n_plans = 0;
  return 0; /* dlgemm still runs */
}

/* Reference value of D at (row, col) (group g; row as in A's rows), in double. */
static double reference(const pool_t* pool, const gproblem_t* p, const gshape_t* s, int g,
                        int64_t row, int64_t col) {
  double acc = 0;
  if (s->op == OP_KGROUPED) {
    const int64_t k0 = p->seg_start[g], kg = p->layout[g];
    const uint8_t* a = pool_row(pool, row) + k0;
    const uint8_t* b = pool_row(pool, col + 7) + k0;
    for (int64_t kb = 0; kb < kg / 128; ++kb) {
      double part = 0;
      for (int64_t k = kb * 128; k < kb * 128 + 128; ++k) part += e4m3_value(a[k]) * e4m3_value(b[k]);
      const int64_t kbg = k0 / 128 + kb;
      acc += part * p->sfa[kbg * p->rows + row] * p->sfb[kbg * s->n + col];
    }
    return acc; /* + C, the poison-free D before the call: the check runs with D = 0 */
  }
  const uint8_t* a = pool_row(pool, row);
  const uint8_t* b = pool_row(pool, g * s->n + col + 7);
  for (int64_t kb = 0; kb < p->kb; ++kb) {
    double part = 0;
    const int64_t kend = kb * 128 + 128 < p->k ? kb * 128 + 128 : p->k;
    for (int64_t k = kb * 128; k < kend; ++k) part += e4m3_value(a[k]) * e4m3_value(b[k]);
    const double sa = s->op == OP_CONTIG ? p->sfa[kb * p->sfa_ld + row]
                                         : p->sfa[g * MASKED_MAX_M * p->kb + kb * MASKED_MAX_M + (row - g * MASKED_MAX_M)];
    acc += part * sa * p->sfb[(g * p->nb + col / 128) * p->kb + kb];
  }
  return acc;
}

/* One call on poisoned (contig / masked) or zeroed (k-grouped: D accumulates) D, then the
 * sampled comparison and the poison checks. */
static void check_problem(bench_env_t* env, const pool_t* pool, gproblem_t* p, const gshape_t* s,
                          grec_t* r) {
  bench_cuda_t* cu = &env->cu;
  char why[320];
  const int kgrp = s->op == OP_KGROUPED;
  cu->memset_d8(p->d.ptr, kgrp ? 0 : 0xFF, p->d.bytes);
  gcall_t c = {env, p, s};
  if (dl_launch(&c, env->stream, why, sizeof why) != 0) {
    snprintf(r->status, sizeof r->status, "%.300s", why);
    return;
  }
  if (cu->stream_synchronize(env->stream) != CUDA_SUCCESS) {
    snprintf(r->status, sizeof r->status, "kernel failed (stream sync)");
    return;
  }
  double got[SAMPLE_ROWS * SAMPLE_COLS], want[SAMPLE_ROWS * SAMPLE_COLS];
  int n = 0;
  const size_t eb = kgrp ? 4 : 2;
  void* row_buf = malloc((size_t)s->n * eb);
  if (!row_buf) return;
  for (int i = 0; i < SAMPLE_ROWS; ++i) {
    const int g = (int)(urand() * s->g) % s->g;
    int64_t row;
    if (kgrp) row = (int64_t)(urand() * p->rows) % p->rows;
    else row = p->seg_start[g] + (int64_t)(urand() * p->layout[g]) % p->layout[g];
    const int64_t d_row = kgrp ? (int64_t)g * p->rows + row : row;
    cu->memcpy_dtoh(row_buf, p->d.ptr + (CUdeviceptr)((size_t)d_row * (size_t)s->n * eb), (size_t)s->n * eb);
    for (int j = 0; j < SAMPLE_COLS; ++j) {
      const int64_t col = (int64_t)(urand() * s->n) % s->n;
      if (kgrp) {
        float v;
        memcpy(&v, (char*)row_buf + col * 4, 4);
        got[n] = v;
      } else {
        uint16_t v;
        memcpy(&v, (char*)row_buf + col * 2, 2);
        got[n] = bf16_value(v);
      }
      want[n++] = reference(pool, p, s, g, row, col);
    }
  }
  r->diff = calc_diff(got, want, n);
  if (!isfinite(r->diff)) r->diff = INFINITY;
  /* rows that must keep the poison: contig padding, masked rows past masked_m (<= 256) */
  if (!kgrp) {
    for (int g = 0; g < s->g; ++g) {
      const int64_t first = p->seg_start[g] + p->layout[g];
      int64_t last = s->op == OP_CONTIG ? align_up(first, 128) : p->seg_start[g] + MASKED_MAX_M;
      if (last > first + 256) last = first + 256;
      for (int64_t row = first; row < last; ++row) {
        cu->memcpy_dtoh(row_buf, p->d.ptr + (CUdeviceptr)((size_t)row * (size_t)s->n * 2), (size_t)s->n * 2);
        const uint8_t* b = row_buf;
        for (int64_t i = 0; i < s->n * 2; ++i) r->poison_bad += b[i] != 0xFF;
      }
    }
  }
  free(row_buf);
}

/* The copy memory-bound calls are measured against (issue 9: "the measured copy bandwidth"):
 * cuMemcpyDtoDAsync of half their useful bytes (a copy reads and writes each byte), timed
 * the same way. */
typedef struct copy_call {
  bench_cuda_t* cu;
  CUdeviceptr dst, src;
  size_t bytes;
} copy_call_t;

static int copy_launch(void* user, CUstream stream, char* why, size_t cap) {
  copy_call_t* c = user;
  CUresult r = c->cu->memcpy_dtod_async(c->dst, c->src, c->bytes, stream);
  if (r != CUDA_SUCCESS) return snprintf(why, cap, "cuMemcpyDtoDAsync failed (%d)", (int)r), -1;
  return 0;
}

/* Median event time of a copy of `bytes` from src (into a scratch buffer), 0 if it failed. */
static double time_copy(bench_cuda_t* cu, const bench_timer_t* timer, CUdeviceptr src, size_t bytes) {
  bench_dev_buf_t dst;
  char why[320] = "";
  memset(&dst, 0, sizeof dst);
  if (bench_dev_upload(cu, &dst, NULL, bytes, why, sizeof why) != 0) return 0.0;
  copy_call_t cc = {cu, dst.ptr, src, bytes};
  bench_stats_t st;
  const double us = bench_time_gpu(timer, copy_launch, &cc, &st, why, sizeof why) == 0 ? st.median_us : 0.0;
  bench_dev_free(cu, &dst);
  return us;
}

static void run_one(bench_env_t* env, bench_lt_t* lt, const bench_timer_t* timer, pool_t* pool,
                    const gshape_t* s, grec_t* r) {
  char why[320];
  gproblem_t p;
  r->s = *s;
  r->diff = NAN;
  if (make_problem(env, lt, pool, s, &p, r, why, sizeof why) != 0) {
    snprintf(r->status, sizeof r->status, "setup: %.300s", why);
    free_problem(&env->cu, &p);
    return;
  }
  check_problem(env, pool, &p, s, r);
  gcall_t c = {env, &p, s};
  bench_stats_t st;
  if (!r->status[0]) {
    if (bench_time_gpu(timer, dl_launch, &c, &st, why, sizeof why) == 0) {
      r->dl_ran = 1;
      r->dl_us = st.median_us;
      r->dl_t = st;
    } else {
      snprintf(r->status, sizeof r->status, "%.300s", why);
    }
  }
  /* masked (memory-bound at small m): the copy its useful bytes would take, from B's buffer */
  if (s->op == OP_MASKED && r->dl_ran) {
    const size_t b_bytes = (size_t)(s->g * s->n * s->k), half = (size_t)(r->bytes / 2);
    const size_t n = half < b_bytes ? half : b_bytes;
    const double us = time_copy(&env->cu, timer, p.b.ptr, n);
    r->copy_us = us > 0 ? us * (double)half / (double)n : 0.0;
  }
  if (p.n_plans > 0) {
    if (bench_time_gpu(timer, lt_launch, &c, &st, why, sizeof why) == 0) {
      r->lt_ran = 1;
      r->lt_us = st.median_us;
      r->lt_t = st;
    } else {
      snprintf(r->lt_status, sizeof r->lt_status, "%.300s", why);
    }
  } else if (!r->lt_status[0]) {
    snprintf(r->lt_status, sizeof r->lt_status, "no baseline");
  }
  free_problem(&env->cu, &p);
}


/* ---- the FP8 casts: GB/s against the device's ~3.0 TB/s copy bandwidth ------------------ */

typedef struct crec {
  const char* op;
  const char* dtype;
  int64_t m, k;
  double us, gbps, bytes;
  double kernel_us; /* CUPTI; 0 where not measured */
  double copy_us;   /* a device-to-device copy moving the same bytes (event time); 0 if none */
  int ran;
  char status[256];
} crec_t;

typedef struct ccall {
  bench_env_t* env;
  int kind; /* 0 per-token, 1 per-block, 2 per-tensor */
  int64_t x_sh[2], sf_sh[2], sf_st[2];
  DLTensor x, out, sf;
} ccall_t;

static int cast_launch(void* user, CUstream stream, char* why, size_t cap) {
  ccall_t* c = user;
  dlg_status_t st;
  if (c->kind == 0) st = dlg_cast_fp8_per_token(c->env->ctx, &c->x, 0, &c->out, &c->sf, stream);
  else if (c->kind == 1) st = dlg_cast_fp8_per_block(c->env->ctx, &c->x, 0, &c->out, &c->sf, stream);
  else st = dlg_cast_fp8_per_tensor(c->env->ctx, &c->x, &c->out, &c->sf, stream);
  if (st != DLG_OK) return snprintf(why, cap, "%s: %s", dlg_status_name(st), dlg_last_error()), -1;
  return 0;
}

/* Times one record's call (r->bytes set) and prints its line; copy_us: the same-bytes
 * copy's time (0: none). */
static void time_record(crec_t* r, const bench_timer_t* timer, bench_launch_fn fn, void* user,
                        double copy_us) {
  bench_stats_t st;
  char why[320] = "";
  if (bench_time_gpu(timer, fn, user, &st, why, sizeof why) == 0) {
    r->ran = 1;
    r->us = st.median_us;
    r->kernel_us = st.has_kernel ? st.kernel_median_us : 0.0;
    r->gbps = r->bytes / (st.median_us * 1e-6) / 1e9;
    r->copy_us = copy_us;
  } else {
    snprintf(r->status, sizeof r->status, "%.250s", why);
  }
  printf("%-20s %-8s %6lld x %-6lld %9.1f us (kernels %7.1f) %7.0f GB/s (%3.0f%% of 3.0 TB/s, "
         "%3.0f%% of the copy) %s\n", r->op, r->dtype, (long long)r->m, (long long)r->k, r->us,
         r->kernel_us, r->gbps, r->gbps / 30.0, r->us > 0 ? 100.0 * r->copy_us / r->us : 0.0,
         r->status);
  fflush(stdout);
}

/* A record for op on [m, k] (not run yet). */
static crec_t* new_record(crec_t* r, const char* op, const char* dtype, int64_t m, int64_t k) {
  memset(r, 0, sizeof *r);
  r->op = op;
  r->dtype = dtype;
  r->m = m;
  r->k = k;
  return r;
}

/* Times the three casts on [m, k] f32 and bf16 inputs (per-token scales in the TMA-aligned
 * MN-major layout). Values: a random chunk uploaded repeatedly. Returns records written. */
static int run_casts(bench_env_t* env, const bench_timer_t* timer, crec_t* out) {
  /* the two large shapes, then a small batch and a decode step */
  static const int64_t shapes[4][2] = {{8192, 7168}, {4096, 7168}, {512, 7168}, {64, 7168}};
  static const char* names[3] = {"cast_fp8_per_token", "cast_fp8_per_block", "cast_fp8_per_tensor"};
  bench_cuda_t* cu = &env->cu;
  int n = 0;
  for (int si = 0; si < 4; ++si) {
    for (int bf = 0; bf < 2; ++bf) {
      const int64_t m = shapes[si][0], k = shapes[si][1];
      const size_t eb = bf ? 2 : 4, x_bytes = (size_t)(m * k) * eb;
      bench_dev_buf_t x, o, sf;
      char why[320] = "";
      memset(&x, 0, sizeof x);
      memset(&o, 0, sizeof o);
      memset(&sf, 0, sizeof sf);
      const int64_t sf_ld = dlg_tma_aligned_size(m, 4);
      int ok = bench_dev_upload(cu, &x, NULL, x_bytes, why, sizeof why) == 0 &&
               bench_dev_upload(cu, &o, NULL, (size_t)(m * k), why, sizeof why) == 0 &&
               bench_dev_upload(cu, &sf, NULL, (size_t)(sf_ld * ((k + 127) / 128)) * 4, why, sizeof why) == 0;
      if (ok) { /* random values: a 16 MiB chunk, repeated */
        const size_t chunk = (size_t)16 << 20;
        void* h = malloc(chunk);
        if (h) {
          int64_t sh[1] = {(int64_t)(chunk / eb)};
          DLTensor t = host_view(h, bf ? kDLBfloat : kDLFloat, bf ? 16 : 32, 1, sh, NULL);
          dlg_testing_fill(&t, 21, DLG_FILL_NORMAL, 0.0, 1.0);
          for (size_t off = 0; off < x_bytes; off += chunk)
            cu->memcpy_htod(x.ptr + off, h, x_bytes - off < chunk ? x_bytes - off : chunk);
          free(h);
        }
      }
      /* the per-token cast's useful bytes, give or take the scales: x read, out written */
      const size_t copy_bytes = (x_bytes + (size_t)(m * k)) / 2;
      const double copy_us = ok ? time_copy(cu, timer, x.ptr, copy_bytes) : 0.0;
      if (copy_us > 0)
        printf("%-20s %-8s %6lld x %-6lld %9.1f us %26.0f GB/s\n", "copy (same bytes)",
               bf ? "bfloat16" : "float32", (long long)m, (long long)k, copy_us,
               2.0 * (double)copy_bytes / (copy_us * 1e-6) / 1e9);
      for (int kind = 0; kind < 3; ++kind) {
        crec_t* r = new_record(&out[n++], names[kind], bf ? "bfloat16" : "float32", m, k);
        if (!ok) {
          snprintf(r->status, sizeof r->status, "setup: %.240s", why);
          continue;
        }
        ccall_t c;
        memset(&c, 0, sizeof c);
        c.env = env;
        c.kind = kind;
        c.x_sh[0] = m;
        c.x_sh[1] = k;
        c.x = dev_view(env->device, x.ptr, bf ? kDLBfloat : kDLFloat, bf ? 16 : 32, 2, c.x_sh, NULL);
        c.out = dev_view(env->device, o.ptr, kDLFloat8_e4m3fn, 8, 2, c.x_sh, NULL);
        int64_t sf_bytes;
        if (kind == 0) {
          c.sf_sh[0] = m;
          c.sf_sh[1] = (k + 127) / 128;
          c.sf_st[0] = 1;
          c.sf_st[1] = sf_ld;
          c.sf = dev_view(env->device, sf.ptr, kDLFloat, 32, 2, c.sf_sh, c.sf_st);
          sf_bytes = m * ((k + 127) / 128) * 4;
        } else if (kind == 1) {
          c.sf_sh[0] = (m + 127) / 128;
          c.sf_sh[1] = (k + 127) / 128;
          c.sf = dev_view(env->device, sf.ptr, kDLFloat, 32, 2, c.sf_sh, NULL);
          sf_bytes = c.sf_sh[0] * c.sf_sh[1] * 4;
        } else {
          c.sf = dev_view(env->device, sf.ptr, kDLFloat, 32, 0, c.sf_sh, NULL);
          sf_bytes = 4;
        }
        /* per-tensor reads x twice (amax, then cast): its useful bytes count x once */
        r->bytes = (double)x_bytes + (double)(m * k) + (double)sf_bytes;
        time_record(r, timer, cast_launch, &c,
                    copy_us > 0 ? copy_us * r->bytes / (2.0 * (double)copy_bytes) : 0.0);
      }
      bench_dev_free(cu, &x);
      bench_dev_free(cu, &o);
      bench_dev_free(cu, &sf);
    }
  }
  return n;
}

/* The scale-layout utilities at the size of one large batch's per-token scales (65536 rows x
 * 56 k-blocks: K = 7168): transform_sf from K-major to the TMA-aligned MN-major layout, and
 * pack_ue8m0 of MN-major scales into MN-major words. Same timing and copy reference as the
 * casts. Returns records written. */
typedef struct sfcall {
  bench_env_t* env;
  int op; /* 0 transform_sf, 1 pack_ue8m0 */
  DLTensor in, out;
} sfcall_t;

static int sf_launch(void* user, CUstream stream, char* why, size_t cap) {
  sfcall_t* c = user;
  dlg_status_t st = c->op == 0 ? dlg_transform_sf(c->env->ctx, &c->in, &c->out, stream)
                               : dlg_pack_ue8m0(c->env->ctx, &c->in, &c->out, stream);
  if (st != DLG_OK) return snprintf(why, cap, "%s: %s", dlg_status_name(st), dlg_last_error()), -1;
  return 0;
}

static int run_sf_layouts(bench_env_t* env, const bench_timer_t* timer, crec_t* out) {
  const int64_t mn = 65536, kb = 56, words = (kb + 3) / 4, ld = dlg_tma_aligned_size(mn, 4);
  bench_cuda_t* cu = &env->cu;
  bench_dev_buf_t in, o;
  char why[320] = "";
  memset(&in, 0, sizeof in);
  memset(&o, 0, sizeof o);
  float* h = random_scales((size_t)(mn * kb), 7);
  int ok = h && bench_dev_upload(cu, &in, h, (size_t)(mn * kb) * 4, why, sizeof why) == 0 &&
           bench_dev_upload(cu, &o, NULL, (size_t)(ld * kb) * 4, why, sizeof why) == 0;
  free(h);
  int n = 0;
  for (int op = 0; op < 2; ++op) {
    crec_t* r = new_record(&out[n++], op == 0 ? "transform_sf" : "pack_ue8m0", "float32", mn, kb * 128);
    if (!ok) {
      snprintf(r->status, sizeof r->status, "setup: %.240s", why);
      continue;
    }
    sfcall_t c;
    memset(&c, 0, sizeof c);
    c.env = env;
    c.op = op;
    int64_t in_sh[2] = {mn, kb}, in_st[2] = {kb, 1}, out_sh[2] = {mn, op ? words : kb};
    int64_t out_st[2] = {1, op ? mn : ld}, mn_st[2] = {1, mn};
    /* transform: K-major in; pack: MN-major in (what transform_sf gives, unaligned) */
    c.in = dev_view(env->device, in.ptr, kDLFloat, 32, 2, in_sh, op ? mn_st : in_st);
    c.out = dev_view(env->device, o.ptr, op ? kDLInt : kDLFloat, 32, 2, out_sh, out_st);
    r->bytes = (double)(mn * kb) * 4.0 + (double)(mn * (op ? words : kb)) * 4.0;
    const double copy_us = time_copy(cu, timer, in.ptr, (size_t)(r->bytes / 2));
    time_record(r, timer, sf_launch, &c, copy_us);
  }
  bench_dev_free(cu, &in);
  bench_dev_free(cu, &o);
  return n;
}

static const char* op_name(gop_t op) {
  return op == OP_CONTIG ? "m_grouped_contiguous" : op == OP_MASKED ? "m_grouped_masked" : "k_grouped";
}

static int select_shapes(const gopts_t* o, gshape_t* out) {
  static const int64_t nk[4][2] = {{6144, 7168}, {7168, 3072}, {4096, 4096}, {4096, 2048}};
  static const int64_t contig[2][2] = {{4, 8192}, {8, 4096}};
  static const int64_t masked[4][2] = {{32, 192}, {6, 1024}, {32, 20}, {6, 20}};
  static const int64_t kg[6][4] = {{4, 4096, 7168, 8192}, {4, 7168, 2048, 8192},
                                   {8, 4096, 7168, 4096}, {8, 7168, 2048, 4096},
                                   {16, 4096, 7168, 2048}, {16, 7168, 2048, 2048}};
  int n = 0;
  if (o->anchors) {
    /* The M-grouped shapes DeepGEMM's figures in shared/anchors-h100.md were taken on (its
     * TFLOPS: contiguous on all rows, padding included; masked on the valid rows). */
    static const int64_t anchor_nk[2][2] = {{4096, 7168}, {7168, 2048}};
    static const int64_t anchor_masked[2][2] = {{32, 192}, {16, 64}};
    for (int j = 0; j < 2; ++j) {
      for (int i = 0; i < 2 && (o->ops & OP_CONTIG); ++i)
        out[n++] = (gshape_t){OP_CONTIG, (int)contig[i][0], contig[i][1], anchor_nk[j][0], anchor_nk[j][1]};
      for (int i = 0; i < 2 && (o->ops & OP_MASKED); ++i)
        out[n++] = (gshape_t){OP_MASKED, (int)anchor_masked[i][0], anchor_masked[i][1], anchor_nk[j][0], anchor_nk[j][1]};
    }
    return n;
  }
  if (o->ops & OP_CONTIG)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j)
        if (!o->quick || j == 0) out[n++] = (gshape_t){OP_CONTIG, (int)contig[i][0], contig[i][1], nk[j][0], nk[j][1]};
  if (o->ops & OP_MASKED)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        if (!o->quick || j == 0) out[n++] = (gshape_t){OP_MASKED, (int)masked[i][0], masked[i][1], nk[j][0], nk[j][1]};
  if (o->ops & OP_KGROUPED)
    for (int i = 0; i < 6; ++i)
      if (!o->quick || i % 2 == 0) out[n++] = (gshape_t){OP_KGROUPED, (int)kg[i][0], kg[i][1], kg[i][2], kg[i][3]};
  return n;
}

static void write_json(const char* path, const gopts_t* o, const char* device, int driver,
                       const grec_t* r, int n, const crec_t* casts, int n_casts) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "dlgemm_bench: cannot write %s\n", path);
    return;
  }
  bench_json_t j;
  bench_json_init(&j, f);
  bench_json_object_begin(&j, NULL);
  bench_json_string(&j, "kind", "grouped");
  bench_json_int(&j, "driver", driver);
  const char* commit = getenv("DLG_COMMIT");
  bench_json_string(&j, "commit", commit && *commit ? commit : "unknown");
  char date[32];
  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  bench_json_string(&j, "date", date);
  bench_json_string(&j, "device", device);
  bench_json_int(&j, "iters", o->iters);
  bench_json_int(&j, "warmup", o->warmup);
  bench_json_number(&j, "flush_mib", o->flush_mib, 1);
  bench_json_string(&j, "baseline", "loop of cuBLASLt GEMMs, one per group (same recipe)");
  bench_json_string(&j, "kernel_timer", bench_cupti_describe());
  bench_json_array_begin(&j, "records");
  for (int i = 0; i < n; ++i) {
    const grec_t* x = &r[i];
    bench_json_object_begin(&j, NULL);
    bench_json_string(&j, "op", op_name(x->s.op));
    bench_json_string(&j, "recipe", x->s.op == OP_KGROUPED ? "fp8_1d1d" : "fp8_1d2d");
    bench_json_int(&j, "groups", x->s.g);
    bench_json_int(&j, x->s.op == OP_KGROUPED ? "m" : "expected_m", x->s.m);
    bench_json_int(&j, "n", x->s.n);
    bench_json_int(&j, x->s.op == OP_KGROUPED ? "expected_k" : "k", x->s.k);
    bench_json_int(&j, "k_total", x->k_total);
    bench_json_int(&j, "valid_rows", x->valid_rows);
    bench_json_int(&j, "total_rows", x->total_rows);
    bench_json_number(&j, "dlgemm_us", x->dl_us, x->dl_ran);
    bench_json_number(&j, "dlgemm_tflops", x->flops / (x->dl_us * 1e-6) / 1e12, x->dl_ran);
    bench_json_number(&j, "dlgemm_gbps", x->bytes / (x->dl_us * 1e-6) / 1e9, x->dl_ran);
    /* masked: a cuMemcpyDtoDAsync moving the same useful bytes, event-timed like dlgemm_us */
    bench_json_number(&j, "copy_us", x->copy_us, x->copy_us > 0);
    bench_json_number(&j, "fraction_of_copy", x->copy_us / x->dl_us, x->copy_us > 0 && x->dl_ran);
    bench_json_number(&j, "dlgemm_kernel_us", x->dl_t.kernel_median_us, x->dl_ran && x->dl_t.has_kernel);
    bench_json_number(&j, "baseline_us", x->lt_us, x->lt_ran);
    /* The baseline is one cuBLASLt call per group: the span includes the gaps between them,
     * the sum does not. */
    bench_json_number(&j, "baseline_kernel_us", x->lt_t.kernel_median_us, x->lt_ran && x->lt_t.has_kernel);
    bench_json_number(&j, "baseline_kernel_sum_us", x->lt_t.kernel_sum_median_us,
                      x->lt_ran && x->lt_t.has_kernel);
    bench_json_number(&j, "baseline_tflops", x->flops / (x->lt_us * 1e-6) / 1e12, x->lt_ran);
    bench_json_number(&j, "speedup_vs_baseline", x->lt_us / x->dl_us, x->lt_ran && x->dl_ran);
    bench_json_number(&j, "calc_diff", x->diff, isfinite(x->diff));
    bench_json_int(&j, "poison_bytes_overwritten", x->poison_bad);
    bench_json_string(&j, "status", x->status);
    bench_json_string(&j, "baseline_status", x->lt_status);
    bench_json_object_end(&j);
  }
  bench_json_array_end(&j);
  bench_json_array_begin(&j, "casts");
  for (int i = 0; i < n_casts; ++i) {
    const crec_t* x = &casts[i];
    bench_json_object_begin(&j, NULL);
    bench_json_string(&j, "op", x->op);
    bench_json_string(&j, "dtype", x->dtype);
    bench_json_int(&j, "m", x->m);
    bench_json_int(&j, "k", x->k);
    bench_json_number(&j, "us", x->us, x->ran);
    bench_json_number(&j, "kernel_us", x->kernel_us, x->ran && x->kernel_us > 0);
    bench_json_number(&j, "gbps", x->gbps, x->ran);
    bench_json_number(&j, "fraction_of_3000_gbps", x->gbps / 3000.0, x->ran);
    /* copy_us: a cuMemcpyDtoDAsync moving the same useful bytes, event-timed like `us` */
    bench_json_number(&j, "copy_us", x->copy_us, x->ran && x->copy_us > 0);
    bench_json_number(&j, "fraction_of_copy", x->us > 0 ? x->copy_us / x->us : 0.0, x->ran && x->copy_us > 0);
    bench_json_string(&j, "status", x->status);
    bench_json_object_end(&j);
  }
  bench_json_array_end(&j);
  bench_json_object_end(&j);
  fputc('\n', f);
  fclose(f);
  printf("results: %s\n", path);
}

int bench_grouped_op(const char* op) {
  return !strcmp(op, "m_grouped_contiguous") || !strcmp(op, "m_grouped_masked") ||
         !strcmp(op, "k_grouped") || !strcmp(op, "casts") || !strcmp(op, "grouped");
}

int bench_grouped_main(int argc, char** argv) {
  gopts_t o;
  memset(&o, 0, sizeof o);
  o.baseline = 1;
  o.iters = -1;
  o.warmup = -1;
  o.flush_mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--op") && v) {
      ++i;
      if (!strcmp(v, "m_grouped_contiguous")) o.ops |= OP_CONTIG;
      else if (!strcmp(v, "m_grouped_masked")) o.ops |= OP_MASKED;
      else if (!strcmp(v, "k_grouped")) o.ops |= OP_KGROUPED;
      else if (!strcmp(v, "casts")) o.ops |= OP_CASTS;
      else if (!strcmp(v, "grouped")) o.ops |= OP_CONTIG | OP_MASKED | OP_KGROUPED | OP_CASTS;
      else return fprintf(stderr, "dlgemm_bench: --op: unknown '%s'\n", v), 64;
    } else if (!strcmp(a, "--quick")) {
      o.quick = 1;
    } else if (!strcmp(a, "--anchors")) {
      o.anchors = 1;
    } else if (!strcmp(a, "--no-baseline")) {
      o.baseline = 0;
    } else if (!strcmp(a, "--iters") && v) {
      o.iters = atoi(v), ++i;
    } else if (!strcmp(a, "--warmup") && v) {
      o.warmup = atoi(v), ++i;
    } else if (!strcmp(a, "--flush-mib") && v) {
      o.flush_mib = atof(v), ++i;
    } else if (!strcmp(a, "--device") && v) {
      o.device = atoi(v), ++i;
    } else if (!strcmp(a, "--json") && v) {
      o.json = v, ++i;
    } else {
      return fprintf(stderr, "dlgemm_bench --op: unknown option %s\n", a), 64;
    }
  }
  if (o.iters <= 0) o.iters = o.quick ? 10 : 30;
  if (o.warmup < 0) o.warmup = o.quick ? 2 : 5;
  gshape_t shapes[64];
  const int n_shapes = select_shapes(&o, shapes);

  char why[512];
  bench_env_t env;
  memset(&env, 0, sizeof env);
  env.device = o.device;
  if (bench_cuda_open(&env.cu, o.device, why, sizeof why) != 0)
    return fprintf(stderr, "dlgemm_bench: no GPU: %s\n", why), 2;
  dlg_device_info_t info;
  if (dlg_context_create(o.device, &env.ctx) != DLG_OK ||
      bench_apply_jit_options(env.ctx) != DLG_OK ||
      dlg_context_device_info(env.ctx, &info) != DLG_OK ||
      env.cu.stream_create(&env.stream, CU_STREAM_DEFAULT) != CUDA_SUCCESS)
    return fprintf(stderr, "dlgemm_bench: setup: %s\n", dlg_last_error()), 2;
  bench_timer_t timer = {&env.cu, env.stream, {0, 0}, o.warmup, o.iters};
  if (bench_dev_upload(&env.cu, &timer.flush, NULL, (size_t)(o.flush_mib * 1048576.0), why, sizeof why) != 0)
    return fprintf(stderr, "dlgemm_bench: flush buffer: %s\n", why), 2;
  bench_lt_t* lt = NULL;
  if (o.baseline && bench_lt_open(&env.cu, (size_t)32 << 20, &lt, why, sizeof why) != 0) {
    printf("baseline: none (%s)\n", why);
    lt = NULL;
  }
  pool_t pool;
  memset(&pool, 0, sizeof pool);
  pool.kmax = 49152;
  pool.data = malloc((size_t)POOL_ROWS * (size_t)pool.kmax);
  if (!pool.data) return fprintf(stderr, "dlgemm_bench: out of memory\n"), 2;
  {
    int64_t sh[2] = {POOL_ROWS, pool.kmax};
    DLTensor t = host_view(pool.data, kDLFloat8_e4m3fn, 8, 2, sh, NULL);
    dlg_testing_fill(&t, 5, DLG_FILL_NORMAL, 0.0, 1.0);
  }
  printf("dlgemm %s grouped bench on %s (%d SMs), %d warm-up + %d timed calls, %.0f MiB flush\n",
         dlg_version_string(), info.name, info.num_sms, o.warmup, o.iters, o.flush_mib);
  printf("CUPTI: %s\n", bench_cupti_describe());
  printf("%-22s %3s %6s %6s %6s %9s | %9s %7s %7s %7s | %9s %7s %7s | %6s %9s %s\n", "op", "G", "m",
         "N", "K", "rows", "dlgemm us", "kern us", "TFLOPS", "GB/s", "base us", "kern us", "TFLOPS",
         "speed", "diff", "status");
  grec_t* recs = calloc((size_t)n_shapes + 1, sizeof *recs);
  int rc = 0;
  for (int i = 0; i < n_shapes; ++i) {
    grec_t* r = &recs[i];
    run_one(&env, lt, &timer, &pool, &shapes[i], r);
    const double dl_tf = r->dl_ran ? r->flops / (r->dl_us * 1e-6) / 1e12 : 0;
    const double dl_gb = r->dl_ran ? r->bytes / (r->dl_us * 1e-6) / 1e9 : 0;
    const double lt_tf = r->lt_ran ? r->flops / (r->lt_us * 1e-6) / 1e12 : 0;
    printf("%-22s %3d %6lld %6lld %6lld %9lld | %9.1f %7.1f %7.0f %7.0f | %9.1f %7.1f %7.0f | %6.2f %9.2g %s%s%s\n",
           op_name(r->s.op), r->s.g, (long long)r->s.m, (long long)r->s.n,
           (long long)(r->s.op == OP_KGROUPED ? r->k_total : r->s.k), (long long)r->valid_rows,
           r->dl_us, r->dl_t.has_kernel ? r->dl_t.kernel_median_us : 0.0, dl_tf, dl_gb, r->lt_us,
           r->lt_t.has_kernel ? r->lt_t.kernel_median_us : 0.0, lt_tf,
           r->lt_ran && r->dl_ran ? r->lt_us / r->dl_us : 0,
           r->diff, r->poison_bad ? "POISON OVERWRITTEN " : "", r->status, r->lt_status[0] ? " | baseline: " : "");
    if (r->lt_status[0] && strcmp(r->lt_status, "no baseline") != 0) printf("    baseline: %s\n", r->lt_status);
    if (r->copy_us > 0)
      printf("    a copy of the same useful bytes: %.1f us (%.0f GB/s); dlgemm at %.0f %% of it\n",
             r->copy_us, r->bytes / (r->copy_us * 1e-6) / 1e9, 100.0 * r->copy_us / r->dl_us);
    fflush(stdout);
    if (!r->dl_ran || !(r->diff < 1e-3) || r->poison_bad) rc = 1;
  }
  crec_t casts[32];
  int n_casts = 0;
  if (o.ops & OP_CASTS) {
    n_casts = run_casts(&env, &timer, casts);
    n_casts += run_sf_layouts(&env, &timer, casts + n_casts);
  }
  for (int i = 0; i < n_casts; ++i)
    if (!casts[i].ran) rc = 1;
  if (o.json) write_json(o.json, &o, info.name, env.cu.driver_version, recs, n_shapes, casts, n_casts);
  free(recs);
  free(pool.data);
  free(pool.stage);
  bench_lt_close(lt);
  bench_dev_free(&env.cu, &timer.flush);
  env.cu.stream_destroy(env.stream);
  dlg_context_destroy(env.ctx);
  bench_cuda_close(&env.cu);
  return rc;
}
