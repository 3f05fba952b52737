/* The disk cache without a GPU: miss then hit (no NVRTC on the hit), corrupt entries are
 * detected and rewritten, processes racing on one key all succeed and leave one valid entry,
 * and the key follows everything that changes the binary. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dlg_test.h"
#include "jit/jit_internal.h"
#include "jit/jit_test_env.h"

/* A private header tree for the probe kernel, so the test can change a header's text. */
static dlg_embedded_file_t g_headers[] = {
    {"test/probe_value.cuh", "#pragma once\n#define PROBE_VALUE 7\n", 0},
    {NULL, NULL, 0},
};
static const char k_source[] =
    "#include \"test/probe_value.cuh\"\n"
    "extern \"C\" __global__ void cache_probe(int* out) { *out = PROBE_VALUE; }\n";

static void set_header(const char* text) {
  g_headers[0].text = text;
  g_headers[0].size = strlen(text);
}

static dlg_kernel_spec_t probe_spec(void) {
  dlg_kernel_spec_t s = {k_source, "cache_probe", 90, 0};
  return s;
}

static long file_size(const char* path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Counts directory entries by kind: *.cubin entries and leftover tmp.* files. */
static void count_files(const char* dir, int* entries, int* temps) {
  *entries = *temps = 0;
  DIR* d = opendir(dir);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (strncmp(e->d_name, "tmp.", 4) == 0) ++*temps;
    else if (n > 6 && strcmp(e->d_name + n - 6, ".cubin") == 0) ++*entries;
  }
  closedir(d);
}

static void remove_tree(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return;
  struct dirent* e;
  char path[600];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* One lookup; returns from_disk (or -1 on failure) and checks the result is usable. */
static int lookup(const char* dir, const dlg_kernel_spec_t* spec) {
  dlg_cubin_t c;
  dlg_status_t s = dlg_jit_cache_get_cubin(dir, spec, NULL, &c);
  CHECK_OK(s);
  if (s != DLG_OK) return -1;
  CHECK(c.data != NULL && c.size > 64);
  CHECK(c.lowered_name && strcmp(c.lowered_name, "cache_probe") == 0);
  int from_disk = c.from_disk;
  dlg_cubin_free(&c);
  return from_disk;
}

static void miss_then_hit(const char* dir) {
  dlg_kernel_spec_t spec = probe_spec();
  uint64_t before = dlg_jit_compile_count();
  CHECK(lookup(dir, &spec) == 0); /* miss: compiled */
  CHECK(dlg_jit_compile_count() == before + 1);
  dlg_jit_key_t key;
  CHECK_OK(dlg_jit_cache_key(spec.source, spec.name, spec.arch, NULL, &key));
  char path[600];
  dlg_jit_cache_entry_path(dir, &key, path, sizeof path);
  CHECK(file_size(path) > 48);
  CHECK(lookup(dir, &spec) == 1); /* hit: read back, no NVRTC */
  CHECK(lookup(dir, &spec) == 1);
  CHECK(dlg_jit_compile_count() == before + 1);
  /* No disk cache: always compiles. */
  CHECK(lookup(NULL, &spec) == 0);
  CHECK(dlg_jit_compile_count() == before + 2);
}

typedef enum { TRUNCATE, FLIP_PAYLOAD, FLIP_HEADER, EMPTY, GARBAGE } damage_t;

static void damage(const char* path, damage_t how) {
  long size = file_size(path);
  if (how == TRUNCATE) {
    CHECK(truncate(path, size / 2) == 0);
    return;
  }
  int fd = open(path, how == EMPTY || how == GARBAGE ? O_WRONLY | O_TRUNC : O_RDWR);
  CHECK(fd >= 0);
  if (fd < 0) return;
  if (how == GARBAGE) {
    char junk[100];
    memset(junk, 'x', sizeof junk);
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
  } else if (how != EMPTY) {
    off_t at = how == FLIP_PAYLOAD ? (off_t)(size - 10) : 33; /* in the cubin / in the key */
    unsigned char b = 0;
    CHECK(pread(fd, &b, 1, at) == 1);
    b ^= 0x5a;
    CHECK(pwrite(fd, &b, 1, at) == 1);
  }
  close(fd);
}

static void corrupt_entries_are_rewritten(const char* dir) {
  dlg_kernel_spec_t spec = probe_spec();
  dlg_jit_key_t key;
  CHECK_OK(dlg_jit_cache_key(spec.source, spec.name, spec.arch, NULL, &key));
  char path[600];
  dlg_jit_cache_entry_path(dir, &key, path, sizeof path);
  CHECK(lookup(dir, &spec) >= 0);
  const long good = file_size(path);
  const damage_t kinds[] = {TRUNCATE, FLIP_PAYLOAD, FLIP_HEADER, EMPTY, GARBAGE};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i) {
    damage(path, kinds[i]);
    uint64_t before = dlg_jit_compile_count();
    CHECK(lookup(dir, &spec) == 0);                 /* detected: recompiled */
    CHECK(dlg_jit_compile_count() == before + 1);
    CHECK(file_size(path) == good);                 /* overwritten with a valid entry */
    CHECK(lookup(dir, &spec) == 1);                 /* and valid again */
  }
}

