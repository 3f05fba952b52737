/* Tile/pipeline/cluster choice for the SM90 GEMM kernels (sm90_fp8_gemm_1d2d,
 * sm90_fp8_gemm_1d1d, sm90_bf16_gemm) and the shared-memory size formula they are compiled
 * against. Deterministic: the same shape, SM count and shared-memory limit always give the
 * same config. $DLG_SM90_GEMM_CONFIG overrides the choice for tuning (see
 * dlg_sm90_gemm_override). */
#ifndef DLG_LAUNCH_SM90_GEMM_CONFIG_H_
#define DLG_LAUNCH_SM90_GEMM_CONFIG_H_

#include <stddef.h>
#include <stdint.h>

/* Bits of dlg_sm90_gemm_shape_t.sfa_in_smem: the per-stage scale columns. */
#define DLG_SM90_SMEM_SFA 1 /* BLOCK_M f32 of A scales (FP8 1D2D, 1D1D); without SFB (1D2D)
                               also 16 bytes of B block scales */
#define DLG_SM90_SMEM_SFB 2 /* BLOCK_N f32 of B scales (FP8 1D1D) */

/* Promotion classes (dlg_sm90_gemm_shape_t.promotion): the CUDA-core work per 128-K block. */
#define DLG_SM90_PROMOTE_NONE 0       /* BF16: accumulates in the tensor cores */
#define DLG_SM90_PROMOTE_ADD 1        /* FP8 per-tensor: acc += partial */
#define DLG_SM90_PROMOTE_ROW_BLOCK 2  /* FP8 1D2D: acc += partial * sfa[row] * sfb[block] */
#define DLG_SM90_PROMOTE_ROW_COL 3    /* FP8 1D1D: acc += partial * sfa[row] * sfb[col] */

typedef struct dlg_sm90_gemm_shape {
  int64_t m, n, k;
  int fp8;           /* 1: e4m3 operands (BLOCK_K 128, FP32 promotion per k-block); 0: bf16 */
  int sfa_in_smem;   /* DLG_SM90_SMEM_SFA | DLG_SM90_SMEM_SFB: scale columns per stage */
  int out_bytes;     /* D element size: 2 (bf16) or 4 (f32) */
  int num_sms;       /* SMs the grid may use (ctx max_sms already applied) */
  size_t smem_limit; /* opt-in dynamic shared memory per block */
  int promotion;     /* DLG_SM90_PROMOTE_*; 0 with fp8 = 1 is read as ROW_BLOCK when
                        sfa_in_smem, else ADD (callers written before the field existed) */
  int c_bytes;       /* bytes per element of C read by the epilogue (0: no C) */
  int c_via_tma;     /* C can be prefetched by TMA into the staging tile (FP8 kCMode 3) */
  int m_grouped;     /* FP8 M-grouped on the dense body: no cluster along M (two m-blocks
                        may hold different groups), no split-K */
  int64_t m_groups;  /* masked: m is m_groups groups of m / m_groups rows, each tiled on its
                        own (0: one matrix of m rows) */
} dlg_sm90_gemm_shape_t;

typedef struct dlg_sm90_gemm_config {
  int block_m, block_n, stages;
  int cluster_m, cluster_n; /* 1x1, 2x1 (share B: multicast B) or 1x2 (share A) */
  int group_n;              /* rasterization band width in N blocks */
  int threads;              /* 128 per math warpgroup (1 or 2) + 128 (producer) */
  int d_swizzle;            /* epilogue TMA swizzle span in bytes: 32, 64 or 128 */
  size_t smem_bytes;
  unsigned grid;            /* persistent CTAs (a multiple of the cluster size) */
  int64_t tiles, waves;
  double est_cycles;        /* the cost model's estimate (for DLG_PRINT_CONFIGS) */
  int pipelined;            /* FP8: two partial sets, promotion behind the next k-block */
  int direct_store;         /* epilogue stores D from registers: no staging tile in smem */
  int slab_ring;            /* epilogue stores D through a ring of 64-row slab chunks (16 KiB
                               per math warpgroup) instead of the whole staged tile */
  int split_k;              /* FP8 1D2D / per-tensor, BF16: CTAs (one cluster) per tile splitting K,
                               reduced in distributed shared memory; 0 or 1 = off */
} dlg_sm90_gemm_config_t;

/* Dynamic shared memory of a kernel instance: alignment slack + D staging (d_bytes) +
 * stages x (A, B, scale columns per `sfa_in_smem` bits) + 2 mbarriers per stage + 2 (C
 * prefetch). Must match the kernels' carve-up. */
size_t dlg_sm90_gemm_smem_bytes(int block_m, int block_n, int stages, int sfa_in_smem,
                                size_t d_bytes);
/* The epilogue's D staging bytes: the whole tile, none (direct) or the slab ring. */
size_t dlg_sm90_d_smem_bytes(int block_m, int block_n, int out_bytes, int direct, int ring);
/* The kernels' kStore template argument of a config: 0 staged tile, 1 direct, 2 slab ring. */
int dlg_sm90_store_mode(const dlg_sm90_gemm_config_t* c);
/* dlg_sm90_gemm_smem_bytes for a config. */
size_t dlg_sm90_config_smem_bytes(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c);

/* Largest TMA swizzle span (32/64/128 bytes) dividing a D tile row of `row_bytes`. */
int dlg_sm90_epilogue_swizzle(int row_bytes);

/* Largest BLOCK_N the FP8 kernels take for a BLOCK_M, pipelined or not, and a promotion
 * class (registers: three accumulator sets when pipelined, two otherwise). */
int dlg_sm90_fp8_max_block_n(int block_m, int pipelined, int promotion);

/* Picks the config with the lowest modelled time. Returns 0 when no config fits (e.g. the
 * shared-memory limit is too small), else 1. */
int dlg_sm90_gemm_choose(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* out);

/* $DLG_SM90_GEMM_CONFIG (tuning): comma-separated key=value among bm, bn, stages, cm, cn,
 * pipe, direct, ring, group, split, e.g. "bm=128,bn=128,cn=2,pipe=1,direct=1". Keys left out keep the chosen value
 * (stages: as many as fit when bm/bn change). Applied only when the result is a valid
 * config for s (else *cfg is untouched and `why` says why). Returns 1 when applied. */
int dlg_sm90_gemm_override(const dlg_sm90_gemm_shape_t* s, const char* spec,
                           dlg_sm90_gemm_config_t* cfg, const char** why);

#endif /* DLG_LAUNCH_SM90_GEMM_CONFIG_H_ */
