/* The device side of a context: primary CUDA context, device facts, memory helpers
 * (core/gpu.h), dlg_runtime_info and dlg_context_device_info.
 *
 * Each context works in its device's PRIMARY context (the one the CUDA runtime, PyTorch
 * and JAX use), retained once per dlgemm context and made current on the calling thread by
 * every GPU entry point, so device pointers from those frameworks are valid here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "jit/jit_internal.h"

/* ---- state ---- */

static int is_cuda_device(int type) { return type == kDLCUDA || type == kDLCUDAManaged; }

/* The context's state, created on first use under ctx->lock. The device must exist. */
static dlg_status_t state_get(dlg_context_t* ctx, const dlg_cuda_api_t* api,
                              struct dlg_jit_state** out) {
  struct dlg_jit_state* st = __atomic_load_n(&ctx->jit, __ATOMIC_ACQUIRE);
  if (st) {
    *out = st;
    return DLG_OK;
  }
  dlg_status_t status = DLG_OK;
  pthread_mutex_lock(&ctx->lock);
  st = ctx->jit;
  if (!st) {
    int count = 0;
    CUdevice dev = 0;
    CUresult r = api->device_get_count(&count);
    if (r != CUDA_SUCCESS) {
      status = dlg_cu_fail(r, "cuDeviceGetCount");
      if (status == DLG_ERR_CUDA) status = DLG_ERR_NO_DRIVER;
    } else if (count == 0) {
      status = dlg_fail(DLG_ERR_NO_DRIVER, "CUDA: no CUDA device is visible (driver %s)",
                        api->path);
    } else if (ctx->device >= count) {
      status = dlg_fail(DLG_ERR_NO_DRIVER,
                        "ctx: CUDA device %d does not exist (%d visible device%s)", ctx->device,
                        count, count == 1 ? "" : "s");
    } else if ((r = api->device_get(&dev, ctx->device)) != CUDA_SUCCESS) {
      status = dlg_cu_fail(r, "cuDeviceGet(%d)", ctx->device);
    } else if (!(st = calloc(1, sizeof *st))) {
      status = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "jit state: allocation failed");
    } else {
      pthread_mutex_init(&st->lock, NULL);
      st->device = dev;
      __atomic_store_n(&ctx->jit, st, __ATOMIC_RELEASE);
    }
  }
  pthread_mutex_unlock(&ctx->lock);
  *out = st;
  return status;
}

/* Device-side checks that need no driver: a CPU context cannot take GPU work. */
static dlg_status_t check_devices(dlg_context_t* ctx, const DLTensor* any) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (any && is_cuda_device(any->device.device_type)) {
    if (ctx->device < 0)
      return dlg_fail(DLG_ERR_DEVICE,
                      "ctx: CPU-only context (device -1) given a tensor on cuda:%d; create the "
                      "context with dlg_context_create(%d, ...)",
                      any->device.device_id, any->device.device_id);
    if (any->device.device_id != ctx->device)
      return dlg_fail(DLG_ERR_DEVICE, "tensor on cuda:%d, but the context is for cuda:%d",
                      any->device.device_id, ctx->device);
  }
  if (ctx->device < 0)
    return dlg_fail(DLG_ERR_DEVICE, "ctx: CPU-only context (device -1) cannot run GPU work");
  return DLG_OK;
}

