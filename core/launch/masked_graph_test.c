/* GPU checks of the SM90 grouped GEMMs beyond the conformance cases:
 * 1. The masked M-grouped GEMM inside a CUDA graph: captured once, replayed with masked_m
 *    changed on the device between replays (the kernel reads masked_m on the device, so a
 *    replay must follow the new counts without re-capturing). After each replay D is
 *    compared with the CPU reference for the new counts: computed rows by calc_diff, rows
 *    past masked_m[g] must still hold the poison bytes. Run twice: on the grouped kernel
 *    (expected m 64) and on the dense body ($DLG_GROUPED_DENSE_BODY=1).
 * 2. The grouped kernel's contiguous layout with CTA pairs forced ($DLG_GROUPED_TILE=128x64,
 *    $DLG_GROUPED_PAIRS=1, $DLG_GROUPED_DENSE_BODY=0) on a layout whose pairs of 128-row
 *    blocks mix two groups (no multicast), a group and padding (a ghost half), and one group
 *    (multicast).
 * Needs an sm_90 GPU; elsewhere it reports "skipped" and passes (CI). The graph calls are not
 * in the library's driver table (tests/dlg_graph.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlg_graph.h"
#include "dlg_test.h"

#define G 4
#define MAX_M 192
#define N 256
#define K 512
#define KB (K / 128)

/* Rows past masked_m[g] of d (bf16 [G, MAX_M, N], host copy) still poison. */
static int rows_untouched(const test_tensor_t* d, const int32_t* masked) {
  const uint8_t* p = d->mem;
  for (int g = 0; g < G; ++g)
    for (int64_t i = (int64_t)(g * MAX_M + masked[g]) * N * 2; i < (int64_t)(g + 1) * MAX_M * N * 2; ++i)
      if (p[i] != 0xA5) return 0;
  return 1;
}

