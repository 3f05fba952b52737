/* The MQA logits GPU kernels. Without a GPU: NVRTC compiles of the kernel instances the
 * launchers pick, checked in SASS when cuobjdump is there (wgmma, TMA, mbarriers, no local
 * memory, registers within the launch bound). With one (cuda:0): every GPU op against the CPU
 * reference on poisoned outputs (calc_diff over the valid entries < 1e-3; every other
 * storage element bitwise equal: the -inf mask, untouched padding, unwritten entries with
 * clean off), the schedule metadata and clean_logits bitwise equal to the CPU's, and 20
 * reruns of a logits op bitwise identical (2 for the other cases). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dlg_sass.h"
#include "dlg_test.h"
#include "dlgemm/testing.h"
#include "gpu.h"
#include "jit/jit_internal.h"
#include "jit/jit_test_env.h"
#include "launch/launch.h"

#define TOL_DIFF 1e-3
#define RERUNS 20

/* ---- without a GPU: compile checks ---- */

static void compile_and_check(const char* name, const char* source, int sm90, int threads) {
  dlg_test_sass_t k;
  if (dlg_test_compile_sass(name, source, 90, &k)) {
    const int mma = dlg_test_count(k.text, "QGMMA."), tma = dlg_test_count(k.text, "UTMALDG");
    const int ldl = dlg_test_count(k.text, " LDL"), stl = dlg_test_count(k.text, " STL");
    CHECK(k.local == 0 && ldl == 0 && stl == 0);
    CHECK(k.regs > 0 && k.regs * threads <= 65536);
    if (sm90) CHECK(mma > 0 && tma > 0);
    printf("  %-52s regs %3d local %d | QGMMA %d UTMALDG %d LDL/STL %d\n", name, k.regs, k.local,
           mma, tma, ldl + stl);
  }
  dlg_test_sass_free(&k);
}

static void test_compile(void) {
  char name[160], source[512];
  static const int mqa[][4] = {{64, 128, 12, 0}, {64, 128, 12, 1}, {32, 128, 12, 0}, {64, 64, 12, 0}};
  for (size_t i = 0; i < sizeof mqa / sizeof mqa[0]; ++i) {
    dlg_sm90_mqa_logits_source(mqa[i][0], mqa[i][1], mqa[i][2], mqa[i][3], name, sizeof name,
                               source, sizeof source);
    compile_and_check(name, source, 1, dlg_sm90_mqa_logits_threads(mqa[i][0]));
  }
  /* {H, D, next_n, stages, bf16, epilogue} */
  static const int paged[][6] = {{64, 128, 1, 21, 0, 1}, {64, 128, 2, 9, 0, 1},
                                 {32, 128, 2, 15, 1, 1}, {32, 64, 1, 15, 0, 1},
                                 {16, 32, 1, 15, 1, 1},  {64, 128, 2, 15, 0, 2},
                                 {16, 32, 1, 15, 1, 2},  {64, 128, 2, 15, 0, 0}};
  for (size_t i = 0; i < sizeof paged / sizeof paged[0]; ++i) {
    dlg_sm90_paged_mqa_logits_source(paged[i][0], paged[i][1], paged[i][2], paged[i][3],
                                     paged[i][4], paged[i][5], name, sizeof name, source,
                                     sizeof source);
    compile_and_check(name, source, 1, 512);
  }
  compile_and_check("portable_clean_logits", "#include \"portable_clean_logits.cuh\"\n", 0, 256);
  compile_and_check("portable_paged_mqa_metadata",
                    "#include \"portable_paged_mqa_metadata.cuh\"\n", 0, 1024);
}

/* ---- with a GPU ---- */

static dlg_context_t* g_cpu;
static dlg_context_t* g_gpu;

/* A host tensor and its device twin (same shape, strides, storage size). */
typedef struct dual {
  test_tensor_t* h;
  void* dptr;
  DLTensor d;
} dual_t;

static dual_t* dual_wrap(test_tensor_t* h) {
  dual_t* x = calloc(1, sizeof *x);
  x->h = h;
  CHECK_OK(dlg_device_alloc(g_gpu, h->bytes ? h->bytes : 16, &x->dptr));
  x->d = h->t;
  x->d.data = x->dptr;
  x->d.device.device_type = kDLCUDA;
  x->d.device.device_id = 0;
  return x;
}

