// The portable GEMM: D = C + A·Bᵀ for every recipe, any strides, on any arch NVRTC targets
// (sm_90a, sm_100a, ...). It is the correctness fallback for problems the tensor-core kernels
// do not cover and the smoke kernel of a new arch — not fast.
//
// Numerics are EXACTLY those of the CPU reference (core/ref/gemm_ref.c), bit for bit:
//   - each output sums the products of a 128-wide K block in FP32, in increasing k, from 0;
//   - block-scaled recipes (1D2D, 1D1D): acc += partial · (sfa[row, kb] · sfb[row of B, kb]);
//     BF16 and PER_TENSOR: acc += partial;
//   - then v = acc · (sfa · sfb) (PER_TENSOR; 1 otherwise), or 0 when K == 0; v += C; RNE to D.
// Every add and multiply is an explicit _rn intrinsic so the compiler cannot contract them
// into FMAs (whose single rounding would differ from the reference in rare cases).
//
// Shape: a 64x64 output tile per 256-thread block; thread (ty, tx) owns rows ty + 16i and
// columns tx + 16j (i, j < 4), so shared-memory reads are broadcasts / consecutive words.
// K advances 32 at a time through shared memory, converted to FP32 on load (zero-filled past
// M, N, K; the k loop stops at K, so padding never enters a sum).
#pragma once

#include "common/types.cuh"

#ifndef DLG_GG_BLOCK_M
#define DLG_GG_BLOCK_M 64
#endif
#ifndef DLG_GG_BLOCK_N
#define DLG_GG_BLOCK_N 64
#endif
#ifndef DLG_GG_BLOCK_K
#define DLG_GG_BLOCK_K 32
#endif
#define DLG_GG_THREADS 256
#define DLG_GG_KBLOCK 128

// Mirrored byte for byte in core/launch/generic_gemm.c (only 8-byte and 4-byte fields).
struct dlg_generic_gemm_params {
  const void* a;        // [m, k], element (i, kk) at a[i*a_sm + kk*a_sk]
  const void* b;        // [n, k]
  const void* sfa;      // NULL: 1
  const void* sfb;
  const void* c;        // NULL: no C (may equal d)
  void* d;
  int64_t m, n, k;
  int64_t a_sm, a_sk, b_sn, b_sk;
  int64_t sfa_s0, sfa_s1, sfb_s0, sfb_s1; // element strides (floats or int32 words)
  int64_t c_sm, c_sn, d_sm, d_sn;
  int64_t sfb_rows_per_scale;             // 1 (per row of B) or 128 (per 128-row block)
  int32_t ab_type;                        // 0: float8_e4m3fn, 1: bfloat16
  int32_t sfa_kind, sfb_kind;             // 0: none, 1: f32, 2: packed UE8M0 int32
  int32_t scale_mode;                     // 0: none (BF16), 1: per block, 2: per tensor
  int32_t c_type;                         // 0: none, 1: f32, 2: bf16
  int32_t d_type;                         // 1: f32, 2: bf16
};
static_assert(sizeof(dlg_generic_gemm_params) == 200, "params layout must match the host");

__device__ __forceinline__ float dlg_gg_load_ab(const void* base, int64_t idx, int32_t type) {
  if (type == 0) return dlg_e4m3_bits_to_float(static_cast<const uint8_t*>(base)[idx]);
  return dlg_bf16_bits_to_float(static_cast<const uint16_t*>(base)[idx]);
}

__device__ __forceinline__ float dlg_gg_scale(const void* sf, int32_t kind, int64_t row,
                                              int64_t kb, int64_t s0, int64_t s1) {
  if (kind == 0) return 1.0f;
  if (kind == 1) return static_cast<const float*>(sf)[row * s0 + kb * s1];
  const uint32_t w = static_cast<const uint32_t*>(sf)[row * s0 + (kb / 4) * s1];
  return dlg_ue8m0_to_float(w >> (8 * (kb % 4)));
}

__device__ __forceinline__ float dlg_gg_load_out(const void* base, int64_t idx, int32_t type) {
  if (type == 1) return static_cast<const float*>(base)[idx];
  return dlg_bf16_bits_to_float(static_cast<const uint16_t*>(base)[idx]);
}

