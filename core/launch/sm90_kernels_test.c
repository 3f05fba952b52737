/* SM90 GEMM kernels without a GPU: the heuristics' invariants, the TMA view rules, and NVRTC
 * compilations of representative configs (plus every config the heuristics pick for the
 * anchor shapes), each checked in SASS when a cuobjdump is available: wgmma (QGMMA / HGMMA),
 * TMA (UTMALDG / UTMASTG), mbarriers (SYNCS), no local memory (LDL / STL, stack 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dlg_sass.h"
#include "dlg_test.h"
#include "jit/jit_internal.h"
#include "launch/sm90_gemm_common.h"
#include "launch/sm90_gemm_config.h"
#include "launch/tma.h"

#define SMEM_H100 232448

typedef struct shape3 { int64_t m, n, k; } shape3_t;

/* The anchor shapes (shared/anchors-h100.md) and some edges. */
static const shape3_t k_shapes[] = {
    {128, 2112, 7168}, {128, 576, 7168},    {128, 24576, 1536}, {128, 32768, 512},
    {128, 7168, 16384}, {128, 4096, 7168},  {128, 7168, 2048},  {4096, 2112, 7168},
    {4096, 576, 7168},  {4096, 24576, 1536}, {4096, 32768, 512}, {4096, 7168, 16384},
    {4096, 4096, 7168}, {4096, 7168, 2048}, {4096, 4096, 4096}, {8192, 8192, 8192},
    {1, 8, 16},         {65, 136, 48},      {3, 100000, 64},    {20000, 16, 4096},
};
#define N_SHAPES (sizeof k_shapes / sizeof k_shapes[0])

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static dlg_sm90_gemm_shape_t make_shape(shape3_t s, int fp8, int sfa, int out_bytes, int sms) {
  dlg_sm90_gemm_shape_t x;
  memset(&x, 0, sizeof x);
  x.m = s.m;
  x.n = s.n;
  x.k = s.k;
  x.fp8 = fp8;
  x.sfa_in_smem = sfa;
  x.out_bytes = out_bytes;
  x.num_sms = sms;
  x.smem_limit = SMEM_H100;
  return x;
}

static void check_config(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  CHECK(c->block_m == 64 || c->block_m == 128 || c->block_m == 256);
  CHECK(c->pipelined == 0 || (c->pipelined == 1 && s->fp8 && c->block_m != 256));
  CHECK(c->block_n >= 16 && c->block_n % 16 == 0 &&
        c->block_n <= (s->fp8 ? dlg_sm90_fp8_max_block_n(c->block_m, c->pipelined,
                                                         s->promotion ? s->promotion
                                                         : s->sfa_in_smem ? DLG_SM90_PROMOTE_ROW_BLOCK
                                                                          : DLG_SM90_PROMOTE_ADD)
                              : (c->block_m == 256 ? 192 : 256)));
  CHECK(c->stages >= 2 && c->stages <= 16);
  CHECK(c->direct_store == 0 || c->direct_store == 1);
  CHECK(c->slab_ring == 0 || (c->slab_ring == 1 && !c->direct_store));
  CHECK(c->smem_bytes <= s->smem_limit);
  const size_t staged_bytes = dlg_sm90_d_smem_bytes(c->block_m, c->block_n, s->out_bytes,
                                                    c->direct_store, c->slab_ring);
  CHECK(c->smem_bytes == dlg_sm90_config_smem_bytes(s, c));
  CHECK(c->smem_bytes == dlg_sm90_gemm_smem_bytes(c->block_m, c->block_n, c->stages,
                                                  s->sfa_in_smem, staged_bytes));
  /* One more stage would not have fitted (or the cap was reached). */
  CHECK(c->stages == 16 || dlg_sm90_gemm_smem_bytes(c->block_m, c->block_n, c->stages + 1,
                                                    s->sfa_in_smem, staged_bytes) > s->smem_limit);
  CHECK(c->threads == (c->block_m == 64 ? 2 : 3) * 128); /* 1 or 2 math warpgroups + producer */
  const int cs = c->cluster_m * c->cluster_n;
  CHECK(cs == 1 || cs == 2 || cs == 4);
  CHECK(cs <= s->num_sms);
  /* (masked M-grouped: each group is tiled on its own) */
  const int64_t mb = s->m_groups > 0 ? s->m_groups * cdiv(cdiv(s->m, s->m_groups), c->block_m)
                                     : cdiv(s->m, c->block_m);
  const int64_t nb = cdiv(s->n, c->block_n);
  CHECK(c->tiles == mb * nb);
  if (c->cluster_m == 2) CHECK(mb % 2 == 0);
  if (c->cluster_n == 2) CHECK(nb % 2 == 0);
  CHECK(c->group_n % c->cluster_n == 0);
  if (c->split_k > 1) {
    /* Split-K (searched): clusters of 2 or 4 CTAs per tile, one wave, no multicast, direct
     * stores, FP8 1D2D / per-tensor or BF16, at least 4 k-blocks per CTA. */
    CHECK(c->split_k == 2 || c->split_k == 4);
    CHECK(s->promotion != DLG_SM90_PROMOTE_ROW_COL && cs == 1 && c->direct_store);
    CHECK(c->block_m <= 128 && cdiv(cdiv(s->k, s->fp8 ? 128 : 64), c->split_k) >= 4);
    CHECK((int64_t)c->grid == c->tiles * c->split_k && (int)c->grid <= s->num_sms);
    CHECK(c->waves == 1);
    return;
  }
  CHECK(c->split_k == 0);
  CHECK(c->grid >= 1 && (int)c->grid <= s->num_sms && c->grid % (unsigned)cs == 0);
  CHECK((int64_t)c->grid == (c->tiles < c->grid ? c->tiles : (int64_t)c->grid));
  CHECK(c->waves == cdiv(c->tiles, (int64_t)c->grid));
  const int row = c->block_n * s->out_bytes;
  CHECK(c->d_swizzle == 32 || c->d_swizzle == 64 || c->d_swizzle == 128);
  CHECK(row % c->d_swizzle == 0);
}

