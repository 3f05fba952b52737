// SM90 FP8 M-grouped GEMMs (MoE prefill and decode) on the dense kernels' body, DeepSeek 1D2D
// or per-tensor scales:
//   contiguous: for each valid row r of group g, D[r, :] = A[r, :] · B[g]ᵀ; A e4m3 [M, K]
//     (2D map), sfa f32 [M, ceil(K/128)] MN-major (TMA), D bf16 [M, N]; layout row ids [M]
//     (-1 padding) or offsets [G + 1];
//   masked: for each group g and row r < masked_m[g], D[g, r, :] = A[g, r, :] · B[g]ᵀ; A
//     [G, max_m, K] (3D map), sfa [G, max_m, ceil(K/128)] MN-major per group (3D map), D
//     [G, max_m, N] with the groups back to back (p.m = max_m, p.layout = masked_m).
//   Both: B e4m3 [G, N, K] K-major (3D map {K, N, G}), sfb f32 [G, ceil(N/128),
//   ceil(K/128)] any strides (1D2D); per-tensor: scale_a scalar (masked: or one per group),
//   scale_b scalar or one per group (NULL = 1). D also through a 2D map over all its rows
//   (TMA epilogue) and a plain pointer (row-predicated stores). The group data is read on
//   the device (CUDA-graph safe).
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<256, 128, 3, 2, 16, 0, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<256, 128, 3, 1, 16, 1, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<128, 128, 5, 2, 16, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<128, 160, 4, 1, 16, 1, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<256, 128, 3, 2, 16, 0, 2, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<256, 128, 3, 1, 16, 1, 2, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<128, 128, 5, 2, 16, 0, 2, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_m_grouped_gemm<128, 176, 4, 1, 16, 0, 2, 0>
//
// NOTES:
// - Why the dense body: the grouped kernel (sm90_m_grouped_gemm.cuh) tops out at 128x128
//   tiles, while the dense body has the 256-row tiles with two waves per math warpgroup, the
//   B scales in the pipeline slot and the early slot release; measured on the H100 at the
//   contiguous bench's sizes (M ~ 32768), dense 1D2D ran 1311-1387 TFLOPS where the grouped
//   kernel ran 1077-1194. What grouping adds to the body is in common/contiguous_tiles.cuh
//   (tile schedulers, two rounds for a contiguous tile whose halves hold two groups, the
//   masked epilogue).
// - Template arguments: BLOCK_M (64, 128, 256), BLOCK_N, stages, kClusterN (1, or 2: two
//   N-blocks of the same rows share A by multicast), rasterization band (N blocks),
//   kPerTensor (0: 1D2D, 1: per-tensor), kMode (common/grouped.cuh's GroupedMode: 0 row ids,
//   1 offsets, 2 masked), kPipelined (two partial sets, as the dense config model chooses).
#pragma once

#include "common/fp8_gemm_body.cuh"

// Parameter list for explicit instantiations: tensor maps A, B (3D), sfa, D.
#define DLG_SM90_FP8_M_GROUPED_GEMM_SIGNATURE                                               \
  const dlg::Sm90Fp8GemmParams, const __grid_constant__ dlg::ptx::TensorMap,                \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterN,
          uint32_t kGroupN, uint32_t kPerTensor, uint32_t kMode, uint32_t kPipelined>
__global__ void __launch_bounds__(((kBlockM == 64 ? 1 : 2) + 1) * 128, 1)
    sm90_fp8_m_grouped_gemm(const dlg::Sm90Fp8GemmParams p,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kPerTensor <= 1 && kMode <= 2, "kPerTensor: 0 or 1; kMode: 0, 1 or 2");
  dlg::sm90_fp8_gemm_body<kBlockM, kBlockN, kNumStages, 1, kClusterN, kGroupN,
                          kPerTensor ? dlg::kFp8ScalePerTensor : dlg::kFp8Scale1D2D, dlg_bf16, 0,
                          kPipelined, 0, 1, 1 + kMode>(p, &tmap_a, &tmap_b, &tmap_sfa, nullptr,
                                                       &tmap_d, nullptr);
#endif
}
