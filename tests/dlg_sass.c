#define _GNU_SOURCE /* mkdtemp, popen */
#include "dlg_sass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dlg_test.h"
#include "jit/jit.h"
#include "jit/jit_internal.h"

int dlg_test_count(const char* hay, const char* needle) {
  int n = 0;
  for (const char* p = strstr(hay, needle); p; p = strstr(p + 1, needle)) ++n;
  return n;
}

char* dlg_test_read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* s = malloc((size_t)(n > 0 ? n : 0) + 1);
  if (s && (n <= 0 || fread(s, 1, (size_t)n, f) != (size_t)n)) n = 0;
  if (s) s[n > 0 ? n : 0] = '\0';
  fclose(f);
  return s;
}

/* `cuobjdump -res-usage`: "REG:168 STACK:0 SHARED:0 LOCAL:0 ..." of the (only) function. */
static int res_usage(const char* cubin_path, dlg_test_sass_t* out) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' -res-usage '%s' 2>/dev/null", dlg_jit_cuobjdump_path(),
           cubin_path);
  FILE* p = popen(cmd, "r");
  if (!p) return 0;
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof line, p)) {
    const char* r = strstr(line, "REG:");
    const char* l = strstr(line, "LOCAL:");
    if (!r || !l) continue;
    found = sscanf(r, "REG:%d STACK:%d", &out->regs, &out->stack) == 2 &&
            sscanf(l, "LOCAL:%d", &out->local) == 1;
  }
  pclose(p);
  return found;
}

int dlg_test_compile_sass(const char* name, const char* source, int arch, dlg_test_sass_t* out) {
  memset(out, 0, sizeof *out);
  out->regs = out->stack = out->local = -1;
  void* cubin = NULL;
  size_t size = 0;
  char* log = NULL;
  dlg_status_t s = dlg_jit_compile_only(source, name, arch, NULL, &cubin, &size, &log);
  CHECK(s == DLG_OK);
  if (s != DLG_OK) {
    fprintf(stderr, "  %s: %s\n%s\n", name, dlg_last_error(), log ? log : "");
    free(log);
    return 0;
  }
  const int serialized = log && strstr(log, "serializ") != NULL;
  CHECK(!serialized);
  if (serialized) fprintf(stderr, "  %s: %s\n", name, log);
  free(log);
  if (!dlg_jit_cuobjdump_path()) {
    printf("  compiled %s (no cuobjdump: SASS not checked)\n", name);
    free(cubin);
    return 0;
  }
  char dir[] = "/tmp/dlg_sass_test.XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0);
    free(cubin);
    return 0;
  }
  char cubin_path[128], sass_path[128];
  snprintf(cubin_path, sizeof cubin_path, "%s/k.cubin", dir);
  snprintf(sass_path, sizeof sass_path, "%s/k.sass", dir);
  FILE* f = fopen(cubin_path, "wb");
  CHECK(f && fwrite(cubin, 1, size, f) == size);
  if (f) fclose(f);
  free(cubin);
  const int dumped = dlg_jit_run_cuobjdump(cubin_path, sass_path) == 0;
  CHECK(dumped);
  out->text = dumped ? dlg_test_read_file(sass_path) : NULL;
  CHECK(res_usage(cubin_path, out));
  /* Kept for a look when a check failed (the path is in the messages above). */
  if (dlg_test_failures == 0) {
    unlink(cubin_path);
    unlink(sass_path);
    rmdir(dir);
  } else {
    fprintf(stderr, "  %s: cubin and SASS kept in %s\n", name, dir);
  }
  return out->text != NULL;
}

void dlg_test_sass_free(dlg_test_sass_t* s) {
  if (!s) return;
  free(s->text);
  s->text = NULL;
}
