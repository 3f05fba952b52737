/* Opening the CUDA driver and NVRTC at run time (see dl.h). Search order, first hit wins:
 *   1. the full path in $DLG_CUDA_DRIVER_PATH / $DLG_NVRTC_PATH — when set, ONLY that path
 *      (so a test or a user can force "no driver" or one exact NVRTC);
 *   2. the plain soname (LD_LIBRARY_PATH, the ld.so cache, rpaths);
 *   3. the standard CUDA / distribution library directories;
 *   4. NVRTC only: NVIDIA's pip wheel (nvidia-cuda-nvrtc, .../nvidia/cu13/lib) under
 *      $DLG_NVRTC_LIB_DIR, $VIRTUAL_ENV, the system and user site-packages, and next to the
 *      loaded libdlgemm (../nvidia/cu13/lib, the layout of a Python wheel install).
 * Nothing needs nvcc, CUDA_HOME or a CUDA toolkit at run time. */
#include <dlfcn.h>
#include <glob.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jit/dl.h"

#define DLG_DRIVER_SONAME "libcuda.so.1"
#define DLG_NVRTC_SONAME "libnvrtc.so.13"
#define DLG_NVRTC_HINT "install nvidia-cuda-nvrtc==13.0.* or set DLG_NVRTC_PATH"

#define DLG_STR_(x) #x
#define DLG_XSTR_(x) DLG_STR_(x)

/* ---- candidate search ---- */

typedef struct search {
  const char* env_name;   /* full-path override */
  const char* soname;
  void* handle;
  char searched[640];     /* for the error message */
  char last_error[256];   /* dlerror() of the most relevant failed attempt */
} search_t;

static void note_searched(search_t* s, const char* what) {
  size_t n = strlen(s->searched);
  if (n + 8 >= sizeof s->searched) return;
  snprintf(s->searched + n, sizeof s->searched - n, "%s%s", n ? ", " : "", what);
}

/* Tries one path (or soname). Returns 1 when loaded. */
static int try_open(search_t* s, const char* path) {
  if (s->handle) return 1;
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h) {
    s->handle = h;
    return 1;
  }
  /* A file that exists but does not load (wrong arch, missing deps) is the interesting error. */
  const char* err = dlerror();
  int exists = strchr(path, '/') ? access(path, F_OK) == 0
                                 : (err && !strstr(err, "No such file or directory"));
  if (err && exists) snprintf(s->last_error, sizeof s->last_error, "%s", err);
  return 0;
}

/* Tries every match of a glob pattern ending in the library file name. */
static int try_glob(search_t* s, const char* pattern) {
  note_searched(s, pattern);
  glob_t g;
  memset(&g, 0, sizeof g);
  int found = 0;
  if (glob(pattern, 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc && !found; ++i) found = try_open(s, g.gl_pathv[i]);
  }
  globfree(&g);
  return found;
}

static int try_dir(search_t* s, const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, s->soname);
  note_searched(s, dir);
  return try_open(s, path);
}

/* Returns 1 if the override variable is set (whether or not it loaded). */
static int try_override(search_t* s) {
  const char* p = getenv(s->env_name);
  if (!p || !p[0]) return 0;
  char what[320];
  snprintf(what, sizeof what, "$%s=%s", s->env_name, p);
  note_searched(s, what);
  try_open(s, p);
  if (!s->handle && !s->last_error[0]) snprintf(s->last_error, sizeof s->last_error, "%s: no such file", p);
  return 1;
}

/* Where distributions and the CUDA toolkit put the libraries (never the toolkit's stubs/
 * directory: a stub libcuda loads but cannot run anything). */
static const char* const k_driver_dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64",
                                            "/usr/lib/aarch64-linux-gnu", "/usr/lib/wsl/lib", NULL};
static const char* const k_nvrtc_dirs[] = {"/usr/local/cuda/lib64",
                                           "/usr/local/cuda/targets/x86_64-linux/lib",
                                           "/usr/local/cuda/targets/sbsa-linux/lib",
                                           "/usr/lib/x86_64-linux-gnu", "/usr/lib64", NULL};

static void search_standard(search_t* s, const char* const* dirs) {
  note_searched(s, "the loader path");
  if (try_open(s, s->soname)) return;
  for (int i = 0; dirs[i]; ++i)
    if (try_dir(s, dirs[i])) return;
}

