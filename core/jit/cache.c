/* The disk cache of compiled kernels: <cache_dir>/<key>.cubin.
 *
 * Key: FNV-1a-128 over length-prefixed fields — a format tag, the library version, the NVRTC
 * version, arch, every NVRTC option, the kernel name, the source and, for every embedded
 * header it includes (recursively), the header's path and text. Any change to a kernel file
 * therefore changes the key of every kernel that includes it.
 *
 * Entry: a 48-byte header (magic "DLGJITC\0", format version, lowered-name length, cubin
 * size, FNV-1a-64 checksum of name + cubin, the key) then the lowered kernel name and the
 * cubin. A truncated, corrupted or foreign file fails validation and is recompiled and
 * overwritten. Entries are published by writing a private temporary file in the same
 * directory and rename()ing it over the final name, so readers only ever see complete files
 * and any number of processes may race to publish the same key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "jit/jit_internal.h"

#define DLG_CACHE_MAGIC "DLGJITC"
#define DLG_CACHE_FORMAT 1u
#define DLG_CACHE_HEADER 48

/* ---- hashing ---- */

__extension__ typedef unsigned __int128 dlg_u128;

uint64_t dlg_fnv1a64(uint64_t h, const void* data, size_t n) {
  const unsigned char* p = data;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

typedef struct fnv128 {
  dlg_u128 h;
} fnv128_t;

static void fnv128_init(fnv128_t* f) {
  f->h = ((dlg_u128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
}

static void fnv128_bytes(fnv128_t* f, const void* data, size_t n) {
  const dlg_u128 prime = ((dlg_u128)0x0000000001000000ull << 64) | 0x000000000000013Bull;
  const unsigned char* p = data;
  dlg_u128 h = f->h;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= prime;
  }
  f->h = h;
}

/* A field: its length (8 bytes, little-endian) then its bytes, so fields cannot run into
 * each other ("ab","c" != "a","bc"). */
static void fnv128_field(fnv128_t* f, const char* s, size_t n) {
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
  fnv128_bytes(f, len, 8);
  fnv128_bytes(f, s, n);
}
static void fnv128_str(fnv128_t* f, const char* s) { fnv128_field(f, s ? s : "", s ? strlen(s) : 0); }

dlg_status_t dlg_jit_cache_key(const char* source, const char* name, int arch,
                               const char* extra_options, dlg_jit_key_t* out) {
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
  char buf[64];
  fnv128_t f;
  fnv128_init(&f);
  fnv128_str(&f, "dlgemm-jit-key-v1");
  fnv128_str(&f, DLG_VERSION_STRING);
  snprintf(buf, sizeof buf, "nvrtc %d.%d arch %d", nv->major, nv->minor, arch);
  fnv128_str(&f, buf);
  for (int i = 0; i < opts.argc; ++i) fnv128_str(&f, opts.argv[i]);
  fnv128_str(&f, name);
  fnv128_str(&f, source);
  for (int i = 0; i < hdr.count; ++i) {
    fnv128_str(&f, hdr.files[i]->path);
    fnv128_field(&f, hdr.files[i]->text, hdr.files[i]->size);
  }
  free(opts.storage);
  for (int i = 0; i < 16; ++i) out->bytes[i] = (uint8_t)(f.h >> (8 * (15 - i)));
  return DLG_OK;
}

void dlg_jit_key_hex(const dlg_jit_key_t* key, char out[33]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = digits[key->bytes[i] >> 4];
    out[2 * i + 1] = digits[key->bytes[i] & 15];
  }
  out[32] = '\0';
}

void dlg_jit_cache_entry_path(const char* cache_dir, const dlg_jit_key_t* key, char* buf,
                              size_t cap) {
  char hex[33];
  dlg_jit_key_hex(key, hex);
  snprintf(buf, cap, "%s/%s.cubin", cache_dir, hex);
}

void dlg_cubin_free(dlg_cubin_t* c) {
  if (!c) return;
  free(c->data);
  free(c->lowered_name);
  memset(c, 0, sizeof *c);
}

/* ---- files ---- */

static void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* mkdir -p. Returns 0 or an errno. */
static int make_dirs(const char* dir) {
  char path[1024];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return ENAMETOOLONG;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char saved = path[i];
    path[i] = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return errno;
    path[i] = saved;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0) return errno;
  return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

static int write_all(int fd, const void* data, size_t n) {
  const char* p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Publishes parts[0..count) concatenated as `final_path` atomically. 0 or an errno. */
static int publish(const char* dir, const char* final_path, const void* const* parts,
                   const size_t* sizes, int count) {
  int err = make_dirs(dir);
  if (err) return err;
  static uint64_t counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t salt = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                  (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull);
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s/tmp.%ld.%ld.%016llx", dir, (long)getpid(),
           (long)syscall(SYS_gettid), (unsigned long long)dlg_fnv1a64(DLG_FNV64_INIT, &salt, 8));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  for (int i = 0; i < count && !err; ++i) err = write_all(fd, parts[i], sizes[i]);
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(tmp, final_path) != 0) err = errno;
  if (err) unlink(tmp);
  return err;
}