extern "C" __global__ void __launch_bounds__(DLG_GG_THREADS)
portable_generic_gemm(const dlg_generic_gemm_params p) {
  constexpr int BM = DLG_GG_BLOCK_M, BN = DLG_GG_BLOCK_N, BK = DLG_GG_BLOCK_K;
  constexpr int TM = BM / 16, TN = BN / 16;
  static_assert(DLG_GG_KBLOCK % BK == 0, "a K tile must not straddle a scale block");
  __shared__ float As[BK][BM + 1]; // +1: K-major loads write down a column without conflicts
  __shared__ float Bs[BK][BN + 1];

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Launched with programmatic stream serialization (PDL), wait for the previous grid's
  // writes before reading anything; a no-op otherwise.
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const int64_t m_tiles = (p.m + BM - 1) / BM;
  const bool a_kmajor = p.a_sk == 1, b_kmajor = p.b_sk == 1;

  // gridDim.y is capped at 65535: walk the remaining row tiles.
  for (int64_t tile_m = blockIdx.y; tile_m < m_tiles; tile_m += gridDim.y) {
    const int64_t m0 = tile_m * BM;
    float acc[TM][TN], part[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = part[i][j] = 0.0f;

    for (int64_t k0 = 0; k0 < p.k; k0 += BK) {
      // Stage the A and B tiles as FP32; the index order follows the contiguous dimension.
      for (int e = tid; e < BM * BK; e += DLG_GG_THREADS) {
        const int mm = a_kmajor ? e / BK : e % BM, kk = a_kmajor ? e % BK : e / BM;
        const int64_t gm = m0 + mm, gk = k0 + kk;
        As[kk][mm] = (gm < p.m && gk < p.k) ? dlg_gg_load_ab(p.a, gm * p.a_sm + gk * p.a_sk, p.ab_type) : 0.0f;
      }
      for (int e = tid; e < BN * BK; e += DLG_GG_THREADS) {
        const int nn = b_kmajor ? e / BK : e % BN, kk = b_kmajor ? e % BK : e / BN;
        const int64_t gn = n0 + nn, gk = k0 + kk;
        Bs[kk][nn] = (gn < p.n && gk < p.k) ? dlg_gg_load_ab(p.b, gn * p.b_sn + gk * p.b_sk, p.ab_type) : 0.0f;
      }
      __syncthreads();
      const int kmax = (p.k - k0 < BK) ? static_cast<int>(p.k - k0) : BK;
      for (int kk = 0; kk < kmax; ++kk) {
        float av[TM], bv[TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < TN; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) part[i][j] = __fadd_rn(part[i][j], __fmul_rn(av[i], bv[j]));
      }
      __syncthreads();

      // End of a 128-wide K block (or of K): promote the partial sums.
      const int64_t k_end = k0 + BK;
      if (k_end % DLG_GG_KBLOCK == 0 || k_end >= p.k) {
        const int64_t kb = k0 / DLG_GG_KBLOCK;
        if (p.scale_mode == 1) {
          float sa[TM], sb[TN];
#pragma unroll
          for (int i = 0; i < TM; ++i) {
            const int64_t row = m0 + ty + 16 * i;
            sa[i] = row < p.m ? dlg_gg_scale(p.sfa, p.sfa_kind, row, kb, p.sfa_s0, p.sfa_s1) : 0.0f;
          }
#pragma unroll
          for (int j = 0; j < TN; ++j) {
            const int64_t col = n0 + tx + 16 * j;
            sb[j] = col < p.n ? dlg_gg_scale(p.sfb, p.sfb_kind, col / p.sfb_rows_per_scale, kb,
                                             p.sfb_s0, p.sfb_s1)
                              : 0.0f;
          }
#pragma unroll
          for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j)
              acc[i][j] = __fadd_rn(acc[i][j], __fmul_rn(part[i][j], __fmul_rn(sa[i], sb[j])));
        } else {
#pragma unroll
          for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = __fadd_rn(acc[i][j], part[i][j]);
        }
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) part[i][j] = 0.0f;
      }
    }

    // Epilogue: per-tensor scale, + C (read right before the same element of D is written,
    // so C may alias D), RNE to D's dtype.
    float final_scale = 1.0f;
    if (p.scale_mode == 2) {
      const float sa = p.sfa_kind ? static_cast<const float*>(p.sfa)[0] : 1.0f;
      const float sb = p.sfb_kind ? static_cast<const float*>(p.sfb)[0] : 1.0f;
      final_scale = __fmul_rn(sa, sb);
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int64_t row = m0 + ty + 16 * i;
      if (row >= p.m) continue;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int64_t col = n0 + tx + 16 * j;
        if (col >= p.n) continue;
        float v = p.k > 0 ? __fmul_rn(acc[i][j], final_scale) : 0.0f;
        if (p.c_type) v = __fadd_rn(v, dlg_gg_load_out(p.c, row * p.c_sm + col * p.c_sn, p.c_type));
        const int64_t di = row * p.d_sm + col * p.d_sn;
        if (p.d_type == 1) static_cast<float*>(p.d)[di] = v;
        else static_cast<uint16_t*>(p.d)[di] = dlg_float_to_bf16_bits(v);
      }
    }
  }
}
