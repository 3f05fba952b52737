/* GPU FP8 casts (kernels/portable_fp8_cast*.cuh) bit for bit against the CPU reference, on
 * inputs built to catch a quotient off by one ulp: most values sit within a few ulps of an
 * e4m3 rounding midpoint once divided by their block's scale, the block maxima span 2^-20 ..
 * 2^20, some blocks are tiny (scale below 2^-64: the scaled division), some all zero, some
 * subnormal (scale 0) or infinite (scale inf, with NaNs).
 * Per-token and per-block (f32 / bf16 input, f32 / UE8M0 scales) and per-tensor, small and
 * large enough for the fused per-tensor kernel's shared-memory and streamed parts (and an
 * odd size for its tail). The fused per-tensor cast also inside a CUDA graph (captured once,
 * replayed on new contents of the same x: its counters come from the stream-ordered
 * allocator, so each replay gets fresh zeroed ones) and on two streams at once (each call its
 * own counters). Needs an sm_90 GPU; elsewhere it only says it skipped. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "dlg_graph.h"
#include "dlg_test.h"
#include "ref/numeric.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* Group amax: 2^[-20, 20] x [1, 2), except every 17th group tiny (1e-25 .. : scale < 2^-64),
 * every 23rd all zero, every 29th subnormal (scale 0: x / 0) and every 31st infinite (the
 * group then holds infinities and NaNs: scale inf). */
static float group_amax(int64_t g) {
  if (g % 23 == 5) return 0.0f;
  if (g % 29 == 7) return 1e-44f;
  if (g % 31 == 11) return INFINITY;
  if (g % 17 == 3) return (float)(1e-25 * (1.0 + unit()));
  return (float)ldexp(1.0 + unit(), (int)(rnd() % 41) - 20);
}

/* A value whose quotient by s lies a few ulps from a midpoint between two e4m3 values. */
static float near_midpoint(float s) {
  const int i = (int)(rnd() % 125); /* e4m3 magnitudes 0x00 .. 0x7D, midpoint to the next */
  const double mid = 0.5 * ((double)dlg_e4m3_to_f32((uint8_t)i) + (double)dlg_e4m3_to_f32((uint8_t)(i + 1)));
  const double jitter = ((double)(int)(rnd() % 9) - 4.0) * ldexp(1.0, -24);
  const float x = (float)((double)s * mid * (1.0 + jitter));
  return rnd() & 1 ? -x : x;
}

/* Fills x [m, k] group by group (gm x gk elements share a scale): one element of each group
 * holds its amax (sign random), the others sit near midpoints of x / (amax / 448). */
static void fill_adversarial(test_tensor_t* x, int64_t m, int64_t k, int64_t gm, int64_t gk) {
  const int64_t gms = (m + gm - 1) / gm, gks = (k + gk - 1) / gk;
  for (int64_t bi = 0; bi < gms; ++bi) {
    for (int64_t bj = 0; bj < gks; ++bj) {
      const float amax = group_amax(bi * gks + bj), s = amax / 448.0f;
      const int64_t r1 = bi * gm + gm > m ? m : bi * gm + gm, c1 = bj * gk + gk > k ? k : bj * gk + gk;
      for (int64_t r = bi * gm; r < r1; ++r)
        for (int64_t c = bj * gk; c < c1; ++c) {
          float v = amax == 0.0f ? 0.0f : near_midpoint(s);
          if (isinf(amax)) v = (r + c) % 3 == 0 ? v : (r + c) % 3 == 1 ? 1.5f : NAN;
          else if (!(fabsf(v) <= amax)) v = copysignf(amax, v);
          tt_set(x, r * k + c, v);
        }
      tt_set(x, bi * gm * k + bj * gk, rnd() & 1 ? -amax : amax);
    }
  }
}

/* Values where x * (1 / s) would round to another e4m3 than x / s: what makes the test bite. */
static int64_t reciprocal_traps(const test_tensor_t* x, const test_tensor_t* sf, int op, int64_t m, int64_t k) {
  int64_t n = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const int64_t si = op == 2 ? 0 : op == 0 ? r * sf->shape[1] + c / 128 : (r / 128) * sf->shape[1] + c / 128;
      const float s = (float)tt_get(sf, si), v = (float)tt_get(x, r * k + c);
      n += dlg_f32_to_e4m3(v * (1.0f / s)) != dlg_f32_to_e4m3(v / s);
    }
  return n;
}

static int64_t bytes_differ(const test_tensor_t* a, const test_tensor_t* b) {
  int64_t n = 0;
  const uint8_t *pa = a->mem, *pb = b->mem;
  for (size_t i = 0; i < a->bytes; ++i) n += pa[i] != pb[i];
  return n;
}