static void heuristics(void) {
  static const int sms[] = {132, 78, 7, 2, 1};
  for (size_t i = 0; i < N_SHAPES; ++i) {
    /* fp8 1d2d, fp8 per-tensor, bf16, bf16 -> f32, fp8 1d1d -> f32 */
    for (int kind = 0; kind < 5; ++kind) {
      const int fp8 = kind < 2 || kind == 4, out_bytes = kind >= 3 ? 4 : 2;
      const int sfa = kind == 0 ? DLG_SM90_SMEM_SFA
                      : kind == 4 ? (DLG_SM90_SMEM_SFA | DLG_SM90_SMEM_SFB) : 0;
      for (size_t j = 0; j < sizeof sms / sizeof sms[0]; ++j) {
        dlg_sm90_gemm_shape_t s = make_shape(k_shapes[i], fp8, sfa, out_bytes, sms[j]);
        if (kind == 4) s.promotion = DLG_SM90_PROMOTE_ROW_COL;
        if (kind == 0) s.promotion = DLG_SM90_PROMOTE_ROW_BLOCK;
        dlg_sm90_gemm_config_t a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        CHECK(dlg_sm90_gemm_choose(&s, &a));
        CHECK(dlg_sm90_gemm_choose(&s, &b));
        CHECK(memcmp(&a, &b, sizeof a) == 0); /* deterministic */
        check_config(&s, &a);
      }
    }
  }
  /* A tiny shared-memory limit leaves nothing. */
  dlg_sm90_gemm_shape_t s = make_shape(k_shapes[0], 1, 1, 2, 132);
  dlg_sm90_gemm_config_t c;
  s.smem_limit = 16 * 1024;
  CHECK(!dlg_sm90_gemm_choose(&s, &c));

  /* $DLG_SM90_GEMM_CONFIG overrides: valid ones give a consistent config, others change
   * nothing. */
  s = make_shape(k_shapes[14], 1, DLG_SM90_SMEM_SFA, 2, 132); /* 4096^3, 1D2D */
  s.promotion = DLG_SM90_PROMOTE_ROW_BLOCK;
  CHECK(dlg_sm90_gemm_choose(&s, &c));
  dlg_sm90_gemm_config_t o = c;
  const char* why = NULL;
  CHECK(dlg_sm90_gemm_override(&s, "bm=128,bn=128,cn=2,cm=1,pipe=1", &o, &why));
  CHECK(o.block_m == 128 && o.block_n == 128 && o.cluster_n == 2 && o.pipelined == 1);
  check_config(&s, &o);
  CHECK(o.stages == 16 || dlg_sm90_gemm_smem_bytes(128, 128, o.stages + 1, s.sfa_in_smem, 128 * 128 * 2) >
                              s.smem_limit);
  CHECK(dlg_sm90_gemm_override(&s, "stages=3", &o, &why) && o.stages == 3);
  static const char* const bad[] = {"bn=144,pipe=1", "bm=96", "bn=100", "cm=3",
                                    "stages=40", "foo=1", "bn", "bn=x",
                                    "split=4",  /* with the 1x2 cluster and the staging tile */
                                    "cn=1,direct=1,split=9", "bm=256,cn=1,direct=1,split=2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    dlg_sm90_gemm_config_t before = o;
    why = NULL;
    CHECK(!dlg_sm90_gemm_override(&s, bad[i], &o, &why) && why != NULL);
    CHECK(memcmp(&before, &o, sizeof o) == 0);
  }
  /* Split-K through the override, on a decode shape (128 x 2112 x 7168). */
  s = make_shape(k_shapes[0], 1, DLG_SM90_SMEM_SFA, 2, 132);
  s.promotion = DLG_SM90_PROMOTE_ROW_BLOCK;
  CHECK(s.m == 128 && s.n == 2112 && s.k == 7168);
  CHECK(dlg_sm90_gemm_choose(&s, &c));
  o = c;
  CHECK(dlg_sm90_gemm_override(&s, "bm=128,bn=128,cm=1,cn=1,direct=1,split=4", &o, &why));
  CHECK(o.split_k == 4 && o.grid == 17 * 4 && o.waves == 1);
  check_config(&s, &o);
  /* 1D1D has no split-K. */
  s.sfa_in_smem = DLG_SM90_SMEM_SFA | DLG_SM90_SMEM_SFB;
  s.promotion = DLG_SM90_PROMOTE_ROW_COL;
  CHECK(!dlg_sm90_gemm_override(&s, "bm=128,bn=64,cm=1,cn=1,direct=1,split=2", &o, &why));
}

