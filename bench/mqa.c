/* dlgemm_bench --op mqa | paged_mqa | attention: the MQA logits ops (attention.h) on the
 * shapes of issue 10, timed like the GEMMs (events, L2 flushed before every call, median of
 * --iters), each checked against the CPU reference on sampled rows (calc_diff over valid
 * entries, -inf mask bitwise) and rerun --reruns times for bitwise determinism.
 *
 * Non-paged: S ∈ {2048, 8192} × S_kv ∈ {8192, 65536}, H 64, D 128, f32 logits, clean on.
 * ks/ke as DeepGEMM's test: "context-parallel" (S_kv % S == 0, the (2048, 8192) anchor) or the
 * causal tail (ks = 0, ke[i] = S_kv - S + i). TFLOPS = 2 · valid pairs · H · D / time; GB/s =
 * (q + kv + scales + weights + S·S_kv·4 logits) / time.
 * Paged: B ∈ {256, 4096}, next_n ∈ {1, 2}, H 64, D 128, block_kv 64, context lengths uniform
 * in [0.7, 1.3]·avg with avg ∈ {8192, 65536} and B·avg <= 32M; lens [B] (DeepGEMM's
 * convention), clean on. GB/s = (KV blocks read + q + weights + block table + logits) / time,
 * compared with the write bandwidth of a cuMemsetD8 of 2 GiB measured in the same run (and
 * the 3.35 TB/s data-sheet peak). The cache is a pool of at most 16384 random blocks copied
 * over the whole allocation; physical block p holds pool block p % pool, which the check uses.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cuda_api.h"
#include "cupti.h"
#include "dlgemm.h"
#include "json.h"
#include "mqa.h"
#include "timing.h"

#define H 64
#define D 128
#define BLOCK_KV 64
#define POOL_BLOCKS 16384
#define CHECK_ROWS 4

typedef struct mqa_opts {
  int do_mqa, do_paged, iters, warmup, reruns, quick;
  double flush_mib;
  const char* json;
} mqa_opts_t;

typedef struct mqa_env {
  bench_cuda_t cu;
  dlg_context_t *gpu, *cpu;
  CUstream stream;
  bench_timer_t timer;
} mqa_env_t;

/* A tensor with its own shape/strides storage, on the host or the device. */
typedef struct tens {
  DLTensor t;
  int64_t shape[4], strides[4];
  void* mem;
  size_t bytes;
  int dev;
} tens_t;

static int tens_make(mqa_env_t* e, tens_t* x, int dev, int code, int bits, int ndim,
                     const int64_t* shape) {
  memset(x, 0, sizeof *x);
  size_t n = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    x->shape[i] = shape[i];
    x->strides[i] = (int64_t)n;
    n *= (size_t)shape[i];
  }
  x->bytes = n * (size_t)(bits / 8);
  x->dev = dev;
  if (dev) {
    if (dlg_device_alloc(e->gpu, x->bytes ? x->bytes : 16, &x->mem) != DLG_OK) return -1;
  } else {
    x->mem = malloc(x->bytes ? x->bytes : 16);
    if (!x->mem) return -1;
  }
  x->t.data = x->mem;
  x->t.device.device_type = dev ? kDLCUDA : kDLCPU;
  x->t.device.device_id = 0;
  x->t.ndim = ndim;
  x->t.dtype.code = (uint8_t)code;
  x->t.dtype.bits = (uint8_t)bits;
  x->t.dtype.lanes = 1;
  x->t.shape = x->shape;
  x->t.strides = x->strides;
  return 0;
}

static void tens_free(mqa_env_t* e, tens_t* x) {
  if (!x->mem) return;
  if (x->dev) dlg_device_free(e->gpu, x->mem);
  else free(x->mem);
  x->mem = NULL;
}

/* Host -> device twin. */
static int tens_upload(mqa_env_t* e, const tens_t* h, tens_t* d) {
  if (tens_make(e, d, 1, h->t.dtype.code, h->t.dtype.bits, h->t.ndim, h->shape) != 0) return -1;
  return dlg_memcpy(e->gpu, d->mem, h->mem, h->bytes) == DLG_OK ? 0 : -1;
}

/* calc_diff of two f32 rows over finite entries; *mask_ok = every non-finite entry (the -inf
 * mask) bitwise equal. Accumulates into sums[3]. */
static void compare_row(const float* want, const float* got, int64_t n, double sums[3],
                        int* mask_ok) {
  for (int64_t j = 0; j < n; ++j) {
    if (!isfinite(want[j]) || !isfinite(got[j])) {
      if (memcmp(&want[j], &got[j], 4)) *mask_ok = 0;
      continue;
    }
    sums[0] += (double)want[j] * got[j];
    sums[1] += (double)want[j] * want[j];
    sums[2] += (double)got[j] * got[j];
  }
}

static double finish_diff(const double sums[3]) {
  return sums[1] + sums[2] > 0 ? 1.0 - 2.0 * sums[0] / (sums[1] + sums[2]) : 0.0;
}

/* Reruns the call and compares the whole output with the first run's, bitwise. */
typedef int (*call_fn)(void* user, CUstream stream, char* why, size_t cap);
static int rerun_identical(mqa_env_t* e, call_fn fn, void* user, const tens_t* out, int reruns) {
  if (reruns < 2) return -1;
  void* first = malloc(out->bytes);
  void* again = malloc(out->bytes);
  int same = first && again;
  char why[256];
  for (int k = 0; same && k < reruns; ++k) {
    dlg_testing_poison(e->gpu, (DLTensor*)&out->t, 0xFF);
    if (fn(user, e->stream, why, sizeof why) != 0) same = 0;
    e->cu.stream_synchronize(e->stream);
    if (dlg_memcpy(e->gpu, k ? again : first, out->mem, out->bytes) != DLG_OK) same = 0;
    if (k && memcmp(first, again, out->bytes)) same = 0;
  }
  free(first);
  free(again);
  return same;
}

