/* dlgemm_bench: dlgemm's dense GEMMs against cuBLASLt, shape by shape, in one process.
 * See bench/README.md for the method and docs/performance.md for the results. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cublaslt.h"
#include "cupti.h"
#include "extras.h"
#include "mqa.h"
#include "grouped.h"
#include "problem.h"
#include "report.h"
#include "shapes.h"
#include "timing.h"

typedef struct options {
  dlg_recipe_t recipes[4];
  int n_recipes;
  int quick, list, baseline, compile, overhead;
  int iters, warmup, device;
  int64_t check_rows;
  double flush_mib;
  uint64_t seed;
  const char* json;
  const char* filter;
  const char* shapes[32];
  int n_shapes;
} options_t;

static void usage(FILE* f) {
  fputs(
      "usage: dlgemm_bench [options]\n"
      "Times dlgemm's dense GEMMs (public ABI, CUDA tensors) and the cuBLASLt equivalent in\n"
      "the same process, shape by shape; checks every shape against the CPU reference.\n"
      "\n"
      "  --recipe LIST     comma-separated: fp8_1d2d, fp8_1d1d, fp8_per_tensor, bf16\n"
      "                    (default: all four)\n"
      "  --quick           a handful of shapes, 10 timed calls, 16 checked rows\n"
      "  --iters N         timed calls per shape and side (default 30)\n"
      "  --warmup N        untimed calls before them (default 5)\n"
      "  --filter EXPR     keep shapes matching all of key=value[,key=value]: M, N, K,\n"
      "                    pass (fwd|dgrad|wgrad), recipe; e.g. --filter M=128\n"
      "  --shape MxNxK     benchmark this shape instead of the suite (repeatable)\n"
      "  --json PATH       write the results JSON there\n"
      "  --flush-mib N     bytes written before every timed call to flush L2 (default 1024;\n"
      "                    0 = no flush)\n"
      "  --check-rows N    rows of D compared with the CPU reference (default 64, spread\n"
      "                    over M; 0 = no correctness check)\n"
      "  --no-baseline     skip cuBLASLt\n"
      "  --no-compile      skip the NVRTC compile / cache-load measurement\n"
      "  --no-overhead     skip the host-overhead measurement\n"
      "  --device N        CUDA device ordinal (default 0)\n"
      "  --seed N          seed of the A operands (default 1)\n"
      "  --list            print the selected shapes and exit (no GPU needed)\n"
      "  --op OP           another suite instead of the dense GEMMs:\n"
      "                    m_grouped_contiguous, m_grouped_masked, k_grouped, casts or\n"
      "                    grouped (all four) run the MoE / quantisation suites (bench/grouped.c:\n"
      "                    --quick --iters --warmup --json --flush-mib --no-baseline; --anchors:\n"
      "                    the M-grouped shapes of DeepGEMM's anchors instead of the issue's)\n"
      "  --help            this text\n"
      "\n"
      "Environment: DLG_COMMIT (recorded as the commit; else `git rev-parse`),\n"
      "DLG_JIT_CACHE_DIR (the library's kernel cache), DLG_CUPTI_LIB (libcupti to use for the\n"
      "kernel times), DLG_BENCH_CUPTI=0 (event times only), DLG_BENCH_JIT_OPTIONS (extra\n"
      "NVRTC options of the benchmarked context, e.g. a kernel's -D knob).\n",
      f);
  fprintf(f, "cuBLASLt baseline: %s\n", bench_lt_build_note());
}

static int parse_int(const char* flag, const char* v, long long lo, long long* out) {
  char* end = NULL;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || !*v || *end || x < lo) {
    fprintf(stderr, "dlgemm_bench: %s needs an integer >= %lld, got '%s'\n", flag, lo,
            v ? v : "");
    return -1;
  }
  *out = x;
  return 0;
}

static int parse_recipes(options_t* o, const char* list) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", list);
  o->n_recipes = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    dlg_recipe_t r = bench_parse_recipe(tok);
    if (!r) {
      fprintf(stderr, "dlgemm_bench: --recipe: unknown recipe '%s' (fp8_1d2d, fp8_1d1d, "
                      "fp8_per_tensor, bf16)\n", tok);
      return -1;
    }
    if (o->n_recipes < 4) o->recipes[o->n_recipes++] = r;
  }
  return o->n_recipes ? 0 : -1;
}

/* 0: run; 1: exit 0 (help); -1: usage error. */
static int parse_args(int argc, char** argv, options_t* o) {
  memset(o, 0, sizeof *o);
  o->recipes[0] = DLG_RECIPE_FP8_1D2D;
  o->recipes[1] = DLG_RECIPE_FP8_1D1D;
  o->recipes[2] = DLG_RECIPE_FP8_PER_TENSOR;
  o->recipes[3] = DLG_RECIPE_BF16;
  o->n_recipes = 4;
  o->baseline = o->compile = o->overhead = 1;
  o->iters = o->warmup = o->check_rows = -1; /* defaults depend on --quick */
  o->flush_mib = 1024;
  o->seed = 1;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    long long x;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 1;
    } else if (!strcmp(a, "--quick")) {
      o->quick = 1;
    } else if (!strcmp(a, "--list")) {
      o->list = 1;
    } else if (!strcmp(a, "--no-baseline")) {
      o->baseline = 0;
    } else if (!strcmp(a, "--no-compile")) {
      o->compile = 0;
    } else if (!strcmp(a, "--no-overhead")) {
      o->overhead = 0;
    } else if (!strcmp(a, "--recipe") && v) {
      if (parse_recipes(o, v) != 0) return -1;
      ++i;
    } else if (!strcmp(a, "--iters")) {
      if (parse_int(a, v, 1, &x) != 0) return -1;
      o->iters = (int)x;
      ++i;
    } else if (!strcmp(a, "--warmup")) {
      if (parse_int(a, v, 0, &x) != 0) return -1;
      o->warmup = (int)x;
      ++i;
    } else if (!strcmp(a, "--check-rows")) {
      if (parse_int(a, v, 0, &x) != 0) return -1;
      o->check_rows = x;
      ++i;
    } else if (!strcmp(a, "--flush-mib")) {
      if (parse_int(a, v, 0, &x) != 0) return -1;
      o->flush_mib = (double)x;
      ++i;
    } else if (!strcmp(a, "--device")) {
      if (parse_int(a, v, 0, &x) != 0) return -1;
      o->device = (int)x;
      ++i;
    } else if (!strcmp(a, "--seed")) {
      if (parse_int(a, v, 0, &x) != 0) return -1;
      o->seed = (uint64_t)x;
      ++i;
    } else if (!strcmp(a, "--json") && v) {
      o->json = v;
      ++i;
    } else if (!strcmp(a, "--filter") && v) {
      o->filter = v;
      ++i;
    } else if (!strcmp(a, "--shape") && v) {
      if (o->n_shapes < 32) o->shapes[o->n_shapes++] = v;
      ++i;
    } else {
      fprintf(stderr, "dlgemm_bench: unknown option or missing value: %s (see --help)\n", a);
      return -1;
    }
  }
  if (o->iters < 0) o->iters = o->quick ? 10 : 30;
  if (o->warmup < 0) o->warmup = o->quick ? 2 : 5;
  if (o->check_rows < 0) o->check_rows = o->quick ? 16 : 64;
  return 0;
}

