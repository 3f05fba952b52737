/* GPU checks of the SM90 dense GEMMs' epilogue store modes under forced tile configs
 * ($DLG_SM90_GEMM_CONFIG): the staged tile (the heuristic's choice), direct stores and the
 * slab ring (ring=1: 64-byte slabs through 8 KiB per math warpgroup, kernels/common/
 * epilogue.cuh), against the CPU reference. D is a view with padded rows (ldd = N + 32):
 * calc_diff over the view and every padding byte still poison. M = 500 and N = 400 leave
 * partial tiles for every BLOCK_M / BLOCK_N used; BLOCK_N 208 has 32-byte slabs (two per
 * ring chunk), BLOCK_M 256 two waves per math warpgroup, BLOCK_M 64 one math warpgroup.
 * Recipes: FP8 1D2D (bf16 D), per-tensor (bf16 D + bf16 C), 1D1D (f32 D += C in place; bf16 D
 * without C, the dgrad case, incl. 256-row tiles through the slab ring),
 * BF16 (bf16 D; f32 D + f32 C). Needs an sm_90 GPU; elsewhere it reports "skipped" and
 * passes (CI). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlg_test.h"

#define M 500
#define N 400
#define K 384
#define LDD (N + 32)
#define KB (K / 128)

typedef struct gemm_case {
  const char* what;
  dlg_recipe_t recipe;
  int f32_d;      /* D f32 (else bf16) */
  int c_mode;     /* 0 none, 1 separate C of D's dtype, 2 C = D (in place) */
  const char* configs[6];
} gemm_case_t;

static const gemm_case_t k_cases[] = {
    {"fp8 1d2d", DLG_RECIPE_FP8_1D2D, 0, 0,
     {"", "bm=256,bn=128,cn=2,pipe=0,ring=1", "bm=128,bn=128,cn=2,pipe=1,ring=1",
      "bm=128,bn=176,cn=1,pipe=0,ring=1", "bm=64,bn=64,cn=1,pipe=1,ring=1",
      "bm=128,bn=128,cn=1,pipe=1,direct=1"}},
    {"fp8 per-tensor + C", DLG_RECIPE_FP8_PER_TENSOR, 0, 1,
     {"", "bm=128,bn=128,cn=2,pipe=1,ring=1", "bm=128,bn=208,cn=2,pipe=0,ring=1",
      "bm=64,bn=96,cn=1,pipe=1,ring=1", NULL, NULL}},
    {"fp8 1d1d f32 D += C", DLG_RECIPE_FP8_1D1D, 1, 2,
     {"", "bm=128,bn=128,cn=2,pipe=0,ring=1", "bm=128,bn=112,cn=2,pipe=1,ring=1",
      "bm=64,bn=112,cn=1,pipe=1,ring=1", NULL, NULL}},
    {"fp8 1d1d bf16 D", DLG_RECIPE_FP8_1D1D, 0, 0,
     {"", "bm=256,bn=128,cn=2,pipe=0,ring=1", "bm=256,bn=128,cm=2,cn=1,pipe=0,ring=1",
      "bm=128,bn=128,cn=2,pipe=0", NULL, NULL}},
    {"bf16", DLG_RECIPE_BF16, 0, 0,
     {"", "bm=256,bn=128,cn=2,ring=1", "bm=128,bn=256,cm=2,cn=1,ring=1",
      "bm=128,bn=208,cn=2,ring=1", "bm=64,bn=112,cn=1,ring=1", NULL}},
    {"bf16 f32 D + C", DLG_RECIPE_BF16, 1, 1,
     {"", "bm=128,bn=208,cn=2,ring=1", "bm=256,bn=128,cn=1,ring=1", NULL, NULL, NULL}},
};

typedef struct operands {
  test_tensor_t *a, *sfa, *b, *sfb, *c, *d, *ref, *d0;
} operands_t;

static test_tensor_t* new_d(int f32) {
  return tt_new_padded(f32 ? kDLFloat : kDLBfloat, f32 ? 32 : 16, M, N, LDD);
}

