/* Shared by the kernel tests (nvrtc_test, sm90_kernels_test, mqa_determinism_test): NVRTC-compile one
 * kernel instance and read what ptxas and cuobjdump say about it (no GPU needed). */
#ifndef DLG_TEST_SASS_H_
#define DLG_TEST_SASS_H_

typedef struct dlg_test_sass {
  int regs, stack, local; /* cuobjdump -res-usage of the (only) function; -1 if unknown */
  char* text;             /* cuobjdump -sass output; NULL without a cuobjdump */
} dlg_test_sass_t;

/* Compiles `source` (which instantiates `name`) for sm_<arch>a through NVRTC. CHECK-fails on
 * a compile error and on ptxas' "wgmma serialized" advisory (an accumulator touched while in
 * flight: the pipelines would then stall on every wgmma). With a cuobjdump ($DLG_CUOBJDUMP or
 * $PATH) fills `out` and returns 1; returns 0 when there is nothing to check (compile error,
 * or no cuobjdump: said once per call on stdout). */
int dlg_test_compile_sass(const char* name, const char* source, int arch, dlg_test_sass_t* out);
void dlg_test_sass_free(dlg_test_sass_t* s);

/* Occurrences of `needle` in `hay`. */
int dlg_test_count(const char* hay, const char* needle);

/* The whole file as a NUL-terminated string (malloc'd; "" when unreadable past the open),
 * or NULL when it cannot be opened. */
char* dlg_test_read_file(const char* path);

#endif /* DLG_TEST_SASS_H_ */
