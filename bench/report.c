#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include "cupti.h"
#include "json.h"

double bench_diff_bound(dlg_recipe_t recipe) { return recipe == DLG_RECIPE_BF16 ? 1e-5 : 1e-3; }

int bench_side_correct(const bench_record_t* r, const bench_side_t* side) {
  return side->checked && side->check.unwritten == 0 && side->check.diff >= 0.0 &&
         side->check.diff < bench_diff_bound(r->s.recipe);
}

void bench_table_header(FILE* f) {
  fprintf(f, "%-14s %-5s %5s %6s %6s | %9s %7s %9s %7s %6s | %9s %7s %7s | %5s | %-16s | %-9s\n",
          "recipe", "pass", "M", "N", "K", "dlgemm us", "kern us", "min us", "TFLOPS", "GB/s",
          "Lt us", "kern us", "TFLOPS", "x Lt", "check", "Lt diff");
}

/* The CUPTI kernel time of a side ("-" where none was measured). */
static void format_kernel(char* buf, size_t cap, const bench_side_t* s) {
  if (s->ran && s->t.has_kernel) snprintf(buf, cap, "%7.1f", s->t.kernel_median_us);
  else snprintf(buf, cap, "%7s", "-");
}

static void format_check(char* buf, size_t cap, const bench_record_t* r, const bench_side_t* s) {
  if (!s->checked) snprintf(buf, cap, "-");
  else if (s->check.unwritten) snprintf(buf, cap, "UNWRITTEN %lld", (long long)s->check.unwritten);
  else snprintf(buf, cap, "%s %.1e", bench_side_correct(r, s) ? "ok" : "FAIL", s->check.diff);
}

void bench_table_row(FILE* f, const bench_record_t* r) {
  char dl[80], lt[64], ratio[16], check[32], lt_check[32], dl_k[16], lt_k[16];
  format_kernel(dl_k, sizeof dl_k, &r->dl);
  format_kernel(lt_k, sizeof lt_k, &r->lt);
  if (r->dl.ran)
    snprintf(dl, sizeof dl, "%9.1f %s %9.1f %7.0f %6.0f", r->dl.t.median_us, dl_k,
             r->dl.t.min_us, r->dl.tflops, r->dl.gbps);
  else
    snprintf(dl, sizeof dl, "%9s %7s %9s %7s %6s", "-", "-", "-", "-", "-");
  if (r->lt.ran) snprintf(lt, sizeof lt, "%9.1f %s %7.0f", r->lt.t.median_us, lt_k, r->lt.tflops);
  else snprintf(lt, sizeof lt, "%9s %7s %7s", "-", "-", "-");
  if (r->dl.ran && r->lt.ran) snprintf(ratio, sizeof ratio, "%5.2f", r->dl.tflops / r->lt.tflops);
  else snprintf(ratio, sizeof ratio, "%5s", "-");
  format_check(check, sizeof check, r, &r->dl);
  format_check(lt_check, sizeof lt_check, r, &r->lt);
  fprintf(f, "%-14s %-5s %5lld %6lld %6lld | %s | %s | %s | %-16s | %-9s\n",
          bench_recipe_key(r->s.recipe), bench_pass_name(r->s.pass), (long long)r->s.m,
          (long long)r->s.n, (long long)r->s.k, dl, lt, ratio, check, lt_check);
  if (r->dl.status[0]) fprintf(f, "    dlgemm: %s\n", r->dl.status);
  /* Kernel times missing although CUPTI is there: say why (once per side). */
  if (bench_cupti_available() && r->dl.ran && !r->dl.t.has_kernel)
    fprintf(f, "    dlgemm kernel time: %s\n", r->dl.t.kernel_note);
  if (bench_cupti_available() && r->lt.ran && !r->lt.t.has_kernel)
    fprintf(f, "    baseline kernel time: %s\n", r->lt.t.kernel_note);
  if (r->lt.status[0] && r->baseline) fprintf(f, "    %s: %s\n", r->baseline, r->lt.status);
}