static void warn_unwritable(const char* dir, int err) {
  static int warned;
  if (dlg_jit_debug()) {
    dlg_jit_log("cannot write to cache dir %s: %s", dir, strerror(err));
  } else if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
    fprintf(stderr,
            "dlgemm: warning: cannot write the JIT cache directory %s (%s); compiled kernels "
            "will not be kept across runs (set DLG_JIT_CACHE_DIR)\n",
            dir, strerror(err));
  }
}

/* Reads and validates an entry. 0: valid (out filled), 1: absent, 2: invalid (why set). */
static int read_entry(const char* path, const dlg_jit_key_t* key, dlg_cubin_t* out,
                      const char** why) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  struct stat sb;
  unsigned char* buf = NULL;
  int rc = 2;
  *why = "unreadable";
  if (fstat(fd, &sb) != 0 || sb.st_size < DLG_CACHE_HEADER || sb.st_size > (1ll << 31)) {
    *why = "too short";
    goto out;
  }
  size_t size = (size_t)sb.st_size;
  if (!(buf = malloc(size))) goto out;
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (got != size) goto out;
  uint32_t name_len = get_u32(buf + 12);
  uint64_t cubin_size = get_u64(buf + 16);
  if (memcmp(buf, DLG_CACHE_MAGIC, 8) != 0 || get_u32(buf + 8) != DLG_CACHE_FORMAT) {
    *why = "bad magic or format version";
    goto out;
  }
  if (memcmp(buf + 32, key->bytes, 16) != 0) {
    *why = "key mismatch";
    goto out;
  }
  if (cubin_size == 0 || name_len == 0 || (uint64_t)DLG_CACHE_HEADER + name_len + cubin_size != size) {
    *why = "size mismatch (truncated?)";
    goto out;
  }
  if (dlg_fnv1a64(DLG_FNV64_INIT, buf + DLG_CACHE_HEADER, size - DLG_CACHE_HEADER) != get_u64(buf + 24)) {
    *why = "checksum mismatch";
    goto out;
  }
  out->lowered_name = malloc(name_len + 1);
  out->data = malloc(cubin_size);
  if (!out->lowered_name || !out->data) {
    dlg_cubin_free(out);
    *why = "out of memory";
    goto out;
  }
  memcpy(out->lowered_name, buf + DLG_CACHE_HEADER, name_len);
  out->lowered_name[name_len] = '\0';
  memcpy(out->data, buf + DLG_CACHE_HEADER + name_len, cubin_size);
  out->size = cubin_size;
  rc = 0;
out:
  free(buf);
  close(fd);
  return rc;
}

static int write_entry(const char* dir, const char* path, const dlg_jit_key_t* key,
                       const dlg_cubin_t* c) {
  size_t name_len = strlen(c->lowered_name);
  unsigned char hdr[DLG_CACHE_HEADER];
  memset(hdr, 0, sizeof hdr);
  memcpy(hdr, DLG_CACHE_MAGIC, 8);
  put_u32(hdr + 8, DLG_CACHE_FORMAT);
  put_u32(hdr + 12, (uint32_t)name_len);
  put_u64(hdr + 16, c->size);
  uint64_t sum = dlg_fnv1a64(DLG_FNV64_INIT, c->lowered_name, name_len);
  put_u64(hdr + 24, dlg_fnv1a64(sum, c->data, c->size));
  memcpy(hdr + 32, key->bytes, 16);
  const void* parts[] = {hdr, c->lowered_name, c->data};
  size_t sizes[] = {sizeof hdr, name_len, c->size};
  return publish(dir, path, parts, sizes, 3);
}

static int env_flag(const char* name) {
  const char* v = getenv(name);
  return v && v[0] && strcmp(v, "0") != 0;
}

static int file_exists(const char* path) { return access(path, F_OK) == 0; }

/* DLG_JIT_DUMP_PTX / DLG_JIT_DUMP_SASS: <key>.ptx, <key>.elf.cubin (the bare cubin) and
 * <key>.sass beside the entry. */
