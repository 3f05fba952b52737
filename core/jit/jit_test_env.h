/* For the JIT tests: point NVRTC and cuobjdump at the pinned packages under .deps when the
 * environment does not (ctest run without sourcing scripts/env.sh). */
#ifndef DLG_JIT_TEST_ENV_H_
#define DLG_JIT_TEST_ENV_H_

#include <glob.h>
#include <stdlib.h>
#include <string.h>

static inline void dlg_test_env_default(const char* var, const char* pattern) {
  const char* v = getenv(var);
  if (v && v[0]) return;
  glob_t g;
  memset(&g, 0, sizeof g);
  if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) setenv(var, g.gl_pathv[0], 1);
  globfree(&g);
}

static inline void dlg_test_jit_env(void) {
  dlg_test_env_default("DLG_NVRTC_LIB_DIR",
                       DLG_SOURCE_DIR "/.deps/venv/lib/python3*/site-packages/nvidia/cu13/lib");
  dlg_test_env_default("DLG_CUOBJDUMP",
                       DLG_SOURCE_DIR "/.deps/venv/lib/python3*/site-packages/nvidia/cu13/bin/cuobjdump");
}

#endif /* DLG_JIT_TEST_ENV_H_ */
