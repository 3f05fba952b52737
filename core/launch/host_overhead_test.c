/* Host overhead of a dense GEMM call (issue 3), without a GPU: the per-context plan cache
 * (correctness, invalidation, threads) and timings of the CPU-side pieces a call runs:
 * validation, heuristics, source generation, plan-key lookup. Timings are printed, not
 * asserted (CI machines vary). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "dlg_test.h"
#include "gpu.h"
#include "launch/gemm_plan_cache.h"
#include "launch/sm90_gemm_common.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static dlg_gemm_plan_key_t make_key(int64_t m, int num_sms, unsigned gen, const char* spec) {
  dlg_gemm_plan_key_t key; /* no CHECK here: workers call this and the counters are plain ints */
  if (!dlg_gemm_plan_key_init(&key, DLG_PLAN_SM90_FP8, DLG_RECIPE_FP8_1D2D, m, 256, 512, spec))
    memset(&key, 0, sizeof key);
  key.num_sms = num_sms;
  key.jit_options_gen = gen;
  return key;
}

/* A recognisable plan for a key: block_m encodes m so a wrong hit shows. */
static dlg_gemm_plan_t make_plan(int64_t m) {
  dlg_gemm_plan_t plan;
  memset(&plan, 0, sizeof plan);
  plan.cfg.block_m = (int)(m % 100000);
  plan.cfg.grid = 132;
  plan.kernel.function = (void*)(uintptr_t)(m + 1);
  return plan;
}

static void basics(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx));
  dlg_gemm_plan_key_t key = make_key(128, 132, 0, NULL);
  CHECK(dlg_gemm_plan_find(ctx, &key) == NULL);
  dlg_gemm_plan_t plan = make_plan(128);
  const dlg_gemm_plan_t* e = dlg_gemm_plan_insert(ctx, &key, &plan);
  CHECK(e != NULL && dlg_gemm_plan_find(ctx, &key) == e);
  CHECK(e && e->cfg.block_m == 128 && e->kernel.function == (void*)(uintptr_t)129);
  /* Inserting the same key again keeps the first entry. */
  dlg_gemm_plan_t other = make_plan(999);
  CHECK(dlg_gemm_plan_insert(ctx, &key, &other) == e);
  CHECK(dlg_gemm_plan_count(ctx) == 1);
  /* Anything the plan depends on makes a different key: max_sms, jit options, override,
   * output dtype, C, launcher. */
  dlg_gemm_plan_key_t k2 = make_key(128, 64, 0, NULL);
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  k2 = make_key(128, 132, 1, NULL);
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  k2 = make_key(128, 132, 0, "bm=64");
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  k2 = make_key(128, 132, 0, NULL);
  k2.d_f32 = 1;
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  k2 = make_key(128, 132, 0, NULL);
  k2.c_mode = 2;
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  k2 = make_key(128, 132, 0, NULL);
  k2.launcher = DLG_PLAN_SM90_BF16;
  CHECK(dlg_gemm_plan_find(ctx, &k2) == NULL);
  /* An override spec too long to keep is not cacheable. */
  char long_spec[200];
  memset(long_spec, 'x', sizeof long_spec - 1);
  long_spec[sizeof long_spec - 1] = '\0';
  dlg_gemm_plan_key_t k3;
  CHECK(!dlg_gemm_plan_key_init(&k3, DLG_PLAN_SM90_FP8, 0, 1, 1, 1, long_spec));
  /* Fitted grid: 0 until set. */
  CHECK(dlg_gemm_plan_fitted_grid(e) == 0);
  dlg_gemm_plan_set_fitted_grid(e, 66);
  CHECK(dlg_gemm_plan_fitted_grid(dlg_gemm_plan_find(ctx, &key)) == 66);
  /* The context's jit options generation moves with every set (cached kernels then miss). */
  const unsigned gen = ctx->jit_options_gen;
  CHECK_OK(dlg_context_set_jit_options(ctx, "-lineinfo"));
  CHECK(ctx->jit_options_gen != gen);
  dlg_context_destroy(ctx);
}

/* More distinct shapes than slots: the cache fills up, later keys go uncached, nothing breaks. */
static void full_table(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx));
  int cached = 0, wrong = 0;
  for (int64_t m = 1; m <= 6000; ++m) {
    dlg_gemm_plan_key_t key = make_key(m, 132, 0, NULL);
    dlg_gemm_plan_t plan = make_plan(m);
    const dlg_gemm_plan_t* e = dlg_gemm_plan_insert(ctx, &key, &plan);
    if (e) ++cached;
    if (e && (e->cfg.block_m != (int)m || dlg_gemm_plan_find(ctx, &key) != e)) ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(cached == dlg_gemm_plan_count(ctx));
  CHECK(cached >= 3000 && cached <= 4096);
  dlg_context_destroy(ctx);
}

