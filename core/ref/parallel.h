/* A minimal parallel-for over rows for the CPU reference paths. */
#ifndef DLG_REF_PARALLEL_H_
#define DLG_REF_PARALLEL_H_

#include <stdint.h>

/* Calls fn(begin, end, arg) over disjoint chunks covering [0, n), one chunk per thread,
 * threads = min(cores, n); returns when all chunks are done. n <= 1, one core, or a failed
 * thread start run the (remaining) chunks on the calling thread. $DLG_NUM_THREADS (> 0)
 * caps the thread count. fn must not fail: report errors through arg. */
void dlg_parallel_for(int64_t n, void (*fn)(int64_t begin, int64_t end, void* arg), void* arg);

/* The thread count dlg_parallel_for uses for n rows (>= 1). */
int dlg_parallel_threads(int64_t n);

#endif /* DLG_REF_PARALLEL_H_ */