static void make_operands(const gemm_case_t* g, operands_t* o) {
  memset(o, 0, sizeof *o);
  const int fp8 = g->recipe != DLG_RECIPE_BF16;
  const int64_t sfa_shape[2] = {M, KB}, sfa_strides[2] = {1, dlg_tma_aligned_size(M, 4)};
  o->a = fp8 ? tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)M, (int64_t)K)
             : tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)K);
  o->b = fp8 ? tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)N, (int64_t)K)
             : tt_new(kDLBfloat, 16, 2, (int64_t)N, (int64_t)K);
  tt_fill(o->a, 41, -2, 2);
  tt_fill(o->b, 42, -2, 2);
  if (g->recipe == DLG_RECIPE_FP8_PER_TENSOR) {
    o->sfa = tt_new(kDLFloat, 32, 0);
    o->sfb = tt_new(kDLFloat, 32, 0);
  } else if (fp8) {
    const int64_t sfb_rows = g->recipe == DLG_RECIPE_FP8_1D1D ? N : (N + 127) / 128;
    const int64_t sfb_shape[2] = {sfb_rows, KB};
    int64_t sfb_strides[2] = {KB, 1};
    if (g->recipe == DLG_RECIPE_FP8_1D1D) /* MN-major, TMA-aligned like sfa */
      sfb_strides[0] = 1, sfb_strides[1] = dlg_tma_aligned_size(N, 4);
    o->sfa = tt_new_strided(kDLFloat, 32, 2, sfa_shape, sfa_strides);
    o->sfb = tt_new_strided(kDLFloat, 32, 2, sfb_shape, sfb_strides);
  }
  if (o->sfa) tt_fill(o->sfa, 43, 0.5, 2);
  if (o->sfb) tt_fill(o->sfb, 44, 0.5, 2);
  if (g->c_mode == 1) {
    o->c = new_d(g->f32_d);
    tt_fill(o->c, 45, -4, 4);
  }
  o->d = new_d(g->f32_d);
  o->ref = new_d(g->f32_d);
  /* The D the GPU starts from: padding poisoned, the view random where D is also C. */
  o->d0 = new_d(g->f32_d);
  tt_poison(o->d0);
  if (g->c_mode == 2)
    for (int64_t r = 0; r < M; ++r)
      for (int64_t j = 0; j < N; ++j) tt_set(o->d0, r * LDD + j, (double)((r * 7 + j * 3) % 17) - 8);
}

static void free_operands(operands_t* o) {
  test_tensor_t* all[] = {o->a, o->sfa, o->b, o->sfb, o->c, o->d, o->ref, o->d0};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    if (all[i]) tt_free(all[i]);
}

static void run_case(dlg_context_t* gpu, dlg_context_t* cpu, const gemm_case_t* g) {
  operands_t o;
  make_operands(g, &o);
  memcpy(o.ref->mem, o.d0->mem, o.d0->bytes);
  const DLTensor* c_ref = g->c_mode == 1 ? &o.c->t : g->c_mode == 2 ? &o.ref->t : NULL;
  CHECK_OK(dlg_gemm(cpu, g->recipe, &o.a->t, o.sfa ? &o.sfa->t : NULL, &o.b->t,
                    o.sfb ? &o.sfb->t : NULL, c_ref, &o.ref->t, NULL));
  void *ma, *msfa = NULL, *mb, *msfb = NULL, *mc = NULL, *md;
  DLTensor ga = tt_to_device(gpu, o.a, &ma), gb = tt_to_device(gpu, o.b, &mb);
  DLTensor gsfa, gsfb, gc, gd = tt_to_device(gpu, o.d0, &md);
  if (o.sfa) gsfa = tt_to_device(gpu, o.sfa, &msfa);
  if (o.sfb) gsfb = tt_to_device(gpu, o.sfb, &msfb);
  if (o.c) gc = tt_to_device(gpu, o.c, &mc);
  const DLTensor* c_gpu = g->c_mode == 1 ? &gc : g->c_mode == 2 ? &gd : NULL;
  for (int i = 0; i < 6 && g->configs[i]; ++i) {
    const char* cfg = g->configs[i];
    setenv("DLG_SM90_GEMM_CONFIG", cfg, 1);
    CHECK_OK(dlg_memcpy(gpu, md, o.d0->mem, o.d0->bytes));
    CHECK_OK(dlg_gemm(gpu, g->recipe, &ga, o.sfa ? &gsfa : NULL, &gb, o.sfb ? &gsfb : NULL,
                      c_gpu, &gd, NULL));
    CHECK_OK(dlg_stream_synchronize(gpu, NULL));
    CHECK_OK(dlg_memcpy(gpu, o.d->mem, md, o.d->bytes));
    double diff = 1.0;
    CHECK_OK(dlg_testing_calc_diff(&o.d->t, &o.ref->t, &diff));
    const int64_t touched = tt_padding_diff(o.d, o.d0);
    CHECK(diff < (g->recipe == DLG_RECIPE_BF16 ? 1e-5 : 1e-3));
    CHECK(touched == 0);
    printf("  %-22s [%s]: calc_diff %.3g, padding bytes written %lld\n", g->what,
           cfg[0] ? cfg : "heuristic", diff, (long long)touched);
  }
  unsetenv("DLG_SM90_GEMM_CONFIG");
  void* mems[] = {ma, msfa, mb, msfb, mc, md};
  for (int i = 0; i < 6; ++i)
    if (mems[i]) dlg_device_free(gpu, mems[i]);
  free_operands(&o);
}

int main(void) {
  dlg_context_t* gpu = tt_sm90_context("dense_store_modes_test", "everything");
  if (!gpu) return dlg_test_finish("dense_store_modes_test");
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; ++i) run_case(gpu, cpu, &k_cases[i]);
  dlg_context_destroy(cpu);
  dlg_context_destroy(gpu);
  return dlg_test_finish("dense_store_modes_test");
}
