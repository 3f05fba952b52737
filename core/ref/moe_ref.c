/* CPU reference of the MoE grouped GEMMs: each group is one dense problem handed to
 * dlg_ref_gemm_run (gemm_ref.c) as views into the grouped tensors. Values the GPU reads on the
 * device (group ids, offsets, masked_m, ks) are checked here, before anything is written. */
#include <stdlib.h>
#include <string.h>
#include "ref/ref.h"
#include "validate.h"

#define KBLOCK 128

static int32_t read_i32(const DLTensor* t, int64_t i) {
  int32_t v;
  memcpy(&v, dlg_data(t) + 4 * i * dlg_stride(t, 0), 4);
  return v;
}

/* B side of group g, shared by both M-grouped ops: b [G, N, K] and its scales. */
static void set_group_b(dlg_ref_gemm_job_t* job, dlg_recipe_t recipe, const DLTensor* b,
                        const DLTensor* sfb, int64_t g) {
  job->b = dlg_ref_matrix_of(b, 1, 2, g * dlg_stride(b, 0));
  if (recipe == DLG_RECIPE_FP8_1D2D)
    job->sfb = dlg_ref_scales_of(sfb, 1, 2, g * dlg_stride(sfb, 0), KBLOCK);
  else if (recipe == DLG_RECIPE_FP8_PER_TENSOR)
    job->sfb = dlg_ref_scalar_scale_of(sfb, g);
}

/* Rows of each group, grouped: rows[start[g] .. start[g+1]) belong to group g. */
static dlg_status_t collect_rows(const DLTensor* layout, dlg_group_layout_t kind, int64_t m,
                                 int64_t groups, int64_t** rows_out, int64_t** start_out) {
  int64_t* start = calloc((size_t)groups + 2, sizeof(int64_t));
  int64_t* rows = malloc(sizeof(int64_t) * (size_t)(m + 1));
  if (!start || !rows) {
    free(start);
    free(rows);
    return dlg_fail(DLG_ERR_OUT_OF_MEMORY, "grouped_layout: cannot allocate row lists");
  }
  if (kind == DLG_GROUP_LAYOUT_ROW_IDS) {
    for (int64_t r = 0; r < m; ++r) {
      int32_t g = read_i32(layout, r);
      if (g < -1 || g >= groups) {
        free(start);
        free(rows);
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                        "grouped_layout: row %lld has group id %d, expected -1 (padding) or "
                        "0..%lld", (long long)r, g, (long long)groups - 1);
      }
      if (g >= 0) ++start[g + 2];
    }
    /* Counting sort: start[g + 1] becomes the insertion cursor of group g. */
    for (int64_t g = 0; g < groups; ++g) start[g + 2] += start[g + 1];
    for (int64_t r = 0; r < m; ++r) {
      int32_t g = read_i32(layout, r);
      if (g >= 0) rows[start[g + 1]++] = r;
    }
  } else {
    int64_t prev = 0;
    for (int64_t g = 0; g <= groups; ++g) {
      int64_t off = read_i32(layout, g);
      if (off < prev || off > m) {
        free(start);
        free(rows);
        return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                        "grouped_layout: offset %lld is %lld; offsets must be non-decreasing "
                        "within 0..%lld (M)", (long long)g, (long long)off, (long long)m);
      }
      prev = off;
    }
    int64_t first = read_i32(layout, 0), n = 0;
    for (int64_t r = first; r < read_i32(layout, groups); ++r) rows[n++] = r;
    for (int64_t g = 0; g <= groups; ++g) start[g] = read_i32(layout, g) - first;
  }
  *rows_out = rows;
  *start_out = start;
  return DLG_OK;
}

dlg_status_t dlg_ref_m_grouped_contiguous(dlg_recipe_t recipe, const DLTensor* a,
                                          const DLTensor* sfa, const DLTensor* b,
                                          const DLTensor* sfb, const DLTensor* grouped_layout,
                                          dlg_group_layout_t layout_kind, DLTensor* d) {
  const int64_t m = a->shape[0], groups = b->shape[0];
  int64_t *rows = NULL, *start = NULL;
  dlg_status_t st = collect_rows(grouped_layout, layout_kind, m, groups, &rows, &start);
  if (st != DLG_OK) return st;
  dlg_ref_gemm_job_t job;
  memset(&job, 0, sizeof job);
  job.recipe = recipe;
  job.n = b->shape[1];
  job.k = a->shape[1];
  job.a = dlg_ref_matrix_of(a, 0, 1, 0);
  if (recipe == DLG_RECIPE_FP8_1D2D) job.sfa = dlg_ref_scales_of(sfa, 0, 1, 0, 1);
  else if (recipe == DLG_RECIPE_FP8_PER_TENSOR) job.sfa = dlg_ref_scalar_scale_of(sfa, 0);
  job.d = dlg_ref_matrix_of(d, 0, 1, 0);
  for (int64_t g = 0; g < groups && st == DLG_OK; ++g) {
    job.m = start[g + 1] - start[g];
    job.rows = rows + start[g];
    set_group_b(&job, recipe, b, sfb, g);
    st = dlg_ref_gemm_run(&job);
  }
  free(rows);
  free(start);
  return st;
}

