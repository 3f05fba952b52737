#define _POSIX_C_SOURCE 200809L
#include "problem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KBLOCK 128

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* Points t.shape / t.strides at the struct's own arrays (after a copy). */
static void rebind(bench_tensor_t* x) {
  x->t.shape = x->shape;
  x->t.strides = x->strides;
}

/* Describes a tensor of `ndim` (0..2) dims; strides NULL = row-major. */
static void describe(bench_tensor_t* x, void* data, int device_type, int code, int bits,
                     int ndim, const int64_t* shape, const int64_t* strides) {
  memset(x, 0, sizeof *x);
  for (int i = 0; i < ndim; ++i) x->shape[i] = shape[i];
  if (strides) {
    for (int i = 0; i < ndim; ++i) x->strides[i] = strides[i];
  } else if (ndim == 2) {
    x->strides[0] = shape[1];
    x->strides[1] = 1;
  } else if (ndim == 1) {
    x->strides[0] = 1;
  }
  x->t.data = data;
  x->t.device.device_type = device_type;
  x->t.device.device_id = 0;
  x->t.ndim = ndim;
  x->t.dtype.code = (uint8_t)code;
  x->t.dtype.bits = (uint8_t)bits;
  x->t.dtype.lanes = 1;
  x->t.byte_offset = 0;
  rebind(x);
}

/* Allocates host memory for a described tensor (span of its strides). */
static int host_alloc(bench_tensor_t* x, char* why, size_t cap) {
  int64_t bytes = dlg_tensor_span_bytes(&x->t);
  if (bytes <= 0) bytes = (x->t.dtype.bits + 7) / 8;
  x->t.data = calloc(1, (size_t)bytes);
  if (!x->t.data) {
    snprintf(why, cap, "out of host memory (%lld bytes)", (long long)bytes);
    return -1;
  }
  return 0;
}

static int lib_fail(const char* what, dlg_status_t st, char* why, size_t cap) {
  snprintf(why, cap, "%s: %s: %s", what, dlg_status_name(st), dlg_last_error());
  return -1;
}

/* Uploads a host tensor into `buf` and describes the device view with the same layout. */
static int upload(bench_env_t* env, const bench_tensor_t* host, bench_dev_buf_t* buf,
                  bench_tensor_t* dev, char* why, size_t cap) {
  int64_t bytes = dlg_tensor_span_bytes(&host->t);
  if (bytes <= 0) bytes = (host->t.dtype.bits + 7) / 8;
  if (bench_dev_upload(&env->cu, buf, host->t.data, (size_t)bytes, why, cap) != 0) return -1;
  describe(dev, (void*)(uintptr_t)buf->ptr, kDLCUDA, host->t.dtype.code, host->t.dtype.bits,
           host->t.ndim, host->shape, host->strides);
  dev->t.device.device_id = env->device;
  return 0;
}

/* Copies a host f32 [rows, cols] (strides s0, s1) into a new device buffer laid out with
 * strides d0, d1 (elements, span `elems`): cuBLASLt's scale layouts. */
static int upload_repacked(bench_env_t* env, const bench_tensor_t* src, int64_t d0, int64_t d1,
                           int64_t elems, bench_dev_buf_t* buf, char* why, size_t cap) {
  const int64_t rows = src->shape[0], cols = src->shape[1];
  float* tmp = calloc((size_t)elems, sizeof(float));
  if (!tmp) {
    snprintf(why, cap, "out of host memory");
    return -1;
  }
  const float* s = src->t.data;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      tmp[r * d0 + c * d1] = s[r * src->strides[0] + c * src->strides[1]];
  int rc = bench_dev_upload(&env->cu, buf, tmp, (size_t)elems * sizeof(float), why, cap);
  free(tmp);
  return rc;
}

/* dlg_testing_fill runs on one core and a normal draw costs ~50 ns: the 8192² and
 * 7168×16384 operands would take seconds each. Chunks of rows are filled in parallel, each
 * with its own seed (the values differ from one whole-tensor fill; any random data will do). */
typedef struct fill_job {
  DLTensor view;
  int64_t shape[2], strides[2];
  uint64_t seed;
  dlg_status_t st;
} fill_job_t;

