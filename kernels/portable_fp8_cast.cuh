// FP8 casts on the GPU (any arch): bit-exact twins of core/ref/quant_ref.c.
//   kOp 0: per-token  (1 x 128)   x [M, K] -> out e4m3 [M, K], sf f32 [M, ceil(K/128)]
//   kOp 1: per-block  (128 x 128) x [M, K] -> out, sf f32 [ceil(M/128), ceil(K/128)]
//   kOp 2: per-tensor pass 1: amax of |x| -> atomicMax on sf's bits (sf zeroed before)
//   kOp 3: per-tensor pass 2: out = x / scale(amax in sf)
//   kOp 4: per-tensor pass 3: sf = scale(amax) (one thread)
//   InT: float or dlg_bf16. sf may have any strides (e.g. the TMA-aligned MN-major layout).
// DLG_TEST_INSTANTIATION: portable_fp8_cast<float, 0>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<dlg_bf16, 1>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<float, 2>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<dlg_bf16, 3>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<float, 4>
//
// NOTES:
// - Numerics, as the reference: amax = max |x| (fmaxf: NaN ignored), sf = amax / 448 (IEEE
//   division, __fdiv_rn), UE8M0 = the smallest power of two >= sf (integer bit logic that
//   matches frexpf-based dlg_f32_to_ue8m0_ceil, subnormals included), all-zero block -> 1;
//   out = e4m3(x / sf) with an IEEE division (not x * (1/sf): that differs in the last bit)
//   and cvt.rn.satfinite (RNE, saturate to ±448, NaN -> NaN): types.cuh.
// - Vectors: a lane moves 16 B of x per load, kElems = 4 (f32) or 8 (bf16) columns, and
//   writes kElems e4m3 bytes; kLanes = 128 / kElems lanes (32 or 16) share a 128-column block.
// - Per-token: one warp per (row, 4 x 32 x kElems columns): all 4 loads per lane are issued
//   first (64 B in flight per lane), each block's amax is an xor-shuffle reduction over its
//   kLanes lanes, then the lane's kElems e4m3 go out as one 4 or 8-byte store.
// - Per-block: one 256-thread CTA per 128 x 128 block; warp w owns rows 16w .. 16w+15, a load
//   covers 32 / kLanes rows; the block stays in registers as raw 16-byte words (64 f32 or
//   64 bf16 values = 64 or 32 registers) between the amax and the cast.
// - p.vec (runtime): x and out rows unit-stride, K % kElems == 0, starts and row strides
//   aligned to 16 B (x) and kElems B (out). Otherwise every element goes through its strides
//   (same lane -> column mapping).
// - Per-tensor: a grid-stride loop over the flattened tensor (compact fast path, or
//   N-d strides); amax of non-negative floats orders like their bit patterns, so
//   atomicMax(unsigned) on sf is exact. Compact path: the amax pass keeps 4 16-byte loads in
//   flight per thread (one grid-stride step each); the cast pass walks the tensor from its
//   end, where the amax pass finished, so its first ~40 MB still come from L2 (the input is
//   read twice: the pass order decides how much of the second read HBM serves).
#pragma once

#include "common/types.cuh"

namespace dlg {

struct Fp8CastParams {
  const void* x;
  uint8_t* out;
  float* sf;
  int64_t m, k;                 // 2D view (per-token / per-block); per-tensor: numel in m
  int64_t xs0, xs1, os0, os1;   // element strides
  int64_t ss0, ss1;
  int32_t use_ue8m0;
  int32_t vec;                  // see kVec above; per-tensor: 1 = compact x and out
  int32_t ndim;                 // per-tensor N-d path
  int32_t pad_;
  int64_t shape[8], x_strides[8], out_strides[8];
};
static_assert(sizeof(Fp8CastParams) == 296, "host mirror expects 296 bytes");

// Smallest power of two >= x as a UE8M0 byte (dlg_f32_to_ue8m0_ceil of core/ref/numeric.h).
__device__ __forceinline__ uint32_t f32_to_ue8m0_ceil(float x) {
  if (!(x > 0.0f)) return 0x7Fu;             // non-positive, NaN -> 2^0
  const uint32_t u = __float_as_uint(x);
  if (u >= 0x7F800000u) return 0xFEu;        // inf
  const uint32_t exp = u >> 23, man = u & 0x7FFFFFu;
  if (exp == 0) {                            // subnormal: 2^-149 * man
    const bool pow2 = (man & (man - 1)) == 0;
    return (!pow2 && man >= (1u << 22)) ? 1u : 0u;
  }
  const uint32_t biased = exp + (man != 0 ? 1u : 0u);
  return biased > 254u ? 254u : biased;
}

__device__ __forceinline__ float cast_scale_for(float amax, int use_ue8m0) {
  if (!(amax > 0.0f)) return 1.0f;
  float sf = __fdiv_rn(amax, 448.0f);
  if (use_ue8m0) sf = dlg_ue8m0_to_float(f32_to_ue8m0_ceil(sf));
  return sf;
}

template <typename InT>
__device__ __forceinline__ float cast_load1(const void* x, int64_t off) {
  if constexpr (sizeof(InT) == 2) {
    return dlg_bf16_bits_to_float(static_cast<const uint16_t*>(x)[off]);
  } else {
    return static_cast<const float*>(x)[off];
  }
}

template <typename InT>
struct CastVec {
  static constexpr int kElems = 16 / static_cast<int>(sizeof(InT));  // columns per lane
  static constexpr int kLanes = 128 / kElems;                        // lanes per 128 columns

