#define _POSIX_C_SOURCE 200809L
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cupti.h"

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

#define CU_TRY(call, what)                                                        \
  do {                                                                            \
    CUresult r_ = (call);                                                         \
    if (r_ != CUDA_SUCCESS) {                                                     \
      snprintf(why, cap, "%s: %s", (what), bench_cu_error(cu, r_));               \
      goto done;                                                                  \
    }                                                                             \
  } while (0)

/* Median of v[0..n) (sorts v). */
static double median_of(double* v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The kernel fields of `out` from the spans of the n timed calls. */
static void kernel_stats(const bench_kernel_span_t* spans, int n, const char* method,
                         bench_stats_t* out) {
  double* span = calloc((size_t)n, sizeof *span);
  double* busy = calloc((size_t)n, sizeof *busy);
  int seen = 0, most = 0;
  if (!span || !busy) {
    snprintf(out->kernel_note, sizeof out->kernel_note, "out of host memory");
    goto done;
  }
  for (int i = 0; i < n; ++i) {
    if (!spans[i].kernels) continue;
    span[seen] = 1e-3 * (double)(spans[i].last_end - spans[i].first_start);
    busy[seen] = 1e-3 * (double)spans[i].busy_ns;
    ++seen;
    if (spans[i].kernels > most) most = spans[i].kernels;
  }
  if (seen < n) { /* a call without kernels would bias the median: report none */
    snprintf(out->kernel_note, sizeof out->kernel_note, "kernel records for %d of %d calls",
             seen, n);
    goto done;
  }
  out->kernel_median_us = median_of(span, n);
  out->kernel_min_us = span[0];
  out->kernel_sum_median_us = median_of(busy, n);
  out->kernels = most;
  out->has_kernel = 1;
  snprintf(out->kernel_note, sizeof out->kernel_note, "%s", method);
done:
  free(span);
  free(busy);
}

int bench_time_gpu(const bench_timer_t* t, bench_launch_fn fn, void* user, bench_stats_t* out,
                   char* why, size_t cap) {
  bench_cuda_t* cu = t->cu;
  const int n = t->iters > 0 ? t->iters : 1;
  int rc = -1, created = 0;
  memset(out, 0, sizeof *out);
  CUevent* ev = calloc((size_t)2 * (size_t)n, sizeof *ev);
  double* us = calloc((size_t)n, sizeof *us);
  bench_kernel_span_t* spans = NULL;
  /* CUPTI on before the warm-up, so that its set-up cost lands there. */
  int cupti = bench_cupti_begin(out->kernel_note, sizeof out->kernel_note) == 0;
  uint64_t first_id = 0;
  if (!ev || !us) {
    snprintf(why, cap, "out of host memory");
    goto done;
  }
  for (; created < 2 * n; ++created)
    CU_TRY(cu->event_create(&ev[created], CU_EVENT_DEFAULT), "cuEventCreate");

  for (int i = 0; i < t->warmup; ++i)
    if (fn(user, t->stream, why, cap) != 0) goto done;
  CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize (warm-up)");
  if (cupti) {
    bench_cupti_discard(); /* the warm-up's records */
    first_id = bench_cupti_reserve_ids(n);
  }

  for (int i = 0; i < n; ++i) {
    if (t->flush.bytes)
      CU_TRY(cu->memset_d8_async(t->flush.ptr, (unsigned char)(i & 0xFF), t->flush.bytes,
                                 t->stream), "cuMemsetD8Async (L2 flush)");
    CU_TRY(cu->event_record(ev[2 * i], t->stream), "cuEventRecord");
    /* Only the call's own launches carry its id: not the flush, not the events. */
    const int tagged = cupti && bench_cupti_push(first_id + (uint64_t)i) == 0;
    const int failed = fn(user, t->stream, why, cap) != 0;
    if (tagged) bench_cupti_pop();
    if (failed) goto done;
    CU_TRY(cu->event_record(ev[2 * i + 1], t->stream), "cuEventRecord");
  }
  CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize (timed calls)");
  for (int i = 0; i < n; ++i) {
    float ms = 0.0f;
    CU_TRY(cu->event_elapsed_time(&ms, ev[2 * i], ev[2 * i + 1]), "cuEventElapsedTime");
    us[i] = 1e3 * (double)ms;
  }
  if (cupti) {
    const char* method = "";
    spans = calloc((size_t)n, sizeof *spans);
    if (!spans) snprintf(out->kernel_note, sizeof out->kernel_note, "out of host memory");
    if (bench_cupti_end(first_id, spans ? n : 0, spans, &method, out->kernel_note,
                        sizeof out->kernel_note) == 0 && spans)
      kernel_stats(spans, n, method, out);
    cupti = 0;
  }
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += us[i];
  out->samples = n;
  out->mean_us = sum / n;
  out->median_us = median_of(us, n);
  out->min_us = us[0];
  out->max_us = us[n - 1];
  rc = 0;
done:
  if (rc != 0) cu->stream_synchronize(t->stream); /* leave nothing of ours in flight */
  if (cupti) bench_cupti_end(0, 0, NULL, NULL, why, 0); /* error path: kinds off, records dropped */
  for (int i = 0; i < created; ++i) cu->event_destroy(ev[i]);
  free(ev);
  free(us);
  free(spans);
  return rc;
}

int bench_time_host(const bench_timer_t* t, bench_launch_fn fn, void* user, int warmup,
                    int calls, double* us_per_call, char* why, size_t cap) {
  /* Timed in batches with a synchronisation between them (not timed): the launch queue never
   * fills up, so a kernel slower than the host cannot make the host wait and be counted. */
  enum { BATCH = 50 };
  bench_cuda_t* cu = t->cu;
  int rc = -1;
  double host_s = 0.0;
  for (int i = 0; i < warmup; ++i)
    if (fn(user, t->stream, why, cap) != 0) goto done;
  CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize");
  for (int done_calls = 0; done_calls < calls;) {
    const int batch = calls - done_calls < BATCH ? calls - done_calls : BATCH;
    const double t0 = bench_now();
    for (int i = 0; i < batch; ++i)
      if (fn(user, t->stream, why, cap) != 0) goto done;
    host_s += bench_now() - t0;
    done_calls += batch;
    CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize");
  }
  *us_per_call = 1e6 * host_s / (calls > 0 ? calls : 1);
  rc = 0;
done:
  if (rc != 0) cu->stream_synchronize(t->stream);
  return rc;
}