/* op 0 per-token, 1 per-block, 2 per-tensor; x [m, k]. */
static void run_case(dlg_context_t* gpu, dlg_context_t* cpu, int op, int64_t m, int64_t k, int bf16,
                     int ue8m0) {
  static const int64_t gm[3] = {1, 128, 0}, gk[3] = {128, 128, 0};
  test_tensor_t* x = tt_new(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, m, k);
  fill_adversarial(x, m, k, op == 2 ? m : gm[op], op == 2 ? k : gk[op]);
  test_tensor_t *out = tt_new(kDLFloat8_e4m3fn, 8, 2, m, k), *ref = tt_new(kDLFloat8_e4m3fn, 8, 2, m, k);
  test_tensor_t *sf, *sf_ref;
  if (op == 2) {
    sf = tt_new(kDLFloat, 32, 0);
    sf_ref = tt_new(kDLFloat, 32, 0);
  } else {
    const int64_t sm = op == 0 ? m : (m + 127) / 128, sk = (k + 127) / 128;
    sf = tt_new(kDLFloat, 32, 2, sm, sk);
    sf_ref = tt_new(kDLFloat, 32, 2, sm, sk);
  }
  tt_poison(out);
  tt_poison(sf);
  if (op == 0) CHECK_OK(dlg_cast_fp8_per_token(cpu, &x->t, ue8m0, &ref->t, &sf_ref->t, NULL));
  if (op == 1) CHECK_OK(dlg_cast_fp8_per_block(cpu, &x->t, ue8m0, &ref->t, &sf_ref->t, NULL));
  if (op == 2) CHECK_OK(dlg_cast_fp8_per_tensor(cpu, &x->t, &ref->t, &sf_ref->t, NULL));
  void *mx, *mo, *ms;
  DLTensor gx = tt_to_device(gpu, x, &mx), go = tt_to_device(gpu, out, &mo), gs = tt_to_device(gpu, sf, &ms);
  if (op == 0) CHECK_OK(dlg_cast_fp8_per_token(gpu, &gx, ue8m0, &go, &gs, NULL));
  if (op == 1) CHECK_OK(dlg_cast_fp8_per_block(gpu, &gx, ue8m0, &go, &gs, NULL));
  if (op == 2) CHECK_OK(dlg_cast_fp8_per_tensor(gpu, &gx, &go, &gs, NULL));
  CHECK_OK(dlg_stream_synchronize(gpu, NULL));
  CHECK_OK(dlg_memcpy(gpu, out->mem, mo, out->bytes));
  CHECK_OK(dlg_memcpy(gpu, sf->mem, ms, sf->bytes));
  const int64_t bad_out = bytes_differ(out, ref), bad_sf = bytes_differ(sf, sf_ref);
  CHECK(bad_out == 0);
  CHECK(bad_sf == 0);
  static const char* names[3] = {"per-token ", "per-block ", "per-tensor"};
  printf("  %s %s %6lld x %-6lld %s: %lld of %lld bytes differ (%lld values a reciprocal would "
         "round otherwise), %lld scale bytes differ\n", names[op], bf16 ? "bf16" : "f32 ",
         (long long)m, (long long)k, ue8m0 ? "ue8m0" : "f32  ", (long long)bad_out,
         (long long)out->bytes, (long long)reciprocal_traps(x, sf_ref, op, m, k), (long long)bad_sf);
  dlg_device_free(gpu, mx);
  dlg_device_free(gpu, mo);
  dlg_device_free(gpu, ms);
  test_tensor_t* all[] = {x, out, ref, sf, sf_ref};
  for (int i = 0; i < 5; ++i) tt_free(all[i]);
}

/* The fused per-tensor cast captured in a graph and replayed on three contents of x, then two
 * casts of different tensors on two streams without a sync between them. */
