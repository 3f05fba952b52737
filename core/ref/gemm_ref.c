/* CPU reference of the GEMM family: one kernel-like routine (dlg_ref_gemm_run) that the
 * dense op and every grouped op call per problem / per group.
 *
 * Numerics mirror the GPU kernels (see ref.h). Speed: B is decoded once per chunk of
 * NCHUNK columns into an FP32 panel transposed to [k][n], so the inner loop runs over a
 * tile of NTILE output columns with independent FP32 sums (vectorisable without
 * reassociating any sum: every output still adds its K products in order). Rows are spread
 * over threads; each decodes its A row once per chunk. */
#include <stdlib.h>
#include <string.h>
#include "ref/numeric.h"
#include "ref/parallel.h"
#include "ref/ref.h"
#include "validate.h"

#define KBLOCK 128  /* K width of one scale block / one promotion */
#define NTILE 32    /* output columns summed together in the inner loop */
#define NCHUNK 256  /* B columns decoded per panel (bounds the panel to 1 KiB per K) */
#define SERIAL_WORK 262144.0 /* below this many MACs threads cost more than they save */

/* ---- element access ---- */

static int64_t elem_bytes(DLDataType dt) { return (dt.bits + 7) / 8; }

/* Decodes one element; lut is the e4m3 table (fp8 is by far the most common input). */
static inline float load_elem(const char* base, DLDataType dt, int64_t idx, const float* lut) {
  if (dt.code == kDLFloat8_e4m3fn) return lut[(uint8_t)base[idx]];
  if (dt.code == kDLBfloat) {
    uint16_t v;
    memcpy(&v, base + 2 * idx, 2);
    return dlg_bf16_to_f32(v);
  }
  float f;
  memcpy(&f, base + 4 * idx, 4);
  return f;
}

static inline float matrix_at(const dlg_ref_matrix_t* m, int64_t r, int64_t c, const float* lut) {
  return load_elem(m->data, m->dtype, r * m->row_stride + c * m->col_stride, lut);
}

static inline void store_elem(const dlg_ref_matrix_t* m, int64_t r, int64_t c, float v) {
  char* p = (char*)m->data + (r * m->row_stride + c * m->col_stride) * elem_bytes(m->dtype);
  if (m->dtype.code == kDLBfloat) {
    uint16_t h = dlg_f32_to_bf16(v);
    memcpy(p, &h, 2);
  } else {
    memcpy(p, &v, 4);
  }
}

static float scale_at(const dlg_ref_scales_t* s, int64_t row, int64_t kb) {
  if (s->kind == DLG_REF_SCALE_NONE) return 1.0f;
  int64_t r = s->rows_per_scale ? row / s->rows_per_scale : 0;
  int64_t c = s->rows_per_scale ? kb + s->kb_offset : 0;
  if (s->kind == DLG_REF_SCALE_F32) {
    float f;
    memcpy(&f, s->data + 4 * (r * s->row_stride + c * s->col_stride), 4);
    return f;
  }
  /* Packed UE8M0: word c/4 of the row, byte c%4 counted from the least significant. */
  int32_t w;
  memcpy(&w, s->data + 4 * (r * s->row_stride + (c / 4) * s->col_stride), 4);
  return dlg_ue8m0_to_f32((uint8_t)((uint32_t)w >> (8 * (c % 4))));
}

/* ---- views of validated tensors ---- */

dlg_ref_matrix_t dlg_ref_matrix_of(const DLTensor* t, int row_dim, int col_dim, int64_t first) {
  dlg_ref_matrix_t m;
  m.dtype = t->dtype;
  m.data = t->data ? dlg_data(t) + first * elem_bytes(t->dtype) : NULL;
  m.rows = t->shape[row_dim];
  m.cols = t->shape[col_dim];
  m.row_stride = dlg_stride(t, row_dim);
  m.col_stride = dlg_stride(t, col_dim);
  return m;
}

