/* Pieces of the JIT runtime shared between the core/jit sources and its tests. Not for launchers
 * (they use jit.h and gpu.h). */
#ifndef DLG_JIT_JIT_INTERNAL_H_
#define DLG_JIT_JIT_INTERNAL_H_

#include <stdint.h>
#include "jit/dl.h"
#include "jit/embedded.h"
#include "jit/jit.h"

/* ---- per-context GPU state (device.c, load.c) ---- */

typedef struct dlg_loaded_kernel {
  struct dlg_loaded_kernel* next;
  uint64_t hash;       /* of the fields below, to skip most string compares */
  char* source;        /* the in-memory key: spec source, name, arch, context's extra options */
  char* name;
  char* options;       /* "" when none */
  int arch;
  CUmodule module;
  dlg_kernel_t kernel; /* kernel.smem_bytes: the largest dynamic smem configured so far */
} dlg_loaded_kernel_t;

#define DLG_JIT_BUCKETS 256

struct dlg_jit_state {
  pthread_mutex_t lock;       /* guards everything below except `retained` reads */
  CUdevice device;
  int retained;               /* primary context retained (atomic load on the fast path) */
  CUcontext primary;
  int have_info;
  dlg_device_info_t info;
  dlg_loaded_kernel_t* buckets[DLG_JIT_BUCKETS];
};

/* Checks the device, opens the driver, creates the context's state if needed and makes the
 * primary context current (dlg_gpu_enter without a tensor), returning both. */
dlg_status_t dlg_jit_enter(dlg_context_t* ctx, const dlg_cuda_api_t** api,
                           struct dlg_jit_state** st);

/* ---- NVRTC options and headers (compile.c) ---- */

#define DLG_JIT_MAX_OPTIONS 64
#define DLG_JIT_MAX_HEADERS 128

/* The full NVRTC option list for arch + the space-separated extras (no quoting). Strings
 * live in `storage` (free()d by the caller). Fails on an unsupported arch or too many. */
typedef struct dlg_jit_options {
  const char* argv[DLG_JIT_MAX_OPTIONS];
  int argc;
  char* storage;
} dlg_jit_options_t;
dlg_status_t dlg_jit_build_options(int arch, const char* extra, dlg_jit_options_t* out);

/* Every embedded header the source includes, recursively (`#include "path"` relative to
 * kernels/), in first-seen order, each once. Unknown names are skipped (NVRTC reports them). */
typedef struct dlg_jit_headers {
  const dlg_embedded_file_t* files[DLG_JIT_MAX_HEADERS];
  int count;
} dlg_jit_headers_t;
dlg_status_t dlg_jit_collect_headers(const char* source, dlg_jit_headers_t* out);

/* Looks a header up: first the test override table (if set), then the embedded tree. */
const dlg_embedded_file_t* dlg_jit_find_header(const char* path);
/* Test hook: a {NULL,NULL,0}-terminated table consulted before the embedded files (NULL
 * clears). Not thread-safe; set it before compiling. */
void dlg_jit_set_header_override(const dlg_embedded_file_t* table);

/* One NVRTC compilation. name: the kernel's name expression (extern "C" name or e.g.
 * "ns::k<128>"), or NULL to compile without looking a kernel up. want_ptx also returns the
 * PTX. Everything in *out is malloc()ed; free with dlg_jit_nvrtc_output_free. On
 * DLG_ERR_COMPILE the log is still returned. */
typedef struct dlg_nvrtc_output {
  void* cubin;
  size_t cubin_size;
  char* ptx;          /* NULL unless want_ptx */
  char* lowered_name; /* NULL when name was NULL */
  char* log;
} dlg_nvrtc_output_t;
dlg_status_t dlg_jit_nvrtc_compile(const char* source, const char* name, int arch,
                                   const char* extra_options, int want_ptx,
                                   dlg_nvrtc_output_t* out);
void dlg_jit_nvrtc_output_free(dlg_nvrtc_output_t* out);
/* NVRTC compilations run by this process (tests check that cache hits do not compile). */
uint64_t dlg_jit_compile_count(void);

/* ---- the disk cache (cache.c) ---- */

typedef struct dlg_jit_key {
  uint8_t bytes[16];
} dlg_jit_key_t;

/* The cache key: FNV-1a-128 of the source with every included embedded header, the full
 * option list, arch, NVRTC version, library version and the kernel name. */
dlg_status_t dlg_jit_cache_key(const char* source, const char* name, int arch,
                               const char* extra_options, dlg_jit_key_t* out);
void dlg_jit_key_hex(const dlg_jit_key_t* key, char out[33]);

typedef struct dlg_cubin {
  void* data;
  size_t size;
  char* lowered_name;
  dlg_jit_key_t key;
  int from_disk; /* 1: read from the disk cache, 0: compiled now */
} dlg_cubin_t;
void dlg_cubin_free(dlg_cubin_t* c);

/* The cubin for a spec: from <cache_dir>/<key>.cubin when a valid entry exists, else
 * compiled with NVRTC and published there atomically (write to a temporary file, rename).
 * cache_dir NULL: no disk cache. Needs no GPU. A cache directory that cannot be written is
 * not an error (the kernel is still returned; DLG_JIT_DEBUG says why). */
dlg_status_t dlg_jit_cache_get_cubin(const char* cache_dir, const dlg_kernel_spec_t* spec,
                                     const char* extra_options, dlg_cubin_t* out);
/* The entry file path for a key (for tests): <cache_dir>/<hex>.cubin. */
void dlg_jit_cache_entry_path(const char* cache_dir, const dlg_jit_key_t* key, char* buf,
                              size_t cap);

/* ---- diagnostics (compile.c) ---- */

/* $DLG_JIT_DEBUG set to a non-zero value (read once). */
int dlg_jit_debug(void);
void dlg_jit_log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/* The cuobjdump to use: $DLG_CUOBJDUMP, else the first on $PATH; NULL if none. */
const char* dlg_jit_cuobjdump_path(void);
/* Runs `cuobjdump -sass <cubin_path>` writing stdout to out_path. Returns 0 on success. */
int dlg_jit_run_cuobjdump(const char* cubin_path, const char* out_path);

/* 64-bit FNV-1a (payload checksums and the in-memory map). */
uint64_t dlg_fnv1a64(uint64_t h, const void* data, size_t n);
#define DLG_FNV64_INIT 0xcbf29ce484222325ull

#endif /* DLG_JIT_JIT_INTERNAL_H_ */
