// SM90 BF16 GEMM, D = C + A · Bᵀ, FP32 accumulation in the tensor cores.
//   A bf16 [M, K] K-major, B bf16 [N, K] K-major, D bf16|f32 [M, N] row-major, C optional
//   (bf16|f32 row-major, may alias D).
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<128, 256, 4, 1, 2, 16, dlg_bf16, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<64, 112, 6, 2, 1, 16, float, 1, 0>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<128, 256, 4, 2, 2, 16, dlg_bf16, 0, 1>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<256, 128, 3, 1, 2, 16, dlg_bf16, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<256, 192, 3, 2, 1, 16, dlg_bf16, 0, 0>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<256, 128, 4, 2, 1, 16, float, 0, 1>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<64, 64, 12, 1, 1, 16, dlg_bf16, 0, 1, 4>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<128, 256, 4, 1, 1, 16, float, 2, 1, 2>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<256, 128, 4, 1, 2, 16, dlg_bf16, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<128, 208, 4, 1, 2, 16, float, 2, 2>
// DLG_TEST_INSTANTIATION: sm90_bf16_gemm<64, 112, 6, 1, 1, 16, dlg_bf16, 1, 2>
//
// NOTES:
// - Same skeleton as sm90_fp8_gemm_1d2d.cuh (warp specialization, persistent grouped
//   scheduler, TMA ring of full/empty mbarriers, optional 2-CTA multicast, TMA-store epilogue);
//   see that file and ptx/*.cuh for the barrier phases, descriptors and fragment layout.
// - A k-block is 64 bf16 = 128 bytes of K (one 128B swizzle row), computed by 4 chained
//   wgmma m64nBLOCK_Nk16 advancing the descriptors by 32 bytes each.
// - No promotion is needed (BF16 products accumulate in full FP32), so the accumulators stay
//   in the wgmma registers for the whole K and the math warpgroups keep one wgmma group in
//   flight: after committing k-block i they wait for k-block i-1 (wgmma.wait_group 1) and only
//   then release i-1's slot. The tensor cores thus never idle between k-blocks.
// - Registers: 2 math warpgroups at 232 each hold BLOCK_N/2 <= 128 accumulators.
// - BLOCK_M 256: still two math warpgroups, each with two m64 row blocks ("waves": wave v
//   of warpgroup w holds tile rows [128v + 64w, +64), row block 2v + w) and 2 x BLOCK_N/2
//   accumulators (BLOCK_N <= 192). Both waves' chains of a k-block form one commit group.
//   Per k-block the SM then reads (256 + BLOCK_N) rows for 256 x BLOCK_N of work: less
//   L2 -> SM traffic per FLOP than 128-row tiles.
// - kStore (the epilogue's D path): 0 the whole tile staged in shared memory, one TMA store
//   per slab; 1 direct, no staging tile, the accumulators stored straight to global memory
//   (epilogue.cuh run_direct); 2 the slab ring (epilogue.cuh run_waves_ring: 16 KiB per math
//   warpgroup). 1 and 2 give a 128x256 or 256x128 tile 4 stages instead of 3.
// - kSplitK > 1: split-K across a cluster as in common/fp8_gemm_body.cuh (each CTA of the
//   cluster runs a slice of the tile's k-blocks; partial tiles summed through distributed
//   shared memory by common/split_k.cuh); an empty slice contributes zeros.
#pragma once

#include "common/epilogue.cuh"
#include "common/scheduler.cuh"
#include "common/split_k.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {

// Kernel arguments besides the tensor maps. Mirrored by core/launch/sm90_bf16_gemm.c.
struct Sm90Bf16GemmParams {
  uint32_t m, n, k;
  uint32_t flags;  // kLoadBEvictFirst (common/scheduler.cuh)
  EpilogueC c;  // C: NULL unless kCMode != 0
  void* d;      // D (kStore 1): global pointer and row stride
  int64_t ldd;
};
static_assert(sizeof(Sm90Bf16GemmParams) == 48, "host mirror expects 48 bytes");

