/* GPU checks of the BF16 GEMV path (M <= 4: kernels/sm90_bf16_gemv.cuh) against the CPU
 * reference: M = 1..4, K with a partial 256-element chunk and K = 8, N small (8 warps per B
 * row) and large (one), D bf16 / f32 in rows padded to ldd = N + 40 (padding must stay
 * poison), C none / separate / aliasing D. Also the split the launcher picks, and that
 * DLG_BF16_GEMV=0 (the tensor-core kernel) agrees. Needs an sm_90 GPU; elsewhere only the
 * split rule is checked. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlg_test.h"
#include "launch/sm90_gemm_common.h"

typedef struct gemv_case {
  int64_t m, n, k;
  int f32_d;
  int c_mode; /* 0 none, 1 separate C of D's dtype, 2 C = D */
} gemv_case_t;

static const gemv_case_t k_cases[] = {
    {1, 4096, 7168, 0, 0}, {1, 333, 264, 0, 1}, {2, 2112, 520, 1, 2}, {3, 576, 7168, 0, 1},
    {4, 1000, 8, 1, 1},    {4, 24576, 1536, 0, 2}, {1, 7, 4104, 1, 0},
};

/* D (and C) with rows padded to n + 40. */
static test_tensor_t* new_d(int64_t m, int64_t n, int f32) {
  return tt_new_padded(f32 ? kDLFloat : kDLBfloat, f32 ? 32 : 16, m, n, n + 40);
}

static void run_case(dlg_context_t* gpu, dlg_context_t* cpu, const gemv_case_t* g) {
  test_tensor_t* a = tt_new(kDLBfloat, 16, 2, g->m, g->k);
  test_tensor_t* b = tt_new(kDLBfloat, 16, 2, g->n, g->k);
  tt_fill(a, 51, -2, 2);
  tt_fill(b, 52, -2, 2);
  test_tensor_t* c = NULL;
  if (g->c_mode == 1) {
    c = new_d(g->m, g->n, g->f32_d);
    tt_fill(c, 53, -4, 4);
  }
  test_tensor_t *d0 = new_d(g->m, g->n, g->f32_d), *d = new_d(g->m, g->n, g->f32_d),
                *ref = new_d(g->m, g->n, g->f32_d);
  tt_poison(d0);
  if (g->c_mode == 2)
    for (int64_t r = 0; r < g->m; ++r)
      for (int64_t j = 0; j < g->n; ++j) tt_set(d0, r * (g->n + 40) + j, (double)((r + 3 * j) % 11) - 5);
  memcpy(ref->mem, d0->mem, d0->bytes);
  CHECK_OK(dlg_gemm(cpu, DLG_RECIPE_BF16, &a->t, NULL, &b->t, NULL,
                    c ? &c->t : g->c_mode == 2 ? &ref->t : NULL, &ref->t, NULL));
  void *ma, *mb, *mc = NULL, *md;
  DLTensor ga = tt_to_device(gpu, a, &ma), gb = tt_to_device(gpu, b, &mb), gc;
  DLTensor gd = tt_to_device(gpu, d0, &md);
  if (c) gc = tt_to_device(gpu, c, &mc);
  const DLTensor* c_gpu = c ? &gc : g->c_mode == 2 ? &gd : NULL;
  for (int gemv = 1; gemv >= 0; --gemv) {
    setenv("DLG_BF16_GEMV", gemv ? "1" : "0", 1);
    CHECK_OK(dlg_memcpy(gpu, md, d0->mem, d0->bytes));
    CHECK_OK(dlg_gemm(gpu, DLG_RECIPE_BF16, &ga, NULL, &gb, NULL, c_gpu, &gd, NULL));
    CHECK_OK(dlg_stream_synchronize(gpu, NULL));
    CHECK_OK(dlg_memcpy(gpu, d->mem, md, d->bytes));
    double diff = 1.0;
    CHECK_OK(dlg_testing_calc_diff(&d->t, &ref->t, &diff));
    const int64_t touched = tt_padding_diff(d, d0);
    CHECK(diff < 1e-5);
    CHECK(touched == 0);
    printf("  %lldx%lldx%lld D %s C %d %-12s: calc_diff %.3g, padding bytes written %lld\n",
           (long long)g->m, (long long)g->n, (long long)g->k, g->f32_d ? "f32 " : "bf16",
           g->c_mode, gemv ? "gemv" : "tensor cores", diff, (long long)touched);
  }
  unsetenv("DLG_BF16_GEMV");
  void* mems[] = {ma, mb, mc, md};
  for (int i = 0; i < 4; ++i)
    if (mems[i]) dlg_device_free(gpu, mems[i]);
  test_tensor_t* all[] = {a, b, c, d0, d, ref};
  for (int i = 0; i < 6; ++i)
    if (all[i]) tt_free(all[i]);
}

/* The split: the fewest warps per B row that give 24 warps per SM, K permitting. */
static void split_rule(void) {
  CHECK(dlg_sm90_bf16_gemv_split(4096, 7168, 132) == 1);
  CHECK(dlg_sm90_bf16_gemv_split(2112, 7168, 132) == 2);
  CHECK(dlg_sm90_bf16_gemv_split(576, 7168, 132) == 8);
  CHECK(dlg_sm90_bf16_gemv_split(576, 1024, 132) == 2); /* 2 chunks per warp at least */
  CHECK(dlg_sm90_bf16_gemv_split(576, 512, 132) == 1);
  CHECK(dlg_sm90_bf16_gemv_split(7, 4104, 132) == 8);
}

int main(void) {
  split_rule();
  dlg_context_t* gpu = tt_sm90_context("bf16_gemv_test", "GPU cases");
  if (!gpu) return dlg_test_finish("bf16_gemv_test");
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; ++i) run_case(gpu, cpu, &k_cases[i]);
  dlg_context_destroy(cpu);
  dlg_context_destroy(gpu);
  return dlg_test_finish("bf16_gemv_test");
}
