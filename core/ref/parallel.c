/* dlg_parallel_for: one pthread per chunk of rows. The reference paths are the test oracle
 * and CI's only backend, so they must be quick on test shapes, but they need nothing
 * smarter than static chunking: rows of one op cost about the same. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "ref/parallel.h"

#define DLG_PARALLEL_MAX_THREADS 64

static int max_threads(void) {
  static int cached = 0; /* benign race: every thread computes the same value */
  int n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (n) return n;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  n = cores > 0 ? (int)cores : 1;
  const char* env = getenv("DLG_NUM_THREADS");
  if (env && atoi(env) > 0 && atoi(env) < n) n = atoi(env);
  if (n > DLG_PARALLEL_MAX_THREADS) n = DLG_PARALLEL_MAX_THREADS;
  __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
  return n;
}

int dlg_parallel_threads(int64_t n) {
  int t = max_threads();
  if (n < t) t = n > 1 ? (int)n : 1;
  return t;
}

typedef struct chunk {
  void (*fn)(int64_t, int64_t, void*);
  void* arg;
  int64_t begin, end;
} chunk_t;

static void* run_chunk(void* p) {
  chunk_t* c = p;
  c->fn(c->begin, c->end, c->arg);
  return NULL;
}

void dlg_parallel_for(int64_t n, void (*fn)(int64_t begin, int64_t end, void* arg), void* arg) {
  if (n <= 0) return;
  int threads = dlg_parallel_threads(n);
  if (threads == 1) {
    fn(0, n, arg);
    return;
  }
  chunk_t chunks[DLG_PARALLEL_MAX_THREADS];
  pthread_t ids[DLG_PARALLEL_MAX_THREADS];
  int started[DLG_PARALLEL_MAX_THREADS] = {0};
  for (int t = 0; t < threads; ++t) {
    chunks[t].fn = fn;
    chunks[t].arg = arg;
    chunks[t].begin = n * t / threads;
    chunks[t].end = n * (t + 1) / threads;
  }
  /* Chunk 0 runs here; the others on new threads, or here if a thread cannot start. */
  for (int t = 1; t < threads; ++t)
    started[t] = pthread_create(&ids[t], NULL, run_chunk, &chunks[t]) == 0;
  run_chunk(&chunks[0]);
  for (int t = 1; t < threads; ++t) {
    if (started[t]) pthread_join(ids[t], NULL);
    else run_chunk(&chunks[t]);
  }
}
