/* Per-context cache of dense-GEMM launch plans: what the heuristics, the override, source
 * generation and dlg_jit_get decided for one problem signature, so that a repeated call skips
 * all of them (issue 3: host time per cached call).
 *
 * Reads are lock-free (an open-addressing table of pointers to immutable entries, published
 * with release stores and read with acquire loads); inserts take a short mutex. Entries live
 * until the context is destroyed (their kernels stay loaded that long anyway). When the table
 * is full, calls simply go the uncached way. */
#ifndef DLG_LAUNCH_GEMM_PLAN_CACHE_H_
#define DLG_LAUNCH_GEMM_PLAN_CACHE_H_

#include "internal.h"
#include "jit/jit.h"
#include "launch/sm90_gemm_config.h"

#define DLG_PLAN_OVERRIDE_MAX 96 /* a longer $DLG_SM90_GEMM_CONFIG is not cached */

/* Everything the plan depends on besides the tensors' pointers (checked on every call).
 * Build with dlg_gemm_plan_key_init (zeroed: compared with memcmp). */
typedef struct dlg_gemm_plan_key {
  int launcher;             /* DLG_PLAN_* below */
  int recipe;
  int64_t m, n, k;
  int d_f32;                /* D float32 (else bf16) */
  int c_mode;               /* dlg_sm90_c_mode: 0 none, 1 bf16, 2 f32 */
  int c_tma;                /* C can be prefetched by TMA (FP8) */
  int num_sms;              /* after ctx max_sms */
  unsigned jit_options_gen; /* ctx jit options generation */
  char override_spec[DLG_PLAN_OVERRIDE_MAX]; /* $DLG_SM90_GEMM_CONFIG, "" when unset */
} dlg_gemm_plan_key_t;

#define DLG_PLAN_SM90_FP8 1
#define DLG_PLAN_SM90_BF16 2
#define DLG_PLAN_SM90_BF16_GEMV 3

typedef struct dlg_gemm_plan {
  dlg_gemm_plan_key_t key;
  uint64_t hash;
  dlg_sm90_gemm_config_t cfg; /* after override, before fitting clusters */
  int c_mode;                 /* the kernel's kCMode */
  dlg_kernel_t kernel;
  unsigned fitted_grid;       /* 0 until computed (atomic; every writer stores the same value) */
} dlg_gemm_plan_t;

struct dlg_gemm_plans;

/* Zeroes *key and sets the fields that every launcher has. Returns 0 when the call must not
 * be cached (an override spec too long to keep). */
int dlg_gemm_plan_key_init(dlg_gemm_plan_key_t* key, int launcher, int recipe, int64_t m,
                           int64_t n, int64_t k, const char* override_spec);

/* The cached plan of key, or NULL. Lock-free. */
const dlg_gemm_plan_t* dlg_gemm_plan_find(dlg_context_t* ctx, const dlg_gemm_plan_key_t* key);

/* Inserts a copy of plan (its key and hash are set here) unless the key is present or the
 * table is full. Returns the cached entry (the existing one when another thread won), or
 * NULL when nothing was cached (full, or out of memory): callers then use their own copy. */
const dlg_gemm_plan_t* dlg_gemm_plan_insert(dlg_context_t* ctx, const dlg_gemm_plan_key_t* key,
                                            const dlg_gemm_plan_t* plan);

/* Cluster-fitted grid of a cached plan: 0 when not yet computed. */
unsigned dlg_gemm_plan_fitted_grid(const dlg_gemm_plan_t* plan);
void dlg_gemm_plan_set_fitted_grid(const dlg_gemm_plan_t* plan, unsigned grid);

/* Number of cached plans (tests). */
int dlg_gemm_plan_count(dlg_context_t* ctx);

#endif /* DLG_LAUNCH_GEMM_PLAN_CACHE_H_ */
