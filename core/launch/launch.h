/* One launcher per kernel family: heuristics, source generation, launch. The ops call these
 * after validation, for CUDA tensors only. A launcher returns DLG_ERR_UNSUPPORTED with a
 * message when no kernel covers the case (layout, arch, dtype), so the op can report it. */
#ifndef DLG_LAUNCH_LAUNCH_H_
#define DLG_LAUNCH_LAUNCH_H_

#include "internal.h"

/* Validated dense GEMM problem (shared by dense and grouped launchers). */
typedef struct dlg_gemm_problem {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  const DLTensor *a, *sfa, *b, *sfb, *c; /* sfa/sfb/c may be NULL */
  DLTensor* d;
  int a_k_major, b_k_major;              /* layouts read from strides */
} dlg_gemm_problem_t;

/* Dispatch (core/launch/gemm.c): the fastest launcher that covers p on the context's arch,
 * else the generic kernel. warmup_only = 1 compiles/loads without launching (tensors'
 * data may then be NULL). */
dlg_status_t dlg_launch_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* stream,
                             int warmup_only);

/* The launchers dlg_launch_gemm tries, in order. Each returns DLG_ERR_UNSUPPORTED when it
 * does not cover p (recipe, layout, alignment, arch), and then must not have launched. */
dlg_status_t dlg_launch_sm90_fp8_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                      void* stream, int warmup_only);
dlg_status_t dlg_launch_sm90_bf16_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                       void* stream, int warmup_only);
/* Portable SIMT kernel (any arch, any recipe and layout): correct, not fast. */
dlg_status_t dlg_launch_generic_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                     void* stream, int warmup_only);

#endif /* DLG_LAUNCH_LAUNCH_H_ */