/* NVIDIA's pip wheels put libnvrtc in site-packages/nvidia/cu13/lib. */
static void search_wheels(search_t* s) {
  char pat[600];
  const char* dir = getenv("DLG_NVRTC_LIB_DIR");
  if (dir && dir[0] && try_dir(s, dir)) return;
  const char* venv = getenv("VIRTUAL_ENV");
  if (venv && venv[0]) {
    snprintf(pat, sizeof pat, "%s/lib/python3*/site-packages/nvidia/cu13/lib/%s", venv, s->soname);
    if (try_glob(s, pat)) return;
  }
  static const char* const sys[] = {"/usr/local/lib/python3*/site-packages",
                                    "/usr/local/lib/python3*/dist-packages",
                                    "/usr/lib/python3*/site-packages",
                                    "/usr/lib/python3/dist-packages", NULL};
  for (int i = 0; sys[i]; ++i) {
    snprintf(pat, sizeof pat, "%s/nvidia/cu13/lib/%s", sys[i], s->soname);
    if (try_glob(s, pat)) return;
  }
  const char* home = getenv("HOME");
  if (home && home[0]) {
    snprintf(pat, sizeof pat, "%s/.local/lib/python3*/site-packages/nvidia/cu13/lib/%s", home,
             s->soname);
    if (try_glob(s, pat)) return;
  }
  /* Next to this library: <site-packages>/dlgemm/libdlgemm.so -> <site-packages>/nvidia/... */
  Dl_info self;
  if (dladdr((void*)&dlg_nvrtc_open, &self) && self.dli_fname && strchr(self.dli_fname, '/')) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", self.dli_fname);
    snprintf(pat, sizeof pat, "%s/../nvidia/cu13/lib", dirname(buf));
    if (try_dir(s, pat)) return;
  }
}

/* The file a handle was loaded from, via one of its symbols. */
static void loaded_path(void* sym, const char* fallback, char* out, size_t cap) {
  Dl_info info;
  if (sym && dladdr(sym, &info) && info.dli_fname) snprintf(out, cap, "%s", info.dli_fname);
  else snprintf(out, cap, "%s", fallback);
}

/* ---- the driver ---- */

static pthread_once_t g_cuda_once = PTHREAD_ONCE_INIT;
static dlg_cuda_api_t g_cuda;
static dlg_status_t g_cuda_status = DLG_ERR_NO_DRIVER;
static char g_cuda_error[1200];

static void cuda_open_once(void) {
  search_t s;
  memset(&s, 0, sizeof s);
  s.env_name = "DLG_CUDA_DRIVER_PATH";
  s.soname = DLG_DRIVER_SONAME;
  if (!try_override(&s)) search_standard(&s, k_driver_dirs);
  if (!s.handle) {
    snprintf(g_cuda_error, sizeof g_cuda_error,
             "CUDA driver: " DLG_DRIVER_SONAME " not found (searched: %s)%s%s%s", s.searched,
             s.last_error[0] ? "; " : "", s.last_error,
             "; install the NVIDIA driver or set DLG_CUDA_DRIVER_PATH");
    return;
  }
  const char* missing = NULL;
#define DLG_DL_RESOLVE_(field, decl, required)                                      \
  g_cuda.field = (__typeof__(g_cuda.field))dlsym(s.handle, DLG_XSTR_(decl));        \
  if (!g_cuda.field && (required) && !missing) missing = DLG_XSTR_(decl);
  DLG_CUDA_FUNCS(DLG_DL_RESOLVE_)
#undef DLG_DL_RESOLVE_
  loaded_path((void*)g_cuda.init, DLG_DRIVER_SONAME, g_cuda.path, sizeof g_cuda.path);
  if (missing) {
    snprintf(g_cuda_error, sizeof g_cuda_error,
             "CUDA driver: %s lacks %s (driver too old; dlgemm needs a CUDA 13 driver, r580+)",
             g_cuda.path, missing);
    return;
  }
  CUresult r = g_cuda.init(0);
  if (r != CUDA_SUCCESS) {
    const char *name = NULL, *desc = NULL;
    g_cuda.get_error_name(r, &name);
    g_cuda.get_error_string(r, &desc);
    snprintf(g_cuda_error, sizeof g_cuda_error, "CUDA driver: cuInit failed with %s (%s) [%s]",
             name ? name : "?", desc ? desc : "?", g_cuda.path);
    return;
  }
  g_cuda.driver_get_version(&g_cuda.driver_version);
  g_cuda_status = DLG_OK;
}

dlg_status_t dlg_cuda_open(const dlg_cuda_api_t** out) {
  pthread_once(&g_cuda_once, cuda_open_once);
  if (g_cuda_status != DLG_OK) {
    if (out) *out = NULL;
    return dlg_fail(g_cuda_status, "%s", g_cuda_error);
  }
  if (out) *out = &g_cuda;
  return DLG_OK;
}

