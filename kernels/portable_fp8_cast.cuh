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
// DLG_TEST_INSTANTIATION: portable_fp8_cast<float, 1>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<dlg_bf16, 0>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<dlg_bf16, 3>
// DLG_TEST_INSTANTIATION: portable_fp8_cast<float, 4>
//
// NOTES:
// - Numerics, as the reference: amax = max |x| (fmaxf: NaN ignored), sf = amax / 448 (IEEE
//   division, __fdiv_rn), UE8M0 = the smallest power of two >= sf (integer bit logic that
//   matches frexpf-based dlg_f32_to_ue8m0_ceil, subnormals included), all-zero block -> 1;
//   out = e4m3(x / sf), the correctly rounded quotient (CastDiv: not a plain x * (1/sf), which
//   differs in the last bit) and cvt.rn.satfinite (RNE, saturate to ±448, NaN -> NaN): types.cuh.
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
// - Per-tensor here (ops 2-4): the path for strided or small tensors, and where the fused
//   kernel (portable_fp8_cast_per_tensor.cuh) cannot be launched. A grid-stride loop over the
//   flattened tensor (compact fast path, or N-d strides); amax of non-negative floats orders
//   like their bit patterns, so atomicMax(unsigned) on sf is exact. Compact path: the amax
//   pass keeps 4 16-byte loads in flight per thread (one grid-stride step each); the cast
//   pass walks the tensor from its end, where the amax pass finished, so its first ~40 MB
//   still come from L2.
#pragma once

#include "common/fp8_cast.cuh"

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
      V::store(p, r, c0, v[j], CastDiv::make(s, p.use_ue8m0));
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
    const CastDiv d = CastDiv::make(s, p.use_ue8m0);
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int64_t r = r0 + i * kRows;
      if (r < p.m) V::store(p, r, c0, v[i], d);
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
    const CastDiv d = CastDiv::make(s, 0);
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
        V::store_vec(p.out + c0, w, d);
      }
      const int64_t t = full * kE + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
      if (t < n) p.out[t] = dlg_float_to_e4m3_bits(d(cast_load1<InT>(p.x, t)));
    } else {
      for (; i < n; i += stride)
        p.out[cast_nd_offset(p, p.out_strides, i)] = dlg_float_to_e4m3_bits(
            d(cast_load1<InT>(p.x, cast_nd_offset(p, p.x_strides, i))));
    }
  } else {
    // ---- per-tensor: amax -> scale ---------------------------------------------------------
    if (blockIdx.x == 0 && threadIdx.x == 0) p.sf[0] = cast_scale_for(p.sf[0], 0);
  }
}
