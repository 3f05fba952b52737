// SM90 K-grouped FP8 GEMM (MoE weight gradients): K_total is split into G consecutive
// segments of ks[g] columns (multiples of 128, zero allowed, read on the device):
//   D[g] = C[g] + A[:, seg g] · B[:, seg g]ᵀ      (D f32 [G, M, N], C f32|bf16 or none)
//   kPerTensor 0 (1D1D): result = Σ_kb sfa[m, kb] · sfb[n, kb] · Σ_{k in kb} a·b, sfa
//                        [M, K_total/128] and sfb [N, K_total/128] f32 MN-major (TMA);
//   kPerTensor 1:        result = scale_a[g] · scale_b[g] · Σ a·b (scalar or per group).
//   A [M, K_total], B [N, K_total] e4m3 K-major (3D TMA maps {K, rows, 1}; FP8 wgmma needs
//   K-major).
//   kCMode: 0 no C, 1 bf16 C, 2 f32 C (C may alias D: each element is read, then written,
//   by the same thread).
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<128, 128, 6, 8, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<64, 192, 8, 8, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<128, 96, 6, 8, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<128, 128, 6, 8, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<128, 96, 5, 8, 0, 2, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_k_grouped_gemm<128, 128, 5, 8, 1, 0, 1>
//
// NOTES:
// - Skeleton of sm90_fp8_gemm_1d2d.cuh (warp specialization, TMA ring, promotion per 128-K
//   block). Each slot also holds the k-block's BLOCK_M A scales and BLOCK_N B scales (TMA
//   boxes {BLOCK_M, 1} / {BLOCK_N, 1} of the MN-major scale matrices). 1D1D promotion needs
//   one B scale per column: a thread's columns are 8j + 2(l%4) + {0,1}, read as float2.
// - k-block loop: the dense kernels' common/fp8_k_loop.cuh, pipelined (two partial sets,
//   the promotion of kb hidden behind the wgmma of kb+1) where the registers allow: 1D1D
//   BLOCK_N <= 112 (its per-column scale loads need a few more registers, as in the dense
//   1D1D kernel), per-tensor BLOCK_N <= 128 (two math warpgroups) / 144 (one).
// - Tiles: KGroupedScheduler (common/grouped.cuh), group-major; a group with ks[g] = 0 has
//   no k-blocks: the producer loads nothing and the math warpgroups store C[g] (or 0).
// - K blocks never straddle groups (each ks[g] is a multiple of 128).
// - Epilogue, kTmaEpilogue = 0: f32 pairs stored straight from registers (a quad of lanes
//   writes 32 B of a row), C added from global memory first; rows >= M / columns >= N are
//   masked. kTmaEpilogue = 1 (the launcher's choice when M is a multiple of BLOCK_M and D, and
//   an f32 C, are [G, M, N] with the groups back to back, so TMA can see them as one
//   [G·M, N] matrix whose tiles never straddle groups): the dense kernels' staged epilogue
//   (common/epilogue.cuh) - each math warpgroup's leader loads its 64 rows of C into the
//   staging tile by TMA after issuing the tile's k-block c_prefetch_k_block (kCMode 2 -> the
//   epilogue's C mode 3), so the C read overlaps the k-loop instead of stalling the epilogue,
//   and D leaves by TMA store, asynchronously. Weight-gradient tiles have short k-loops
//   (ks[g] / 128 blocks), so the synchronous C read was a large part of each tile.
#pragma once

#include "common/epilogue.cuh"
#include "common/fp8_k_loop.cuh"
#include "common/fp8_promote.cuh"
#include "common/grouped.cuh"
#include "common/scheduler.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {

// Mirrored by core/launch/sm90_k_grouped_gemm.c (112 bytes).
struct Sm90KGroupedParams {
  uint32_t m, n;
  uint32_t num_groups;
  uint32_t k_total;      // 0: every group empty (the tensor maps are then not valid)
  const int32_t* ks;
  int64_t ks_stride;
  const float* scale_a;  // per-tensor: scalar or [G] (stride_g), NULL = 1
  int64_t scale_a_stride;
  const float* scale_b;
  int64_t scale_b_stride;
  const void* c;         // kCMode != 0
  int64_t c_stride_g, c_stride_m;
  float* d;
  int64_t d_stride_g, d_stride_m;
};
static_assert(sizeof(Sm90KGroupedParams) == 112, "host mirror expects 112 bytes");

