/* GPU checks of the FP8 M-grouped GEMMs on the dense kernels' body
 * (kernels/sm90_fp8_m_grouped_gemm.cuh) under forced tile configs
 * ($DLG_SM90_GEMM_CONFIG; the default choice too), against the CPU reference: calc_diff over
 * D, and every row outside the groups (padding, past masked_m) still poison.
 * The layouts make 256-row tiles take every path of common/contiguous_tiles.cuh:
 * - row ids: tiles whose two 128-row halves hold two groups (two rounds), a group and
 *   padding (wave 1 skipped), one group with a padding tail; the same group in two segments;
 * - offsets: an empty group, halves of two groups, rows past off[G];
 * - masked: a full group, one ending inside a tile's first half (second half skipped), an
 *   empty one, one with a single row in the second half.
 * 1D2D and per-tensor (scale_b per group; masked: scale_a per group too). N = 192 leaves a
 * partial N-block; BLOCK_N 176 straddles B scale blocks. Needs an sm_90 GPU; elsewhere it
 * reports "skipped" and passes (CI). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlg_test.h"

#define N 192
#define K 384
#define KB (K / 128)
#define NB ((N + 127) / 128)

static const char* const k_configs[] = {
    "",  /* the heuristic's choice */
    "bm=256,bn=128,cn=2,pipe=0", "bm=256,bn=128,cn=1,pipe=0", "bm=128,bn=128,cn=2,pipe=1",
    "bm=128,bn=176,cn=1,pipe=0", "bm=64,bn=64,cn=1,pipe=1"};
#define N_CONFIGS (sizeof k_configs / sizeof k_configs[0])

typedef struct operands {
  test_tensor_t *a, *sfa, *b, *sfb, *layout, *d, *ref;
} operands_t;

static void free_operands(operands_t* o) {
  test_tensor_t* all[] = {o->a, o->sfa, o->b, o->sfb, o->layout, o->d, o->ref};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) tt_free(all[i]);
}

/* Runs the op on the GPU (D poisoned first) and on the CPU, compares; `row_ok(r)`: whether
 * D row r (flattened over groups) is written. */
typedef int (*row_written_fn)(const void* ctx, int64_t row);

static void check(const char* what, const char* cfg, operands_t* o, int64_t rows,
                  row_written_fn written, const void* wctx, double diff) {
  int64_t touched = 0;
  const uint8_t* p = o->d->mem;
  for (int64_t r = 0; r < rows; ++r)
    if (!written(wctx, r))
      for (int64_t i = 0; i < (int64_t)N * 2; ++i) touched += p[r * N * 2 + i] != 0xA5;
  CHECK(diff < 1e-3);
  CHECK(touched == 0);
  printf("  %-30s [%s]: calc_diff %.3g, bytes written outside the groups %lld\n", what,
         cfg[0] ? cfg : "heuristic", diff, (long long)touched);
}

/* Which op and its scalar arguments. */
typedef struct op_desc {
  dlg_recipe_t recipe;
  int masked;
  dlg_group_layout_t kind; /* contiguous */
  int expected_m;          /* masked */
} op_desc_t;

static dlg_status_t call_op(dlg_context_t* ctx, const op_desc_t* op, const DLTensor* a,
                            const DLTensor* sfa, const DLTensor* b, const DLTensor* sfb,
                            const DLTensor* layout, DLTensor* d) {
  if (op->masked)
    return dlg_m_grouped_gemm_masked(ctx, op->recipe, a, sfa, b, sfb, layout, op->expected_m, d,
                                     NULL);
  return dlg_m_grouped_gemm_contiguous(ctx, op->recipe, a, sfa, b, sfb, layout, op->kind, d, NULL);
}

