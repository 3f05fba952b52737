/* dlgemm — status codes and the thread-local error message. */
#ifndef DLGEMM_STATUS_H_
#define DLGEMM_STATUS_H_

#include "dlgemm/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one list of status codes. Values are part of the ABI: append only, never renumber. */
#define DLG_STATUS_LIST(X)                                                                       \
  X(DLG_OK, 0, "ok")                                                                             \
  X(DLG_ERR_INVALID_ARGUMENT, 1, "invalid argument")         /* null, bad enum, bad value */     \
  X(DLG_ERR_DTYPE, 2, "unsupported dtype")                   /* a tensor has the wrong dtype */  \
  X(DLG_ERR_SHAPE, 3, "shape mismatch")                      /* ndim or extents disagree */      \
  X(DLG_ERR_LAYOUT, 4, "unsupported layout")                 /* strides / alignment */           \
  X(DLG_ERR_DEVICE, 5, "device mismatch")                    /* tensors on different devices */  \
  X(DLG_ERR_UNSUPPORTED, 6, "not supported")                 /* valid, but not implemented here */\
  X(DLG_ERR_NO_DRIVER, 7, "CUDA driver not available")       /* libcuda missing / no GPU */      \
  X(DLG_ERR_NO_NVRTC, 8, "NVRTC not available")              /* libnvrtc missing */              \
  X(DLG_ERR_COMPILE, 9, "kernel compilation failed")         /* NVRTC rejected a kernel */       \
  X(DLG_ERR_CUDA, 10, "CUDA error")                          /* a driver call failed */          \
  X(DLG_ERR_OUT_OF_MEMORY, 11, "out of memory")                                                  \
  X(DLG_ERR_IO, 12, "I/O error")                             /* cache directory trouble */       \
  X(DLG_ERR_INTERNAL, 13, "internal error")

typedef enum dlg_status {
#define DLG_STATUS_ENUM_(name, value, text) name = value,
  DLG_STATUS_LIST(DLG_STATUS_ENUM_)
#undef DLG_STATUS_ENUM_
} dlg_status_t;

/* A short, static description of a status ("unsupported dtype"); "unknown status" otherwise. */
DLG_API const char* dlg_status_string(dlg_status_t status);
/* The status's enumerator name ("DLG_ERR_DTYPE"); static storage. */
DLG_API const char* dlg_status_name(dlg_status_t status);

/* The message of the last failed call on this thread: names the argument and the reason,
 * e.g. "b: expected dtype float8_e4m3fn, got bfloat16". Empty string if none. Valid until
 * the next dlgemm call on the same thread. Successful calls do not clear it. */
DLG_API const char* dlg_last_error(void);
/* Clears this thread's message. */
DLG_API void dlg_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_STATUS_H_ */