/* The selected shapes in run order; -1 on a bad --shape / --filter. */
static int select_shapes(const options_t* o, bench_shape_t* out) {
  bench_shape_t all[BENCH_MAX_SHAPES];
  int n = 0;
  for (int r = 0; r < o->n_recipes; ++r) {
    if (o->n_shapes == 0) {
      n = bench_suite_append(o->recipes[r], o->quick, all, n);
      continue;
    }
    for (int i = 0; i < o->n_shapes; ++i) {
      n = bench_custom_append(o->recipes[r], o->shapes[i], all, n);
      if (n < 0) {
        fprintf(stderr, "dlgemm_bench: --shape '%s' is not MxNxK\n", o->shapes[i]);
        return -1;
      }
    }
  }
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    char why[160];
    int m = bench_filter_match(o->filter, &all[i], why, (int)sizeof why);
    if (m < 0) {
      fprintf(stderr, "dlgemm_bench: %s\n", why);
      return -1;
    }
    if (m) out[kept++] = all[i];
  }
  return kept;
}

typedef struct dl_call {
  bench_env_t* env;
  bench_problem_t* p;
  int separate_c;
} dl_call_t;

static int dl_launch(void* user, CUstream stream, char* why, size_t cap) {
  dl_call_t* c = user;
  return bench_problem_launch(c->env, c->p, c->separate_c, stream, why, cap);
}