dlg_status_t dlg_jit_enter(dlg_context_t* ctx, const dlg_cuda_api_t** api_out,
                           struct dlg_jit_state** st_out) {
  dlg_status_t s = check_devices(ctx, NULL);
  if (s != DLG_OK) return s;
  const dlg_cuda_api_t* api = NULL;
  struct dlg_jit_state* st;
  if ((s = dlg_cuda_open(&api)) != DLG_OK) return s;
  if ((s = state_get(ctx, api, &st)) != DLG_OK) return s;
  if (!__atomic_load_n(&st->retained, __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&st->lock);
    if (!st->retained) {
      CUresult r = api->primary_ctx_retain(&st->primary, st->device);
      if (r != CUDA_SUCCESS) {
        pthread_mutex_unlock(&st->lock);
        return dlg_cu_fail(r, "cuDevicePrimaryCtxRetain(device %d)", ctx->device);
      }
      __atomic_store_n(&st->retained, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&st->lock);
  }
  CUresult r = api->ctx_set_current(st->primary);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuCtxSetCurrent(primary context of device %d)", ctx->device);
  if (api_out) *api_out = api;
  if (st_out) *st_out = st;
  return DLG_OK;
}

void dlg_jit_state_destroy(struct dlg_jit_state* st) {
  if (!st) return;
  const dlg_cuda_api_t* api = NULL;
  if (dlg_cuda_open(&api) == DLG_OK && st->retained) {
    /* Modules belong to the primary context: unload them with it current, then give the
     * thread its previous context back. Errors are ignored (the context may be gone). */
    CUcontext prev = NULL;
    api->ctx_get_current(&prev);
    api->ctx_set_current(st->primary);
    for (int b = 0; b < DLG_JIT_BUCKETS; ++b)
      for (dlg_loaded_kernel_t* k = st->buckets[b]; k; k = k->next)
        if (k->module) api->module_unload(k->module);
    api->ctx_set_current(prev == st->primary ? NULL : prev);
    api->primary_ctx_release(st->device);
  }
  for (int b = 0; b < DLG_JIT_BUCKETS; ++b) {
    dlg_loaded_kernel_t* k = st->buckets[b];
    while (k) {
      dlg_loaded_kernel_t* next = k->next;
      free(k->source);
      free(k->name);
      free(k->options);
      free(k);
      k = next;
    }
  }
  pthread_mutex_destroy(&st->lock);
  free(st);
}

/* ---- core/gpu.h ---- */

dlg_status_t dlg_gpu_enter(dlg_context_t* ctx, const DLTensor* any) {
  dlg_status_t s = check_devices(ctx, any);
  if (s != DLG_OK) return s;
  return dlg_jit_enter(ctx, NULL, NULL);
}

dlg_status_t dlg_gpu_alloc(dlg_context_t* ctx, size_t bytes, void** out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  *out = NULL;
  const dlg_cuda_api_t* api = NULL;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;
  if (bytes == 0) return DLG_OK;
  CUdeviceptr p = 0;
  CUresult r = api->mem_alloc(&p, bytes);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuMemAlloc(%zu bytes) on cuda:%d", bytes, ctx->device);
  *out = (void*)(uintptr_t)p;
  return DLG_OK;
}

dlg_status_t dlg_gpu_free(dlg_context_t* ctx, void* ptr) {
  if (!ptr) return DLG_OK;
  const dlg_cuda_api_t* api = NULL;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;
  CUresult r = api->mem_free((CUdeviceptr)(uintptr_t)ptr);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuMemFree(%p)", ptr);
  return DLG_OK;
}

dlg_status_t dlg_gpu_memcpy(dlg_context_t* ctx, void* dst, const void* src, size_t bytes) {
  const dlg_cuda_api_t* api = NULL;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;
  if (bytes == 0) return DLG_OK;
  if (!dst || !src) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "memcpy: NULL pointer with %zu bytes", bytes);
  /* cuMemcpy may return before a pageable upload or a device-to-device copy has landed;
   * copying on the legacy stream and waiting for it makes the copy fully synchronous. */
  CUresult r = api->mem_copy_async((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src,
                                   bytes, NULL);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuMemcpyAsync(%zu bytes)", bytes);
  r = api->stream_synchronize(NULL);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuStreamSynchronize after a %zu-byte copy", bytes);
  return DLG_OK;
}

dlg_status_t dlg_gpu_memset(dlg_context_t* ctx, void* dst, int byte, size_t bytes, void* stream) {
  const dlg_cuda_api_t* api = NULL;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;
  if (bytes == 0) return DLG_OK;
  CUresult r = api->memset_d8_async((CUdeviceptr)(uintptr_t)dst, (unsigned char)byte, bytes,
                                    (CUstream)stream);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuMemsetD8Async(%zu bytes)", bytes);
  return DLG_OK;
}

dlg_status_t dlg_gpu_sync(dlg_context_t* ctx, void* stream) {
  const dlg_cuda_api_t* api = NULL;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;
  CUresult r = api->stream_synchronize((CUstream)stream);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuStreamSynchronize");
  return DLG_OK;
}

/* ---- device facts ---- */

static dlg_status_t read_info(const dlg_cuda_api_t* api, CUdevice dev, int ordinal,
                              dlg_device_info_t* out) {
  memset(out, 0, sizeof *out);
  out->ordinal = ordinal;
  struct {
    CUdevice_attribute attr;
    int* dst;
    const char* name;
  } attrs[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &out->sm_major, "compute capability major"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &out->sm_minor, "compute capability minor"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &out->num_sms, "SM count"},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; ++i) {
    CUresult r = api->device_get_attribute(attrs[i].dst, attrs[i].attr, dev);
    if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuDeviceGetAttribute(%s)", attrs[i].name);
  }
  int l2 = 0, smem = 0;
  CUresult r = api->device_get_attribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuDeviceGetAttribute(L2 size)");
  r = api->device_get_attribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuDeviceGetAttribute(opt-in shared memory)");
  out->l2_bytes = (size_t)l2;
  out->max_smem_per_block = (size_t)smem;
  r = api->device_total_mem(&out->total_memory, dev);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuDeviceTotalMem");
  r = api->device_get_name(out->name, (int)sizeof out->name, dev);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuDeviceGetName");
  out->name[sizeof out->name - 1] = '\0';
  return DLG_OK;
}

