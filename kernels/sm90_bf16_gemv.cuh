// SM90 BF16 GEMM of a few rows (M <= 4: decode-sized), D = C + A · Bᵀ on the CUDA cores, FP32
// accumulation.
//   A bf16 [M, K] K-major, B bf16 [N, K] K-major (rows 16-byte aligned, K % 8 == 0),
//   D bf16|f32 [M, N] row-major, C optional (bf16|f32 row-major, may alias D).
// DLG_TEST_INSTANTIATION: sm90_bf16_gemv<1, 1, dlg_bf16, 0>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemv<4, 4, float, 2>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemv<2, 8, dlg_bf16, 1>
//
// NOTES:
// - At M <= 4 the GEMM reads B once from DRAM and does at most 4 FMAs per B element: it is a
//   stream over B. The tensor-core kernel's tiles are 64 rows of which 60+ are zero fill, and
//   it waits on a round trip per k-block (H100, 1x4096x7168: 1.8 TB/s of the ~3.0 a copy
//   gets). Here each lane keeps kUnroll 16-byte loads of B in flight, no shared-memory
//   staging, no barriers in the loop.
// - Work split: a CTA of 8 warps; kSplit warps share one B row (= one output column), each
//   taking a contiguous range of 256-element K chunks (a chunk: 32 lanes x 8 bf16). The
//   launcher picks kSplit so that N · kSplit warps fill the SMs (bytes in flight); the slices'
//   sums meet in shared memory after warp-shuffle reductions.
// - B is loaded with L1::no_allocate (read once); A's rows (K · M · 2 bytes, re-read by every
//   warp) through the read-only L1 path.
// - bf16 -> f32 is exact (a shift); products and sums are FP32, in another order than the CPU
//   reference's (calc_diff ~1e-9..1e-7).
#pragma once

#include "common/epilogue.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"

namespace dlg {

// Kernel arguments. Mirrored by core/launch/sm90_bf16_gemm.c (80 bytes, natural alignment).
struct Sm90Bf16GemvParams {
  uint32_t m, n, k, pad_;
  const dlg_bf16* a;
  int64_t lda;
  const dlg_bf16* b;
  int64_t ldb;
  EpilogueC c;
  void* d;
  int64_t ldd;
};
static_assert(sizeof(Sm90Bf16GemvParams) == 80, "host mirror expects 80 bytes");

// acc += dot of 8 bf16 pairs packed in a and b (x: elements 0, 1 in the low / high halves).
DLG_DEVICE void gemv_dot8(float& acc, const uint4& a, const uint4& b) {
  const uint32_t av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
  for (uint32_t i = 0; i < 4; ++i) {
    acc = fmaf(__uint_as_float(av[i] << 16), __uint_as_float(bv[i] << 16), acc);
    acc = fmaf(__uint_as_float(av[i] & 0xFFFF0000u), __uint_as_float(bv[i] & 0xFFFF0000u), acc);
  }
}

}  // namespace dlg

