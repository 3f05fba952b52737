/* dlg_jit_launch: cuLaunchKernelEx with the cluster and PDL attributes; dlg_print_configs. */
#include <stdlib.h>
#include <string.h>
#include "jit/jit_internal.h"

static pthread_once_t g_print_once = PTHREAD_ONCE_INIT;
static int g_print_configs;
static void read_print_configs(void) {
  const char* v = getenv("DLG_PRINT_CONFIGS");
  g_print_configs = v && v[0] && strcmp(v, "0") != 0;
}
int dlg_print_configs(void) {
  pthread_once(&g_print_once, read_print_configs);
  return g_print_configs;
}

dlg_status_t dlg_jit_launch(dlg_context_t* ctx, const dlg_kernel_t* k,
                            const dlg_launch_config_t* cfg, void** args) {
  if (!k || !k->function) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "kernel: not loaded");
  if (!cfg) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "cfg: must not be NULL");
  for (int i = 0; i < 3; ++i) {
    if (cfg->grid[i] == 0 || cfg->block[i] == 0)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "launch: empty grid (%u, %u, %u) or block (%u, %u, %u); skip the launch "
                      "for an empty problem",
                      cfg->grid[0], cfg->grid[1], cfg->grid[2], cfg->block[0], cfg->block[1],
                      cfg->block[2]);
  }
  if (cfg->smem_bytes > 48 * 1024 && cfg->smem_bytes > k->smem_bytes)
    return dlg_fail(DLG_ERR_INTERNAL,
                    "launch: %zu bytes of dynamic shared memory requested, kernel configured "
                    "for %zu (set dlg_kernel_spec_t.dynamic_smem)",
                    cfg->smem_bytes, k->smem_bytes);
  const dlg_cuda_api_t* api;
  dlg_status_t s = dlg_jit_enter(ctx, &api, NULL);
  if (s != DLG_OK) return s;

  CUlaunchAttribute attrs[3];
  memset(attrs, 0, sizeof attrs);
  unsigned n = 0;
  unsigned cx = cfg->cluster[0] ? cfg->cluster[0] : 1, cy = cfg->cluster[1] ? cfg->cluster[1] : 1,
           cz = cfg->cluster[2] ? cfg->cluster[2] : 1;
  if (cx * cy * cz > 1) {
    if (cfg->grid[0] % cx || cfg->grid[1] % cy || cfg->grid[2] % cz)
      return dlg_fail(DLG_ERR_INTERNAL, "launch: grid (%u, %u, %u) not divisible by cluster (%u, %u, %u)",
                      cfg->grid[0], cfg->grid[1], cfg->grid[2], cx, cy, cz);
    attrs[n].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[n].value.clusterDim.x = cx;
    attrs[n].value.clusterDim.y = cy;
    attrs[n].value.clusterDim.z = cz;
    ++n;
  }
  if (cfg->pdl) {
    attrs[n].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attrs[n].value.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (cfg->cooperative) {
    attrs[n].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    attrs[n].value.cooperative = 1;
    ++n;
  }
  CUlaunchConfig lc;
  memset(&lc, 0, sizeof lc);
  lc.gridDimX = cfg->grid[0];
  lc.gridDimY = cfg->grid[1];
  lc.gridDimZ = cfg->grid[2];
  lc.blockDimX = cfg->block[0];
  lc.blockDimY = cfg->block[1];
  lc.blockDimZ = cfg->block[2];
  lc.sharedMemBytes = (unsigned)cfg->smem_bytes;
  lc.hStream = (CUstream)cfg->stream;
  lc.attrs = n ? attrs : NULL;
  lc.numAttrs = n;
  CUresult r = api->launch_kernel_ex(&lc, (CUfunction)k->function, args, NULL);
  if (r != CUDA_SUCCESS)
    return dlg_cu_fail(r, "cuLaunchKernelEx(grid %u x %u x %u, block %u x %u x %u, cluster %u x %u x %u, %zu bytes smem%s%s)",
                       cfg->grid[0], cfg->grid[1], cfg->grid[2], cfg->block[0], cfg->block[1],
                       cfg->block[2], cx, cy, cz, cfg->smem_bytes, cfg->pdl ? ", pdl" : "",
                       cfg->cooperative ? ", cooperative" : "");
  return DLG_OK;
}

unsigned dlg_jit_fit_cluster_grid(const dlg_kernel_t* k, unsigned grid, unsigned block,
                                  size_t smem_bytes, unsigned cluster) {
  const dlg_cuda_api_t* api;
  if (cluster < 2 || dlg_cuda_open(&api) != DLG_OK || !api->occupancy_max_active_clusters)
    return grid;
  CUlaunchAttribute attr;
  memset(&attr, 0, sizeof attr);
  attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attr.value.clusterDim.x = cluster;
  attr.value.clusterDim.y = attr.value.clusterDim.z = 1;
  CUlaunchConfig lc;
  memset(&lc, 0, sizeof lc);
  lc.gridDimX = grid;
  lc.gridDimY = lc.gridDimZ = 1;
  lc.blockDimX = block;
  lc.blockDimY = lc.blockDimZ = 1;
  lc.sharedMemBytes = (unsigned)smem_bytes;
  lc.attrs = &attr;
  lc.numAttrs = 1;
  int clusters = 0;
  if (api->occupancy_max_active_clusters(&clusters, (CUfunction)k->function, &lc) != CUDA_SUCCESS)
    return grid;
  const unsigned most = (unsigned)clusters * cluster;
  return clusters > 0 && most < grid ? most : grid;
}