static void* fill_worker(void* arg) {
  fill_job_t* j = arg;
  j->view.shape = j->shape;
  j->view.strides = j->strides;
  j->st = dlg_testing_fill(&j->view, j->seed, DLG_FILL_NORMAL, 0.0, 1.0);
  return NULL;
}

/* Fills a row-major 2-D host tensor with normal(0, 1) values. */
static int fill_normal(bench_tensor_t* x, uint64_t seed, char* why, size_t cap) {
  enum { MAX_THREADS = 32 };
  const int64_t rows = x->shape[0], cols = x->shape[1];
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
  if (rows * cols < ((int64_t)1 << 20) || rows < threads) threads = 1;
  const int64_t chunk = ceil_div(rows, threads);
  fill_job_t jobs[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  const size_t elem = (size_t)x->t.dtype.bits / 8;
  int n = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk, ++n) {
    fill_job_t* j = &jobs[n];
    j->view = x->t;
    j->view.data = (char*)x->t.data + (size_t)(r0 * x->strides[0]) * elem;
    j->shape[0] = rows - r0 < chunk ? rows - r0 : chunk;
    j->shape[1] = cols;
    j->strides[0] = x->strides[0];
    j->strides[1] = x->strides[1];
    j->seed = seed * 0x9E3779B97F4A7C15ull + (uint64_t)n;
    started[n] = threads > 1 && pthread_create(&ids[n], NULL, fill_worker, j) == 0;
    if (!started[n]) fill_worker(j);
  }
  dlg_status_t st = DLG_OK;
  for (int i = 0; i < n; ++i) {
    if (started[i]) pthread_join(ids[i], NULL);
    if (st == DLG_OK) st = jobs[i].st;
  }
  return st == DLG_OK ? 0 : lib_fail("dlg_testing_fill", st, why, cap);
}

typedef enum sf_kind { SF_NONE, SF_TOKEN, SF_BLOCK, SF_TENSOR } sf_kind_t;

static sf_kind_t a_scales(dlg_recipe_t r) {
  return r == DLG_RECIPE_BF16 ? SF_NONE : r == DLG_RECIPE_FP8_PER_TENSOR ? SF_TENSOR : SF_TOKEN;
}
static sf_kind_t b_scales(dlg_recipe_t r) {
  return r == DLG_RECIPE_FP8_1D2D ? SF_BLOCK : a_scales(r);
}

static void operand_free(bench_env_t* env, bench_operand_t* op) {
  free(op->host.t.data);
  free(op->host_sf.t.data);
  bench_dev_free(&env->cu, &op->dev);
  bench_dev_free(&env->cu, &op->dev_sf);
  bench_dev_free(&env->cu, &op->lt_sf);
  memset(op, 0, sizeof *op);
}

/* Random operand [rows, K] (normal(0, 1), as DeepGEMM's tests draw them), quantised on the
 * CPU with the recipe's cast, then uploaded. */