typedef struct lt_call {
  bench_lt_plan_t* plan;
  CUdeviceptr c, d;
} lt_call_t;

static int lt_launch(void* user, CUstream stream, char* why, size_t cap) {
  lt_call_t* c = user;
  return bench_lt_run(c->plan, c->c, c->d, stream, why, cap);
}

static int no_op(void* user, CUstream stream, char* why, size_t cap) {
  (void)user;
  (void)stream;
  (void)why;
  (void)cap;
  return 0;
}

static void set_rates(bench_side_t* side, const bench_shape_t* s, double bytes) {
  const double sec = side->t.median_us * 1e-6;
  side->tflops = 2.0 * (double)s->m * (double)s->n * (double)s->k / sec / 1e12;
  side->gbps = bytes / sec / 1e9;
}

/* Correctness, then timing, of both sides of one shape. */
static void run_shape(bench_env_t* env, bench_lt_t* lt, const bench_timer_t* timer,
                      const options_t* o, bench_problem_t* p, bench_record_t* r) {
  char why[320];
  r->bytes = bench_problem_bytes(p);
  const int check = o->check_rows > 0;
  if (check && bench_problem_reference(env, p, o->check_rows, why, sizeof why) != 0) {
    snprintf(r->dl.status, sizeof r->dl.status, "reference: %.300s", why);
    return;
  }
  dl_call_t dc = {env, p, 1};
  int dl_ok = 1;
  if (check) {
    if (bench_problem_check(env, p, dl_launch, &dc, &r->dl.check, why, sizeof why) == 0) {
      r->dl.checked = 1;
    } else {
      snprintf(r->dl.status, sizeof r->dl.status, "%.300s", why);
      dl_ok = 0;
    }
  }
  bench_lt_plan_t* plan = NULL;
  if (lt) {
    r->baseline = bench_lt_baseline_name(p->s.recipe);
    const bench_lt_problem_t lp = {p->s.recipe, p->s.m, p->s.n, p->s.k, p->s.d_f32,
                                   p->s.accumulate, p->a.dev.ptr, p->b.dev.ptr,
                                   bench_problem_lt_sfa(p), bench_problem_lt_sfb(p)};
    if (bench_lt_plan_create(lt, &lp, &plan, why, sizeof why) != 0) {
      snprintf(r->lt.status, sizeof r->lt.status, "%.300s", why);
      plan = NULL;
    }
  }
  lt_call_t lc = {plan, p->dc_buf.ptr, p->dd_buf.ptr};
  if (plan && check) {
    if (bench_problem_check(env, p, lt_launch, &lc, &r->lt.check, why, sizeof why) == 0)
      r->lt.checked = 1;
    else
      snprintf(r->lt.status, sizeof r->lt.status, "%.300s", why);
  }
  /* Timing: C aliases D for accumulating GEMMs, as in a weight-gradient update. */
  dc.separate_c = 0;
  if (dl_ok) {
    if (bench_time_gpu(timer, dl_launch, &dc, &r->dl.t, why, sizeof why) == 0) {
      r->dl.ran = 1;
      set_rates(&r->dl, &p->s, r->bytes);
    } else {
      snprintf(r->dl.status, sizeof r->dl.status, "%.300s", why);
    }
  }
  if (plan) {
    lc.c = lc.d;
    if (bench_time_gpu(timer, lt_launch, &lc, &r->lt.t, why, sizeof why) == 0) {
      r->lt.ran = 1;
      set_rates(&r->lt, &p->s, r->bytes);
    } else {
      snprintf(r->lt.status, sizeof r->lt.status, "%.300s", why);
    }
    bench_lt_plan_destroy(plan);
  }
}

