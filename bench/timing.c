#define _POSIX_C_SOURCE 200809L
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

int bench_time_gpu(const bench_timer_t* t, bench_launch_fn fn, void* user, bench_stats_t* out,
                   char* why, size_t cap) {
  bench_cuda_t* cu = t->cu;
  const int n = t->iters > 0 ? t->iters : 1;
  int rc = -1, created = 0;
  CUevent* ev = calloc((size_t)2 * (size_t)n, sizeof *ev);
  double* us = calloc((size_t)n, sizeof *us);
  if (!ev || !us) {
    snprintf(why, cap, "out of host memory");
    goto done;
  }
  for (; created < 2 * n; ++created)
    CU_TRY(cu->event_create(&ev[created], CU_EVENT_DEFAULT), "cuEventCreate");

  for (int i = 0; i < t->warmup; ++i)
    if (fn(user, t->stream, why, cap) != 0) goto done;
  CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize (warm-up)");

  for (int i = 0; i < n; ++i) {
    if (t->flush.bytes)
      CU_TRY(cu->memset_d8_async(t->flush.ptr, (unsigned char)(i & 0xFF), t->flush.bytes,
                                 t->stream), "cuMemsetD8Async (L2 flush)");
    CU_TRY(cu->event_record(ev[2 * i], t->stream), "cuEventRecord");
    if (fn(user, t->stream, why, cap) != 0) goto done;
    CU_TRY(cu->event_record(ev[2 * i + 1], t->stream), "cuEventRecord");
  }
  CU_TRY(cu->stream_synchronize(t->stream), "cuStreamSynchronize (timed calls)");
  for (int i = 0; i < n; ++i) {
    float ms = 0.0f;
    CU_TRY(cu->event_elapsed_time(&ms, ev[2 * i], ev[2 * i + 1]), "cuEventElapsedTime");
    us[i] = 1e3 * (double)ms;
  }
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += us[i];
  qsort(us, (size_t)n, sizeof *us, cmp_double);
  out->samples = n;
  out->min_us = us[0];
  out->max_us = us[n - 1];
  out->median_us = n % 2 ? us[n / 2] : 0.5 * (us[n / 2 - 1] + us[n / 2]);
  out->mean_us = sum / n;
  rc = 0;
done:
  if (rc != 0) cu->stream_synchronize(t->stream); /* leave nothing of ours in flight */
  for (int i = 0; i < created; ++i) cu->event_destroy(ev[i]);
  free(ev);
  free(us);
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
