/* Launchers of the portable quantisation kernels: kernels/portable_fp8_cast.cuh (per-token,
 * per-block and per-tensor FP8 casts), kernels/portable_fp8_cast_per_tensor.cuh (the fused
 * per-tensor cast) and kernels/portable_sf_transform.cuh (transform_sf, pack_ue8m0). Any
 * arch; the tensors were validated by core/ops/quant.c. Every launch is asynchronous on
 * `stream`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "jit/dl.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "validate.h"

#define CAST_THREADS 256

/* Byte-for-byte twin of dlg::Fp8CastParams. */
typedef struct fp8_cast_params {
  const void* x;
  void* out;
  float* sf;
  int64_t m, k;
  int64_t xs0, xs1, os0, os1;
  int64_t ss0, ss1;
  int32_t use_ue8m0, vec, ndim, pad_;
  int64_t shape[8], x_strides[8], out_strides[8];
} fp8_cast_params_t;
_Static_assert(sizeof(fp8_cast_params_t) == 296, "must match dlg::Fp8CastParams");

/* Byte-for-byte twin of dlg::SfTransformParams. */
typedef struct sf_transform_params {
  const float* in;
  void* out;
  int64_t total, mn, cols, kb;
  int32_t ndim, pad_;
  int64_t batch;
  int64_t shape[8], in_strides[8], out_strides[8];
} sf_transform_params_t;
_Static_assert(sizeof(sf_transform_params_t) == 256, "must match dlg::SfTransformParams");

/* Byte-for-byte twin of dlg::Fp8CastPerTensorParams. */
typedef struct fp8_cast_per_tensor_params {
  const void* x;
  void* out;
  float* sf;
  uint32_t* work;
  int64_t n, retain;
} fp8_cast_per_tensor_params_t;
_Static_assert(sizeof(fp8_cast_per_tensor_params_t) == 48, "must match dlg::Fp8CastPerTensorParams");

static int aligned(const void* p, size_t bytes) { return ((uintptr_t)p) % bytes == 0; }

/* Compiles (or fetches) `name` from `file` (its kernel takes one `const <params_type>`) for
 * the context's arch and launches it: a grid of `blocks` x grid_yz[0] x grid_yz[1] CTAs of
 * `threads`, `smem` bytes of dynamic shared memory (the kernel is set up for `smem_max`),
 * cooperatively if asked. */
static dlg_status_t launch_ex(dlg_context_t* ctx, const char* file, const char* params_type,
                              const char* name, int64_t blocks, const unsigned grid_yz[2],
                              unsigned threads, size_t smem, size_t smem_max, int cooperative,
                              void* params, void* stream) {
  int arch = 0;
  DLG_TRY(dlg_gpu_arch(ctx, &arch));
  char source[256];
  snprintf(source, sizeof source, "#include \"%s\"\ntemplate __global__ void %s(const %s);\n",
           file, name, params_type);
  dlg_kernel_spec_t spec = {source, name, arch, smem_max};
  dlg_kernel_t kernel;
  DLG_TRY(dlg_jit_get(ctx, &spec, &kernel));
  if (blocks > 0x7fffffff) return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: tensor too large", name);
  /* these kernels do not wait on griddepcontrol: keep stream order */
  dlg_launch_config_t lc = dlg_launch_config_1d((unsigned)(blocks > 0 ? blocks : 1), threads, 0,
                                                smem, 0, stream);
  lc.cooperative = cooperative;
  lc.grid[1] = grid_yz[0];
  lc.grid[2] = grid_yz[1];
  if (dlg_print_configs())
    fprintf(stderr, "dlgemm: %s sm_%d: grid %u x %u x %u x %u, %zu B dynamic smem%s, %d regs\n",
            name, arch, lc.grid[0], lc.grid[1], lc.grid[2], threads, smem,
            cooperative ? ", cooperative" : "", kernel.num_regs);
  void* args[] = {params};
  dlg_status_t s = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (s != DLG_OK) dlg_error_prefix(name);
  return s;
}

