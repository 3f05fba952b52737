// Numerics and vector helpers of the FP8 casts (portable_fp8_cast.cuh,
// portable_fp8_cast_per_tensor.cuh): the scale rule, an exact x / s without a division per
// value, 16-byte vectors of f32 or bf16. Bit-exact twins of core/ref/quant_ref.c; the NOTES
// of portable_fp8_cast.cuh say how.
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
  int32_t vec;                  // vector path (portable_fp8_cast.cuh NOTES); per-tensor: compact x and out
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

// x / s, bit-exact with the IEEE division the reference does, without a division per value
// (__fdiv_rn is a MUFU.RCP, four FFMAs, a range check and a slow-path call per value, and its
// registers crowd the casts' hot loops). One scale serves a whole block, so its reciprocal and
// the path are worked out once:
//   kPow2  s is a power of two (UE8M0 scales), 0 or infinite: x * (1/s) rounds the same exact
//          value as x / s (0 -> x * inf, inf -> x * 0: the same infinities, zeros and NaNs).
//   kFma   r = 1/s rounded, q0 = x * r, then one correction: e = x - q0 * s is exact and
//          q0 + e * r is the correctly rounded quotient (Markstein). That needs e not to
//          underflow: s in [2^-64, 2^120] (checked against x / s on 3e8 random pairs with s
//          from 2^-70 to 2^127, comparing the e4m3 results). A smaller s (a block of values
//          below 448 * 2^-64) is scaled first: x * 2^96 / (s * 2^96), both products exact
//          (3e8 more pairs, s from 2^-158). e == 0 keeps q0, so -0 / s stays -0.
struct CastDiv {
  enum : int { kPow2 = 0, kFma = 1 };
  float s, r, pre;
  int path;
  static __device__ __forceinline__ CastDiv make(float s, int pow2) {
    CastDiv d;
    d.pre = s < 0x1p-64f ? 0x1p96f : 1.0f;
    d.path = pow2 || s == 0.0f || s > 0x1p120f ? kPow2 : kFma;
    d.s = d.path == kFma ? s * d.pre : s;
    d.r = __frcp_rn(d.s);
    return d;
  }
  template <int kPath>
  __device__ __forceinline__ float div(float x) const {
    if constexpr (kPath == kPow2) {
      return x * r;
    } else {
      const float xs = x * pre;
      const float q0 = xs * r;
      const float e = fmaf(-q0, s, xs);
      return e == 0.0f ? q0 : fmaf(e, r, q0);
    }
  }
  __device__ __forceinline__ float operator()(float x) const {
    return path == kPow2 ? div<kPow2>(x) : div<kFma>(x);
  }
};

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

  // The kElems e4m3 bytes of w / s, packed little-endian into q[0] (and q[1] for bf16).
  template <int kPath>
  static __device__ __forceinline__ void quantise(const uint4& w, const CastDiv& d, uint32_t (&q)[2]) {
    q[0] = q[1] = 0;
#pragma unroll
    for (int e = 0; e < kElems; e += 2)
      q[e / 4] |= static_cast<uint32_t>(dlg_float2_to_e4m3x2_bits(d.div<kPath>(get(w, e)),
                                                                  d.div<kPath>(get(w, e + 1))))
                  << (8 * (e % 4));
  }
  static __device__ __forceinline__ void quantise(const uint4& w, const CastDiv& d, uint32_t (&q)[2]) {
    if (d.path == CastDiv::kPow2) quantise<CastDiv::kPow2>(w, d, q);
    else quantise<CastDiv::kFma>(w, d, q);
  }

  // The kElems e4m3 bytes of w / s to o, one 8- or 4-byte store (o aligned to kElems).
  static __device__ __forceinline__ void store_vec(uint8_t* o, const uint4& w, const CastDiv& d) {
    uint32_t q[2];
    quantise(w, d, q);
    if constexpr (kElems == 8) *reinterpret_cast<uint2*>(o) = make_uint2(q[0], q[1]);
    else *reinterpret_cast<uint32_t*>(o) = q[0];
  }

  static __device__ __forceinline__ void store(const Fp8CastParams& p, int64_t r, int64_t c0,
                                               const uint4& w, const CastDiv& d) {
    if (c0 >= p.k) return;
    if (p.vec) {
      store_vec(p.out + r * p.os0 + c0, w, d);
    } else {
      uint32_t q[2];
      quantise(w, d, q);
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
