/* GPU timing with CUDA events and, where CUPTI is available, kernel times of the same calls;
 * L2 flushed before every timed call; host clocks. */
#ifndef DLG_BENCH_TIMING_H_
#define DLG_BENCH_TIMING_H_

#include <stddef.h>
#include "cuda_api.h"

/* Enqueues one call of the code under test on `stream`; 0 on success, else -1 with the
 * reason written to why. Must not synchronise. */
typedef int (*bench_launch_fn)(void* user, CUstream stream, char* why, size_t cap);

typedef struct bench_timer {
  bench_cuda_t* cu;
  CUstream stream;
  bench_dev_buf_t flush; /* written with cuMemsetD8Async before each timed call */
  int warmup, iters;
} bench_timer_t;

typedef struct bench_stats {
  /* Event pair around each call (includes the launch gap before the first kernel). */
  double median_us, min_us, mean_us, max_us;
  int samples;
  /* CUPTI, the same calls: has_kernel is 1 when every timed call's kernels were seen. Per call,
   * the span = last kernel end - first kernel start (kernel_median_us, kernel_min_us) and the
   * sum of the kernels' durations (kernel_sum_median_us: differs from the span only where one
   * call runs several kernels with gaps between them). kernels: kernels per call (the most
   * seen). kernel_note: why has_kernel is 0, or how the kernels were tied to the calls. */
  int has_kernel, kernels;
  double kernel_median_us, kernel_min_us, kernel_sum_median_us;
  char kernel_note[160];
} bench_stats_t;

/* `warmup` untimed calls, then `iters` timed ones: for each, the flush write, then an event
 * pair around the call, so the flush is never inside the measured interval. Events are read
 * after the last call: no host synchronisation between calls. Where CUPTI is available
 * (cupti.h) its activity records are on for the whole function and each timed call's launches
 * are tagged with their own id: the kernel fields of `out`. 0 / -1 + why (only the event timing
 * can fail the call: a CUPTI problem leaves has_kernel 0). */
int bench_time_gpu(const bench_timer_t* t, bench_launch_fn fn, void* user, bench_stats_t* out,
                   char* why, size_t cap);

/* Host microseconds per call: `calls` enqueues (after `warmup` ones), back to back in
 * batches of 50 timed on the host clock without waiting for the GPU, with an untimed
 * synchronisation between batches. 0 / -1 + why. */
int bench_time_host(const bench_timer_t* t, bench_launch_fn fn, void* user, int warmup,
                    int calls, double* us_per_call, char* why, size_t cap);

/* Monotonic clock in seconds. */
double bench_now(void);

#endif /* DLG_BENCH_TIMING_H_ */
