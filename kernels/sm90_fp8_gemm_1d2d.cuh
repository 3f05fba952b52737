// SM90 FP8 GEMM, D = C + (A · Bᵀ) with DeepSeek block scaling (1D2D) or per-tensor scales.
//   A e4m3 [M, K] K-major, B e4m3 [N, K] K-major, D bf16|f32 [M, N] row-major, C optional.
//   1D2D:       sfa f32 [M, ceil(K/128)] MN-major (TMA), sfb f32 [ceil(N/128), ceil(K/128)]
//               (any strides, read from global), result[m,n] = Σ_kb sfa[m,kb]·sfb[n/128,kb]·
//               Σ_{k in kb} a·b.
//   PER_TENSOR: result = scale_a · scale_b · Σ a·b (scales are device scalars, NULL = 1).
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<128, 160, 5, 1, 2, 16, 0, dlg_bf16, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_gemm_1d2d<64, 112, 8, 2, 1, 16, 1, float, 2>
//
// NOTES:
// - Warp specialization: warpgroups 0..kNumMathWG-1 compute (math warpgroup w owns rows
//   [64w, 64w+64) of the tile, one wgmma m64nBLOCK_Nk32 chain each); the last warpgroup is
//   the TMA producer (one elected thread issues every load). With two math warpgroups the
//   registers are rebalanced with setmaxnreg: producer 40, math 232 (40·128 + 232·256 =
//   64512 <= 65536).
// - Pipeline: kNumStages ring slots, each holding A (BLOCK_M x 128 B), B (BLOCK_N x 128 B) and,
//   for 1D2D, the sfa column of the k-block (BLOCK_M f32). full[s]: 1 arrival (producer's
//   arrive.expect_tx of the whole slot's bytes) + TMA bytes; empty[s]: one arrival per math
//   warp of every CTA in the cluster (a slot refilled by multicast is free only when both
//   CTAs have read it). Phases: see ptx/mbarrier.cuh (producer waits empty with phase^1,
//   consumers wait full with phase, both flip phase when the slot index wraps).
// - Promotion (the point of the DeepSeek recipe): each 128-K block is computed by 4 chained
//   wgmma k32 into `partial` (the first with scale-d = 0), then folded into the FP32
//   accumulator: acc += partial · sfa[row] · sfb[col/128] (1D2D) or acc += partial
//   (per-tensor, scaled once in the epilogue). Tensor-core accumulation inside one block only
//   spans 128 products, so the limited-precision FP8 accumulator never sees the full K.
// - sfb: the tile's columns [n0, n0+BLOCK_N) touch up to kMaxSfbBlocks 128-column scale rows;
//   8-column accumulator groups never straddle one (n0 and 128 are multiples of 8), so each
//   group picks its scale with (n0 % 128 + 8j) / 128. The values are plain global loads
//   issued before the full-barrier wait, so their latency hides behind the wait and the MMA.
// - TMA boxes: A {128, BLOCK_M / kClusterN}, B {128, BLOCK_N / kClusterM} with 128B swizzle
//   (descriptor math in ptx/wgmma.cuh), sfa {BLOCK_M, 1} unswizzled, D per epilogue.cuh.
//   Multicast: with kClusterN == 2 the two CTAs share the m-block, each loads half of the A
//   rows into both CTAs (mask 0b11); kClusterM == 2 does the same for B.
// - Tails: out-of-range rows/columns/K are zero-filled by TMA loads and clipped by stores;
//   the host requires K % 16 == 0 and N % 8 == 0 (16-byte TMA row strides).
#pragma once

#include "common/epilogue.cuh"
#include "common/scheduler.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {

