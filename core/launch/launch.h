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

dlg_status_t dlg_launch_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* stream);
/* Compiles what dlg_launch_gemm would launch, without launching. */
dlg_status_t dlg_warmup_gemm_kernel(dlg_context_t* ctx, const dlg_gemm_problem_t* p);

#endif /* DLG_LAUNCH_LAUNCH_H_ */
