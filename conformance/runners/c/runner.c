/* The C conformance runner: the reference implementation of conformance/README.md.
 *
 *   dlg_conformance --cases DIR --device cpu|cuda --out RESULTS.json
 *                   [--filter SUBSTRING] [--expected DIR] [--write-expected DIR]
 *                   [--dump DIR] [-v]
 *                   [--mirror]   (self-test: the cuda path with host memory as the "device")
 *
 * Every case runs twice: the reference on CPU tensors, and the result on the requested device
 * (CPU again, or CUDA tensors copied there). Both go through the public ABI only. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"

/* Expected files store an output's whole storage up to this many elements, else a sample of
 * about EXPECTED_SAMPLES elements at an odd step (they live in the repository). */
#define EXPECTED_FULL_ELEMS 1024
#define EXPECTED_SAMPLES 512

typedef struct {
  const char* cases_dir;
  const char* device; /* "cpu" or "cuda" */
  const char* out;
  const char* filter;
  char expected_dir[1024];
  const char* write_expected;
  const char* dump; /* debugging: raw storage of the reference tensors after the op */
  int mirror;       /* self-test: --device cuda's path on host memory */
  int verbose;
} options_t;

typedef struct {
  dlg_context_t* cpu;
  dlg_context_t* gpu; /* cuda runs only */
  int on_cuda;
  int gpu_ok;
  int mirror; /* --mirror: the cuda path on host memory and a CPU context (a runner self-test) */
  char gpu_why[512];
  dlg_device_info_t info;
} env_t;

typedef struct {
  char name[256];
  const char* status; /* "pass", "fail", "not-run" */
  char reason[1024];
  double metric;
  int has_metric;
} result_t;

static void set_result(result_t* r, const char* status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_result(result_t* r, const char* status, const char* fmt, ...) {
  va_list ap;
  r->status = status;
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof r->reason, fmt, ap);
  va_end(ap);
}

static void note_metric(result_t* r, double v) {
  if (!r->has_metric || v > r->metric || isnan(v)) r->metric = v;
  r->has_metric = 1;
}

/* ---- expectations ---------------------------------------------------------------------- */

/* Status enumerator name -> value; -1 if unknown. "ok" is DLG_OK. */
static int status_from_name(const char* name) {
  if (!name) return -1;
  if (!strcmp(name, "ok")) return DLG_OK;
  for (int s = 0; s < 64; ++s) {
    const char* n = dlg_status_name((dlg_status_t)s);
    if (n && !strcmp(n, name)) return s;
  }
  return -1;
}

/* The expected status for a device kind ("cpu" / "cuda"). */
static int expected_status(const json_value_t* kase, const char* kind) {
  const json_value_t* e = json_get(kase, "expect");
  if (!e) return DLG_OK;
  if (e->type == JSON_STRING) return status_from_name(e->string);
  if (e->type == JSON_OBJECT) {
    const char* s = json_get_string(e, kind);
    return s ? status_from_name(s) : DLG_OK;
  }
  return -1;
}

static int device_allowed(const json_value_t* kase, const char* kind) {
  const json_value_t* d = json_get(kase, "devices");
  if (!d || d->type != JSON_ARRAY) return 1;
  for (int i = 0; i < d->count; ++i)
    if (d->items[i].type == JSON_STRING && !strcmp(d->items[i].string, kind)) return 1;
  return 0;
}

/* ---- comparisons ----------------------------------------------------------------------- */