/* Facts of the context's device, read once (no CUDA context needed). */
static dlg_status_t device_info(dlg_context_t* ctx, dlg_device_info_t* out) {
  dlg_status_t s = check_devices(ctx, NULL);
  if (s != DLG_OK) return s;
  const dlg_cuda_api_t* api = NULL;
  struct dlg_jit_state* st;
  if ((s = dlg_cuda_open(&api)) != DLG_OK) return s;
  if ((s = state_get(ctx, api, &st)) != DLG_OK) return s;
  pthread_mutex_lock(&st->lock);
  if (!st->have_info) {
    s = read_info(api, st->device, ctx->device, &st->info);
    if (s == DLG_OK) __atomic_store_n(&st->have_info, 1, __ATOMIC_RELEASE);
  }
  if (s == DLG_OK) *out = st->info;
  pthread_mutex_unlock(&st->lock);
  return s;
}

/* The device facts once read, without the lock or a copy (they never change afterwards):
 * arch and SM count are asked on every GEMM call. NULL until device_info succeeded once. */
static const dlg_device_info_t* cached_info(dlg_context_t* ctx) {
  if (!ctx || ctx->device < 0) return NULL;
  struct dlg_jit_state* st = __atomic_load_n(&ctx->jit, __ATOMIC_ACQUIRE);
  return st && __atomic_load_n(&st->have_info, __ATOMIC_ACQUIRE) ? &st->info : NULL;
}

dlg_status_t dlg_context_device_info(dlg_context_t* ctx, dlg_device_info_t* out) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  memset(out, 0, sizeof *out);
  out->ordinal = ctx->device;
  return device_info(ctx, out);
}

dlg_status_t dlg_gpu_num_sms(dlg_context_t* ctx, int* out) {
  const dlg_device_info_t* fast = cached_info(ctx);
  if (fast) {
    int limit = dlg_context_get_max_sms(ctx);
    *out = (limit > 0 && limit < fast->num_sms) ? limit : fast->num_sms;
    return DLG_OK;
  }
  dlg_device_info_t info;
  dlg_status_t s = device_info(ctx, &info);
  if (s != DLG_OK) return s;
  int limit = dlg_context_get_max_sms(ctx);
  *out = (limit > 0 && limit < info.num_sms) ? limit : info.num_sms;
  return DLG_OK;
}

dlg_status_t dlg_gpu_arch(dlg_context_t* ctx, int* out) {
  const dlg_device_info_t* fast = cached_info(ctx);
  if (fast) {
    *out = fast->sm_major * 10 + fast->sm_minor;
    return DLG_OK;
  }
  dlg_device_info_t info;
  dlg_status_t s = device_info(ctx, &info);
  if (s != DLG_OK) return s;
  *out = info.sm_major * 10 + info.sm_minor;
  return DLG_OK;
}

/* ---- dlg_runtime_info ---- */

static void append_why(dlg_runtime_info_t* out, const char* msg) {
  size_t n = strlen(out->why);
  snprintf(out->why + n, sizeof out->why - n, "%s%s", n ? "; " : "", msg);
}

void dlg_runtime_info(dlg_runtime_info_t* out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  /* Keep the caller's last error: this is a diagnostic, not a failing call. */
  char saved[1024];
  snprintf(saved, sizeof saved, "%s", dlg_last_error());
  const dlg_cuda_api_t* api = NULL;
  if (dlg_cuda_open(&api) == DLG_OK) {
    out->driver_found = 1;
    out->driver_version = api->driver_version;
    snprintf(out->driver_path, sizeof out->driver_path, "%s", api->path);
    int count = 0;
    CUresult r = api->device_get_count(&count);
    if (r == CUDA_SUCCESS) out->device_count = count;
    else append_why(out, "CUDA driver: cuDeviceGetCount failed");
    if (r == CUDA_SUCCESS && count == 0) append_why(out, "CUDA driver: no CUDA device is visible");
  } else {
    append_why(out, dlg_last_error());
  }
  const dlg_nvrtc_api_t* nv;
  if (dlg_nvrtc_open(&nv) == DLG_OK) {
    out->nvrtc_found = 1;
    out->nvrtc_major = nv->major;
    out->nvrtc_minor = nv->minor;
    snprintf(out->nvrtc_path, sizeof out->nvrtc_path, "%s", nv->path);
  } else {
    append_why(out, dlg_last_error());
  }
  dlg_clear_error();
  if (saved[0]) dlg_fail(DLG_OK, "%s", saved);
}
