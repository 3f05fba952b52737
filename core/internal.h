/* Internal helpers shared by the whole core. Not installed. */
#ifndef DLG_CORE_INTERNAL_H_
#define DLG_CORE_INTERNAL_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "dlgemm.h"

#define DLG_MAX_NDIM 8

/* Records `fmt` as this thread's last error and returns `status` (so: return dlg_fail(...)). */
dlg_status_t dlg_fail(dlg_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with "what: " (used to add context on the way up). */
void dlg_error_prefix(const char* what);

/* Context (opaque in the ABI). Knobs are read with atomics so calls never take a lock. */
struct dlg_jit_state; /* owned by core/jit */
struct dlg_gemm_plans; /* owned by core/launch/gemm_plan_cache.c */
struct dlg_context {
  int device;               /* -1: CPU only */
  int max_sms;              /* 0 = all */
  int pdl;
  pthread_mutex_t lock;     /* guards the strings below and jit state creation */
  char* cache_dir;          /* NULL = default */
  char* jit_options;        /* NULL = none */
  struct dlg_jit_state* jit; /* lazily created on first GPU call */
  unsigned jit_options_gen; /* bumped (atomically) by every dlg_context_set_jit_options */
  struct dlg_gemm_plans* gemm_plans; /* launch-plan cache, created on first GPU GEMM */
};

/* Snapshot of the string knobs (caller frees with free()). */
char* dlg_context_cache_dir_dup(dlg_context_t* ctx);
char* dlg_context_jit_options_dup(dlg_context_t* ctx);

/* Frees the JIT state (defined in core/jit; a no-op stub when no GPU support is built). */
void dlg_jit_state_destroy(struct dlg_jit_state* st);
/* Frees a context's GEMM launch-plan cache (core/launch/gemm_plan_cache.c). */
void dlg_gemm_plans_destroy(struct dlg_gemm_plans* plans);

static inline int64_t dlg_ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif /* DLG_CORE_INTERNAL_H_ */