/* metric(x, y) <= tol; 0 or -1 with a reason in r. `what` names the comparison. */
static int compare(result_t* r, const char* tname, const char* what, const char* metric,
                   double tol, const DLTensor* x, const DLTensor* y) {
  if (!strcmp(metric, "calc_diff")) {
    double diff = 0;
    dlg_status_t st = dlg_testing_calc_diff(x, y, &diff);
    if (st != DLG_OK) {
      set_result(r, "fail", "%s: calc_diff(%s) -> %s: %s", tname, what, dlg_status_name(st),
                 dlg_last_error());
      return -1;
    }
    note_metric(r, diff);
    if (!(diff <= tol)) {
      set_result(r, "fail", "%s: calc_diff(%s) = %.3g > tol %.3g", tname, what, diff, tol);
      return -1;
    }
    return 0;
  }
  if (!strcmp(metric, "exact")) {
    int64_t mismatches = 0;
    dlg_status_t st = dlg_testing_count_mismatch(x, y, &mismatches);
    if (st != DLG_OK) {
      set_result(r, "fail", "%s: count_mismatch(%s) -> %s: %s", tname, what, dlg_status_name(st),
                 dlg_last_error());
      return -1;
    }
    note_metric(r, (double)mismatches);
    if (mismatches) {
      set_result(r, "fail", "%s: %lld elements differ (%s)", tname, (long long)mismatches, what);
      return -1;
    }
    return 0;
  }
  set_result(r, "fail", "%s: unknown metric '%s'", tname, metric);
  return -1;
}

/* The stored sample of a tensor: a 1-D view of its storage, elements 0, step, 2·step, ... */
static DLTensor storage_sample(const conf_tensor_t* t, const int64_t* step, int64_t* count) {
  DLTensor v = t->h;
  *count = *step > 0 ? (t->storage_elems + *step - 1) / *step : 0;
  v.ndim = 1;
  v.shape = count;
  v.strides = (int64_t*)step;
  return v;
}

/* A compact 1-D tensor from a stored value list: the output's dtype for integers, else f32. */
static void* tensor_from_values(const conf_tensor_t* like, const json_value_t* values,
                                int64_t* count, DLTensor* out) {
  if (!values || values->type != JSON_ARRAY) return NULL;
  *count = values->count;
  memset(out, 0, sizeof *out);
  out->device.device_type = kDLCPU;
  out->ndim = 1;
  out->shape = count;
  int integer = like->h.dtype.code == kDLInt || like->h.dtype.code == kDLUInt;
  out->dtype = integer ? like->h.dtype : (DLDataType){kDLFloat, 32, 1};
  void* mem = malloc((size_t)(*count ? *count : 1) * (out->dtype.bits / 8));
  if (!mem) return NULL;
  for (int64_t i = 0; i < *count; ++i) {
    const json_value_t* v = &values->items[i];
    double x = v->number;
    if (v->type == JSON_STRING)
      x = !strcmp(v->string, "inf") ? INFINITY : !strcmp(v->string, "-inf") ? -INFINITY : NAN;
    if (!integer) ((float*)mem)[i] = (float)x;
    else if (out->dtype.bits == 32) ((int32_t*)mem)[i] = (int32_t)x;
    else ((uint8_t*)mem)[i] = (uint8_t)x;
  }
  out->data = mem;
  return mem;
}

/* ---- expected-value files -------------------------------------------------------------- */

static void write_number(FILE* f, double v, int integer) {
  if (isnan(v)) fputs("\"nan\"", f);
  else if (isinf(v)) fputs(v > 0 ? "\"inf\"" : "\"-inf\"", f);
  else if (integer) fprintf(f, "%lld", (long long)v);
  else fprintf(f, "%.9g", v);
}

static int64_t sample_step(int64_t storage_elems) {
  if (storage_elems <= EXPECTED_FULL_ELEMS) return 1;
  int64_t step = (storage_elems + EXPECTED_SAMPLES - 1) / EXPECTED_SAMPLES;
  return step | 1; /* odd: does not alias with power-of-two row lengths */
}

