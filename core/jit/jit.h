/* The JIT runtime as the launchers see it: compile (NVRTC) + cache (memory, disk) + load
 * (driver) + launch (cuLaunchKernelEx). Thread-safe. */
#ifndef DLG_JIT_JIT_H_
#define DLG_JIT_JIT_H_

#include <stddef.h>
#include <stdint.h>
#include "internal.h"

/* A loaded kernel: CUfunction plus what the launcher needs to know about it. */
typedef struct dlg_kernel {
  void* function;       /* CUfunction */
  int num_regs;
  int local_bytes;      /* spills / stack (should be 0 for GEMM kernels) */
  size_t smem_bytes;    /* dynamic shared memory the kernel was configured for */
} dlg_kernel_t;

/* Describes one kernel instance to compile. `source` is the complete translation unit the
 * launcher generated (typically a few #defines / template instantiation + #include of
 * embedded headers such as "sm90_fp8_gemm_1d2d.cuh"); includes resolve against the embedded
 * kernels/ tree only. `name` is the __global__ symbol (extern "C" or a name expression).
 * `arch` is 90 or 100: compiled for sm_90a / sm_100a. */
typedef struct dlg_kernel_spec {
  const char* source;
  const char* name;
  int arch;
  size_t dynamic_smem;  /* raised with cuFuncSetAttribute when > 48 KiB */
} dlg_kernel_spec_t;

/* Returns a loaded kernel for the spec on the context's device: in-memory cache hit, else
 * disk cache (key = hash of the source with every included header expanded, the NVRTC
 * options incl. the context's extras, arch, NVRTC version, library version), else NVRTC. */
dlg_status_t dlg_jit_get(dlg_context_t* ctx, const dlg_kernel_spec_t* spec, dlg_kernel_t* out);

/* Compiles a spec to a cubin without any GPU (used by CI and the NVRTC tests). The caller
 * frees *cubin with free(). *log may be NULL; else free() it. */
dlg_status_t dlg_jit_compile_only(const char* source, const char* name, int arch,
                                  const char* extra_options, void** cubin, size_t* cubin_size,
                                  char** log);

typedef struct dlg_launch_config {
  unsigned grid[3];
  unsigned block[3];
  unsigned cluster[3];  /* {0,0,0} or {1,1,1} = no cluster */
  size_t smem_bytes;
  int pdl;              /* programmatic stream serialization */
  void* stream;         /* CUstream */
  int cooperative;      /* all CTAs resident at once (grid-wide barriers), or the launch fails */
} dlg_launch_config_t;

/* A 1-D grid of 1-D blocks, clusters of cluster_x CTAs (0 or 1: no cluster): what every
 * launcher launches. */
static inline dlg_launch_config_t dlg_launch_config_1d(unsigned grid, unsigned block,
                                                       unsigned cluster_x, size_t smem_bytes,
                                                       int pdl, void* stream) {
  dlg_launch_config_t lc = {{grid, 1, 1}, {block, 1, 1}, {cluster_x ? cluster_x : 1, 1, 1},
                            smem_bytes, pdl, stream, 0};
  return lc;
}

/* cuLaunchKernelEx with the attributes above. `args` as for cuLaunchKernel. */
dlg_status_t dlg_jit_launch(dlg_context_t* ctx, const dlg_kernel_t* k,
                            const dlg_launch_config_t* cfg, void** args);

/* The largest grid, at most `grid`, whose clusters of `cluster` CTAs can all be co-resident
 * (cuOccupancyMaxActiveClusters): a persistent CTA that only starts after others finish would
 * double the time of its tiles. `grid` itself without a cluster or when the driver lacks the
 * query. */
unsigned dlg_jit_fit_cluster_grid(const dlg_kernel_t* k, unsigned grid, unsigned block,
                                  size_t smem_bytes, unsigned cluster);

/* 1 when $DLG_PRINT_CONFIGS is set to a non-zero value (read once). */
int dlg_print_configs(void);

#endif /* DLG_JIT_JIT_H_ */
