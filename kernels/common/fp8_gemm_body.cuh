// Body of the SM90 FP8 GEMM kernels (sm90_fp8_gemm_1d2d.cuh: 1D2D and per-tensor scales;
// sm90_fp8_gemm_1d1d.cuh: 1D1D), D = C + A · Bᵀ with FP32 promotion once per 128-K block.
//   A e4m3 [M, K] K-major, B e4m3 [N, K] K-major, D bf16|f32 [M, N] row-major, C optional.
//
// NOTES:
// - Warp specialization: warpgroups 0..kNumMathWG-1 compute (math warpgroup w owns rows
//   [64w, 64w+64) of the tile, one wgmma m64nBLOCK_Nk32 chain each); the last warpgroup is
//   the TMA producer (one elected thread issues every load). BLOCK_M 256 keeps two math
//   warpgroups and gives each two m64 row blocks ("waves": wave v of warpgroup w holds tile
//   rows [128v + 64w, +64), row block 2v + w): the same SM work per k-block moves a third
//   less L2 -> SM traffic than two 128-row tiles (the A tile is shared by twice the
//   columns... and B by twice the rows), which is what bounds the large shapes at 128x128.
//   It runs the waves one after the other (chain, wait, promote: acc 2 x BLOCK_N/2 + one
//   partial set of BLOCK_N/2 registers) and relies on the other warpgroup's chain to keep
//   the tensor cores busy during a promotion. 1D1D (which reads its scales from the slot
//   during the promotion, so releases the slot after the last wave's) takes 256-row tiles
//   only with the slab-ring epilogue, no C and a 2-CTA cluster: every other instance
//   nvrtc_test compiled used local memory (the launcher's search knows). With two math
//   warpgroups the registers are rebalanced with setmaxnreg: producer 40, math 232 (40·128 + 232·256 =
//   64512 <= 65536).
// - Pipeline: kNumStages ring slots, each holding A (BLOCK_M x 128 B), B (BLOCK_N x 128 B),
//   the sfa column of the k-block (BLOCK_M f32: 1D2D, 1D1D) and the sfb column (BLOCK_N f32:
//   1D1D). full[s]: 1 arrival (producer's arrive.expect_tx of the whole slot's bytes) + TMA
//   bytes; empty[s]: one arrival per math warp of every CTA that writes into the slot (a
//   slot refilled by multicast is free only when all its readers have read it; see the
//   multicast note). Phases: see ptx/mbarrier.cuh.
// - Promotion (the point of the DeepSeek recipes): each 128-K block is computed by 4 chained
//   wgmma k32 into a `partial` set (the first with scale-d = 0), then folded into the FP32
//   accumulators on the CUDA cores:
//     1D2D:       acc += partial · sfa[row] · sfb[col / 128]
//     1D1D:       acc += partial · sfa[row] · sfb[col]
//     per-tensor: acc += partial (scaled once in the epilogue)
//   so the tensor cores' limited-precision accumulation never spans more than 128 products.
// - The k-block loop is common/fp8_k_loop.cuh (shared with the grouped kernels).
//   kPipelined = 1 hides the promotion behind the tensor cores inside each warpgroup: two
//   partial sets alternate (even k-blocks -> part0, odd -> part1); k-block kb+1 is issued
//   before k-block kb is promoted (wgmma.wait_group 1), so the tensor cores always hold the
//   next k-block while the CUDA cores promote the previous one. Costs BLOCK_N/2 registers
//   more: 3 · BLOCK_N/2 must fit 232 (two math warpgroups, BLOCK_N <= 128) or 255 (one,
//   BLOCK_N <= 144). kPipelined = 0: one partial set, wait_group 0 then promote (the tensor
//   cores then rely on the other warpgroup's wgmma to stay busy); allows BLOCK_N up to 208.
// - A slot is released (empty arrival) as soon as its wgmma chain has completed: 1D2D reads
//   the slot's scales into registers before waiting on the chain (see the scale-reads note;
//   per-tensor reads none), so the release goes before the promotion and the producer refills the slot a promotion
//   earlier. 1D1D reads its scales from the slot during the promotion and releases after it.
//   mbarrier.arrive has release semantics: the reads are ordered before the refill.
// - 1D2D sfb: the tile's columns touch up to kMaxSfb 128-column scale rows; 8-column
//   accumulator groups never straddle one (n0 and 128 are multiples of 8), so group j picks
//   its scale with (n0 % 128 + 8j) / 128. The kMaxSfb values of a k-block ride in the slot
//   (16 bytes): the producer copies them with 4-byte cp.async (a TMA box is 16 bytes at
//   least, and sfb takes any strides) and cp.async.mbarrier.arrive counts them into the
//   full barrier (2 arrivals: expect_tx + the copies). The copies come from a second
//   producer warp with its own pass over the tiles: in the TMA thread their addresses
//   overflowed the producer's 40 registers. The math warps thus never wait on a
//   global load: plain loads issued one k-block ahead left their L2 latency partly exposed.
// - 1D2D scale reads (shared memory, per k-block: the B scales and the thread's A scales, 2
//   or 4 floats): volatile loads from a per-thread address with the row offsets as
//   immediates, issued after the wave's wgmma chain where nothing is pipelined (ptxas hoists
//   plain loads and the scale products between the chain's wgmma or the slot wait and the
//   first one, where the math warps' serial path waits on them). H100, BLOCK_M 256 tiles,
//   A/B in one build: 4096x4096x7168 176.5 -> 174.8 us, 8192^3 794 -> 786; the per-tensor
//   kernel (no scale reads) runs the same tiles in 167 / 746, scales held in registers
//   (measurement only) in 172 / 771. Reading the next k-block's scales ahead (its slot waited
//   for during the current chain) cost 8 % (3 stages: the slot is often not full yet).
// - wgmma descriptors: a slot's differ from the ring's first slot's only in the start
//   address (low word), so the math warps keep those two words (kept opaque in registers:
//   else the compiler rebuilt them from the shared-memory base every k-block) and add the
//   slot's offset: ~8 uniform instructions less per operand and k-block on the math warps'
//   serial path between the full-barrier wait and the first wgmma (H100, A/B in one build:
//   1D1D +1.0 %, 1D2D / per-tensor M = 4096 +0.7..1.3 %).
// - Pipelined loops form the next slot's descriptors when the stage advances (kept in
//   registers), so only the wgmma issue follows the full-barrier wait (before: ~12 dependent
//   uniform instructions there). H100, A/B in one build, kernel us: FP8 1D2D 128x2112x7168
//   11.9 -> 11.3, 128x4096x7168 15.9 -> 15.7 (per-tensor 11.4 -> 11.0); against 12443b7 over
//   M = 64 / 128 (two rounds): 1D2D +1.4 %, per-tensor +1.1 % geomean, 64x2112x7168 +3 %.
//   Not in the other loops: there ptxas then moved the scale loads and products between
//   the chain's wgmma (the products wait on the loads before the second wgmma issues):
//   M = 4096 1D2D 2-3 % slower, per-tensor ~1 %. The grouped kernels' loops alike: K-grouped
//   2 % slower, masked m = 20 unchanged, so they form them after the wait.
// - TMA boxes: A {128, BLOCK_M / kClusterN}, B {128, BLOCK_N / kClusterM} with 128B swizzle
//   (descriptor math in ptx/wgmma.cuh); sfa {BLOCK_M, 1} and sfb {BLOCK_N, 1} unswizzled
//   boxes of the MN-major [K/128, M|N] scale matrices; D and C per epilogue.cuh.
//   Multicast: with kClusterN == 2 the two CTAs of a cluster column share the m-block, each
//   loads half of the A rows into both; kClusterM == 2 does the same for B within a cluster
//   row; a 2x2 cluster does both (each CTA loads half its A and half its B: a third less
//   L2 -> SM traffic than one shared operand, which is what bounds the large shapes). A
//   CTA's slot is written by itself and by its A and B sharers, so its empty barrier counts
//   the math warps of all of them (kNumPeers CTAs).
// - kCMode 3 (C has D's dtype and TMA-compatible strides): the leader thread of each math
//   warpgroup prefetches its 64 rows of C into the D staging tile after issuing the tile's
//   k-block Epilogue::c_prefetch_k_block (pipelined tiles: k-block 0), signalled by
//   c_full[wg]; the epilogue adds C from shared memory. So the C traffic of weight-gradient
//   GEMMs overlaps the mainloop instead of stalling the epilogue.
// - kStore = 1 (direct): no D staging tile; each thread stores its accumulator pairs straight to
//   global memory (epilogue.cuh run_direct). The staging tile's shared memory (32 KiB for a
//   128x128 bf16 tile) buys one more pipeline stage, which the latency-bound large shapes
//   need more than coalesced stores. kStore = 2: the slab ring (epilogue.cuh
//   run_waves_ring): TMA stores through 16 KiB per math warpgroup, the stage without giving
//   up the TMA store (a 256x128 bf16 tile: 4 stages instead of 3). No TMA C prefetch there.
// - kSplitK > 1 (common/split_k.cuh): the kSplitK CTAs of a cluster share one tile, CTA r
//   running the r-th slice of its k-blocks (cluster rank r; not persistent, no multicast),
//   then sum their partial tiles through distributed shared memory and store D directly.
//   For one-wave grids at small M, where the A re-reads of small tiles bound the k-loop.
// - Tails: out-of-range rows/columns/K are zero-filled by TMA loads (scales included) and
//   clipped by stores.
// - B's loads are evict-first in L2 when the launcher sets kLoadBEvictFirst: at most two tile
//   rows read each B operand, or one wave (dlg_sm90_load_flags), so a B line is dead once its
//   one or two readers have it. A/B on the H100 (L2 flushed, kernel us, hint off -> on):
//   128x4096x7168 18.5 -> 15.7, 128x7168x16384 53.7 -> 49.7, 128x2112x7168 12.7 -> 11.9,
//   256x4096x7168 23.1 -> 18.8 (BF16 and per-tensor alike), none slower at M <= 512; with the
//   hint at M = 4096 (B re-read by 32 tile rows over several waves) +2..27 %. Presumably the
//   streamed B lines otherwise push out A's, which every tile of the row re-reads; hinting A
//   evict-last changed nothing.
// - kGrouped (kernels/sm90_fp8_m_grouped_gemm.cuh: MoE M-grouped, contiguous or masked): the
//   tiles come from common/contiguous_tiles.cuh's schedulers with their groups (TileGroups);
//   B (and, masked, A and sfa) are loaded with 3D maps at the group's coordinate, sfb from the
//   group's block; a BLOCK_M 256 tile whose 128-row halves hold two groups runs the k-loop
//   once per group ("rounds", each computing its half's wave only); the epilogue leaves rows
//   outside the group untouched (masked_waves_epilogue). The rounds' wave sets come from a
//   shfl and each set has its own compile-time k-loop: data-dependent branches would
//   otherwise make `stage` divergent to the compiler (descriptors in vector registers).
#pragma once

