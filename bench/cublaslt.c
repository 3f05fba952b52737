/* cuBLASLt baseline (see cublaslt.h). The types and enums come from <cublasLt.h> when the
 * header is available at compile time; the library itself is always opened with dlopen so
 * the bench never links against it. */
#include "cublaslt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char* bench_lt_baseline_name(dlg_recipe_t recipe) {
  switch (recipe) {
    case DLG_RECIPE_FP8_1D2D: return "cublaslt_vec128_blk128x128";
    case DLG_RECIPE_FP8_1D1D: return "cublaslt_vec128_vec128";
    case DLG_RECIPE_FP8_PER_TENSOR: return "cublaslt_tensorwise";
    case DLG_RECIPE_BF16: return "cublaslt_bf16";
  }
  return "cublaslt";
}

/* cublasLt.h includes cuda_fp16.h, which includes CCCL's <nv/target> (under include/cccl
 * since CUDA 13: CMakeLists.txt adds that directory when it exists). */
#define BENCH_LT_MISSING "cublasLt.h was not on the include path"
#if defined(__has_include)
#if __has_include(<cublasLt.h>)
#if __has_include(<nv/target>)
#define BENCH_HAVE_CUBLASLT 1
#else
#undef BENCH_LT_MISSING
#define BENCH_LT_MISSING "cublasLt.h was found but CCCL's <nv/target> was not (add <cuda>/include/cccl)"
#endif
#endif
#endif

#ifndef BENCH_HAVE_CUBLASLT

int bench_lt_built(void) { return 0; }
const char* bench_lt_build_note(void) { return "not built: " BENCH_LT_MISSING; }
int bench_lt_open(bench_cuda_t* cu, size_t workspace_bytes, bench_lt_t** out, char* why,
                  size_t cap) {
  (void)cu;
  (void)workspace_bytes;
  *out = NULL;
  snprintf(why, cap, "cuBLASLt: not built (%s)", BENCH_LT_MISSING);
  return -1;
}
void bench_lt_close(bench_lt_t* lt) { (void)lt; }
long bench_lt_version(const bench_lt_t* lt) { (void)lt; return 0; }
const char* bench_lt_library(const bench_lt_t* lt) { (void)lt; return ""; }
int bench_lt_plan_create(bench_lt_t* lt, const bench_lt_problem_t* p, bench_lt_plan_t** out,
                         char* why, size_t cap) {
  (void)lt;
  (void)p;
  *out = NULL;
  snprintf(why, cap, "cuBLASLt: not built");
  return -1;
}
int bench_lt_run(bench_lt_plan_t* plan, CUdeviceptr c, CUdeviceptr d, CUstream stream,
                 char* why, size_t cap) {
  (void)plan;
  (void)c;
  (void)d;
  (void)stream;
  snprintf(why, cap, "cuBLASLt: not built");
  return -1;
}
void bench_lt_plan_destroy(bench_lt_plan_t* plan) { (void)plan; }

#else /* BENCH_HAVE_CUBLASLT */

#include <dlfcn.h>
#include <cublasLt.h>

/* The entry points the bench uses, resolved with dlsym. */
typedef struct lt_api {
  cublasStatus_t (*create)(cublasLtHandle_t*);
  cublasStatus_t (*destroy)(cublasLtHandle_t);
  size_t (*get_version)(void);
  const char* (*status_string)(cublasStatus_t);
  cublasStatus_t (*desc_create)(cublasLtMatmulDesc_t*, cublasComputeType_t, cudaDataType_t);
  cublasStatus_t (*desc_destroy)(cublasLtMatmulDesc_t);
  cublasStatus_t (*desc_set)(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, const void*,
                             size_t);
  cublasStatus_t (*layout_create)(cublasLtMatrixLayout_t*, cudaDataType, uint64_t, uint64_t,
                                  int64_t);
  cublasStatus_t (*layout_destroy)(cublasLtMatrixLayout_t);
  cublasStatus_t (*pref_create)(cublasLtMatmulPreference_t*);
  cublasStatus_t (*pref_destroy)(cublasLtMatmulPreference_t);
  cublasStatus_t (*pref_set)(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                             const void*, size_t);
  cublasStatus_t (*heuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                              cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int,
                              cublasLtMatmulHeuristicResult_t[], int*);
  cublasStatus_t (*matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*,
                           cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t,
                           const void*, const void*, cublasLtMatrixLayout_t, void*,
                           cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*, void*, size_t,
                           cudaStream_t);
} lt_api_t;