typedef struct record {
  const char* op;
  int64_t s, s_kv, batch, next_n, avg_ctx, width;
  int cp;
  double pairs, bytes;
  bench_stats_t t;
  double tflops, gbps, diff, meta_us;
  double kernel_gbps; /* bytes / CUPTI kernel time (0 without CUPTI) */
  int ran, mask_ok, deterministic;
  char status[256];
} record_t;

/* ---- non-paged ---- */

typedef struct mqa_call {
  mqa_env_t* e;
  tens_t q, kv, sc, w, ks, ke, lg;
} mqa_call_t;

static int mqa_launch(void* user, CUstream stream, char* why, size_t cap) {
  mqa_call_t* c = user;
  dlg_status_t st = dlg_mqa_logits(c->e->gpu, &c->q.t, &c->kv.t, &c->sc.t, &c->w.t, &c->ks.t,
                                   &c->ke.t, 1, &c->lg.t, stream);
  if (st == DLG_OK) return 0;
  snprintf(why, cap, "dlg_mqa_logits: %s: %s", dlg_status_name(st), dlg_last_error());
  return -1;
}

static void run_mqa(mqa_env_t* e, const mqa_opts_t* o, int64_t s, int64_t s_kv, record_t* r) {
  memset(r, 0, sizeof *r);
  r->op = "mqa_logits";
  r->s = s;
  r->s_kv = s_kv;
  r->cp = s == 2048 && s_kv == 8192; /* the anchor's configuration */
  tens_t hq, hkv, hsc, hw, hks, hke;
  mqa_call_t c;
  memset(&c, 0, sizeof c);
  c.e = e;
  const int64_t sq[3] = {s, H, D}, skv[2] = {s_kv, D}, ssc[1] = {s_kv}, sw[2] = {s, H},
                sr[1] = {s}, slg[2] = {s, s_kv};
  int ok = tens_make(e, &hq, 0, kDLFloat8_e4m3fn, 8, 3, sq) == 0 &&
           tens_make(e, &hkv, 0, kDLFloat8_e4m3fn, 8, 2, skv) == 0 &&
           tens_make(e, &hsc, 0, kDLFloat, 32, 1, ssc) == 0 &&
           tens_make(e, &hw, 0, kDLFloat, 32, 2, sw) == 0 &&
           tens_make(e, &hks, 0, kDLInt, 32, 1, sr) == 0 &&
           tens_make(e, &hke, 0, kDLInt, 32, 1, sr) == 0;
  if (ok) {
    dlg_testing_fill(&hq.t, 1, DLG_FILL_NORMAL, 0, 1);
    dlg_testing_fill(&hkv.t, 2, DLG_FILL_NORMAL, 0, 1);
    dlg_testing_fill(&hsc.t, 3, DLG_FILL_UNIFORM, 0.5, 1.5);
    dlg_testing_fill(&hw.t, 4, DLG_FILL_UNIFORM, -1, 1);
    int32_t* ks = hks.mem;
    int32_t* ke = hke.mem;
    if (r->cp) { /* DeepGEMM's generate_cp_test_data, rank cp_size / 3 */
      const int64_t chunk = s / 2, cp_size = s_kv / s, cp_id = cp_size / 3;
      for (int64_t i = 0; i < chunk; ++i) {
        ks[i] = ks[i + chunk] = 0;
        ke[i] = (int32_t)(cp_id * chunk + i);
        ke[i + chunk] = (int32_t)((cp_size * 2 - 1 - cp_id) * chunk + i);
      }
    } else {
      for (int64_t i = 0; i < s; ++i) {
        ks[i] = 0;
        ke[i] = (int32_t)(s_kv - s + i > 0 ? s_kv - s + i : 0);
      }
    }
    for (int64_t i = 0; i < s; ++i) r->pairs += ke[i] - ks[i];
    ok = tens_upload(e, &hq, &c.q) == 0 && tens_upload(e, &hkv, &c.kv) == 0 &&
         tens_upload(e, &hsc, &c.sc) == 0 && tens_upload(e, &hw, &c.w) == 0 &&
         tens_upload(e, &hks, &c.ks) == 0 && tens_upload(e, &hke, &c.ke) == 0 &&
         tens_make(e, &c.lg, 1, kDLFloat, 32, 2, slg) == 0;
  }
  if (!ok) {
    snprintf(r->status, sizeof r->status, "setup failed: %s", dlg_last_error());
    goto done;
  }
  r->bytes = (double)(hq.bytes + hkv.bytes + hsc.bytes + hw.bytes + c.lg.bytes);
  char why[320];
  /* Check: rows spread over S, the CPU reference on one-row views. */
  dlg_testing_poison(e->gpu, &c.lg.t, 0xFF);
  if (mqa_launch(&c, e->stream, why, sizeof why) != 0) {
    snprintf(r->status, sizeof r->status, "%.250s", why);
    goto done;
  }
  e->cu.stream_synchronize(e->stream);
  double sums[3] = {0, 0, 0};
  r->mask_ok = 1;
  float* want = malloc((size_t)s_kv * 4);
  float* got = malloc((size_t)s_kv * 4);
  for (int k = 0; k < CHECK_ROWS && want && got; ++k) {
    const int64_t i = (s - 1) * k / (CHECK_ROWS - 1);
    tens_t vq = hq, vw = hw, vks = hks, vke = hke, out;
    vq.t.shape = vq.shape;
    vq.t.strides = vq.strides;
    vq.shape[0] = 1;
    vq.t.byte_offset = (uint64_t)(i * H * D);
    vw.t.shape = vw.shape;
    vw.t.strides = vw.strides;
    vw.shape[0] = 1;
    vw.t.byte_offset = (uint64_t)(i * H * 4);
    vks.t.shape = vks.shape;
    vks.t.strides = vks.strides;
    vks.shape[0] = 1;
    vks.t.byte_offset = (uint64_t)(i * 4);
    vke.t.shape = vke.shape;
    vke.t.strides = vke.strides;
    vke.shape[0] = 1;
    vke.t.byte_offset = (uint64_t)(i * 4);
    const int64_t so[2] = {1, s_kv};
    if (tens_make(e, &out, 0, kDLFloat, 32, 2, so) != 0) break;
    dlg_status_t st = dlg_mqa_logits(e->cpu, &vq.t, &hkv.t, &hsc.t, &vw.t, &vks.t, &vke.t, 1,
                                     &out.t, NULL);
    if (st == DLG_OK) memcpy(want, out.mem, (size_t)s_kv * 4);
    tens_free(e, &out);
    if (st != DLG_OK ||
        dlg_memcpy(e->gpu, got, (char*)c.lg.mem + (size_t)(i * s_kv * 4), (size_t)s_kv * 4) != DLG_OK) {
      snprintf(r->status, sizeof r->status, "check failed: %s", dlg_last_error());
      break;
    }
    compare_row(want, got, s_kv, sums, &r->mask_ok);
  }
  free(want);
  free(got);
  r->diff = finish_diff(sums);
  r->deterministic = c.lg.bytes <= ((size_t)512 << 20) ? rerun_identical(e, mqa_launch, &c, &c.lg, o->reruns) : -1;
  if (bench_time_gpu(&e->timer, mqa_launch, &c, &r->t, why, sizeof why) == 0) {
    r->ran = 1;
    r->tflops = 2.0 * r->pairs * H * D / (r->t.median_us * 1e-6) / 1e12;
    r->gbps = r->bytes / (r->t.median_us * 1e-6) / 1e9;
  } else {
    snprintf(r->status, sizeof r->status, "%.250s", why);
  }
done:
  tens_free(e, &hq);
  tens_free(e, &hkv);
  tens_free(e, &hsc);
  tens_free(e, &hw);
  tens_free(e, &hks);
  tens_free(e, &hke);
  tens_t* dv[] = {&c.q, &c.kv, &c.sc, &c.w, &c.ks, &c.ke, &c.lg};
  for (int i = 0; i < 7; ++i) tens_free(e, dv[i]);
}

