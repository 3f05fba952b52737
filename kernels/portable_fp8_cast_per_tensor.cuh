// FP8 per-tensor cast in one kernel: amax of |x| over the whole tensor, a grid-wide barrier,
// then out = e4m3(x / (amax / 448)) and sf = amax / 448. The compact path of
// dlg_cast_fp8_per_tensor (x and out contiguous, 16-byte aligned); bit-exact with the CPU
// reference like portable_fp8_cast.cuh, whose numerics (CastVec, CastDiv, cast_scale_for) it
// shares.
// DLG_TEST_INSTANTIATION: portable_fp8_cast_per_tensor<float, 1024>
// DLG_TEST_INSTANTIATION: portable_fp8_cast_per_tensor<dlg_bf16, 1024>
//
// NOTES:
// - Why one kernel: the cast needs the amax of everything before it can write anything, so x
//   is read twice. Split into an amax kernel and a cast kernel, the second read comes from
//   HBM except for what L2 still holds (~40 MB): 43-48 % of the copy bandwidth in useful
//   bytes. Here each CTA (one per SM, launched cooperatively so that all are resident, which
//   the barrier needs) owns a contiguous range of 16-byte vectors; the first `retain` vectors
//   of it go into shared memory during the amax pass (cp.async, marked evict-first in L2 so
//   they do not push out what the second read wants) and are cast from there: ~26 MB of x
//   on an H100 is read once. The rest of the range is streamed for the amax and streamed
//   again for the cast, in reverse chunk order: the chunks read last are still in L2.
// - The barrier: each CTA atomicMax-es its amax into work[0] (non-negative floats order like
//   their bit patterns), then counts itself into work[1] and spins until all have arrived.
//   work is 8 bytes the launcher zeroes on the stream before the launch (cuMemAllocAsync, so
//   concurrent casts on other streams and CUDA graphs each get their own).
// - The last CTA also handles the n % kElems elements past the last whole vector.
#pragma once

#include "common/fp8_cast.cuh"

namespace dlg {

struct Fp8CastPerTensorParams {
  const void* x;
  uint8_t* out;
  float* sf;
  uint32_t* work;       // [0] amax bits, [1] CTAs arrived: zero at launch
  int64_t n;            // elements
  int64_t vec_per_cta;  // 16-byte vectors each CTA owns (the last may own fewer)
  int64_t retain;       // of those, how many stay in shared memory (<= vec_per_cta)
};
static_assert(sizeof(Fp8CastPerTensorParams) == 56, "host mirror expects 56 bytes");

__device__ __forceinline__ uint64_t l2_evict_first_policy() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

__device__ __forceinline__ void cp_async16_evict_first(void* smem, const void* gmem, uint64_t policy) {
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;" ::"r"(
                   static_cast<uint32_t>(__cvta_generic_to_shared(smem))),
               "l"(gmem), "l"(policy)
               : "memory");
}

// A 16-byte load read for the last time: no L1 line, evict-first in L2.
__device__ __forceinline__ uint4 ldg_last_use(const void* p, uint64_t policy) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p), "l"(policy));
  return v;
}

}  // namespace dlg

template <typename InT, int kThreads>
__global__ void __launch_bounds__(kThreads, 1) portable_fp8_cast_per_tensor(const dlg::Fp8CastPerTensorParams p) {
  using namespace dlg;
  using V = CastVec<InT>;
  constexpr int kE = V::kElems;
  constexpr int kUnroll = 4;  // 16-byte loads in flight per thread when streaming
  extern __shared__ uint4 kept[];
  __shared__ float warp_amax[kThreads / 32];
  __shared__ float tensor_amax;

  const int64_t nvec = p.n / kE;
  const int64_t beg = static_cast<int64_t>(blockIdx.x) * p.vec_per_cta;
  const int64_t end = beg + p.vec_per_cta < nvec ? beg + p.vec_per_cta : nvec;
  const int64_t kept_end = beg + p.retain < end ? beg + p.retain : end;
  const int64_t step = static_cast<int64_t>(kThreads) * kUnroll;  // one chunk
  const uint4* x4 = static_cast<const uint4*>(p.x);
  const uint64_t evict_first = l2_evict_first_policy();
  const bool tail_cta = blockIdx.x == gridDim.x - 1;
  const int64_t tail = nvec * kE + threadIdx.x;  // this thread's element past the vectors

  // ---- amax pass: the kept part into shared memory, the rest streamed -------------------
  for (int64_t v = beg + threadIdx.x; v < kept_end; v += kThreads)
    cp_async16_evict_first(&kept[v - beg], x4 + v, evict_first);
  asm volatile("cp.async.commit_group;" ::: "memory");
  float a = 0.0f;
  for (int64_t c = kept_end; c < end; c += step) {
    uint4 w[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c + u * kThreads + threadIdx.x;
      w[u] = v < end ? __ldg(x4 + v) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) a = fmaxf(a, V::amax(w[u]));
  }
  if (tail_cta && tail < p.n) a = fmaxf(a, fabsf(cast_load1<InT>(p.x, tail)));
  asm volatile("cp.async.wait_all;" ::: "memory");
  __syncthreads();
  for (int64_t v = threadIdx.x; v < kept_end - beg; v += kThreads) a = fmaxf(a, V::amax(kept[v]));

  // ---- grid barrier: amax of the tensor ---------------------------------------------------
  a = warp_max(a);
  if (threadIdx.x % 32 == 0) warp_amax[threadIdx.x / 32] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (uint32_t w = 1; w < kThreads / 32; ++w) a = fmaxf(a, warp_amax[w]);
    atomicMax(&p.work[0], __float_as_uint(a));
    __threadfence();
    atomicAdd(&p.work[1], 1u);
    while (*static_cast<volatile uint32_t*>(&p.work[1]) < gridDim.x) __nanosleep(64);
    __threadfence();
    tensor_amax = __uint_as_float(atomicOr(&p.work[0], 0u));
  }
  __syncthreads();
  const float s = cast_scale_for(tensor_amax, 0);
  const CastDiv d = CastDiv::make(s, 0);
  if (blockIdx.x == 0 && threadIdx.x == 0) p.sf[0] = s;

  // ---- cast pass: streamed chunks last-read first, then the kept part ----------------------
  auto store = [&](int64_t v, const uint4& w) {
    uint32_t q[2];
    V::quantise(w, d, q);
    uint8_t* o = p.out + v * kE;
    if constexpr (kE == 8) *reinterpret_cast<uint2*>(o) = make_uint2(q[0], q[1]);
    else *reinterpret_cast<uint32_t*>(o) = q[0];
  };
  if (end > kept_end) {
    for (int64_t c = kept_end + (end - 1 - kept_end) / step * step; c >= kept_end; c -= step) {
      uint4 w[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t v = c + u * kThreads + threadIdx.x;
        w[u] = v < end ? ldg_last_use(x4 + v, evict_first) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t v = c + u * kThreads + threadIdx.x;
        if (v < end) store(v, w[u]);
      }
    }
  }
  for (int64_t v = threadIdx.x; v < kept_end - beg; v += kThreads) store(beg + v, kept[v]);
  if (tail_cta && tail < p.n)
    p.out[tail] = dlg_float_to_e4m3_bits(d(cast_load1<InT>(p.x, tail)));
}