#include "common/contiguous_tiles.cuh"
#include "common/epilogue.cuh"
#include "common/fp8_k_loop.cuh"
#include "common/fp8_promote.cuh"
#include "common/scheduler.cuh"
#include "common/split_k.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {

// Scale recipes of the FP8 kernels (kScaleMode).
constexpr uint32_t kFp8Scale1D2D = 0;       // sfa per (row, k-block); sfb per (128 cols, k-block)
constexpr uint32_t kFp8ScalePerTensor = 1;  // device scalars (NULL = 1), applied at the end
constexpr uint32_t kFp8Scale1D1D = 2;       // sfa per (row, k-block); sfb per (col, k-block)

// Kernel arguments besides the tensor maps. Mirrored by core/launch/sm90_fp8_gemm.c and
// core/launch/sm90_grouped_gemm.c (same field order and types: 136 bytes, natural alignment).
struct Sm90Fp8GemmParams {
  uint32_t m, n, k;
  const float* sfb;       // 1D2D: B block scales
  int64_t sfb_stride_n;   // elements between scale rows (128-column blocks of N)
  int64_t sfb_stride_k;   // elements between k-blocks
  uint32_t sfb_rows;      // ceil(N / 128)
  const float* scale_a;   // per-tensor: device scalars, NULL = 1
  const float* scale_b;
  EpilogueC c;            // C (kCMode 1, 2): global pointer and row stride
  void* d;                // D (kStore 1, kGrouped): global pointer and row stride
  int64_t ldd;
  // kGrouped (M-grouped): row ids [M] | offsets [G + 1] | masked_m [G]; B is [G, N, K] (3D
  // map); masked: A, sfa 3D maps {.., max_m = m, G}, D rows g * m + row.
  const int32_t* layout;
  int64_t layout_stride;
  int64_t sfb_stride_g;   // 1D2D: elements between groups' sfb; per-tensor: between scale_b
  uint32_t num_groups;
  uint32_t flags;        // kLoadBEvictFirst (common/scheduler.cuh)
  int64_t scale_a_stride_g;  // per-tensor masked: elements between groups' scale_a
};
static_assert(sizeof(Sm90Fp8GemmParams) == 136, "host mirror expects 136 bytes");

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

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kClusterM,
          uint32_t kClusterN, uint32_t kGroupN, uint32_t kScaleMode, typename OutT,
          uint32_t kCMode, uint32_t kPipelined, uint32_t kStore, uint32_t kSplitK = 1,
          uint32_t kGrouped = 0>
