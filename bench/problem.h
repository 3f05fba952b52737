/* One benchmarked GEMM: random operands made on the CPU through the public ABI (fill +
 * FP8 casts), uploaded to the device, the dlgemm launch, and the correctness check against
 * the CPU reference on a sample of rows. */
#ifndef DLG_BENCH_PROBLEM_H_
#define DLG_BENCH_PROBLEM_H_

#include <stddef.h>
#include <stdint.h>
#include "cuda_api.h"
#include "dlgemm.h"
#include "shapes.h"

/* What every part of the bench shares. */
typedef struct bench_env {
  bench_cuda_t cu;
  int device;
  dlg_context_t* ctx; /* GPU context */
  dlg_context_t* cpu; /* CPU-only context for the casts and the reference */
  CUstream stream;
} bench_env_t;

/* A DLTensor with its own shape and strides (up to 2-D). Never copied once pointed to. */
typedef struct bench_tensor {
  DLTensor t;
  int64_t shape[2], strides[2];
} bench_tensor_t;

/* One operand (A or B) with its scale factors, on the host and on the device. */
typedef struct bench_operand {
  int present;
  int64_t rows, k;
  bench_tensor_t host, host_sf;   /* host_sf.t.data NULL: no scales (BF16) */
  bench_dev_buf_t dev, dev_sf;
  bench_tensor_t dev_t, dev_sf_t; /* views of dev / dev_sf with the host layout */
  bench_dev_buf_t lt_sf;          /* cuBLASLt's scale layout when it differs from dev_sf */
} bench_operand_t;

typedef struct bench_problem {
  bench_shape_t s;
  bench_operand_t a, b;
  bench_tensor_t hc;      /* accumulate only: f32 C for the check (host) */
  bench_dev_buf_t dc_buf, dd_buf;
  bench_tensor_t dc, dd;  /* device C (check) and D */
  void* d_host;           /* D copied back */
  /* Reference on sampled rows r = i·ref_step, i < ref_rows: f32 [ref_rows, N]. */
  int64_t ref_rows, ref_step;
  float* ref;
} bench_problem_t;

/* Makes the problem's operands. B (the weight, the larger operand for the decode shapes) is
 * taken from `reuse` when it has the same recipe, N and K, since making it is the slow part
 * on the host; `reuse` is destroyed either way (may be NULL). 0 / -1 + why. */
int bench_problem_create(bench_env_t* env, const bench_shape_t* s, uint64_t seed,
                         bench_problem_t* reuse, bench_problem_t** out, char* why, size_t cap);
void bench_problem_destroy(bench_env_t* env, bench_problem_t* p);

/* Enqueues dlg_gemm on the problem's device tensors. separate_c: C is the check's separate
 * tensor; otherwise an accumulating problem uses C = D (in-place, as weight gradients do). */
int bench_problem_launch(bench_env_t* env, bench_problem_t* p, int separate_c, CUstream stream,
                         char* why, size_t cap);

/* Bytes the GEMM must move at least once: A, B, their scales, D (and C when accumulating). */
double bench_problem_bytes(const bench_problem_t* p);

/* cuBLASLt's scale pointers (its layouts; see cublaslt.h). */
CUdeviceptr bench_problem_lt_sfa(const bench_problem_t* p);
CUdeviceptr bench_problem_lt_sfb(const bench_problem_t* p);

/* Computes the CPU reference on up to `rows` rows spread over M (once). 0 / -1 + why. */
int bench_problem_reference(bench_env_t* env, bench_problem_t* p, int64_t rows, char* why,
                            size_t cap);

/* A way to fill D: called once after D is poisoned; enqueues on `stream`. */
typedef int (*bench_fill_d_fn)(void* user, CUstream stream, char* why, size_t cap);

typedef struct bench_check {
  double diff;      /* calc_diff vs the reference rows */
  int64_t unwritten; /* D elements still holding the poison */
} bench_check_t;

/* Poisons D (0xFF bytes), runs `fill` once, copies D back, counts poison left anywhere in D
 * and compares the sampled rows with the reference. 0 / -1 + why. */
int bench_problem_check(bench_env_t* env, bench_problem_t* p, bench_fill_d_fn fill, void* user,
                        bench_check_t* out, char* why, size_t cap);

#endif /* DLG_BENCH_PROBLEM_H_ */