/* FP8 M-grouped problems on the dense body (sm90_grouped_gemm.c): no B multicast (two
 * m-blocks may hold two groups), no split-K, the staged epilogue; masked groups are tiled one
 * by one and never take one-warpgroup tiles. Shapes: issue 9's suites and DeepGEMM's anchors
 * (G, rows per group, N, K); contiguous m = all rows. */
static void m_grouped_choices(void) {
  static const int64_t shapes[][4] = {
      {4, 8192, 6144, 7168}, {8, 4096, 4096, 2048}, {4, 8192, 4096, 7168}, {8, 4096, 7168, 2048},
      {32, 192, 4096, 7168}, {32, 192, 7168, 2048}, {6, 1024, 6144, 7168}, {16, 64, 4096, 7168},
      {16, 64, 7168, 2048}, {6, 64, 4096, 4096}, {3, 128, 192, 384}, {1, 1, 256, 128}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    for (int masked = 0; masked <= 1; ++masked) {
      for (int per_tensor = 0; per_tensor <= 1; ++per_tensor) {
        const shape3_t sh = {shapes[i][0] * shapes[i][1], shapes[i][2], shapes[i][3]};
        dlg_sm90_gemm_shape_t s = make_shape(sh, 1, per_tensor ? 0 : DLG_SM90_SMEM_SFA, 2, 132);
        s.promotion = per_tensor ? DLG_SM90_PROMOTE_ADD : DLG_SM90_PROMOTE_ROW_BLOCK;
        s.m_grouped = 1;
        s.m_groups = masked ? shapes[i][0] : 0;
        dlg_sm90_gemm_config_t c;
        CHECK(dlg_sm90_gemm_choose(&s, &c));
        check_config(&s, &c);
        CHECK(c.cluster_m == 1 && c.split_k == 0 && c.direct_store == 0);
        if (masked) CHECK(c.block_m >= 128);
        /* A group of 64 rows: a 256-row tile would compute four times what it writes. */
        if (masked && shapes[i][1] <= 64) CHECK(c.block_m == 128);
        const char* why = NULL;
        dlg_sm90_gemm_config_t o = c;
        CHECK(!dlg_sm90_gemm_override(&s, "cm=2,cn=1", &o, &why) && why != NULL);
        CHECK(!dlg_sm90_gemm_override(&s, "bm=128,bn=64,cn=1,direct=1", &o, &why));
      }
    }
  }
}

