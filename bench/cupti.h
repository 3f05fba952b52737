/* GPU kernel times from CUPTI's activity API, next to the event times: libcupti opened at run
 * time with dlopen (no link dependency: without it the bench runs as before and says why once).
 * Each timed call pushes its own external correlation id, so the kernels CUPTI reports are tied
 * to the call that launched them whatever API launched them (the library's driver calls,
 * cuBLASLt's runtime calls); the L2 flush is a memset enqueued outside the pushed region and is
 * not a kernel record anyway. Built without the CUPTI headers (DLG_BENCH_HAVE_CUPTI unset),
 * every call answers "not available". */
#ifndef DLG_BENCH_CUPTI_H_
#define DLG_BENCH_CUPTI_H_

#include <stddef.h>
#include <stdint.h>

/* The kernels of one timed call, on CUPTI's clock (ns). kernels == 0: none was seen. */
typedef struct bench_kernel_span {
  uint64_t first_start, last_end;
  uint64_t busy_ns; /* sum of the kernels' own durations */
  int kernels;
} bench_kernel_span_t;

/* Opens libcupti on first use (tries $DLG_CUPTI_LIB, libcupti.so.13, libcupti.so, the Python
 * wheels' nvidia/cu13/lib and nvidia/cuda_cupti/lib, then the CUDA toolkit's directories) and
 * checks that the activity kinds can be enabled. Needs libcuda initialised (bench_cuda_open).
 * $DLG_BENCH_CUPTI=0 turns it off. 1 if kernel times can be collected. */
int bench_cupti_available(void);
/* One line for the run's header: "kernel times from PATH (CUPTI API 130001)" or
 * "not available (reason)". Opens CUPTI if that was not tried yet. */
const char* bench_cupti_describe(void);

/* Reserves n consecutive external ids; returns the first. */
uint64_t bench_cupti_reserve_ids(int n);
/* Enables the activity kinds (before the warm-up, so that CUPTI's set-up cost lands there);
 * 0, or -1 with the reason. */
int bench_cupti_begin(char* why, size_t cap);
/* Flushes CUPTI's buffers and forgets every record so far (the warm-up calls'). */
void bench_cupti_discard(void);
/* Marks the CUDA calls made between push and pop as belonging to external id `id`. */
int bench_cupti_push(uint64_t id);
void bench_cupti_pop(void);
/* After the stream was synchronised: flushes CUPTI's buffers, disables the activity kinds and
 * fills spans[i] with the kernels of id first_id + i (i < n). `method` says how the kernels were
 * tied to the calls. 0, or -1 with the reason (nothing usable was recorded). */
int bench_cupti_end(uint64_t first_id, int n, bench_kernel_span_t* spans, const char** method,
                    char* why, size_t cap);

#endif /* DLG_BENCH_CUPTI_H_ */