static void dump_paths(const char* dir, const dlg_jit_key_t* key, char* ptx, char* elf,
                       char* sass, size_t cap) {
  char hex[33];
  dlg_jit_key_hex(key, hex);
  snprintf(ptx, cap, "%s/%s.ptx", dir, hex);
  snprintf(elf, cap, "%s/%s.elf.cubin", dir, hex);
  snprintf(sass, cap, "%s/%s.sass", dir, hex);
}

static void write_dumps(const char* dir, const dlg_jit_key_t* key, const dlg_nvrtc_output_t* o,
                        int want_ptx, int want_sass) {
  char ptx[1100], elf[1100], sass[1100];
  dump_paths(dir, key, ptx, elf, sass, sizeof ptx);
  if (want_ptx && o->ptx) {
    const void* parts[] = {o->ptx};
    size_t sizes[] = {strlen(o->ptx)};
    int err = publish(dir, ptx, parts, sizes, 1);
    if (dlg_jit_debug()) dlg_jit_log("PTX dump %s: %s", ptx, err ? strerror(err) : "written");
  }
  if (want_sass) {
    const void* parts[] = {o->cubin};
    size_t sizes[] = {o->cubin_size};
    int err = publish(dir, elf, parts, sizes, 1);
    if (err) {
      if (dlg_jit_debug()) dlg_jit_log("cubin dump %s: %s", elf, strerror(err));
      return;
    }
    if (!dlg_jit_cuobjdump_path()) {
      if (dlg_jit_debug()) dlg_jit_log("no cuobjdump on PATH or $DLG_CUOBJDUMP: SASS not dumped (cubin at %s)", elf);
      return;
    }
    int rc = dlg_jit_run_cuobjdump(elf, sass);
    if (dlg_jit_debug()) dlg_jit_log("SASS dump %s: %s", sass, rc == 0 ? "written" : "cuobjdump failed");
  }
}

dlg_status_t dlg_jit_cache_get_cubin(const char* cache_dir, const dlg_kernel_spec_t* spec,
                                     const char* extra_options, dlg_cubin_t* out) {
  if (!out) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "out: must not be NULL");
  memset(out, 0, sizeof *out);
  if (!spec || !spec->source || !spec->name || !spec->name[0])
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "spec: source and name must be set");
  dlg_jit_key_t key;
  dlg_status_t s = dlg_jit_cache_key(spec->source, spec->name, spec->arch, extra_options, &key);
  if (s != DLG_OK) return s;
  char hex[33];
  dlg_jit_key_hex(&key, hex);
  int want_ptx = env_flag("DLG_JIT_DUMP_PTX"), want_sass = env_flag("DLG_JIT_DUMP_SASS");
  char path[1100] = "";
  if (cache_dir && cache_dir[0]) {
    dlg_jit_cache_entry_path(cache_dir, &key, path, sizeof path);
    const char* why = NULL;
    int rc = read_entry(path, &key, out, &why);
    if (rc == 0) {
      char ptx[1100], elf[1100], sass[1100];
      dump_paths(cache_dir, &key, ptx, elf, sass, sizeof ptx);
      int dumps_missing = (want_ptx && !file_exists(ptx)) || (want_sass && !file_exists(elf));
      if (!dumps_missing) {
        out->key = key;
        out->from_disk = 1;
        if (dlg_jit_debug()) dlg_jit_log("disk cache hit %s (%s, sm_%d)", path, spec->name, spec->arch);
        return DLG_OK;
      }
      dlg_cubin_free(out);
      if (dlg_jit_debug()) dlg_jit_log("recompiling %s to write the requested dumps", hex);
    } else if (rc == 2 && dlg_jit_debug()) {
      dlg_jit_log("invalid cache entry %s (%s): recompiling", path, why);
    }
  }
  dlg_nvrtc_output_t o;
  if ((s = dlg_jit_nvrtc_compile(spec->source, spec->name, spec->arch, extra_options, want_ptx,
                                 &o)) != DLG_OK) {
    dlg_jit_nvrtc_output_free(&o);
    return s;
  }
  out->data = o.cubin;
  out->size = o.cubin_size;
  out->lowered_name = o.lowered_name;
  out->key = key;
  o.cubin = NULL;
  o.lowered_name = NULL;
  if (path[0]) {
    int err = write_entry(cache_dir, path, &key, out);
    if (err) warn_unwritable(cache_dir, err);
    else if (dlg_jit_debug()) dlg_jit_log("cached %s (%zu bytes)", path, out->size);
    if (want_ptx || want_sass) {
      o.cubin = out->data; /* borrowed for the dump */
      o.cubin_size = out->size;
      write_dumps(cache_dir, &key, &o, want_ptx, want_sass);
      o.cubin = NULL;
    }
  }
  dlg_jit_nvrtc_output_free(&o);
  return DLG_OK;
}