static void write_expected(const options_t* o, const json_value_t* kase, const char* name,
                           conf_set_t* ref) {
  const json_value_t* check = json_get(kase, "check");
  if (!check || check->type != JSON_OBJECT || !check->count) return;
  char path[2048];
  snprintf(path, sizeof path, "%s/%s.json", o->write_expected, name);
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "cannot write %s\n", path);
    return;
  }
  fprintf(f, "{\"case\": \"%s\", \"outputs\": {", name);
  int first = 1;
  for (int i = 0; i < check->count; ++i) {
    conf_tensor_t* t = conf_find(ref, check->keys[i]);
    if (!t) continue;
    int integer = t->h.dtype.code == kDLInt || t->h.dtype.code == kDLUInt;
    int64_t step = sample_step(t->storage_elems);
    fprintf(f, "%s\n  \"%s\": {\"step\": %lld, \"values\": [", first ? "" : ",", t->name,
            (long long)step);
    first = 0;
    for (int64_t e = 0, k = 0; e < t->storage_elems; e += step, ++k) {
      if (k) fputs(k % 16 ? ", " : ",\n    ", f);
      write_number(f, conf_get(t, e), integer);
    }
    fputs("]}", f);
  }
  fputs("\n}}\n", f);
  fclose(f);
}

/* DIR/<case>.<tensor>.bin: the storage bytes, for checking a case with outside tools. */
static void dump_set(const char* dir, const char* name, conf_set_t* set) {
  for (int i = 0; i < set->count; ++i) {
    if (set->t[i].alias >= 0) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.%s.bin", dir, name, set->t[i].name);
    FILE* f = fopen(path, "wb");
    if (!f) continue;
    fwrite(set->t[i].host, 1, set->t[i].bytes, f);
    fclose(f);
  }
}

/* ---- judging one case ------------------------------------------------------------------ */

static int check_untouched(result_t* r, conf_tensor_t* t, const json_value_t* ranges,
                           const char* run) {
  for (int i = 0; ranges && ranges->type == JSON_ARRAY && i < ranges->count; ++i) {
    const json_value_t* rg = &ranges->items[i];
    if (rg->type != JSON_ARRAY || rg->count != 2) {
      set_result(r, "fail", "%s: untouched ranges must be [start, end] pairs", t->name);
      return -1;
    }
    int64_t s = (int64_t)rg->items[0].number, e = (int64_t)rg->items[1].number;
    if (!conf_untouched(t, s, e)) {
      set_result(r, "fail", "%s: %s wrote storage elements in [%lld, %lld), which must stay "
                 "untouched", t->name, run, (long long)s, (long long)e);
      return -1;
    }
  }
  return 0;
}

/* Is storage element `e` inside one of the [start, end) ranges? */
static int in_ranges(const json_value_t* ranges, int64_t e) {
  for (int i = 0; ranges && ranges->type == JSON_ARRAY && i < ranges->count; ++i) {
    const json_value_t* rg = &ranges->items[i];
    if (rg->type == JSON_ARRAY && rg->count == 2 && e >= (int64_t)rg->items[0].number &&
        e < (int64_t)rg->items[1].number)
      return 1;
  }
  return 0;
}

/* An output the op should have written everywhere outside `untouched` must not still hold the
 * poison there (else a no-op would pass on CPU, where result and reference are the same code).
 * 16/32-bit poison patterns are values no suite input produces; an 8-bit one (e4m3 -0.203)
 * can be a genuine value, so up to 1/8 of those may match. */
static int check_written(result_t* r, const conf_tensor_t* t, const json_value_t* untouched,
                         const char* run) {
  if (t->role != ROLE_OUTPUT) return 0;
  int64_t n = conf_numel(t), poisoned = 0, considered = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t e = conf_storage_index(t, i);
    if (in_ranges(untouched, e)) continue;
    ++considered;
    poisoned += conf_untouched(t, e, e + 1);
  }
  int64_t allowed = t->elem_size == 1 ? considered / 8 : 0;
  if (poisoned > allowed) {
    set_result(r, "fail", "%s: %s left %lld of %lld elements unwritten (still poison)", t->name,
               run, (long long)poisoned, (long long)considered);
    return -1;
  }
  return 0;
}