static int operand_make(bench_env_t* env, dlg_recipe_t recipe, sf_kind_t kind, int64_t rows,
                        int64_t k, uint64_t seed, bench_operand_t* op, char* why, size_t cap) {
  memset(op, 0, sizeof *op);
  op->present = 1;
  op->rows = rows;
  op->k = k;
  const int64_t shape[2] = {rows, k};
  const int64_t kb = ceil_div(k, KBLOCK);
  if (recipe == DLG_RECIPE_BF16) {
    describe(&op->host, NULL, kDLCPU, kDLBfloat, 16, 2, shape, NULL);
    if (host_alloc(&op->host, why, cap) != 0) return -1;
    if (fill_normal(&op->host, seed, why, cap) != 0) return -1;
  } else {
    bench_tensor_t x;
    describe(&x, NULL, kDLCPU, kDLFloat, 32, 2, shape, NULL);
    if (host_alloc(&x, why, cap) != 0) return -1;
    describe(&op->host, NULL, kDLCPU, kDLFloat8_e4m3fn, 8, 2, shape, NULL);
    if (host_alloc(&op->host, why, cap) != 0) {
      free(x.t.data);
      return -1;
    }
    if (kind == SF_TOKEN) {
      /* The TMA-aligned MN-major layout the GPU kernels take directly. */
      const int64_t sf_shape[2] = {rows, kb}, sf_strides[2] = {1, dlg_tma_aligned_size(rows, 4)};
      describe(&op->host_sf, NULL, kDLCPU, kDLFloat, 32, 2, sf_shape, sf_strides);
    } else if (kind == SF_BLOCK) {
      const int64_t sf_shape[2] = {ceil_div(rows, KBLOCK), kb};
      describe(&op->host_sf, NULL, kDLCPU, kDLFloat, 32, 2, sf_shape, NULL);
    } else {
      describe(&op->host_sf, NULL, kDLCPU, kDLFloat, 32, 0, NULL, NULL);
    }
    if (fill_normal(&x, seed, why, cap) != 0 || host_alloc(&op->host_sf, why, cap) != 0) {
      free(x.t.data);
      return -1;
    }
    dlg_status_t st;
    if (kind == SF_TOKEN)
      st = dlg_cast_fp8_per_token(env->cpu, &x.t, 0, &op->host.t, &op->host_sf.t, NULL);
    else if (kind == SF_BLOCK)
      st = dlg_cast_fp8_per_block(env->cpu, &x.t, 0, &op->host.t, &op->host_sf.t, NULL);
    else
      st = dlg_cast_fp8_per_tensor(env->cpu, &x.t, &op->host.t, &op->host_sf.t, NULL);
    free(x.t.data);
    if (st != DLG_OK) return lib_fail("FP8 cast (CPU)", st, why, cap);
  }
  if (upload(env, &op->host, &op->dev, &op->dev_t, why, cap) != 0) return -1;
  if (!op->host_sf.t.data) return 0;
  if (upload(env, &op->host_sf, &op->dev_sf, &op->dev_sf_t, why, cap) != 0) return -1;
  /* cuBLASLt's layouts (the ones torch._scaled_mm passes): VEC128 scales [K/128][rows] with
   * rows contiguous and no padding; BLK128x128 scales [rows/128][K/128] with the row stride
   * padded to 4 floats. Repack only where they differ from the library's layout. */
  if (kind == SF_TOKEN && op->host_sf.strides[1] != rows)
    return upload_repacked(env, &op->host_sf, 1, rows, rows * kb, &op->lt_sf, why, cap);
  if (kind == SF_BLOCK && kb % 4 != 0)
    return upload_repacked(env, &op->host_sf, round_up(kb, 4), 1,
                           op->host_sf.shape[0] * round_up(kb, 4), &op->lt_sf, why, cap);
  return 0;
}

void bench_problem_destroy(bench_env_t* env, bench_problem_t* p) {
  if (!p) return;
  operand_free(env, &p->a);
  operand_free(env, &p->b);
  free(p->hc.t.data);
  bench_dev_free(&env->cu, &p->dc_buf);
  bench_dev_free(&env->cu, &p->dd_buf);
  free(p->d_host);
  free(p->ref);
  free(p);
}