static void upload(dual_t* x) {
  if (x->h->bytes) CHECK_OK(dlg_memcpy(g_gpu, x->dptr, x->h->mem, x->h->bytes));
}
static void download(dual_t* x, void* dst) {
  CHECK_OK(dlg_stream_synchronize(g_gpu, NULL));
  if (x->h->bytes) CHECK_OK(dlg_memcpy(g_gpu, dst, x->dptr, x->h->bytes));
}
static void dual_free(dual_t* x) {
  if (!x) return;
  dlg_device_free(g_gpu, x->dptr);
  tt_free(x->h);
  free(x);
}

static double elem_value(const void* mem, int bf16, int64_t e) {
  if (bf16) {
    uint16_t b;
    memcpy(&b, (const char*)mem + 2 * e, 2);
    return test_bf16_to_double(b);
  }
  float f;
  memcpy(&f, (const char*)mem + 4 * e, 4);
  return f;
}

/* Compares the GPU storage `got` with the CPU reference storage `want` of a logits tensor:
 * element (i, j) with valid(i, j) enters calc_diff, every other storage element must match
 * bitwise. Returns calc_diff. */
typedef int (*valid_fn)(void* user, int64_t i, int64_t j);
static double compare_logits(const test_tensor_t* ref, const void* got, valid_fn valid,
                             void* user, const char* what) {
  const int bf16 = ref->t.dtype.code == kDLBfloat;
  const int64_t es = bf16 ? 2 : 4, n = (int64_t)(ref->bytes / (size_t)es);
  const int64_t rows = ref->t.shape[0], cols = ref->t.shape[1];
  const int64_t ld = ref->t.strides ? ref->t.strides[0] : cols;
  double sxy = 0, sxx = 0, syy = 0;
  int64_t mism = 0, first = -1;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t i = e / ld, j = e % ld;
    if (i < rows && j < cols && valid(user, i, j)) {
      double x = elem_value(ref->mem, bf16, e), y = elem_value(got, bf16, e);
      sxy += x * y;
      sxx += x * x;
      syy += y * y;
    } else if (memcmp((const char*)ref->mem + e * es, (const char*)got + e * es, (size_t)es)) {
      if (first < 0) first = e;
      ++mism;
    }
  }
  double diff = (sxx + syy) > 0 ? 1.0 - 2.0 * sxy / (sxx + syy) : 0.0;
  if (mism) fprintf(stderr, "  %s: %lld masked/untouched elements differ (first at %lld)\n", what,
                    (long long)mism, (long long)first);
  CHECK(mism == 0);
  CHECK(diff < TOL_DIFF);
  return diff;
}

/* ---- non-paged ---- */

typedef struct mqa_case {
  int64_t s, h, d, s_kv, ld;
  int bf16, clean, window; /* window 0: causal-like full prefix */
  int64_t width;           /* > 0: dlg_mqa_logits_compressed with logits [S, width] */
} mqa_case_t;

typedef struct ranges {
  const int32_t *ks, *ke;
  int64_t s_kv, width;
} ranges_t;

static int mqa_valid(void* user, int64_t i, int64_t j) {
  const ranges_t* r = user;
  int64_t lo = r->ks[i], hi = r->ke[i];
  if (lo < 0) lo = 0;
  if (lo > r->s_kv) lo = r->s_kv;
  if (hi > r->s_kv) hi = r->s_kv;
  if (r->width == 0) return j >= lo && j < hi;
  /* compressed: column j is key lo + j */
  return j < hi - lo && j < r->width;
}

static dlg_status_t call_mqa(dlg_context_t* ctx, const mqa_case_t* c, dual_t* const* ins,
                             DLTensor* logits, int on_gpu) {
  const DLTensor* t[6];
  for (int i = 0; i < 6; ++i) t[i] = on_gpu ? &ins[i]->d : &ins[i]->h->t;
  if (c->width > 0)
    return dlg_mqa_logits_compressed(ctx, t[0], t[1], t[2], t[3], t[4], t[5], c->clean, logits,
                                     NULL);
  return dlg_mqa_logits(ctx, t[0], t[1], t[2], t[3], t[4], t[5], c->clean, logits, NULL);
}