struct bench_lt {
  void* dl;
  char path[200];
  lt_api_t api;
  cublasLtHandle_t handle;
  bench_cuda_t* cu;
  bench_dev_buf_t workspace;
};

struct bench_lt_plan {
  bench_lt_t* lt;
  bench_lt_problem_t p;
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a_layout, b_layout, c_layout, d_layout;
  cublasLtMatmulAlgo_t algo;
  size_t workspace_bytes;
  float alpha, beta;
};

int bench_lt_built(void) { return 1; }
const char* bench_lt_build_note(void) {
  return "built (libcublasLt.so.13, else .so.12, opened at run time; $DLG_CUBLASLT_PATH "
         "overrides)";
}

static const char* lt_status(const bench_lt_t* lt, cublasStatus_t s) {
  static _Thread_local char buf[48];
  if (lt->api.status_string) {
    const char* t = lt->api.status_string(s);
    if (t) return t;
  }
  snprintf(buf, sizeof buf, "cublasStatus %d", (int)s);
  return buf;
}

static int load(void* dl, void* slot, const char* name) {
  void* p = dlsym(dl, name);
  if (!p) return 0;
  memcpy(slot, &p, sizeof p);
  return 1;
}

int bench_lt_open(bench_cuda_t* cu, size_t workspace_bytes, bench_lt_t** out, char* why,
                  size_t cap) {
  *out = NULL;
  bench_lt_t* lt = calloc(1, sizeof *lt);
  if (!lt) {
    snprintf(why, cap, "cuBLASLt: out of host memory");
    return -1;
  }
  /* $DLG_CUBLASLT_PATH, the loader's path, then the toolkit's usual places (its lib64 is
   * not always registered with the loader). */
  char candidates[8][200];
  int n = 0;
  const char* env = getenv("DLG_CUBLASLT_PATH");
  const char* home = getenv("CUDA_HOME");
  if (env && *env) snprintf(candidates[n++], sizeof candidates[0], "%s", env);
  for (int major = 13; major >= 12; --major) {
    snprintf(candidates[n++], sizeof candidates[0], "libcublasLt.so.%d", major);
    if (home && *home)
      snprintf(candidates[n++], sizeof candidates[0], "%.160s/lib64/libcublasLt.so.%d", home, major);
    snprintf(candidates[n++], sizeof candidates[0], "/usr/local/cuda/lib64/libcublasLt.so.%d", major);
  }
  for (int i = 0; i < n && !lt->dl; ++i) {
    lt->dl = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (lt->dl) snprintf(lt->path, sizeof lt->path, "%.199s", candidates[i]);
  }
  if (!lt->dl) {
    snprintf(why, cap, "cuBLASLt: libcublasLt.so.13/.12 not found (tried $DLG_CUBLASLT_PATH, the "
                       "loader path, $CUDA_HOME/lib64, /usr/local/cuda/lib64)");
    free(lt);
    return -1;
  }
  struct {
    void* slot;
    const char* name;
  } table[] = {
      {&lt->api.create, "cublasLtCreate"},
      {&lt->api.destroy, "cublasLtDestroy"},
      {&lt->api.get_version, "cublasLtGetVersion"},
      {&lt->api.status_string, "cublasLtGetStatusString"},
      {&lt->api.desc_create, "cublasLtMatmulDescCreate"},
      {&lt->api.desc_destroy, "cublasLtMatmulDescDestroy"},
      {&lt->api.desc_set, "cublasLtMatmulDescSetAttribute"},
      {&lt->api.layout_create, "cublasLtMatrixLayoutCreate"},
      {&lt->api.layout_destroy, "cublasLtMatrixLayoutDestroy"},
      {&lt->api.pref_create, "cublasLtMatmulPreferenceCreate"},
      {&lt->api.pref_destroy, "cublasLtMatmulPreferenceDestroy"},
      {&lt->api.pref_set, "cublasLtMatmulPreferenceSetAttribute"},
      {&lt->api.heuristic, "cublasLtMatmulAlgoGetHeuristic"},
      {&lt->api.matmul, "cublasLtMatmul"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
    if (!load(lt->dl, table[i].slot, table[i].name)) {
      snprintf(why, cap, "cuBLASLt: %.150s lacks %s", lt->path, table[i].name);
      bench_lt_close(lt);
      return -1;
    }
  }
  cublasStatus_t s = lt->api.create(&lt->handle);
  if (s != CUBLAS_STATUS_SUCCESS) {
    snprintf(why, cap, "cublasLtCreate: %s", lt_status(lt, s));
    lt->handle = NULL;
    bench_lt_close(lt);
    return -1;
  }
  lt->cu = cu;
  if (bench_dev_upload(cu, &lt->workspace, NULL, workspace_bytes, why, cap) != 0) {
    bench_lt_close(lt);
    return -1;
  }
  *out = lt;
  return 0;
}

void bench_lt_close(bench_lt_t* lt) {
  if (!lt) return;
  if (lt->cu) bench_dev_free(lt->cu, &lt->workspace);
  if (lt->handle) lt->api.destroy(lt->handle);
  /* The library stays loaded: unloading cuBLAS while its kernels are registered is not
   * worth the trouble at exit. */
  free(lt);
}

long bench_lt_version(const bench_lt_t* lt) { return lt ? (long)lt->api.get_version() : 0; }
const char* bench_lt_library(const bench_lt_t* lt) { return lt ? lt->path : ""; }

void bench_lt_plan_destroy(bench_lt_plan_t* plan) {
  if (!plan) return;
  const lt_api_t* api = &plan->lt->api;
  if (plan->desc) api->desc_destroy(plan->desc);
  if (plan->a_layout) api->layout_destroy(plan->a_layout);
  if (plan->b_layout) api->layout_destroy(plan->b_layout);
  if (plan->c_layout) api->layout_destroy(plan->c_layout);
  if (plan->d_layout) api->layout_destroy(plan->d_layout);
  free(plan);
}

#define LT_TRY(call, what)                                                     \
  do {                                                                         \
    cublasStatus_t s_ = (call);                                                \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                         \
      snprintf(why, cap, "cuBLASLt %s: %s", (what), lt_status(lt, s_));        \
      bench_lt_plan_destroy(plan);                                             \
      return -1;                                                               \
    }                                                                          \
  } while (0)