static void read_commit(char* buf, size_t cap) {
  const char* env = getenv("DLG_COMMIT");
  snprintf(buf, cap, "unknown");
  if (env && *env) {
    snprintf(buf, cap, "%s", env);
    return;
  }
  FILE* f = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
  if (!f) return;
  char line[64] = "";
  if (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0]) snprintf(buf, cap, "%s", line);
  }
  pclose(f);
}

/* The kernel module's release ("580.159.04"), which cuDriverGetVersion does not give. */
static void read_driver_release(char* buf, size_t cap) {
  buf[0] = '\0';
  FILE* f = fopen("/proc/driver/nvidia/version", "r");
  if (!f) return;
  char line[256];
  if (fgets(line, sizeof line, f)) {
    /* "... Kernel Module  580.159.04  ..." or "... Open Kernel Module for x86_64  580.159.04
     * ...": the first token after "Kernel Module" that starts with a digit and has a dot. */
    const char* p = strstr(line, "Kernel Module");
    char tok[32];
    int used = 0;
    while (p && sscanf(p, "%31s%n", tok, &used) == 1) {
      if (tok[0] >= '0' && tok[0] <= '9' && strchr(tok, '.')) {
        snprintf(buf, cap, "%s", tok);
        break;
      }
      p += used;
    }
  }
  fclose(f);
}