/* Threads insert and look up overlapping key sets on one shared context. */
#define THREADS 8
#define KEYS 512
typedef struct {
  dlg_context_t* ctx;
  int id;
  int wrong;
} worker_t;

static void* worker(void* arg) {
  worker_t* w = arg;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < KEYS; ++i) {
      const int64_t m = 1 + (i * 7 + w->id * 13 + round) % KEYS;
      dlg_gemm_plan_key_t key = make_key(m, 132, 0, NULL);
      const dlg_gemm_plan_t* e = dlg_gemm_plan_find(w->ctx, &key);
      if (!e) {
        dlg_gemm_plan_t plan = make_plan(m);
        e = dlg_gemm_plan_insert(w->ctx, &key, &plan);
      }
      if (!e || e->key.m != m || e->cfg.block_m != (int)m ||
          e->kernel.function != (void*)(uintptr_t)(m + 1)) {
        ++w->wrong;
        continue;
      }
      /* Concurrent writers of the fitted grid all store the same value. */
      if (dlg_gemm_plan_fitted_grid(e) == 0) dlg_gemm_plan_set_fitted_grid(e, 132);
      else if (dlg_gemm_plan_fitted_grid(e) != 132) ++w->wrong;
    }
  }
  return NULL;
}

static void threads(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx));
  pthread_t tid[THREADS];
  worker_t w[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    w[t].ctx = ctx;
    w[t].id = t;
    w[t].wrong = 0;
    CHECK(pthread_create(&tid[t], NULL, worker, &w[t]) == 0);
  }
  int wrong = 0;
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(tid[t], NULL);
    wrong += w[t].wrong;
  }
  CHECK(wrong == 0);
  CHECK(dlg_gemm_plan_count(ctx) == KEYS); /* each key inserted exactly once */
  dlg_context_destroy(ctx);
}

/* ---- timings of the CPU-side pieces (128x256x512 FP8 1D2D, as the bench's host measure) ---- */

#define REPS 20000

static void timings(void) {
  volatile int sink = 0;
  /* Heuristics (what a plan-cache hit skips). */
  dlg_sm90_gemm_shape_t shape;
  memset(&shape, 0, sizeof shape);
  shape.m = 128;
  shape.n = 256;
  shape.k = 512;
  shape.fp8 = 1;
  shape.sfa_in_smem = DLG_SM90_SMEM_SFA;
  shape.out_bytes = 2;
  shape.num_sms = 132;
  shape.smem_limit = 232448;
  shape.promotion = DLG_SM90_PROMOTE_ROW_BLOCK;
  dlg_sm90_gemm_config_t cfg;
  double t0 = now_ns();
  for (int i = 0; i < REPS; ++i) sink += dlg_sm90_gemm_choose(&shape, &cfg);
  const double choose_ns = (now_ns() - t0) / REPS;
  /* Source generation (also skipped on a hit). */
  char name[160], source[512];
  t0 = now_ns();
  for (int i = 0; i < REPS; ++i) {
    dlg_sm90_fp8_recipe_source(&cfg, DLG_RECIPE_FP8_1D2D, 0, 0, name, sizeof name, source,
                               sizeof source);
    sink += source[i % 8];
  }
  const double source_ns = (now_ns() - t0) / REPS;
  /* Plan-cache hit: key build + lookup (what a repeated call does instead). */
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx));
  dlg_gemm_plan_key_t key = make_key(128, 132, 0, NULL);
  dlg_gemm_plan_t plan = make_plan(128);
  CHECK(dlg_gemm_plan_insert(ctx, &key, &plan) != NULL);
  t0 = now_ns();
  for (int i = 0; i < REPS; ++i) {
    dlg_gemm_plan_key_t k;
    dlg_gemm_plan_key_init(&k, DLG_PLAN_SM90_FP8, DLG_RECIPE_FP8_1D2D, 128, 256, 512,
                           getenv("DLG_SM90_GEMM_CONFIG"));
    k.num_sms = 132;
    sink += dlg_gemm_plan_find(ctx, &k) != NULL;
  }
  const double hit_ns = (now_ns() - t0) / REPS;
  /* Validation of a CUDA-tensor call, an upper bound of what dlg_gemm does before the
   * launcher. The tensors claim a device that does not exist (cuda:99), so the call stops at
   * dlg_gpu_enter with or without a driver and never touches their host memory as device
   * memory. */
  test_tensor_t* a = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)128, (int64_t)512);
  test_tensor_t* b = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)256, (int64_t)512);
  const int64_t sfa_shape[2] = {128, 4}, sfa_strides[2] = {1, 128};
  test_tensor_t* sfa = tt_new_strided(kDLFloat, 32, 2, sfa_shape, sfa_strides);
  test_tensor_t* sfb = tt_new(kDLFloat, 32, 2, (int64_t)2, (int64_t)4);
  test_tensor_t* d = tt_new(kDLBfloat, 16, 2, (int64_t)128, (int64_t)256);
  test_tensor_t* all[] = {a, b, sfa, sfb, d};
  dlg_context_t* gpu_ctx = NULL;
  CHECK_OK(dlg_context_create(99, &gpu_ctx));
  for (int i = 0; i < 5; ++i) {
    all[i]->t.device.device_type = kDLCUDA;
    all[i]->t.device.device_id = 99;
  }
  dlg_status_t first = dlg_gemm(gpu_ctx, DLG_RECIPE_FP8_1D2D, &a->t, &sfa->t, &b->t, &sfb->t, NULL,
                                &d->t, NULL);
  CHECK(first == DLG_ERR_NO_DRIVER);
  t0 = now_ns();
  for (int i = 0; i < REPS / 4; ++i)
    sink += dlg_gemm(gpu_ctx, DLG_RECIPE_FP8_1D2D, &a->t, &sfa->t, &b->t, &sfb->t, NULL, &d->t, NULL);
  const double validate_ns = (now_ns() - t0) / (REPS / 4);
  for (int i = 0; i < 5; ++i) {
    all[i]->t.device.device_type = kDLCPU;
    all[i]->t.device.device_id = 0;
    tt_free(all[i]);
  }
  dlg_context_destroy(gpu_ctx);
  dlg_context_destroy(ctx);
  printf("host pieces per call (ns): heuristics %.0f, source snprintf %.0f, plan-cache hit %.0f, "
         "validation + no-driver exit %.0f (%s)\n",
         choose_ns, source_ns, hit_ns, validate_ns, dlg_status_name(first));
  (void)sink;
}