static void print_choices(void) {
  printf("  choices on 132 SMs, %d B smem (fp8 1d2d -> bf16 | fp8 per-tensor | bf16 -> bf16):\n",
         SMEM_H100);
  for (size_t i = 0; i < 16; ++i) {
    dlg_sm90_gemm_config_t f, t, b;
    dlg_sm90_gemm_shape_t sf = make_shape(k_shapes[i], 1, DLG_SM90_SMEM_SFA, 2, 132);
    sf.promotion = DLG_SM90_PROMOTE_ROW_BLOCK;
    dlg_sm90_gemm_shape_t st = make_shape(k_shapes[i], 1, 0, 2, 132);
    dlg_sm90_gemm_shape_t sb = make_shape(k_shapes[i], 0, 0, 2, 132);
    if (!dlg_sm90_gemm_choose(&sf, &f) || !dlg_sm90_gemm_choose(&st, &t) ||
        !dlg_sm90_gemm_choose(&sb, &b))
      continue;
    printf("  %5lld %5lld %5lld | %3dx%3d st%2d cl%dx%d p%d w%2lld sk%d | %3dx%3d st%2d cl%dx%d p%d "
           "w%2lld sk%d | %3dx%3d st%2d cl%dx%d w%2lld\n",
           (long long)k_shapes[i].m, (long long)k_shapes[i].n, (long long)k_shapes[i].k,
           f.block_m, f.block_n, f.stages, f.cluster_m, f.cluster_n, f.pipelined,
           (long long)f.waves, f.split_k, t.block_m, t.block_n, t.stages, t.cluster_m,
           t.cluster_n, t.pipelined, (long long)t.waves, t.split_k, b.block_m, b.block_n, b.stages, b.cluster_m,
           b.cluster_n, (long long)b.waves);
  }
}