int bench_lt_plan_create(bench_lt_t* lt, const bench_lt_problem_t* p, bench_lt_plan_t** out,
                         char* why, size_t cap) {
  *out = NULL;
  bench_lt_plan_t* plan = calloc(1, sizeof *plan);
  if (!plan) {
    snprintf(why, cap, "cuBLASLt: out of host memory");
    return -1;
  }
  plan->lt = lt;
  plan->p = *p;
  plan->alpha = 1.0f;
  plan->beta = p->accumulate ? 1.0f : 0.0f;
  const lt_api_t* api = &lt->api;
  const int fp8 = p->recipe != DLG_RECIPE_BF16;
  const cudaDataType_t in_type = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
  const cudaDataType_t out_type = p->d_f32 ? CUDA_R_32F : CUDA_R_16BF;

  LT_TRY(api->desc_create(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate");
  /* Column-major view of the row-major problem: Dᵀ[N,M] = B[N,K]·Aᵀ. cuBLASLt's A is our
   * B (stored K×N, ld K, transposed), its B is our A (stored K×M, ld K): the TN form that
   * Hopper's FP8 kernels require. */
  const int32_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
         "TRANSA");
  LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
         "TRANSB");
  if (fp8) {
    /* Operands swap, so do their scales: cuBLASLt's A scale is our sfb. */
    const void* lt_a_scale = (const void*)(uintptr_t)p->sfb;
    const void* lt_b_scale = (const void*)(uintptr_t)p->sfa;
    LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &lt_a_scale,
                         sizeof lt_a_scale), "A_SCALE_POINTER");
    LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &lt_b_scale,
                         sizeof lt_b_scale), "B_SCALE_POINTER");
    if (p->recipe != DLG_RECIPE_FP8_PER_TENSOR) {
      const int32_t a_mode = p->recipe == DLG_RECIPE_FP8_1D2D
                                 ? CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F
                                 : CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      const int32_t b_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &a_mode,
                           sizeof a_mode), "A_SCALE_MODE");
      LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &b_mode,
                           sizeof b_mode), "B_SCALE_MODE");
    }
    /* Fast accumulation skips the FP32 promotion of the tensor-core sums: off, as in the
     * recipes being compared (block-scaled modes reject it anyway). */
    const int8_t fast_accum = 0;
    LT_TRY(api->desc_set(plan->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast_accum,
                         sizeof fast_accum), "FAST_ACCUM");
  }
  LT_TRY(api->layout_create(&plan->a_layout, in_type, (uint64_t)p->k, (uint64_t)p->n, p->k),
         "MatrixLayoutCreate(A)");
  LT_TRY(api->layout_create(&plan->b_layout, in_type, (uint64_t)p->k, (uint64_t)p->m, p->k),
         "MatrixLayoutCreate(B)");
  LT_TRY(api->layout_create(&plan->c_layout, out_type, (uint64_t)p->n, (uint64_t)p->m, p->n),
         "MatrixLayoutCreate(C)");
  LT_TRY(api->layout_create(&plan->d_layout, out_type, (uint64_t)p->n, (uint64_t)p->m, p->n),
         "MatrixLayoutCreate(D)");

  cublasLtMatmulPreference_t pref = NULL;
  LT_TRY(api->pref_create(&pref), "MatmulPreferenceCreate");
  const uint64_t ws = lt->workspace.bytes;
  cublasStatus_t s = api->pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  cublasLtMatmulHeuristicResult_t result;
  memset(&result, 0, sizeof result);
  int returned = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = api->heuristic(lt->handle, plan->desc, plan->a_layout, plan->b_layout, plan->c_layout,
                       plan->d_layout, pref, 1, &result, &returned);
  api->pref_destroy(pref);
  LT_TRY(s, "MatmulAlgoGetHeuristic");
  if (returned < 1 || result.state != CUBLAS_STATUS_SUCCESS) {
    snprintf(why, cap, "cuBLASLt MatmulAlgoGetHeuristic: no algorithm for this problem (%s)",
             returned < 1 ? "none returned" : lt_status(lt, result.state));
    bench_lt_plan_destroy(plan);
    return -1;
  }
  plan->algo = result.algo;
  plan->workspace_bytes = result.workspaceSize;
  *out = plan;
  return 0;
}

int bench_lt_run(bench_lt_plan_t* plan, CUdeviceptr c, CUdeviceptr d, CUstream stream,
                 char* why, size_t cap) {
  bench_lt_t* lt = plan->lt;
  const bench_lt_problem_t* p = &plan->p;
  /* Without accumulation beta is 0 and C is not read; D stands in for it. */
  const void* c_ptr = (const void*)(uintptr_t)(p->accumulate ? c : d);
  cublasStatus_t s = lt->api.matmul(
      lt->handle, plan->desc, &plan->alpha, (const void*)(uintptr_t)p->b, plan->a_layout,
      (const void*)(uintptr_t)p->a, plan->b_layout, &plan->beta, c_ptr, plan->c_layout,
      (void*)(uintptr_t)d, plan->d_layout, &plan->algo, (void*)(uintptr_t)lt->workspace.ptr,
      plan->workspace_bytes, (cudaStream_t)stream);
  if (s != CUBLAS_STATUS_SUCCESS) {
    snprintf(why, cap, "cublasLtMatmul: %s", lt_status(lt, s));
    return -1;
  }
  return 0;
}

#endif /* BENCH_HAVE_CUBLASLT */