static const unsigned k_grid_1d[2] = {1, 1};

static dlg_status_t launch1(dlg_context_t* ctx, const char* name, int64_t blocks, void* params,
                            void* stream) {
  return launch_ex(ctx, "portable_fp8_cast.cuh", "dlg::Fp8CastParams", name, blocks, k_grid_1d,
                   CAST_THREADS, 0, 0, 0, params, stream);
}

static const char* in_type(const DLTensor* x) {
  return dlg_dtype_is(x, DLG_DT_BF16) ? "dlg_bf16" : "float";
}

dlg_status_t dlg_launch_fp8_cast_tiles(dlg_context_t* ctx, const DLTensor* x, int64_t block_m,
                                       int use_ue8m0, DLTensor* out, DLTensor* sf, void* stream) {
  const int64_t m = x->shape[0], k = x->shape[1];
  if (m == 0 || k == 0) return DLG_OK;
  fp8_cast_params_t p;
  memset(&p, 0, sizeof p);
  p.x = dlg_data(x);
  p.out = dlg_data(out);
  p.sf = (float*)dlg_data(sf);
  p.m = m;
  p.k = k;
  p.xs0 = dlg_stride(x, 0);
  p.xs1 = dlg_stride(x, 1);
  p.os0 = dlg_stride(out, 0);
  p.os1 = dlg_stride(out, 1);
  p.ss0 = dlg_stride(sf, 0);
  p.ss1 = dlg_stride(sf, 1);
  p.use_ue8m0 = use_ue8m0 != 0;
  /* Vector path: a lane moves 16 bytes of x (e = 4 f32 or 8 bf16 columns) and e bytes of
   * out: unit column strides, K % e == 0, starts and row strides aligned to that. */
  const int64_t xb = dlg_dtype_is(x, DLG_DT_BF16) ? 2 : 4, e = 16 / xb;
  p.vec = (p.xs1 == 1 || k == 1) && (p.os1 == 1 || k == 1) && k % e == 0 && aligned(p.x, 16) &&
          aligned(p.out, (size_t)e) && (m == 1 || ((p.xs0 * xb) % 16 == 0 && p.os0 % e == 0));
  char name[96];
  snprintf(name, sizeof name, "portable_fp8_cast<%s, %d>", in_type(x), block_m == 1 ? 0 : 1);
  int64_t blocks;
  if (block_m == 1) {
    const int64_t warps = m * dlg_ceil_div64(k, 4 * 32 * e); /* 4 vectors per lane */
    blocks = dlg_ceil_div64(warps * 32, CAST_THREADS);
  } else {
    blocks = dlg_ceil_div64(m, 128) * dlg_ceil_div64(k, 128);
  }
  return launch1(ctx, name, blocks, &p, stream);
}

static int is_compact(const DLTensor* t) {
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; --d) {
    if (t->shape[d] != 1 && dlg_stride(t, d) != expect) return 0;
    expect *= t->shape[d];
  }
  return 1;
}

#define FUSED_THREADS 1024 /* 32 warps: 1-3 % faster than 16 on the H100 */
#define FUSED_MIN_ELEMS 65536 /* below: three kernels (the fused one measured faster from 64 x 7168 up) */

/* The fused per-tensor kernel: one CTA per SM (cooperative: its grid-wide barrier needs all
 * of them resident), each keeping an equal share of x in shared memory, up to the opt-in size.
 * Its 16 bytes of counters (amax, barrier, two chunk tickets) come from the stream-ordered
 * allocator (zeroed on the stream, freed after the kernel), so concurrent calls and graph
 * replays never share them. Sets *used = 0 (no kernel of the cast launched) where the driver
 * lacks that allocator or refuses the cooperative launch. */