/* Row i: the last S rows of a causal mask over S_kv keys, with a sliding window when set,
 * and every 7th row an edge case (empty, reversed, out of range, negative start). */
static void make_ranges(const mqa_case_t* c, int32_t* ks, int32_t* ke) {
  for (int64_t i = 0; i < c->s; ++i) {
    int64_t end = c->s_kv - c->s + i + 1;
    if (end < 0) end = 0;
    int64_t start = c->window ? end - c->window : 0;
    ks[i] = (int32_t)(start < 0 ? 0 : start);
    ke[i] = (int32_t)end;
    switch (i % 7 == 3 ? (i / 7) % 4 : -1) {
      case 0: ks[i] = ke[i] = (int32_t)(c->s_kv / 2); break;
      case 1: ks[i] = 40; ke[i] = 10; break;
      case 2: ks[i] = -5; ke[i] = (int32_t)(c->s_kv + 100); break;
      case 3: ks[i] = (int32_t)c->s_kv + 3; ke[i] = (int32_t)c->s_kv + 9; break;
      default: break;
    }
  }
}

static void test_mqa(const mqa_case_t* c, int reruns) {
  char what[128];
  snprintf(what, sizeof what, "mqa s=%lld h=%lld d=%lld s_kv=%lld ld=%lld %s clean=%d%s",
           (long long)c->s, (long long)c->h, (long long)c->d, (long long)c->s_kv,
           (long long)c->ld, c->bf16 ? "bf16" : "f32", c->clean, c->width ? " compressed" : "");
  dual_t* q = dual_wrap(tt_new(kDLFloat8_e4m3fn, 8, 3, c->s, c->h, c->d));
  dual_t* kv = dual_wrap(tt_new(kDLFloat8_e4m3fn, 8, 2, c->s_kv, c->d));
  dual_t* sc = dual_wrap(tt_new(kDLFloat, 32, 1, c->s_kv));
  dual_t* w = dual_wrap(tt_new(kDLFloat, 32, 2, c->s, c->h));
  dual_t* ks = dual_wrap(tt_new(kDLInt, 32, 1, c->s));
  dual_t* ke = dual_wrap(tt_new(kDLInt, 32, 1, c->s));
  const int64_t shape[2] = {c->s, c->width ? c->width : c->s_kv}, strides[2] = {c->ld, 1};
  dual_t* lg = dual_wrap(tt_new_strided(c->bf16 ? kDLBfloat : kDLFloat, c->bf16 ? 16 : 32, 2,
                                        shape, strides));
  CHECK_OK(dlg_testing_fill(&q->h->t, 11, DLG_FILL_UNIFORM, -2, 2));
  CHECK_OK(dlg_testing_fill(&kv->h->t, 12, DLG_FILL_UNIFORM, -2, 2));
  CHECK_OK(dlg_testing_fill(&sc->h->t, 13, DLG_FILL_UNIFORM, 0.5, 1.5));
  CHECK_OK(dlg_testing_fill(&w->h->t, 14, DLG_FILL_UNIFORM, -1, 1));
  make_ranges(c, (int32_t*)ks->h->mem, (int32_t*)ke->h->mem);
  dual_t* ins[] = {q, kv, sc, w, ks, ke};
  for (int i = 0; i < 6; ++i) upload(ins[i]);
  CHECK_OK(dlg_testing_poison(g_cpu, &lg->h->t, 0xFF));
  CHECK_OK(dlg_testing_poison(g_gpu, &lg->d, 0xFF));
  CHECK_OK(call_mqa(g_cpu, c, ins, &lg->h->t, 0));
  CHECK_OK(call_mqa(g_gpu, c, ins, &lg->d, 1));
  void* first = malloc(lg->h->bytes);
  void* again = malloc(lg->h->bytes);
  download(lg, first);
  ranges_t r = {(const int32_t*)ks->h->mem, (const int32_t*)ke->h->mem, c->s_kv, c->width};
  double diff = compare_logits(lg->h, first, mqa_valid, &r, what);
  int same = 1;
  for (int k = 1; k < reruns; ++k) {
    CHECK_OK(dlg_testing_poison(g_gpu, &lg->d, 0xFF));
    CHECK_OK(call_mqa(g_gpu, c, ins, &lg->d, 1));
    download(lg, again);
    same &= memcmp(first, again, lg->h->bytes) == 0;
  }
  CHECK(same);
  printf("  %-64s calc_diff %.2e, %d runs %s\n", what, diff, reruns,
         same ? "bitwise identical" : "DIFFER");
  free(first);
  free(again);
  for (int i = 0; i < 6; ++i) dual_free(ins[i]);
  dual_free(lg);
}

