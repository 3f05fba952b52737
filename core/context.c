/* The context: device ordinal and knobs. Knobs use atomics; strings take the lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

dlg_status_t dlg_context_create(int device_ordinal, dlg_context_t** out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  *out = NULL;
  if (device_ordinal < -1)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                    "device_ordinal: expected -1 (CPU) or a CUDA ordinal >= 0, got %d",
                    device_ordinal);
  dlg_context_t* ctx = calloc(1, sizeof *ctx);
  if (!ctx) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "context: allocation failed");
  ctx->device = device_ordinal;
  pthread_mutex_init(&ctx->lock, NULL);
  *out = ctx;
  return DLG_OK;
}

void dlg_context_destroy(dlg_context_t* ctx) {
  if (!ctx) return;
  dlg_gemm_plans_destroy(ctx->gemm_plans);
  dlg_jit_state_destroy(ctx->jit);
  free(ctx->cache_dir);
  free(ctx->jit_options);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

int dlg_context_device(const dlg_context_t* ctx) { return ctx ? ctx->device : -1; }

dlg_status_t dlg_context_set_max_sms(dlg_context_t* ctx, int max_sms) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (max_sms < 0)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "max_sms: expected >= 0 (0 = all), got %d", max_sms);
  __atomic_store_n(&ctx->max_sms, max_sms, __ATOMIC_RELAXED);
  return DLG_OK;
}
int dlg_context_get_max_sms(const dlg_context_t* ctx) {
  return ctx ? __atomic_load_n(&ctx->max_sms, __ATOMIC_RELAXED) : 0;
}

dlg_status_t dlg_context_set_pdl(dlg_context_t* ctx, int enable) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  __atomic_store_n(&ctx->pdl, enable ? 1 : 0, __ATOMIC_RELAXED);
  return DLG_OK;
}
int dlg_context_get_pdl(const dlg_context_t* ctx) {
  return ctx ? __atomic_load_n(&ctx->pdl, __ATOMIC_RELAXED) : 0;
}

static dlg_status_t set_string(dlg_context_t* ctx, char** slot, const char* value) {
  char* copy = NULL;
  if (value && value[0]) {
    copy = strdup(value);
    if (!copy) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "allocation failed");
  }
  pthread_mutex_lock(&ctx->lock);
  char* old = *slot;
  *slot = copy;
  pthread_mutex_unlock(&ctx->lock);
  free(old);
  return DLG_OK;
}

static char* dup_string(dlg_context_t* ctx, char* const* slot) {
  pthread_mutex_lock(&ctx->lock);
  char* copy = *slot ? strdup(*slot) : NULL;
  pthread_mutex_unlock(&ctx->lock);
  return copy;
}

dlg_status_t dlg_context_set_cache_dir(dlg_context_t* ctx, const char* dir) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  return set_string(ctx, &ctx->cache_dir, dir);
}

dlg_status_t dlg_context_set_jit_options(dlg_context_t* ctx, const char* options) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  dlg_status_t s = set_string(ctx, &ctx->jit_options, options);
  /* Cached GEMM plans hold kernels built with the old options: make them miss. */
  __atomic_add_fetch(&ctx->jit_options_gen, 1, __ATOMIC_RELEASE);
  return s;
}

char* dlg_context_jit_options_dup(dlg_context_t* ctx) { return dup_string(ctx, &ctx->jit_options); }

char* dlg_context_cache_dir_dup(dlg_context_t* ctx) {
  char* dir = dup_string(ctx, &ctx->cache_dir);
  if (dir) return dir;
  const char* env = getenv("DLG_JIT_CACHE_DIR");
  if (env && env[0]) return strdup(env);
  const char* xdg = getenv("XDG_CACHE_HOME");
  const char* home = getenv("HOME");
  const char* base = (xdg && xdg[0]) ? xdg : NULL;
  size_t n = (base ? strlen(base) : (home ? strlen(home) : 4)) + 32;
  char* buf = malloc(n);
  if (!buf) return NULL;
  if (base) snprintf(buf, n, "%s/dlgemm", base);
  else snprintf(buf, n, "%s/.cache/dlgemm", home ? home : "/tmp");
  return buf;
}

dlg_status_t dlg_context_get_cache_dir(const dlg_context_t* cctx, char* buf, size_t cap) {
  if (!cctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (!buf || cap == 0) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "buf: must not be NULL or empty");
  char* dir = dlg_context_cache_dir_dup((dlg_context_t*)cctx);
  if (!dir) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "allocation failed");
  snprintf(buf, cap, "%s", dir);
  free(dir);
  return DLG_OK;
}
