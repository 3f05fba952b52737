// Host emulation of kernels/portable_generic_gemm.cuh through the real dlg_gemm ->
// dlg_launch_gemm -> dlg_launch_generic_gemm path, without a GPU: "CUDA" tensors hold host
// pointers, and the JIT layer (dlg_jit_get / dlg_jit_launch) is replaced by running the
// kernel's source as C++ with one host thread per CUDA thread (std::barrier for
// __syncthreads). Every recipe, layout, D/C dtype, C aliasing D and packed UE8M0 scales are
// compared bit for bit with the CPU reference. Built and run by scripts/check_kernels.sh.
#include <barrier>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __align__(n) alignas(n)
#define __shared__ static
struct emu_dim3 { unsigned x, y, z; };
static thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 gridDim, blockDim;
static std::barrier<>* g_bar;
static inline void __syncthreads() { g_bar->arrive_and_wait(); }
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
struct float2 { float x, y; };
static inline float2 make_float2(float a, float b) { return {a, b}; }
#include "portable_generic_gemm.cuh"

extern "C" {
#include "internal.h"
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"
}

static int g_arch = 90;
extern "C" dlg_status_t dlg_gpu_enter(dlg_context_t*, const DLTensor*) { return DLG_OK; }
extern "C" dlg_status_t dlg_gpu_arch(dlg_context_t*, int* out) { *out = g_arch; return DLG_OK; }
extern "C" dlg_status_t dlg_gpu_num_sms(dlg_context_t*, int* out) { *out = 132; return DLG_OK; }
extern "C" dlg_status_t dlg_launch_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* s, int w) {
  return dlg_launch_generic_gemm(ctx, p, s, w);
}
extern "C" int dlg_print_configs(void) { return getenv("EMU_PRINT") != nullptr; }
extern "C" void dlg_jit_state_destroy(struct dlg_jit_state*) {}
static int g_launches;
extern "C" dlg_status_t dlg_jit_get(dlg_context_t*, const dlg_kernel_spec_t* spec, dlg_kernel_t* out) {
  memset(out, 0, sizeof *out);
  if (strcmp(spec->name, "portable_generic_gemm") != 0 || !strstr(spec->source, "portable_generic_gemm.cuh"))
    return dlg_fail(DLG_ERR_INTERNAL, "emu: unexpected kernel %s", spec->name);
  out->function = (void*)&portable_generic_gemm;
  return DLG_OK;
}
extern "C" dlg_status_t dlg_jit_launch(dlg_context_t*, const dlg_kernel_t* k, const dlg_launch_config_t* cfg, void** args) {
  ++g_launches;
  const dlg_generic_gemm_params p = *static_cast<const dlg_generic_gemm_params*>(args[0]);
  if (cfg->block[0] != 256 || cfg->block[1] != 1 || cfg->grid[2] != 1 || cfg->smem_bytes) return DLG_ERR_INTERNAL;
  gridDim = {cfg->grid[0], cfg->grid[1], cfg->grid[2]};
  blockDim = {256, 1, 1};
  // 256 threads walk the blocks in order; a barrier between blocks keeps the shared arrays
  // (function statics here) to one block at a time.
  std::barrier<> bar(256);
  g_bar = &bar;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < 256; ++t)
    ts.emplace_back([&, t] {
      for (unsigned by = 0; by < cfg->grid[1]; ++by)
        for (unsigned bx = 0; bx < cfg->grid[0]; ++bx) {
          threadIdx = {t, 0, 0};
          blockIdx = {bx, by, 0};
          portable_generic_gemm(p);
          bar.arrive_and_wait();
        }
    });
  for (auto& th : ts) th.join();
  return DLG_OK;
}
// Not reached in this emulation.
extern "C" dlg_status_t dlg_gpu_alloc(dlg_context_t*, size_t, void**) { return DLG_ERR_UNSUPPORTED; }
extern "C" dlg_status_t dlg_gpu_free(dlg_context_t*, void*) { return DLG_ERR_UNSUPPORTED; }
extern "C" dlg_status_t dlg_gpu_memcpy(dlg_context_t*, void*, const void*, size_t) { return DLG_ERR_UNSUPPORTED; }
extern "C" dlg_status_t dlg_gpu_memset(dlg_context_t*, void*, int, size_t, void*) { return DLG_ERR_UNSUPPORTED; }
extern "C" dlg_status_t dlg_gpu_sync(dlg_context_t*, void*) { return DLG_OK; }