template <uint32_t kM, uint32_t kSplit, typename OutT, uint32_t kCMode>
__global__ void __launch_bounds__(256, 1) sm90_bf16_gemv(const dlg::Sm90Bf16GemvParams p) {
  using namespace dlg;
  using namespace dlg::ptx;

  // ---- static checks ----------------------------------------------------------------------
  static_assert(kM >= 1 && kM <= 4, "rows of A: 1..4");
  static_assert(kSplit == 1 || kSplit == 2 || kSplit == 4 || kSplit == 8, "warps per B row");
  static_assert(kCMode <= 2, "C: none, bf16 or f32");

  // ---- configs ----------------------------------------------------------------------------
  constexpr uint32_t kWarps = 8;
  constexpr uint32_t kRowsPerCta = kWarps / kSplit;
  constexpr uint32_t kChunk = 256;  // K elements per warp step: 32 lanes x 8 bf16
  constexpr uint32_t kUnroll = 4;   // 16-byte loads of B in flight per lane

  // ---- shared memory ----------------------------------------------------------------------
  __shared__ float partial[kWarps][kM];

  const uint32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint32_t row = blockIdx.x * kRowsPerCta + warp / kSplit;  // B row = D column
  const uint32_t slice = warp % kSplit;
  const uint32_t chunks = (p.k + kChunk - 1) / kChunk;
  const uint32_t full_chunks = p.k / kChunk;
  const uint32_t per_slice = (chunks + kSplit - 1) / kSplit;
  const uint32_t c_begin = slice * per_slice;
  const uint32_t c_end = c_begin + per_slice < chunks ? c_begin + per_slice : chunks;

  grid_dependency_wait();  // PDL: first global read comes after this

  // ---- the stream over B --------------------------------------------------------------------
  float acc[kM];
#pragma unroll
  for (uint32_t m = 0; m < kM; ++m) acc[m] = 0.0f;
  if (row < p.n) {
    const uint4* b_row = reinterpret_cast<const uint4*>(p.b + static_cast<int64_t>(row) * p.ldb);
    const uint4* a_rows[kM];
#pragma unroll
    for (uint32_t m = 0; m < kM; ++m)
      a_rows[m] = reinterpret_cast<const uint4*>(p.a + static_cast<int64_t>(m < p.m ? m : 0) * p.lda);
    // Whole chunks, kUnroll at a time (all loads issued before the first use).
    const uint32_t unrolled_end = c_end < full_chunks ? c_end : full_chunks;
    uint32_t c = c_begin;
    for (; c + kUnroll <= unrolled_end; c += kUnroll) {
      uint4 bv[kUnroll];
#pragma unroll
      for (uint32_t u = 0; u < kUnroll; ++u) bv[u] = ldg_stream_v4(b_row + (c + u) * 32 + lane);
#pragma unroll
      for (uint32_t u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (uint32_t m = 0; m < kM; ++m)
          gemv_dot8(acc[m], __ldg(a_rows[m] + (c + u) * 32 + lane), bv[u]);
      }
    }
    // The rest: whole chunks one at a time, then the partial chunk (lanes past K idle).
    for (; c < c_end; ++c) {
      if (c * kChunk + lane * 8 < p.k) {
        const uint4 bv = ldg_stream_v4(b_row + c * 32 + lane);
#pragma unroll
        for (uint32_t m = 0; m < kM; ++m) gemv_dot8(acc[m], __ldg(a_rows[m] + c * 32 + lane), bv);
      }
    }
  }

  // ---- reduction and store ----------------------------------------------------------------
#pragma unroll
  for (uint32_t m = 0; m < kM; ++m) {
#pragma unroll
    for (uint32_t off = 16; off > 0; off /= 2) acc[m] += __shfl_xor_sync(0xFFFFFFFFu, acc[m], off);
  }
  if (lane == 0) {
#pragma unroll
    for (uint32_t m = 0; m < kM; ++m) partial[warp][m] = acc[m];
  }
  __syncthreads();
  if (slice == 0 && lane < kM && lane < p.m && row < p.n) {
    float sum = 0.0f;
#pragma unroll
    for (uint32_t s = 0; s < kSplit; ++s) sum += partial[warp + s][lane];
    if constexpr (kCMode == 1) {
      sum += dlg_bf16_bits_to_float(
          static_cast<const uint16_t*>(p.c.ptr)[static_cast<int64_t>(lane) * p.c.ldc + row]);
    } else if constexpr (kCMode == 2) {
      sum += static_cast<const float*>(p.c.ptr)[static_cast<int64_t>(lane) * p.c.ldc + row];
    }
    const int64_t off = static_cast<int64_t>(lane) * p.ldd + row;
    if constexpr (sizeof(OutT) == 2) static_cast<uint16_t*>(p.d)[off] = dlg_float_to_bf16_bits(sum);
    else static_cast<float*>(p.d)[off] = sum;
  }
  grid_launch_dependents();
}