  // Value e of a raw 16-byte vector.
  static __device__ __forceinline__ float get(const uint4& w, int e) {
    const uint32_t word = e / (kElems / 4) == 0 ? w.x : e / (kElems / 4) == 1 ? w.y
                        : e / (kElems / 4) == 2 ? w.z : w.w;
    if constexpr (sizeof(InT) == 2) return __uint_as_float(e % 2 == 0 ? word << 16 : word & 0xFFFF0000u);
    else return __uint_as_float(word);
  }

  // Row r, columns [c0, c0 + kElems) of x (zeros past K): one 16-byte load or per element.
  static __device__ __forceinline__ uint4 load(const Fp8CastParams& p, int64_t r, int64_t c0) {
    if (p.vec) {
      if (c0 < p.k)
        return __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(p.x) +
                                                    (r * p.xs0 + c0) * static_cast<int64_t>(sizeof(InT))));
      return make_uint4(0, 0, 0, 0);
    }
    uint32_t w[4] = {0, 0, 0, 0};
#pragma unroll
    for (int e = 0; e < kElems; ++e) {
      if (c0 + e < p.k) {
        const float f = cast_load1<InT>(p.x, r * p.xs0 + (c0 + e) * p.xs1);
        if constexpr (sizeof(InT) == 2) w[e / 2] |= (__float_as_uint(f) >> 16) << (16 * (e % 2));
        else w[e] = __float_as_uint(f);
      }
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
  }

  static __device__ __forceinline__ float amax(const uint4& w) {
    float a = 0.0f;
#pragma unroll
    for (int e = 0; e < kElems; ++e) a = fmaxf(a, fabsf(get(w, e)));
    return a;
  }

