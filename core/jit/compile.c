/* NVRTC compilation: options, embedded headers, the compile itself, diagnostics.
 *
 * Options: --gpu-architecture=sm_<arch>a (sm_<arch> below 90, where there is no "a"
 * variant), -std=c++17, -default-device (plain functions are device functions, as in a
 * header-only kernel library), -DDLG_JIT=1, then the context's extras. No --use_fast_math:
 * it flushes FP32 denormals and approximates division/sqrt, which would break the bit-exact
 * agreement between kernel epilogues (scale products, + C) and the CPU reference; kernels
 * call the approximate intrinsics explicitly where they want them.
 *
 * Headers: an include resolves only against the kernels/ tree embedded in the library
 * (`#include "common/types.cuh"`, always relative to kernels/), so a compilation never
 * depends on files on the machine. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "jit/jit_internal.h"

extern char** environ;

/* ---- diagnostics ---- */

static int env_flag(const char* name) {
  const char* v = getenv(name);
  return v && v[0] && strcmp(v, "0") != 0;
}

static pthread_once_t g_debug_once = PTHREAD_ONCE_INIT;
static int g_debug;
static void read_debug(void) { g_debug = env_flag("DLG_JIT_DEBUG"); }
int dlg_jit_debug(void) {
  pthread_once(&g_debug_once, read_debug);
  return g_debug;
}

void dlg_jit_log(const char* fmt, ...) {
  char buf[1400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "[dlgemm jit] %s\n", buf); /* one call: lines from threads do not mix */
}

const char* dlg_jit_cuobjdump_path(void) {
  static _Thread_local char found[512];
  const char* env = getenv("DLG_CUOBJDUMP");
  if (env && env[0] && access(env, X_OK) == 0) return env;
  const char* path = getenv("PATH");
  if (!path) return NULL;
  const char* p = path;
  while (*p) {
    const char* end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 0 && n < sizeof found - 16) {
      snprintf(found, sizeof found, "%.*s/cuobjdump", (int)n, p);
      if (access(found, X_OK) == 0) return found;
    }
    if (!end) break;
    p = end + 1;
  }
  return NULL;
}

int dlg_jit_run_cuobjdump(const char* cubin_path, const char* out_path) {
  const char* tool = dlg_jit_cuobjdump_path();
  if (!tool) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char* argv[] = {(char*)tool, (char*)"-sass", (char*)cubin_path, NULL};
  /* cuobjdump -sass runs nvdisasm, looked up on PATH or in $NVDISASM_PATH; the pip wheels
   * install it beside cuobjdump, so point there when the caller did not. */
  char** envp = environ;
  char** own_env = NULL;
  static _Thread_local char nvdisasm_var[600];
  if (!getenv("NVDISASM_PATH")) {
    char dir[512], probe[540];
    snprintf(dir, sizeof dir, "%s", tool);
    char* slash = strrchr(dir, '/');
    if (slash) {
      *slash = '\0';
      snprintf(probe, sizeof probe, "%s/nvdisasm", dir);
      size_t n = 0;
      while (environ[n]) ++n;
      if (access(probe, X_OK) == 0 && (own_env = malloc((n + 2) * sizeof *own_env))) {
        snprintf(nvdisasm_var, sizeof nvdisasm_var, "NVDISASM_PATH=%s", dir);
        memcpy(own_env, environ, n * sizeof *own_env);
        own_env[n] = nvdisasm_var;
        own_env[n + 1] = NULL;
        envp = own_env;
      }
    }
  }
  pid_t pid;
  int rc = posix_spawn(&pid, tool, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(own_env);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

static uint64_t g_compile_count;
uint64_t dlg_jit_compile_count(void) { return __atomic_load_n(&g_compile_count, __ATOMIC_RELAXED); }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- options ---- */

dlg_status_t dlg_jit_build_options(int arch, const char* extra, dlg_jit_options_t* out) {
  memset(out, 0, sizeof *out);
  if (arch < 50 || arch > 1000)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "arch: expected a compute capability like 90 or 100, got %d", arch);
  char archopt[48];
  /* sm_90a / sm_100a: the arch-specific features (wgmma, tcgen05, setmaxnreg) need "a". */
  snprintf(archopt, sizeof archopt, "--gpu-architecture=sm_%d%s", arch, arch >= 90 ? "a" : "");
  static const char* const fixed[] = {"-std=c++17", "-default-device", "-DDLG_JIT=1"};
  size_t cap = strlen(archopt) + 1 + (extra ? strlen(extra) + 1 : 0);
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) cap += strlen(fixed[i]) + 1;
  out->storage = malloc(cap);
  if (!out->storage) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "NVRTC options: allocation failed");
  char* w = out->storage;
