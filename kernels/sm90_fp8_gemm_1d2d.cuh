// SM90 FP8 GEMM, D = C + (A · Bᵀ) with DeepSeek block scaling (1D2D) or per-tensor scales.
//   A e4m3 [M, K] K-major, B e4m3 [N, K] K-major, D bf16|f32 [M, N] row-major, C optional.
//   1D2D:       sfa f32 [M, ceil(K/128)] MN-major (TMA), sfb f32 [ceil(N/128), ceil(K/128)]
//               (any strides, read from global), result[m,n] = Σ_kb sfa[m,kb]·sfb[n/128,kb]·
//               Σ_{k in kb} a·b.
//   PER_TENSOR: result = scale_a · scale_b · Σ a·b (scales are device scalars, NULL = 1).
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 160, 5, 1, 2, 16, 0, dlg_bf16, 0, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<64, 112, 8, 2, 1, 16, 1, float, 2, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 128, 6, 1, 2, 16, 0, dlg_bf16, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 112, 6, 2, 1, 16, 0, float, 3, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<64, 64, 12, 2, 2, 16, 0, dlg_bf16, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<256, 128, 3, 1, 2, 16, 0, dlg_bf16, 0, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<256, 112, 3, 2, 1, 16, 1, dlg_bf16, 1, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 64, 9, 1, 1, 16, 0, dlg_bf16, 0, 1, 1, 4>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 208, 3, 1, 1, 16, 0, dlg_bf16, 0, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 128, 5, 1, 2, 16, 0, dlg_bf16, 0, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<64, 128, 8, 1, 1, 16, 1, float, 2, 1, 1, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<256, 128, 4, 1, 2, 16, 0, dlg_bf16, 0, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 128, 6, 1, 2, 16, 1, dlg_bf16, 1, 1, 2>
//
// NOTES: the body (warp specialization, pipeline, promotion, multicast, epilogue) is
// common/fp8_gemm_body.cuh, shared with the 1D1D kernel; read its NOTES.
// Template arguments: BLOCK_M (64, 128, 256), BLOCK_N, stages, cluster M x N, rasterization band (N blocks),
// kPerTensor (0: 1D2D, 1: per-tensor), D type, kCMode (0 none, 1 bf16 C, 2 f32 C, 3 C of D's
// dtype through TMA), kPipelined (two partial sets: promotion hidden behind the next k-block),
// kStore (D: 0 staging tile, 1 stored from registers, 2 slab ring), kSplitK (CTAs per tile splitting K,
// common/split_k.cuh; 1 = off).
#pragma once

#include "common/fp8_gemm_body.cuh"

// The kernel's parameter list, for explicit instantiations (`template __global__ void
// sm90_fp8_gemm_1d2d<...>(DLG_SM90_FP8_GEMM_SIGNATURE);`): grid-constant tensor maps A, B,
// sfa, D, C (sfa unused per-tensor, C unused unless kCMode 3).
#define DLG_SM90_FP8_GEMM_SIGNATURE                                                        \
  const dlg::Sm90Fp8GemmParams, const __grid_constant__ dlg::ptx::TensorMap,                \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterM,
          uint32_t kClusterN, uint32_t kGroupN, uint32_t kPerTensor, typename OutT,
          uint32_t kCMode, uint32_t kPipelined, uint32_t kStore, uint32_t kSplitK = 1>
__global__ void __launch_bounds__(((kBlockM == 64 ? 1 : 2) + 1) * 128, 1)
    sm90_fp8_gemm_1d2d(const dlg::Sm90Fp8GemmParams p,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_d,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kPerTensor <= 1, "kPerTensor: 0 (1D2D) or 1");
  dlg::sm90_fp8_gemm_body<kBlockM, kBlockN, kNumStages, kClusterM, kClusterN, kGroupN,
                          kPerTensor ? dlg::kFp8ScalePerTensor : dlg::kFp8Scale1D2D, OutT, kCMode,
                          kPipelined, kStore, kSplitK>(p, &tmap_a, &tmap_b, &tmap_sfa, nullptr, &tmap_d, &tmap_c);
#endif
}