/* ---- paged ---- */

typedef struct paged_call {
  mqa_env_t* e;
  tens_t q, kc, w, lens, bt, meta, lg;
  int sms;
} paged_call_t;

static int paged_launch(void* user, CUstream stream, char* why, size_t cap) {
  paged_call_t* c = user;
  dlg_status_t st = dlg_paged_mqa_logits(c->e->gpu, &c->q.t, &c->kc.t, &c->w.t, &c->lens.t,
                                         &c->bt.t, &c->meta.t, 1, &c->lg.t, stream);
  if (st == DLG_OK) return 0;
  snprintf(why, cap, "dlg_paged_mqa_logits: %s: %s", dlg_status_name(st), dlg_last_error());
  return -1;
}

static int meta_launch(void* user, CUstream stream, char* why, size_t cap) {
  paged_call_t* c = user;
  dlg_status_t st = dlg_paged_mqa_logits_metadata(c->e->gpu, &c->lens.t, BLOCK_KV, c->sms,
                                                  &c->meta.t, stream);
  if (st == DLG_OK) return 0;
  snprintf(why, cap, "dlg_paged_mqa_logits_metadata: %s: %s", dlg_status_name(st),
           dlg_last_error());
  return -1;
}

static uint64_t lcg(uint64_t* s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* $DLG_BENCH_PAGED_AB_ENV = variants separated by ';', each a ','-separated list of NAME=VALUE
 * settings of the launcher's environment switches (e.g. "DLG_PAGED_MQA_STAGES=15,
 * DLG_PAGED_MQA_BT_WARP=0;DLG_PAGED_MQA_STAGES=18"): after the default kernel, each variant is
 * timed on the same data, checked against the default's output and rerun 3 times. Printed
 * only, with its event and CUPTI kernel times. */
static void paged_ab_env(mqa_env_t* e, paged_call_t* c, const record_t* r, const char* spec) {
  const int64_t n = (int64_t)(c->lg.bytes / 4);
  float* base = malloc(c->lg.bytes);
  float* got = malloc(c->lg.bytes);
  char why[320], buf[512];
  if (!base || !got || dlg_memcpy(e->gpu, base, c->lg.mem, c->lg.bytes) != DLG_OK) goto done;
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *save_v = NULL, *v = strtok_r(buf, ";", &save_v); v; v = strtok_r(NULL, ";", &save_v)) {
    char label[256], names[8][64];
    int count = 0;
    snprintf(label, sizeof label, "%s", v);
    for (char *save_a = NULL, *a = strtok_r(v, ",", &save_a); a && count < 8;
         a = strtok_r(NULL, ",", &save_a)) {
      char* eq = strchr(a, '=');
      if (!eq) continue;
      *eq = 0;
      snprintf(names[count++], sizeof names[0], "%s", a);
      setenv(a, eq + 1, 1);
    }
    double sums[3] = {0, 0, 0};
    int mask_ok = 1;
    dlg_testing_poison(e->gpu, &c->lg.t, 0xFF);
    bench_stats_t t;
    if (paged_launch(c, e->stream, why, sizeof why) != 0 ||
        e->cu.stream_synchronize(e->stream) != CUDA_SUCCESS ||
        dlg_memcpy(e->gpu, got, c->lg.mem, c->lg.bytes) != DLG_OK ||
        bench_time_gpu(&e->timer, paged_launch, c, &t, why, sizeof why) != 0) {
      printf("  A/B %s: failed: %s\n", label, why);
    } else {
      compare_row(base, got, n, sums, &mask_ok);
      const int same = rerun_identical(e, paged_launch, c, &c->lg, 3);
      const double kus = t.has_kernel ? t.kernel_median_us : t.median_us;
      printf("  A/B %-48s %9.1f us %9.1f kern us %6.0f kern GB/s  diff %.2e  mask %s  rerun %s\n",
             label, t.median_us, kus, r->bytes / (kus * 1e-6) / 1e9, finish_diff(sums),
             mask_ok ? "ok" : "BAD", same ? "same" : "DIFF");
    }
    fflush(stdout);
    for (int i = 0; i < count; ++i) unsetenv(names[i]);
  }
done:
  free(base);
  free(got);
}

