/* CUPTI through dlopen: kernel records tied to timed calls by external correlation ids. */
#define _GNU_SOURCE /* popen, dladdr */
#include "cupti.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !DLG_BENCH_HAVE_CUPTI

int bench_cupti_available(void) { return 0; }
const char* bench_cupti_describe(void) {
  return "not available (dlgemm_bench was built without the CUPTI headers)";
}
uint64_t bench_cupti_reserve_ids(int n) { return (void)n, 1; }
int bench_cupti_begin(char* why, size_t cap) {
  snprintf(why, cap, "CUPTI not built in");
  return -1;
}
void bench_cupti_discard(void) {}
int bench_cupti_push(uint64_t id) { return (void)id, -1; }
void bench_cupti_pop(void) {}
int bench_cupti_end(uint64_t first_id, int n, bench_kernel_span_t* spans, const char** method,
                    char* why, size_t cap) {
  (void)first_id, (void)n, (void)spans, (void)method;
  snprintf(why, cap, "CUPTI not built in");
  return -1;
}

#else /* DLG_BENCH_HAVE_CUPTI */

#include <dlfcn.h>
#include <pthread.h>
#include <cupti_activity.h>
#include <cupti_version.h>

static char g_describe[512];
static char g_path[1024]; /* the library opened */

/* Our ids are pushed under this kind; other tools use the others. */
#define OUR_KIND CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0
/* The record layout the headers give for CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL. A library of
 * another major version may emit another layout: bench_cupti_available() refuses it. */
typedef CUpti_ActivityKernel10 kernel_record_t;
#define BUFFER_BYTES ((size_t)4 << 20)

/* The entry points, typed from the headers' own prototypes. */
typedef struct cupti_api {
  __typeof__(cuptiGetVersion)* get_version;
  __typeof__(cuptiGetResultString)* result_string;
  __typeof__(cuptiActivityRegisterCallbacks)* register_callbacks;
  __typeof__(cuptiActivityEnable)* enable;
  __typeof__(cuptiActivityDisable)* disable;
  __typeof__(cuptiActivityFlushAll)* flush_all;
  __typeof__(cuptiActivityGetNextRecord)* next_record;
  __typeof__(cuptiActivityPushExternalCorrelationId)* push_id;
  __typeof__(cuptiActivityPopExternalCorrelationId)* pop_id;
} cupti_api_t;

/* Kernel records, and (correlation id -> external id) records of our kind. */
typedef struct kernel_rec {
  uint32_t correlation;
  uint64_t start, end;
} kernel_rec_t;
typedef struct ext_rec {
  uint32_t correlation;
  uint64_t external;
} ext_rec_t;

static struct {
  int tried, ok;
  void* handle;
  cupti_api_t api;
  uint64_t next_id;
  /* Filled by the buffer-completed callback, which CUPTI may call from its own thread. */
  pthread_mutex_t lock;
  kernel_rec_t* kernels;
  size_t n_kernels, cap_kernels;
  ext_rec_t* exts;
  size_t n_exts, cap_exts;
  int out_of_memory;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1};

/* The kinds enabled while a timing runs. DRIVER and RUNTIME: CUPTI writes an external
 * correlation record for each API record made inside a pushed region, so the API kinds must be
 * on for the kernels' correlation ids to be mapped to our ids. */
static const CUpti_ActivityKind kKinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
    CUPTI_ACTIVITY_KIND_DRIVER, CUPTI_ACTIVITY_KIND_RUNTIME};
#define N_KINDS (sizeof kKinds / sizeof kKinds[0])

static const char* result_text(CUptiResult r) {
  static _Thread_local char buf[48];
  const char* s = NULL;
  if (g.api.result_string && g.api.result_string(r, &s) == CUPTI_SUCCESS && s) return s;
  snprintf(buf, sizeof buf, "CUptiResult %d", (int)r);
  return buf;
}

static int grow(void** arr, size_t* cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? 2 * *cap : 4096;
  while (n < need) n *= 2;
  void* p = realloc(*arr, n * elem);
  if (!p) return -1;
  *arr = p;
  *cap = n;
  return 0;
}