static void tma_rules(void) {
  static const unsigned char buf[64] __attribute__((aligned(16))) = {0};
  dlg_tma_2d_t v;
  memset(&v, 0, sizeof v);
  v.base = buf;
  v.dtype = CU_TENSOR_MAP_DATA_TYPE_UINT8;
  v.inner = 7168;
  v.outer = 4096;
  v.row_stride_bytes = 7168;
  v.box_inner = 128;
  v.box_outer = 128;
  v.swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  CHECK(dlg_tma_2d_ok(&v, NULL));
  dlg_tma_2d_t w = v;
  w.base = buf + 8;
  CHECK(!dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.row_stride_bytes = 7176;
  CHECK(!dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.row_stride_bytes = 7152; /* smaller than a row */
  CHECK(!dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.outer = 1;
  w.row_stride_bytes = 8; /* one row: its stride is never used */
  CHECK(dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.box_outer = 512;
  CHECK(!dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.dtype = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16; /* 128 bf16 = 256 B > 128B swizzle */
  CHECK(!dlg_tma_2d_ok(&w, NULL));
  w.box_inner = 64;
  w.row_stride_bytes = 7168 * 2;
  CHECK(dlg_tma_2d_ok(&w, NULL));
  w = v;
  w.dtype = CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  w.swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
  w.box_inner = 3; /* 12 bytes: not a multiple of 16 */
  w.row_stride_bytes = 7168 * 4;
  CHECK(!dlg_tma_2d_ok(&w, NULL));
}

/* ---- coverage: what the launchers decline (before any GPU work) ----------------------- */

typedef struct gemm_case {
  test_tensor_t *a, *sfa, *b, *sfb, *d, *c;
  dlg_gemm_problem_t p;
} gemm_case_t;

/* A compact K-major problem; sfa MN-major [M, kb] with stride (1, aligned M). */
static void make_case(gemm_case_t* g, dlg_recipe_t recipe, int64_t m, int64_t n, int64_t k) {
  memset(g, 0, sizeof *g);
  const int fp8 = recipe != DLG_RECIPE_BF16;
  const int64_t kb = cdiv(k, 128), am = (m + 3) / 4 * 4;
  g->a = fp8 ? tt_new(kDLFloat8_e4m3fn, 8, 2, m, k) : tt_new(kDLBfloat, 16, 2, m, k);
  g->b = fp8 ? tt_new(kDLFloat8_e4m3fn, 8, 2, n, k) : tt_new(kDLBfloat, 16, 2, n, k);
  g->d = tt_new(kDLBfloat, 16, 2, m, n);
  if (recipe == DLG_RECIPE_FP8_1D2D || recipe == DLG_RECIPE_FP8_1D1D) {
    const int64_t sh[2] = {m, kb}, st[2] = {1, am};
    g->sfa = tt_new_strided(kDLFloat, 32, 2, sh, st);
    if (recipe == DLG_RECIPE_FP8_1D2D) {
      g->sfb = tt_new(kDLFloat, 32, 2, cdiv(n, 128), kb);
    } else {
      const int64_t shb[2] = {n, kb}, stb[2] = {1, (n + 3) / 4 * 4};
      g->sfb = tt_new_strided(kDLFloat, 32, 2, shb, stb);
    }
  }
  g->p.recipe = recipe;
  g->p.m = m;
  g->p.n = n;
  g->p.k = k;
  g->p.a = &g->a->t;
  g->p.b = &g->b->t;
  g->p.d = &g->d->t;
  g->p.sfa = g->sfa ? &g->sfa->t : NULL;
  g->p.sfb = g->sfb ? &g->sfb->t : NULL;
  g->p.a_k_major = g->p.b_k_major = 1;
}

static void free_case(gemm_case_t* g) {
  tt_free(g->a);
  tt_free(g->sfa);
  tt_free(g->b);
  tt_free(g->sfb);
  tt_free(g->d);
  tt_free(g->c);
}

static dlg_status_t launch(dlg_context_t* ctx, const gemm_case_t* g, int warmup) {
  return g->p.recipe == DLG_RECIPE_BF16 ? dlg_launch_sm90_bf16_gemm(ctx, &g->p, NULL, warmup)
                                        : dlg_launch_sm90_fp8_gemm(ctx, &g->p, NULL, warmup);
}

static void declines(void) {
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx)); /* no CUDA call is made until GPU work */
  gemm_case_t g;

  /* 1D1D: both scale matrices MN-major and TMA-aligned. */
  make_case(&g, DLG_RECIPE_FP8_1D1D, 256, 200, 384);
  dlg_clear_error();
  CHECK(launch(ctx, &g, 1) != DLG_ERR_UNSUPPORTED);
  g.sfb->strides[0] = 3; /* K-major sfb */
  g.sfb->strides[1] = 1;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  CHECK(strstr(dlg_last_error(), "sfb") != NULL);
  g.sfb->strides[0] = 1;
  g.sfb->strides[1] = 202; /* column stride not a multiple of 4 */
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  free_case(&g);

  make_case(&g, DLG_RECIPE_FP8_1D2D, 256, 512, 256);
  g.p.k = 0;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.p.k = 256;
  g.a->strides[0] = 1; /* M-major A */
  g.a->strides[1] = 256;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.a->strides[0] = 256;
  g.a->strides[1] = 1;
  g.sfa->strides[0] = 2; /* K-major sfa */
  g.sfa->strides[1] = 1;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.sfa->strides[0] = 1;
  g.sfa->strides[1] = 256;
  g.sfa->t.dtype.code = kDLInt; /* packed UE8M0 */
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.sfa->t.dtype.code = kDLFloat;
  g.d->t.byte_offset = 2; /* misaligned D */
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.d->t.byte_offset = 0;
  g.d->strides[1] = 2; /* D not row-major */
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.d->strides[1] = 1;
  /* Covered: gets past every check (warm-up: compile only; here NO_DRIVER/NO_NVRTC/OK). */
  dlg_clear_error();
  CHECK(launch(ctx, &g, 1) != DLG_ERR_UNSUPPORTED);
  free_case(&g);

  make_case(&g, DLG_RECIPE_FP8_PER_TENSOR, 100, 64, 24); /* K = 24: 24-byte rows */
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  free_case(&g);

  make_case(&g, DLG_RECIPE_BF16, 128, 72, 64);
  g.c = tt_new(kDLFloat, 32, 2, (int64_t)128, (int64_t)72);
  g.p.c = &g.c->t;
  CHECK(launch(ctx, &g, 1) != DLG_ERR_UNSUPPORTED);
  g.p.n = 71; /* C is read in column pairs (D keeps its 144-byte rows) */
  g.c->shape[1] = g.d->shape[1] = 71;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.p.n = 72;
  g.c->shape[1] = g.d->shape[1] = 72;
  g.b->strides[0] = 1; /* N-major B */
  g.b->strides[1] = 72;
  CHECK_STATUS(launch(ctx, &g, 0), DLG_ERR_UNSUPPORTED);
  g.p.recipe = DLG_RECIPE_FP8_1D2D;
  CHECK_STATUS(dlg_launch_sm90_bf16_gemm(ctx, &g.p, NULL, 0), DLG_ERR_UNSUPPORTED);
  free_case(&g);
  dlg_context_destroy(ctx);
}

/* ---- compilation + SASS -------------------------------------------------------------- */

static int g_sass_checked;

static void compile_and_check(const char* name, const char* source, int fp8, int threads,
                              int direct) {
  dlg_test_sass_t k;
  if (dlg_test_compile_sass(name, source, 90, &k)) {
    const char* sass = k.text;
    const int mma = dlg_test_count(sass, fp8 ? "QGMMA." : "HGMMA.");
    const int ldl = dlg_test_count(sass, " LDL"), stl = dlg_test_count(sass, " STL");
    const int tma_ld = dlg_test_count(sass, "UTMALDG"), tma_st = dlg_test_count(sass, "UTMASTG");
    const int syncs = dlg_test_count(sass, "SYNCS.");
    const int maxreg = dlg_test_count(sass, "USETMAXREG");
    CHECK(mma > 0);
    CHECK(ldl == 0 && stl == 0);
    CHECK(tma_ld > 0 && syncs > 0);
    CHECK(direct ? tma_st == 0 : tma_st > 0); /* direct-store epilogue: no TMA stores */
    CHECK(k.stack == 0 && k.local == 0);
    CHECK(k.regs > 0 && k.regs * threads <= 65536);
    CHECK(threads == 256 || maxreg == 2); /* two math WGs: dec (producer) + inc (math) */
    /* setmaxnreg moves registers within the CTA's allocation, which the launch bound fixes:
     * 40 (or 48) x 128 + 232 (224) x 256 must fit it, or the math warps' inc waits forever
     * (a 640-thread bound for a 384-thread BLOCK_M 256 kernel hung on the H100). */
    CHECK(maxreg == 0 || k.regs * threads >= 63488);
    printf("  %-62s regs %3d stack %d local %d | %s %d, UTMALDG %d, UTMASTG %d, SYNCS %d, "
           "USETMAXREG %d, LDL/STL %d\n",
           name, k.regs, k.stack, k.local, fp8 ? "QGMMA" : "HGMMA", mma, tma_ld, tma_st, syncs,
           maxreg, ldl + stl);
    ++g_sass_checked;
  }
  dlg_test_sass_free(&k);
}

typedef struct kcase {
  int fp8, per_tensor, f32_out, c_mode;
  int bm, bn, stages, cm, cn;
  int pipelined, one_d_one_d, direct, ring;
} kcase_t;

static void compile_case(const kcase_t* k) {
  dlg_sm90_gemm_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.block_m = k->bm;
  cfg.block_n = k->bn;
  cfg.stages = k->stages;
  cfg.cluster_m = k->cm;
  cfg.cluster_n = k->cn;
  cfg.group_n = 16;
  cfg.pipelined = k->pipelined;
  cfg.direct_store = k->direct;
  cfg.slab_ring = k->ring;
  char name[160], source[512];
  if (k->fp8)
    dlg_sm90_fp8_recipe_source(&cfg,
                               k->one_d_one_d  ? DLG_RECIPE_FP8_1D1D
                               : k->per_tensor ? DLG_RECIPE_FP8_PER_TENSOR
                                               : DLG_RECIPE_FP8_1D2D,
                               k->f32_out, k->c_mode, name, sizeof name, source, sizeof source);
  else
    dlg_sm90_bf16_gemm_source(&cfg, k->f32_out, k->c_mode, name, sizeof name, source, sizeof source);
  compile_and_check(name, source, k->fp8, (k->bm == 64 ? 2 : 3) * 128, k->direct);
}

static void representative_kernels(void) {
  static const kcase_t cases[] = {
      /* fp8 1d2d, bf16 out: the BLOCK_N family incl. non-powers of two, both BLOCK_M */
      {1, 0, 0, 0, 128, 112, 6, 1, 1, 0, 0, 0, 0}, {1, 0, 0, 0, 128, 128, 5, 1, 2, 0, 0, 0, 0},
      {1, 0, 0, 0, 128, 160, 5, 1, 2, 0, 0, 0, 0}, {1, 0, 0, 0, 128, 192, 4, 2, 1, 0, 0, 0, 0},
      {1, 0, 0, 0, 128, 208, 3, 1, 1, 0, 0, 0, 0}, {1, 0, 0, 0, 64, 128, 8, 2, 1, 0, 0, 0, 0},
      {1, 0, 0, 0, 64, 176, 8, 1, 1, 0, 0, 0, 0},
      /* fp8 per-tensor; f32 out; C */
      {1, 1, 0, 0, 128, 160, 5, 1, 1, 0, 0, 0, 0}, {1, 1, 0, 0, 128, 192, 4, 1, 2, 0, 0, 0, 0},
      {1, 0, 1, 2, 128, 128, 5, 1, 1, 0, 0, 0, 0}, {1, 0, 0, 1, 64, 96, 8, 1, 1, 0, 0, 0, 0},
      /* bf16 */
      {0, 0, 0, 0, 128, 128, 6, 1, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 128, 256, 4, 1, 2, 0, 0, 0, 0},
      {0, 0, 0, 0, 128, 192, 4, 2, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 64, 256, 4, 1, 1, 0, 0, 0, 0},
      {0, 0, 1, 2, 128, 160, 4, 1, 1, 0, 0, 0, 0}, {0, 0, 0, 1, 128, 112, 5, 1, 1, 0, 0, 0, 0},
      /* fp8 with pipelined promotion (3 accumulator sets: BLOCK_N <= 128), C via TMA */
      {1, 0, 0, 0, 128, 128, 6, 1, 2, 1, 0, 0, 0}, {1, 1, 0, 0, 128, 128, 6, 2, 1, 1, 0, 0, 0},
      {1, 0, 0, 0, 64, 128, 8, 1, 1, 1, 0, 0, 0}, {1, 0, 0, 0, 128, 112, 6, 1, 2, 1, 0, 0, 0},
      {1, 0, 1, 3, 128, 96, 6, 1, 1, 1, 0, 0, 0}, {1, 0, 0, 3, 64, 32, 12, 1, 2, 1, 0, 0, 0},
      /* fp8 1d1d: f32 D += C (TMA prefetch), bf16 D, ldg C, not pipelined */
      {1, 0, 1, 3, 128, 112, 5, 1, 2, 1, 1, 0, 0}, {1, 0, 0, 0, 128, 112, 6, 2, 1, 1, 1, 1, 0},
      {1, 0, 1, 2, 64, 112, 8, 1, 1, 1, 1, 0, 0}, {1, 0, 1, 3, 128, 176, 4, 1, 1, 0, 1, 0, 0},
      {1, 0, 1, 3, 64, 16, 12, 1, 2, 1, 1, 0, 0},
      /* direct-store epilogue (no staging tile: one more stage), 2x2 clusters */
      {1, 0, 0, 0, 128, 128, 6, 1, 2, 1, 0, 1, 0}, {1, 0, 0, 0, 128, 128, 6, 2, 1, 1, 0, 1, 0},
      {1, 1, 0, 0, 128, 128, 7, 1, 2, 1, 0, 1, 0}, {1, 0, 0, 0, 128, 160, 5, 1, 2, 0, 0, 1, 0},
      {1, 0, 0, 0, 64, 32, 12, 2, 2, 1, 0, 1, 0}, {1, 0, 1, 2, 128, 112, 6, 2, 1, 1, 1, 1, 0},
      {1, 0, 0, 0, 64, 64, 12, 2, 2, 1, 0, 1, 0},
      {1, 0, 0, 1, 128, 96, 7, 1, 1, 1, 0, 1, 0}, {0, 0, 0, 0, 128, 256, 4, 2, 2, 0, 0, 1, 0},
      {0, 0, 1, 2, 128, 128, 7, 1, 2, 0, 0, 1, 0}, {0, 0, 0, 0, 64, 64, 12, 2, 2, 0, 0, 0, 0},
      /* slab-ring epilogue (64-byte slabs through 8 KiB per math warpgroup): 256x128 with a
       * 4th stage, f32 D + C read by the epilogue, slabs of 32 bytes, one math warpgroup */
      {1, 0, 0, 0, 256, 128, 4, 1, 2, 0, 0, 0, 1}, {1, 1, 0, 1, 128, 128, 6, 1, 2, 1, 0, 0, 1},
      {1, 0, 1, 2, 128, 128, 6, 1, 2, 0, 1, 0, 1}, {1, 0, 1, 2, 128, 112, 6, 1, 2, 1, 1, 0, 1},
      {0, 0, 0, 0, 256, 128, 4, 1, 2, 0, 0, 0, 1}, {0, 0, 1, 2, 128, 208, 4, 2, 1, 0, 0, 0, 1},
      {0, 0, 0, 1, 64, 112, 6, 1, 1, 0, 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) compile_case(&cases[i]);
}

/* Every distinct config the heuristics pick for the anchor shapes (bf16 out, 132 SMs; the
 * per-tensor picks differ from 1D2D's only by the sfa bytes per stage). */
static void chosen_kernels(void) {
  char seen[128][160];
  int n_seen = 0;
  for (int kind = 0; kind < 4; ++kind) { /* fp8 1d2d, bf16, fp8 per-tensor, fp8 1d1d f32 += C */
    for (size_t i = 0; i < 16; ++i) {
      const int fp8 = kind != 1;
      const dlg_recipe_t recipe = kind == 0   ? DLG_RECIPE_FP8_1D2D
                                  : kind == 2 ? DLG_RECIPE_FP8_PER_TENSOR
                                              : DLG_RECIPE_FP8_1D1D;
      const int scales = kind == 0 ? DLG_SM90_SMEM_SFA
                         : kind == 3 ? (DLG_SM90_SMEM_SFA | DLG_SM90_SMEM_SFB) : 0;
      dlg_sm90_gemm_shape_t s = make_shape(k_shapes[i], fp8, scales, kind == 3 ? 4 : 2, 132);
      s.promotion = kind == 0 ? DLG_SM90_PROMOTE_ROW_BLOCK
                    : kind == 2 ? DLG_SM90_PROMOTE_ADD
                    : kind == 3 ? DLG_SM90_PROMOTE_ROW_COL : DLG_SM90_PROMOTE_NONE;
      if (kind == 3) s.c_bytes = 4, s.c_via_tma = 1;
      dlg_sm90_gemm_config_t cfg;
      if (!dlg_sm90_gemm_choose(&s, &cfg)) continue;
      char name[160], source[512];
      if (fp8)
        dlg_sm90_fp8_recipe_source(&cfg, recipe, kind == 3,
                                   kind == 3 ? (dlg_sm90_store_mode(&cfg) ? 2 : 3) : 0, name, sizeof name,
                                   source, sizeof source);
      else
        dlg_sm90_bf16_gemm_source(&cfg, 0, 0, name, sizeof name, source, sizeof source);
      int dup = 0;
      for (int j = 0; j < n_seen; ++j) dup |= strcmp(seen[j], name) == 0;
      if (dup || n_seen == 128) continue;
      snprintf(seen[n_seen++], sizeof seen[0], "%s", name);
      compile_and_check(name, source, fp8, cfg.threads, cfg.direct_store);
    }
  }
}

int main(void) {
  heuristics();
  m_grouped_choices();
  print_choices();
  tma_rules();
  declines();
  dlg_runtime_info_t info;
  dlg_runtime_info(&info);
  if (!info.nvrtc_found) {
    printf("  NVRTC not found (%s): compilations skipped\n", info.why);
  } else {
    representative_kernels();
    chosen_kernels();
    if (!dlg_jit_cuobjdump_path()) printf("  no cuobjdump ($DLG_CUOBJDUMP): SASS checks skipped\n");
  }
  return dlg_test_finish("sm90_kernels_test");
}