/* ---- paged ---- */

typedef struct paged_case {
  int64_t b, next_n, h, d, max_blocks, spare_blocks;
  int lens_2d, bf16, clean, num_sms; /* num_sms 0: the device's */
  int neg_scales;                     /* scales in [-1.5, 1.5] (else [0.5, 1.5]) */
} paged_case_t;

typedef struct paged_rows {
  const int32_t* lens;
  int64_t next_n;
  int lens_2d;
} paged_rows_t;

static int64_t paged_len(const paged_rows_t* r, int64_t i) {
  int64_t b = i / r->next_n, t = i % r->next_n;
  int64_t len = r->lens_2d ? r->lens[b * r->next_n + t] : r->lens[b] - r->next_n + t + 1;
  return len > 0 ? len : 0;
}
static int paged_valid(void* user, int64_t i, int64_t j) { return j < paged_len(user, i); }

static uint64_t lcg(uint64_t* s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static void test_paged(const paged_case_t* c, int reruns) {
  char what[160];
  const char* epi = getenv("DLG_PAGED_MQA_EPILOGUE");
  snprintf(what, sizeof what,
           "paged b=%lld next_n=%lld h=%lld d=%lld lens%s %s clean=%d sms=%d%s epi=%s",
           (long long)c->b, (long long)c->next_n, (long long)c->h, (long long)c->d,
           c->lens_2d ? "2d" : "1d", c->bf16 ? "bf16" : "f32", c->clean, c->num_sms,
           c->neg_scales ? " s<0" : "", epi ? epi : "default");
  const int64_t bkv = 64, width = c->max_blocks * bkv;
  const int64_t nb = c->b * c->max_blocks + c->spare_blocks, rows = c->b * c->next_n;
  dual_t* q = dual_wrap(tt_new(kDLFloat8_e4m3fn, 8, 4, c->b, c->next_n, c->h, c->d));
  dual_t* kc = dual_wrap(tt_new(kDLUInt, 8, 4, nb, bkv, (int64_t)1, c->d + 4));
  dual_t* w = dual_wrap(tt_new(kDLFloat, 32, 2, rows, c->h));
  dual_t* lens = c->lens_2d ? dual_wrap(tt_new(kDLInt, 32, 2, c->b, c->next_n))
                            : dual_wrap(tt_new(kDLInt, 32, 1, c->b));
  dual_t* bt = dual_wrap(tt_new(kDLInt, 32, 2, c->b, c->max_blocks));
  dual_t* lg = dual_wrap(tt_new(c->bf16 ? kDLBfloat : kDLFloat, c->bf16 ? 16 : 32, 2, rows, width));
  CHECK_OK(dlg_testing_fill(&q->h->t, 21, DLG_FILL_UNIFORM, -2, 2));
  CHECK_OK(dlg_testing_fill(&w->h->t, 22, DLG_FILL_UNIFORM, -1, 1));
  /* The cache's two parts through typed views of its bytes. */
  DLTensor vals = kc->h->t, scales = kc->h->t;
  int64_t vshape[2] = {nb, bkv * c->d}, vstr[2] = {bkv * (c->d + 4), 1};
  int64_t sshape[2] = {nb, bkv}, sstr[2] = {bkv * (c->d + 4) / 4, 1};
  vals.ndim = scales.ndim = 2;
  vals.dtype.code = kDLFloat8_e4m3fn;
  vals.shape = vshape;
  vals.strides = vstr;
  scales.dtype.code = kDLFloat;
  scales.dtype.bits = 32;
  scales.shape = sshape;
  scales.strides = sstr;
  scales.byte_offset = (uint64_t)(bkv * c->d);
  CHECK_OK(dlg_testing_fill(&vals, 23, DLG_FILL_UNIFORM, -2, 2));
  CHECK_OK(dlg_testing_fill(&scales, 24, DLG_FILL_UNIFORM, c->neg_scales ? -1.5 : 0.5, 1.5));
  /* Lengths: mostly long, some zero, some a block boundary; blocks a random permutation. */
  uint64_t seed = 99;
  int32_t* ln = (int32_t*)lens->h->mem;
  const int64_t cols = c->lens_2d ? c->next_n : 1;
  for (int64_t b = 0; b < c->b; ++b) {
    int64_t base = (int64_t)(lcg(&seed) % (uint64_t)(width - c->next_n)) + c->next_n;
    if (b % 5 == 2) base = 64 * (1 + b % c->max_blocks);
    if (b % 9 == 4) base = c->lens_2d ? 0 : c->next_n - 1; /* empty rows */
    if (base > width) base = width;
    for (int64_t t = 0; t < cols; ++t) {
      int64_t len = c->lens_2d ? base - (c->next_n - 1 - t) : base;
      ln[b * cols + t] = (int32_t)(len > 0 ? len : 0);
    }
  }
  int32_t* perm = malloc((size_t)nb * sizeof *perm);
  for (int64_t i = 0; i < nb; ++i) perm[i] = (int32_t)i;
  for (int64_t i = nb - 1; i > 0; --i) {
    int64_t j = (int64_t)(lcg(&seed) % (uint64_t)(i + 1));
    int32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  memcpy(bt->h->mem, perm, (size_t)(c->b * c->max_blocks) * sizeof *perm);
  free(perm);
  dual_t* ins[] = {q, kc, w, lens, bt};
  for (int i = 0; i < 5; ++i) upload(ins[i]);

  /* Schedule: GPU == CPU, bitwise. */
  int sms = c->num_sms;
  if (!sms) CHECK_OK(dlg_gpu_num_sms(g_gpu, &sms));
  dual_t* meta = dual_wrap(tt_new(kDLInt, 32, 2, dlg_paged_mqa_logits_metadata_rows(sms), (int64_t)2));
  CHECK_OK(dlg_paged_mqa_logits_metadata(g_cpu, &lens->h->t, (int)bkv, sms, &meta->h->t, NULL));
  CHECK_OK(dlg_testing_poison(g_gpu, &meta->d, 0xEE));
  CHECK_OK(dlg_paged_mqa_logits_metadata(g_gpu, &lens->d, (int)bkv, c->num_sms, &meta->d, NULL));
  void* gmeta = malloc(meta->h->bytes);
  download(meta, gmeta);
  CHECK(memcmp(gmeta, meta->h->mem, meta->h->bytes) == 0);
  free(gmeta);

  CHECK_OK(dlg_testing_poison(g_cpu, &lg->h->t, 0xFF));
  CHECK_OK(dlg_testing_poison(g_gpu, &lg->d, 0xFF));
  CHECK_OK(dlg_paged_mqa_logits(g_cpu, &q->h->t, &kc->h->t, &w->h->t, &lens->h->t, &bt->h->t,
                                NULL, c->clean, &lg->h->t, NULL));
  CHECK_OK(dlg_paged_mqa_logits(g_gpu, &q->d, &kc->d, &w->d, &lens->d, &bt->d, &meta->d,
                                c->clean, &lg->d, NULL));
  void* first = malloc(lg->h->bytes);
  void* again = malloc(lg->h->bytes);
  download(lg, first);
  paged_rows_t pr = {ln, c->next_n, c->lens_2d};
  double diff = compare_logits(lg->h, first, paged_valid, &pr, what);
  int same = 1;
  for (int k = 1; k < reruns; ++k) {
    CHECK_OK(dlg_testing_poison(g_gpu, &lg->d, 0xFF));
    CHECK_OK(dlg_paged_mqa_logits(g_gpu, &q->d, &kc->d, &w->d, &lens->d, &bt->d, &meta->d,
                                  c->clean, &lg->d, NULL));
    download(lg, again);
    same &= memcmp(first, again, lg->h->bytes) == 0;
  }
  CHECK(same);
  printf("  %-64s calc_diff %.2e, schedule == CPU, %d runs %s\n", what, diff, reruns,
         same ? "bitwise identical" : "DIFFER");
  free(first);
  free(again);
  for (int i = 0; i < 5; ++i) dual_free(ins[i]);
  dual_free(meta);
  dual_free(lg);
}

/* ---- clean on its own: GPU storage == CPU storage, bitwise ---- */

static void test_clean(int64_t rows, int64_t width, int64_t ld, int bf16, int with_ks) {
  dual_t* ks = dual_wrap(tt_new(kDLInt, 32, 1, rows));
  dual_t* ke = dual_wrap(tt_new(kDLInt, 32, 1, rows));
  const int64_t shape[2] = {rows, width}, strides[2] = {ld, 1};
  dual_t* lg = dual_wrap(tt_new_strided(bf16 ? kDLBfloat : kDLFloat, bf16 ? 16 : 32, 2, shape,
                                        strides));
  uint64_t seed = 7;
  for (int64_t r = 0; r < rows; ++r) {
    ((int32_t*)ks->h->mem)[r] = (int32_t)((int64_t)(lcg(&seed) % (uint64_t)(width + 20)) - 10);
    ((int32_t*)ke->h->mem)[r] = (int32_t)((int64_t)(lcg(&seed) % (uint64_t)(width + 20)) - 10);
  }
  CHECK_OK(dlg_testing_fill(&lg->h->t, 5, DLG_FILL_UNIFORM, -1, 1));
  upload(ks);
  upload(ke);
  upload(lg);
  CHECK_OK(dlg_clean_logits(g_cpu, with_ks ? &ks->h->t : NULL, &ke->h->t, &lg->h->t, NULL));
  CHECK_OK(dlg_clean_logits(g_gpu, with_ks ? &ks->d : NULL, &ke->d, &lg->d, NULL));
  void* got = malloc(lg->h->bytes);
  download(lg, got);
  int same = memcmp(got, lg->h->mem, lg->h->bytes) == 0;
  CHECK(same);
  printf("  clean rows=%lld width=%lld ld=%lld %s ks=%d: %s\n", (long long)rows, (long long)width,
         (long long)ld, bf16 ? "bf16" : "f32", with_ks, same ? "bitwise == CPU" : "DIFFERS");
  free(got);
  dual_free(ks);
  dual_free(ke);
  dual_free(lg);
}

static void test_metadata_only(int64_t batch, int64_t cols, int block_kv, int sms, uint64_t seed) {
  dual_t* lens = cols > 1 ? dual_wrap(tt_new(kDLInt, 32, 2, batch, cols))
                          : dual_wrap(tt_new(kDLInt, 32, 1, batch));
  for (int64_t i = 0; i < batch * cols; ++i) {
    uint64_t v = lcg(&seed) % 20000;
    ((int32_t*)lens->h->mem)[i] = (int32_t)(i % 11 == 5 ? 0 : v);
  }
  upload(lens);
  dual_t* meta = dual_wrap(tt_new(kDLInt, 32, 2, dlg_paged_mqa_logits_metadata_rows(sms), (int64_t)2));
  CHECK_OK(dlg_paged_mqa_logits_metadata(g_cpu, &lens->h->t, block_kv, sms, &meta->h->t, NULL));
  CHECK_OK(dlg_paged_mqa_logits_metadata(g_gpu, &lens->d, block_kv, sms, &meta->d, NULL));
  void* got = malloc(meta->h->bytes);
  download(meta, got);
  int same = memcmp(got, meta->h->mem, meta->h->bytes) == 0;
  CHECK(same);
  printf("  metadata b=%lld cols=%lld block_kv=%d sms=%d: %s\n", (long long)batch, (long long)cols,
         block_kv, sms, same ? "bitwise == CPU" : "DIFFERS");
  free(got);
  dual_free(lens);
  dual_free(meta);
}

static void test_gpu(void) {
  /* $DLG_MQA_RERUNS shortens the rerun loop (e.g. under compute-sanitizer). */
  const char* env = getenv("DLG_MQA_RERUNS");
  const int reruns = env && atoi(env) >= 2 ? atoi(env) : RERUNS;
  /* non-paged: H 64/32, D 128/64, f32/bf16, clean on/off, padded rows, windows, tails */
  const mqa_case_t mqa[] = {
      {300, 64, 128, 2000, 2048, 0, 1, 0, 0}, {77, 32, 128, 1000, 1000, 1, 1, 300, 0},
      {130, 64, 64, 513, 520, 0, 0, 200, 0},  {17, 32, 128, 100, 128, 0, 0, 40, 0},
      {1, 64, 128, 64, 64, 0, 1, 0, 0},       {64, 16, 32, 96, 100, 1, 0, 0, 0},
      /* compressed: windows cut by the width, wider than every window, tails, bf16 */
      {300, 64, 128, 2000, 256, 0, 1, 700, 256}, {300, 64, 128, 2000, 800, 0, 0, 700, 777},
      {77, 32, 128, 1000, 64, 1, 1, 300, 61},    {130, 64, 64, 513, 520, 0, 0, 0, 513},
  };
  for (size_t i = 0; i < sizeof mqa / sizeof mqa[0]; ++i)
    test_mqa(&mqa[i], i == 0 || mqa[i].width == 256 ? reruns : 2);
  /* paged: next_n 1/2, H 64/32, lens [B] / [B, next_n], a few SM counts */
  const paged_case_t paged[] = {
      {37, 2, 64, 128, 20, 5, 1, 0, 1, 0, 0},   {37, 1, 64, 128, 20, 5, 0, 0, 1, 0, 0},
      {20, 2, 32, 128, 9, 3, 0, 1, 1, 7, 0},    {9, 1, 32, 64, 5, 0, 1, 0, 0, 300, 0},
      {64, 2, 64, 128, 3, 0, 0, 0, 1, 5, 1},    {40, 1, 16, 32, 4, 2, 0, 1, 1, 3, 1},
  };
  for (size_t i = 0; i < sizeof paged / sizeof paged[0]; ++i)
    test_paged(&paged[i], i == 0 ? reruns : 2);
  /* The A/B epilogues of the paged kernel (DLG_PAGED_MQA_EPILOGUE, see its launcher). */
  static const char* const epilogues[] = {"0", "2"}; /* the default is 1 */
  for (size_t e = 0; e < 2; ++e) {
    setenv("DLG_PAGED_MQA_EPILOGUE", epilogues[e], 1);
    for (size_t i = 0; i < sizeof paged / sizeof paged[0]; ++i)
      if (i < 2 || i == 4) test_paged(&paged[i], 2);
  }
  unsetenv("DLG_PAGED_MQA_EPILOGUE");
  /* The single-thread block-table producer without the evict_first KV policy, then a 6-stage
   * ring (A/B switches of the launcher). */
  setenv("DLG_PAGED_MQA_BT_WARP", "0", 1);
  setenv("DLG_PAGED_MQA_KV_EVICT_FIRST", "0", 1);
  for (size_t i = 0; i < sizeof paged / sizeof paged[0]; ++i)
    if (i < 2 || i == 4) test_paged(&paged[i], 2);
  unsetenv("DLG_PAGED_MQA_BT_WARP");
  unsetenv("DLG_PAGED_MQA_KV_EVICT_FIRST");
  setenv("DLG_PAGED_MQA_STAGES", "6", 1);
  for (size_t i = 0; i < sizeof paged / sizeof paged[0]; ++i)
    if (i < 2 || i == 4) test_paged(&paged[i], 2);
  unsetenv("DLG_PAGED_MQA_STAGES");
  test_clean(33, 1000, 1000, 0, 1);
  test_clean(17, 100, 112, 1, 1);
  test_clean(9, 77, 77, 0, 0);
  test_clean(5, 300, 301, 1, 1); /* odd row stride: no 16-byte alignment */
  test_metadata_only(3000, 1, 64, 132, 1);
  test_metadata_only(1500, 2, 64, 78, 2);
  test_metadata_only(4, 1, 64, 132, 3);
  test_metadata_only(2500, 2, 16, 1, 4);
}

int main(void) {
  dlg_test_jit_env();
  printf("NVRTC compiles (sm_90a):\n");
  test_compile();
  CHECK_OK(dlg_context_create(-1, &g_cpu));
  CHECK_OK(dlg_context_create(0, &g_gpu));
  dlg_device_info_t info;
  if (dlg_context_device_info(g_gpu, &info) != DLG_OK) {
    printf("no GPU (%s): GPU checks skipped\n", dlg_last_error());
    dlg_clear_error();
  } else {
    printf("GPU checks on %s:\n", info.name);
    test_gpu();
  }
  dlg_context_destroy(g_gpu);
  dlg_context_destroy(g_cpu);
  return dlg_test_finish("mqa_determinism_test");
}