  // Max over the kLanes lanes of this lane's block (xor offsets below kLanes).
  static __device__ __forceinline__ float block_max(float v) {
#pragma unroll
    for (int o = kLanes / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
  }

  static __device__ __forceinline__ void store(const Fp8CastParams& p, int64_t r, int64_t c0,
                                               const uint4& w, float s) {
    if (c0 >= p.k) return;
    uint32_t q[2] = {0, 0};
#pragma unroll
    for (int e = 0; e < kElems; e += 2)
      q[e / 4] |= static_cast<uint32_t>(dlg_float2_to_e4m3x2_bits(__fdiv_rn(get(w, e), s),
                                                                  __fdiv_rn(get(w, e + 1), s)))
                  << (8 * (e % 4));
    if (p.vec) {
      uint8_t* o = p.out + r * p.os0 + c0;
      if constexpr (kElems == 8) *reinterpret_cast<uint2*>(o) = make_uint2(q[0], q[1]);
      else *reinterpret_cast<uint32_t*>(o) = q[0];
    } else {
#pragma unroll
      for (int e = 0; e < kElems; ++e)
        if (c0 + e < p.k) p.out[r * p.os0 + (c0 + e) * p.os1] = static_cast<uint8_t>(q[e / 4] >> (8 * (e % 4)));
    }
  }
};

// Offset of flat (row-major logical) index i through an N-d stride set.
__device__ __forceinline__ int64_t cast_nd_offset(const Fp8CastParams& p, const int64_t* strides,
                                                  int64_t i) {
  int64_t off = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    off += (i % p.shape[d]) * strides[d];
    i /= p.shape[d];
  }
  return off;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace dlg

template <typename InT, uint32_t kOp>
__global__ void __launch_bounds__(256) portable_fp8_cast(const dlg::Fp8CastParams p) {
  using namespace dlg;
  using V = CastVec<InT>;
  constexpr int kE = V::kElems, kL = V::kLanes;
  if constexpr (kOp == 0) {
    // ---- per-token: warp per (row, 4 loads x 32 lanes x kE columns) -----------------------
    constexpr int64_t kChunk = 4 * 32 * kE;
    const int64_t chunks = (p.k + kChunk - 1) / kChunk;
    const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    if (wid >= p.m * chunks) return;
    const int64_t r = wid / chunks, c_first = (wid % chunks) * kChunk;
    const uint32_t lane = threadIdx.x % 32;
    uint4 v[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = V::load(p, r, c_first + j * 32 * kE + lane * kE);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t c0 = c_first + j * 32 * kE + lane * kE;
      if (c_first + j * 32 * kE >= p.k) break;  // warp-uniform
      const float a = V::block_max(V::amax(v[j]));
      const float s = cast_scale_for(a, p.use_ue8m0);
      const int64_t kb = c0 / 128;
      if (lane % kL == 0 && kb * 128 < p.k) p.sf[r * p.ss0 + kb * p.ss1] = s;
      V::store(p, r, c0, v[j], s);
    }
  } else if constexpr (kOp == 1) {
    // ---- per-block: CTA per 128 x 128 block --------------------------------------------------
    constexpr int kRows = 32 / kL;       // rows per load across the warp
    constexpr int kIters = 16 / kRows;   // loads per lane (16 rows per warp)
    __shared__ float warp_amax[8];
    const int64_t kblocks = (p.k + 127) / 128;
    const int64_t bm = blockIdx.x / kblocks, bk = blockIdx.x % kblocks;
    const uint32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t c0 = bk * 128 + (lane % kL) * kE;
    const int64_t r0 = bm * 128 + warp * 16 + lane / kL;
    uint4 v[kIters];
    float a = 0.0f;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int64_t r = r0 + i * kRows;
      v[i] = r < p.m ? V::load(p, r, c0) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int i = 0; i < kIters; ++i) a = fmaxf(a, V::amax(v[i]));
    a = warp_max(a);
    if (lane == 0) warp_amax[warp] = a;
    __syncthreads();
    a = warp_amax[0];
#pragma unroll
    for (int w = 1; w < 8; ++w) a = fmaxf(a, warp_amax[w]);
    const float s = cast_scale_for(a, p.use_ue8m0);
    if (threadIdx.x == 0) p.sf[bm * p.ss0 + bk * p.ss1] = s;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int64_t r = r0 + i * kRows;
      if (r < p.m) V::store(p, r, c0, v[i], s);
    }
  } else if constexpr (kOp == 2) {
    // ---- per-tensor amax -------------------------------------------------------------------
    __shared__ float warp_amax[8];
    const int64_t n = p.m;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    float a = 0.0f;
    int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (p.vec) {
      // Four grid-stride steps per iteration, their loads issued together.
      const char* x = static_cast<const char*>(p.x);
      const int64_t full = n / kE;  // whole 16-byte vectors
      for (; i < full; i += 4 * stride) {
        uint4 w[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const int64_t v = i + u * stride;
          w[u] = v < full ? __ldg(reinterpret_cast<const uint4*>(x + v * 16)) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < 4; ++u) a = fmaxf(a, V::amax(w[u]));
      }
      // The tail (n % kE elements), by the first threads.
      const int64_t t = full * kE + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
      if (t < n) a = fmaxf(a, fabsf(cast_load1<InT>(p.x, t)));
    } else {
      for (; i < n; i += stride) a = fmaxf(a, fabsf(cast_load1<InT>(p.x, cast_nd_offset(p, p.x_strides, i))));
    }
    a = warp_max(a);
    if (threadIdx.x % 32 == 0) warp_amax[threadIdx.x / 32] = a;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (uint32_t w = 1; w < blockDim.x / 32; ++w) a = fmaxf(a, warp_amax[w]);
      atomicMax(reinterpret_cast<unsigned int*>(p.sf), __float_as_uint(a));
    }
  } else if constexpr (kOp == 3) {
    // ---- per-tensor cast (the compact path sees x as one row of n columns) ------------------
    const float s = cast_scale_for(__ldg(p.sf), 0);
    const int64_t n = p.m;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (p.vec) {
      // Vector full - 1 - i: from the end of the tensor, where the amax pass stopped.
      const int64_t full = n / kE;
      for (; i < full; i += stride) {
        const int64_t c0 = kE * (full - 1 - i);
        const uint4 w = __ldg(reinterpret_cast<const uint4*>(static_cast<const char*>(p.x) +
                                                          c0 * static_cast<int64_t>(sizeof(InT))));
        uint32_t q[2] = {0, 0};
#pragma unroll
        for (int e = 0; e < kE; e += 2)
          q[e / 4] |= static_cast<uint32_t>(dlg_float2_to_e4m3x2_bits(
                          __fdiv_rn(V::get(w, e), s), __fdiv_rn(V::get(w, e + 1), s)))
                      << (8 * (e % 4));
        if constexpr (kE == 8) *reinterpret_cast<uint2*>(p.out + c0) = make_uint2(q[0], q[1]);
        else *reinterpret_cast<uint32_t*>(p.out + c0) = q[0];
      }
      const int64_t t = full * kE + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
      if (t < n) p.out[t] = dlg_float_to_e4m3_bits(__fdiv_rn(cast_load1<InT>(p.x, t), s));
    } else {
      for (; i < n; i += stride)
        p.out[cast_nd_offset(p, p.out_strides, i)] = dlg_float_to_e4m3_bits(
            __fdiv_rn(cast_load1<InT>(p.x, cast_nd_offset(p, p.x_strides, i)), s));
    }
  } else {
    // ---- per-tensor: amax -> scale ---------------------------------------------------------
    if (blockIdx.x == 0 && threadIdx.x == 0) p.sf[0] = cast_scale_for(p.sf[0], 0);
  }
}