static void run_paged(mqa_env_t* e, const mqa_opts_t* o, int64_t batch, int64_t next_n,
                      int64_t avg, record_t* r) {
  memset(r, 0, sizeof *r);
  r->op = "paged_mqa_logits";
  r->batch = batch;
  r->next_n = next_n;
  r->avg_ctx = avg;
  paged_call_t c;
  memset(&c, 0, sizeof c);
  c.e = e;
  tens_t hq, hw, hlens, hbt, hpool;
  memset(&hpool, 0, sizeof hpool);
  int32_t* lens = malloc((size_t)batch * 4);
  uint64_t seed = 12345 + (uint64_t)batch * 7 + (uint64_t)next_n;
  int64_t total_blocks = 0, max_len = 0;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t lo = avg * 7 / 10, hi = avg * 13 / 10;
    lens[b] = (int32_t)(lo + (int64_t)(lcg(&seed) % (uint64_t)(hi - lo)));
    total_blocks += (lens[b] + BLOCK_KV - 1) / BLOCK_KV;
    if (lens[b] > max_len) max_len = lens[b];
  }
  const int64_t max_blocks = (max_len + BLOCK_KV - 1) / BLOCK_KV;
  r->width = max_len;
  const int64_t pool = total_blocks < POOL_BLOCKS ? total_blocks : POOL_BLOCKS;
  const int64_t block_bytes = BLOCK_KV * (D + 4);
  const int64_t sq[4] = {batch, next_n, H, D}, sw[2] = {batch * next_n, H}, sl[1] = {batch},
                sbt[2] = {batch, max_blocks}, spool[4] = {pool, BLOCK_KV, 1, D + 4},
                skc[4] = {total_blocks, BLOCK_KV, 1, D + 4}, slg[2] = {batch * next_n, max_len};
  int ok = lens && tens_make(e, &hq, 0, kDLFloat8_e4m3fn, 8, 4, sq) == 0 &&
           tens_make(e, &hw, 0, kDLFloat, 32, 2, sw) == 0 &&
           tens_make(e, &hlens, 0, kDLInt, 32, 1, sl) == 0 &&
           tens_make(e, &hbt, 0, kDLInt, 32, 2, sbt) == 0 &&
           tens_make(e, &hpool, 0, kDLUInt, 8, 4, spool) == 0;
  if (ok) {
    dlg_testing_fill(&hq.t, 31, DLG_FILL_NORMAL, 0, 1);
    dlg_testing_fill(&hw.t, 32, DLG_FILL_UNIFORM, -1, 1);
    memcpy(hlens.mem, lens, (size_t)batch * 4);
    /* Pool contents through typed views of its bytes: FP8 values, then scales. */
    DLTensor vals = hpool.t, scales = hpool.t;
    int64_t vs[2] = {pool, BLOCK_KV * D}, vst[2] = {block_bytes, 1};
    int64_t ss[2] = {pool, BLOCK_KV}, sst[2] = {block_bytes / 4, 1};
    vals.ndim = scales.ndim = 2;
    vals.dtype.code = kDLFloat8_e4m3fn;
    vals.shape = vs;
    vals.strides = vst;
    scales.dtype.code = kDLFloat;
    scales.dtype.bits = 32;
    scales.shape = ss;
    scales.strides = sst;
    scales.byte_offset = (uint64_t)(BLOCK_KV * D);
    dlg_testing_fill(&vals, 33, DLG_FILL_NORMAL, 0, 1);
    dlg_testing_fill(&scales, 34, DLG_FILL_UNIFORM, 0.5, 1.5);
    /* Block table: a random permutation of the physical blocks. */
    int32_t* perm = malloc((size_t)total_blocks * 4);
    ok = perm != NULL;
    for (int64_t i = 0; ok && i < total_blocks; ++i) perm[i] = (int32_t)i;
    for (int64_t i = total_blocks - 1; ok && i > 0; --i) {
      int64_t j = (int64_t)(lcg(&seed) % (uint64_t)(i + 1));
      int32_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    int32_t* bt = hbt.mem;
    int64_t used = 0;
    for (int64_t b = 0; ok && b < batch; ++b)
      for (int64_t k = 0; k < max_blocks; ++k)
        bt[b * max_blocks + k] = k < (lens[b] + BLOCK_KV - 1) / BLOCK_KV ? perm[used++] : 0;
    free(perm);
    ok = ok && tens_upload(e, &hq, &c.q) == 0 && tens_upload(e, &hw, &c.w) == 0 &&
         tens_upload(e, &hlens, &c.lens) == 0 && tens_upload(e, &hbt, &c.bt) == 0 &&
         tens_make(e, &c.kc, 1, kDLUInt, 8, 4, skc) == 0 &&
         tens_make(e, &c.lg, 1, kDLFloat, 32, 2, slg) == 0;
    /* Cache = the pool repeated (doubling device copies). */
    if (ok) ok = dlg_memcpy(e->gpu, c.kc.mem, hpool.mem, hpool.bytes) == DLG_OK;
    for (int64_t have = pool; ok && have < total_blocks;) {
      int64_t n = have < total_blocks - have ? have : total_blocks - have;
      ok = dlg_memcpy(e->gpu, (char*)c.kc.mem + have * block_bytes, c.kc.mem,
                      (size_t)(n * block_bytes)) == DLG_OK;
      have += n;
    }
  }
  dlg_device_info_t info;
  if (ok && dlg_context_device_info(e->gpu, &info) == DLG_OK) {
    c.sms = info.num_sms;
    const int64_t sm[2] = {dlg_paged_mqa_logits_metadata_rows(c.sms), 2};
    ok = tens_make(e, &c.meta, 1, kDLInt, 32, 2, sm) == 0;
  } else {
    ok = 0;
  }
  if (!ok) {
    snprintf(r->status, sizeof r->status, "setup failed: %s", dlg_last_error());
    goto done;
  }
  char why[320];
  if (meta_launch(&c, e->stream, why, sizeof why) != 0) {
    snprintf(r->status, sizeof r->status, "%.250s", why);
    goto done;
  }
  {
    bench_stats_t mt;
    if (bench_time_gpu(&e->timer, meta_launch, &c, &mt, why, sizeof why) == 0)
      r->meta_us = mt.median_us;
  }
  r->bytes = (double)total_blocks * (double)block_bytes + (double)(hq.bytes + hw.bytes + hbt.bytes +
                                                                   hlens.bytes + c.lg.bytes);
  r->pairs = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < next_n; ++t) r->pairs += lens[b] - next_n + t + 1;
  dlg_testing_poison(e->gpu, &c.lg.t, 0xFF);
  if (paged_launch(&c, e->stream, why, sizeof why) != 0) {
    snprintf(r->status, sizeof r->status, "%.250s", why);
    goto done;
  }
  e->cu.stream_synchronize(e->stream);
  /* Check sampled batches: the CPU reference on one batch, its block table mapped into the
   * pool (physical block p holds pool block p % pool). */
  double sums[3] = {0, 0, 0};
  r->mask_ok = 1;
  float* want = malloc((size_t)(next_n * max_len) * 4);
  float* got = malloc((size_t)(next_n * max_len) * 4);
  for (int k = 0; k < CHECK_ROWS && want && got; ++k) {
    const int64_t b = (batch - 1) * k / (CHECK_ROWS - 1);
    tens_t vq = hq, vw = hw, vl = hlens, vbt = hbt, out;
    vq.t.shape = vq.shape;
    vq.t.strides = vq.strides;
    vq.shape[0] = 1;
    vq.t.byte_offset = (uint64_t)(b * next_n * H * D);
    vw.t.shape = vw.shape;
    vw.t.strides = vw.strides;
    vw.shape[0] = next_n;
    vw.t.byte_offset = (uint64_t)(b * next_n * H * 4);
    vl.t.shape = vl.shape;
    vl.t.strides = vl.strides;
    vl.shape[0] = 1;
    vl.t.byte_offset = (uint64_t)(b * 4);
    int32_t* row_bt = malloc((size_t)max_blocks * 4);
    for (int64_t j = 0; row_bt && j < max_blocks; ++j)
      row_bt[j] = ((int32_t*)hbt.mem)[b * max_blocks + j] % (int32_t)pool;
    vbt.t.shape = vbt.shape;
    vbt.t.strides = vbt.strides;
    vbt.shape[0] = 1;
    vbt.t.data = row_bt;
    const int64_t so[2] = {next_n, max_len};
    if (!row_bt || tens_make(e, &out, 0, kDLFloat, 32, 2, so) != 0) {
      free(row_bt);
      break;
    }
    dlg_status_t st = dlg_paged_mqa_logits(e->cpu, &vq.t, &hpool.t, &vw.t, &vl.t, &vbt.t, NULL,
                                           1, &out.t, NULL);
    if (st == DLG_OK) memcpy(want, out.mem, out.bytes);
    tens_free(e, &out);
    free(row_bt);
    if (st != DLG_OK ||
        dlg_memcpy(e->gpu, got, (char*)c.lg.mem + (size_t)(b * next_n * max_len * 4),
                   (size_t)(next_n * max_len * 4)) != DLG_OK) {
      snprintf(r->status, sizeof r->status, "check failed: %s", dlg_last_error());
      break;
    }
    compare_row(want, got, next_n * max_len, sums, &r->mask_ok);
  }
  free(want);
  free(got);
  r->diff = finish_diff(sums);
  r->deterministic = c.lg.bytes <= ((size_t)512 << 20) ? rerun_identical(e, paged_launch, &c, &c.lg, o->reruns) : -1;
  if (bench_time_gpu(&e->timer, paged_launch, &c, &r->t, why, sizeof why) == 0) {
    r->ran = 1;
    r->tflops = 2.0 * r->pairs * H * D / (r->t.median_us * 1e-6) / 1e12;
    r->gbps = r->bytes / (r->t.median_us * 1e-6) / 1e9;
    if (r->t.has_kernel) r->kernel_gbps = r->bytes / (r->t.kernel_median_us * 1e-6) / 1e9;
    /* $DLG_BENCH_PAGED_AB = digits, e.g. "01": the paged kernel's other epilogues
     * (DLG_PAGED_MQA_EPILOGUE=d), run as DLG_BENCH_PAGED_AB_ENV variants. */
    const char* ab = getenv("DLG_BENCH_PAGED_AB");
    if (ab) {
      char spec[256] = "";
      for (const char* v = ab; *v && strlen(spec) + 28 < sizeof spec; ++v)
        if (*v >= '0' && *v <= '9')
          snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%sDLG_PAGED_MQA_EPILOGUE=%c",
                   spec[0] ? ";" : "", *v);
      paged_ab_env(e, &c, r, spec);
    }
    const char* ab_env = getenv("DLG_BENCH_PAGED_AB_ENV");
    if (ab_env) paged_ab_env(e, &c, r, ab_env);
  } else {
    snprintf(r->status, sizeof r->status, "%.250s", why);
  }
