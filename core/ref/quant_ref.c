/* CPU reference of the FP8 casts and scale-factor layouts (quant.h),  plus the stride
 * helper the attention / quant / testing code shares. Inputs are validated by the ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ref/numeric.h"
#include "ref/parallel.h"
#include "ref/ref.h"
#include "validate.h"

int64_t dlg_ref_elem_offset(const DLTensor* t, int64_t linear) {
  int64_t off = 0;
  for (int d = t->ndim - 1; d >= 0; --d) {
    int64_t e = t->shape[d];
    if (e <= 0) return 0;
    off += (linear % e) * dlg_stride(t, d);
    linear /= e;
  }
  return off;
}

/* x is f32 or bf16; `off` in elements. */
static float load_x(const DLTensor* x, int64_t off) {
  const char* p = dlg_data(x);
  if (x->dtype.code == kDLBfloat) {
    uint16_t v;
    memcpy(&v, p + off * 2, 2);
    return dlg_bf16_to_f32(v);
  }
  float f;
  memcpy(&f, p + off * 4, 4);
  return f;
}

static float load_f32(const DLTensor* t, int64_t off) {
  float f;
  memcpy(&f, dlg_data(t) + off * 4, 4);
  return f;
}

static void store_f32(DLTensor* t, int64_t off, float v) { memcpy(dlg_data(t) + off * 4, &v, 4); }

/* The dequantisation multiplier for a block whose largest magnitude is amax. */
static float scale_for(float amax, int use_ue8m0) {
  if (!(amax > 0.0f)) return 1.0f; /* all-zero block: any scale is exact; 1 is the convention */
  float sf = amax / DLG_FP8_E4M3_MAX;
  if (use_ue8m0) sf = dlg_ue8m0_to_f32(dlg_f32_to_ue8m0_ceil(sf));
  return sf;
}

typedef struct {
  const DLTensor* x;
  int64_t block_m, block_k;
  int use_ue8m0;
  DLTensor *out, *sf;
} tiles_job_t;

/* Row blocks [begin, end) of the tiles: each owns its scales and output rows. */
static void cast_row_blocks(int64_t begin, int64_t end, void* arg) {
  const tiles_job_t* job = arg;
  const DLTensor* x = job->x;
  int64_t m = x->shape[0], k = x->shape[1], block_m = job->block_m, block_k = job->block_k;
  int64_t xs0 = dlg_stride(x, 0), xs1 = dlg_stride(x, 1);
  int64_t os0 = dlg_stride(job->out, 0), os1 = dlg_stride(job->out, 1);
  int64_t ss0 = dlg_stride(job->sf, 0), ss1 = dlg_stride(job->sf, 1);
  uint8_t* o = (uint8_t*)dlg_data(job->out);
  for (int64_t bm = begin; bm < end; ++bm) {
    int64_t r0 = bm * block_m, r1 = r0 + block_m < m ? r0 + block_m : m;
    for (int64_t bk = 0; bk * block_k < k; ++bk) {
      int64_t c0 = bk * block_k, c1 = c0 + block_k < k ? c0 + block_k : k;
      float amax = 0.0f;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) amax = fmaxf(amax, fabsf(load_x(x, r * xs0 + c * xs1)));
      float s = scale_for(amax, job->use_ue8m0);
      store_f32(job->sf, bm * ss0 + bk * ss1, s);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          o[r * os0 + c * os1] = dlg_f32_to_e4m3(load_x(x, r * xs0 + c * xs1) / s);
    }
  }
}

void dlg_ref_cast_fp8_tiles(const DLTensor* x, int64_t block_m, int64_t block_k, int use_ue8m0,
                            DLTensor* out, DLTensor* sf) {
  tiles_job_t job = {x, block_m, block_k, use_ue8m0, out, sf};
  dlg_parallel_for(dlg_ceil_div64(x->shape[0], block_m), cast_row_blocks, &job);
}

void dlg_ref_cast_fp8_per_tensor(const DLTensor* x, DLTensor* out, DLTensor* sf) {
  int64_t n = dlg_tensor_numel(x);
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = fmaxf(amax, fabsf(load_x(x, dlg_ref_elem_offset(x, i))));
  float s = scale_for(amax, 0);
  store_f32(sf, 0, s);
  uint8_t* o = (uint8_t*)dlg_data(out);
  for (int64_t i = 0; i < n; ++i)
    o[dlg_ref_elem_offset(out, i)] = dlg_f32_to_e4m3(load_x(x, dlg_ref_elem_offset(x, i)) / s);
}

void dlg_ref_copy_f32(const DLTensor* in, DLTensor* out) {
  int64_t n = dlg_tensor_numel(in);
  for (int64_t i = 0; i < n; ++i)
    store_f32(out, dlg_ref_elem_offset(out, i), load_f32(in, dlg_ref_elem_offset(in, i)));
}

void dlg_ref_pack_ue8m0(const DLTensor* sf, DLTensor* packed) {
  int nd = sf->ndim;
  int64_t kb = sf->shape[nd - 1], words = packed->shape[nd - 1];
  if (kb == 0 || words == 0) return;
  int64_t rows = dlg_tensor_numel(sf) / kb;
  int64_t sf_col = dlg_stride(sf, nd - 1), pk_col = dlg_stride(packed, nd - 1);
  for (int64_t r = 0; r < rows; ++r) {
    /* Row r of the leading dims: its first element's offset in each tensor. */
    int64_t sf_row = dlg_ref_elem_offset(sf, r * kb);
    int64_t pk_row = dlg_ref_elem_offset(packed, r * words);
    for (int64_t w = 0; w < words; ++w) {
      uint32_t word = 0;
      for (int j = 0; j < 4; ++j) {
        int64_t c = 4 * w + j;
        if (c >= kb) break; /* bytes past Kb stay zero */
        uint8_t e = dlg_f32_to_ue8m0_ceil(load_f32(sf, sf_row + c * sf_col));
        word |= (uint32_t)e << (8 * j);
      }
      memcpy(dlg_data(packed) + (pk_row + w * pk_col) * 4, &word, 4);
    }
  }
}
