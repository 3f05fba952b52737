/* dlgemm — command-line front end over the public C ABI only.
 *   dlgemm info      what this machine offers: library, NVRTC, driver, devices, cache dir
 *   dlgemm demo      one FP8 1D2D GEMM checked against the CPU reference (GPU if present)
 *   dlgemm warmup    compile / load the GEMM kernels for given shapes ahead of time */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <dlgemm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEMO_DIFF_LIMIT 1e-3 /* DeepGEMM's calc_diff bound for FP8 GEMMs */

static void usage(FILE* f) {
  fprintf(f,
          "usage: dlgemm <command> [options]\n"
          "  info                         library, NVRTC, CUDA driver, devices, cache directory\n"
          "  demo [--cpu] [--device D] [--m M] [--n N] [--k K] [--seed S]\n"
          "                               one FP8 1D2D GEMM (D bf16) checked against the CPU\n"
          "                               reference; on the CPU without a GPU or with --cpu\n"
          "  warmup --recipe R --shapes MxNxK[,MxNxK...] [--device D] [--d bf16|f32]\n"
          "                               compile/load kernels ahead of time (R: fp8_1d2d,\n"
          "                               fp8_1d1d, fp8_per_tensor, bf16)\n"
          "environment: DLG_PRINT_CONFIGS=1 prints each launch's kernel configuration,\n"
          "  DLG_JIT_DEBUG=1 the compilations and cache hits, DLG_JIT_CACHE_DIR moves the cache.\n");
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_i64(const char* s, long long lo, long long hi, long long* out) {
  char* end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!s[0] || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static int fail(const char* what, dlg_status_t st) {
  fprintf(stderr, "dlgemm: %s: %s (%s)\n", what, dlg_last_error(), dlg_status_name(st));
  return 1;
}

/* ---- info ---- */

static int cmd_info(void) {
  printf("dlgemm %s\n", dlg_version_string());
  dlg_runtime_info_t ri;
  dlg_runtime_info(&ri);
  if (ri.nvrtc_found) printf("NVRTC: %d.%d (%s)\n", ri.nvrtc_major, ri.nvrtc_minor, ri.nvrtc_path);
  else printf("NVRTC: not found\n");
  if (ri.driver_found)
    printf("CUDA driver: %d.%d (%s), %d device%s\n", ri.driver_version / 1000,
           ri.driver_version % 1000 / 10, ri.driver_path, ri.device_count,
           ri.device_count == 1 ? "" : "s");
  else printf("CUDA driver: not available\n");
  for (int i = 0; i < ri.device_count; ++i) {
    dlg_context_t* ctx = NULL;
    dlg_device_info_t di;
    dlg_status_t st = dlg_context_create(i, &ctx);
    if (st == DLG_OK) st = dlg_context_device_info(ctx, &di);
    if (st == DLG_OK)
      printf("  cuda:%d  %s  sm_%d%d  %d SMs  %.1f GiB  L2 %.0f MiB  smem/block %zu KiB\n", i,
             di.name, di.sm_major, di.sm_minor, di.num_sms,
             (double)di.total_memory / (1024.0 * 1024 * 1024), (double)di.l2_bytes / (1024.0 * 1024),
             di.max_smem_per_block / 1024);
    else printf("  cuda:%d  %s\n", i, dlg_last_error());
    dlg_context_destroy(ctx);
  }
  if (ri.why[0]) printf("why: %s\n", ri.why);
  dlg_context_t* cpu = NULL;
  char dir[1024] = "";
  if (dlg_context_create(-1, &cpu) == DLG_OK && dlg_context_get_cache_dir(cpu, dir, sizeof dir) == DLG_OK)
    printf("cache dir: %s\n", dir);
  dlg_context_destroy(cpu);
  return 0;
}

/* ---- host tensors ---- */

typedef struct host_tensor {
  DLTensor t;
  int64_t shape[2], strides[2];
  void* data;
  size_t bytes;
} host_tensor_t;

/* A 2-D CPU tensor; col_stride_elems > 0 gives the MN-major layout stride(0) = 1,
 * stride(1) = col_stride_elems (storage for the whole span). */
static int host_new(host_tensor_t* h, int code, int bits, int64_t rows, int64_t cols,
                    int64_t col_stride_elems) {
  memset(h, 0, sizeof *h);
  h->shape[0] = rows;
  h->shape[1] = cols;
  if (col_stride_elems > 0) {
    h->strides[0] = 1;
    h->strides[1] = col_stride_elems;
  } else {
    h->strides[0] = cols;
    h->strides[1] = 1;
  }
  int64_t span = col_stride_elems > 0 ? col_stride_elems * cols : rows * cols;
  h->bytes = (size_t)(span > 0 ? span : 1) * (size_t)(bits / 8);
  h->data = calloc(1, h->bytes);
  if (!h->data) return 0;
  h->t.data = h->data;
  h->t.device.device_type = kDLCPU;
  h->t.ndim = 2;
  h->t.dtype.code = (uint8_t)code;
  h->t.dtype.bits = (uint8_t)bits;
  h->t.dtype.lanes = 1;
  h->t.shape = h->shape;
  h->t.strides = h->strides;
  return 1;
}

static void host_free(host_tensor_t* h) { free(h->data); }

/* A device twin of a host tensor (same shape, strides and span). */
typedef struct dev_tensor {
  DLTensor t;
  void* ptr;
} dev_tensor_t;

static dlg_status_t dev_new(dlg_context_t* ctx, const host_tensor_t* h, dev_tensor_t* d) {
  memset(d, 0, sizeof *d);
  dlg_status_t st = dlg_device_alloc(ctx, h->bytes, &d->ptr);
  d->t = h->t;
  d->t.data = d->ptr;
  d->t.device.device_type = kDLCUDA;
  d->t.device.device_id = dlg_context_device(ctx);
  return st;
}

static double e4m3_value(uint8_t v) {
  int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  if (exp == 15 && man == 7) return NAN;
  double mag = exp == 0 ? ldexp(man, -9) : ldexp(8 + man, exp - 10);
  return sign ? -mag : mag;
}

/* ---- demo ---- */

typedef struct demo {
  long long m, n, k, seed, device;
  int cpu;
} demo_t;

static int demo_on_gpu(const demo_t* o, host_tensor_t* a8, host_tensor_t* sfa, host_tensor_t* b8,
                       host_tensor_t* sfb, host_tensor_t* d_ref) {
  dlg_context_t* ctx = NULL;
  dlg_status_t st = dlg_context_create((int)o->device, &ctx);
  if (st != DLG_OK) return fail("context", st);
  dlg_device_info_t di;
  if ((st = dlg_context_device_info(ctx, &di)) != DLG_OK) {
    dlg_context_destroy(ctx);
    return fail("device info", st);
  }
  printf("device: cuda:%lld %s (sm_%d%d, %d SMs)\n", o->device, di.name, di.sm_major,
         di.sm_minor, di.num_sms);
  host_tensor_t d_host;
  if (!host_new(&d_host, kDLBfloat, 16, o->m, o->n, 0)) {
    dlg_context_destroy(ctx);
    return fail("allocation", DLG_ERR_OUT_OF_MEMORY);
  }
  dev_tensor_t ga, gsfa, gb, gsfb, gd;
  memset(&ga, 0, sizeof ga);
  memset(&gsfa, 0, sizeof gsfa);
  memset(&gb, 0, sizeof gb);
  memset(&gsfb, 0, sizeof gsfb);
  memset(&gd, 0, sizeof gd);
  int rc = 1;
  const char* step = "device allocation";
  if ((st = dev_new(ctx, a8, &ga)) || (st = dev_new(ctx, sfa, &gsfa)) || (st = dev_new(ctx, b8, &gb)) ||
      (st = dev_new(ctx, sfb, &gsfb)) || (st = dev_new(ctx, &d_host, &gd)))
    goto out;
  step = "upload";
  /* sfa is MN-major with padded columns: its whole span goes up as bytes (an element-wise
   * dlg_tensor_copy would issue one copy per element of a strided destination). */
  if ((st = dlg_tensor_copy(ctx, &a8->t, &ga.t)) || (st = dlg_tensor_copy(ctx, &b8->t, &gb.t)) ||
      (st = dlg_tensor_copy(ctx, &sfb->t, &gsfb.t)) ||
      (st = dlg_memcpy(ctx, gsfa.ptr, sfa->data, sfa->bytes)) ||
      (st = dlg_testing_poison(ctx, &gd.t, 0xFF)))
    goto out;
  step = "dlg_gemm";
  double t0 = now_ms();
  if ((st = dlg_gemm(ctx, DLG_RECIPE_FP8_1D2D, &ga.t, &gsfa.t, &gb.t, &gsfb.t, NULL, &gd.t, NULL)) ||
      (st = dlg_stream_synchronize(ctx, NULL)))
    goto out;
  double t1 = now_ms();
  if ((st = dlg_gemm(ctx, DLG_RECIPE_FP8_1D2D, &ga.t, &gsfa.t, &gb.t, &gsfb.t, NULL, &gd.t, NULL)) ||
      (st = dlg_stream_synchronize(ctx, NULL)))
    goto out;
  double t2 = now_ms();
  step = "download";
  if ((st = dlg_tensor_copy(ctx, &gd.t, &d_host.t))) goto out;
  step = "calc_diff";
  double diff = 0;
  int64_t mismatch = 0;
  if ((st = dlg_testing_calc_diff(&d_host.t, &d_ref->t, &diff)) ||
      (st = dlg_testing_count_mismatch(&d_host.t, &d_ref->t, &mismatch)))
    goto out;
  double flops = 2.0 * (double)o->m * (double)o->n * (double)o->k;
  printf("gpu gemm: first call %.1f ms (includes JIT), second %.3f ms (%.2f TFLOPS)\n", t1 - t0,
         t2 - t1, flops / ((t2 - t1) * 1e-3) / 1e12);
  int pass = diff < DEMO_DIFF_LIMIT;
  printf("calc_diff vs CPU reference: %.3g (limit %.0e), %lld of %lld bf16 values differ bitwise: %s\n",
         diff, DEMO_DIFF_LIMIT, (long long)mismatch, o->m * o->n, pass ? "PASS" : "FAIL");
  rc = pass ? 0 : 1;
  st = DLG_OK;
out:
  if (st != DLG_OK) rc = fail(step, st);
  dlg_device_free(ctx, ga.ptr);
  dlg_device_free(ctx, gsfa.ptr);
  dlg_device_free(ctx, gb.ptr);
  dlg_device_free(ctx, gsfb.ptr);
  dlg_device_free(ctx, gd.ptr);
  host_free(&d_host);
  dlg_context_destroy(ctx);
  return rc;
}

/* Without a GPU: the reference result against a naive double-precision dequantised product. */
static int demo_on_cpu(const demo_t* o, const host_tensor_t* a8, const host_tensor_t* sfa,
                       const host_tensor_t* b8, const host_tensor_t* sfb,
                       const host_tensor_t* d_ref) {
  host_tensor_t naive;
  if (!host_new(&naive, kDLFloat, 32, o->m, o->n, 0)) return fail("allocation", DLG_ERR_OUT_OF_MEMORY);
  const uint8_t* a = a8->data;
  const uint8_t* b = b8->data;
  const float* sa = sfa->data;
  const float* sb = sfb->data;
  float* out = naive.data;
  const int64_t kb_count = (o->k + 127) / 128;
  for (int64_t i = 0; i < o->m; ++i)
    for (int64_t j = 0; j < o->n; ++j) {
      double acc = 0;
      for (int64_t kk = 0; kk < o->k; ++kk) {
        int64_t kb = kk / 128;
        acc += e4m3_value(a[i * o->k + kk]) * sa[i * sfa->strides[0] + kb * sfa->strides[1]] *
               e4m3_value(b[j * o->k + kk]) * sb[(j / 128) * kb_count + kb];
      }
      out[i * o->n + j] = (float)acc;
    }
  double diff = 0;
  dlg_status_t st = dlg_testing_calc_diff(&naive.t, &d_ref->t, &diff);
  host_free(&naive);
  if (st != DLG_OK) return fail("calc_diff", st);
  int pass = diff < DEMO_DIFF_LIMIT;
  printf("calc_diff of the CPU reference vs a naive dequantised product: %.3g (limit %.0e): %s\n",
         diff, DEMO_DIFF_LIMIT, pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

static int cmd_demo(int argc, char** argv) {
  demo_t o = {128, 256, 512, 1, 0, 0};
  for (int i = 0; i < argc; ++i) {
    long long* slot = NULL;
    long long lo = 1, hi = 1 << 20;
    if (strcmp(argv[i], "--cpu") == 0) {
      o.cpu = 1;
      continue;
    }
    if (strcmp(argv[i], "--m") == 0) slot = &o.m;
    else if (strcmp(argv[i], "--n") == 0) slot = &o.n;
    else if (strcmp(argv[i], "--k") == 0) slot = &o.k;
    else if (strcmp(argv[i], "--seed") == 0) slot = &o.seed, lo = 0, hi = 1ll << 62;
    else if (strcmp(argv[i], "--device") == 0) slot = &o.device, lo = 0, hi = 1024;
    if (!slot || i + 1 >= argc || !parse_i64(argv[i + 1], lo, hi, slot)) {
      fprintf(stderr, "dlgemm demo: bad option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
    ++i;
  }
  int gpu = 0;
  if (!o.cpu) {
    dlg_runtime_info_t ri;
    dlg_runtime_info(&ri);
    gpu = ri.driver_found && ri.device_count > o.device;
    if (!gpu) printf("no usable GPU (%s): running on the CPU\n", ri.why[0] ? ri.why : "device not present");
  }
  printf("demo: FP8 1D2D GEMM m=%lld n=%lld k=%lld, D bf16, %s\n", o.m, o.n, o.k, gpu ? "GPU" : "CPU");

  const int64_t kb = (o.k + 127) / 128, nb = (o.n + 127) / 128;
  host_tensor_t xa, xb, a8, sfa, b8, sfb, d_ref;
  int ok = host_new(&xa, kDLFloat, 32, o.m, o.k, 0) & host_new(&xb, kDLFloat, 32, o.n, o.k, 0) &
           host_new(&a8, kDLFloat8_e4m3fn, 8, o.m, o.k, 0) &
           host_new(&sfa, kDLFloat, 32, o.m, kb, dlg_tma_aligned_size(o.m, 4)) &
           host_new(&b8, kDLFloat8_e4m3fn, 8, o.n, o.k, 0) &
           host_new(&sfb, kDLFloat, 32, nb, kb, 0) & host_new(&d_ref, kDLBfloat, 16, o.m, o.n, 0);
  int rc = 1;
  dlg_context_t* cpu = NULL;
  dlg_status_t st = DLG_ERR_OUT_OF_MEMORY;
  const char* step = "host allocation";
  if (!ok) goto out;
  step = "context";
  if ((st = dlg_context_create(-1, &cpu))) goto out;
  /* Inputs drawn on the CPU and quantised there: per-token A (scales MN-major, TMA-aligned,
   * as the GPU kernels take them), per-block B. */
  step = "fill";
  if ((st = dlg_testing_fill(&xa.t, (uint64_t)o.seed, DLG_FILL_NORMAL, 0.0, 1.0)) ||
      (st = dlg_testing_fill(&xb.t, (uint64_t)o.seed + 1, DLG_FILL_NORMAL, 0.0, 1.0)))
    goto out;
  step = "cast";
  if ((st = dlg_cast_fp8_per_token(cpu, &xa.t, 0, &a8.t, &sfa.t, NULL)) ||
      (st = dlg_cast_fp8_per_block(cpu, &xb.t, 0, &b8.t, &sfb.t, NULL)))
    goto out;
  step = "CPU reference gemm";
  double t0 = now_ms();
  if ((st = dlg_gemm(cpu, DLG_RECIPE_FP8_1D2D, &a8.t, &sfa.t, &b8.t, &sfb.t, NULL, &d_ref.t, NULL)))
    goto out;
  printf("cpu reference: %.1f ms\n", now_ms() - t0);
  st = DLG_OK;
  rc = gpu ? demo_on_gpu(&o, &a8, &sfa, &b8, &sfb, &d_ref) : demo_on_cpu(&o, &a8, &sfa, &b8, &sfb, &d_ref);
out:
  if (st != DLG_OK) rc = fail(step, st);
  dlg_context_destroy(cpu);
  host_free(&xa);
  host_free(&xb);
  host_free(&a8);
  host_free(&sfa);
  host_free(&b8);
  host_free(&sfb);
  host_free(&d_ref);
  return rc;
}

/* ---- warmup ---- */

static int parse_recipe(const char* s, dlg_recipe_t* out) {
  const dlg_recipe_t all[] = {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_1D1D, DLG_RECIPE_FP8_PER_TENSOR,
                              DLG_RECIPE_BF16};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    if (strcmp(s, dlg_recipe_name(all[i])) == 0) {
      *out = all[i];
      return 1;
    }
  return 0;
}

static int cmd_warmup(int argc, char** argv) {
  const char* recipe_s = NULL;
  const char* shapes = NULL;
  const char* d_s = NULL;
  long long device = 0;
  for (int i = 0; i < argc; i += 2) {
    if (i + 1 >= argc) {
      fprintf(stderr, "dlgemm warmup: '%s' needs a value\n", argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--recipe") == 0) recipe_s = argv[i + 1];
    else if (strcmp(argv[i], "--shapes") == 0) shapes = argv[i + 1];
    else if (strcmp(argv[i], "--d") == 0) d_s = argv[i + 1];
    else if (strcmp(argv[i], "--device") == 0 && parse_i64(argv[i + 1], 0, 1024, &device)) continue;
    else {
      fprintf(stderr, "dlgemm warmup: bad option '%s'\n", argv[i]);
      return 2;
    }
  }
  dlg_recipe_t recipe;
  if (!recipe_s || !shapes || !parse_recipe(recipe_s, &recipe)) {
    usage(stderr);
    return 2;
  }
  int d_code = kDLBfloat, d_bits = 16;
  if (recipe == DLG_RECIPE_FP8_1D1D) d_code = kDLFloat, d_bits = 32;
  if (d_s && strcmp(d_s, "f32") == 0) d_code = kDLFloat, d_bits = 32;
  else if (d_s && strcmp(d_s, "bf16") == 0) d_code = kDLBfloat, d_bits = 16;
  else if (d_s) {
    fprintf(stderr, "dlgemm warmup: --d must be bf16 or f32\n");
    return 2;
  }
  dlg_context_t* ctx = NULL;
  dlg_status_t st = dlg_context_create((int)device, &ctx);
  if (st != DLG_OK) return fail("context", st);
  int rc = 0;
  const char* p = shapes;
  while (*p) {
    size_t len = strcspn(p, ",");
    char shape[64];
    long long m, n, k;
    char extra;
    snprintf(shape, sizeof shape, "%.*s", (int)(len < 63 ? len : 63), p);
    if (sscanf(shape, "%lldx%lldx%lld%c", &m, &n, &k, &extra) != 3 || m < 0 || n < 0 || k < 0) {
      fprintf(stderr, "dlgemm warmup: bad shape '%s' (expected MxNxK)\n", shape);
      rc = 2;
      break;
    }
    double t0 = now_ms();
    st = dlg_warmup_gemm(ctx, recipe, m, n, k, d_code, d_bits);
    if (st == DLG_OK) printf("%s %s: ready (%.1f ms)\n", recipe_s, shape, now_ms() - t0);
    else rc = fail(shape, st);
    if (st == DLG_ERR_NO_DRIVER || st == DLG_ERR_NO_NVRTC || st == DLG_ERR_DEVICE) break;
    p += len;
    if (*p == ',') ++p;
  }
  dlg_context_destroy(ctx);
  return rc;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "info") == 0) return cmd_info();
  if (strcmp(argv[1], "demo") == 0) return cmd_demo(argc - 2, argv + 2);
  if (strcmp(argv[1], "warmup") == 0) return cmd_warmup(argc - 2, argv + 2);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "dlgemm: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