done:
  free(lens);
  tens_free(e, &hq);
  tens_free(e, &hw);
  tens_free(e, &hlens);
  tens_free(e, &hbt);
  tens_free(e, &hpool);
  tens_t* dv[] = {&c.q, &c.kc, &c.w, &c.lens, &c.bt, &c.meta, &c.lg};
  for (int i = 0; i < 7; ++i) tens_free(e, dv[i]);
}

/* ---- HBM references: cuMemsetD8 of 2 GiB (write only) and a 1 GiB device-to-device copy
 * (read + write, what shared/anchors-h100.md calls the copy bandwidth) ---- */

typedef struct fill_call {
  bench_cuda_t* cu;
  bench_dev_buf_t buf;
  bench_dev_buf_t src; /* copy: source of the same size as buf */
} fill_call_t;

static int copy_launch(void* user, CUstream stream, char* why, size_t cap) {
  fill_call_t* f = user;
  CUresult r = f->cu->memcpy_dtod_async(f->buf.ptr, f->src.ptr, f->buf.bytes, stream);
  if (r == CUDA_SUCCESS) return 0;
  snprintf(why, cap, "cuMemcpyDtoDAsync: %s", bench_cu_error(f->cu, r));
  return -1;
}

static int fill_launch(void* user, CUstream stream, char* why, size_t cap) {
  fill_call_t* f = user;
  CUresult r = f->cu->memset_d8_async(f->buf.ptr, 0x3C, f->buf.bytes, stream);
  if (r == CUDA_SUCCESS) return 0;
  snprintf(why, cap, "cuMemsetD8Async: %s", bench_cu_error(f->cu, r));
  return -1;
}