static void per_tensor_graph_and_streams(dlg_context_t* gpu, dlg_context_t* cpu) {
  const dlg_cuda_api_t* api = NULL;
  dlg_graph_api_t gapi;
  if (dlg_cuda_open(&api) != DLG_OK || !api->stream_create || !dlg_graph_api_load(api, &gapi)) {
    printf("  per-tensor graph / streams: skipped (no graph entry points)\n");
    return;
  }
  enum { M = 1024, K = 4096 };
  test_tensor_t *x[2], *out[2], *ref = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)M, (int64_t)K);
  test_tensor_t *sf[2], *sf_ref = tt_new(kDLFloat, 32, 0);
  void *mx[2], *mo[2], *ms[2];
  DLTensor gx[2], go[2], gs[2];
  CUstream st[2] = {NULL, NULL};
  for (int i = 0; i < 2; ++i) {
    x[i] = tt_new(kDLBfloat, 16, 2, (int64_t)M, (int64_t)K);
    out[i] = tt_new(kDLFloat8_e4m3fn, 8, 2, (int64_t)M, (int64_t)K);
    sf[i] = tt_new(kDLFloat, 32, 0);
    tt_fill(x[i], 80 + (uint64_t)i, -1.0 - i, 1.0 + i);
    gx[i] = tt_to_device(gpu, x[i], &mx[i]);
    go[i] = tt_to_device(gpu, out[i], &mo[i]);
    gs[i] = tt_to_device(gpu, sf[i], &ms[i]);
    CHECK(api->stream_create(&st[i], CU_STREAM_NON_BLOCKING) == CUDA_SUCCESS);
  }
  /* warm-up outside the capture: compiles and loads the kernel */
  CHECK_OK(dlg_cast_fp8_per_tensor(gpu, &gx[0], &go[0], &gs[0], st[0]));
  CHECK_OK(dlg_stream_synchronize(gpu, st[0]));
  CUgraph graph = NULL;
  CUgraphExec exec = NULL;
  CHECK(gapi.begin_capture(st[0], CU_STREAM_CAPTURE_MODE_RELAXED) == CUDA_SUCCESS);
  CHECK_OK(dlg_cast_fp8_per_tensor(gpu, &gx[0], &go[0], &gs[0], st[0]));
  CHECK(gapi.end_capture(st[0], &graph) == CUDA_SUCCESS);
  CHECK(graph && gapi.instantiate(&exec, graph, 0) == CUDA_SUCCESS);
  for (int rep = 0; rep < 3 && exec; ++rep) {
    tt_fill(x[0], 90 + (uint64_t)rep, -0.5 * (rep + 1), 0.5 * (rep + 1)); /* a new amax each time */
    CHECK_OK(dlg_memcpy(gpu, mx[0], x[0]->mem, x[0]->bytes));
    CHECK(gapi.launch(exec, st[0]) == CUDA_SUCCESS);
    CHECK_OK(dlg_stream_synchronize(gpu, st[0]));
    CHECK_OK(dlg_memcpy(gpu, out[0]->mem, mo[0], out[0]->bytes));
    CHECK_OK(dlg_memcpy(gpu, sf[0]->mem, ms[0], sf[0]->bytes));
    CHECK_OK(dlg_cast_fp8_per_tensor(cpu, &x[0]->t, &ref->t, &sf_ref->t, NULL));
    const int64_t bad = bytes_differ(out[0], ref) + bytes_differ(sf[0], sf_ref);
    CHECK(bad == 0);
    printf("  per-tensor in a graph, replay %d: sf %g, %lld bytes differ\n", rep,
           tt_get(sf[0], 0), (long long)bad);
  }
  if (exec) gapi.exec_destroy(exec);
  if (graph) gapi.destroy(graph);
  /* two streams, no sync in between */
  for (int i = 0; i < 2; ++i) CHECK_OK(dlg_cast_fp8_per_tensor(gpu, &gx[i], &go[i], &gs[i], st[i]));
  for (int i = 0; i < 2; ++i) {
    CHECK_OK(dlg_stream_synchronize(gpu, st[i]));
    CHECK_OK(dlg_memcpy(gpu, out[i]->mem, mo[i], out[i]->bytes));
    CHECK_OK(dlg_memcpy(gpu, sf[i]->mem, ms[i], sf[i]->bytes));
    CHECK_OK(dlg_cast_fp8_per_tensor(cpu, &x[i]->t, &ref->t, &sf_ref->t, NULL));
    const int64_t bad = bytes_differ(out[i], ref) + bytes_differ(sf[i], sf_ref);
    CHECK(bad == 0);
    printf("  per-tensor on stream %d of 2: sf %g, %lld bytes differ\n", i, tt_get(sf[i], 0),
           (long long)bad);
  }
  for (int i = 0; i < 2; ++i) {
    if (st[i] && api->stream_destroy) api->stream_destroy(st[i]);
    dlg_device_free(gpu, mx[i]);
    dlg_device_free(gpu, mo[i]);
    dlg_device_free(gpu, ms[i]);
    tt_free(x[i]);
    tt_free(out[i]);
    tt_free(sf[i]);
  }
  tt_free(ref);
  tt_free(sf_ref);
}

int main(void) {
  dlg_context_t* gpu = tt_sm90_context("fp8_cast_gpu_test", "GPU casts");
  if (!gpu) return dlg_test_finish("fp8_cast_gpu_test");
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    for (int ue8m0 = 0; ue8m0 < 2; ++ue8m0) {
      run_case(gpu, cpu, 0, 515, 1024 + 128 * bf16, bf16, ue8m0);
      run_case(gpu, cpu, 1, 515, 1024 + 128 * bf16, bf16, ue8m0);
    }
    /* per-tensor: tiny, odd (a tail past the 16-byte vectors), and past the fused kernel's
     * shared-memory share (132 SMs x ~200 KiB), one amax each */
    for (int t = 0; t < 6; ++t) {
      static const int64_t shapes[6][2] = {{3, 5}, {1, 100003}, {1024, 4096}, {1025, 7},
                                           {4096, 7168}, {8192, 2049}};
      g_rng = 0x9E3779B97F4A7C15ull + (uint64_t)t;
      run_case(gpu, cpu, 2, shapes[t][0], shapes[t][1], bf16, 0);
    }
  }
  per_tensor_graph_and_streams(gpu, cpu);
  dlg_context_destroy(cpu);
  dlg_context_destroy(gpu);
  return dlg_test_finish("fp8_cast_gpu_test");
}