/* The CPU reference, then the GPU call under every config of k_configs, each checked. */
static void run_configs(dlg_context_t* gpu, dlg_context_t* cpu, const op_desc_t* op,
                        operands_t* o, const char* what, int64_t rows, row_written_fn written,
                        const void* wctx) {
  tt_poison(o->ref);
  CHECK_OK(call_op(cpu, op, &o->a->t, &o->sfa->t, &o->b->t, &o->sfb->t, &o->layout->t, &o->ref->t));
  void *ma, *msfa, *mb, *msfb, *ml, *md;
  DLTensor ga = tt_to_device(gpu, o->a, &ma), gsfa = tt_to_device(gpu, o->sfa, &msfa),
           gb = tt_to_device(gpu, o->b, &mb), gsfb = tt_to_device(gpu, o->sfb, &msfb),
           gl = tt_to_device(gpu, o->layout, &ml), gd = tt_to_device(gpu, o->d, &md);
  for (size_t c = 0; c < N_CONFIGS; ++c) {
    setenv("DLG_SM90_GEMM_CONFIG", k_configs[c], 1);
    tt_poison(o->d);
    CHECK_OK(dlg_memcpy(gpu, md, o->d->mem, o->d->bytes));
    CHECK_OK(call_op(gpu, op, &ga, &gsfa, &gb, &gsfb, &gl, &gd));
    CHECK_OK(dlg_stream_synchronize(gpu, NULL));
    CHECK_OK(dlg_memcpy(gpu, o->d->mem, md, o->d->bytes));
    double diff = 1.0;
    CHECK_OK(dlg_testing_calc_diff(&o->d->t, &o->ref->t, &diff));
    check(what, k_configs[c], o, rows, written, wctx, diff);
  }
  unsetenv("DLG_SM90_GEMM_CONFIG");
  void* mems[] = {ma, msfa, mb, msfb, ml, md};
  for (int i = 0; i < 6; ++i) dlg_device_free(gpu, mems[i]);
}

/* ---- contiguous -------------------------------------------------------------------------- */

enum { CM = 1280 };

/* 128-row blocks: g0 | g1 | g1 (to 449) + pad | g2 (to 599) + pad | pad | g3 (to 1000) + pad
 * | g2 | g3. */
static int32_t row_id(int64_t r) {
  return r < 128 ? 0 : r < 450 ? 1 : r < 512 ? -1 : r < 600 ? 2 : r < 768 ? -1
       : r < 1001 ? 3 : r < 1024 ? -1 : r < 1152 ? 2 : 3;
}
/* off = {0, 128, 384, 384, 896, 1000}: g2 empty, rows 1000.. padding. */
static const int32_t k_offsets[] = {0, 128, 384, 384, 896, 1000};

static int contiguous_written(const void* ctx, int64_t r) {
  const int offsets = *(const int*)ctx;
  return offsets ? r < k_offsets[5] : row_id(r) >= 0;
}

static void contiguous(dlg_context_t* gpu, dlg_context_t* cpu, dlg_recipe_t recipe, int offsets) {
  const int64_t groups = offsets ? 5 : 4;
  const int per_tensor = recipe == DLG_RECIPE_FP8_PER_TENSOR;
  operands_t o;
  memset(&o, 0, sizeof o);
  int64_t sfa_shape[2] = {CM, KB}, sfa_strides[2] = {1, CM};
  o.a = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)CM, (int64_t)K);
  o.b = tt_new(kDLFloat8_e4m3fn, 8, 3, groups, (int64_t)N, (int64_t)K);
  if (per_tensor) {
    o.sfa = tt_new(kDLFloat, 32, 0);
    o.sfb = tt_new(kDLFloat, 32, 1, groups);
  } else {
    o.sfa = tt_new_strided(kDLFloat, 32, 2, sfa_shape, sfa_strides);
    o.sfb = tt_new(kDLFloat, 32, 3, groups, (int64_t)NB, (int64_t)KB);
  }
  o.layout = offsets ? tt_new(kDLInt, 32, 1, groups + 1) : tt_new(kDLInt, 32, 1, (int64_t)CM);
  o.d = tt_new(kDLBfloat, 16, 2, (int64_t)CM, (int64_t)N);
  o.ref = tt_new(kDLBfloat, 16, 2, (int64_t)CM, (int64_t)N);
  tt_fill(o.a, 21, -2, 2);
  tt_fill(o.sfa, 22, 0.5, 2);
  tt_fill(o.b, 23, -2, 2);
  tt_fill(o.sfb, 24, 0.5, 2);
  int32_t* l = o.layout->mem;
  if (offsets) memcpy(l, k_offsets, sizeof k_offsets);
  else for (int64_t r = 0; r < CM; ++r) l[r] = row_id(r);
  const op_desc_t op = {recipe, 0, offsets ? DLG_GROUP_LAYOUT_OFFSETS : DLG_GROUP_LAYOUT_ROW_IDS, 0};
  char what[64];
  snprintf(what, sizeof what, "contiguous %s %s", offsets ? "offsets" : "row ids",
           per_tensor ? "per-tensor" : "1d2d");
  run_configs(gpu, cpu, &op, &o, what, CM, contiguous_written, &offsets);
  free_operands(&o);
}

