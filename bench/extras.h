/* Measurements beside the shape suite: host cost of a cached call, NVRTC compile and
 * cache-load times. */
#ifndef DLG_BENCH_EXTRAS_H_
#define DLG_BENCH_EXTRAS_H_

#include "cublaslt.h"
#include "problem.h"
#include "report.h"

/* Host µs per call of a small cached GEMM (`calls` back-to-back launches, no sync between),
 * for dlgemm and, when lt is not NULL, for cuBLASLt. Fills *out (status on failure). */
void bench_measure_overhead(bench_env_t* env, bench_lt_t* lt, dlg_recipe_t recipe, int calls,
                            bench_overhead_t* out);

/* Cold NVRTC compile (new context, empty cache dir: dlg_warmup_gemm), disk-cache hit (another
 * new context on the same dir) and in-memory hit (same call again) for one problem. */
void bench_measure_compile(bench_env_t* env, dlg_recipe_t recipe, int64_t m, int64_t n,
                           int64_t k, int d_f32, bench_compile_t* out);

/* Loads NVRTC and the driver module machinery once (a throwaway compile in a temporary
 * directory) so the first measured compile does not pay for dlopen. */
void bench_prime_jit(bench_env_t* env);

/* $DLG_BENCH_JIT_OPTIONS (extra NVRTC options, e.g. "-DDLG_SOME_KNOB=0") applied to
 * the bench's context: A/B of a kernel's compile-time knob in one build and one process.
 * Returns the library's status (DLG_OK when unset). */
dlg_status_t bench_apply_jit_options(dlg_context_t* ctx);

#endif /* DLG_BENCH_EXTRAS_H_ */