dlg_ref_scales_t dlg_ref_scales_of(const DLTensor* sf, int row_dim, int col_dim, int64_t first,
                                   int64_t rows_per_scale) {
  dlg_ref_scales_t s = {DLG_REF_SCALE_NONE, NULL, 0, 0, 0, 0};
  if (!sf) return s;
  s.kind = dlg_dtype_is(sf, DLG_DT_I32) ? DLG_REF_SCALE_UE8M0 : DLG_REF_SCALE_F32;
  s.data = sf->data ? dlg_data(sf) + 4 * first : NULL;
  s.row_stride = dlg_stride(sf, row_dim);
  s.col_stride = dlg_stride(sf, col_dim);
  s.rows_per_scale = rows_per_scale;
  return s;
}

dlg_ref_scales_t dlg_ref_scalar_scale_of(const DLTensor* sf, int64_t index) {
  dlg_ref_scales_t s = {DLG_REF_SCALE_NONE, NULL, 0, 0, 0, 0};
  if (!sf) return s;
  s.kind = DLG_REF_SCALE_F32;
  int64_t off = dlg_tensor_numel(sf) == 1 ? 0 : index * dlg_stride(sf, 0);
  s.data = dlg_data(sf) + 4 * off;
  return s;
}

/* ---- the kernel ---- */

typedef struct run_state {
  const dlg_ref_gemm_job_t* job;
  float lut[256];
  int64_t kblocks;
  int block_scaled;   /* 1D2D / 1D1D: scale every block partial */
  float final_scale;  /* PER_TENSOR: sfa · sfb, applied once; else 1 */
  int64_t n0, nc, ldb; /* current column chunk and the panel's row length (NTILE multiple) */
  float* bt;          /* [k][ldb]: B[n0 + j, kk] at bt[kk * ldb + j], zero padded */
  float* sbt;         /* [kblocks][ldb]: sfb of column n0 + j for block kb (block scaled) */
  int failed;         /* set (atomically) when a worker could not allocate */
} run_state_t;

static void decode_panel(int64_t begin, int64_t end, void* arg) {
  run_state_t* st = arg;
  const dlg_ref_gemm_job_t* job = st->job;
  for (int64_t kk = begin; kk < end; ++kk) {
    float* row = st->bt + kk * st->ldb;
    for (int64_t j = 0; j < st->nc; ++j) row[j] = matrix_at(&job->b, st->n0 + j, kk, st->lut);
    for (int64_t j = st->nc; j < st->ldb; ++j) row[j] = 0.0f;
  }
}

/* Output columns [t0, t0 + NTILE) of the chunk for one A row: the block loop of a kernel. */
static void tile_dot(const run_state_t* st, const float* arow, const float* sa, int64_t t0,
                     float acc[NTILE]) {
  const int64_t k = st->job->k, ldb = st->ldb;
  for (int j = 0; j < NTILE; ++j) acc[j] = 0.0f;
  for (int64_t kb = 0; kb < st->kblocks; ++kb) {
    const int64_t k0 = kb * KBLOCK, k1 = k0 + KBLOCK < k ? k0 + KBLOCK : k;
    float part[NTILE] = {0};
    for (int64_t kk = k0; kk < k1; ++kk) {
      const float av = arow[kk];
      const float* bp = st->bt + kk * ldb + t0;
      for (int j = 0; j < NTILE; ++j) part[j] += av * bp[j];
    }
    if (st->block_scaled) {
      const float* sb = st->sbt + kb * ldb + t0;
      for (int j = 0; j < NTILE; ++j) acc[j] += part[j] * (sa[kb] * sb[j]);
    } else {
      for (int j = 0; j < NTILE; ++j) acc[j] += part[j];
    }
  }
}