// The kernel's parameter list, for explicit instantiations: grid-constant tensor maps A, B, D.
#define DLG_SM90_BF16_GEMM_SIGNATURE                                          \
  const dlg::Sm90Bf16GemmParams, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap

}  // namespace dlg

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterM,
          uint32_t kClusterN, uint32_t kGroupN, typename OutT, uint32_t kCMode, uint32_t kStore,
          uint32_t kSplitK = 1>
__global__ void __launch_bounds__(((kBlockM == 64 ? 1 : 2) + 1) * 128, 1)
    sm90_bf16_gemm(const dlg::Sm90Bf16GemmParams p,
                   const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                   const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                   const __grid_constant__ dlg::ptx::TensorMap tmap_d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;

  // ---- static checks ----------------------------------------------------------------------
  static_assert(kBlockM == 64 || kBlockM == 128 || kBlockM == 256,
                "BLOCK_M: 64, 128 (one m64 per math WG) or 256 (two per math WG)");
  static_assert(kBlockM != 256 || kBlockN <= 192, "BLOCK_M 256: BLOCK_N <= 192 (registers)");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "BLOCK_N: 16..256 step 16");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kClusterM <= 2 && kClusterN <= 2, "clusters of 1x1, 1x2, 2x1 or 2x2 CTAs");
  static_assert((kBlockM / kClusterN) % 8 == 0 && (kBlockN / kClusterM) % 8 == 0,
                "a multicast half must be whole 8-row swizzle atoms");
  static_assert(kSplitK >= 1 && kSplitK <= 8, "split-K: 1..8 CTAs per tile");
  static_assert(kSplitK == 1 || (kClusterM == 1 && kClusterN == 1 && kBlockM <= 128 && kStore == 1),
                "split-K: no multicast cluster, BLOCK_M <= 128, direct stores");

  // ---- configs ----------------------------------------------------------------------------
  constexpr uint32_t kBlockK = 64;         // bf16 elements per k-block
  constexpr uint32_t kRowBytes = 128;      // = kBlockK * 2: one 128B swizzle row
  constexpr uint32_t kNumMathWG = kBlockM == 64 ? 1 : 2;
  constexpr uint32_t kWaves = kBlockM / (64 * kNumMathWG);  // m64 row blocks per math WG
  constexpr uint32_t kNumMathThreads = kNumMathWG * 128;
  constexpr uint32_t kClusterSize = kClusterM * kClusterN;
  constexpr uint32_t kNumPeers = kClusterM + kClusterN - 1;  // CTAs writing into a slot
  constexpr uint32_t kNumAcc = kBlockN / 2;
  using Mma = WgmmaBF16<kBlockN>;
  using Epilogue = WarpgroupEpilogue<kBlockM, kBlockN, OutT, kCMode, kStore == 2 ? 64 : 128>;
  using Scheduler = PersistentScheduler<kBlockM, kBlockN, kClusterM, kClusterN, kGroupN, kSplitK>;
  using Split = SplitKReduce<kBlockM, kBlockN, kSplitK == 1 ? 2 : kSplitK, OutT, kCMode>;
  static_assert(Mma::kNumAcc == kNumAcc, "accumulator count");
  // Split-K: the producer's per-CTA k-range needs registers beyond 40 (as in the FP8 body).
  constexpr uint32_t kProducerRegs = kSplitK > 1 ? 48 : 40;
  constexpr uint32_t kMathRegs = kSplitK > 1 ? 224 : 232;

  // ---- shared memory (must match the launcher's size formula) -----------------------------
  constexpr uint32_t kABytes = kBlockM * kRowBytes;
  constexpr uint32_t kBBytes = kBlockN * kRowBytes;
  static_assert(kCMode <= 2 && kStore <= 2, "modes");
  constexpr uint32_t kDBytes = kStore == 1   ? 0
                               : kStore == 2 ? kNumMathWG * Epilogue::kRingBytesPerWG
                                             : (Epilogue::kTileBytes + 1023) / 1024 * 1024;
  constexpr uint32_t kStageTx = kABytes + kBBytes;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_d = smem;
  uint8_t* smem_a = smem_d + kDBytes;
  uint8_t* smem_b = smem_a + kNumStages * kABytes;
  uint64_t* full = reinterpret_cast<uint64_t*>(smem_b + kNumStages * kBBytes);
  uint64_t* empty = full + kNumStages;
  static_assert(kSplitK == 1 || kNumStages * (kABytes + kBBytes) >= Split::kBytes,
                "split-K: the partial tile lives in the drained pipeline ring");

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();
  // This CTA's k-blocks [kb_begin, kb_begin + num_k_blocks): all, or its split-K slice.
  uint32_t num_k_blocks = (p.k + kBlockK - 1) / kBlockK;
  uint32_t kb_begin = 0;
  if constexpr (kSplitK > 1) Split::k_slice(num_k_blocks, kb_begin);

  // ---- barriers ---------------------------------------------------------------------------
  if (threadIdx.x == kNumMathThreads) {  // first producer thread
    tma_prefetch_map(&tmap_a);
    tma_prefetch_map(&tmap_b);
    if constexpr (kStore != 1) tma_prefetch_map(&tmap_d);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kNumPeers * kNumMathThreads / 32);
    }
    fence_barrier_init();
  }
  if constexpr (kClusterSize > 1) cluster_sync();
  else __syncthreads();
  grid_dependency_wait();  // PDL: first global read comes after this

  if (threadIdx.x >= kNumMathThreads) {
    // ---- producer warpgroup (TMA) ---------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_dec<kProducerRegs>();
    if (warp == kNumMathThreads / 32 && elect_one()) {
      const uint32_t rank = kClusterSize > 1 ? cluster_cta_rank() : 0;
      Scheduler sched(p.m, p.n);
      uint32_t m_block, n_block, stage = 0, phase = 0;
      while (sched.next(m_block, n_block)) {
        const int32_t m0 = static_cast<int32_t>(m_block * kBlockM);
        const int32_t n0 = static_cast<int32_t>(n_block * kBlockN);
        for (uint32_t kb = kb_begin; kb < kb_begin + num_k_blocks; ++kb) {
          const int32_t k0 = static_cast<int32_t>(kb * kBlockK);
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageTx);
          uint8_t* a_dst = smem_a + stage * kABytes;
          uint8_t* b_dst = smem_b + stage * kBBytes;
          // Multicast as in common/fp8_gemm_body.cuh (2x2 clusters share both operands).
          if constexpr (kClusterN == 2) {
            constexpr uint32_t kHalf = kBlockM / 2;
            const uint32_t half = rank / kClusterM;
            const uint16_t mask = static_cast<uint16_t>((1u | (1u << kClusterM)) << (rank % kClusterM));
            tma_load_2d_multicast(&tmap_a, &full[stage], a_dst + half * kHalf * kRowBytes, k0,
                                  m0 + static_cast<int32_t>(half * kHalf), mask);
          } else {
            tma_load_2d(&tmap_a, &full[stage], a_dst, k0, m0);
          }
          if constexpr (kClusterM == 2) {
            constexpr uint32_t kHalf = kBlockN / 2;
            const uint32_t half = rank % kClusterM;
            const uint16_t mask = static_cast<uint16_t>(3u << (rank - half));
            tma_load_2d_multicast(&tmap_b, &full[stage], b_dst + half * kHalf * kRowBytes, k0,
                                  n0 + static_cast<int32_t>(half * kHalf), mask);
          } else {
            tma_load_2d_stream(&tmap_b, &full[stage], b_dst, k0, n0, p.flags & kLoadBEvictFirst);
          }
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    }
    __syncwarp();
    if constexpr (kSplitK > 1) Split::producer_barriers();
  } else {
    // ---- math warpgroups (wgmma) ----------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_inc<kMathRegs>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t wg_uniform = warp / 4;  // known warp-uniform: descriptors on uniform registers
    // Descriptors of the ring's first slot (low words; a slot's: + its offset / 16).
    const uint32_t desc_a0 = keep_in_register(wgmma_desc_sw128_lo(smem_a + 64 * wg_uniform * kRowBytes));
    const uint32_t desc_b0 = keep_in_register(wgmma_desc_sw128_lo(smem_b));
    // Releases slot s for every CTA that writes into it: lane 0 this CTA, lane 1 the A
    // sharer (or the B sharer), lane 2 the B sharer.
    const uint32_t cta_rank = kClusterSize > 1 ? cluster_cta_rank() : 0;
    auto release = [&](uint32_t s) {
      if constexpr (kClusterSize > 1) {
        if (lane < kNumPeers) {
          const uint32_t flip = lane == 0 ? 0 : (lane == 1 && kClusterN == 2 ? kClusterM : 1);
          mbarrier_arrive_cluster(&empty[s], cta_rank ^ flip);
        }
      } else {
        if (lane == 0) mbarrier_arrive(&empty[s]);
      }
    };
    Scheduler sched(p.m, p.n);
    uint32_t m_block, n_block, stage = 0, phase = 0;
    float acc[kWaves][kNumAcc];
    uint32_t ring_pos = 0;  // kStore 2: the warpgroup's next slab-ring buffer
    while (sched.next(m_block, n_block)) {
      const uint32_t m0 = m_block * kBlockM, n0 = n_block * kBlockN;
      uint32_t prev_stage = 0;
      for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
        mbarrier_wait(&full[stage], phase);
        // One math warpgroup: the compiler no longer proves `stage` warp-uniform (descriptors
        // in vector registers, +32..64 R2UR per k-block, SASS); a shfl keeps them uniform.
        const uint32_t su = kNumMathWG == 1 ? warp_uniform(stage) : stage;
        const uint64_t desc_b = wgmma_desc_sw128_at(desc_b0, su * kBBytes);
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w) fence_operands(acc[w]);
        wgmma_fence();
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w) {
          const uint64_t desc_a = wgmma_desc_sw128_at(desc_a0, su * kABytes + 128 * w * kRowBytes);
#pragma unroll
          for (uint32_t k = 0; k < kBlockK / 16; ++k)
            Mma::template mma<0, 0>(wgmma_desc_advance(desc_a, k * 32),
                                    wgmma_desc_advance(desc_b, k * 32), acc[w],
                                    kb != 0 || k != 0);
        }
        wgmma_commit();
        wgmma_wait<1>();  // k-block kb-1 is done reading its slot
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w) fence_operands(acc[w]);
        if (kb != 0) release(prev_stage);
        prev_stage = stage;
        if (++stage == kNumStages) stage = 0, phase ^= 1;
      }
      wgmma_wait<0>();
