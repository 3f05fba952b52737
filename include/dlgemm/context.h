/* dlgemm — the context: device, JIT cache and run-time knobs. */
#ifndef DLGEMM_CONTEXT_H_
#define DLGEMM_CONTEXT_H_

#include <stddef.h>
#include "dlgemm/export.h"
#include "dlgemm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque. One context may be shared by any number of threads: every function taking a
 * context is thread-safe (knob setters included; a knob change applies to calls that start
 * after it). A context holds the compiled-kernel cache of its device; create one per device
 * and keep it for the life of the process. */
typedef struct dlg_context dlg_context_t;

/* Creates a context for CUDA device `device_ordinal` (>= 0), or a CPU-only context when
 * `device_ordinal` is -1. No CUDA call is made here: the driver and NVRTC are opened on the
 * first GPU call, so a context can be created on a machine without a GPU. */
DLG_API dlg_status_t dlg_context_create(int device_ordinal, dlg_context_t** out);
/* Frees the context. NULL is a no-op. No call may be using it. */
DLG_API void dlg_context_destroy(dlg_context_t* ctx);

DLG_API int dlg_context_device(const dlg_context_t* ctx);

/* Number of SMs kernels may use; 0 = all of the device (default). Honoured by every
 * persistent kernel's grid size. */
DLG_API dlg_status_t dlg_context_set_max_sms(dlg_context_t* ctx, int max_sms);
DLG_API int dlg_context_get_max_sms(const dlg_context_t* ctx);

/* Programmatic dependent launch (PDL) for the kernels launched through this context:
 * 1 on, 0 off (default off). */
DLG_API dlg_status_t dlg_context_set_pdl(dlg_context_t* ctx, int enable);
DLG_API int dlg_context_get_pdl(const dlg_context_t* ctx);

/* Disk cache directory for compiled kernels. NULL restores the default:
 * $DLG_JIT_CACHE_DIR, else $XDG_CACHE_HOME/dlgemm, else $HOME/.cache/dlgemm. */
DLG_API dlg_status_t dlg_context_set_cache_dir(dlg_context_t* ctx, const char* dir);
/* Writes the directory in use into buf (NUL-terminated, truncated to cap). */
DLG_API dlg_status_t dlg_context_get_cache_dir(const dlg_context_t* ctx, char* buf, size_t cap);

/* Extra NVRTC options appended to every compilation (space-separated, e.g. "-lineinfo").
 * They are part of the cache key. NULL or "" clears them. */
DLG_API dlg_status_t dlg_context_set_jit_options(dlg_context_t* ctx, const char* options);

/* Facts about the context's device, read lazily on first use (needs the driver). */
typedef struct dlg_device_info {
  int ordinal;
  int sm_major, sm_minor;  /* compute capability */
  int num_sms;
  size_t total_memory;
  size_t l2_bytes;
  size_t max_smem_per_block; /* opt-in maximum */
  char name[96];
} dlg_device_info_t;
DLG_API dlg_status_t dlg_context_device_info(dlg_context_t* ctx, dlg_device_info_t* out);

/* Environment facts for diagnostics (`dlgemm info`): whether the CUDA driver and NVRTC can be
 * opened here and their versions (0 when absent). Never fails; reasons go in `why`. */
typedef struct dlg_runtime_info {
  int driver_found;   /* libcuda opened and cuInit succeeded */
  int driver_version; /* e.g. 13000 */
  int device_count;
  int nvrtc_found;
  int nvrtc_major, nvrtc_minor;
  char driver_path[256];
  char nvrtc_path[256];
  char why[512];      /* why the driver or NVRTC is unavailable; empty when both are */
} dlg_runtime_info_t;
DLG_API void dlg_runtime_info(dlg_runtime_info_t* out);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_CONTEXT_H_ */
