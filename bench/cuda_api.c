/* libcuda through dlopen: the bench's own driver table. */
#include "cuda_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Stores the first symbol of `names` (NULL-terminated) found in `h` into the function
 * pointer at `slot`. A function pointer is copied through memcpy: dlsym returns void*. */
static int load_symbol(void* h, void* slot, const char* const* names) {
  for (; *names; ++names) {
    void* p = dlsym(h, *names);
    if (p) {
      memcpy(slot, &p, sizeof p);
      return 1;
    }
  }
  return 0;
}

#define NAMES(...) ((const char* const[]){__VA_ARGS__, NULL})

int bench_cuda_open(bench_cuda_t* cu, int ordinal, char* why, size_t cap) {
  memset(cu, 0, sizeof *cu);
  cu->handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!cu->handle) {
    snprintf(why, cap, "libcuda.so.1 not found (%s): no NVIDIA driver here", dlerror());
    return -1;
  }
  /* Versioned names first: the unversioned ones are the legacy ABI of the same calls. */
  struct {
    void* slot;
    const char* const* names;
  } table[] = {
      {&cu->init, NAMES("cuInit")},
      {&cu->driver_get_version, NAMES("cuDriverGetVersion")},
      {&cu->device_get, NAMES("cuDeviceGet")},
      {&cu->primary_ctx_retain, NAMES("cuDevicePrimaryCtxRetain")},
      {&cu->primary_ctx_release, NAMES("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease")},
      {&cu->ctx_set_current, NAMES("cuCtxSetCurrent")},
      {&cu->ctx_synchronize, NAMES("cuCtxSynchronize")},
      {&cu->mem_alloc, NAMES("cuMemAlloc_v2")},
      {&cu->mem_free, NAMES("cuMemFree_v2")},
      {&cu->memset_d8, NAMES("cuMemsetD8_v2")},
      {&cu->memset_d8_async, NAMES("cuMemsetD8Async")},
      {&cu->memcpy_htod, NAMES("cuMemcpyHtoD_v2")},
      {&cu->memcpy_dtoh, NAMES("cuMemcpyDtoH_v2")},
      {&cu->memcpy_dtod_async, NAMES("cuMemcpyDtoDAsync_v2")},
      {&cu->stream_create, NAMES("cuStreamCreate")},
      {&cu->stream_destroy, NAMES("cuStreamDestroy_v2", "cuStreamDestroy")},
      {&cu->stream_synchronize, NAMES("cuStreamSynchronize")},
      {&cu->event_create, NAMES("cuEventCreate")},
      {&cu->event_destroy, NAMES("cuEventDestroy_v2", "cuEventDestroy")},
      {&cu->event_record, NAMES("cuEventRecord")},
      {&cu->event_synchronize, NAMES("cuEventSynchronize")},
      {&cu->event_elapsed_time, NAMES("cuEventElapsedTime_v2", "cuEventElapsedTime")},
      {&cu->get_error_string, NAMES("cuGetErrorString")},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
    if (!load_symbol(cu->handle, table[i].slot, table[i].names)) {
      snprintf(why, cap, "libcuda.so.1 lacks %s (driver too old?)", table[i].names[0]);
      return -1;
    }
  }
  CUresult r = cu->init(0);
  if (r != CUDA_SUCCESS) {
    snprintf(why, cap, "cuInit: %s (no usable GPU?)", bench_cu_error(cu, r));
    return -1;
  }
  cu->driver_get_version(&cu->driver_version);
  if ((r = cu->device_get(&cu->device, ordinal)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuDeviceGet(%d): %s", ordinal, bench_cu_error(cu, r));
    return -1;
  }
  if ((r = cu->primary_ctx_retain(&cu->ctx, cu->device)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuDevicePrimaryCtxRetain: %s", bench_cu_error(cu, r));
    return -1;
  }
  if ((r = cu->ctx_set_current(cu->ctx)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuCtxSetCurrent: %s", bench_cu_error(cu, r));
    cu->primary_ctx_release(cu->device);
    cu->ctx = NULL;
    return -1;
  }
  return 0;
}

void bench_cuda_close(bench_cuda_t* cu) {
  if (cu->ctx) cu->primary_ctx_release(cu->device);
  cu->ctx = NULL;
}

const char* bench_cu_error(const bench_cuda_t* cu, CUresult r) {
  static _Thread_local char buf[64];
  const char* s = NULL;
  if (cu->get_error_string && cu->get_error_string(r, &s) == CUDA_SUCCESS && s) return s;
  snprintf(buf, sizeof buf, "CUresult %d", (int)r);
  return buf;
}

int bench_dev_upload(bench_cuda_t* cu, bench_dev_buf_t* buf, const void* src, size_t bytes,
                     char* why, size_t cap) {
  buf->ptr = 0;
  buf->bytes = 0;
  if (bytes == 0) return 0;
  CUresult r = cu->mem_alloc(&buf->ptr, bytes);
  if (r != CUDA_SUCCESS) {
    snprintf(why, cap, "cuMemAlloc(%zu bytes): %s", bytes, bench_cu_error(cu, r));
    buf->ptr = 0;
    return -1;
  }
  buf->bytes = bytes;
  if (src && (r = cu->memcpy_htod(buf->ptr, src, bytes)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuMemcpyHtoD(%zu bytes): %s", bytes, bench_cu_error(cu, r));
    bench_dev_free(cu, buf);
    return -1;
  }
  return 0;
}

void bench_dev_free(bench_cuda_t* cu, bench_dev_buf_t* buf) {
  if (buf->ptr) cu->mem_free(buf->ptr);
  buf->ptr = 0;
  buf->bytes = 0;
}
