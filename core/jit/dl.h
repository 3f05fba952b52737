/* The CUDA driver and NVRTC, opened with dlopen at first use (the library itself links only
 * libc, pthread, dl and m, so it loads on machines without CUDA). Each table is filled once
 * per process; the function pointers have the types cuda.h / nvrtc.h declare, under the
 * exact versioned symbol names those headers map to (cuMemAlloc -> "cuMemAlloc_v2").
 * Internal to the core; launchers use it for the few driver calls they make themselves
 * (e.g. cuTensorMapEncodeTiled). */
#ifndef DLG_JIT_DL_H_
#define DLG_JIT_DL_H_

#include <cuda.h>
#include <nvrtc.h>
#include "internal.h"

/* X(field, declared name, required). The declared name goes through cuda.h's macros, so
 * both the pointer type and the dlsym name are those of the versioned entry point. Optional
 * entries are NULL when the driver lacks them. */
#define DLG_CUDA_FUNCS(X)                                       \
  X(init, cuInit, 1)                                            \
  X(driver_get_version, cuDriverGetVersion, 1)                  \
  X(get_error_name, cuGetErrorName, 1)                          \
  X(get_error_string, cuGetErrorString, 1)                      \
  X(device_get_count, cuDeviceGetCount, 1)                      \
  X(device_get, cuDeviceGet, 1)                                 \
  X(device_get_name, cuDeviceGetName, 1)                        \
  X(device_get_attribute, cuDeviceGetAttribute, 1)              \
  X(device_total_mem, cuDeviceTotalMem, 1)                      \
  X(primary_ctx_retain, cuDevicePrimaryCtxRetain, 1)            \
  X(primary_ctx_release, cuDevicePrimaryCtxRelease, 1)          \
  X(ctx_set_current, cuCtxSetCurrent, 1)                        \
  X(ctx_get_current, cuCtxGetCurrent, 1)                        \
  X(ctx_synchronize, cuCtxSynchronize, 1)                       \
  X(mem_alloc, cuMemAlloc, 1)                                   \
  X(mem_free, cuMemFree, 1)                                     \
  X(mem_get_info, cuMemGetInfo, 1)                              \
  X(mem_copy, cuMemcpy, 1)                                      \
  X(mem_copy_async, cuMemcpyAsync, 1)                           \
  X(memset_d8_async, cuMemsetD8Async, 1)                        \
  X(memset_d32_async, cuMemsetD32Async, 1)                      \
  X(mem_alloc_async, cuMemAllocAsync, 0)                        \
  X(mem_free_async, cuMemFreeAsync, 0)                          \
  X(stream_synchronize, cuStreamSynchronize, 1)                 \
  X(module_load_data, cuModuleLoadData, 1)                      \
  X(module_unload, cuModuleUnload, 1)                           \
  X(module_get_function, cuModuleGetFunction, 1)                \
  X(func_get_attribute, cuFuncGetAttribute, 1)                  \
  X(func_set_attribute, cuFuncSetAttribute, 1)                  \
  X(launch_kernel_ex, cuLaunchKernelEx, 1)                      \
  X(pointer_get_attribute, cuPointerGetAttribute, 1)            \
  X(tensor_map_encode_tiled, cuTensorMapEncodeTiled, 0)         \
  X(occupancy_max_active_clusters, cuOccupancyMaxActiveClusters, 0) \
  X(stream_create, cuStreamCreate, 0)                           \
  X(stream_destroy, cuStreamDestroy, 0)                         \
  X(event_create, cuEventCreate, 0)                             \
  X(event_record, cuEventRecord, 0)                             \
  X(event_synchronize, cuEventSynchronize, 0)                   \
  X(event_elapsed_time, cuEventElapsedTime, 0)                  \
  X(event_destroy, cuEventDestroy, 0)

#define DLG_NVRTC_FUNCS(X)                                      \
  X(version, nvrtcVersion, 1)                                   \
  X(get_error_string, nvrtcGetErrorString, 1)                   \
  X(create_program, nvrtcCreateProgram, 1)                      \
  X(destroy_program, nvrtcDestroyProgram, 1)                    \
  X(compile_program, nvrtcCompileProgram, 1)                    \
  X(get_program_log_size, nvrtcGetProgramLogSize, 1)            \
  X(get_program_log, nvrtcGetProgramLog, 1)                     \
  X(get_ptx_size, nvrtcGetPTXSize, 1)                           \
  X(get_ptx, nvrtcGetPTX, 1)                                    \
  X(get_cubin_size, nvrtcGetCUBINSize, 1)                       \
  X(get_cubin, nvrtcGetCUBIN, 1)                                \
  X(add_name_expression, nvrtcAddNameExpression, 1)             \
  X(get_lowered_name, nvrtcGetLoweredName, 1)

#define DLG_DL_FIELD_(field, decl, required) __typeof__(&decl) field;
typedef struct dlg_cuda_api {
  DLG_CUDA_FUNCS(DLG_DL_FIELD_)
  int driver_version; /* cuDriverGetVersion, e.g. 13000 */
  char path[256];     /* the file actually loaded */
} dlg_cuda_api_t;

typedef struct dlg_nvrtc_api {
  DLG_NVRTC_FUNCS(DLG_DL_FIELD_)
  int major, minor;
  char path[256];
} dlg_nvrtc_api_t;
#undef DLG_DL_FIELD_

/* Opens libcuda and runs cuInit(0), once per process. On failure returns DLG_ERR_NO_DRIVER
 * (the same message on every call) and *out is NULL. */
dlg_status_t dlg_cuda_open(const dlg_cuda_api_t** out);
/* Opens libnvrtc (and preloads its builtins library from the same directory), once. On
 * failure returns DLG_ERR_NO_NVRTC. */
dlg_status_t dlg_nvrtc_open(const dlg_nvrtc_api_t** out);

/* Records "<what>: CUDA_ERROR_X (description)" and returns the matching status
 * (DLG_ERR_OUT_OF_MEMORY for allocation failures, DLG_ERR_CUDA otherwise). */
dlg_status_t dlg_cu_fail(CUresult r, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* DLG_JIT_DL_H_ */