/* Both runs returned DLG_OK: compare every checked output. */
static void judge_outputs(const options_t* o, const json_value_t* kase, const char* name,
                          conf_set_t* res, conf_set_t* ref, result_t* r) {
  const json_value_t* check = json_get(kase, "check");
  for (int i = 0; i < res->count; ++i) {
    conf_tensor_t* t = &res->t[i];
    if (t->alias < 0 && t->role != ROLE_INPUT && !json_get(check, t->name)) {
      set_result(r, "fail", "case: output %s has no check entry", t->name);
      return;
    }
  }
  json_value_t* expected = NULL;
  if (!o->write_expected) {
    char path[2048], err[256];
    snprintf(path, sizeof path, "%s/%s.json", o->expected_dir, name);
    FILE* probe = fopen(path, "r");
    if (probe) {
      fclose(probe);
      expected = json_parse_file(path, err, sizeof err);
      if (!expected) {
        set_result(r, "fail", "expected file %s: %s", path, err);
        return;
      }
    }
  }
  const json_value_t* outputs = json_get(expected, "outputs");
  for (int i = 0; check && check->type == JSON_OBJECT && i < check->count; ++i) {
    const char* tname = check->keys[i];
    const json_value_t* spec = &check->items[i];
    conf_tensor_t* tr = conf_find(res, tname);
    conf_tensor_t* tf = conf_find(ref, tname);
    if (!tr || !tf || tr->alias >= 0) {
      set_result(r, "fail", "case: check names '%s', not a tensor of the case", tname);
      break;
    }
    const char* metric = json_get_string(spec, "metric");
    double tol = json_get_number(spec, "tol", 0);
    if (!metric) {
      set_result(r, "fail", "case: check of %s has no metric", tname);
      break;
    }
    const json_value_t* untouched = json_get(spec, "untouched");
    if (check_untouched(r, tr, untouched, "the run") ||
        check_untouched(r, tf, untouched, "the cpu reference") ||
        check_written(r, tr, untouched, "the run") ||
        check_written(r, tf, untouched, "the cpu reference"))
      break;
    if (compare(r, tname, "result vs cpu reference", metric, tol, &tr->h, &tf->h)) break;
    if (outputs) {
      const json_value_t* stored = json_get(outputs, tname);
      int64_t step = (int64_t)json_get_number(stored, "step", 0), n_have = 0, n_want = 0;
      DLTensor want, have = storage_sample(tf, &step, &n_have);
      void* mem = tensor_from_values(tf, json_get(stored, "values"), &n_want, &want);
      if (!mem || step < 1 || n_have != n_want) {
        free(mem);
        set_result(r, "fail", "%s: the expected file's sample does not fit the tensor", tname);
        break;
      }
      /* Stored float values are f32: an exact check of a bf16/fp8 output is calc_diff == 0. */
      int integer = tf->h.dtype.code == kDLInt || tf->h.dtype.code == kDLUInt;
      const char* what = "cpu reference vs stored expected";
      int bad = integer || strcmp(metric, "exact")
                    ? compare(r, tname, what, metric, tol, &have, &want)
                    : compare(r, tname, what, "calc_diff", 0, &have, &want);
      free(mem);
      if (bad) break;
    }
  }
  json_free(expected);
}

static void free_meta(env_t* env, void* mem) {
  if (env->mirror) free(mem);
  else dlg_device_free(env->gpu, mem);
}

/* Runs the op on the result set, on the GPU when the env says so; the op's message goes to
 * msg. *skipped = 1 when the run could not be judged (r already says why). */