dlg_status_t dlg_cu_fail(CUresult r, const char* fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = NULL, *desc = NULL;
  if (g_cuda_status == DLG_OK) {
    g_cuda.get_error_name(r, &name);
    g_cuda.get_error_string(r, &desc);
  }
  dlg_status_t st = r == CUDA_ERROR_OUT_OF_MEMORY ? DLG_ERR_OUT_OF_MEMORY : DLG_ERR_CUDA;
  if (name) return dlg_fail(st, "%s: %s (%s)", what, name, desc ? desc : "");
  return dlg_fail(st, "%s: CUresult %d", what, (int)r);
}

/* ---- NVRTC ---- */

static pthread_once_t g_nvrtc_once = PTHREAD_ONCE_INIT;
static dlg_nvrtc_api_t g_nvrtc;
static dlg_status_t g_nvrtc_status = DLG_ERR_NO_NVRTC;
static char g_nvrtc_error[1200];

/* libnvrtc dlopens libnvrtc-builtins.so.<major>.<minor> by soname at compile time, which
 * fails when libnvrtc itself came from a directory not on the loader path (a pip wheel).
 * Loading it first from libnvrtc's own directory makes that later dlopen find it. */
static void preload_builtins(void) {
  char dir[256];
  snprintf(dir, sizeof dir, "%s", g_nvrtc.path);
  char* slash = strrchr(dir, '/');
  if (!slash) return;
  *slash = '\0';
  char path[400];
  snprintf(path, sizeof path, "%s/libnvrtc-builtins.so.%d.%d", dir, g_nvrtc.major, g_nvrtc.minor);
  if (dlopen(path, RTLD_NOW | RTLD_LOCAL)) return;
  snprintf(path, sizeof path, "%s/libnvrtc-builtins.so.%d*", dir, g_nvrtc.major);
  glob_t g;
  memset(&g, 0, sizeof g);
  if (glob(path, 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i)
      if (!strstr(g.gl_pathv[i], ".alt.") && dlopen(g.gl_pathv[i], RTLD_NOW | RTLD_LOCAL)) break;
  }
  globfree(&g);
}

static void nvrtc_open_once(void) {
  search_t s;
  memset(&s, 0, sizeof s);
  s.env_name = "DLG_NVRTC_PATH";
  s.soname = DLG_NVRTC_SONAME;
  if (!try_override(&s)) {
    search_standard(&s, k_nvrtc_dirs);
    if (!s.handle) search_wheels(&s);
  }
  if (!s.handle) {
    snprintf(g_nvrtc_error, sizeof g_nvrtc_error,
             "NVRTC: " DLG_NVRTC_SONAME " not found; " DLG_NVRTC_HINT " (searched: %s)%s%s",
             s.searched, s.last_error[0] ? "; " : "", s.last_error);
    return;
  }
  const char* missing = NULL;
#define DLG_DL_RESOLVE_(field, decl, required)                                      \
  g_nvrtc.field = (__typeof__(g_nvrtc.field))dlsym(s.handle, DLG_XSTR_(decl));      \
  if (!g_nvrtc.field && (required) && !missing) missing = DLG_XSTR_(decl);
  DLG_NVRTC_FUNCS(DLG_DL_RESOLVE_)
#undef DLG_DL_RESOLVE_
  loaded_path((void*)g_nvrtc.version, DLG_NVRTC_SONAME, g_nvrtc.path, sizeof g_nvrtc.path);
  if (missing) {
    snprintf(g_nvrtc_error, sizeof g_nvrtc_error, "NVRTC: %s lacks %s; " DLG_NVRTC_HINT,
             g_nvrtc.path, missing);
    return;
  }
  if (g_nvrtc.version(&g_nvrtc.major, &g_nvrtc.minor) != NVRTC_SUCCESS || g_nvrtc.major < 12) {
    snprintf(g_nvrtc_error, sizeof g_nvrtc_error, "NVRTC: %s reports version %d.%d; " DLG_NVRTC_HINT,
             g_nvrtc.path, g_nvrtc.major, g_nvrtc.minor);
    return;
  }
  preload_builtins();
  g_nvrtc_status = DLG_OK;
}

dlg_status_t dlg_nvrtc_open(const dlg_nvrtc_api_t** out) {
  pthread_once(&g_nvrtc_once, nvrtc_open_once);
  if (g_nvrtc_status != DLG_OK) {
    if (out) *out = NULL;
    return dlg_fail(g_nvrtc_status, "%s", g_nvrtc_error);
  }
  if (out) *out = &g_nvrtc;
  return DLG_OK;
}
