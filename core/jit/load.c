/* dlg_jit_get: in-memory map (per context) -> disk cache -> NVRTC, then load into the
 * context's primary CUDA context.
 *
 * The in-memory map is keyed by what the launcher passes (source text, name, arch) plus the
 * context's extra NVRTC options: the embedded headers cannot change while the process runs,
 * so this is equivalent to the full disk key and costs one short hash per launch instead of
 * hashing every included header. Lookups take the state's mutex briefly; compilation and
 * loading run outside it (two threads missing the same kernel both build it, the first to
 * insert wins and the other unloads its copy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jit/jit_internal.h"

static uint64_t memory_hash(const char* source, const char* name, int arch, const char* options) {
  uint64_t h = dlg_fnv1a64(DLG_FNV64_INIT, source, strlen(source) + 1);
  h = dlg_fnv1a64(h, name, strlen(name) + 1);
  h = dlg_fnv1a64(h, &arch, sizeof arch);
  return dlg_fnv1a64(h, options, strlen(options) + 1);
}

static dlg_loaded_kernel_t* find(struct dlg_jit_state* st, uint64_t h, const char* source,
                                 const char* name, int arch, const char* options) {
  for (dlg_loaded_kernel_t* k = st->buckets[h % DLG_JIT_BUCKETS]; k; k = k->next)
    if (k->hash == h && k->arch == arch && strcmp(k->name, name) == 0 &&
        strcmp(k->options, options) == 0 && strcmp(k->source, source) == 0)
      return k;
  return NULL;
}

/* Raises the kernel's dynamic shared memory limit when the spec needs more than the
 * default 48 KiB. Called with st->lock held. */
static dlg_status_t ensure_smem(const dlg_cuda_api_t* api, dlg_loaded_kernel_t* k, size_t smem) {
  if (smem <= k->kernel.smem_bytes) return DLG_OK;
  if (smem > 48 * 1024) {
    if (smem > (size_t)0x7fffffff)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "spec: dynamic_smem %zu bytes is too large", smem);
    CUresult r = api->func_set_attribute((CUfunction)k->kernel.function,
                                         CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem);
    if (r != CUDA_SUCCESS)
      return dlg_cu_fail(r, "cuFuncSetAttribute(%s, max dynamic shared memory = %zu bytes)",
                         k->name, smem);
  }
  k->kernel.smem_bytes = smem;
  return DLG_OK;
}

/* Loads a cubin into the current (primary) context. */
static dlg_status_t load_module(const dlg_cuda_api_t* api, const dlg_cubin_t* cb,
                                const dlg_kernel_spec_t* spec, dlg_loaded_kernel_t* k) {
  CUresult r = api->module_load_data(&k->module, cb->data);
  if (r != CUDA_SUCCESS) {
    dlg_status_t s = dlg_cu_fail(r, "cuModuleLoadData(%s, sm_%d cubin of %zu bytes)", spec->name,
                                 spec->arch, cb->size);
    if (api->driver_version < 13000) {
      char note[160];
      snprintf(note, sizeof note, "driver %d.%d may be too old for NVRTC 13 cubins (need r580+)",
               api->driver_version / 1000, api->driver_version % 1000 / 10);
      dlg_error_prefix(note);
    }
    k->module = NULL;
    return s;
  }
  CUfunction fn = NULL;
  if ((r = api->module_get_function(&fn, k->module, cb->lowered_name)) != CUDA_SUCCESS) {
    dlg_status_t s = dlg_cu_fail(r, "cuModuleGetFunction(%s as %s)", spec->name, cb->lowered_name);
    api->module_unload(k->module);
    k->module = NULL;
    return s;
  }
  k->kernel.function = fn;
  int regs = 0, local = 0;
  api->func_get_attribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, fn);
  api->func_get_attribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, fn);
  k->kernel.num_regs = regs;
  k->kernel.local_bytes = local;
  k->kernel.smem_bytes = 0;
  if (dlg_jit_debug() && local > 0)
    dlg_jit_log("warning: %s uses %d bytes of local memory (spills or stack)", spec->name, local);
  return DLG_OK;
}

static void free_entry(dlg_loaded_kernel_t* k) {
  if (!k) return;
  free(k->source);
  free(k->name);
  free(k->options);
  free(k);
}

dlg_status_t dlg_jit_get(dlg_context_t* ctx, const dlg_kernel_spec_t* spec, dlg_kernel_t* out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  memset(out, 0, sizeof *out);
  if (!spec || !spec->source || !spec->name || !spec->name[0])
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "spec: source and name must be set");
  const dlg_cuda_api_t* api;
  struct dlg_jit_state* st;
  dlg_status_t s = dlg_jit_enter(ctx, &api, &st);
  if (s != DLG_OK) return s;
  char* options = dlg_context_jit_options_dup(ctx);
  const char* opt = options ? options : "";
  uint64_t h = memory_hash(spec->source, spec->name, spec->arch, opt);

  pthread_mutex_lock(&st->lock);
  dlg_loaded_kernel_t* hit = find(st, h, spec->source, spec->name, spec->arch, opt);
  if (hit) {
    s = ensure_smem(api, hit, spec->dynamic_smem);
    if (s == DLG_OK) *out = hit->kernel;
    pthread_mutex_unlock(&st->lock);
    free(options);
    return s;
  }
  pthread_mutex_unlock(&st->lock);

  /* Miss: disk cache or NVRTC, then load. */
  char* cache_dir = dlg_context_cache_dir_dup(ctx);
  dlg_cubin_t cb;
  s = dlg_jit_cache_get_cubin(cache_dir, spec, opt, &cb);
  free(cache_dir);
  dlg_loaded_kernel_t* k = NULL;
  if (s == DLG_OK) {
    k = calloc(1, sizeof *k);
    if (k) {
      k->source = strdup(spec->source);
      k->name = strdup(spec->name);
      k->options = strdup(opt);
    }
    if (!k || !k->source || !k->name || !k->options)
      s = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "jit: allocation failed");
  }
  if (s == DLG_OK) {
    k->hash = h;
    k->arch = spec->arch;
    s = load_module(api, &cb, spec, k);
  }
  dlg_cubin_free(&cb);
  free(options);
  if (s != DLG_OK) {
    free_entry(k);
    return s;
  }

  pthread_mutex_lock(&st->lock);
  hit = find(st, h, k->source, k->name, k->arch, k->options);
  if (hit) {
    /* Another thread loaded it meanwhile: keep theirs. */
    api->module_unload(k->module);
    free_entry(k);
    k = hit;
  } else {
    k->next = st->buckets[h % DLG_JIT_BUCKETS];
    st->buckets[h % DLG_JIT_BUCKETS] = k;
  }
  s = ensure_smem(api, k, spec->dynamic_smem);
  if (s == DLG_OK) *out = k->kernel;
  pthread_mutex_unlock(&st->lock);
  if (s == DLG_OK && dlg_jit_debug())
    dlg_jit_log("loaded %s (sm_%d): %d registers, %d bytes local memory, %zu bytes dynamic smem",
                spec->name, spec->arch, out->num_regs, out->local_bytes, out->smem_bytes);
  return s;
}