/* ---- driver ---- */

int bench_mqa_is_op(const char* op) {
  return !strcmp(op, "mqa") || !strcmp(op, "paged_mqa") || !strcmp(op, "attention");
}

static int parse_opts(int argc, char** argv, mqa_opts_t* o) {
  memset(o, 0, sizeof *o);
  o->iters = 30;
  o->warmup = 3;
  o->reruns = 20;
  o->flush_mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--op") && v) {
      if (!strcmp(v, "mqa")) o->do_mqa = 1;
      else if (!strcmp(v, "paged_mqa")) o->do_paged = 1;
      else if (!strcmp(v, "attention")) o->do_mqa = o->do_paged = 1;
      else return fprintf(stderr, "dlgemm_bench: --op takes gemm, mqa, paged_mqa or attention\n"), -1;
      ++i;
    } else if (!strcmp(a, "--iters") && v) {
      o->iters = atoi(v), ++i;
    } else if (!strcmp(a, "--warmup") && v) {
      o->warmup = atoi(v), ++i;
    } else if (!strcmp(a, "--reruns") && v) {
      o->reruns = atoi(v), ++i;
    } else if (!strcmp(a, "--flush-mib") && v) {
      o->flush_mib = atof(v), ++i;
    } else if (!strcmp(a, "--json") && v) {
      o->json = v, ++i;
    } else if (!strcmp(a, "--quick")) {
      o->quick = 1;
    } else {
      fprintf(stderr, "dlgemm_bench --op %s: unknown option %s (takes --iters --warmup --reruns "
                      "--flush-mib --json --quick)\n", "mqa", a);
      return -1;
    }
  }
  if (o->iters < 1) o->iters = 1;
  return 0;
}

/* DeepGEMM's H100 figures for the same configuration (shared/anchors-h100.md), 0 if none. */
static double anchor_us(const record_t* r) {
  if (r->batch) return 0;
  if (r->s == 2048 && r->s_kv == 8192 && r->cp) return 150.5;
  if (r->s == 8192 && r->s_kv == 65536 && !r->cp) return 7781.2;
  return 0;
}