static void run(dlg_context_t* gpu, const dlg_cuda_api_t* api, const dlg_graph_api_t* gapi,
                const char* kernel) {
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  const int64_t sfa_ld = dlg_tma_aligned_size(MAX_M, 4);
  int64_t sfa_shape[3] = {G, MAX_M, KB}, sfa_strides[3] = {sfa_ld * KB, 1, sfa_ld};
  test_tensor_t* a = tt_new(kDLFloat8_e4m3fn, 8, 3, (int64_t)G, (int64_t)MAX_M, (int64_t)K);
  test_tensor_t* sfa = tt_new_strided(kDLFloat, 32, 3, sfa_shape, sfa_strides);
  test_tensor_t* b = tt_new(kDLFloat8_e4m3fn, 8, 3, (int64_t)G, (int64_t)N, (int64_t)K);
  test_tensor_t* sfb = tt_new(kDLFloat, 32, 3, (int64_t)G, (int64_t)(N / 128), (int64_t)KB);
  test_tensor_t* mm = tt_new(kDLInt, 32, 1, (int64_t)G);
  test_tensor_t* d = tt_new(kDLBfloat, 16, 3, (int64_t)G, (int64_t)MAX_M, (int64_t)N);
  test_tensor_t* ref = tt_new(kDLBfloat, 16, 3, (int64_t)G, (int64_t)MAX_M, (int64_t)N);
  tt_fill(a, 1, -2, 2);
  tt_fill(sfa, 2, 0.5, 2);
  tt_fill(b, 3, -2, 2);
  tt_fill(sfb, 4, 0.5, 2);
  tt_poison(d);
  void *ma, *msfa, *mb, *msfb, *mmm, *md;
  DLTensor ga = tt_to_device(gpu, a, &ma), gsfa = tt_to_device(gpu, sfa, &msfa),
           gb = tt_to_device(gpu, b, &mb), gsfb = tt_to_device(gpu, sfb, &msfb),
           gmm = tt_to_device(gpu, mm, &mmm), gd = tt_to_device(gpu, d, &md);
  const dlg_recipe_t R = DLG_RECIPE_FP8_1D2D;

  /* Warm-up outside the capture compiles and loads the kernel (no module loads while
   * capturing). */
  CUstream stream = NULL;
  CHECK(api->stream_create && api->stream_create(&stream, CU_STREAM_NON_BLOCKING) == CUDA_SUCCESS);
  CHECK_OK(dlg_m_grouped_gemm_masked(gpu, R, &ga, &gsfa, &gb, &gsfb, &gmm, 64, &gd, stream));
  CHECK_OK(dlg_stream_synchronize(gpu, stream));

  CUgraph graph = NULL;
  CUgraphExec exec = NULL;
  CHECK(gapi->begin_capture(stream, CU_STREAM_CAPTURE_MODE_RELAXED) == CUDA_SUCCESS);
  CHECK_OK(dlg_m_grouped_gemm_masked(gpu, R, &ga, &gsfa, &gb, &gsfb, &gmm, 64, &gd, stream));
  CHECK(gapi->end_capture(stream, &graph) == CUDA_SUCCESS);
  CHECK(graph && gapi->instantiate(&exec, graph, 0) == CUDA_SUCCESS);

  static const int32_t counts[3][G] = {{192, 17, 0, 100}, {5, 192, 64, 0}, {0, 0, 0, 0}};
  for (int rep = 0; rep < 3 && exec; ++rep) {
    memcpy(mm->mem, counts[rep], sizeof counts[rep]);
    CHECK_OK(dlg_memcpy(gpu, mmm, mm->mem, mm->bytes)); /* new counts, same device buffer */
    tt_poison(d);
    CHECK_OK(dlg_memcpy(gpu, md, d->mem, d->bytes));
    CHECK(gapi->launch(exec, stream) == CUDA_SUCCESS);
    CHECK_OK(dlg_stream_synchronize(gpu, stream));
    CHECK_OK(dlg_memcpy(gpu, d->mem, md, d->bytes));
    tt_poison(ref);
    CHECK_OK(dlg_m_grouped_gemm_masked(cpu, R, &a->t, &sfa->t, &b->t, &sfb->t, &mm->t, 64,
                                       &ref->t, NULL));
    double diff = 1.0;
    CHECK_OK(dlg_testing_calc_diff(&d->t, &ref->t, &diff));
    CHECK(diff < 1e-3);
    CHECK(rows_untouched(d, counts[rep]));
    printf("  %s, replay %d: masked_m = {%d, %d, %d, %d}: calc_diff %.3g, rows past masked_m %s\n",
           kernel, rep, counts[rep][0], counts[rep][1], counts[rep][2], counts[rep][3], diff,
           rows_untouched(d, counts[rep]) ? "untouched" : "WRITTEN");
  }
  if (exec) gapi->exec_destroy(exec);
  if (graph) gapi->destroy(graph);
  if (stream && api->stream_destroy) api->stream_destroy(stream);
  void* mems[] = {ma, msfa, mb, msfb, mmm, md};
  for (int i = 0; i < 6; ++i) dlg_device_free(gpu, mems[i]);
  test_tensor_t* hs[] = {a, sfa, b, sfb, mm, d, ref};
  for (int i = 0; i < 7; ++i) tt_free(hs[i]);
  dlg_context_destroy(cpu);
}

/* 2. Contiguous, forced pairs, 7 blocks of 128 rows: g0 = block 0, g1 = blocks 1-3 (rows
 * 450..511 padding), g2 = block 4 (rows 600..639 padding), block 5 padding, g1 = block 6.
 * Pairs: (0,1) two groups, (2,3) one group (multicast), (4,5) group + padding (ghost),
 * (6, past M) ghost. */