int bench_problem_create(bench_env_t* env, const bench_shape_t* s, uint64_t seed,
                         bench_problem_t* reuse, bench_problem_t** out, char* why, size_t cap) {
  *out = NULL;
  bench_problem_t* p = calloc(1, sizeof *p);
  if (!p) {
    bench_problem_destroy(env, reuse);
    snprintf(why, cap, "out of host memory");
    return -1;
  }
  p->s = *s;
  if (reuse && reuse->s.recipe == s->recipe && reuse->s.n == s->n && reuse->s.k == s->k &&
      reuse->b.present) {
    p->b = reuse->b; /* take ownership; the copy's tensors must point at their own arrays */
    rebind(&p->b.host);
    rebind(&p->b.host_sf);
    rebind(&p->b.dev_t);
    rebind(&p->b.dev_sf_t);
    memset(&reuse->b, 0, sizeof reuse->b);
  }
  bench_problem_destroy(env, reuse);

  int rc = operand_make(env, s->recipe, a_scales(s->recipe), s->m, s->k, seed * 16 + 1, &p->a,
                        why, cap);
  if (rc == 0 && !p->b.present)
    rc = operand_make(env, s->recipe, b_scales(s->recipe), s->n, s->k,
                      (uint64_t)s->n * 1000003u + (uint64_t)s->k * 16 + 2, &p->b, why, cap);
  const int64_t dshape[2] = {s->m, s->n};
  const int d_bits = s->d_f32 ? 32 : 16, d_code = s->d_f32 ? kDLFloat : kDLBfloat;
  const size_t d_bytes = (size_t)(s->m * s->n) * (size_t)(d_bits / 8);
  if (rc == 0 && s->accumulate) {
    describe(&p->hc, NULL, kDLCPU, kDLFloat, 32, 2, dshape, NULL);
    rc = host_alloc(&p->hc, why, cap);
    if (rc == 0) rc = fill_normal(&p->hc, seed * 16 + 3, why, cap);
    if (rc == 0) rc = upload(env, &p->hc, &p->dc_buf, &p->dc, why, cap);
  }
  if (rc == 0 && bench_dev_upload(&env->cu, &p->dd_buf, NULL, d_bytes, why, cap) != 0) rc = -1;
  if (rc == 0) {
    describe(&p->dd, (void*)(uintptr_t)p->dd_buf.ptr, kDLCUDA, d_code, d_bits, 2, dshape, NULL);
    p->dd.t.device.device_id = env->device;
    /* An accumulating GEMM starts from C's values (zeros would do as well for timing). */
    if (s->accumulate && env->cu.memset_d8(p->dd_buf.ptr, 0, d_bytes) != CUDA_SUCCESS) {
      snprintf(why, cap, "cuMemsetD8 (D)");
      rc = -1;
    }
  }
  if (rc == 0 && !(p->d_host = malloc(d_bytes))) {
    snprintf(why, cap, "out of host memory (D, %zu bytes)", d_bytes);
    rc = -1;
  }
  if (rc != 0) {
    bench_problem_destroy(env, p);
    return -1;
  }
  *out = p;
  return 0;
}

int bench_problem_launch(bench_env_t* env, bench_problem_t* p, int separate_c, CUstream stream,
                         char* why, size_t cap) {
  const DLTensor* sfa = p->a.host_sf.t.data ? &p->a.dev_sf_t.t : NULL;
  const DLTensor* sfb = p->b.host_sf.t.data ? &p->b.dev_sf_t.t : NULL;
  const DLTensor* c = NULL;
  if (p->s.accumulate) c = separate_c ? &p->dc.t : &p->dd.t;
  dlg_status_t st = dlg_gemm(env->ctx, p->s.recipe, &p->a.dev_t.t, sfa, &p->b.dev_t.t, sfb, c,
                             &p->dd.t, (void*)stream);
  return st == DLG_OK ? 0 : lib_fail("dlg_gemm", st, why, cap);
}

static double tensor_bytes(const bench_tensor_t* x) {
  if (!x->t.data) return 0.0;
  return (double)dlg_tensor_numel(&x->t) * (x->t.dtype.bits / 8);
}

double bench_problem_bytes(const bench_problem_t* p) {
  double bytes = tensor_bytes(&p->a.host) + tensor_bytes(&p->a.host_sf) +
                 tensor_bytes(&p->b.host) + tensor_bytes(&p->b.host_sf);
  const double d = (double)p->s.m * (double)p->s.n;
  bytes += d * (p->s.d_f32 ? 4 : 2);
  if (p->s.accumulate) bytes += d * 4;
  return bytes;
}

CUdeviceptr bench_problem_lt_sfa(const bench_problem_t* p) {
  return p->a.lt_sf.ptr ? p->a.lt_sf.ptr : p->a.dev_sf.ptr;
}
CUdeviceptr bench_problem_lt_sfb(const bench_problem_t* p) {
  return p->b.lt_sf.ptr ? p->b.lt_sf.ptr : p->b.dev_sf.ptr;
}

/* A view of every step-th row of a 2-D CPU tensor, `rows` of them. */
static void row_sample(bench_tensor_t* view, const bench_tensor_t* x, int64_t rows,
                       int64_t step) {
  const int64_t shape[2] = {rows, x->shape[1]};
  const int64_t strides[2] = {x->strides[0] * step, x->strides[1]};
  describe(view, x->t.data, kDLCPU, x->t.dtype.code, x->t.dtype.bits, 2, shape, strides);
}