static void compute_rows(int64_t begin, int64_t end, void* arg) {
  run_state_t* st = arg;
  const dlg_ref_gemm_job_t* job = st->job;
  const int64_t k = job->k;
  float* arow = malloc(sizeof(float) * (size_t)(k + st->kblocks + 1));
  if (!arow) {
    __atomic_store_n(&st->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  float* sa = arow + k;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t r = job->rows ? job->rows[i] : i;
    for (int64_t kk = 0; kk < k; ++kk) arow[kk] = matrix_at(&job->a, r, kk, st->lut);
    if (st->block_scaled)
      for (int64_t kb = 0; kb < st->kblocks; ++kb) sa[kb] = scale_at(&job->sfa, r, kb);
    for (int64_t t0 = 0; t0 < st->nc; t0 += NTILE) {
      float acc[NTILE];
      tile_dot(st, arow, sa, t0, acc);
      const int64_t width = st->nc - t0 < NTILE ? st->nc - t0 : NTILE;
      for (int64_t j = 0; j < width; ++j) {
        const int64_t col = st->n0 + t0 + j;
        float v = k > 0 ? acc[j] * st->final_scale : 0.0f;
        /* C is read right before the same element of D is written: exact aliasing is safe. */
        if (job->c) v += matrix_at(job->c, r, col, st->lut);
        store_elem(&job->d, r, col, v);
      }
    }
  }
  free(arow);
}

dlg_status_t dlg_ref_gemm_run(const dlg_ref_gemm_job_t* job) {
  if (job->m == 0 || job->n == 0) return DLG_OK;
  run_state_t st;
  memset(&st, 0, sizeof st);
  st.job = job;
  for (int v = 0; v < 256; ++v) st.lut[v] = dlg_e4m3_to_f32((uint8_t)v);
  st.kblocks = dlg_ceil_div64(job->k, KBLOCK);
  st.block_scaled = job->recipe == DLG_RECIPE_FP8_1D2D || job->recipe == DLG_RECIPE_FP8_1D1D;
  st.final_scale = 1.0f;
  if (job->recipe == DLG_RECIPE_FP8_PER_TENSOR)
    st.final_scale = scale_at(&job->sfa, 0, 0) * scale_at(&job->sfb, 0, 0);

  const int64_t chunk = job->n < NCHUNK ? job->n : NCHUNK;
  const int64_t ldb = dlg_ceil_div64(chunk, NTILE) * NTILE;
  st.bt = malloc(sizeof(float) * (size_t)(job->k * ldb + 1));
  st.sbt = malloc(sizeof(float) * (size_t)(st.kblocks * ldb + 1));
  if (!st.bt || !st.sbt) {
    free(st.bt);
    free(st.sbt);
    return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "reference gemm: cannot allocate the B panel");
  }
  const int serial = (double)job->m * (double)job->n * (double)(job->k ? job->k : 1) < SERIAL_WORK;
  for (st.n0 = 0; st.n0 < job->n && !st.failed; st.n0 += chunk) {
    st.nc = job->n - st.n0 < chunk ? job->n - st.n0 : chunk;
    st.ldb = ldb;
    if (serial) decode_panel(0, job->k, &st);
    else dlg_parallel_for(job->k, decode_panel, &st);
    if (st.block_scaled)
      for (int64_t kb = 0; kb < st.kblocks; ++kb)
        for (int64_t j = 0; j < ldb; ++j)
          st.sbt[kb * ldb + j] = j < st.nc ? scale_at(&job->sfb, st.n0 + j, kb) : 0.0f;
    if (serial) compute_rows(0, job->m, &st);
    else dlg_parallel_for(job->m, compute_rows, &st);
  }
  free(st.bt);
  free(st.sbt);
  if (st.failed) return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "reference gemm: cannot allocate a row buffer");
  return DLG_OK;
}

/* ---- the dense op ---- */

dlg_status_t dlg_ref_gemm(const dlg_gemm_problem_t* p) {
  dlg_ref_gemm_job_t job;
  memset(&job, 0, sizeof job);
  job.recipe = p->recipe;
  job.m = p->m;
  job.n = p->n;
  job.k = p->k;
  job.a = dlg_ref_matrix_of(p->a, 0, 1, 0);
  job.b = dlg_ref_matrix_of(p->b, 0, 1, 0);
  if (p->recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    job.sfa = dlg_ref_scalar_scale_of(p->sfa, 0);
    job.sfb = dlg_ref_scalar_scale_of(p->sfb, 0);
  } else if (p->recipe != DLG_RECIPE_BF16) {
    job.sfa = dlg_ref_scales_of(p->sfa, 0, 1, 0, 1);
    job.sfb = dlg_ref_scales_of(p->sfb, 0, 1, 0, p->recipe == DLG_RECIPE_FP8_1D2D ? KBLOCK : 1);
  }
  dlg_ref_matrix_t c;
  if (p->c) {
    c = dlg_ref_matrix_of(p->c, 0, 1, 0);
    job.c = &c;
  }
  job.d = dlg_ref_matrix_of(p->d, 0, 1, 0);
  return dlg_ref_gemm_run(&job);
}
