// SM90 FP8 GEMM with 1D1D scaling (weight gradients), D = C + Σ_kb sfa[m,kb]·sfb[n,kb]·
// Σ_{k in kb} a[m,k]·b[n,k].
//   A e4m3 [M, K] K-major, B e4m3 [N, K] K-major, sfa f32 [M, ceil(K/128)] and sfb f32
//   [N, ceil(K/128)], both MN-major with a TMA-aligned column stride (what dlg_transform_sf
//   gives), D f32|bf16 [M, N] row-major, C optional (may alias D: the in-place accumulation
//   of weight gradients; kCMode 3 prefetches it with TMA during the mainloop).
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<128, 112, 5, 1, 2, 16, float, 3, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<128, 112, 6, 2, 1, 16, dlg_bf16, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<64, 112, 8, 1, 1, 16, float, 2, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<128, 176, 4, 1, 1, 16, float, 3, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<128, 128, 5, 1, 2, 16, float, 2, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<128, 112, 6, 1, 2, 16, float, 2, 1, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<256, 128, 4, 1, 2, 16, dlg_bf16, 0, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d1d<256, 128, 4, 2, 1, 16, dlg_bf16, 0, 0, 2>
//
// NOTES: BLOCK_M 256 (bf16 D, the dgrad shapes) only with kStore 2, kCMode 0 and a 2-CTA
// cluster: nvrtc_test found local memory in the staged, direct, C and 1x1 instances.
// The body is common/fp8_gemm_body.cuh (kScaleMode kFp8Scale1D1D), shared with the
// 1D2D kernel; read its NOTES. Per k-block each stage also carries the tile's sfb column
// (BLOCK_N f32, one TMA box {BLOCK_N, 1}); the promotion multiplies each accumulator pair by
// sfa[row] · sfb[col, col + 1] (one 8-byte shared load per 8-column group).
// Template arguments: BLOCK_M, BLOCK_N, stages, cluster M x N, rasterization band (N blocks),
// D type, kCMode (0 none, 1 bf16 C, 2 f32 C, 3 C of D's dtype through TMA), kPipelined, kStore (D: 0 staging tile, 1 stored from registers, 2 slab ring).
#pragma once

#include "common/fp8_gemm_body.cuh"

// Parameter list for explicit instantiations: tensor maps A, B, sfa, sfb, D, C.
#define DLG_SM90_FP8_GEMM_1D1D_SIGNATURE                                                   \
  const dlg::Sm90Fp8GemmParams, const __grid_constant__ dlg::ptx::TensorMap,                \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterM,
          uint32_t kClusterN, uint32_t kGroupN, typename OutT, uint32_t kCMode,
          uint32_t kPipelined, uint32_t kStore>
__global__ void __launch_bounds__(((kBlockM == 64 ? 1 : 2) + 1) * 128, 1)
    sm90_fp8_gemm_1d1d(const dlg::Sm90Fp8GemmParams p,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_sfb,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_d,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  dlg::sm90_fp8_gemm_body<kBlockM, kBlockN, kNumStages, kClusterM, kClusterN, kGroupN,
                          dlg::kFp8Scale1D1D, OutT, kCMode, kPipelined, kStore>(
      p, &tmap_a, &tmap_b, &tmap_sfa, &tmap_sfb, &tmap_d, &tmap_c);
#endif
}