DLG_DEVICE void sm90_fp8_gemm_body(const Sm90Fp8GemmParams p, const ptx::TensorMap* tmap_a,
                                   const ptx::TensorMap* tmap_b, const ptx::TensorMap* tmap_sfa,
                                   const ptx::TensorMap* tmap_sfb, const ptx::TensorMap* tmap_d,
                                   const ptx::TensorMap* tmap_c) {
  using namespace dlg::ptx;

  // ---- static checks ----------------------------------------------------------------------
  static_assert(kBlockM == 64 || kBlockM == 128 || kBlockM == 256,
                "BLOCK_M: 64, 128 (one m64 per math WG) or 256 (two per math WG)");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "BLOCK_N: 16..256 step 16");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kClusterM <= 2 && kClusterN <= 2, "clusters of 1x1, 1x2, 2x1 or 2x2 CTAs");
  static_assert((kBlockM / kClusterN) % 8 == 0 && (kBlockN / kClusterM) % 8 == 0,
                "a multicast half must be whole 8-row swizzle atoms");
  static_assert(kScaleMode <= 2 && kCMode <= 3 && kPipelined <= 1 && kStore <= 2, "modes");
  static_assert(!(kStore != 0 && kCMode == 3), "C through TMA needs the staging tile");
  static_assert(kSplitK >= 1 && kSplitK <= 8, "split-K: 1..8 CTAs per tile");
  static_assert(kSplitK == 1 || (kClusterM == 1 && kClusterN == 1 && kBlockM <= 128 && kStore == 1 &&
                                 kScaleMode != kFp8Scale1D1D),
                "split-K: no multicast cluster, BLOCK_M <= 128, direct stores, 1D2D or per-tensor");
  // kGrouped: 0 dense, 1 + GroupedMode (M-grouped: 1 contiguous row ids, 2 contiguous
  // offsets, 3 masked).
  static_assert(kGrouped <= 3, "kGrouped: 0, 1 (row ids), 2 (offsets) or 3 (masked)");
  constexpr bool kMasked = kGrouped == 3;
  static_assert(!kGrouped || (kClusterM == 1 && kSplitK == 1 && kStore == 0 && kCMode == 0 &&
                              kScaleMode != kFp8Scale1D1D && sizeof(OutT) == 2),
                "M-grouped: no B multicast (rows of a cluster pair may differ in group), staged "
                "bf16 D without C, 1D2D or per-tensor");

  // ---- configs ----------------------------------------------------------------------------
  constexpr uint32_t kBlockK = 128;  // bytes of e4m3 per row = one 128B swizzle row
  constexpr uint32_t kNumMathWG = kBlockM == 64 ? 1 : 2;
  constexpr uint32_t kWaves = kBlockM / (64 * kNumMathWG);  // m64 row blocks per math WG
  constexpr uint32_t kNumMathThreads = kNumMathWG * 128;
  constexpr uint32_t kClusterSize = kClusterM * kClusterN;
  // CTAs that write into this CTA's slots (itself, the A sharer, the B sharer): each must
  // free a slot before any of them refills it.
  constexpr uint32_t kNumPeers = kClusterM + kClusterN - 1;
  constexpr uint32_t kNumAcc = kBlockN / 2;
  constexpr bool k1D2D = kScaleMode == kFp8Scale1D2D;
  constexpr bool k1D1D = kScaleMode == kFp8Scale1D1D;
  constexpr bool kPerTensor = kScaleMode == kFp8ScalePerTensor;
  // B's loads may be evict-first (p.flags, see NOTES) where the producer warp has the
  // registers for the policy: not in the 1D1D and A-multicast instances (40-register
  // producers: nvrtc_test found spills), large-M kernels that ignore the flag.
  constexpr bool kBHint = !k1D1D && kClusterN == 1;
  constexpr uint32_t kMaxSfb = k1D2D ? fp8_max_sfb_blocks(kBlockN) : 1;
  using Mma = WgmmaE4M3<kBlockN>;
  using Epilogue = WarpgroupEpilogue<kBlockM, kBlockN, OutT, kCMode, kStore == 2 ? 64 : 128>;
  using DenseScheduler =
      PersistentScheduler<kBlockM, kBlockN, kClusterM, kClusterN, kGroupN, kSplitK>;
  using GroupedScheduler = Select<
      kMasked, MaskedTileScheduler<kBlockM, kBlockN, kClusterN, kGroupN>,
      ContiguousTileScheduler<kBlockM, kBlockN, kClusterN, kGroupN, kGrouped == 2 ? 1 : 0>>;
  using Scheduler = Select<kGrouped != 0, GroupedScheduler, DenseScheduler>;
  using Split = SplitKReduce<kBlockM, kBlockN, kSplitK == 1 ? 2 : kSplitK, OutT,
                             kCMode <= 2 ? kCMode : 0>;
  static_assert(Mma::kNumAcc == kNumAcc, "accumulator count");
  static_assert(kWaves == 1 || (!kPipelined && kCMode != 3 && kBlockN <= 128 && sizeof(OutT) == 2),
                "BLOCK_M 256: bf16 D, not pipelined, no TMA C prefetch, BLOCK_N <= 128 (registers)");
  // Two math warpgroups: the producer gives registers to the math warpgroups (launch: 168 x
  // 384 = 64512 = 40·128 + 232·256). (24/240 spills in the producer: measured by ptxas.)
  // Split-K: the producer's k-range is per CTA (a register more than 40 leave it) -> 48 / 224
  // (48·128 + 224·256 = 63488 <= 64512).
  // M-grouped: the producer's tile groups and rounds spilled at 40 (9 words, nvrtc_test) -> the same.
  constexpr uint32_t kProducerRegs = kSplitK > 1 || kGrouped ? 48 : 40;
  constexpr uint32_t kMathRegs = kSplitK > 1 || kGrouped ? 224 : 232;

  // ---- shared memory (must match the launcher's size formula) -----------------------------
  constexpr uint32_t kABytes = kBlockM * kBlockK;
  constexpr uint32_t kBBytes = kBlockN * kBlockK;
  constexpr uint32_t kSfaBytes = kPerTensor ? 0 : kBlockM * 4;
  // TMA writes shared memory at 128-byte aligned addresses: the sfb column is padded.
  constexpr uint32_t kSfbBytes = k1D1D ? (kBlockN * 4 + 127) / 128 * 128 : 0;
  constexpr uint32_t kSfbTx = k1D1D ? kBlockN * 4 : 0;
  // 1D2D: the k-block's kMaxSfb (<= 3) B block scales, copied by the producer (cp.async).
  constexpr uint32_t kSfbValBytes = k1D2D ? 16 : 0;
  static_assert(kMaxSfb * 4 <= 16, "B scale values of a k-block fit 16 bytes");
  constexpr uint32_t kDBytes = kStore == 1   ? 0
                               : kStore == 2 ? kNumMathWG * Epilogue::kRingBytesPerWG
                                             : (Epilogue::kTileBytes + 1023) / 1024 * 1024;
  constexpr uint32_t kStageTx = kABytes + kBBytes + kSfaBytes + kSfbTx;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_d = smem;
  uint8_t* smem_a = smem_d + kDBytes;
  uint8_t* smem_b = smem_a + kNumStages * kABytes;
  float* smem_sfa = reinterpret_cast<float*>(smem_b + kNumStages * kBBytes);
  float* smem_sfb = reinterpret_cast<float*>(smem_b + kNumStages * (kBBytes + kSfaBytes));
  float* smem_sfb_val =
      reinterpret_cast<float*>(smem_b + kNumStages * (kBBytes + kSfaBytes + kSfbBytes));
  uint64_t* full = reinterpret_cast<uint64_t*>(
      smem_b + kNumStages * (kBBytes + kSfaBytes + kSfbBytes + kSfbValBytes));
  uint64_t* empty = full + kNumStages;
  uint64_t* c_full = empty + kNumStages;  // [2]: C prefetch of each math warpgroup (kCMode 3)
  static_assert(kSplitK == 1 || kNumStages * (kABytes + kBBytes) >= Split::kBytes,
                "split-K: the partial tile lives in the drained pipeline ring");

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();
  // This CTA's k-blocks [kb_begin, kb_begin + num_k_blocks): all of them, or with split-K
  // the slice of its cluster rank (possibly empty).
  uint32_t num_k_blocks = (p.k + kBlockK - 1) / kBlockK;
  uint32_t kb_begin = 0;
  if constexpr (kSplitK > 1) Split::k_slice(num_k_blocks, kb_begin);
  // Every warp role walks its own scheduler over the same tiles. kGrouped: a tile's groups
  // (TileGroups) and the k-loops ("rounds", one group each) it takes; dense: one round.
  auto make_scheduler = [&]() {
    if constexpr (kGrouped) return Scheduler(p.layout, p.layout_stride, p.num_groups, p.m, p.n);
    else return Scheduler(p.m, p.n);
  };
  auto next_tile = [&](Scheduler& sched, uint32_t& m_block, uint32_t& n_block, TileGroups& tg) {
    if constexpr (kGrouped) return sched.next(m_block, n_block, tg);
    else return sched.next(m_block, n_block);
  };
  auto num_rounds = [&](const TileGroups& tg) -> uint32_t {
    if constexpr (kGrouped && kWaves > 1) return tg.rounds();
    else return 1;
  };

  // ---- barriers ---------------------------------------------------------------------------
  if (threadIdx.x == kNumMathThreads) {  // first producer thread
    tma_prefetch_map(tmap_a);
    tma_prefetch_map(tmap_b);
    if constexpr (!kPerTensor) tma_prefetch_map(tmap_sfa);
    if constexpr (k1D1D) tma_prefetch_map(tmap_sfb);
    if constexpr (kStore != 1) tma_prefetch_map(tmap_d);
    if constexpr (kCMode == 3) tma_prefetch_map(tmap_c);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&full[s], k1D2D ? 2 : 1);  // 1D2D: + the sfb cp.async arrival
      mbarrier_init(&empty[s], kNumPeers * kNumMathThreads / 32);
    }
    mbarrier_init(&c_full[0], 1);
    mbarrier_init(&c_full[1], 1);
    fence_barrier_init();
  }
  if constexpr (kClusterSize > 1) cluster_sync();
  else __syncthreads();
  // Everything above touched no global data: wait for the previous grid only now (PDL).
  grid_dependency_wait();

  if (threadIdx.x >= kNumMathThreads) {
    // ---- producer warpgroup (TMA) ---------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_dec<kProducerRegs>();
    if (warp == kNumMathThreads / 32 && elect_one()) {
      const uint32_t rank = kClusterSize > 1 ? cluster_cta_rank() : 0;
      Scheduler sched = make_scheduler();
      TileGroups tg;
      uint32_t m_block, n_block, stage = 0, phase = 0;
      while (next_tile(sched, m_block, n_block, tg)) {
        const int32_t m0 = static_cast<int32_t>(m_block * kBlockM);
        const int32_t n0 = static_cast<int32_t>(n_block * kBlockN);
        for (uint32_t round = 0; round < num_rounds(tg); ++round)
        for (uint32_t kb = kb_begin; kb < kb_begin + num_k_blocks; ++kb) {
          const int32_t k0 = static_cast<int32_t>(kb * kBlockK);
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageTx);
          uint8_t* a_dst = smem_a + stage * kABytes;
          uint8_t* b_dst = smem_b + stage * kBBytes;
          // Rank r holds block (r % kClusterM, r / kClusterM) of the cluster tile: it loads
          // half r / kClusterM of the A rows for its cluster column and half r % kClusterM
          // of the B rows for its cluster row.
          // (masked: A is [G, max_m, K], a 3D map; m0 is within the group)
          const int32_t a_group = kMasked ? tg.g[0] : 0;
          if constexpr (kClusterN == 2) {
            constexpr uint32_t kHalf = kBlockM / 2;
            const uint32_t half = rank / kClusterM;
            const uint16_t mask = static_cast<uint16_t>((1u | (1u << kClusterM)) << (rank % kClusterM));
            const int32_t row = m0 + static_cast<int32_t>(half * kHalf);
            if constexpr (kMasked)
              tma_load_3d_multicast(tmap_a, &full[stage], a_dst + half * kHalf * kBlockK, k0, row,
                                    a_group, mask);
            else
              tma_load_2d_multicast(tmap_a, &full[stage], a_dst + half * kHalf * kBlockK, k0,
                                    row, mask);
          } else if constexpr (kMasked) {
            tma_load_3d(tmap_a, &full[stage], a_dst, k0, m0, a_group);
          } else {
            tma_load_2d(tmap_a, &full[stage], a_dst, k0, m0);
          }
          if constexpr (kGrouped) {
            tma_load_3d_stream(tmap_b, &full[stage], b_dst, k0, n0, tg.round_group(round),
                               kBHint && (p.flags & kLoadBEvictFirst));
          } else if constexpr (kClusterM == 2) {
            constexpr uint32_t kHalf = kBlockN / 2;
            const uint32_t half = rank % kClusterM;
            const uint16_t mask = static_cast<uint16_t>(3u << (rank - half));
            tma_load_2d_multicast(tmap_b, &full[stage], b_dst + half * kHalf * kBlockK, k0,
                                  n0 + static_cast<int32_t>(half * kHalf), mask);
          } else {
            tma_load_2d_stream(tmap_b, &full[stage], b_dst, k0, n0,
                               kBHint && (p.flags & kLoadBEvictFirst));
          }
          if constexpr (!kPerTensor && kMasked)
            tma_load_3d(tmap_sfa, &full[stage], smem_sfa + stage * kBlockM, m0,
                        static_cast<int32_t>(kb), a_group);
          else if constexpr (!kPerTensor)
            tma_load_2d(tmap_sfa, &full[stage], smem_sfa + stage * kBlockM, m0,
                        static_cast<int32_t>(kb));
          if constexpr (k1D1D)
            tma_load_2d(tmap_sfb, &full[stage], smem_sfb + stage * (kSfbBytes / 4), n0,
                        static_cast<int32_t>(kb));
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    } else if (k1D2D && warp == kNumMathThreads / 32 + 1 && elect_one()) {
      // 1D2D: the next producer warp fills the slots' B-scale values (see the NOTES).
      Scheduler sched = make_scheduler();
      TileGroups tg;
      uint32_t m_block, n_block, stage = 0, phase = 0;
      while (next_tile(sched, m_block, n_block, tg)) {
#pragma unroll 1
        for (uint32_t round = 0; round < num_rounds(tg); ++round) {
          // Element offsets of the B-scale rows this tile touches (clamped: a clamped row only
          // feeds clipped columns), in its group's block (kGrouped); 32 bits: the launcher
          // checks the span of sfb fits.
          const uint32_t group_off =
              kGrouped ? static_cast<uint32_t>(tg.round_group(round)) * static_cast<uint32_t>(p.sfb_stride_g) : 0u;
          uint32_t sfb_row[kMaxSfb];
#pragma unroll
          for (uint32_t s = 0; s < kMaxSfb; ++s)
            sfb_row[s] = group_off + min(n_block * kBlockN / 128 + s, p.sfb_rows - 1) *
                                         static_cast<uint32_t>(p.sfb_stride_n);
#pragma unroll 1
          for (uint32_t kb = kb_begin; kb < kb_begin + num_k_blocks; ++kb) {
            const uint32_t off = kb * static_cast<uint32_t>(p.sfb_stride_k);
            mbarrier_wait(&empty[stage], phase ^ 1);
#pragma unroll
            for (uint32_t s = 0; s < kMaxSfb; ++s)
              cp_async_4(smem_sfb_val + stage * 4 + s, p.sfb + (sfb_row[s] + off));
            mbarrier_arrive_cp_async(&full[stage]);
            if (++stage == kNumStages) stage = 0, phase ^= 1;
          }
        }
      }
    }
    __syncwarp();
    // Split-K: the producer warps take part in the math warps' two cluster barriers (the
    // reduction itself runs on the math warps: code after a join would have to fit the
    // producer's 40 registers).
    if constexpr (kSplitK > 1) Split::producer_barriers();
  } else {
    // ---- math warpgroups (wgmma) ----------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_inc<kMathRegs>();
    const uint32_t wg = threadIdx.x / 128;
    // The same, known warp-uniform (from a shfl): the wgmma descriptors computed from it stay
    // on the uniform datapath (else ~30 instructions more per k-block: vector math + R2UR).
    const uint32_t wg_uniform = warp / 4;
    const uint32_t row_lo = 64 * wg + 16 * (warp % 4) + lane / 4;  // tile row of acc[4j+0,1]
    const uint32_t col_q = 2 * (lane % 4);                         // tile column of acc[0]
    const bool leader = threadIdx.x % 128 == 0;
    // 1D2D: shared addresses of this thread's first A scale (row_lo) and the B scale values
    // in the ring's first slot.
    const uint32_t sfa_thread_addr = smem_addr(smem_sfa + row_lo);
    const uint32_t smem_sfb_addr = smem_addr(smem_sfb_val);
    uint32_t ring_pos = 0;  // kStore 2: the warpgroup's next slab-ring buffer
    // wgmma descriptors (low words) of the ring's first slot (this warpgroup's A rows, B): a
    // slot's are these plus its byte offset / 16 (see NOTES).
    const uint32_t desc_a0 = keep_in_register(wgmma_desc_sw128_lo(smem_a + 64 * wg_uniform * kBlockK));
    const uint32_t desc_b0 = keep_in_register(wgmma_desc_sw128_lo(smem_b));
    // The CTA whose empty barriers this lane arrives on (lanes < kNumPeers): lane 0 this
    // CTA, lane 1 the A sharer (other cluster row: flips bit log2(kClusterM)) or else the B
    // sharer, lane 2 the B sharer (flips bit 0).
    uint32_t peer = 0;
    if constexpr (kClusterSize > 1)
      peer = cluster_cta_rank() ^ (lane == 0 ? 0 : (lane == 1 && kClusterN == 2 ? kClusterM : 1));
    float tensor_scale = 1.0f;
    if constexpr (kPerTensor) {
      if (p.scale_a && !kMasked) tensor_scale *= ldg_f32(p.scale_a);
      if (p.scale_b && !kGrouped) tensor_scale *= ldg_f32(p.scale_b);
    }
    Scheduler sched = make_scheduler();
    TileGroups tg;
    uint32_t m_block, n_block;
    uint32_t stage = 0, phase = 0;  // next slot to compute
    uint32_t rel = 0;               // next slot to promote and release (trails `stage`)
    // The slots' wgmma descriptors (ptx/wgmma.cuh). One math warpgroup, or the C prefetch's
    // leader-only branch in the loop: the compiler no longer proves `stage` warp-uniform and
    // builds the descriptors in vector registers (+16..33 R2UR per k-block, SASS); a shfl
    // keeps them on the uniform datapath. Pipelined loops form them when the stage advances,
    // before the slot's full-barrier wait; the others after it (see NOTES).
    constexpr bool kShflStage = kNumMathWG == 1 || kCMode == 3;
    constexpr bool kEarlyDesc = kPipelined != 0;
    WgmmaRingDescs<kABytes, kBBytes, kShflStage> ring_desc(desc_a0, desc_b0);
    auto next_stage = [&]() {
      if (++stage == kNumStages) stage = 0, phase ^= 1;
      if constexpr (kEarlyDesc) ring_desc.at(stage);
    };
    uint32_t c_phase = 0;
    float acc[kWaves][kNumAcc];
    while (next_tile(sched, m_block, n_block, tg)) {
      const uint32_t m0 = m_block * kBlockM, n0 = n_block * kBlockN;
#pragma unroll
      for (uint32_t w = 0; w < kWaves; ++w) {
#pragma unroll
        for (uint32_t i = 0; i < kNumAcc; ++i) acc[w][i] = 0.0f;
      }
      // kGrouped: which of this thread's rows the tile writes (bit 2w / 2w+1: row_lo / +8 of
      // wave w); the row-id loads are consumed only by the epilogue.
      uint32_t valid_rows = 0;
      if constexpr (kGrouped) valid_rows = tile_valid_rows<kWaves>(sched, tg, m0, row_lo);
      const uint32_t sfb_off = n0 % 128;  // 1D2D: the tile's offset in its first sfb block

      // The scales of one in-flight k-block (1D2D): its sfb values and the sfa of this
      // thread's two rows (per wave), read from the slot while its chain runs (so the promotion
      // waits on neither and the slot can be released before it).
      struct Scales {
        float sfb[kMaxSfb];
        float sfa_lo[kWaves], sfa_hi[kWaves];
      };
      // kCMode 3: fetch this warpgroup's rows of C into the staging tile (once the previous
      // tile's stores have read it) while the mainloop runs.
      auto prefetch_c = [&]() {
        if constexpr (kCMode == 3) {
          if (leader) Epilogue::load_c_async(tmap_c, smem_d, wg, m0, n0, &c_full[wg]);
        }
      };
      // Reads what the promotion of slot `slot` needs (1D2D): the B scales and the sfa of
      // this thread's rows in every wave.
      auto read_scales = [&](Scales& v, uint32_t slot) {
        if constexpr (k1D2D) {
          const uint32_t sfb_addr = smem_sfb_addr + slot * 16;
          if constexpr (kMaxSfb == 1) {
            v.sfb[0] = ld_shared_f32(sfb_addr);
          } else {
            const float4 b = ld_shared_v4(sfb_addr);
            v.sfb[0] = b.x;
            v.sfb[1] = b.y;
            if constexpr (kMaxSfb > 2) v.sfb[2] = b.z;
          }
          const uint32_t sfa_addr = sfa_thread_addr + slot * (kBlockM * 4);
          v.sfa_lo[0] = ld_shared_f32<0>(sfa_addr);      // row_lo
          v.sfa_hi[0] = ld_shared_f32<8 * 4>(sfa_addr);  // row_lo + 8
          if constexpr (kWaves > 1) {                    // + 128 rows
            v.sfa_lo[kWaves - 1] = ld_shared_f32<128 * 4>(sfa_addr);
            v.sfa_hi[kWaves - 1] = ld_shared_f32<136 * 4>(sfa_addr);
          }
        }
      };
      // Pipelined loops read the scales right after the slot's wait and hold them across the
      // chains; the others right after issuing the (first wave's) chain: fewer live registers
      // around the wgmma issue (one wave, BLOCK_N up to 208, spilled otherwise), and the
      // loads not between the wait and the first wgmma (see NOTES).
      constexpr bool kEarlyScales = kPipelined != 0;
      auto wait_slot = [&](Scales& v) {
        mbarrier_wait(&full[stage], phase);
        if constexpr (kEarlyScales) read_scales(v, stage);
      };
      // Issues wave w's wgmma chain on the current slot into `part` (the first with
      // scale-d = 0) and commits it.
      auto issue_chain = [&](float (&part)[kNumAcc], uint32_t w) {
        // The slot's descriptors from the ring's first ones (see NOTES).
        const uint32_t wave_bytes = 128 * w * kBlockK;
        uint64_t desc_a, desc_b;
        if constexpr (kEarlyDesc) {
          desc_a = ring_desc.desc_a(wave_bytes);
          desc_b = ring_desc.desc_b();
        } else {
          const auto d = ring_desc.of(stage, wave_bytes);
          desc_a = d.a;
          desc_b = d.b;
        }
        fence_operands(part);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kBlockK / 32; ++k)
          Mma::mma(wgmma_desc_advance(desc_a, k * 32), wgmma_desc_advance(desc_b, k * 32), part,
                   k != 0);
        wgmma_commit();
      };
      // Issues k-block kb into `part` (one wave); the tile's C prefetch goes out after
      // k-block min(8, k-blocks / 2) (pipelined: the first).
      auto issue = [&](float (&part)[kNumAcc], Scales& v, uint32_t kb) {
        wait_slot(v);
        issue_chain(part, 0);
        if constexpr (!kEarlyScales) read_scales(v, stage);
        next_stage();
        // (pipelined loops keep k-block 0: a later one spilled there)
        if (kCMode == 3 && kb == (kPipelined ? 0u : Epilogue::c_prefetch_k_block(num_k_blocks)))
          prefetch_c();
      };
      // Folds a finished k-block's partial sums of wave w (slot `rel`) into acc.
      auto promote = [&](float (&sum)[kNumAcc], float (&part)[kNumAcc], const Scales& sc,
                         uint32_t w, uint32_t tile_sfb_off) {
        fence_operands(part);
        if constexpr (kPerTensor) {
#pragma unroll
          for (uint32_t i = 0; i < kNumAcc; ++i) sum[i] += part[i];
        } else {
          if constexpr (k1D2D) {
            float scale_lo[kMaxSfb], scale_hi[kMaxSfb];
#pragma unroll
            for (uint32_t s = 0; s < kMaxSfb; ++s) {
              scale_lo[s] = sc.sfa_lo[w] * sc.sfb[s];
              scale_hi[s] = sc.sfa_hi[w] * sc.sfb[s];
            }
            promote_1d2d<kBlockN, kMaxSfb>(sum, part, scale_lo, scale_hi, tile_sfb_off);
          } else {  // 1D1D: a scale per column, two adjacent columns per 8-column group
            const float sfa_lo = smem_sfa[rel * kBlockM + 128 * w + row_lo];
            const float sfa_hi = smem_sfa[rel * kBlockM + 128 * w + row_lo + 8];
            const float2* sfb_cols = reinterpret_cast<const float2*>(smem_sfb + rel * (kSfbBytes / 4));
            promote_1d1d<kBlockN, kPipelined != 0>(sum, part, sfa_lo, sfa_hi, sfb_cols, col_q);
          }
        }
      };
      // Frees slot `rel` for every CTA that writes into it (lane p arrives on peer p's
      // barrier).
      auto release = [&]() {
        if constexpr (kClusterSize > 1) {
          if (lane < kNumPeers) mbarrier_arrive_cluster(&empty[rel], peer);
        } else {
          if (lane == 0) mbarrier_arrive(&empty[rel]);
        }
        if (++rel == kNumStages) rel = 0;
      };

      // Folds wave w's finished k-block into acc[w]; the slot's last wave frees it: before the
      // promotion where the scales are in registers, after it for 1D1D (reads them from it).
      // tile_sfb_off: sfb_off, or the same as a constant (dispatch_sfb_offset).
      auto promote_release = [&](float (&part)[kNumAcc], const Scales& sc, uint32_t w, bool last,
                                 uint32_t tile_sfb_off) {
        if (!k1D1D && last) release();
        promote(acc[w], part, sc, w, tile_sfb_off);
        if (k1D1D && last) release();
      };

      if constexpr (kWaves == 1) {
        // 1D2D tiles that straddle B scale blocks, not pipelined: the k-loop is compiled once
        // per offset base (dispatch_sfb_offset) and reads the offset as base + the remainder,
        // so the promotion picks almost every 8-column group's scale block at compile time
        // (common/fp8_promote.cuh); else one loop, base 0 and the whole offset the remainder.
        constexpr bool kDispatch = kMaxSfb > 1 && !kPipelined;
        constexpr uint32_t kSfbStep = kDispatch ? sfb_dispatch_step<kBlockN>() : 128;
        auto k_loop = [&](auto sfb_base_c) {
          const uint32_t off = decltype(sfb_base_c)::kValue + sfb_off % kSfbStep;
          auto promote_one = [&](float (&part)[kNumAcc], const Scales& sc) {
            promote_release(part, sc, 0, true, off);
          };
          DLG_FP8_K_LOOP(kNumAcc, kPipelined, Scales, num_k_blocks, issue, promote_one);
        };
        if constexpr (kDispatch) dispatch_sfb_offset<kBlockN>(sfb_off, k_loop);
        else k_loop(UConst<0>{});
      } else {
        // BLOCK_M 256: per k-block one slot, two waves (chain, wait, promote), one release.
        // The wave chains of both math warpgroups queue on the tensor cores, so one
        // warpgroup's promotion overlaps the other's chain. kGrouped: a round computes the
        // waves of its group only (contiguous_tiles.cuh).
        // The k-loop over the waves set in kMask (a compile-time mask: the common case,
        // both waves, runs the dense kernel's loop unchanged, without per-wave branches).
        auto k_loop = [&](auto wave_mask) {
          constexpr uint32_t kMask = decltype(wave_mask)::kValue;
          constexpr uint32_t kLast = (kMask >> (kWaves - 1)) & 1u ? kWaves - 1 : 0;
          for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
            constexpr uint32_t kFirst = kMask & 1u ? 0u : 1u;
            Scales sc;
            wait_slot(sc);
#pragma unroll
            for (uint32_t w = 0; w < kWaves; ++w) {
              if (!((kMask >> w) & 1u)) continue;
              float part[kNumAcc];
              issue_chain(part, w);
              if (!kEarlyScales && w == kFirst) read_scales(sc, stage);
              wgmma_wait<0>();
              promote_release(part, sc, w, w == kLast, sfb_off);
            }
            next_stage();
          }
        };
        if constexpr (!kGrouped) {
          k_loop(UConst<(1u << kWaves) - 1>{});
        } else {
          uint32_t masks = tg.round_wave_masks();  // uniform (see contiguous_tiles.cuh)
#pragma unroll 1
          for (; masks != 0; masks >>= 2) {
            if ((masks & 3u) == 3u) k_loop(UConst<3>{});
            else if (masks & 1u) k_loop(UConst<1>{});
            else k_loop(UConst<2>{});
          }
        }
      }

      if constexpr (kPerTensor) {
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w) {
          float s = tensor_scale;  // kGrouped: scale_b (masked: scale_a too) per group
          if constexpr (kGrouped) {
            if (p.scale_b && tg.g[w] >= 0) s *= ldg_f32(p.scale_b + tg.g[w] * p.sfb_stride_g);
            if (kMasked && p.scale_a && tg.g[w] >= 0)
              s *= ldg_f32(p.scale_a + tg.g[w] * p.scale_a_stride_g);
          }
#pragma unroll
          for (uint32_t i = 0; i < kNumAcc; ++i) acc[w][i] *= s;
        }
      }
      if constexpr (kGrouped) {
        // (masked: D's groups are back to back, max_m = p.m rows apart)
        const uint32_t d_row0 = kMasked ? static_cast<uint32_t>(tg.g[0]) * p.m + m0 : m0;
        masked_waves_epilogue<kBlockM, kBlockN, kWaves>(acc, valid_rows, p.n, d_row0, n0, smem_d,
                                                        wg, tmap_d, static_cast<dlg_bf16*>(p.d),
                                                        p.ldd);
      } else if constexpr (kSplitK > 1) {
        // Both warpgroups' wgmma are done with the ring before it takes the partial tile.
        named_barrier_sync(3, kNumMathThreads);
        Split::write(acc[0], reinterpret_cast<float*>(smem_a), row_lo, col_q);
      } else if constexpr (kStore == 1) {
#pragma unroll
        for (uint32_t w = 0; w < kWaves; ++w)
          Epilogue::run_direct(acc[w], p.c, p.m, p.n, m0, n0, 2 * w + wg, p.d, p.ldd);
      } else if constexpr (kCMode == 3) {
        Epilogue::run_smem_c(acc[0], m0, n0, smem_d, wg, tmap_d, &c_full[wg], c_phase);
        c_phase ^= 1;
      } else if constexpr (kStore == 2) {
        Epilogue::run_waves_ring(acc, p.c, p.m, p.n, m0, n0, smem_d, wg, tmap_d, ring_pos);
      } else {
        Epilogue::run_waves(acc, p.c, p.m, p.n, m0, n0, smem_d, wg, tmap_d);
      }
    }
    if constexpr (kStore != 1) {
      if (leader) tma_store_wait_all<0>();
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
}

}  // namespace dlg