static void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  /* Records are 8-byte aligned inside the buffer; malloc's alignment covers that. */
  *buffer = malloc(BUFFER_BYTES);
  *size = *buffer ? BUFFER_BYTES : 0;
  *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream_id, uint8_t* buffer,
                                      size_t size, size_t valid) {
  (void)ctx, (void)stream_id, (void)size;
  CUpti_Activity* rec = NULL;
  pthread_mutex_lock(&g.lock);
  while (g.api.next_record(buffer, valid, &rec) == CUPTI_SUCCESS) {
    if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL ||
        rec->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
      const kernel_record_t* k = (const kernel_record_t*)(const void*)rec;
      if (grow((void**)&g.kernels, &g.cap_kernels, g.n_kernels + 1, sizeof *g.kernels) != 0) {
        g.out_of_memory = 1;
        continue;
      }
      g.kernels[g.n_kernels++] = (kernel_rec_t){k->correlationId, k->start, k->end};
    } else if (rec->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
      const CUpti_ActivityExternalCorrelation* x =
          (const CUpti_ActivityExternalCorrelation*)(const void*)rec;
      if (x->externalKind != OUR_KIND) continue;
      if (grow((void**)&g.exts, &g.cap_exts, g.n_exts + 1, sizeof *g.exts) != 0) {
        g.out_of_memory = 1;
        continue;
      }
      g.exts[g.n_exts++] = (ext_rec_t){x->correlationId, x->externalId};
    }
  }
  pthread_mutex_unlock(&g.lock);
  free(buffer);
}

/* Stores the first symbol of `name` found in `h` into the function pointer at `slot`. */
static int load_symbol(void* h, void* slot, const char* name) {
  void* p = dlsym(h, name);
  if (!p) return 0;
  memcpy(slot, &p, sizeof p);
  return 1;
}

/* Tries one path; on success leaves it open in g.handle. Appends the failure to `tried`. */
static int try_open(const char* path, char* tried, size_t cap) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h) {
    g.handle = h;
    snprintf(g_path, sizeof g_path, "%s", path);
    return 1;
  }
  const size_t len = strlen(tried);
  if (len < cap) snprintf(tried + len, cap - len, "%s%s", len ? ", " : "", path);
  return 0;
}

/* The Python installations' site-packages (torch's CUDA wheels put libcupti there). */
static int try_site_packages(char* tried, size_t cap) {
  FILE* f = popen("python3 -c 'import site; print(\"\\n\".join(site.getsitepackages() + "
                  "[site.getusersitepackages()]))' 2>/dev/null", "r");
  if (!f) return 0;
  char dir[512], path[700];
  int found = 0;
  while (!found && fgets(dir, sizeof dir, f)) {
    dir[strcspn(dir, "\r\n")] = '\0';
    if (!dir[0]) continue;
    static const char* const subdirs[] = {"nvidia/cu13/lib", "nvidia/cuda_cupti/lib"};
    for (int i = 0; i < 2 && !found; ++i) {
      snprintf(path, sizeof path, "%s/%s/libcupti.so.13", dir, subdirs[i]);
      FILE* probe = fopen(path, "rb"); /* only existing files count as tried */
      if (!probe) continue;
      fclose(probe);
      found = try_open(path, tried, cap);
    }
  }
  pclose(f);
  return found;
}

static int open_library(char* why, size_t cap) {
  char tried[1024] = "";
  const char* env = getenv("DLG_CUPTI_LIB");
  if (env && *env && try_open(env, tried, sizeof tried)) return 0;
  if (try_open("libcupti.so.13", tried, sizeof tried) || try_open("libcupti.so", tried, sizeof tried))
    return 0;
  if (try_site_packages(tried, sizeof tried)) return 0;
  static const char* const dirs[] = {"/usr/local/cuda/extras/CUPTI/lib64", "/usr/local/cuda/lib64",
                                     "/usr/local/cuda/targets/x86_64-linux/lib"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; ++i) {
    char path[256];
    snprintf(path, sizeof path, "%s/libcupti.so.13", dirs[i]);
    if (try_open(path, tried, sizeof tried)) return 0;
  }
  snprintf(why, cap, "libcupti not found; tried %s", tried);
  return -1;
}