static dlg_status_t run_result(env_t* env, const json_value_t* kase, conf_set_t* res,
                               int expect_ok, result_t* r, int* skipped, char* msg, size_t cap) {
  char why[1024] = "";
  *skipped = 0;
  if (!env->on_cuda) {
    dlg_clear_error();
    dlg_status_t st = conf_run_op(env->cpu, kase, res, NULL);
    snprintf(msg, cap, "%s", dlg_last_error());
    return st;
  }
  if (conf_set_to_device(env->gpu, dlg_context_device(env->gpu), env->mirror, res, why,
                         sizeof why)) {
    set_result(r, "fail", "%s", why);
    *skipped = 1;
    return DLG_ERR_INTERNAL;
  }
  void* meta_mem = NULL;
  DLTensor meta, *meta_arg = NULL;
  int64_t meta_shape[2];
  if (!strcmp(json_get_string(kase, "op"), "paged_mqa_logits")) {
    /* The schedule is device-specific, so it is not in the case: derive it here. */
    int num_sms = env->info.num_sms;
    meta_shape[0] = dlg_paged_mqa_logits_metadata_rows(num_sms);
    meta_shape[1] = 2;
    conf_tensor_t* kv = conf_find(res, "kv_cache");
    int block_kv = kv && kv->h.ndim >= 2 ? (int)kv->shape[1] : 0;
    size_t meta_bytes = (size_t)(meta_shape[0] * 2 * 4);
    dlg_status_t st = DLG_OK;
    if (env->mirror) st = (meta_mem = malloc(meta_bytes)) ? DLG_OK : DLG_ERR_OUT_OF_MEMORY;
    else st = dlg_device_alloc(env->gpu, meta_bytes, &meta_mem);
    if (st == DLG_OK) {
      memset(&meta, 0, sizeof meta);
      meta.data = meta_mem;
      meta.device.device_type = env->mirror ? kDLCPU : kDLCUDA;
      meta.device.device_id = env->mirror ? 0 : dlg_context_device(env->gpu);
      meta.ndim = 2;
      meta.dtype = (DLDataType){kDLInt, 32, 1};
      meta.shape = meta_shape;
      st = dlg_paged_mqa_logits_metadata(env->gpu, conf_arg(res, "context_lens"), block_kv,
                                         num_sms, &meta, NULL);
    }
    if (st == DLG_OK) {
      meta_arg = &meta;
    } else if (expect_ok) {
      if (st == DLG_ERR_UNSUPPORTED)
        set_result(r, "not-run", "no kernel: schedule metadata: %s", dlg_last_error());
      else
        set_result(r, "fail", "schedule metadata -> %s: %s", dlg_status_name(st), dlg_last_error());
      free_meta(env, meta_mem);
      *skipped = 1;
      return st;
    }
  }
  dlg_clear_error();
  dlg_status_t st = conf_run_op(env->gpu, kase, res, meta_arg);
  snprintf(msg, cap, "%s", dlg_last_error());
  dlg_status_t sync = dlg_stream_synchronize(env->gpu, NULL);
  if (sync != DLG_OK) {
    set_result(r, "fail", "stream synchronize after the op -> %s: %s", dlg_status_name(sync),
               dlg_last_error());
    *skipped = 1;
  } else if (conf_set_from_device(env->gpu, res, why, sizeof why)) {
    set_result(r, "fail", "%s", why);
    *skipped = 1;
  }
  free_meta(env, meta_mem);
  return st;
}