// ---- tensors ----
struct T {
  std::vector<unsigned char> mem;
  DLTensor t;
  int64_t shape[2], strides[2];
};
static void make(T& x, int code, int bits, int64_t r, int64_t c, bool col_major, int64_t col_stride = 0) {
  x.shape[0] = r; x.shape[1] = c;
  if (col_major) { x.strides[0] = 1; x.strides[1] = col_stride ? col_stride : r; }
  else { x.strides[0] = c; x.strides[1] = 1; }
  int64_t span = col_major ? x.strides[1] * c : r * c;
  x.mem.assign((size_t)(span + 1) * bits / 8 + 64, 0);
  memset(&x.t, 0, sizeof x.t);
  x.t.data = x.mem.data();
  x.t.device = {kDLCPU, 0};
  x.t.ndim = 2;
  x.t.dtype = {(uint8_t)code, (uint8_t)bits, 1};
  x.t.shape = x.shape;
  x.t.strides = x.strides;
}
static DLTensor as_cuda(const T& x) { DLTensor t = x.t; t.device = {kDLCUDA, 0}; return t; }

static int g_fail, g_cases;
static void run_case(dlg_recipe_t recipe, int64_t m, int64_t n, int64_t k, bool a_mmajor, bool b_nmajor,
                     bool d_f32, int c_mode /*0 none 1 f32 2 bf16 3 alias*/, bool packed_a, bool packed_b,
                     bool scalars_null, unsigned seed) {
  ++g_cases;
  const bool fp8 = recipe != DLG_RECIPE_BF16;
  const int ab_code = fp8 ? kDLFloat8_e4m3fn : kDLBfloat, ab_bits = fp8 ? 8 : 16;
  T a, b, sfa, sfb, c, d1, d2;
  make(a, ab_code, ab_bits, m, k, a_mmajor);
  make(b, ab_code, ab_bits, n, k, b_nmajor);
  dlg_testing_fill(&a.t, seed, DLG_FILL_UNIFORM, -3, 3);
  dlg_testing_fill(&b.t, seed + 1, DLG_FILL_UNIFORM, -3, 3);
  const int64_t kb = (k + 127) / 128, kw = (kb + 3) / 4;
  const DLTensor *psfa = nullptr, *psfb = nullptr;
  if (recipe == DLG_RECIPE_FP8_1D2D || recipe == DLG_RECIPE_FP8_1D1D) {
    int64_t brows = recipe == DLG_RECIPE_FP8_1D2D ? (n + 127) / 128 : n;
    if (packed_a) { make(sfa, kDLInt, 32, m, kw, false); }
    else make(sfa, kDLFloat, 32, m, kb, true, (m + 3) / 4 * 4);
    if (packed_b) make(sfb, kDLInt, 32, brows, kw, false);
    else make(sfb, kDLFloat, 32, brows, kb, false);
    for (T* s : {&sfa, &sfb}) {
      if (s->t.dtype.code == kDLInt) {
        srand(seed);
        uint32_t* w = (uint32_t*)s->mem.data();
        for (int64_t i = 0; i < s->shape[0] * s->shape[1]; ++i) {
          uint32_t v = 0;
          for (int j = 0; j < 4; ++j) v |= (uint32_t)(118 + rand() % 18) << (8 * j);
          w[i] = v;
        }
      } else dlg_testing_fill(&s->t, seed + 2, DLG_FILL_UNIFORM, 0.01, 2.0);
    }
    psfa = &sfa.t; psfb = &sfb.t;
  } else if (recipe == DLG_RECIPE_FP8_PER_TENSOR && !scalars_null) {
    make(sfa, kDLFloat, 32, 1, 1, false);
    make(sfb, kDLFloat, 32, 1, 1, false);
    ((float*)sfa.mem.data())[0] = 0.37f;
    ((float*)sfb.mem.data())[0] = 1.9f;
    psfa = &sfa.t; psfb = &sfb.t;
  }
  make(d1, d_f32 ? kDLFloat : kDLBfloat, d_f32 ? 32 : 16, m, n, false);
  make(d2, d_f32 ? kDLFloat : kDLBfloat, d_f32 ? 32 : 16, m, n, false);
  const DLTensor* pc = nullptr;
  if (c_mode == 1 || c_mode == 2) {
    make(c, c_mode == 1 ? kDLFloat : kDLBfloat, c_mode == 1 ? 32 : 16, m, n, false);
    dlg_testing_fill(&c.t, seed + 3, DLG_FILL_UNIFORM, -50, 50);
    pc = &c.t;
  }
  if (c_mode == 3) {
    dlg_testing_fill(&d1.t, seed + 4, DLG_FILL_UNIFORM, -50, 50);
    d2.mem = d1.mem; d2.t.data = d2.mem.data();
  } else {
    memset(d2.mem.data(), 0xA5, d2.mem.size());
  }
  dlg_context_t* ctx = nullptr;
  dlg_context_create(0, &ctx);
  dlg_status_t s1 = dlg_gemm(ctx, recipe, &a.t, psfa, &b.t, psfb, c_mode == 3 ? &d1.t : pc, &d1.t, nullptr);
  DLTensor ga = as_cuda(a), gb = as_cuda(b), gsfa = as_cuda(sfa), gsfb = as_cuda(sfb), gc = as_cuda(c), gd = as_cuda(d2);
  const DLTensor* gpc = c_mode == 3 ? &gd : (pc ? &gc : nullptr);
  dlg_status_t s2 = dlg_gemm(ctx, recipe, &ga, psfa ? &gsfa : nullptr, &gb, psfb ? &gsfb : nullptr, gpc, &gd, nullptr);
  int64_t mismatch = -1;
  if (s1 == DLG_OK && s2 == DLG_OK) dlg_testing_count_mismatch(&d1.t, &d2.t, &mismatch);
  if (s1 || s2 || mismatch != 0) {
    ++g_fail;
    printf("FAIL %s m=%ld n=%ld k=%ld a_mm=%d b_nm=%d d_f32=%d c=%d pa=%d pb=%d null=%d: s1=%d s2=%d (%s) mismatch=%ld\n",
           dlg_recipe_name(recipe), m, n, k, a_mmajor, b_nmajor, d_f32, c_mode, packed_a, packed_b, scalars_null,
           s1, s2, dlg_last_error(), mismatch);
  }
  dlg_context_destroy(ctx);
}

int main() {
  struct { int64_t m, n, k; } shapes[] = {{70, 130, 300}, {64, 64, 128}, {5, 3, 0}, {1, 200, 33}, {129, 65, 257}};
  unsigned seed = 1;
  for (auto sh : shapes)
    for (dlg_recipe_t r : {DLG_RECIPE_FP8_1D2D, DLG_RECIPE_FP8_1D1D, DLG_RECIPE_FP8_PER_TENSOR, DLG_RECIPE_BF16})
      for (int lay = 0; lay < 4; ++lay)
        for (int c_mode = 0; c_mode < 4; ++c_mode) {
          bool d_f32 = (c_mode + lay) % 2;
          bool packed = (r == DLG_RECIPE_FP8_1D1D || r == DLG_RECIPE_FP8_1D2D) && (lay == 1 || lay == 2);
          run_case(r, sh.m, sh.n, sh.k, lay & 1, lay & 2, d_f32, c_mode, packed && lay == 1, packed, c_mode == 2 && r == DLG_RECIPE_FP8_PER_TENSOR, seed++);
        }
  printf("(%d launches)\nportable_gemm_emu: %d passed, %d failed\n", g_launches, g_cases - g_fail, g_fail);
  return g_fail != 0;
}