static void write_json(const char* path, const dlg_device_info_t* info, const record_t* recs,
                       int n, double hbm_gbps, double copy_gbps) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "dlgemm_bench: cannot write %s\n", path);
    return;
  }
  bench_json_t j;
  bench_json_init(&j, f);
  bench_json_object_begin(&j, NULL);
  const char* commit = getenv("DLG_COMMIT");
  bench_json_string(&j, "commit", commit && *commit ? commit : "unknown");
  char date[32];
  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  bench_json_string(&j, "date", date);
  bench_json_string(&j, "dlgemm_version", dlg_version_string());
  bench_json_string(&j, "device", info->name);
  bench_json_int(&j, "num_sms", info->num_sms);
  bench_json_number(&j, "memset_write_gbps", hbm_gbps, hbm_gbps > 0);
  bench_json_number(&j, "copy_gbps", copy_gbps, copy_gbps > 0);
  bench_json_string(&j, "kernel_timer", bench_cupti_describe());
  bench_json_array_begin(&j, "records");
  for (int i = 0; i < n; ++i) {
    const record_t* r = &recs[i];
    bench_json_object_begin(&j, NULL);
    bench_json_string(&j, "op", r->op);
    if (r->batch) {
      bench_json_int(&j, "batch", r->batch);
      bench_json_int(&j, "next_n", r->next_n);
      bench_json_int(&j, "avg_context", r->avg_ctx);
      bench_json_int(&j, "max_context_len", r->width);
      bench_json_number(&j, "metadata_us", r->meta_us, r->meta_us > 0);
    } else {
      bench_json_int(&j, "s", r->s);
      bench_json_int(&j, "s_kv", r->s_kv);
      bench_json_bool(&j, "context_parallel", r->cp);
    }
    bench_json_int(&j, "h", H);
    bench_json_int(&j, "d", D);
    bench_json_string(&j, "logits", "float32");
    bench_json_bool(&j, "clean_logits", 1);
    bench_json_int(&j, "valid_pairs", (int64_t)r->pairs);
    bench_json_int(&j, "bytes", (int64_t)r->bytes);
    bench_json_number(&j, "us", r->t.median_us, r->ran);
    bench_json_number(&j, "us_min", r->t.min_us, r->ran);
    bench_json_number(&j, "kernel_us", r->t.kernel_median_us, r->ran && r->t.has_kernel);
    bench_json_number(&j, "kernel_us_min", r->t.kernel_min_us, r->ran && r->t.has_kernel);
    bench_json_number(&j, "tflops", r->tflops, r->ran);
    bench_json_number(&j, "gbps", r->gbps, r->ran);
    bench_json_number(&j, "hbm_fraction_of_memset", hbm_gbps > 0 ? r->gbps / hbm_gbps : 0,
                      r->ran && hbm_gbps > 0 && r->batch);
    /* On CUPTI kernel time, as the anchors: bytes / kernel time / the reference. */
    bench_json_number(&j, "kernel_gbps", r->kernel_gbps, r->ran && r->kernel_gbps > 0);
    bench_json_number(&j, "kernel_fraction_of_memset",
                      hbm_gbps > 0 ? r->kernel_gbps / hbm_gbps : 0,
                      r->ran && hbm_gbps > 0 && r->kernel_gbps > 0 && r->batch);
    bench_json_number(&j, "kernel_fraction_of_copy",
                      copy_gbps > 0 ? r->kernel_gbps / copy_gbps : 0,
                      r->ran && copy_gbps > 0 && r->kernel_gbps > 0 && r->batch);
    const double dg = anchor_us(r);
    bench_json_number(&j, "deepgemm_us", dg, dg > 0);
    bench_json_number(&j, "speed_vs_deepgemm", r->ran && dg > 0 ? dg / r->t.median_us : 0,
                      r->ran && dg > 0);
    bench_json_number(&j, "diff", r->diff, 1);
    bench_json_bool(&j, "mask_equal", r->mask_ok);
    if (r->deterministic >= 0) bench_json_bool(&j, "reruns_identical", r->deterministic);
    else bench_json_null(&j, "reruns_identical");
    bench_json_string(&j, "status", r->status[0] ? r->status : NULL);
    bench_json_object_end(&j);
  }
  bench_json_array_end(&j);
  bench_json_object_end(&j);
  fputc('\n', f);
  fclose(f);
  printf("results: %s\n", path);
}