/* ---- on a GPU (skipped without one): the cached path gives the same results, a max_sms
 * change misses the cache, threads share one context ---- */

typedef struct {
  test_tensor_t* host;
  void* dev;
  DLTensor t; /* the device view */
} gpu_tensor_t;

static int gpu_tensor(dlg_context_t* ctx, test_tensor_t* host, gpu_tensor_t* out) {
  out->host = host;
  out->dev = NULL;
  if (dlg_gpu_alloc(ctx, host->bytes, &out->dev) != DLG_OK) return 0;
  if (dlg_gpu_memcpy(ctx, out->dev, host->mem, host->bytes) != DLG_OK) return 0;
  out->t = host->t;
  out->t.data = out->dev;
  out->t.device.device_type = kDLCUDA;
  out->t.device.device_id = dlg_context_device(ctx);
  return 1;
}

/* max |d - ref| / max |ref| of a bf16 [M, N] result read back from the device. */
static double rel_error(dlg_context_t* ctx, const gpu_tensor_t* d, const test_tensor_t* ref) {
  test_tensor_t* back = tt_new(kDLBfloat, 16, 2, ref->shape[0], ref->shape[1]);
  double err = 1e30;
  if (dlg_gpu_sync(ctx, NULL) == DLG_OK && dlg_gpu_memcpy(ctx, back->mem, d->dev, back->bytes) == DLG_OK) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < ref->shape[0] * ref->shape[1]; ++i) {
      num = fmax(num, fabs(tt_get(back, i) - tt_get(ref, i)));
      den = fmax(den, fabs(tt_get(ref, i)));
    }
    err = num / (den > 0 ? den : 1);
  }
  tt_free(back);
  return err;
}

typedef struct {
  dlg_context_t* ctx;
  gpu_tensor_t *a, *b, *d;
  int failures;
} gemm_worker_t;

static void* gemm_worker(void* arg) {
  gemm_worker_t* w = arg;
  for (int i = 0; i < 200; ++i)
    if (dlg_gemm(w->ctx, DLG_RECIPE_BF16, &w->a->t, NULL, &w->b->t, NULL, NULL, &w->d->t, NULL) != DLG_OK)
      ++w->failures;
  return NULL;
}

