/* GPU timing with CUDA events, L2 flushed before every timed call, and host clocks. */
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
  double median_us, min_us, mean_us, max_us;
  int samples;
} bench_stats_t;

/* `warmup` untimed calls, then `iters` timed ones: for each, the flush write, then an event
 * pair around the call, so the flush is never inside the measured interval. Events are read
 * after the last call: no host synchronisation between calls. 0 / -1 + why. */
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