#pragma unroll
      for (uint32_t w = 0; w < kWaves; ++w) fence_operands(acc[w]);
      if (num_k_blocks != 0) release(prev_stage);
      if constexpr (kSplitK > 1) {
        if (num_k_blocks == 0) {  // an empty k-slice: its partial tile is zero
#pragma unroll
          for (uint32_t i = 0; i < kNumAcc; ++i) acc[0][i] = 0.0f;
        }
        // Both warpgroups' wgmma are done with the ring before it takes the partial tile.
        named_barrier_sync(3, kNumMathThreads);
        Split::write(acc[0], reinterpret_cast<float*>(smem_a),
                     64 * wg + 16 * (warp % 4) + lane / 4, 2 * (lane % 4));
      } else if constexpr (kStore == 1) {
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w)
          Epilogue::run_direct(acc[w], p.c, p.m, p.n, m0, n0, 2 * w + wg, p.d, p.ldd);
      } else if constexpr (kStore == 2) {
        Epilogue::run_waves_ring(acc, p.c, p.m, p.n, m0, n0, smem_d, wg, &tmap_d, ring_pos);
      } else {
        Epilogue::run_waves(acc, p.c, p.m, p.n, m0, n0, smem_d, wg, &tmap_d);
      }
    }
    if constexpr (kStore != 1) {
      if (threadIdx.x % 128 == 0) tma_store_wait_all<0>();
    }
    if constexpr (kSplitK > 1)
      Split::template reduce_tile_in_cluster<kNumMathThreads, Scheduler>(
          p, reinterpret_cast<const float*>(smem_a));
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
