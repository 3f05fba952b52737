// SM90 FP8 M-grouped masked GEMM (MoE decode, CUDA-graph safe) on the dense kernels' body:
// for each group g and row r < masked_m[g], D[g, r, :] = A[g, r, :] · B[g]ᵀ, DeepSeek 1D2D
// or per-tensor scales; masked_m is read on the device.
//   A e4m3 [G, max_m, K] K-major (3D map {K, max_m, G}), B e4m3 [G, N, K] (3D map {K, N, G}),
//   sfa f32 [G, max_m, ceil(K/128)] MN-major per group (3D map, 1D2D), sfb f32
//   [G, ceil(N/128), ceil(K/128)] any strides (1D2D); per-tensor: scale_a, scale_b scalar or
//   one per group (NULL = 1). D bf16 [G, max_m, N] with the groups back to back (2D map over
//   G·max_m rows + plain pointer). p.m = max_m, p.layout = masked_m.
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_masked_gemm<256, 128, 3, 2, 16, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_masked_gemm<256, 128, 3, 1, 16, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_masked_gemm<128, 128, 5, 2, 16, 0, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_masked_gemm<128, 176, 4, 1, 16, 0, 0>
//
// NOTES:
// - The masked twin of sm90_fp8_m_grouped_contiguous_gemm.cuh (read its NOTES): same body,
//   the tiles from common/contiguous_tiles.cuh's MaskedTileScheduler (group after group,
//   ceil(masked_m / BLOCK_M) m-blocks each; the second 128-row half of a 256-row tile past
//   masked_m is not computed). Rows past masked_m are never written.
// - Template arguments: BLOCK_M, BLOCK_N, stages, kClusterN (2: A multicast across two
//   N-blocks of one (group, m-block)), rasterization band, kPerTensor, kPipelined.
#pragma once

#include "common/fp8_gemm_body.cuh"

// Parameter list for explicit instantiations: tensor maps A (3D), B (3D), sfa (3D), D.
#define DLG_SM90_FP8_M_GROUPED_MASKED_GEMM_SIGNATURE                                       \
  const dlg::Sm90Fp8GemmParams, const __grid_constant__ dlg::ptx::TensorMap,                \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterN,
          uint32_t kGroupN, uint32_t kPerTensor, uint32_t kPipelined>
__global__ void __launch_bounds__(((kBlockM == 64 ? 1 : 2) + 1) * 128, 1)
    sm90_fp8_m_grouped_masked_gemm(const dlg::Sm90Fp8GemmParams p,
                                   const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                                   const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                                   const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                                   const __grid_constant__ dlg::ptx::TensorMap tmap_d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kPerTensor <= 1, "kPerTensor: 0 or 1");
  dlg::sm90_fp8_gemm_body<kBlockM, kBlockN, kNumStages, 1, kClusterN, kGroupN,
                          kPerTensor ? dlg::kFp8ScalePerTensor : dlg::kFp8Scale1D2D, dlg_bf16, 0,
                          kPipelined, 0, 1, 3>(p, &tmap_a, &tmap_b, &tmap_sfa, nullptr, &tmap_d,
                                               nullptr);
#endif
}