int bench_mqa_main(int argc, char** argv) {
  mqa_opts_t o;
  if (parse_opts(argc, argv, &o) != 0) return 64;
  mqa_env_t e;
  memset(&e, 0, sizeof e);
  char why[512];
  if (bench_cuda_open(&e.cu, 0, why, sizeof why) != 0) {
    fprintf(stderr, "dlgemm_bench: no GPU: %s\n", why);
    return 2;
  }
  if (dlg_context_create(0, &e.gpu) != DLG_OK || dlg_context_create(-1, &e.cpu) != DLG_OK ||
      e.cu.stream_create(&e.stream, CU_STREAM_DEFAULT) != CUDA_SUCCESS) {
    fprintf(stderr, "dlgemm_bench: setup: %s\n", dlg_last_error());
    return 2;
  }
  e.timer.cu = &e.cu;
  e.timer.stream = e.stream;
  e.timer.warmup = o.warmup;
  e.timer.iters = o.iters;
  if (bench_dev_upload(&e.cu, &e.timer.flush, NULL, (size_t)(o.flush_mib * 1048576.0), why,
                       sizeof why) != 0) {
    fprintf(stderr, "dlgemm_bench: flush buffer: %s\n", why);
    return 2;
  }
  dlg_device_info_t info;
  dlg_context_device_info(e.gpu, &info);
  printf("dlgemm %s MQA logits bench on %s (%d SMs), H %d, D %d, f32 logits, clean on, "
         "%d timed calls\n", dlg_version_string(), info.name, info.num_sms, H, D, o.iters);
  printf("CUPTI: %s\n", bench_cupti_describe());
  double hbm = 0, copy = 0;
  {
    fill_call_t fc = {&e.cu, {0, 0}, {0, 0}};
    bench_stats_t ft;
    if (bench_dev_upload(&e.cu, &fc.buf, NULL, (size_t)2 << 30, why, sizeof why) == 0 &&
        bench_time_gpu(&e.timer, fill_launch, &fc, &ft, why, sizeof why) == 0)
      hbm = (double)fc.buf.bytes / (ft.median_us * 1e-6) / 1e9;
    bench_dev_free(&e.cu, &fc.buf);
    if (bench_dev_upload(&e.cu, &fc.buf, NULL, (size_t)1 << 30, why, sizeof why) == 0 &&
        bench_dev_upload(&e.cu, &fc.src, NULL, (size_t)1 << 30, why, sizeof why) == 0 &&
        bench_time_gpu(&e.timer, copy_launch, &fc, &ft, why, sizeof why) == 0)
      copy = 2.0 * (double)fc.buf.bytes / (ft.median_us * 1e-6) / 1e9;
    bench_dev_free(&e.cu, &fc.buf);
    bench_dev_free(&e.cu, &fc.src);
    printf("HBM reference: cuMemsetD8 of 2 GiB at %.0f GB/s, a 1 GiB device copy at %.0f GB/s "
           "(read + written; data sheet 3350)\n", hbm, copy);
  }
  record_t recs[16];
  int n = 0, rc = 0;
  if (o.do_mqa) {
    static const int64_t shapes[][2] = {{2048, 8192}, {2048, 65536}, {8192, 8192}, {8192, 65536}};
    printf("\n%-16s %6s %6s %4s %10s %8s %9s %8s %9s %5s %6s\n", "op", "S", "S_kv", "cp", "us",
           "kern us", "TFLOPS", "GB/s", "diff", "mask", "rerun");
    for (int i = 0; i < 4 && !(o.quick && i == 3); ++i) {
      record_t* r = &recs[n++];
      run_mqa(&e, &o, shapes[i][0], shapes[i][1], r);
      printf("%-16s %6lld %6lld %4s %10.1f %8.1f %9.1f %8.0f %9.2e %5s %6s %s\n", r->op,
             (long long)r->s, (long long)r->s_kv, r->cp ? "yes" : "no", r->t.median_us,
             r->t.has_kernel ? r->t.kernel_median_us : 0.0, r->tflops, r->gbps, r->diff, r->mask_ok ? "ok" : "BAD",
             r->deterministic < 0 ? "-" : r->deterministic ? "same" : "DIFF", r->status);
      fflush(stdout);
      if (!r->ran || r->diff > 1e-3 || !r->mask_ok || r->deterministic == 0) rc = 1;
    }
  }
  if (o.do_paged) {
    static const int64_t shapes[][3] = {{256, 1, 8192},  {256, 2, 8192},  {256, 1, 65536},
                                        {256, 2, 65536}, {4096, 1, 8192}, {4096, 2, 8192}};
    /* %memset / %copy: bytes over the CUPTI kernel time (event time without CUPTI) against
     * the two references above. */
    printf("\n%-16s %6s %6s %6s %10s %8s %9s %8s %8s %6s %9s %5s %6s %8s\n", "op", "B", "next_n",
           "avg", "us", "kern us", "TFLOPS", "GB/s", "%memset", "%copy", "diff", "mask", "rerun",
           "meta us");
    /* $DLG_BENCH_PAGED_SHAPES = digits: only those rows of the table (e.g. "01"). */
    const char* only = getenv("DLG_BENCH_PAGED_SHAPES");
    for (int i = 0; i < 6 && !(o.quick && i >= 3); ++i) {
      if (only && !strchr(only, '0' + i)) continue;
      record_t* r = &recs[n++];
      run_paged(&e, &o, shapes[i][0], shapes[i][1], shapes[i][2], r);
      const double gb = r->kernel_gbps > 0 ? r->kernel_gbps : r->gbps;
      printf("%-16s %6lld %6lld %6lld %10.1f %8.1f %9.1f %8.0f %7.0f%% %5.0f%% %9.2e %5s %6s %8.1f "
             "%s\n",
             r->op, (long long)r->batch, (long long)r->next_n, (long long)r->avg_ctx,
             r->t.median_us, r->t.has_kernel ? r->t.kernel_median_us : 0.0, r->tflops, r->gbps,
             hbm > 0 ? 100.0 * gb / hbm : 0.0, copy > 0 ? 100.0 * gb / copy : 0.0,
             r->diff, r->mask_ok ? "ok" : "BAD",
             r->deterministic < 0 ? "-" : r->deterministic ? "same" : "DIFF", r->meta_us,
             r->status);
      fflush(stdout);
      if (!r->ran || r->diff > 1e-3 || !r->mask_ok || r->deterministic == 0) rc = 1;
    }
  }
  if (o.json) write_json(o.json, &info, recs, n, hbm, copy);
  bench_dev_free(&e.cu, &e.timer.flush);
  e.cu.stream_destroy(e.stream);
  dlg_context_destroy(e.gpu);
  dlg_context_destroy(e.cpu);
  bench_cuda_close(&e.cu);
  return rc;
}