static void on_gpu(void) {
  dlg_runtime_info_t info;
  dlg_runtime_info(&info);
  if (!info.driver_found || info.device_count == 0 || !info.nvrtc_found) {
    printf("no GPU: skipping the device part\n");
    return;
  }
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx));
  int arch = 0;
  CHECK_OK(dlg_gpu_arch(ctx, &arch));
  if (arch != 90) {
    printf("sm_%d: the plan cache serves the sm90 launchers only; skipping\n", arch);
    dlg_context_destroy(ctx);
    return;
  }
  enum { M = 128, N = 256, K = 512 };
  test_tensor_t* a = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)K);
  test_tensor_t* b = tt_new(kDLBfloat, 16, 2, (int64_t)N, (int64_t)K);
  test_tensor_t* ref = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)N);
  test_tensor_t* d0 = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)N);
  tt_fill(a, 1, -1, 1);
  tt_fill(b, 2, -1, 1);
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  CHECK_OK(dlg_gemm(cpu, DLG_RECIPE_BF16, &a->t, NULL, &b->t, NULL, NULL, &ref->t, NULL));
  gpu_tensor_t ga, gb, gd[4];
  CHECK(gpu_tensor(ctx, a, &ga) && gpu_tensor(ctx, b, &gb));
  for (int i = 0; i < 4; ++i) CHECK(gpu_tensor(ctx, d0, &gd[i]));

  const int before = dlg_gemm_plan_count(ctx);
  CHECK_OK(dlg_gemm(ctx, DLG_RECIPE_BF16, &ga.t, NULL, &gb.t, NULL, NULL, &gd[0].t, NULL));
  CHECK(dlg_gemm_plan_count(ctx) == before + 1);
  CHECK(rel_error(ctx, &gd[0], ref) < 1e-2);
  CHECK_OK(dlg_gpu_memset(ctx, gd[0].dev, 0xA5, d0->bytes, NULL));
  CHECK_OK(dlg_gemm(ctx, DLG_RECIPE_BF16, &ga.t, NULL, &gb.t, NULL, NULL, &gd[0].t, NULL));
  CHECK(dlg_gemm_plan_count(ctx) == before + 1); /* hit */
  CHECK(rel_error(ctx, &gd[0], ref) < 1e-2);
  /* A max_sms change is a different plan (grid), and going back hits the first one. */
  CHECK_OK(dlg_context_set_max_sms(ctx, 8));
  CHECK_OK(dlg_gpu_memset(ctx, gd[0].dev, 0xA5, d0->bytes, NULL));
  CHECK_OK(dlg_gemm(ctx, DLG_RECIPE_BF16, &ga.t, NULL, &gb.t, NULL, NULL, &gd[0].t, NULL));
  CHECK(dlg_gemm_plan_count(ctx) == before + 2);
  CHECK(rel_error(ctx, &gd[0], ref) < 1e-2);
  CHECK_OK(dlg_context_set_max_sms(ctx, 0));
  CHECK_OK(dlg_gemm(ctx, DLG_RECIPE_BF16, &ga.t, NULL, &gb.t, NULL, NULL, &gd[0].t, NULL));
  CHECK(dlg_gemm_plan_count(ctx) == before + 2);
  /* Host time of a cached call (launches queue on the stream; no sync inside the loop). */
  CHECK_OK(dlg_gpu_sync(ctx, NULL));
  const int reps = 2000;
  double t0 = now_ns();
  for (int i = 0; i < reps; ++i)
    dlg_gemm(ctx, DLG_RECIPE_BF16, &ga.t, NULL, &gb.t, NULL, NULL, &gd[0].t, NULL);
  const double per_call = (now_ns() - t0) / reps;
  CHECK_OK(dlg_gpu_sync(ctx, NULL));
  printf("GPU: host time per cached bf16 %dx%dx%d call: %.2f us\n", M, N, K, per_call / 1e3);
  /* Four threads share the context, each with its own output. */
  pthread_t tid[4];
  gemm_worker_t w[4];
  for (int t = 0; t < 4; ++t) {
    CHECK_OK(dlg_gpu_memset(ctx, gd[t].dev, 0xA5, d0->bytes, NULL));
    w[t] = (gemm_worker_t){ctx, &ga, &gb, &gd[t], 0};
  }
  CHECK_OK(dlg_gpu_sync(ctx, NULL));
  for (int t = 0; t < 4; ++t) CHECK(pthread_create(&tid[t], NULL, gemm_worker, &w[t]) == 0);
  for (int t = 0; t < 4; ++t) {
    pthread_join(tid[t], NULL);
    CHECK(w[t].failures == 0);
    CHECK(rel_error(ctx, &gd[t], ref) < 1e-2);
  }
  CHECK(dlg_gemm_plan_count(ctx) == before + 2);
  dlg_gpu_free(ctx, ga.dev);
  dlg_gpu_free(ctx, gb.dev);
  for (int i = 0; i < 4; ++i) dlg_gpu_free(ctx, gd[i].dev);
  tt_free(a);
  tt_free(b);
  tt_free(ref);
  tt_free(d0);
  dlg_context_destroy(cpu);
  dlg_context_destroy(ctx);
}

int main(void) {
  basics();
  full_table();
  threads();
  timings();
  on_gpu();
  return dlg_test_finish("host_overhead_test");
}