void bench_table_summary(FILE* f, const bench_report_t* rep) {
  static const dlg_recipe_t recipes[] = {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_1D1D,
                                         DLG_RECIPE_FP8_PER_TENSOR, DLG_RECIPE_BF16};
  for (int ri = 0; ri < 4; ++ri) {
    double log_sum = 0.0, log_sum_k = 0.0;
    int pairs = 0, pairs_k = 0, shapes = 0, wrong = 0;
    for (int i = 0; i < rep->n_records; ++i) {
      const bench_record_t* r = &rep->records[i];
      if (r->s.recipe != recipes[ri]) continue;
      ++shapes;
      if (r->dl.checked && !bench_side_correct(r, &r->dl)) ++wrong;
      if (r->dl.ran && r->lt.ran) {
        log_sum += log(r->dl.tflops / r->lt.tflops);
        ++pairs;
      }
      if (r->dl.ran && r->lt.ran && r->dl.t.has_kernel && r->lt.t.has_kernel &&
          r->dl.t.kernel_median_us > 0.0 && r->lt.t.kernel_median_us > 0.0) {
        log_sum_k += log(r->lt.t.kernel_median_us / r->dl.t.kernel_median_us);
        ++pairs_k;
      }
    }
    if (!shapes) continue;
    fprintf(f, "%-14s %3d shapes, %d failed the check; geomean dlgemm/cuBLASLt = ",
            bench_recipe_key(recipes[ri]), shapes, wrong);
    if (pairs) fprintf(f, "%.3f over %d shapes (events)", exp(log_sum / pairs), pairs);
    else fprintf(f, "-");
    if (pairs_k) fprintf(f, ", %.3f over %d (kernel times)", exp(log_sum_k / pairs_k), pairs_k);
    fprintf(f, "\n");
  }
}

static void json_side_check(bench_json_t* j, const char* prefix, const bench_side_t* s) {
  char key[48];
  snprintf(key, sizeof key, "%sdiff", prefix);
  bench_json_number(j, key, s->check.diff, s->checked && s->check.diff >= 0.0);
  snprintf(key, sizeof key, "%sunwritten", prefix);
  if (s->checked) bench_json_int(j, key, s->check.unwritten);
  else bench_json_null(j, key);
}

/* CUPTI kernel times of one side: null where the side did not run or CUPTI saw nothing. */
static void json_side_kernel(bench_json_t* j, const char* prefix, const bench_side_t* s) {
  const int has = s->ran && s->t.has_kernel;
  char key[48];
  snprintf(key, sizeof key, "%skernel_us", prefix);
  bench_json_number(j, key, s->t.kernel_median_us, has);
  snprintf(key, sizeof key, "%skernel_us_min", prefix);
  bench_json_number(j, key, s->t.kernel_min_us, has);
  snprintf(key, sizeof key, "%skernel_sum_us", prefix);
  bench_json_number(j, key, s->t.kernel_sum_median_us, has);
  snprintf(key, sizeof key, "%skernels", prefix);
  if (has) bench_json_int(j, key, s->t.kernels);
  else bench_json_null(j, key);
}

static void json_record(bench_json_t* j, const bench_record_t* r) {
  bench_json_object_begin(j, NULL);
  bench_json_string(j, "op", "gemm");
  bench_json_string(j, "recipe", bench_recipe_key(r->s.recipe));
  bench_json_string(j, "pass", bench_pass_name(r->s.pass));
  bench_json_int(j, "m", r->s.m);
  bench_json_int(j, "n", r->s.n);
  bench_json_int(j, "k", r->s.k);
  bench_json_string(j, "d_dtype", r->s.d_f32 ? "float32" : "bfloat16");
  bench_json_bool(j, "accumulate", r->s.accumulate);
  bench_json_number(j, "us", r->dl.t.median_us, r->dl.ran);
  bench_json_number(j, "us_min", r->dl.t.min_us, r->dl.ran);
  json_side_kernel(j, "", &r->dl);
  bench_json_number(j, "tflops", r->dl.tflops, r->dl.ran);
  bench_json_number(j, "gbps", r->dl.gbps, r->dl.ran);
  json_side_check(j, "", &r->dl);
  bench_json_bool(j, "correct", bench_side_correct(r, &r->dl));
  bench_json_string(j, "status", r->dl.status[0] ? r->dl.status : NULL);
  bench_json_string(j, "baseline", r->baseline && r->lt.ran ? r->baseline : NULL);
  bench_json_number(j, "baseline_us", r->lt.t.median_us, r->lt.ran);
  bench_json_number(j, "baseline_us_min", r->lt.t.min_us, r->lt.ran);
  json_side_kernel(j, "baseline_", &r->lt);
  bench_json_number(j, "baseline_tflops", r->lt.tflops, r->lt.ran);
  json_side_check(j, "baseline_", &r->lt);
  bench_json_string(j, "baseline_status", r->lt.status[0] ? r->lt.status : NULL);
  bench_json_int(j, "bytes", (int64_t)r->bytes);
  bench_json_int(j, "samples", r->dl.ran ? r->dl.t.samples : 0);
  bench_json_object_end(j);
}