static void run_case(const options_t* o, env_t* env, const char* path, result_t* r) {
  char err[512];
  json_value_t* kase = json_parse_file(path, err, sizeof err);
  conf_set_t ref, res;
  memset(&ref, 0, sizeof ref);
  memset(&res, 0, sizeof res);
  r->status = "pass";
  r->reason[0] = '\0';
  if (!kase) {
    set_result(r, "fail", "case file: %s", err);
    return;
  }
  const char* op = json_get_string(kase, "op");
  const char* kind = env->on_cuda && !env->mirror ? "cuda" : "cpu";
  const char* cname = json_get_string(kase, "name");
  if (!cname || strcmp(cname, r->name)) {
    set_result(r, "fail", "case: \"name\" must equal the file name");
    goto done;
  }
  if (!conf_op_known(op)) {
    set_result(r, "fail", "case: unknown op '%s'", op ? op : "(none)");
    goto done;
  }
  if (conf_op_is_query(op)) {
    int64_t got = 0;
    const json_value_t* want = json_get(json_get(kase, "check"), "result");
    if (conf_run_query(kase, &got, r->reason, sizeof r->reason) || !want) {
      set_result(r, "fail", "case: query needs check.result");
    } else if (json_get(want, "equals") && got != (int64_t)json_get_number(want, "equals", 0)) {
      set_result(r, "fail", "%s returned %lld, want %lld", op, (long long)got,
                 (long long)json_get_number(want, "equals", 0));
    } else if (json_get(want, "min") && got < (int64_t)json_get_number(want, "min", 0)) {
      set_result(r, "fail", "%s returned %lld, want >= %lld", op, (long long)got,
                 (long long)json_get_number(want, "min", 0));
    }
    goto done;
  }
  if (!device_allowed(kase, kind)) {
    const char* why = json_get_string(kase, "devices_reason");
    set_result(r, "not-run", "%s", why ? why : "case excludes this device");
    goto done;
  }
  if (env->on_cuda && !env->gpu_ok) {
    set_result(r, "not-run", "no CUDA device: %s", env->gpu_why);
    goto done;
  }
  int want_cpu = expected_status(kase, "cpu"), want_dev = expected_status(kase, kind);
  if (want_cpu < 0 || want_dev < 0) {
    set_result(r, "fail", "case: unknown status name in \"expect\"");
    goto done;
  }

  /* Reference: CPU tensors, CPU context. */
  if (conf_set_build(env->cpu, kase, &ref, r->reason, sizeof r->reason)) {
    r->status = "fail";
    goto done;
  }
  dlg_clear_error();
  dlg_status_t ref_st = conf_run_op(env->cpu, kase, &ref, NULL);
  char ref_msg[512];
  snprintf(ref_msg, sizeof ref_msg, "%s", dlg_last_error());

  /* Result: a second identical set on the requested device. */
  if (conf_set_build(env->cpu, kase, &res, r->reason, sizeof r->reason)) {
    r->status = "fail";
    goto done;
  }
  int skipped = 0;
  char res_msg[512];
  dlg_status_t res_st =
      run_result(env, kase, &res, want_dev == DLG_OK, r, &skipped, res_msg, sizeof res_msg);
  if (skipped) goto done;

  if ((int)ref_st != want_cpu) {
    set_result(r, "fail", "cpu reference returned %s (%s), want %s", dlg_status_name(ref_st),
               ref_msg, dlg_status_name((dlg_status_t)want_cpu));
    goto done;
  }
  if (ref_st != DLG_OK && !ref_msg[0]) {
    set_result(r, "fail", "cpu reference returned %s with an empty dlg_last_error()",
               dlg_status_name(ref_st));
    goto done;
  }
  if (env->on_cuda && !env->mirror && want_dev == DLG_OK && res_st == DLG_ERR_UNSUPPORTED) {
    set_result(r, "not-run", "no kernel: %s", res_msg);
    goto done;
  }
  if ((int)res_st != want_dev) {
    set_result(r, "fail", "returned %s (%s), want %s", dlg_status_name(res_st), res_msg,
               dlg_status_name((dlg_status_t)want_dev));
    goto done;
  }
  if (res_st != DLG_OK && !res_msg[0]) {
    set_result(r, "fail", "returned %s with an empty dlg_last_error()", dlg_status_name(res_st));
    goto done;
  }
  if (res_st != DLG_OK) {
    /* A failing call must not have written any output (the reference too, unless this is a
     * device-specific failure and the CPU call succeeded). */
    for (int i = 0; i < res.count; ++i) {
      if (res.t[i].alias >= 0 || res.t[i].role != ROLE_OUTPUT) continue;
      if (!conf_untouched(&res.t[i], 0, res.t[i].storage_elems) ||
          (ref_st != DLG_OK && !conf_untouched(&ref.t[i], 0, ref.t[i].storage_elems))) {
        set_result(r, "fail", "%s was written although the call returned %s", res.t[i].name,
                   dlg_status_name(res_st));
        goto done;
      }
    }
    set_result(r, "pass", "%s: %s", dlg_status_name(res_st), res_msg);
    goto done;
  }
  if (o->dump) dump_set(o->dump, r->name, &ref);
  if (ref_st == DLG_OK) judge_outputs(o, kase, r->name, &res, &ref, r);
  if (o->write_expected && ref_st == DLG_OK) write_expected(o, kase, r->name, &ref);

done:
  conf_set_free(env->gpu, &res);
  conf_set_free(NULL, &ref);
  json_free(kase);
}

