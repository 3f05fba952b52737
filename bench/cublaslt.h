/* The cuBLASLt baseline: libcublasLt opened at run time, one plan per benchmarked problem.
 * Built only where <cublasLt.h> is on the include path (the GPU machine); elsewhere every
 * call reports "cuBLASLt: not built" and the bench runs without a baseline. */
#ifndef DLG_BENCH_CUBLASLT_H_
#define DLG_BENCH_CUBLASLT_H_

#include <stddef.h>
#include <stdint.h>
#include "cuda_api.h"
#include "dlgemm.h"

typedef struct bench_lt bench_lt_t;           /* library handle + workspace */
typedef struct bench_lt_plan bench_lt_plan_t; /* descriptors + heuristic's algorithm */

/* One GEMM in dlgemm's terms (row-major D[M,N] = C + A[M,K]·B[N,K]ᵀ, K-major operands);
 * the plan maps it onto cuBLASLt's column-major Dᵀ = B·Aᵀ. Scale pointers are in
 * cuBLASLt's layouts (see bench/README.md):
 *   FP8_1D2D        sfa VEC128  [ceil(K/128)][M] (M contiguous); sfb BLK128x128
 *                   [ceil(N/128)][round_up(ceil(K/128), 4)] (K blocks contiguous)
 *   FP8_1D1D        sfa, sfb VEC128 [ceil(K/128)][M], [ceil(K/128)][N]
 *   FP8_PER_TENSOR  scalar f32 each
 *   BF16            none */
typedef struct bench_lt_problem {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  int d_f32;      /* D (and C) f32, else bf16 */
  int accumulate; /* beta = 1: D = C + A·Bᵀ with C given at run time */
  CUdeviceptr a, b, sfa, sfb;
} bench_lt_problem_t;

/* 1 when the cuBLASLt part was compiled in; the note says how (or why not). */
int bench_lt_built(void);
const char* bench_lt_build_note(void);
/* Opens libcublasLt.so.13 (then .so.12), creates a handle and a workspace. 0 / -1 + why. */
int bench_lt_open(bench_cuda_t* cu, size_t workspace_bytes, bench_lt_t** out, char* why,
                  size_t cap);
void bench_lt_close(bench_lt_t* lt);
/* cublasLtGetVersion() of the loaded library (e.g. 130100), and its file name. */
long bench_lt_version(const bench_lt_t* lt);
const char* bench_lt_library(const bench_lt_t* lt);
/* A short name of the baseline for a recipe ("cublaslt_blockwise", ...). */
const char* bench_lt_baseline_name(dlg_recipe_t recipe);

/* Builds descriptors and asks the heuristic for the best algorithm. 0 / -1 + why. */
int bench_lt_plan_create(bench_lt_t* lt, const bench_lt_problem_t* p, bench_lt_plan_t** out,
                         char* why, size_t cap);
/* Enqueues one matmul on `stream`: D = (accumulate ? C : 0) + A·Bᵀ. 0 / -1 + why. */
int bench_lt_run(bench_lt_plan_t* plan, CUdeviceptr c, CUdeviceptr d, CUstream stream,
                 char* why, size_t cap);
void bench_lt_plan_destroy(bench_lt_plan_t* plan);

#endif /* DLG_BENCH_CUBLASLT_H_ */
