#include "dlg_graph.h"

#include <dlfcn.h>

int dlg_graph_api_load(const dlg_cuda_api_t* api, dlg_graph_api_t* g) {
  void* h = dlopen(api->path, RTLD_NOW | RTLD_NOLOAD);
  if (!h) h = dlopen(api->path, RTLD_NOW);
  if (!h) return 0;
  *(void**)&g->begin_capture = dlsym(h, "cuStreamBeginCapture_v2");
  *(void**)&g->end_capture = dlsym(h, "cuStreamEndCapture");
  *(void**)&g->instantiate = dlsym(h, "cuGraphInstantiateWithFlags");
  *(void**)&g->launch = dlsym(h, "cuGraphLaunch");
  *(void**)&g->exec_destroy = dlsym(h, "cuGraphExecDestroy");
  *(void**)&g->destroy = dlsym(h, "cuGraphDestroy");
  return g->begin_capture && g->end_capture && g->instantiate && g->launch && g->exec_destroy &&
         g->destroy;
}