static void contiguous_pairs(dlg_context_t* gpu) {
  enum { M = 896, GC = 3, NC = 192, KC = 384 };
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  int64_t sfa_shape[2] = {M, KC / 128}, sfa_strides[2] = {1, M};
  test_tensor_t* a = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)M, (int64_t)KC);
  test_tensor_t* sfa = tt_new_strided(kDLFloat, 32, 2, sfa_shape, sfa_strides);
  test_tensor_t* b = tt_new(kDLFloat8_e4m3fn, 8, 3, (int64_t)GC, (int64_t)NC, (int64_t)KC);
  test_tensor_t* sfb = tt_new(kDLFloat, 32, 3, (int64_t)GC, (int64_t)(NC + 127) / 128, (int64_t)(KC / 128));
  test_tensor_t* ids = tt_new(kDLInt, 32, 1, (int64_t)M);
  test_tensor_t* d = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)NC);
  test_tensor_t* ref = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)NC);
  tt_fill(a, 11, -2, 2);
  tt_fill(sfa, 12, 0.5, 2);
  tt_fill(b, 13, -2, 2);
  tt_fill(sfb, 14, 0.5, 2);
  int32_t* id = ids->mem;
  for (int r = 0; r < M; ++r)
    id[r] = r < 128 ? 0 : r < 450 ? 1 : r < 512 ? -1 : r < 600 ? 2 : r < 768 ? -1 : 1;
  tt_poison(d);
  tt_poison(ref);
  void *ma, *msfa, *mb, *msfb, *mid, *md;
  DLTensor ga = tt_to_device(gpu, a, &ma), gsfa = tt_to_device(gpu, sfa, &msfa),
           gb = tt_to_device(gpu, b, &mb), gsfb = tt_to_device(gpu, sfb, &msfb),
           gid = tt_to_device(gpu, ids, &mid), gd = tt_to_device(gpu, d, &md);
  setenv("DLG_GROUPED_TILE", "128x64", 1);
  setenv("DLG_GROUPED_PAIRS", "1", 1);
  setenv("DLG_GROUPED_DENSE_BODY", "0", 1);
  CHECK_OK(dlg_m_grouped_gemm_contiguous(gpu, DLG_RECIPE_FP8_1D2D, &ga, &gsfa, &gb, &gsfb, &gid,
                                         DLG_GROUP_LAYOUT_ROW_IDS, &gd, NULL));
  unsetenv("DLG_GROUPED_TILE");
  unsetenv("DLG_GROUPED_PAIRS");
  unsetenv("DLG_GROUPED_DENSE_BODY");
  CHECK_OK(dlg_stream_synchronize(gpu, NULL));
  CHECK_OK(dlg_memcpy(gpu, d->mem, md, d->bytes));
  CHECK_OK(dlg_m_grouped_gemm_contiguous(cpu, DLG_RECIPE_FP8_1D2D, &a->t, &sfa->t, &b->t,
                                         &sfb->t, &ids->t, DLG_GROUP_LAYOUT_ROW_IDS, &ref->t, NULL));
  double diff = 1.0;
  CHECK_OK(dlg_testing_calc_diff(&d->t, &ref->t, &diff));
  CHECK(diff < 1e-3);
  int64_t mismatched_padding = 0;
  const uint8_t* p = d->mem;
  for (int r = 0; r < M; ++r)
    if (id[r] < 0)
      for (int i = 0; i < NC * 2; ++i) mismatched_padding += p[(int64_t)r * NC * 2 + i] != 0xA5;
  CHECK(mismatched_padding == 0);
  printf("  contiguous, forced pairs (128x64): calc_diff %.3g, padding bytes written %lld\n", diff,
         (long long)mismatched_padding);
  void* mems[] = {ma, msfa, mb, msfb, mid, md};
  for (int i = 0; i < 6; ++i) dlg_device_free(gpu, mems[i]);
  test_tensor_t* hs[] = {a, sfa, b, sfb, ids, d, ref};
  for (int i = 0; i < 7; ++i) tt_free(hs[i]);
  dlg_context_destroy(cpu);
}

int main(void) {
  dlg_context_t* gpu = NULL;
  dlg_device_info_t info;
  const dlg_cuda_api_t* api = NULL;
  dlg_graph_api_t gapi;
  memset(&gapi, 0, sizeof gapi);
  if (dlg_context_create(0, &gpu) != DLG_OK || dlg_context_device_info(gpu, &info) != DLG_OK ||
      info.sm_major != 9 || dlg_cuda_open(&api) != DLG_OK || !dlg_graph_api_load(api, &gapi)) {
    printf("masked_graph_test: skipped (needs an sm_90 GPU and the CUDA graph API)\n");
    if (gpu) dlg_context_destroy(gpu);
    return dlg_test_finish("masked_graph_test");
  }
  run(gpu, api, &gapi, "grouped kernel");
  setenv("DLG_GROUPED_DENSE_BODY", "1", 1);
  run(gpu, api, &gapi, "dense body");
  unsetenv("DLG_GROUPED_DENSE_BODY");
  contiguous_pairs(gpu);
  dlg_context_destroy(gpu);
  return dlg_test_finish("masked_graph_test");
}