static int run(const options_t* o, const bench_shape_t* shapes, int n_shapes) {
  const double t_start = bench_now();
  static bench_report_t rep; /* large: keep it off the stack */
  memset(&rep, 0, sizeof rep);
  rep.records = calloc((size_t)(n_shapes > 0 ? n_shapes : 1), sizeof *rep.records);
  if (!rep.records) return 2;
  rep.iters = o->iters;
  rep.warmup = o->warmup;
  rep.flush_mib = o->flush_mib;
  rep.check_rows = o->check_rows;
  rep.timer_floor_us = -1.0;
  read_commit(rep.commit, sizeof rep.commit);
  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  strftime(rep.date, sizeof rep.date, "%Y-%m-%dT%H:%M:%SZ", &utc);

  bench_env_t env;
  memset(&env, 0, sizeof env);
  env.device = o->device;
  char why[512];
  if (bench_cuda_open(&env.cu, o->device, why, sizeof why) != 0) {
    fprintf(stderr, "dlgemm_bench: no GPU: %s\n", why);
    free(rep.records);
    return 2;
  }
  rep.driver_version = env.cu.driver_version;
  read_driver_release(rep.driver_release, sizeof rep.driver_release);
  dlg_status_t st = dlg_context_create(o->device, &env.ctx);
  if (st == DLG_OK) st = bench_apply_jit_options(env.ctx);
  if (st == DLG_OK) st = dlg_context_create(-1, &env.cpu);
  dlg_device_info_t info;
  memset(&info, 0, sizeof info);
  if (st == DLG_OK) st = dlg_context_device_info(env.ctx, &info);
  CUresult cr = CUDA_SUCCESS;
  if (st == DLG_OK) cr = env.cu.stream_create(&env.stream, CU_STREAM_DEFAULT);
  bench_timer_t timer = {&env.cu, NULL, {0, 0}, o->warmup, o->iters};
  const size_t flush_bytes = (size_t)(o->flush_mib * 1024.0 * 1024.0);
  if (st == DLG_OK && cr == CUDA_SUCCESS &&
      bench_dev_upload(&env.cu, &timer.flush, NULL, flush_bytes, why, sizeof why) != 0) {
    fprintf(stderr, "dlgemm_bench: L2 flush buffer: %s\n", why);
    cr = CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (st != DLG_OK || cr != CUDA_SUCCESS) {
    if (st != DLG_OK)
      fprintf(stderr, "dlgemm_bench: %s: %s\n", dlg_status_name(st), dlg_last_error());
    else
      fprintf(stderr, "dlgemm_bench: setup: %s\n", bench_cu_error(&env.cu, cr));
    dlg_context_destroy(env.ctx);
    dlg_context_destroy(env.cpu);
    bench_cuda_close(&env.cu);
    free(rep.records);
    return 2;
  }
  timer.stream = env.stream;
  snprintf(rep.device, sizeof rep.device, "%s", info.name);
  rep.sm_major = info.sm_major;
  rep.sm_minor = info.sm_minor;
  rep.num_sms = info.num_sms;

  bench_lt_t* lt = NULL;
  if (!o->baseline) snprintf(rep.cublaslt_status, sizeof rep.cublaslt_status, "--no-baseline");
  else if (bench_lt_open(&env.cu, (size_t)32 << 20, &lt, why, sizeof why) != 0)
    snprintf(rep.cublaslt_status, sizeof rep.cublaslt_status, "%.250s", why);
  rep.cublaslt_version = bench_lt_version(lt);

  printf("dlgemm %s bench on %s (sm_%d%d, %d SMs), driver %s (CUDA %d), commit %s\n",
         dlg_version_string(), info.name, info.sm_major, info.sm_minor, info.num_sms,
         rep.driver_release[0] ? rep.driver_release : "?", rep.driver_version, rep.commit);
  if (lt) printf("baseline: %s, cublasLt version %ld\n", bench_lt_library(lt), rep.cublaslt_version);
  else printf("baseline: none (%s)\n", rep.cublaslt_status);
  /* Host time per cached call first: once CUPTI's activity API has been enabled, every launch
   * (ours and cuBLASLt's) costs ~1.5-2 us more on the host (H100 host, 2026-11-23: bf16
   * 4.9-5.2 us without it, 6.6-7.5 with it), which is the profiler's, not the library's.
   * Printed with the results below. */
  if (o->overhead)
    for (int ri = 0; ri < o->n_recipes && rep.n_overheads < 8; ++ri)
      bench_measure_overhead(&env, lt, o->recipes[ri], 1000, &rep.overheads[rep.n_overheads++]);
  snprintf(rep.kernel_timer, sizeof rep.kernel_timer, "%s", bench_cupti_describe());
  printf("CUPTI: %s\n", rep.kernel_timer);
  bench_stats_t floor_stats;
  if (bench_time_gpu(&timer, no_op, NULL, &floor_stats, why, sizeof why) == 0)
    rep.timer_floor_us = floor_stats.median_us;
  printf("%d warm-up + %d timed calls per side, %.0f MiB L2 flush before each, %lld checked "
         "rows; empty event pair: %.1f us\n\n", o->warmup, o->iters, o->flush_mib,
         (long long)o->check_rows, rep.timer_floor_us);
  bench_table_header(stdout);

  bench_problem_t* prev = NULL;
  for (int i = 0; i < n_shapes; ++i) {
    bench_record_t* r = &rep.records[rep.n_records++];
    r->s = shapes[i];
    bench_problem_t* p = NULL;
    if (bench_problem_create(&env, &shapes[i], o->seed + (uint64_t)i, prev, &p, why,
                             sizeof why) != 0) {
      snprintf(r->dl.status, sizeof r->dl.status, "setup: %.300s", why);
      prev = NULL;
    } else {
      run_shape(&env, lt, &timer, o, p, r);
      prev = p;
    }
    bench_table_row(stdout, r);
    fflush(stdout);
  }
  bench_problem_destroy(&env, prev);
  printf("\n");
  bench_table_summary(stdout, &rep);

  if (o->overhead) {
    for (int ri = 0; ri < rep.n_overheads; ++ri) {
      const bench_overhead_t* ov = &rep.overheads[ri];
      char dl[32] = "-", lt_us[32] = "-";
      if (ov->dl_us >= 0.0) snprintf(dl, sizeof dl, "%.2f us", ov->dl_us);
      if (ov->lt_us >= 0.0) snprintf(lt_us, sizeof lt_us, "%.2f us", ov->lt_us);
      printf("host time per cached call, %-14s %lldx%lldx%lld: dlgemm %s, cuBLASLt %s%s%s\n",
             bench_recipe_key(ov->recipe), (long long)ov->m, (long long)ov->n, (long long)ov->k,
             dl, lt_us, ov->status[0] ? "  -- " : "", ov->status);
    }
  }
  if (o->compile) {
    bench_prime_jit(&env);
    for (int ri = 0; ri < o->n_recipes; ++ri) {
      const dlg_recipe_t rc = o->recipes[ri];
      const int f32 = rc == DLG_RECIPE_FP8_1D1D;
      /* (4096 x 2112 x 7168: FP8 1D2D's 128x176 tiles straddle B scale blocks, so its k-loop
       * is compiled once per offset base: the largest FP8 kernel the search picks) */
      const int64_t mnk[3][3] = {{128, 7168, 2048}, {4096, 4096, 4096}, {4096, 2112, 7168}};
      for (int j = 0; j < 3 && rep.n_compiles < 16; ++j) {
        bench_compile_t* c = &rep.compiles[rep.n_compiles++];
        bench_measure_compile(&env, rc, mnk[j][0], mnk[j][1], mnk[j][2], f32, c);
        printf("compile %-14s %lldx%lldx%lld: ", bench_recipe_key(rc), (long long)c->m,
               (long long)c->n, (long long)c->k);
        if (c->ok)
          printf("cold %.0f ms, disk-cache hit %.1f ms, memory hit %.1f us\n", c->cold_ms,
                 c->disk_hit_ms, c->memory_hit_us);
        else
          printf("failed: %s\n", c->status);
      }
    }
  }
  rep.elapsed_s = bench_now() - t_start;
  printf("elapsed %.0f s\n", rep.elapsed_s);

  int rc = 0;
  for (int i = 0; i < rep.n_records; ++i) {
    const bench_record_t* r = &rep.records[i];
    if (!r->dl.ran || (r->dl.checked && !bench_side_correct(r, &r->dl))) rc = 1;
  }
  if (o->json && bench_write_json(o->json, &rep) != 0) rc = 2;
  else if (o->json) printf("results: %s\n", o->json);

  bench_lt_close(lt);
  bench_dev_free(&env.cu, &timer.flush);
  env.cu.stream_destroy(env.stream);
  dlg_context_destroy(env.ctx);
  dlg_context_destroy(env.cpu);
  bench_cuda_close(&env.cu);
  free(rep.records);
  return rc;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--op") && bench_grouped_op(argv[i + 1]))
      return bench_grouped_main(argc, argv);
  /* --op mqa | paged_mqa | attention: the MQA logits bench (bench/mqa.c). */
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--op") && bench_mqa_is_op(argv[i + 1])) return bench_mqa_main(argc, argv);
  options_t o;
  int a = parse_args(argc, argv, &o);
  if (a != 0) return a > 0 ? 0 : 64;
  static bench_shape_t shapes[BENCH_MAX_SHAPES];
  int n = select_shapes(&o, shapes);
  if (n < 0) return 64;
  if (o.list) {
    for (int i = 0; i < n; ++i)
      printf("%-14s %-5s M=%-5lld N=%-6lld K=%-6lld D=%s%s\n", bench_recipe_key(shapes[i].recipe),
             bench_pass_name(shapes[i].pass), (long long)shapes[i].m, (long long)shapes[i].n,
             (long long)shapes[i].k, shapes[i].d_f32 ? "f32" : "bf16",
             shapes[i].accumulate ? " (+= C)" : "");
    printf("%d shapes\n", n);
    return 0;
  }
  if (n == 0) {
    fprintf(stderr, "dlgemm_bench: no shape selected\n");
    return 64;
  }
  return run(&o, shapes, n);
}