// Kernel arguments besides the tensor maps. Mirrored by core/launch/sm90_fp8_gemm.c
// (same field order and types: 80 bytes, natural alignment).
struct Sm90Fp8GemmParams {
  uint32_t m, n, k;
  const float* sfb;       // 1D2D: B block scales
  int64_t sfb_stride_n;   // elements between scale rows (128-column blocks of N)
  int64_t sfb_stride_k;   // elements between k-blocks
  uint32_t sfb_rows;      // ceil(N / 128)
  const float* scale_a;   // per-tensor: device scalars, NULL = 1
  const float* scale_b;
  EpilogueC c;            // C: NULL unless kCMode != 0
};
static_assert(sizeof(Sm90Fp8GemmParams) == 80, "host mirror expects 80 bytes");

// The kernel's parameter list, for explicit instantiations (`template __global__ void
// sm90_fp8_gemm_1d2d<...>(DLG_SM90_FP8_GEMM_SIGNATURE);`): grid-constant tensor maps A, B, sfa, D.
#define DLG_SM90_FP8_GEMM_SIGNATURE                                                     \
  const dlg::Sm90Fp8GemmParams, const __grid_constant__ dlg::ptx::TensorMap,             \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap

// Most 128-column scale blocks a BLOCK_N-wide tile starting at a multiple of BLOCK_N touches.
constexpr uint32_t fp8_max_sfb_blocks(uint32_t block_n) {
  uint32_t most = 1;
  for (uint32_t t = 0; t < 128; ++t) {
    const uint32_t off = (t * block_n) % 128;
    const uint32_t count = (off + block_n - 1) / 128 + 1;
    most = count > most ? count : most;
  }
  return most;
}

}  // namespace dlg

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterM,
          uint32_t kClusterN, uint32_t kGroupN, uint32_t kPerTensor, typename OutT,
          uint32_t kCMode>