/* ---- masked ------------------------------------------------------------------------------ */

enum { MG = 4, MAX_M = 640 };
static const int32_t k_masked_m[MG] = {640, 300, 0, 129};

static int masked_written(const void* ctx, int64_t r) {
  (void)ctx;
  return r % MAX_M < k_masked_m[r / MAX_M];
}

static void masked(dlg_context_t* gpu, dlg_context_t* cpu, dlg_recipe_t recipe) {
  const int per_tensor = recipe == DLG_RECIPE_FP8_PER_TENSOR;
  operands_t o;
  memset(&o, 0, sizeof o);
  const int64_t sfa_ld = dlg_tma_aligned_size(MAX_M, 4);
  int64_t sfa_shape[3] = {MG, MAX_M, KB}, sfa_strides[3] = {sfa_ld * KB, 1, sfa_ld};
  o.a = tt_new(kDLFloat8_e4m3fn, 8, 3, (int64_t)MG, (int64_t)MAX_M, (int64_t)K);
  o.b = tt_new(kDLFloat8_e4m3fn, 8, 3, (int64_t)MG, (int64_t)N, (int64_t)K);
  if (per_tensor) {
    o.sfa = tt_new(kDLFloat, 32, 1, (int64_t)MG);
    o.sfb = tt_new(kDLFloat, 32, 1, (int64_t)MG);
  } else {
    o.sfa = tt_new_strided(kDLFloat, 32, 3, sfa_shape, sfa_strides);
    o.sfb = tt_new(kDLFloat, 32, 3, (int64_t)MG, (int64_t)NB, (int64_t)KB);
  }
  o.layout = tt_new(kDLInt, 32, 1, (int64_t)MG);
  o.d = tt_new(kDLBfloat, 16, 3, (int64_t)MG, (int64_t)MAX_M, (int64_t)N);
  o.ref = tt_new(kDLBfloat, 16, 3, (int64_t)MG, (int64_t)MAX_M, (int64_t)N);
  tt_fill(o.a, 31, -2, 2);
  tt_fill(o.sfa, 32, 0.5, 2);
  tt_fill(o.b, 33, -2, 2);
  tt_fill(o.sfb, 34, 0.5, 2);
  memcpy(o.layout->mem, k_masked_m, sizeof k_masked_m);
  const op_desc_t op = {recipe, 1, DLG_GROUP_LAYOUT_ROW_IDS, 256}; /* expected m >= the dense body's threshold */
  run_configs(gpu, cpu, &op, &o, per_tensor ? "masked per-tensor" : "masked 1d2d",
              (int64_t)MG * MAX_M, masked_written, NULL);
  free_operands(&o);
}

int main(void) {
  dlg_context_t* gpu = tt_sm90_context("grouped_dense_body_test", "everything");
  if (!gpu) return dlg_test_finish("grouped_dense_body_test");
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  const dlg_recipe_t recipes[2] = {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_PER_TENSOR};
  for (int r = 0; r < 2; ++r) {
    contiguous(gpu, cpu, recipes[r], 0);
    contiguous(gpu, cpu, recipes[r], 1);
    masked(gpu, cpu, recipes[r]);
  }
  dlg_context_destroy(cpu);
  dlg_context_destroy(gpu);
  return dlg_test_finish("grouped_dense_body_test");
}