/* 4 processes compile the same key into a fresh directory at the same moment. */
static void racing_processes(const char* parent_dir) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/race/nested", parent_dir); /* also exercises mkdir -p */
  dlg_kernel_spec_t spec = probe_spec();
  int go[2];
  CHECK(pipe(go) == 0);
  enum { N = 4 };
  pid_t kids[N];
  for (int i = 0; i < N; ++i) {
    kids[i] = fork();
    if (kids[i] == 0) {
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) < 0) _exit(3); /* returns 0 when the parent closes the pipe */
      dlg_cubin_t cb;
      dlg_status_t s = dlg_jit_cache_get_cubin(dir, &spec, NULL, &cb);
      int ok = s == DLG_OK && cb.size > 64 && strcmp(cb.lowered_name, "cache_probe") == 0;
      if (!ok) fprintf(stderr, "child %d: %s\n", i, dlg_last_error());
      _exit(ok ? 0 : 1);
    }
  }
  close(go[0]);
  close(go[1]); /* start them all */
  for (int i = 0; i < N; ++i) {
    int status = 0;
    CHECK(kids[i] > 0 && waitpid(kids[i], &status, 0) == kids[i]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  int entries, temps;
  count_files(dir, &entries, &temps);
  CHECK(entries == 1);
  CHECK(temps == 0);
  uint64_t before = dlg_jit_compile_count();
  CHECK(lookup(dir, &spec) == 1);
  CHECK(dlg_jit_compile_count() == before);
  remove_tree(dir);
  snprintf(dir, sizeof dir, "%s/race", parent_dir);
  rmdir(dir);
}

static int key_equal(const dlg_jit_key_t* a, const dlg_jit_key_t* b) {
  return memcmp(a->bytes, b->bytes, 16) == 0;
}

static void key_follows_inputs(void) {
  dlg_jit_key_t base, k;
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 90, NULL, &base));
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 90, "", &k));
  CHECK(key_equal(&base, &k)); /* deterministic; "" == no extras */
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 90, "-lineinfo", &k));
  CHECK(!key_equal(&base, &k));
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 100, NULL, &k));
  CHECK(!key_equal(&base, &k));
  CHECK_OK(dlg_jit_cache_key(k_source, "other_name", 90, NULL, &k));
  CHECK(!key_equal(&base, &k));
  const char changed_src[] =
      "#include \"test/probe_value.cuh\"\n"
      "extern \"C\" __global__ void cache_probe(int* out) { *out = PROBE_VALUE + 1; }\n";
  CHECK_OK(dlg_jit_cache_key(changed_src, "cache_probe", 90, NULL, &k));
  CHECK(!key_equal(&base, &k));
  /* An included header's text is part of the key. */
  set_header("#pragma once\n#define PROBE_VALUE 8\n");
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 90, NULL, &k));
  CHECK(!key_equal(&base, &k));
  set_header("#pragma once\n#define PROBE_VALUE 7\n");
  CHECK_OK(dlg_jit_cache_key(k_source, "cache_probe", 90, NULL, &k));
  CHECK(key_equal(&base, &k));
  char hex[33];
  dlg_jit_key_hex(&base, hex);
  CHECK(strlen(hex) == 32);
}

static void options(void) {
  dlg_jit_options_t o;
  CHECK_OK(dlg_jit_build_options(90, "  -lineinfo\t-DFOO=1 ", &o));
  CHECK(o.argc == 6);
  CHECK(strcmp(o.argv[0], "--gpu-architecture=sm_90a") == 0);
  CHECK(o.argc == 6 && strcmp(o.argv[4], "-lineinfo") == 0 && strcmp(o.argv[5], "-DFOO=1") == 0);
  for (int i = 0; i < o.argc; ++i) CHECK(strstr(o.argv[i], "fast_math") == NULL);
  free(o.storage);
  CHECK_OK(dlg_jit_build_options(100, NULL, &o));
  CHECK(o.argc == 4 && strcmp(o.argv[0], "--gpu-architecture=sm_100a") == 0);
  free(o.storage);
  CHECK_STATUS(dlg_jit_build_options(9, NULL, &o), DLG_ERR_INVALID_ARGUMENT);
}

static void unwritable_dir_still_compiles(void) {
  dlg_kernel_spec_t spec = probe_spec();
  CHECK(lookup("/proc/dlgemm-cache-test-cannot-exist", &spec) == 0);
}

static void header_collection(void) {
  dlg_jit_headers_t h;
  CHECK_OK(dlg_jit_collect_headers("#include \"portable_generic_gemm.cuh\"\n", &h));
  int has_types = 0;
  for (int i = 0; i < h.count; ++i) has_types |= strcmp(h.files[i]->path, "common/types.cuh") == 0;
  CHECK(h.count >= 2 && strcmp(h.files[0]->path, "portable_generic_gemm.cuh") == 0);
  CHECK(has_types);
  /* Unknown and system includes are left to NVRTC; whitespace variants are recognised. */
  CHECK_OK(dlg_jit_collect_headers("#include <nope.h>\n  #  include \"test/probe_value.cuh\"\n"
                                   "#include \"missing.cuh\"\n",
                                   &h));
  CHECK(h.count == 1);
}

int main(void) {
  dlg_test_jit_env();
  set_header("#pragma once\n#define PROBE_VALUE 7\n");
  dlg_jit_set_header_override(g_headers);
  char dir[] = "/tmp/dlg_cache_test.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  miss_then_hit(dir);
  corrupt_entries_are_rewritten(dir);
  racing_processes(dir);
  key_follows_inputs();
  options();
  unwritable_dir_still_compiles();
  header_collection();
  remove_tree(dir);
  return dlg_test_finish("cache_test");
}
