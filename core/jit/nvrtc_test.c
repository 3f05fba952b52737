/* Compiles every embedded kernel with NVRTC for the arch(es) it targets and, when a
 * cuobjdump is available ($DLG_CUOBJDUMP, set by scripts/env.sh), checks its SASS.
 *
 * Which files: every embedded file whose base name starts with
 *     sm90_      -> compiled for sm_90a
 *     sm100_     -> compiled for sm_100a
 *     portable_  -> compiled for both
 * and that contains "__global__".
 *
 * CONVENTION for kernel files (so templates get instantiated): each line
 *     // DLG_TEST_INSTANTIATION: <name expression>
 * e.g. `// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<128, 256, 4, 1, 2, 16, dlg_bf16, 0>`, is one
 * compilation of the file in which NVRTC instantiates that kernel (nvrtcAddNameExpression,
 * exactly as a launcher names it); lines
 *     // DLG_TEST_SOURCE: <source line>
 * are appended verbatim after `#include "<file>"` (for anything else a test build needs).
 * Every compilation defines DLG_COMPILE_TEST=1, so an `#ifdef DLG_COMPILE_TEST` block works
 * too. A file without instantiation lines is compiled once as is (fine for non-template
 * extern "C" kernels); a cubin without any function fails the SASS check.
 *
 * SASS rules (k_rules below): sm90_ files that use wgmma must contain a GMMA instruction
 * (QGMMA for FP8, HGMMA for BF16) and no local-memory traffic (LDL / STL: spills or stack
 * arrays); the portable GEMM must use separate FMUL/FADD (never FFMA: its numerics are the
 * CPU reference's, bit for bit) and no local memory. The test also checks that NVRTC rejects wgmma for sm_100a (it does not exist
 * there) and the error path of a broken source.
 *
 * Kernel work: DLG_NVRTC_TEST_ONLY=<path substring> compiles one file only,
 * DLG_NVRTC_TEST_KEEP=1 keeps every SASS listing (paths printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dlg_sass.h"
#include "dlg_test.h"
#include "jit/jit_internal.h"
#include "jit/jit_test_env.h"

typedef struct sass_rule {
  const char* path;        /* embedded path, or NULL for "every sm90_ file using wgmma" */
  const char* must[3];     /* each must occur (substring of an opcode) */
  const char* must_not[3]; /* opcodes that must not occur */
} sass_rule_t;

static const sass_rule_t k_rules[] = {
    {NULL, {"GMMA"}, {"LDL", "STL"}},
    {"sm90_fp8_gemm_1d2d.cuh", {"QGMMA"}, {"LDL", "STL"}},
    {"sm90_bf16_gemm.cuh", {"HGMMA"}, {"LDL", "STL"}},
    /* Exact reference numerics: explicit FMUL + FADD, never a contracted FFMA. */
    {"portable_generic_gemm.cuh", {"FMUL", "FADD"}, {"LDL", "STL", "FFMA"}},
};

/* An opcode in cuobjdump's listing: preceded by a space, followed by '.', ' ' or ';'. For
 * "GMMA" any prefix letter is allowed (HGMMA, QGMMA, ...). */
static int sass_has(const char* sass, const char* op) {
  size_t n = strlen(op);
  for (const char* p = strstr(sass, op); p; p = strstr(p + 1, op)) {
    char after = p[n];
    int prefix_ok = strcmp(op, "GMMA") == 0 || (p > sass && p[-1] == ' ');
    if (prefix_ok && (after == '.' || after == ' ' || after == ';')) return 1;
  }
  return 0;
}

