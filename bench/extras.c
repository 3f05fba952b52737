#define _XOPEN_SOURCE 700
#include "extras.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "timing.h"

typedef struct dl_call {
  bench_env_t* env;
  bench_problem_t* p;
} dl_call_t;

static int dl_launch(void* user, CUstream stream, char* why, size_t cap) {
  dl_call_t* c = user;
  return bench_problem_launch(c->env, c->p, 0, stream, why, cap);
}

typedef struct lt_call {
  bench_lt_plan_t* plan;
  CUdeviceptr d;
} lt_call_t;

static int lt_launch(void* user, CUstream stream, char* why, size_t cap) {
  lt_call_t* c = user;
  return bench_lt_run(c->plan, c->d, c->d, stream, why, cap);
}

void bench_measure_overhead(bench_env_t* env, bench_lt_t* lt, dlg_recipe_t recipe, int calls,
                            bench_overhead_t* out) {
  /* Small enough that the GPU drains the queue faster than the host fills it: what is
   * timed is then the host side of a call, not the kernel. */
  const int wgrad = recipe == DLG_RECIPE_FP8_1D1D;
  const bench_shape_t s = {recipe, wgrad ? BENCH_WGRAD : BENCH_FWD, 128, 256, 512, wgrad, wgrad};
  memset(out, 0, sizeof *out);
  out->recipe = recipe;
  out->m = s.m;
  out->n = s.n;
  out->k = s.k;
  out->calls = calls;
  out->dl_us = out->lt_us = -1.0;
  char why[256] = "";
  bench_problem_t* p = NULL;
  if (bench_problem_create(env, &s, 7, NULL, &p, why, sizeof why) != 0) {
    snprintf(out->status, sizeof out->status, "%.240s", why);
    return;
  }
  const bench_timer_t timer = {&env->cu, env->stream, {0, 0}, 0, 0};
  dl_call_t dc = {env, p};
  if (bench_time_host(&timer, dl_launch, &dc, 100, calls, &out->dl_us, why, sizeof why) != 0) {
    out->dl_us = -1.0;
    snprintf(out->status, sizeof out->status, "dlgemm: %.240s", why);
  }
  if (lt) {
    const bench_lt_problem_t lp = {recipe, s.m, s.n, s.k, s.d_f32, s.accumulate, p->a.dev.ptr,
                                   p->b.dev.ptr, bench_problem_lt_sfa(p), bench_problem_lt_sfb(p)};
    bench_lt_plan_t* plan = NULL;
    if (bench_lt_plan_create(lt, &lp, &plan, why, sizeof why) == 0) {
      lt_call_t lc = {plan, p->dd_buf.ptr};
      if (bench_time_host(&timer, lt_launch, &lc, 100, calls, &out->lt_us, why, sizeof why) != 0)
        out->lt_us = -1.0;
      bench_lt_plan_destroy(plan);
    }
  }
  bench_problem_destroy(env, p);
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* A fresh cache directory under $TMPDIR (or /tmp); 0 / -1. */
static int make_temp_dir(char* buf, size_t cap) {
  const char* base = getenv("TMPDIR");
  snprintf(buf, cap, "%s/dlgemm-bench-jit-XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(buf) ? 0 : -1;
}

static void remove_tree(const char* dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Times dlg_warmup_gemm on a new context using `dir` as its disk cache; seconds or -1. */
static double timed_warmup(bench_env_t* env, dlg_context_t** ctx_io, const char* dir,
                           dlg_recipe_t recipe, int64_t m, int64_t n, int64_t k, int d_f32,
                           char* why, size_t cap) {
  dlg_status_t st = DLG_OK;
  if (!*ctx_io) {
    st = dlg_context_create(env->device, ctx_io);
    if (st == DLG_OK) st = dlg_context_set_cache_dir(*ctx_io, dir);
  }
  double t0 = bench_now();
  if (st == DLG_OK)
    st = dlg_warmup_gemm(*ctx_io, recipe, m, n, k, d_f32 ? kDLFloat : kDLBfloat, d_f32 ? 32 : 16);
  double t1 = bench_now();
  if (st != DLG_OK) {
    snprintf(why, cap, "%s: %s", dlg_status_name(st), dlg_last_error());
    return -1.0;
  }
  return t1 - t0;
}

void bench_measure_compile(bench_env_t* env, dlg_recipe_t recipe, int64_t m, int64_t n,
                           int64_t k, int d_f32, bench_compile_t* out) {
  memset(out, 0, sizeof *out);
  out->recipe = recipe;
  out->m = m;
  out->n = n;
  out->k = k;
  out->d_f32 = d_f32;
  char dir[512];
  if (make_temp_dir(dir, sizeof dir) != 0) {
    snprintf(out->status, sizeof out->status, "cannot create a temporary cache directory");
    return;
  }
  dlg_context_t *cold = NULL, *warm = NULL;
  char why[256] = "";
  double cold_s = timed_warmup(env, &cold, dir, recipe, m, n, k, d_f32, why, sizeof why);
  double disk_s = cold_s < 0 ? -1.0
                             : timed_warmup(env, &warm, dir, recipe, m, n, k, d_f32, why,
                                            sizeof why);
  double mem_s = disk_s < 0 ? -1.0
                            : timed_warmup(env, &warm, dir, recipe, m, n, k, d_f32, why,
                                           sizeof why);
  dlg_context_destroy(cold);
  dlg_context_destroy(warm);
  remove_tree(dir);
  if (mem_s < 0) {
    snprintf(out->status, sizeof out->status, "dlg_warmup_gemm: %.230s", why);
    return;
  }
  out->ok = 1;
  out->cold_ms = 1e3 * cold_s;
  out->disk_hit_ms = 1e3 * disk_s;
  out->memory_hit_us = 1e6 * mem_s;
}

void bench_prime_jit(bench_env_t* env) {
  bench_compile_t scratch;
  bench_measure_compile(env, DLG_RECIPE_BF16, 128, 128, 128, 0, &scratch);
}

dlg_status_t bench_apply_jit_options(dlg_context_t* ctx) {
  const char* opts = getenv("DLG_BENCH_JIT_OPTIONS");
  if (!opts || !*opts) return DLG_OK;
  return dlg_context_set_jit_options(ctx, opts);
}
