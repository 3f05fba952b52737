/* The GPU side as the ops see it. Implemented in core/jit (driver access) and core/launch
 * (one launcher per kernel). Every function returns DLG_ERR_NO_DRIVER with a clear message
 * when libcuda cannot be opened or there is no device. */
#ifndef DLG_CORE_GPU_H_
#define DLG_CORE_GPU_H_

#include "internal.h"

/* Opens the driver (once per process), checks that the tensor's device is the context's
 * device, and makes the context's primary CUDA context current on this thread. Every GPU
 * path of an op calls this first. */
dlg_status_t dlg_gpu_enter(dlg_context_t* ctx, const DLTensor* any);

dlg_status_t dlg_gpu_alloc(dlg_context_t* ctx, size_t bytes, void** out);
dlg_status_t dlg_gpu_free(dlg_context_t* ctx, void* ptr);
/* cuMemcpy with unified addressing: host<->device in either direction. Synchronous. */
dlg_status_t dlg_gpu_memcpy(dlg_context_t* ctx, void* dst, const void* src, size_t bytes);
/* Asynchronous byte fill on `stream`. */
dlg_status_t dlg_gpu_memset(dlg_context_t* ctx, void* dst, int byte, size_t bytes, void* stream);
dlg_status_t dlg_gpu_sync(dlg_context_t* ctx, void* stream);
/* SM count the kernels may use: min(device SMs, ctx max_sms when set). */
dlg_status_t dlg_gpu_num_sms(dlg_context_t* ctx, int* out);
/* Compute capability of the context's device as 10*major+minor (90, 100, ...). */
dlg_status_t dlg_gpu_arch(dlg_context_t* ctx, int* out);

#endif /* DLG_CORE_GPU_H_ */