#define DLG_PUSH_(str, len)                      \
  do {                                           \
    memcpy(w, (str), (len));                     \
    w[(len)] = '\0';                             \
    out->argv[out->argc++] = w;                  \
    w += (len) + 1;                              \
  } while (0)
  DLG_PUSH_(archopt, strlen(archopt));
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) DLG_PUSH_(fixed[i], strlen(fixed[i]));
  const char* p = extra ? extra : "";
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') ++p;
    if (!*p) break;
    size_t n = strcspn(p, " \t\n");
    if (out->argc >= DLG_JIT_MAX_OPTIONS) {
      free(out->storage);
      out->storage = NULL;
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "jit options: more than %d NVRTC options",
                      DLG_JIT_MAX_OPTIONS);
    }
    DLG_PUSH_(p, n);
    p += n;
  }
#undef DLG_PUSH_
  return DLG_OK;
}

/* ---- headers ---- */

static const dlg_embedded_file_t* g_override;
void dlg_jit_set_header_override(const dlg_embedded_file_t* table) { g_override = table; }

const dlg_embedded_file_t* dlg_jit_find_header(const char* path) {
  for (const dlg_embedded_file_t* f = g_override; f && f->path; ++f)
    if (strcmp(f->path, path) == 0) return f;
  return dlg_embedded_find(path);
}

/* Adds the includes of `text` (and theirs) to out. */
static dlg_status_t scan_includes(const char* text, dlg_jit_headers_t* out) {
  const char* p = text;
  while (*p) {
    const char* line_end = strchr(p, '\n');
    if (!line_end) line_end = p + strlen(p);
    const char* q = p;
    while (q < line_end && (*q == ' ' || *q == '\t')) ++q;
    if (q < line_end && *q == '#') {
      ++q;
      while (q < line_end && (*q == ' ' || *q == '\t')) ++q;
      if ((size_t)(line_end - q) > 7 && strncmp(q, "include", 7) == 0) {
        q += 7;
        while (q < line_end && (*q == ' ' || *q == '\t')) ++q;
        const char* close = (q < line_end && *q == '"') ? memchr(q + 1, '"', (size_t)(line_end - q - 1)) : NULL;
        if (close && close - q - 1 < 256) {
          char name[256];
          memcpy(name, q + 1, (size_t)(close - q - 1));
          name[close - q - 1] = '\0';
          const dlg_embedded_file_t* f = dlg_jit_find_header(name);
          int seen = 0;
          for (int i = 0; f && i < out->count && !seen; ++i) seen = out->files[i] == f;
          if (f && !seen) {
            if (out->count >= DLG_JIT_MAX_HEADERS)
              return dlg_fail(DLG_ERR_INTERNAL, "kernel source includes more than %d headers",
                              DLG_JIT_MAX_HEADERS);
            out->files[out->count++] = f;
            dlg_status_t s = scan_includes(f->text, out);
            if (s != DLG_OK) return s;
          }
        }
      }
    }
    p = *line_end ? line_end + 1 : line_end;
  }
  return DLG_OK;
}

dlg_status_t dlg_jit_collect_headers(const char* source, dlg_jit_headers_t* out) {
  out->count = 0;
  return scan_includes(source, out);
}

/* ---- compile ---- */

void dlg_jit_nvrtc_output_free(dlg_nvrtc_output_t* out) {
  if (!out) return;
  free(out->cubin);
  free(out->ptx);
  free(out->lowered_name);
  free(out->log);
  memset(out, 0, sizeof *out);
}

/* The first lines of an NVRTC log, for an error message. */
static void log_head(const char* log, char* buf, size_t cap, int max_lines) {
  size_t n = 0;
  int lines = 0;
  buf[0] = '\0';
  for (const char* p = log ? log : ""; *p && n + 1 < cap && lines < max_lines; ++p) {
    buf[n++] = *p;
    if (*p == '\n') ++lines;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) --n;
  buf[n] = '\0';
}

