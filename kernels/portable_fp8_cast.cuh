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
// - Per-token: one warp per (row, 512 columns): lane l owns columns 128j + 4l .. +3 of each
//   of the 4 k-blocks; all loads are issued first (16 B per lane per block for f32), each
//   block's amax is a 5-step xor-shuffle reduction, then 4 e4m3 go out as one 32-bit store.
// - Per-block: one 256-thread CTA per 128 x 128 block; warp w owns rows 16w .. 16w+15, lane l
//   columns 4l .. 4l+3; the 64 values stay in registers between the amax and the cast.
// - kVec (runtime flag p.vec): x and out rows are unit-stride with 16 B (f32) / 8 B (bf16)
//   and 4 B aligned starts and K % 4 == 0, so a lane's 4 columns are one vector access.
//   Otherwise every element goes through its strides.
// - Per-tensor: a grid-stride loop over the flattened tensor (compact fast path, or
//   N-d strides); amax of non-negative floats orders like their bit patterns, so
//   atomicMax(unsigned) on sf is exact.
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

// Four consecutive columns starting at element offset `off` (vector path).
template <typename InT>
__device__ __forceinline__ void cast_load4(const void* x, int64_t off, float (&v)[4]) {
  if constexpr (sizeof(InT) == 2) {
    const uint2 r = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(x) + off));
    v[0] = __uint_as_float(r.x << 16);
    v[1] = __uint_as_float(r.x & 0xFFFF0000u);
    v[2] = __uint_as_float(r.y << 16);
    v[3] = __uint_as_float(r.y & 0xFFFF0000u);
  } else {
    const float4 r = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(x) + off));
    v[0] = r.x;
    v[1] = r.y;
    v[2] = r.z;
    v[3] = r.w;
  }
}

__device__ __forceinline__ uint32_t cast_pack4(const float (&v)[4], float s) {
  const uint32_t lo = dlg_float2_to_e4m3x2_bits(__fdiv_rn(v[0], s), __fdiv_rn(v[1], s));
  const uint32_t hi = dlg_float2_to_e4m3x2_bits(__fdiv_rn(v[2], s), __fdiv_rn(v[3], s));
  return lo | (hi << 16);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Loads row r, columns [c0, c0 + 4) of x (zeros past K), vector or strided.
template <typename InT>
__device__ __forceinline__ void cast_load_quad(const Fp8CastParams& p, int64_t r, int64_t c0,
                                               float (&v)[4]) {
  if (p.vec) {
    if (c0 < p.k) cast_load4<InT>(p.x, r * p.xs0 + c0, v);
    else v[0] = v[1] = v[2] = v[3] = 0.0f;
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      v[i] = c0 + i < p.k ? cast_load1<InT>(p.x, r * p.xs0 + (c0 + i) * p.xs1) : 0.0f;
  }
}

__device__ __forceinline__ void cast_store_quad(const Fp8CastParams& p, int64_t r, int64_t c0,
                                                const float (&v)[4], float s) {
  if (c0 >= p.k) return;
  if (p.vec) {
    *reinterpret_cast<uint32_t*>(p.out + r * p.os0 + c0) = cast_pack4(v, s);
  } else {
    const uint32_t q = cast_pack4(v, s);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      if (c0 + i < p.k) p.out[r * p.os0 + (c0 + i) * p.os1] = static_cast<uint8_t>(q >> (8 * i));
  }
}

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

}  // namespace dlg

template <typename InT, uint32_t kOp>
__global__ void __launch_bounds__(256) portable_fp8_cast(const dlg::Fp8CastParams p) {
  using namespace dlg;
  if constexpr (kOp == 0) {
    // ---- per-token: warp per (row, 4 k-blocks) ---------------------------------------------
    const int64_t chunks = (p.k + 511) / 512;
    const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    if (wid >= p.m * chunks) return;
    const int64_t r = wid / chunks, kb0 = (wid % chunks) * 4;
    const uint32_t lane = threadIdx.x % 32;
    float v[4][4];
#pragma unroll
    for (int j = 0; j < 4; ++j) cast_load_quad<InT>(p, r, (kb0 + j) * 128 + 4 * lane, v[j]);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t kb = kb0 + j;
      if (kb * 128 >= p.k) break;
      float a = fmaxf(fmaxf(fabsf(v[j][0]), fabsf(v[j][1])), fmaxf(fabsf(v[j][2]), fabsf(v[j][3])));
      a = warp_max(fmaxf(a, 0.0f));
      const float s = cast_scale_for(a, p.use_ue8m0);
      if (lane == 0) p.sf[r * p.ss0 + kb * p.ss1] = s;
      cast_store_quad(p, r, kb * 128 + 4 * lane, v[j], s);
    }
  } else if constexpr (kOp == 1) {
    // ---- per-block: CTA per 128 x 128 block ------------------------------------------------
    __shared__ float warp_amax[8];
    const int64_t kblocks = (p.k + 127) / 128;
    const int64_t bm = blockIdx.x / kblocks, bk = blockIdx.x % kblocks;
    const uint32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t c0 = bk * 128 + 4 * lane;
    float v[16][4];
    float a = 0.0f;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int64_t r = bm * 128 + warp * 16 + i;
      if (r < p.m) cast_load_quad<InT>(p, r, c0, v[i]);
      else v[i][0] = v[i][1] = v[i][2] = v[i][3] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 16; ++i)
      a = fmaxf(a, fmaxf(fmaxf(fabsf(v[i][0]), fabsf(v[i][1])), fmaxf(fabsf(v[i][2]), fabsf(v[i][3]))));
    a = warp_max(a);
    if (lane == 0) warp_amax[warp] = a;
    __syncthreads();
    a = warp_amax[0];
#pragma unroll
    for (int w = 1; w < 8; ++w) a = fmaxf(a, warp_amax[w]);
    const float s = cast_scale_for(a, p.use_ue8m0);
    if (threadIdx.x == 0) p.sf[bm * p.ss0 + bk * p.ss1] = s;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int64_t r = bm * 128 + warp * 16 + i;
      if (r < p.m) cast_store_quad(p, r, c0, v[i], s);
    }
  } else if constexpr (kOp == 2) {
    // ---- per-tensor amax -------------------------------------------------------------------
    __shared__ float warp_amax[8];
    const int64_t n = p.m;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    float a = 0.0f;
    int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (p.vec) {
      for (; 4 * i < n; i += stride) {
        float v[4];
        if (4 * i + 4 <= n) {
          cast_load4<InT>(p.x, 4 * i, v);
        } else {
          for (int j = 0; j < 4; ++j) v[j] = 4 * i + j < n ? cast_load1<InT>(p.x, 4 * i + j) : 0.0f;
        }
        a = fmaxf(a, fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))));
      }
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
    // ---- per-tensor cast -------------------------------------------------------------------
    const float s = cast_scale_for(__ldg(p.sf), 0);
    const int64_t n = p.m;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (p.vec) {
      for (; 4 * i < n; i += stride) {
        if (4 * i + 4 <= n) {
          float v[4];
          cast_load4<InT>(p.x, 4 * i, v);
          *reinterpret_cast<uint32_t*>(p.out + 4 * i) = cast_pack4(v, s);
        } else {
          for (int64_t j = 4 * i; j < n; ++j)
            p.out[j] = dlg_float_to_e4m3_bits(__fdiv_rn(cast_load1<InT>(p.x, j), s));
        }
      }
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