__global__ void __launch_bounds__((kBlockM / 64 + 1) * 128, 1)
    sm90_fp8_gemm_1d2d(const dlg::Sm90Fp8GemmParams p,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_sfa,
                       const __grid_constant__ dlg::ptx::TensorMap tmap_d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;

  // ---- static checks ----------------------------------------------------------------------
  static_assert(kBlockM == 64 || kBlockM == 128, "BLOCK_M: 64 or 128 (one m64 per math WG)");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "BLOCK_N: 16..256 step 16");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kClusterM * kClusterN <= 2, "clusters of at most 2 CTAs");
  static_assert((kBlockM / kClusterN) % 8 == 0 && (kBlockN / kClusterM) % 8 == 0,
                "a multicast half must be whole 8-row swizzle atoms");

  // ---- configs ----------------------------------------------------------------------------
  constexpr uint32_t kBlockK = 128;  // bytes of e4m3 per row = one 128B swizzle row
  constexpr uint32_t kNumMathWG = kBlockM / 64;
  constexpr uint32_t kNumMathThreads = kNumMathWG * 128;
  constexpr uint32_t kClusterSize = kClusterM * kClusterN;
  constexpr uint32_t kNumAcc = kBlockN / 2;
  constexpr uint32_t kMaxSfb = fp8_max_sfb_blocks(kBlockN);
  using Mma = WgmmaE4M3<kBlockN>;
  using Epilogue = WarpgroupEpilogue<kBlockM, kBlockN, OutT, kCMode>;
  using Scheduler = PersistentScheduler<kBlockM, kBlockN, kClusterM, kClusterN, kGroupN>;
  static_assert(Mma::kNumAcc == kNumAcc, "accumulator count");

  // ---- shared memory (must match the launcher's size formula) -----------------------------
  constexpr uint32_t kABytes = kBlockM * kBlockK;
  constexpr uint32_t kBBytes = kBlockN * kBlockK;
  constexpr uint32_t kSfaBytes = kPerTensor ? 0 : kBlockM * 4;
  constexpr uint32_t kDBytes = (Epilogue::kTileBytes + 1023) / 1024 * 1024;
  constexpr uint32_t kStageTx = kABytes + kBBytes + kSfaBytes;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_d = smem;
  uint8_t* smem_a = smem_d + kDBytes;
  uint8_t* smem_b = smem_a + kNumStages * kABytes;
  float* smem_sfa = reinterpret_cast<float*>(smem_b + kNumStages * kBBytes);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem_b + kNumStages * (kBBytes + kSfaBytes));
  uint64_t* empty = full + kNumStages;

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();
  const uint32_t num_k_blocks = (p.k + kBlockK - 1) / kBlockK;

  // ---- barriers ---------------------------------------------------------------------------
  if (threadIdx.x == kNumMathThreads) {  // first producer thread
    tma_prefetch_map(&tmap_a);
    tma_prefetch_map(&tmap_b);
    if constexpr (!kPerTensor) tma_prefetch_map(&tmap_sfa);
    tma_prefetch_map(&tmap_d);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kClusterSize * kNumMathThreads / 32);
    }
    fence_barrier_init();
  }
  if constexpr (kClusterSize > 1) cluster_sync();
  else __syncthreads();
  // Everything above touched no global data: wait for the previous grid only now (PDL).
  grid_dependency_wait();

  if (threadIdx.x >= kNumMathThreads) {
    // ---- producer warpgroup (TMA) ---------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_dec<40>();
    if (warp == kNumMathThreads / 32 && elect_one()) {
      const uint32_t rank = kClusterSize > 1 ? cluster_cta_rank() : 0;
      Scheduler sched(p.m, p.n);
      uint32_t m_block, n_block, stage = 0, phase = 0;
      while (sched.next(m_block, n_block)) {
        const int32_t m0 = static_cast<int32_t>(m_block * kBlockM);
        const int32_t n0 = static_cast<int32_t>(n_block * kBlockN);
        for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
          const int32_t k0 = static_cast<int32_t>(kb * kBlockK);
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageTx);
          uint8_t* a_dst = smem_a + stage * kABytes;
          uint8_t* b_dst = smem_b + stage * kBBytes;
          if constexpr (kClusterN == 2) {
            constexpr uint32_t kHalf = kBlockM / 2;
            tma_load_2d_multicast(&tmap_a, &full[stage], a_dst + rank * kHalf * kBlockK, k0,
                                  m0 + static_cast<int32_t>(rank * kHalf), 0x3);
          } else {
            tma_load_2d(&tmap_a, &full[stage], a_dst, k0, m0);
          }
          if constexpr (kClusterM == 2) {
            constexpr uint32_t kHalf = kBlockN / 2;
            tma_load_2d_multicast(&tmap_b, &full[stage], b_dst + rank * kHalf * kBlockK, k0,
                                  n0 + static_cast<int32_t>(rank * kHalf), 0x3);
          } else {
            tma_load_2d(&tmap_b, &full[stage], b_dst, k0, n0);
          }
          if constexpr (!kPerTensor)
            tma_load_2d(&tmap_sfa, &full[stage], smem_sfa + stage * kBlockM, m0,
                        static_cast<int32_t>(kb));
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    }
    __syncwarp();
  } else {
    // ---- math warpgroups (wgmma) ----------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_inc<232>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t row_lo = 64 * wg + 16 * (warp % 4) + lane / 4;  // tile row of acc[4j+0,1]
    float tensor_scale = 1.0f;
    if constexpr (kPerTensor) {
      if (p.scale_a) tensor_scale *= ldg_f32(p.scale_a);
      if (p.scale_b) tensor_scale *= ldg_f32(p.scale_b);
    }
    Scheduler sched(p.m, p.n);
    uint32_t m_block, n_block, stage = 0, phase = 0;
    float partial[kNumAcc], acc[kNumAcc];
    while (sched.next(m_block, n_block)) {
      const uint32_t m0 = m_block * kBlockM, n0 = n_block * kBlockN;
#pragma unroll
      for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] = 0.0f;
      // B-scale rows this tile touches (clamped: a clamped row only feeds clipped columns).
      const uint32_t sfb_off = n0 % 128;
      const float* sfb_row[kMaxSfb];
#pragma unroll
      for (uint32_t s = 0; s < kMaxSfb; ++s) {
        const uint32_t r = min(n0 / 128 + s, p.sfb_rows - 1);
        sfb_row[s] = kPerTensor ? nullptr : p.sfb + static_cast<int64_t>(r) * p.sfb_stride_n;
      }

      for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
        float sfb[kMaxSfb];
        if constexpr (!kPerTensor) {
#pragma unroll
          for (uint32_t s = 0; s < kMaxSfb; ++s)
            sfb[s] = ldg_f32(sfb_row[s] + static_cast<int64_t>(kb) * p.sfb_stride_k);
        }
        mbarrier_wait(&full[stage], phase);
        float sfa_lo = 1.0f, sfa_hi = 1.0f;
        if constexpr (!kPerTensor) {
          sfa_lo = smem_sfa[stage * kBlockM + row_lo];
          sfa_hi = smem_sfa[stage * kBlockM + row_lo + 8];
        }

        const uint64_t desc_a =
            wgmma_desc_sw128(smem_a + stage * kABytes + wg * 64 * kBlockK);
        const uint64_t desc_b = wgmma_desc_sw128(smem_b + stage * kBBytes);
        fence_operands(partial);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kBlockK / 32; ++k)
          Mma::mma(wgmma_desc_advance(desc_a, k * 32), wgmma_desc_advance(desc_b, k * 32),
                   partial, k != 0);
        wgmma_commit();
        wgmma_wait<0>();
        fence_operands(partial);

        // The slot (A, B and sfa) has been read by this warp: release it in every CTA of the
        // cluster (lane r arrives on CTA r's barrier).
        if constexpr (kClusterSize > 1) {
          if (lane < kClusterSize) mbarrier_arrive_cluster(&empty[stage], lane);
        } else {
          if (lane == 0) mbarrier_arrive(&empty[stage]);
        }

        // Promotion into the FP32 accumulators.
        if constexpr (kPerTensor) {
#pragma unroll
          for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] += partial[i];
        } else {
          float scale_lo[kMaxSfb], scale_hi[kMaxSfb];
#pragma unroll
          for (uint32_t s = 0; s < kMaxSfb; ++s) {
            scale_lo[s] = sfa_lo * sfb[s];
            scale_hi[s] = sfa_hi * sfb[s];
          }
#pragma unroll
          for (uint32_t j = 0; j < kBlockN / 8; ++j) {
            float f_lo = scale_lo[0], f_hi = scale_hi[0];
            if constexpr (kMaxSfb > 1) {
              const uint32_t pos = sfb_off + 8 * j;
              if (pos >= 128) f_lo = scale_lo[1], f_hi = scale_hi[1];
              if constexpr (kMaxSfb > 2) {
                if (pos >= 256) f_lo = scale_lo[2], f_hi = scale_hi[2];
              }
            }
            acc[4 * j + 0] = fmaf(partial[4 * j + 0], f_lo, acc[4 * j + 0]);
            acc[4 * j + 1] = fmaf(partial[4 * j + 1], f_lo, acc[4 * j + 1]);
            acc[4 * j + 2] = fmaf(partial[4 * j + 2], f_hi, acc[4 * j + 2]);
            acc[4 * j + 3] = fmaf(partial[4 * j + 3], f_hi, acc[4 * j + 3]);
          }
        }
        if (++stage == kNumStages) stage = 0, phase ^= 1;
      }

      if constexpr (kPerTensor) {
#pragma unroll
        for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] *= tensor_scale;
      }
      Epilogue::run(acc, p.c, p.m, p.n, m0, n0, smem_d, wg, &tmap_d);
    }
    if (threadIdx.x % 128 == 0) tma_store_wait_all<0>();
  }

  grid_launch_dependents();
  // No CTA of a cluster may leave while its peer can still multicast into it or arrive on
  // its barriers. (barrier.cluster is .aligned: reconverge each warp first.)
  if constexpr (kClusterSize > 1) {
    __syncwarp();
    cluster_sync();
  }
#endif
}