static dlg_status_t per_tensor_fused(dlg_context_t* ctx, const DLTensor* x, void* out, float* sf,
                                     int64_t n, int64_t e, void* stream, int* used) {
  *used = 0;
  const dlg_cuda_api_t* api = NULL;
  DLG_TRY(dlg_cuda_open(&api)); /* the op entered the context already (dlg_gpu_enter) */
  if (!api->mem_alloc_async || !api->mem_free_async) return DLG_OK;
  dlg_device_info_t info;
  DLG_TRY(dlg_context_device_info(ctx, &info));
  int sms = 0;
  DLG_TRY(dlg_gpu_num_sms(ctx, &sms));
  const size_t smem_max = (info.max_smem_per_block > 2048 ? info.max_smem_per_block : 49152) - 1024;
  fp8_cast_per_tensor_params_t p;
  memset(&p, 0, sizeof p);
  p.x = dlg_data(x);
  p.out = out;
  p.sf = sf;
  p.n = n;
  /* each CTA keeps an equal share of x, up to its shared memory; the rest is streamed */
  const int64_t share = dlg_ceil_div64(n / e, sms);
  p.retain = share < (int64_t)(smem_max / 16) ? share : (int64_t)(smem_max / 16);
  CUdeviceptr work = 0;
  CUresult r = api->mem_alloc_async(&work, 16, (CUstream)stream);
  if (r == CUDA_ERROR_NOT_SUPPORTED) return DLG_OK;
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "cuMemAllocAsync(16 bytes) for the per-tensor cast");
  *used = 1;
  p.work = (uint32_t*)(uintptr_t)work;
  r = api->memset_d32_async(work, 0, 4, (CUstream)stream);
  dlg_status_t s = r == CUDA_SUCCESS ? DLG_OK : dlg_cu_fail(r, "cuMemsetD32Async(16 bytes)");
  if (s == DLG_OK) {
    char name[96];
    snprintf(name, sizeof name, "portable_fp8_cast_per_tensor<%s, %d>", in_type(x), FUSED_THREADS);
    s = launch_ex(ctx, "portable_fp8_cast_per_tensor.cuh", "dlg::Fp8CastPerTensorParams", name, sms,
                  k_grid_1d, FUSED_THREADS, (size_t)p.retain * 16, smem_max, 1, &p, stream);
    /* A cooperative grid of one CTA per SM may not fit where SMs are held back (MPS limits,
     * green contexts): the caller takes the three-kernel path instead, which also reports
     * any error that is not this one. */
    if (s != DLG_OK) {
      if (dlg_print_configs())
        fprintf(stderr, "dlgemm: fused per-tensor cast not launched (%s): three kernels\n",
                dlg_last_error());
      *used = 0;
      s = DLG_OK;
    }
  }
  r = api->mem_free_async(work, (CUstream)stream);
  if (s == DLG_OK && r != CUDA_SUCCESS) s = dlg_cu_fail(r, "cuMemFreeAsync");
  return s;
}

/* $DLG_CAST_FUSED=0 keeps the per-tensor cast on its three-kernel path (A/B runs). */
static int fused_enabled(void) {
  const char* v = getenv("DLG_CAST_FUSED");
  return !(v && v[0] == '0');
}

