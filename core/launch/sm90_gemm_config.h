/* Tile/pipeline/cluster choice for the SM90 GEMM kernels (sm90_fp8_gemm_1d2d, sm90_bf16_gemm)
 * and the shared-memory size formula they are compiled against. Deterministic: the same
 * shape, SM count and shared-memory limit always give the same config. */
#ifndef DLG_LAUNCH_SM90_GEMM_CONFIG_H_
#define DLG_LAUNCH_SM90_GEMM_CONFIG_H_

#include <stddef.h>
#include <stdint.h>

typedef struct dlg_sm90_gemm_shape {
  int64_t m, n, k;
  int fp8;           /* 1: e4m3 operands (BLOCK_K 128, FP32 promotion per k-block); 0: bf16 */
  int sfa_in_smem;   /* 1: each stage also holds BLOCK_M f32 of A scales (FP8 1D2D) */
  int out_bytes;     /* D element size: 2 (bf16) or 4 (f32) */
  int num_sms;       /* SMs the grid may use (ctx max_sms already applied) */
  size_t smem_limit; /* opt-in dynamic shared memory per block */
} dlg_sm90_gemm_shape_t;

typedef struct dlg_sm90_gemm_config {
  int block_m, block_n, stages;
  int cluster_m, cluster_n; /* 1x1, 2x1 (share B: multicast B) or 1x2 (share A) */
  int group_n;              /* rasterization band width in N blocks */
  int threads;              /* (block_m / 64 + 1) * 128 */
  int d_swizzle;            /* epilogue TMA swizzle span in bytes: 32, 64 or 128 */
  size_t smem_bytes;
  unsigned grid;            /* persistent CTAs (a multiple of the cluster size) */
  int64_t tiles, waves;
  double est_cycles;        /* the cost model's estimate (for DLG_PRINT_CONFIGS) */
} dlg_sm90_gemm_config_t;

/* Dynamic shared memory of a kernel instance: alignment slack + D tile + stages x (A, B,
 * optional sfa) + 2 mbarriers per stage. Must match the kernels' carve-up. */
size_t dlg_sm90_gemm_smem_bytes(int block_m, int block_n, int stages, int sfa_in_smem,
                                int out_bytes);

/* Largest TMA swizzle span (32/64/128 bytes) dividing a D tile row of `row_bytes`. */
int dlg_sm90_epilogue_swizzle(int row_bytes);

/* Picks the config with the lowest modelled time. Returns 0 when no config fits (e.g. the
 * shared-memory limit is too small), else 1. */
int dlg_sm90_gemm_choose(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* out);

#endif /* DLG_LAUNCH_SM90_GEMM_CONFIG_H_ */
