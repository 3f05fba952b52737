/* The CUDA driver as the bench sees it: libcuda.so.1 opened with dlopen (no cudart, no link
 * dependency, so the bench builds and prints --help on machines without CUDA). The library
 * keeps its own driver table private; this is the bench's own, on the same primary context. */
#ifndef DLG_BENCH_CUDA_API_H_
#define DLG_BENCH_CUDA_API_H_

#include <stddef.h>
#include <cuda.h> /* types and enums only; every call goes through the table below */

typedef struct bench_cuda {
  void* handle;
  CUdevice device;
  CUcontext ctx; /* the device's primary context: the one dlgemm uses too */
  int driver_version;
  CUresult (*init)(unsigned int flags);
  CUresult (*driver_get_version)(int* version);
  CUresult (*device_get)(CUdevice* dev, int ordinal);
  CUresult (*primary_ctx_retain)(CUcontext* ctx, CUdevice dev);
  CUresult (*primary_ctx_release)(CUdevice dev);
  CUresult (*ctx_set_current)(CUcontext ctx);
  CUresult (*ctx_synchronize)(void);
  CUresult (*mem_alloc)(CUdeviceptr* ptr, size_t bytes);
  CUresult (*mem_free)(CUdeviceptr ptr);
  CUresult (*memset_d8)(CUdeviceptr dst, unsigned char value, size_t count);
  CUresult (*memset_d8_async)(CUdeviceptr dst, unsigned char value, size_t count, CUstream s);
  CUresult (*memcpy_htod)(CUdeviceptr dst, const void* src, size_t bytes);
  CUresult (*memcpy_dtoh)(void* dst, CUdeviceptr src, size_t bytes);
  CUresult (*memcpy_dtod_async)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);
  CUresult (*stream_create)(CUstream* s, unsigned int flags);
  CUresult (*stream_destroy)(CUstream s);
  CUresult (*stream_synchronize)(CUstream s);
  CUresult (*event_create)(CUevent* e, unsigned int flags);
  CUresult (*event_destroy)(CUevent e);
  CUresult (*event_record)(CUevent e, CUstream s);
  CUresult (*event_synchronize)(CUevent e);
  CUresult (*event_elapsed_time)(float* ms, CUevent start, CUevent end);
  CUresult (*get_error_string)(CUresult r, const char** str);
} bench_cuda_t;

/* Opens libcuda, initialises it, retains device `ordinal`'s primary context and makes it
 * current. Returns 0, or -1 with the reason in `why`. */
int bench_cuda_open(bench_cuda_t* cu, int ordinal, char* why, size_t cap);
/* Releases the primary context (the handle stays open: the library may still use it). */
void bench_cuda_close(bench_cuda_t* cu);
/* "CUDA_ERROR_OUT_OF_MEMORY"-style text for a result code. */
const char* bench_cu_error(const bench_cuda_t* cu, CUresult r);

/* A device buffer; bytes == 0 means none. */
typedef struct bench_dev_buf {
  CUdeviceptr ptr;
  size_t bytes;
} bench_dev_buf_t;
/* Allocates and uploads `bytes` from host `src` (src NULL: allocate only). 0 / -1 + why. */
int bench_dev_upload(bench_cuda_t* cu, bench_dev_buf_t* buf, const void* src, size_t bytes,
                     char* why, size_t cap);
void bench_dev_free(bench_cuda_t* cu, bench_dev_buf_t* buf);

#endif /* DLG_BENCH_CUDA_API_H_ */