int bench_problem_reference(bench_env_t* env, bench_problem_t* p, int64_t rows, char* why,
                            size_t cap) {
  if (p->ref) return 0;
  const int64_t m = p->s.m, n = p->s.n;
  if (rows <= 0 || rows > m) rows = m;
  p->ref_rows = rows;
  p->ref_step = m / rows;
  p->ref = malloc((size_t)(rows * n) * sizeof(float));
  if (!p->ref) {
    snprintf(why, cap, "out of host memory (reference)");
    return -1;
  }
  bench_tensor_t a, sfa, c, d;
  row_sample(&a, &p->a.host, rows, p->ref_step);
  const DLTensor* sfa_t = NULL;
  if (p->a.host_sf.t.data) {
    if (p->a.host_sf.t.ndim == 2) {
      row_sample(&sfa, &p->a.host_sf, rows, p->ref_step);
      sfa_t = &sfa.t;
    } else {
      sfa_t = &p->a.host_sf.t;
    }
  }
  const DLTensor* c_t = NULL;
  if (p->s.accumulate) {
    row_sample(&c, &p->hc, rows, p->ref_step);
    c_t = &c.t;
  }
  const int64_t dshape[2] = {rows, n};
  describe(&d, p->ref, kDLCPU, kDLFloat, 32, 2, dshape, NULL);
  const DLTensor* sfb_t = p->b.host_sf.t.data ? &p->b.host_sf.t : NULL;
  dlg_status_t st = dlg_gemm(env->cpu, p->s.recipe, &a.t, sfa_t, &p->b.host.t, sfb_t, c_t, &d.t,
                             NULL);
  if (st != DLG_OK) {
    free(p->ref);
    p->ref = NULL;
    return lib_fail("dlg_gemm (CPU reference)", st, why, cap);
  }
  return 0;
}

int bench_problem_check(bench_env_t* env, bench_problem_t* p, bench_fill_d_fn fill, void* user,
                        bench_check_t* out, char* why, size_t cap) {
  bench_cuda_t* cu = &env->cu;
  out->diff = -1.0;
  out->unwritten = -1;
  CUresult r = cu->memset_d8(p->dd_buf.ptr, 0xFF, p->dd_buf.bytes);
  if (r != CUDA_SUCCESS) {
    snprintf(why, cap, "cuMemsetD8 (poison D): %s", bench_cu_error(cu, r));
    return -1;
  }
  if (fill(user, env->stream, why, cap) != 0) {
    cu->stream_synchronize(env->stream);
    return -1;
  }
  if ((r = cu->stream_synchronize(env->stream)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuStreamSynchronize after the call: %s", bench_cu_error(cu, r));
    return -1;
  }
  if ((r = cu->memcpy_dtoh(p->d_host, p->dd_buf.ptr, p->dd_buf.bytes)) != CUDA_SUCCESS) {
    snprintf(why, cap, "cuMemcpyDtoH (D): %s", bench_cu_error(cu, r));
    return -1;
  }
  /* Poison = every byte 0xFF (a NaN in bf16 and f32, which no GEMM of finite inputs makes). */
  int64_t unwritten = 0;
  const int64_t count = p->s.m * p->s.n;
  if (p->s.d_f32) {
    const uint32_t* d = p->d_host;
    for (int64_t i = 0; i < count; ++i) unwritten += d[i] == 0xFFFFFFFFu;
  } else {
    const uint16_t* d = p->d_host;
    for (int64_t i = 0; i < count; ++i) unwritten += d[i] == 0xFFFFu;
  }
  out->unwritten = unwritten;
  bench_tensor_t host_d, sample, ref;
  const int64_t dshape[2] = {p->s.m, p->s.n}, rshape[2] = {p->ref_rows, p->s.n};
  describe(&host_d, p->d_host, kDLCPU, p->dd.t.dtype.code, p->dd.t.dtype.bits, 2, dshape, NULL);
  row_sample(&sample, &host_d, p->ref_rows, p->ref_step);
  describe(&ref, p->ref, kDLCPU, kDLFloat, 32, 2, rshape, NULL);
  dlg_status_t st = dlg_testing_calc_diff(&sample.t, &ref.t, &out->diff);
  return st == DLG_OK ? 0 : lib_fail("dlg_testing_calc_diff", st, why, cap);
}
