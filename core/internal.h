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
struct dlg_context {
  int device;               /* -1: CPU only */
  int max_sms;              /* 0 = all */
  int pdl;
  pthread_mutex_t lock;     /* guards the strings below and jit state creation */
  char* cache_dir;          /* NULL = default */
  char* jit_options;        /* NULL = none */
  struct dlg_jit_state* jit; /* lazily created on first GPU call */
};

/* Snapshot of the string knobs (caller frees with free()). */
char* dlg_context_cache_dir_dup(dlg_context_t* ctx);
char* dlg_context_jit_options_dup(dlg_context_t* ctx);

/* Frees the JIT state (defined in core/jit; a no-op stub when no GPU support is built). */
void dlg_jit_state_destroy(struct dlg_jit_state* st);

static inline int64_t dlg_ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif /* DLG_CORE_INTERNAL_H_ */
