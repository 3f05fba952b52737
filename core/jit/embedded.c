/* Lookup in the embedded kernels/ tree (the table is generated at build time). */
#include <string.h>
#include "jit/embedded.h"

const dlg_embedded_file_t* dlg_embedded_find(const char* path) {
  if (!path) return NULL;
  for (const dlg_embedded_file_t* f = dlg_embedded_files; f->path; ++f)
    if (strcmp(f->path, path) == 0) return f;
  return NULL;
}