static int open_cupti(char* why, size_t cap) {
  const char* off = getenv("DLG_BENCH_CUPTI");
  if (off && !strcmp(off, "0")) return snprintf(why, cap, "DLG_BENCH_CUPTI=0"), -1;
  if (open_library(why, cap) != 0) return -1;
  struct {
    void* slot;
    const char* name;
  } table[] = {
      {&g.api.get_version, "cuptiGetVersion"},
      {&g.api.result_string, "cuptiGetResultString"},
      {&g.api.register_callbacks, "cuptiActivityRegisterCallbacks"},
      {&g.api.enable, "cuptiActivityEnable"},
      {&g.api.disable, "cuptiActivityDisable"},
      {&g.api.flush_all, "cuptiActivityFlushAll"},
      {&g.api.next_record, "cuptiActivityGetNextRecord"},
      {&g.api.push_id, "cuptiActivityPushExternalCorrelationId"},
      {&g.api.pop_id, "cuptiActivityPopExternalCorrelationId"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (!load_symbol(g.handle, table[i].slot, table[i].name))
      return snprintf(why, cap, "libcupti lacks %s", table[i].name), -1;
  uint32_t version = 0;
  CUptiResult r = g.api.get_version(&version);
  if (r != CUPTI_SUCCESS) return snprintf(why, cap, "cuptiGetVersion: %s", result_text(r)), -1;
  /* From 13.0 on the API version reads MMmmpp; the record layouts compiled in are 13.x's. */
  if (version / 10000 != CUPTI_API_VERSION / 10000)
    return snprintf(why, cap, "libcupti has API version %u, the bench was built with %u's records",
                    version, (unsigned)CUPTI_API_VERSION), -1;
  if ((r = g.api.register_callbacks(buffer_requested, buffer_completed)) != CUPTI_SUCCESS)
    return snprintf(why, cap, "cuptiActivityRegisterCallbacks: %s", result_text(r)), -1;
  /* Enable once now so that a refusal (driver too old, profiling not permitted) shows here. */
  for (size_t i = 0; i < N_KINDS; ++i) {
    if ((r = g.api.enable(kKinds[i])) != CUPTI_SUCCESS) {
      for (size_t j = 0; j < i; ++j) g.api.disable(kKinds[j]);
      return snprintf(why, cap, "cuptiActivityEnable(kind %d): %s", (int)kKinds[i],
                      result_text(r)), -1;
    }
  }
  for (size_t i = 0; i < N_KINDS; ++i) g.api.disable(kKinds[i]);
  Dl_info info; /* the file the loader picked, where a bare soname was asked for */
  if (dladdr((void*)g.api.get_version, &info) && info.dli_fname)
    snprintf(g_path, sizeof g_path, "%s", info.dli_fname);
  snprintf(g_describe, sizeof g_describe, "kernel times from %.400s (CUPTI API %u)", g_path, version);
  return 0;
}

int bench_cupti_available(void) {
  if (!g.tried) {
    g.tried = 1;
    char why[400];
    g.ok = open_cupti(why, sizeof why) == 0;
    if (!g.ok) snprintf(g_describe, sizeof g_describe, "not available (%s)", why);
  }
  return g.ok;
}

const char* bench_cupti_describe(void) {
  bench_cupti_available();
  return g_describe;
}

uint64_t bench_cupti_reserve_ids(int n) {
  const uint64_t first = g.next_id;
  g.next_id += (uint64_t)(n > 0 ? n : 0);
  return first;
}

void bench_cupti_discard(void) {
  if (g.ok) { /* hand over what is buffered first, so that none of it turns up later */
    g.api.flush_all(0);
    g.api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  }
  pthread_mutex_lock(&g.lock);
  g.n_kernels = g.n_exts = 0;
  g.out_of_memory = 0;
  pthread_mutex_unlock(&g.lock);
}

int bench_cupti_begin(char* why, size_t cap) {
  if (!bench_cupti_available()) return snprintf(why, cap, "%s", g_describe), -1;
  for (size_t i = 0; i < N_KINDS; ++i) {
    CUptiResult r = g.api.enable(kKinds[i]);
    if (r != CUPTI_SUCCESS) {
      for (size_t j = 0; j < i; ++j) g.api.disable(kKinds[j]);
      return snprintf(why, cap, "cuptiActivityEnable: %s", result_text(r)), -1;
    }
  }
  return 0;
}

int bench_cupti_push(uint64_t id) {
  return g.ok && g.api.push_id(OUR_KIND, id) == CUPTI_SUCCESS ? 0 : -1;
}

void bench_cupti_pop(void) {
  uint64_t last = 0;
  if (g.ok) g.api.pop_id(OUR_KIND, &last);
}

static int cmp_ext(const void* a, const void* b) {
  const ext_rec_t *x = a, *y = b;
  return (x->correlation > y->correlation) - (x->correlation < y->correlation);
}
static int cmp_kernel(const void* a, const void* b) {
  const kernel_rec_t *x = a, *y = b;
  if (x->correlation != y->correlation) return (x->correlation > y->correlation) - (x->correlation < y->correlation);
  return (x->start > y->start) - (x->start < y->start);
}

static void add_kernel(bench_kernel_span_t* s, const kernel_rec_t* k) {
  if (!s->kernels || k->start < s->first_start) s->first_start = k->start;
  if (!s->kernels || k->end > s->last_end) s->last_end = k->end;
  s->busy_ns += k->end - k->start;
  ++s->kernels;
}

int bench_cupti_end(uint64_t first_id, int n, bench_kernel_span_t* spans, const char** method,
                    char* why, size_t cap) {
  if (!g.ok) return snprintf(why, cap, "%s", g_describe), -1;
  /* The caller synchronised the stream: every record is complete. The plain flush hands over
   * the finished buffers, the forced one whatever is left. */
  g.api.flush_all(0);
  g.api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  for (size_t i = 0; i < N_KINDS; ++i) g.api.disable(kKinds[i]);
  if (!spans || n <= 0) {
    bench_cupti_discard();
    return 0;
  }
  int rc = -1;
  pthread_mutex_lock(&g.lock);
  memset(spans, 0, (size_t)n * sizeof *spans);
  /* Our calls' correlation ids, sorted for the look-up of each kernel's. */
  size_t n_ours = 0;
  for (size_t i = 0; i < g.n_exts; ++i)
    if (g.exts[i].external >= first_id && g.exts[i].external < first_id + (uint64_t)n)
      g.exts[n_ours++] = g.exts[i];
  qsort(g.exts, n_ours, sizeof *g.exts, cmp_ext);
  size_t tied = 0, timed = 0;
  for (size_t i = 0; i < g.n_kernels; ++i) {
    const kernel_rec_t* k = &g.kernels[i];
    if (k->end < k->start || (k->start == 0 && k->end == 0)) continue; /* no timestamps */
    ++timed;
    const ext_rec_t key = {k->correlation, 0};
    const ext_rec_t* hit = bsearch(&key, g.exts, n_ours, sizeof *g.exts, cmp_ext);
    if (!hit) continue;
    add_kernel(&spans[hit->external - first_id], k);
    ++tied;
  }
  if (tied) {
    *method = "external correlation id per call";
    rc = 0;
  } else if (n_ours == 0 && timed > 0 && timed % (size_t)n == 0) {
    /* No external correlation records at all: every kernel seen since the warm-up is one of
     * the timed calls', launched in call order, the same number per call. */
    qsort(g.kernels, g.n_kernels, sizeof *g.kernels, cmp_kernel);
    const size_t per_call = timed / (size_t)n;
    size_t j = 0;
    for (size_t i = 0; i < g.n_kernels; ++i) {
      const kernel_rec_t* k = &g.kernels[i];
      if (k->end < k->start || (k->start == 0 && k->end == 0)) continue;
      add_kernel(&spans[j++ / per_call], k);
    }
    *method = "kernels counted per call (no external correlation records)";
    rc = 0;
  } else {
    snprintf(why, cap, "no kernel record tied to these calls (%zu kernels, %zu of our correlation "
             "records%s)", g.n_kernels, n_ours, g.out_of_memory ? ", out of host memory" : "");
  }
  g.n_kernels = g.n_exts = 0;
  g.out_of_memory = 0;
  pthread_mutex_unlock(&g.lock);
  return rc;
}

#endif /* DLG_BENCH_HAVE_CUPTI */