/* ---- driver ---------------------------------------------------------------------------- */

static int by_name(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

/* Sorted *.json file names of dir; NULL on error. */
static char** list_cases(const char* dir, int* count) {
  DIR* d = opendir(dir);
  if (!d) return NULL;
  int n = 0, cap = 64;
  char** names = malloc((size_t)cap * sizeof *names);
  struct dirent* e;
  while (names && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
    if (n == cap) {
      char** grown = realloc(names, (size_t)(cap *= 2) * sizeof *names);
      if (!grown) break;
      names = grown;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (names) qsort(names, (size_t)n, sizeof *names, by_name);
  *count = n;
  return names;
}

static void json_string(FILE* f, const char* s) {
  fputc('"', f);
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static int write_results(const options_t* o, const env_t* env, const result_t* rs, int n) {
  FILE* f = fopen(o->out, "w");
  if (!f) {
    fprintf(stderr, "cannot write %s\n", o->out);
    return -1;
  }
  char device[32], arch[32];
  if (!env->on_cuda) {
    snprintf(device, sizeof device, "cpu");
    snprintf(arch, sizeof arch, "host");
  } else if (env->mirror) {
    snprintf(device, sizeof device, "cpu-mirror");
    snprintf(arch, sizeof arch, "host");
  } else if (!env->gpu_ok) {
    snprintf(device, sizeof device, "cuda");
    snprintf(arch, sizeof arch, "none");
  } else {
    snprintf(device, sizeof device, "sm%d%d", env->info.sm_major, env->info.sm_minor);
    snprintf(arch, sizeof arch, "sm_%d%d", env->info.sm_major, env->info.sm_minor);
  }
  fprintf(f, "{\"runner\": \"c\", \"device\": \"%s\", \"arch\": \"%s\", \"device_name\": ", device,
          arch);
  json_string(f, env->on_cuda && env->gpu_ok ? env->info.name : "cpu");
  fprintf(f, ", \"library_version\": \"%s\",\n \"results\": [", dlg_version_string());
  for (int i = 0; i < n; ++i) {
    fprintf(f, "%s\n  {\"case\": ", i ? "," : "");
    json_string(f, rs[i].name);
    fprintf(f, ", \"status\": \"%s\", \"reason\": ", rs[i].status);
    json_string(f, rs[i].reason);
    if (rs[i].has_metric && isfinite(rs[i].metric)) fprintf(f, ", \"metric\": %.6g}", rs[i].metric);
    else fputs(", \"metric\": null}", f);
  }
  fputs("\n]}\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

static int usage(void) {
  fprintf(stderr, "usage: dlg_conformance --cases DIR --device cpu|cuda --out RESULTS.json\n"
                  "       [--filter SUBSTRING] [--expected DIR] [--write-expected DIR]\n"
                  "       [--dump DIR] [-v]\n"
                  "       [--mirror]  (self-test: the --device cuda path on host memory)\n");
  return 2;
}

int main(int argc, char** argv) {
  options_t o;
  memset(&o, 0, sizeof o);
  o.device = "cpu";
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-v")) { o.verbose = 1; continue; }
    if (!strcmp(a, "--mirror")) { o.mirror = 1; continue; }
    if (!next) return usage();
    if (!strcmp(a, "--cases")) o.cases_dir = next;
    else if (!strcmp(a, "--device")) o.device = next;
    else if (!strcmp(a, "--out")) o.out = next;
    else if (!strcmp(a, "--filter")) o.filter = next;
    else if (!strcmp(a, "--expected")) snprintf(o.expected_dir, sizeof o.expected_dir, "%s", next);
    else if (!strcmp(a, "--write-expected")) o.write_expected = next;
    else if (!strcmp(a, "--dump")) o.dump = next;
    else return usage();
    ++i;
  }
  if (!o.cases_dir || (strcmp(o.device, "cpu") && strcmp(o.device, "cuda"))) return usage();
  if (!o.expected_dir[0])
    snprintf(o.expected_dir, sizeof o.expected_dir, "%s/../expected", o.cases_dir);

  env_t env;
  memset(&env, 0, sizeof env);
  dlg_status_t st = dlg_context_create(-1, &env.cpu);
  if (st != DLG_OK) {
    fprintf(stderr, "dlg_context_create(-1): %s: %s\n", dlg_status_name(st), dlg_last_error());
    return 2;
  }
  env.on_cuda = !strcmp(o.device, "cuda") || o.mirror;
  if (o.mirror) {
    /* The device path with host memory: a CPU context, 8 "SMs" for the schedule metadata. */
    env.mirror = env.gpu_ok = 1;
    st = dlg_context_create(-1, &env.gpu);
    env.info.num_sms = 8;
    snprintf(env.info.name, sizeof env.info.name, "host mirror");
    if (st != DLG_OK) return 2;
  } else if (env.on_cuda) {
    st = dlg_context_create(0, &env.gpu);
    if (st == DLG_OK) st = dlg_context_device_info(env.gpu, &env.info);
    env.gpu_ok = st == DLG_OK;
    if (!env.gpu_ok)
      snprintf(env.gpu_why, sizeof env.gpu_why, "%s: %s", dlg_status_name(st), dlg_last_error());
    else fprintf(stderr, "device: %s (sm_%d%d, %d SMs)\n", env.info.name, env.info.sm_major,
                 env.info.sm_minor, env.info.num_sms);
  }

  int n = 0;
  char** names = list_cases(o.cases_dir, &n);
  if (!names) {
    fprintf(stderr, "cannot read %s\n", o.cases_dir);
    return 2;
  }
  result_t* rs = calloc((size_t)(n ? n : 1), sizeof *rs);
  int kept = 0, passed = 0, failed = 0, not_run = 0;
  for (int i = 0; rs && i < n; ++i) {
    char name[256], path[2048];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
    if (o.filter && !strstr(name, o.filter)) continue;
    result_t* r = &rs[kept++];
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s", o.cases_dir, names[i]);
    run_case(&o, &env, path, r);
    if (!strcmp(r->status, "pass")) ++passed;
    else if (!strcmp(r->status, "fail")) ++failed;
    else ++not_run;
    if (o.verbose || strcmp(r->status, "pass"))
      printf("%-8s %s%s%s\n", r->status, r->name, r->reason[0] ? ": " : "", r->reason);
  }
  printf("c runner (%s): %d passed, %d failed, %d not-run\n",
         o.mirror ? "cuda path, host mirror" : o.device, passed, failed, not_run);
  int rc = failed ? 1 : 0;
  if (o.out && write_results(&o, &env, rs, kept)) rc = 2;
  for (int i = 0; i < n; ++i) free(names[i]);
  free(names);
  free(rs);
  dlg_context_destroy(env.gpu);
  dlg_context_destroy(env.cpu);
  return rc;
}
