/* The kernel sources embedded at build time (tools/embed_kernels.c generates the table). */
#ifndef DLG_JIT_EMBEDDED_H_
#define DLG_JIT_EMBEDDED_H_
#include <stddef.h>

typedef struct dlg_embedded_file {
  const char* path; /* relative to kernels/, e.g. "ptx/wgmma.cuh" */
  const char* text; /* NUL-terminated */
  size_t size;
} dlg_embedded_file_t;

extern const dlg_embedded_file_t dlg_embedded_files[]; /* ends with {NULL, NULL, 0} */
extern const int dlg_embedded_file_count;

/* Looks a file up by its path; NULL if absent. */
const dlg_embedded_file_t* dlg_embedded_find(const char* path);

#endif /* DLG_JIT_EMBEDDED_H_ */
