/* CUDA graph capture for the GPU tests (masked GEMM, fused per-tensor cast): the graph calls
 * are not in the library's driver table, so they are looked up in the libcuda it opened. */
#ifndef DLG_TEST_GRAPH_H_
#define DLG_TEST_GRAPH_H_

#include "jit/dl.h"

typedef struct dlg_graph_api {
  CUresult (*begin_capture)(CUstream, CUstreamCaptureMode);
  CUresult (*end_capture)(CUstream, CUgraph*);
  CUresult (*instantiate)(CUgraphExec*, CUgraph, unsigned long long);
  CUresult (*launch)(CUgraphExec, CUstream);
  CUresult (*exec_destroy)(CUgraphExec);
  CUresult (*destroy)(CUgraph);
} dlg_graph_api_t;

/* 1 when every entry point was found in the libcuda `api` was loaded from. */
int dlg_graph_api_load(const dlg_cuda_api_t* api, dlg_graph_api_t* g);

#endif /* DLG_TEST_GRAPH_H_ */