dlg_status_t dlg_launch_fp8_cast_per_tensor(dlg_context_t* ctx, const DLTensor* x, DLTensor* out,
                                            DLTensor* sf, void* stream) {
  const int64_t n = dlg_tensor_numel(x);
  fp8_cast_params_t p;
  memset(&p, 0, sizeof p);
  p.x = dlg_data(x);
  p.out = dlg_data(out);
  p.sf = (float*)dlg_data(sf);
  p.m = n;
  const int64_t xb = dlg_dtype_is(x, DLG_DT_BF16) ? 2 : 4, e = 16 / xb;
  p.vec = is_compact(x) && is_compact(out) && aligned(p.x, 16) && aligned(p.out, (size_t)e);
  p.ndim = x->ndim;
  for (int d = 0; d < x->ndim; ++d) {
    p.shape[d] = x->shape[d];
    p.x_strides[d] = dlg_stride(x, d);
    p.out_strides[d] = dlg_stride(out, d);
  }
  if (!aligned(p.sf, 4))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sf: the GPU cast needs a 4-byte aligned scale");
  if (p.vec && n >= FUSED_MIN_ELEMS && fused_enabled()) {
    int used = 0;
    DLG_TRY(per_tensor_fused(ctx, x, p.out, p.sf, n, e, stream, &used));
    if (used) return DLG_OK;
  }
  int sms = 0;
  DLG_TRY(dlg_gpu_num_sms(ctx, &sms));
  /* sf holds the running amax (as bits) until the last kernel turns it into the scale. */
  DLG_TRY(dlg_gpu_memset(ctx, p.sf, 0, 4, stream));
  char name[96];
  if (n > 0) {
    int64_t blocks = dlg_ceil_div64(dlg_ceil_div64(n, p.vec ? e : 1), CAST_THREADS);
    if (blocks > (int64_t)sms * 8) blocks = (int64_t)sms * 8;
    snprintf(name, sizeof name, "portable_fp8_cast<%s, 2>", in_type(x));
    DLG_TRY(launch1(ctx, name, blocks, &p, stream));
    snprintf(name, sizeof name, "portable_fp8_cast<%s, 3>", in_type(x));
    DLG_TRY(launch1(ctx, name, blocks, &p, stream));
  }
  snprintf(name, sizeof name, "portable_fp8_cast<%s, 4>", in_type(x));
  return launch1(ctx, name, 1, &p, stream);
}

static unsigned grid_dim(int64_t n) { return (unsigned)(n < 1 ? 1 : n > 65535 ? 65535 : n); }

/* Shared by transform_sf (op 0, out has the input's shape; op 2 when K-major in and
 * MN-major out: the shared-memory transpose) and pack_ue8m0 (op 1). */
static dlg_status_t sf_layout(dlg_context_t* ctx, int op, const DLTensor* in, DLTensor* out,
                              void* stream) {
  const int nd = in->ndim;
  sf_transform_params_t p;
  memset(&p, 0, sizeof p);
  p.total = dlg_tensor_numel(out);
  if (p.total == 0) return DLG_OK;
  p.in = (const float*)dlg_data(in);
  p.out = dlg_data(out);
  p.mn = out->shape[nd - 2];
  p.cols = out->shape[nd - 1];
  p.kb = in->shape[nd - 1];
  p.ndim = nd;
  p.batch = 1;
  for (int d = 0; d < nd; ++d) {
    p.shape[d] = out->shape[d];
    p.in_strides[d] = dlg_stride(in, d);
    p.out_strides[d] = dlg_stride(out, d);
    if (d < nd - 2) p.batch *= out->shape[d];
  }
  if (op == 0 && p.in_strides[nd - 1] == 1 && p.out_strides[nd - 2] == 1 && p.cols > 1) op = 2;
  /* kernels/portable_sf_transform.cuh: op 2 CTAs take 128 x 32 tiles, ops 0 / 1 256 x 4 */
  const int64_t rows_per_cta = op == 2 ? 128 : CAST_THREADS;
  const unsigned yz[2] = {grid_dim(dlg_ceil_div64(p.cols, op == 2 ? 32 : 4)), grid_dim(p.batch)};
  char name[64];
  snprintf(name, sizeof name, "portable_sf_transform<%d>", op);
  return launch_ex(ctx, "portable_sf_transform.cuh", "dlg::SfTransformParams", name,
                   dlg_ceil_div64(p.mn, rows_per_cta), yz, CAST_THREADS, 0, 0, 0, &p, stream);
}

dlg_status_t dlg_launch_transform_sf(dlg_context_t* ctx, const DLTensor* sf_in, DLTensor* sf_out,
                                     void* stream) {
  return sf_layout(ctx, 0, sf_in, sf_out, stream);
}

dlg_status_t dlg_launch_pack_ue8m0(dlg_context_t* ctx, const DLTensor* sf, DLTensor* packed,
                                   void* stream) {
  return sf_layout(ctx, 1, sf, packed, stream);
}