int bench_write_json(const char* path, const bench_report_t* rep) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "dlgemm_bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  bench_json_t j;
  bench_json_init(&j, f);
  bench_json_object_begin(&j, NULL);
  bench_json_string(&j, "device", rep->device);
  bench_json_int(&j, "driver", rep->driver_version);
  bench_json_string(&j, "driver_release", rep->driver_release[0] ? rep->driver_release : NULL);
  bench_json_string(&j, "commit", rep->commit);
  bench_json_string(&j, "date", rep->date);
  bench_json_string(&j, "dlgemm_version", dlg_version_string());
  bench_json_int(&j, "num_sms", rep->num_sms);
  bench_json_int(&j, "sm", rep->sm_major * 10 + rep->sm_minor);
  if (rep->cublaslt_version) bench_json_int(&j, "cublaslt_version", rep->cublaslt_version);
  else bench_json_null(&j, "cublaslt_version");
  bench_json_string(&j, "cublaslt_status", rep->cublaslt_status[0] ? rep->cublaslt_status : NULL);
  bench_json_object_begin(&j, "method");
  bench_json_string(&j, "timer", "CUDA events around each call, median of the timed calls");
  bench_json_string(&j, "kernel_timer", rep->kernel_timer);
  bench_json_string(&j, "kernel_time", "CUPTI concurrent-kernel records of each timed call (tied "
                    "to it by an external correlation id): last kernel end - first kernel start, "
                    "median of the timed calls (kernel_us); kernel_sum_us: the kernels' summed "
                    "durations");
  bench_json_int(&j, "iters", rep->iters);
  bench_json_int(&j, "warmup", rep->warmup);
  bench_json_number(&j, "l2_flush_mib", rep->flush_mib, 1);
  bench_json_int(&j, "check_rows", rep->check_rows);
  bench_json_number(&j, "timer_floor_us", rep->timer_floor_us, rep->timer_floor_us >= 0.0);
  bench_json_object_end(&j);

  bench_json_array_begin(&j, "records");
  for (int i = 0; i < rep->n_records; ++i) json_record(&j, &rep->records[i]);
  bench_json_array_end(&j);

  /* The headline host overhead: the first recipe's dlgemm figure. */
  double headline = -1.0;
  for (int i = 0; i < rep->n_overheads && headline < 0.0; ++i) headline = rep->overheads[i].dl_us;
  bench_json_number(&j, "host_overhead_us", headline, headline >= 0.0);
  bench_json_array_begin(&j, "host_overhead");
  for (int i = 0; i < rep->n_overheads; ++i) {
    const bench_overhead_t* o = &rep->overheads[i];
    bench_json_object_begin(&j, NULL);
    bench_json_string(&j, "recipe", bench_recipe_key(o->recipe));
    bench_json_int(&j, "m", o->m);
    bench_json_int(&j, "n", o->n);
    bench_json_int(&j, "k", o->k);
    bench_json_int(&j, "calls", o->calls);
    bench_json_number(&j, "dlgemm_us", o->dl_us, o->dl_us >= 0.0);
    bench_json_number(&j, "cublaslt_us", o->lt_us, o->lt_us >= 0.0);
    bench_json_string(&j, "status", o->status[0] ? o->status : NULL);
    bench_json_object_end(&j);
  }
  bench_json_array_end(&j);

  bench_json_object_begin(&j, "compile");
  bench_json_array_begin(&j, "kernels");
  for (int i = 0; i < rep->n_compiles; ++i) {
    const bench_compile_t* c = &rep->compiles[i];
    bench_json_object_begin(&j, NULL);
    bench_json_string(&j, "recipe", bench_recipe_key(c->recipe));
    bench_json_int(&j, "m", c->m);
    bench_json_int(&j, "n", c->n);
    bench_json_int(&j, "k", c->k);
    bench_json_string(&j, "d_dtype", c->d_f32 ? "float32" : "bfloat16");
    bench_json_number(&j, "cold_ms", c->cold_ms, c->ok);
    bench_json_number(&j, "disk_hit_ms", c->disk_hit_ms, c->ok);
    bench_json_number(&j, "memory_hit_us", c->memory_hit_us, c->ok);
    bench_json_string(&j, "status", c->status[0] ? c->status : NULL);
    bench_json_object_end(&j);
  }
  bench_json_array_end(&j);
  bench_json_object_end(&j);
  bench_json_number(&j, "elapsed_s", rep->elapsed_s, 1);
  bench_json_object_end(&j);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    fprintf(stderr, "dlgemm_bench: error writing %s\n", path);
    return -1;
  }
  return 0;
}