static const char* base_name(const char* path) {
  const char* s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The text after `tag` on each line of f that has it, in order (at most `cap`). */
static int tagged_lines(const dlg_embedded_file_t* f, const char* tag, char lines[][256], int cap) {
  int n = 0;
  const int seen = dlg_test_count(f->text, tag);
  size_t tl = strlen(tag);
  /* More tagged lines than the test holds would be dropped without a word: fail instead. */
  if (seen > cap) fprintf(stderr, "  %s: %d lines tagged '%s', the test takes %d\n", f->path, seen, tag, cap);
  CHECK(seen <= cap);
  for (const char* p = strstr(f->text, tag); p && n < cap; p = strstr(p + 1, tag)) {
    const char* line = p + tl;
    while (*line == ' ') ++line;
    size_t len = strcspn(line, "\n");
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r')) --len;
    snprintf(lines[n++], 256, "%.*s", (int)len, line);
  }
  return n;
}

/* The translation unit for a kernel file (see the convention above). */
static char* test_source(const dlg_embedded_file_t* f) {
  char lines[16][256];
  int n = tagged_lines(f, "// DLG_TEST_SOURCE:", lines, 16);
  size_t cap = strlen(f->path) + 64 + 257 * (size_t)n;
  char* src = malloc(cap);
  if (!src) return NULL;
  size_t w = (size_t)snprintf(src, cap, "#include \"%s\"\n", f->path);
  for (int i = 0; i < n; ++i) w += (size_t)snprintf(src + w, cap - w, "%s\n", lines[i]);
  return src;
}

static void check_sass(const dlg_embedded_file_t* f, int arch, const void* cubin, size_t size) {
  if (!dlg_jit_cuobjdump_path()) return;
  char dir[] = "/tmp/dlg_nvrtc_test.XXXXXX";
  if (!mkdtemp(dir)) return;
  char cubin_path[128], sass_path[128];
  snprintf(cubin_path, sizeof cubin_path, "%s/k.cubin", dir);
  snprintf(sass_path, sizeof sass_path, "%s/k.sass", dir);
  FILE* out = fopen(cubin_path, "wb");
  CHECK(out != NULL);
  if (!out) return;
  CHECK(fwrite(cubin, 1, size, out) == size);
  fclose(out);
  CHECK(dlg_jit_run_cuobjdump(cubin_path, sass_path) == 0);
  char* sass = dlg_test_read_file(sass_path);
  CHECK(sass != NULL);
  if (sass) {
    CHECK(strstr(sass, "Function :") != NULL); /* at least one kernel was instantiated */
    /* (the dense FP8 kernels' wgmma is in their shared body) */
    int uses_wgmma = strncmp(base_name(f->path), "sm90_", 5) == 0 &&
                     (strstr(f->text, "wgmma") || strstr(f->text, "common/fp8_gemm_body.cuh"));
    for (size_t r = 0; r < sizeof k_rules / sizeof k_rules[0]; ++r) {
      const sass_rule_t* rule = &k_rules[r];
      if (rule->path ? strcmp(rule->path, f->path) != 0 : !uses_wgmma) continue;
      for (int i = 0; i < 3 && rule->must[i]; ++i) {
        int ok = sass_has(sass, rule->must[i]);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  %s sm_%d: SASS lacks %s\n", f->path, arch, rule->must[i]);
      }
      for (int i = 0; i < 3 && rule->must_not[i]; ++i) {
        int bad = sass_has(sass, rule->must_not[i]);
        CHECK(!bad);
        if (bad) fprintf(stderr, "  %s sm_%d: SASS contains %s (see %s)\n", f->path, arch,
                         rule->must_not[i], sass_path);
      }
    }
  }
  free(sass);
  if (getenv("DLG_NVRTC_TEST_KEEP")) { /* kernel work: keep the listing to read */
    printf("  SASS kept: %s\n", sass_path);
    return;
  }
  if (dlg_test_failures == 0) {
    unlink(cubin_path);
    unlink(sass_path);
    rmdir(dir);
  }
}

static void compile_kernel_files(void) {
  int compiled = 0;
  for (const dlg_embedded_file_t* f = dlg_embedded_files; f->path; ++f) {
    const char* base = base_name(f->path);
    int arches[2], n = 0;
    if (strncmp(base, "sm90_", 5) == 0) arches[n++] = 90;
    else if (strncmp(base, "sm100_", 6) == 0) arches[n++] = 100;
    else if (strncmp(base, "portable_", 9) == 0) {
      arches[n++] = 90;
      arches[n++] = 100;
    }
    if (n == 0 || !strstr(f->text, "__global__")) continue;
    /* DLG_NVRTC_TEST_ONLY=<substring of the path>: one kernel file (kernel work). */
    const char* only = getenv("DLG_NVRTC_TEST_ONLY");
    if (only && !strstr(f->path, only)) continue;
    char* src = test_source(f);
    CHECK(src != NULL);
    char names[16][256];
    int n_names = tagged_lines(f, "// DLG_TEST_INSTANTIATION:", names, 16);
    for (int i = 0; src && i < n; ++i) {
      for (int j = 0; j < (n_names ? n_names : 1); ++j) {
        const char* name = n_names ? names[j] : NULL;
        void* cubin = NULL;
        size_t size = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        dlg_status_t s = dlg_jit_compile_only(src, name, arches[i], "-DDLG_COMPILE_TEST=1",
                                              &cubin, &size, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
        CHECK(s == DLG_OK);
        if (s != DLG_OK) {
          fprintf(stderr, "  %s sm_%d [%s]: %s\n", f->path, arches[i], name ? name : "-",
                  dlg_last_error());
        } else {
          /* (the time: NVRTC on this machine's CPU, the cold-compile figure of issue 3) */
          printf("  compiled %s for sm_%da [%s]: %zu bytes, %.0f ms\n", f->path, arches[i],
                 name ? name : "as is", size, ms);
          check_sass(f, arches[i], cubin, size);
          ++compiled;
        }
        free(cubin);
      }
    }
    free(src);
  }
  if (!getenv("DLG_NVRTC_TEST_ONLY")) CHECK(compiled >= 2); /* the portable GEMM, both arches */
  if (!dlg_jit_cuobjdump_path()) printf("  (no cuobjdump: SASS checks skipped)\n");
}

static void wgmma_is_rejected_on_sm100(void) {
  const char* src =
      "extern \"C\" __global__ void wgmma_probe() { asm volatile(\"wgmma.fence.sync.aligned;\"); }\n";
  void* cubin = NULL;
  size_t size = 0;
  char* log = NULL;
  CHECK_OK(dlg_jit_compile_only(src, "wgmma_probe", 90, NULL, &cubin, &size, &log));
  CHECK(cubin != NULL && size > 0);
  free(cubin);
  free(log);
  cubin = NULL;
  log = NULL;
  CHECK_STATUS(dlg_jit_compile_only(src, "wgmma_probe", 100, NULL, &cubin, &size, &log),
               DLG_ERR_COMPILE);
  CHECK(cubin == NULL);
  CHECK(log != NULL && strstr(log, "wgmma") != NULL);
  CHECK(strstr(dlg_last_error(), "sm_100a") != NULL);
  free(log);
}

static void errors_and_names(void) {
  void* cubin = NULL;
  size_t size = 0;
  char* log = NULL;
  /* A syntax error: DLG_ERR_COMPILE with the log's first lines in the message. */
  CHECK_STATUS(dlg_jit_compile_only("extern \"C\" __global__ void broken( { }", "broken", 90, NULL,
                                    &cubin, &size, &log),
               DLG_ERR_COMPILE);
  CHECK(strstr(dlg_last_error(), "error") != NULL);
  free(log);
  /* A missing kernel name is reported as such. */
  CHECK_STATUS(dlg_jit_compile_only("extern \"C\" __global__ void present() {}", "absent", 90,
                                    NULL, &cubin, &size, NULL),
               DLG_ERR_COMPILE);
  /* Bad arch / options. */
  CHECK_STATUS(dlg_jit_compile_only("", "k", 7, NULL, &cubin, &size, NULL), DLG_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(dlg_jit_compile_only("extern \"C\" __global__ void k() {}", "k", 90,
                                    "--no-such-option", &cubin, &size, NULL),
               DLG_ERR_COMPILE);
  /* Template kernels are looked up through name expressions. */
  dlg_nvrtc_output_t o;
  CHECK_OK(dlg_jit_nvrtc_compile(
      "template <int N> __global__ void tk(int* p) { *p = N; }\n", "tk<3>", 90, NULL, 1, &o));
  CHECK(o.lowered_name && strcmp(o.lowered_name, "_Z2tkILi3EEvPi") == 0);
  CHECK(o.ptx && strstr(o.ptx, ".target sm_90a") != NULL);
  dlg_jit_nvrtc_output_free(&o);
  /* Embedded headers resolve, and types.cuh's conversions compile for both arches. */
  const char* conv =
      "#include \"common/types.cuh\"\n"
      "extern \"C\" __global__ void conv(const uint8_t* x, uint16_t* y, uint8_t* z) {\n"
      "  float2 f = dlg_e4m3x2_bits_to_float2(x[0] | (x[1] << 8));\n"
      "  y[0] = dlg_float_to_bf16_bits(f.x + f.y);\n"
      "  z[0] = dlg_float_to_e4m3_bits(f.x * dlg_ue8m0_to_float(x[2]));\n"
      "}\n";
  for (int arch = 90; arch <= 100; arch += 10) {
    CHECK_OK(dlg_jit_compile_only(conv, "conv", arch, NULL, &cubin, &size, NULL));
    free(cubin);
  }
}

int main(void) {
  dlg_test_jit_env();
  const dlg_nvrtc_api_t* nv;
  dlg_status_t s = dlg_nvrtc_open(&nv);
  CHECK_OK(s);
  if (s != DLG_OK) return dlg_test_finish("nvrtc_test");
  printf("NVRTC %d.%d at %s\n", nv->major, nv->minor, nv->path);
  compile_kernel_files();
  wgmma_is_rejected_on_sm100();
  errors_and_names();
  return dlg_test_finish("nvrtc_test");
}