dlg_status_t dlg_jit_nvrtc_compile(const char* source, const char* name, int arch,
                                   const char* extra_options, int want_ptx,
                                   dlg_nvrtc_output_t* out) {
  memset(out, 0, sizeof *out);
  if (!source) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "source: must not be NULL");
  const dlg_nvrtc_api_t* nv;
  dlg_status_t s = dlg_nvrtc_open(&nv);
  if (s != DLG_OK) return s;
  dlg_jit_options_t opts;
  if ((s = dlg_jit_build_options(arch, extra_options, &opts)) != DLG_OK) return s;
  dlg_jit_headers_t hdr;
  if ((s = dlg_jit_collect_headers(source, &hdr)) != DLG_OK) {
    free(opts.storage);
    return s;
  }
  const char* hdr_text[DLG_JIT_MAX_HEADERS];
  const char* hdr_name[DLG_JIT_MAX_HEADERS];
  for (int i = 0; i < hdr.count; ++i) {
    hdr_text[i] = hdr.files[i]->text;
    hdr_name[i] = hdr.files[i]->path;
  }
  const char* what = name ? name : "kernel";
  const char* archname = opts.argv[0] + strlen("--gpu-architecture=");
  __atomic_add_fetch(&g_compile_count, 1, __ATOMIC_RELAXED);
  double t0 = now_ms();

  nvrtcProgram prog = NULL;
  nvrtcResult r = nv->create_program(&prog, source, "dlgemm_kernel.cu", hdr.count, hdr_text,
                                     hdr_name);
  if (r != NVRTC_SUCCESS) {
    free(opts.storage);
    return dlg_fail(r == NVRTC_ERROR_OUT_OF_MEMORY ? DLG_ERR_OUT_OF_MEMORY : DLG_ERR_COMPILE,
                    "NVRTC: nvrtcCreateProgram for %s failed: %s", what, nv->get_error_string(r));
  }
  if (name && (r = nv->add_name_expression(prog, name)) != NVRTC_SUCCESS) {
    s = dlg_fail(DLG_ERR_COMPILE, "NVRTC: name expression '%s': %s", name, nv->get_error_string(r));
    goto done;
  }
  nvrtcResult cr = nv->compile_program(prog, opts.argc, opts.argv);
  size_t log_size = 0;
  if (nv->get_program_log_size(prog, &log_size) == NVRTC_SUCCESS && log_size > 0) {
    out->log = malloc(log_size + 1);
    if (out->log && nv->get_program_log(prog, out->log) == NVRTC_SUCCESS) out->log[log_size] = '\0';
    else if (out->log) out->log[0] = '\0';
  }
  if (dlg_jit_debug()) {
    char optline[1024] = "";
    for (int i = 0; i < opts.argc; ++i) {
      size_t n = strlen(optline);
      snprintf(optline + n, sizeof optline - n, "%s%s", i ? " " : "", opts.argv[i]);
    }
    dlg_jit_log("nvrtc %s %s (%d headers): %s in %.1f ms", what, optline, hdr.count,
                cr == NVRTC_SUCCESS ? "ok" : "FAILED", now_ms() - t0);
    if (out->log && out->log[0]) fprintf(stderr, "%s\n", out->log);
  }
  if (cr != NVRTC_SUCCESS) {
    char head[640];
    log_head(out->log, head, sizeof head, 10);
    s = dlg_fail(DLG_ERR_COMPILE, "NVRTC: compiling %s for %s failed (%s):\n%s", what, archname,
                 nv->get_error_string(cr), head);
    goto done;
  }
  size_t n = 0;
  if ((r = nv->get_cubin_size(prog, &n)) != NVRTC_SUCCESS || n == 0) {
    s = dlg_fail(DLG_ERR_COMPILE, "NVRTC: no cubin for %s (%s)", what,
                 r != NVRTC_SUCCESS ? nv->get_error_string(r) : "empty");
    goto done;
  }
  if (!(out->cubin = malloc(n))) {
    s = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "NVRTC: cubin of %zu bytes: allocation failed", n);
    goto done;
  }
  if ((r = nv->get_cubin(prog, out->cubin)) != NVRTC_SUCCESS) {
    s = dlg_fail(DLG_ERR_COMPILE, "NVRTC: nvrtcGetCUBIN for %s: %s", what, nv->get_error_string(r));
    goto done;
  }
  out->cubin_size = n;
  if (want_ptx && nv->get_ptx_size(prog, &n) == NVRTC_SUCCESS && n > 0 && (out->ptx = malloc(n + 1))) {
    if (nv->get_ptx(prog, out->ptx) == NVRTC_SUCCESS) out->ptx[n] = '\0';
    else out->ptx[0] = '\0';
  }
  if (name) {
    const char* lowered = NULL;
    if ((r = nv->get_lowered_name(prog, name, &lowered)) != NVRTC_SUCCESS || !lowered) {
      s = dlg_fail(DLG_ERR_COMPILE, "NVRTC: kernel '%s' not found in the compiled source (%s)",
                   name, nv->get_error_string(r));
      goto done;
    }
    if (!(out->lowered_name = strdup(lowered))) {
      s = dlg_fail(DLG_ERR_OUT_OF_MEMORY, "NVRTC: allocation failed");
      goto done;
    }
  }
  s = DLG_OK;
done:
  nv->destroy_program(&prog);
  free(opts.storage);
  if (s != DLG_OK) {
    /* Keep the log for the caller; drop partial outputs. */
    char* log = out->log;
    out->log = NULL;
    dlg_jit_nvrtc_output_free(out);
    out->log = log;
  }
  return s;
}

dlg_status_t dlg_jit_compile_only(const char* source, const char* name, int arch,
                                  const char* extra_options, void** cubin, size_t* cubin_size,
                                  char** log) {
  if (!cubin || !cubin_size)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "cubin: output pointers must not be NULL");
  *cubin = NULL;
  *cubin_size = 0;
  if (log) *log = NULL;
  dlg_nvrtc_output_t o;
  dlg_status_t s = dlg_jit_nvrtc_compile(source, name, arch, extra_options, 0, &o);
  *cubin = o.cubin;
  *cubin_size = o.cubin_size;
  o.cubin = NULL;
  if (log) {
    *log = o.log;
    o.log = NULL;
  }
  dlg_jit_nvrtc_output_free(&o);
  return s;
}