// Tensor maps: A, B, sfa, sfb, then D and C as [G·M, N] matrices (kTmaEpilogue only).
#define DLG_SM90_FP8_K_GROUPED_GEMM_SIGNATURE                                 \
  const dlg::Sm90KGroupedParams, const __grid_constant__ dlg::ptx::TensorMap,  \
      const __grid_constant__ dlg::ptx::TensorMap,                             \
      const __grid_constant__ dlg::ptx::TensorMap,                             \
      const __grid_constant__ dlg::ptx::TensorMap,                             \
      const __grid_constant__ dlg::ptx::TensorMap,                             \
      const __grid_constant__ dlg::ptx::TensorMap

}  // namespace dlg

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kGroupN,
          uint32_t kPerTensor, uint32_t kCMode, uint32_t kTmaEpilogue = 0>
__global__ void __launch_bounds__((kBlockM / 64 + 1) * 128, 1)
    sm90_fp8_k_grouped_gemm(const dlg::Sm90KGroupedParams p,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_sfb,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_d,
                            const __grid_constant__ dlg::ptx::TensorMap tmap_c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;

  static_assert(kBlockM == 64 || kBlockM == 128, "BLOCK_M: 64 or 128 (one m64 per math WG)");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 208, "BLOCK_N: 16..208 step 16");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kTmaEpilogue <= 1 && (!kTmaEpilogue || kCMode != 1),
                "the TMA epilogue takes no C or an f32 C");

  constexpr uint32_t kBlockK = 128;
  constexpr uint32_t kNumMathWG = kBlockM / 64;
  constexpr uint32_t kNumMathThreads = kNumMathWG * 128;
  constexpr uint32_t kNumAcc = kBlockN / 2;
  // Mirrored by the launcher's k_grouped_pipelined() (ptxas, nvrtc_test: 1D1D 128 spills).
  constexpr uint32_t kPipelined = kBlockN <= (kPerTensor ? 128 : 112) ? 1 : 0;
  using Mma = WgmmaE4M3<kBlockN>;
  using Scheduler = KGroupedScheduler<kBlockM, kBlockN, kGroupN>;
  using Store = DirectStore<kBlockN, float>;
  // kTmaEpilogue: f32 C (kCMode 2) comes through the staging tile (the epilogue's mode 3).
  constexpr uint32_t kEpiCMode = kCMode == 2 ? 3 : 0;
  using Epilogue = WarpgroupEpilogue<kBlockM, kBlockN, float, kEpiCMode>;
  // The TMA epilogue's extra state leaves the producer one register short of 40 (ptxas
  // spills at 128x96): 48 / 224 then (48·128 + 224·256 <= 168·384).
  constexpr uint32_t kProducerRegs = kTmaEpilogue ? 48 : 40;
  constexpr uint32_t kMathRegs = kTmaEpilogue ? 224 : 232;

  // ---- shared memory (must match the launcher's size formula) -----------------------------
  constexpr uint32_t kABytes = kBlockM * kBlockK;
  constexpr uint32_t kBBytes = kBlockN * kBlockK;
  constexpr uint32_t kSfaBytes = kPerTensor ? 0 : kBlockM * 4;
  constexpr uint32_t kSfbBytes = kPerTensor ? 0 : kBlockN * 4;
  constexpr uint32_t kStageTx = kABytes + kBBytes + kSfaBytes + kSfbBytes;
  constexpr uint32_t kDBytes = kTmaEpilogue ? (Epilogue::kTileBytes + 1023) / 1024 * 1024 : 0;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_d = smem;  // staging tile (kTmaEpilogue)
  uint8_t* smem_a = smem + kDBytes;
  uint8_t* smem_b = smem_a + kNumStages * kABytes;
  float* smem_sfa = reinterpret_cast<float*>(smem_b + kNumStages * kBBytes);
  float* smem_sfb = reinterpret_cast<float*>(smem_b + kNumStages * (kBBytes + kSfaBytes));
  uint64_t* full =
      reinterpret_cast<uint64_t*>(smem_b + kNumStages * (kBBytes + kSfaBytes + kSfbBytes));
  uint64_t* empty = full + kNumStages;
  uint64_t* c_full = empty + kNumStages;  // [2]: each math warpgroup's C load (kTmaEpilogue)

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();

  if (threadIdx.x == kNumMathThreads) {
    if (p.k_total > 0) tma_prefetch_map(&tmap_a);
    if (p.k_total > 0) tma_prefetch_map(&tmap_b);
    if (!kPerTensor && p.k_total > 0) {
      tma_prefetch_map(&tmap_sfa);
      tma_prefetch_map(&tmap_sfb);
    }
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kNumMathThreads / 32);
    }
    if constexpr (kTmaEpilogue) {
      tma_prefetch_map(&tmap_d);
      if constexpr (kEpiCMode == 3) tma_prefetch_map(&tmap_c);
      mbarrier_init(&c_full[0], 1);
      mbarrier_init(&c_full[1], 1);
    }
    fence_barrier_init();
  }
  __syncthreads();
  grid_dependency_wait();

  if (threadIdx.x >= kNumMathThreads) {
    // ---- producer warpgroup (TMA) ---------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_dec<kProducerRegs>();
    if (warp == kNumMathThreads / 32 && elect_one()) {
      Scheduler sched(p.ks, p.ks_stride, p.num_groups, p.m, p.n);
      KGroupedTile t;
      uint32_t stage = 0, phase = 0;
      while (sched.next(t)) {
        for (uint32_t kb = 0; kb < t.num_k_blocks; ++kb) {
          const uint32_t kcol = t.k_begin + kb * kBlockK;
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageTx);
          // A and B maps are rank 3 ({K, rows, 1}, as the M-grouped kernel's).
          tma_load_3d(&tmap_a, &full[stage], smem_a + stage * kABytes,
                      static_cast<int32_t>(kcol), static_cast<int32_t>(t.m0), 0);
          tma_load_3d(&tmap_b, &full[stage], smem_b + stage * kBBytes,
                      static_cast<int32_t>(kcol), static_cast<int32_t>(t.n0), 0);
          if constexpr (!kPerTensor) {
            tma_load_2d(&tmap_sfa, &full[stage], smem_sfa + stage * kBlockM,
                        static_cast<int32_t>(t.m0), static_cast<int32_t>(kcol / kBlockK));
            tma_load_2d(&tmap_sfb, &full[stage], smem_sfb + stage * kBlockN,
                        static_cast<int32_t>(t.n0), static_cast<int32_t>(kcol / kBlockK));
          }
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    }
    __syncwarp();
  } else {
    // ---- math warpgroups (wgmma) ----------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_inc<kMathRegs>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t wg_uniform = warp / 4;  // known warp-uniform: descriptors on uniform registers
    // Descriptors of the ring's first slot (low words; a slot's: + its offset / 16).
    const uint32_t desc_a0 = keep_in_register(wgmma_desc_sw128_lo(smem_a + wg_uniform * 64 * kBlockK));
    const uint32_t desc_b0 = keep_in_register(wgmma_desc_sw128_lo(smem_b));
    // The slots' wgmma descriptors, on the uniform datapath (ptx/wgmma.cuh).
    const WgmmaRingDescs<kABytes, kBBytes, true> ring_desc(desc_a0, desc_b0);
    const uint32_t row_lo = 64 * wg + 16 * (warp % 4) + lane / 4;
    const uint32_t col_q = 2 * (lane % 4);
    Scheduler sched(p.ks, p.ks_stride, p.num_groups, p.m, p.n);
    KGroupedTile t;
    uint32_t stage = 0, phase = 0;  // next slot to issue
    uint32_t rel = 0;               // next slot to promote and release (trails `stage`)
    uint32_t c_phase = 0;
    const bool leader = threadIdx.x % 128 == 0;
    float acc[kNumAcc];
    while (sched.next(t)) {
      // kTmaEpilogue: the tile's rows in the [G·M, N] view of D and C.
      const uint32_t view_m0 = t.group * p.m + t.m0;
      // Loads this warpgroup's C rows into the staging tile (after the previous tile's TMA
      // store has read it): issued once k-block Epilogue::c_prefetch_k_block is on its way.
      auto prefetch_c = [&]() {
        if constexpr (kTmaEpilogue && kEpiCMode == 3) {
          if (leader) Epilogue::load_c_async(&tmap_c, smem_d, wg, view_m0, t.n0, &c_full[wg]);
        }
      };
#pragma unroll
      for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] = 0.0f;
      // Slot scales are read at the promotion (shared memory, after the wgmma): nothing to
      // carry from issue to promotion.
      struct NoScales {};
      auto issue = [&](float (&part)[kNumAcc], NoScales&, uint32_t kb) {
        mbarrier_wait(&full[stage], phase);
        const auto descs = ring_desc.of(stage);
        const uint64_t desc_a = descs.a, desc_b = descs.b;
        fence_operands(part);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kBlockK / 32; ++k)
          Mma::mma(wgmma_desc_advance(desc_a, k * 32), wgmma_desc_advance(desc_b, k * 32),
                   part, k != 0);
        wgmma_commit();
        if (++stage == kNumStages) stage = 0, phase ^= 1;
        if (kb == Epilogue::c_prefetch_k_block(t.num_k_blocks)) prefetch_c();
      };
      // Folds slot `rel`'s finished k-block into acc, then releases the slot (1D1D reads
      // its scales from it).
      auto promote = [&](float (&part)[kNumAcc], const NoScales&) {
        fence_operands(part);
        if constexpr (kPerTensor) {
#pragma unroll
          for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] += part[i];
        } else {
          const float sa_lo = smem_sfa[rel * kBlockM + row_lo];
          const float sa_hi = smem_sfa[rel * kBlockM + row_lo + 8];
          const float2* sb = reinterpret_cast<const float2*>(smem_sfb + rel * kBlockN);
          promote_1d1d<kBlockN, kPipelined != 0>(acc, part, sa_lo, sa_hi, sb, col_q);
        }
        if (lane == 0) mbarrier_arrive(&empty[rel]);
        if (++rel == kNumStages) rel = 0;
      };
      DLG_FP8_K_LOOP(kNumAcc, kPipelined, NoScales, t.num_k_blocks, issue, promote);
      if constexpr (kPerTensor) {
        float s = 1.0f;
        if (p.scale_a) s *= ldg_f32(p.scale_a + static_cast<int64_t>(t.group) * p.scale_a_stride);
        if (p.scale_b) s *= ldg_f32(p.scale_b + static_cast<int64_t>(t.group) * p.scale_b_stride);
#pragma unroll
        for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] *= s;
      }

      if (t.num_k_blocks == 0) prefetch_c();  // an empty group: D = C (or 0)
      if constexpr (kTmaEpilogue) {
        // ---- epilogue: C from the staging tile, D by TMA store ----------------------------
        if constexpr (kEpiCMode == 3) {
          Epilogue::run_smem_c(acc, view_m0, t.n0, smem_d, wg, &tmap_d, &c_full[wg], c_phase);
          c_phase ^= 1;
        } else {
          Epilogue::run(acc, EpilogueC{nullptr, 0}, p.m * p.num_groups, p.n, view_m0, t.n0,
                        smem_d, wg, &tmap_d);
        }
        continue;
      }
      // ---- epilogue: + C, masked f32 stores -----------------------------------------------
      const uint32_t r_lo = t.m0 + row_lo;
      const bool valid_lo = r_lo < p.m, valid_hi = r_lo + 8 < p.m;
      if constexpr (kCMode != 0) {
#pragma unroll
        for (uint32_t i = 0; i < kNumAcc; i += 2) {
          const bool hi = (i / 2) % 2 == 1;
          const uint32_t row = r_lo + (hi ? 8 : 0);
          const uint32_t col = t.n0 + 8 * (i / 4) + col_q;
          if ((hi ? valid_hi : valid_lo) && col < p.n) {
            const int64_t off = static_cast<int64_t>(t.group) * p.c_stride_g +
                                static_cast<int64_t>(row) * p.c_stride_m + col;
            const bool both = col + 1 < p.n;
            if constexpr (kCMode == 1) {
              const uint16_t* c = static_cast<const uint16_t*>(p.c) + off;
              acc[i] += dlg_bf16_bits_to_float(c[0]);
              if (both) acc[i + 1] += dlg_bf16_bits_to_float(c[1]);
            } else {
              const float* c = static_cast<const float*>(p.c) + off;
              if (both) {
                const float2 v = *reinterpret_cast<const float2*>(c);
                acc[i] += v.x;
                acc[i + 1] += v.y;
              } else {
                acc[i] += c[0];
              }
            }
          }
        }
      }
      const uint32_t row0 = t.m0 + 64 * wg;
      float* d = p.d + static_cast<int64_t>(t.group) * p.d_stride_g +
                 static_cast<int64_t>(row0) * p.d_stride_m + t.n0;
      Store::run(acc, d, p.d_stride_m, p.n - t.n0, valid_lo, valid_hi);
    }
    if constexpr (kTmaEpilogue) {
      if (leader) tma_store_wait_all<0>();
    }
  }

  grid_launch_dependents();
#endif
}