dlg_status_t dlg_ref_m_grouped_masked(dlg_recipe_t recipe, const DLTensor* a,
                                      const DLTensor* sfa, const DLTensor* b,
                                      const DLTensor* sfb, const DLTensor* masked_m,
                                      DLTensor* d) {
  const int64_t groups = b->shape[0], max_m = a->shape[1];
  for (int64_t g = 0; g < groups; ++g) {
    int32_t rows = read_i32(masked_m, g);
    if (rows < 0 || rows > max_m)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "masked_m: group %lld has %d rows, expected 0..%lld (max_m)",
                      (long long)g, rows, (long long)max_m);
  }
  dlg_ref_gemm_job_t job;
  memset(&job, 0, sizeof job);
  job.recipe = recipe;
  job.n = b->shape[1];
  job.k = a->shape[2];
  dlg_status_t st = DLG_OK;
  for (int64_t g = 0; g < groups && st == DLG_OK; ++g) {
    job.m = read_i32(masked_m, g);
    job.a = dlg_ref_matrix_of(a, 1, 2, g * dlg_stride(a, 0));
    if (recipe == DLG_RECIPE_FP8_1D2D)
      job.sfa = dlg_ref_scales_of(sfa, 1, 2, g * dlg_stride(sfa, 0), 1);
    else if (recipe == DLG_RECIPE_FP8_PER_TENSOR)
      job.sfa = dlg_ref_scalar_scale_of(sfa, g);
    set_group_b(&job, recipe, b, sfb, g);
    job.d = dlg_ref_matrix_of(d, 1, 2, g * dlg_stride(d, 0));
    st = dlg_ref_gemm_run(&job);
  }
  return st;
}

dlg_status_t dlg_ref_k_grouped_contiguous(dlg_recipe_t recipe, const DLTensor* a,
                                          const DLTensor* sfa, const DLTensor* b,
                                          const DLTensor* sfb, const DLTensor* ks,
                                          const DLTensor* c, DLTensor* d) {
  const int64_t groups = ks->shape[0], k_total = a->shape[1];
  int64_t sum = 0;
  for (int64_t g = 0; g < groups; ++g) {
    int32_t kg = read_i32(ks, g);
    if (kg < 0 || kg % KBLOCK != 0)
      return dlg_fail(DLG_ERR_INVALID_ARGUMENT,
                      "ks: group %lld has %d columns, expected a non-negative multiple of %d",
                      (long long)g, kg, KBLOCK);
    sum += kg;
  }
  if (sum != k_total)
    return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ks: sums to %lld, expected %lld (K of a)",
                    (long long)sum, (long long)k_total);
  dlg_ref_gemm_job_t job;
  memset(&job, 0, sizeof job);
  job.recipe = recipe;
  job.m = a->shape[0];
  job.n = b->shape[0];
  dlg_ref_matrix_t cg;
  dlg_status_t st = DLG_OK;
  int64_t k0 = 0;
  for (int64_t g = 0; g < groups && st == DLG_OK; ++g) {
    job.k = read_i32(ks, g);
    /* Group g's K segment: a sub-view of a and b; scales start at its first K block. */
    job.a = dlg_ref_matrix_of(a, 0, 1, k0 * dlg_stride(a, 1));
    job.a.cols = job.k;
    job.b = dlg_ref_matrix_of(b, 0, 1, k0 * dlg_stride(b, 1));
    job.b.cols = job.k;
    if (recipe == DLG_RECIPE_FP8_1D1D) {
      job.sfa = dlg_ref_scales_of(sfa, 0, 1, 0, 1);
      job.sfb = dlg_ref_scales_of(sfb, 0, 1, 0, 1);
      job.sfa.kb_offset = job.sfb.kb_offset = k0 / KBLOCK;
    } else {
      job.sfa = dlg_ref_scalar_scale_of(sfa, g);
      job.sfb = dlg_ref_scalar_scale_of(sfb, g);
    }
    if (c) {
      cg = dlg_ref_matrix_of(c, 1, 2, g * dlg_stride(c, 0));
      job.c = &cg;
    }
    job.d = dlg_ref_matrix_of(d, 1, 2, g * dlg_stride(d, 0));
    st = dlg_ref_gemm_run(&job);
    k0 += job.k;
  }
  return st;
}
