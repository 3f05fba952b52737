// SM90 M-grouped GEMMs (MoE prefill and decode): for each valid row r of group g,
//   D[r, :] = A[r, :] · B[g]ᵀ  (contiguous)   or   D[g, r, :] = A[g, r, :] · B[g]ᵀ  (masked).
//   kKind 0: FP8 e4m3 with DeepSeek 1D2D scales: sfa f32 per (row, 128-K block), any strides;
//            sfb f32 per (group, 128-row block of N, 128-K block), any strides.
//   kKind 1: FP8 e4m3 with per-tensor scales (scalar or one per group; NULL = 1).
//   kKind 2: BF16.
//   A K-major (3D TMA map {K, rows, groups}: contiguous A has one "group"), B [G, N, K]
//   K-major (3D map {K, N, G}), D bf16 row-major (plain pointers, row-predicated stores).
//   kMode: common/grouped.cuh's GroupedMode (row ids, offsets, masked).
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 160, 5, 8, 0, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<64, 128, 8, 8, 2, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 256, 4, 8, 1, 2, 2>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<64, 128, 8, 8, 2, 0, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 6, 8, 1, 1, 2>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 96, 6, 8, 0, 0, 2, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 7, 8, 2, 0, 2>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 7, 8, 2, 1, 2>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 112, 5, 8, 1, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 5, 8, 0, 0, 2, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 5, 8, 1, 0, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 128, 5, 8, 0, 0, 2, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 160, 5, 8, 1, 0, 2, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<64, 128, 8, 8, 2, 0, 1, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 160, 4, 8, 2, 0, 1, 1, 1>
// DLG_TEST_INSTANTIATION: sm90_m_grouped_gemm<128, 256, 3, 8, 1, 2, 2, 1>
//
// NOTES:
// - Skeleton of sm90_fp8_gemm_1d2d.cuh / sm90_bf16_gemm.cuh (read their NOTES first):
//   warp specialization (BLOCK_M / 64 math warpgroups + 1 TMA producer warpgroup, setmaxnreg
//   40/232 with two math warpgroups), a ring of kNumStages slots with full/empty mbarriers,
//   FP8 promotion per 128-K block through the dense kernels' k-block loop
//   (common/fp8_k_loop.cuh: pipelined - two partial sets, the promotion of kb hidden behind
//   the wgmma of kb+1 - for BLOCK_N <= 128, <= 96 when a tile straddles B scale blocks), BF16
//   accumulating in the wgmma registers with one group in flight.
// - kClusterM = 2: 2-CTA clusters on two m-blocks of one N-block (MGroupedScheduler's pair
//   mode); when both belong to one group each CTA loads half of the B tile and multicasts it
//   to both (B's TMA box is {128 B, BLOCK_N / 2, 1}), halving the B bytes each SM pulls from
//   L2, which bounds these kernels (ncu: math warps mostly waiting on full barriers). Empty
//   barriers then count the math warps of both CTAs, as in the dense kernels.
// - Grouping (common/grouped.cuh): the producer and the math warpgroups each run an
//   MGroupedScheduler over the same device-side layout reads and get the same tiles; tiles
//   that are all padding are skipped by both. A and B are loaded with 3D TMA boxes
//   {128 B of K, BLOCK_M | BLOCK_N, 1}, so a box never reads past its group's rows (zero
//   fill) - rows past masked_m inside a box are read but never written.
// - Scales: with kSfaTma (FP8 1D2D, the MN-major TMA-aligned sfa of dlg_transform_sf) the
//   k-block's BLOCK_M A scales ride in the slot (TMA box {BLOCK_M, 1(, 1)}), as in the dense
//   kernels, and each math thread reads its two rows from shared memory once the slot is
//   full (+10..+18 % on the contiguous shapes). Otherwise sfa is read by the math threads
//   themselves (plain global loads, so any sfa layout works). sfb is always read from global
//   memory; both are loaded >= one k-block before their promotion (pipelined: at their
//   k-block's issue; otherwise one k-block ahead).
// - Epilogue: row-predicated direct stores (grouped.cuh) - padding rows and rows past
//   masked_m are never written. kTmaEpilogue = 1 (the launcher's choice when D can be seen
//   as one [rows, N] matrix by TMA: contiguous D, or masked D with the groups back to back):
//   a math warpgroup whose 64 rows are all valid (one bar.red.and over the warpgroup) stores
//   them through the dense kernels' staged epilogue (stmatrix + TMA store, asynchronous:
//   common/epilogue.cuh); only partial row blocks (a segment's tail, masked_m inside the
//   block) take the direct stores.
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

// Kernel arguments besides the tensor maps. Mirrored by core/launch/sm90_grouped_gemm.c
// (same field order and types: 128 bytes).
struct Sm90MGroupedParams {
  uint32_t m;            // contiguous: rows of A and D; masked: max_m
  uint32_t n, k;
  uint32_t num_groups;
  const int32_t* layout; // row ids [M] | offsets [G + 1] | masked_m [G]
  int64_t layout_stride;
  const float* sfa;      // 1D2D: scales of A; per-tensor: scale_a (NULL = 1)
  int64_t sfa_stride_g, sfa_stride_m, sfa_stride_k;
  const float* sfb;      // 1D2D: scales of B; per-tensor: scale_b (NULL = 1)
  int64_t sfb_stride_g, sfb_stride_n, sfb_stride_k;
  uint32_t sfb_rows;     // ceil(N / 128)
  uint32_t flags;        // kLoadBEvictFirst (common/scheduler.cuh)
  dlg_bf16* d;
  int64_t d_stride_g, d_stride_m;
};
static_assert(sizeof(Sm90MGroupedParams) == 128, "host mirror expects 128 bytes");

// Tensor maps: A, B, D as one [rows, N] matrix (kTmaEpilogue only), and the MN-major sfa
// [M, K/128] or [G, max_m, K/128] (kSfaTma only).
#define DLG_SM90_M_GROUPED_GEMM_SIGNATURE                                    \
  const dlg::Sm90MGroupedParams, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap, const __grid_constant__ dlg::ptx::TensorMap, \
      const __grid_constant__ dlg::ptx::TensorMap

// Most 128-column scale blocks a BLOCK_N-wide tile starting at a multiple of BLOCK_N touches.
constexpr uint32_t grouped_max_sfb_blocks(uint32_t block_n) {
  uint32_t most = 1;
  for (uint32_t t = 0; t < 128; ++t) {
    const uint32_t off = (t * block_n) % 128;
    const uint32_t count = (off + block_n - 1) / 128 + 1;
    most = count > most ? count : most;
  }
  return most;
}

}  // namespace dlg

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kNumStages, uint32_t kGroupN,
          uint32_t kMode, uint32_t kKind, uint32_t kClusterM, uint32_t kTmaEpilogue = 0,
          uint32_t kSfaTma = 0>
__global__ void __launch_bounds__((kBlockM / 64 + 1) * 128, 1)
    sm90_m_grouped_gemm(const dlg::Sm90MGroupedParams p,
                        const __grid_constant__ dlg::ptx::TensorMap tmap_a,
                        const __grid_constant__ dlg::ptx::TensorMap tmap_b,
                        const __grid_constant__ dlg::ptx::TensorMap tmap_d,
                        const __grid_constant__ dlg::ptx::TensorMap tmap_sfa) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;

  static_assert(kBlockM == 64 || kBlockM == 128, "BLOCK_M: 64 or 128 (one m64 per math WG)");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "BLOCK_N: 16..256 step 16");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kMode <= 2 && kKind <= 2, "mode / kind");
  static_assert(kClusterM == 1 || kClusterM == 2, "pairs of at most 2 CTAs");
  static_assert((kBlockN / kClusterM) % 8 == 0, "a multicast half must be whole 8-row atoms");

  constexpr bool kFp8 = kKind != 2;
  constexpr bool kBlockScaled = kKind == 0;
  constexpr uint32_t kRowBytes = 128;                 // one 128B swizzle row of K
  constexpr uint32_t kBlockK = kFp8 ? 128 : 64;       // elements per k-block
  constexpr uint32_t kNumMathWG = kBlockM / 64;
  constexpr uint32_t kNumMathThreads = kNumMathWG * 128;
  constexpr uint32_t kNumAcc = kBlockN / 2;
  constexpr uint32_t kMaxSfb = grouped_max_sfb_blocks(kBlockN);
  // FP8: two partial sets hide the promotion behind the tensor cores where registers allow
  // (ptxas, nvrtc_test: BLOCK_N 128 fits, 144 spills; a tile straddling two 128-column B
  // scale blocks needs more registers: 112 spills, 96 fits; the masked scheduler's cursor
  // makes 1D2D 128 spill too: 96 there). Mirrored by the launcher's grouped_pipelined().
  constexpr uint32_t kPipelined =
      kFp8 && kBlockN <= (kMaxSfb > 1 || (kBlockScaled && kMode == kGroupedMasked) ? 96 : 128)
          ? 1
          : 0;
  using Scheduler = MGroupedScheduler<kBlockM, kBlockN, kGroupN, kMode, kClusterM>;
  using Store = DirectStore<kBlockN, dlg_bf16>;
  using Epilogue = WarpgroupEpilogue<kBlockM, kBlockN, dlg_bf16, 0>;
  static_assert(kTmaEpilogue <= 1, "kTmaEpilogue: 0 or 1");
  static_assert(kSfaTma <= 1 && (!kSfaTma || kKind == 0), "kSfaTma: FP8 1D2D only");

  // ---- shared memory (must match the launcher's size formula) -----------------------------
  constexpr uint32_t kABytes = kBlockM * kRowBytes;
  constexpr uint32_t kBBytes = kBlockN * kRowBytes;
  // kSfaTma: the k-block's BLOCK_M A scales ride in the slot (TMA box {BLOCK_M, 1} of the
  // MN-major sfa), as in the dense kernels, instead of two global loads per math thread.
  constexpr uint32_t kSfaBytes = kSfaTma ? kBlockM * 4 : 0;
  constexpr uint32_t kStageTx = kABytes + kBBytes + kSfaBytes;
  constexpr uint32_t kDBytes = kTmaEpilogue ? (Epilogue::kTileBytes + 1023) / 1024 * 1024 : 0;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_d = smem;  // staging tile (kTmaEpilogue)
  uint8_t* smem_a = smem + kDBytes;
  uint8_t* smem_b = smem_a + kNumStages * kABytes;
  float* smem_sfa = reinterpret_cast<float*>(smem_b + kNumStages * kBBytes);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem_b + kNumStages * (kBBytes + kSfaBytes));
  uint64_t* empty = full + kNumStages;

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();
  const uint32_t num_k_blocks = (p.k + kBlockK - 1) / kBlockK;

  if (threadIdx.x == kNumMathThreads) {
    tma_prefetch_map(&tmap_a);
    tma_prefetch_map(&tmap_b);
    if constexpr (kTmaEpilogue) tma_prefetch_map(&tmap_d);
    if constexpr (kSfaTma) tma_prefetch_map(&tmap_sfa);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kClusterM * kNumMathThreads / 32);
    }
    fence_barrier_init();
  }
  if constexpr (kClusterM > 1) cluster_sync();
  else __syncthreads();
  grid_dependency_wait();  // PDL: first global read (the group layout) comes after this

  if (threadIdx.x >= kNumMathThreads) {
    // ---- producer warpgroup (TMA) ---------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_dec<40>();
    if (warp == kNumMathThreads / 32 && elect_one()) {
      const uint32_t rank = kClusterM > 1 ? cluster_cta_rank() : 0;
      Scheduler sched(p.layout, p.layout_stride, p.num_groups, p.m, p.n);
      MGroupedTile t;
      uint32_t stage = 0, phase = 0;
      while (sched.next(t)) {
        const int32_t a_group = kMode == kGroupedMasked ? static_cast<int32_t>(t.group) : 0;
        for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
          const int32_t k0 = static_cast<int32_t>(kb * kBlockK);
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kStageTx);
          tma_load_3d(&tmap_a, &full[stage], smem_a + stage * kABytes, k0,
                      static_cast<int32_t>(t.m0), a_group);
          uint8_t* b_dst = smem_b + stage * kBBytes;
          const int32_t g = static_cast<int32_t>(t.group), n0 = static_cast<int32_t>(t.n0);
          if constexpr (kClusterM == 2) {
            // The B map's box is half a tile: multicast our half to both CTAs, or (groups
            // differ) load both halves locally.
            constexpr int32_t kHalf = kBlockN / 2;
            const int32_t r = static_cast<int32_t>(rank);
            if (t.multicast) {
              tma_load_3d_multicast(&tmap_b, &full[stage], b_dst + r * kHalf * kRowBytes, k0,
                                    n0 + r * kHalf, g, 0x3);
            } else {
              tma_load_3d(&tmap_b, &full[stage], b_dst, k0, n0, g);
              tma_load_3d(&tmap_b, &full[stage], b_dst + kHalf * kRowBytes, k0, n0 + kHalf, g);
            }
          } else {
            tma_load_3d_stream(&tmap_b, &full[stage], b_dst, k0, n0, g, p.flags & kLoadBEvictFirst);
          }
          if constexpr (kSfaTma && kMode == kGroupedMasked)
            tma_load_3d(&tmap_sfa, &full[stage], smem_sfa + stage * kBlockM,
                        static_cast<int32_t>(t.m0), static_cast<int32_t>(kb), a_group);
          else if constexpr (kSfaTma)
            tma_load_2d(&tmap_sfa, &full[stage], smem_sfa + stage * kBlockM,
                        static_cast<int32_t>(t.m0), static_cast<int32_t>(kb));
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    }
    __syncwarp();
  } else {
    // ---- math warpgroups (wgmma) ----------------------------------------------------------
    if constexpr (kNumMathWG == 2) setmaxnreg_inc<232>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t wg_uniform = warp / 4;  // known warp-uniform: descriptors on uniform registers
    // Descriptors of the ring's first slot (low words; a slot's: + its offset / 16).
    const uint32_t desc_a0 = keep_in_register(wgmma_desc_sw128_lo(smem_a + wg_uniform * 64 * kRowBytes));
    const uint32_t desc_b0 = keep_in_register(wgmma_desc_sw128_lo(smem_b));
    // The slots' wgmma descriptors, on the uniform datapath (ptx/wgmma.cuh).
    const WgmmaRingDescs<kABytes, kBBytes, true> ring_desc(desc_a0, desc_b0);
    const uint32_t row_lo = 64 * wg + 16 * (warp % 4) + lane / 4;  // tile row of acc[4j+0,1]
    Scheduler sched(p.layout, p.layout_stride, p.num_groups, p.m, p.n);
    // A slot has been read by this warp: release it in every CTA of the pair (lane r arrives
    // on CTA r's barrier): a multicast refill overwrites both CTAs' copies.
    auto release = [&](uint32_t s) {
      if constexpr (kClusterM > 1) {
        if (lane < kClusterM) mbarrier_arrive_cluster(&empty[s], lane);
      } else {
        if (lane == 0) mbarrier_arrive(&empty[s]);
      }
    };
    MGroupedTile t;
    uint32_t stage = 0, phase = 0;  // next slot to issue
    uint32_t rel = 0;               // next slot to release (FP8: trails `stage`)
    float acc[kNumAcc];
    while (sched.next(t)) {
      const int64_t a_group = kMode == kGroupedMasked ? t.group : 0;
#pragma unroll
      for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] = 0.0f;

      // Scale offsets of this tile (rows clamped: a clamped row is never stored), in
      // elements from p.sfa / p.sfb: 32 bits (the launcher checks both spans fit), so each
      // takes one register instead of a pointer's two - the pipelined 128-wide tiles with the
      // TMA epilogue need them.
      uint32_t sfa_lo = 0, sfa_hi = 0;
      uint32_t sfb_row[kMaxSfb];
      const uint32_t sfb_off = t.n0 % 128;
      if constexpr (kBlockScaled) {
        if constexpr (!kSfaTma) {
          const uint32_t r_lo = min(t.m0 + row_lo, p.m - 1);
          const uint32_t r_hi = min(t.m0 + row_lo + 8, p.m - 1);
          const uint32_t base = static_cast<uint32_t>(a_group * p.sfa_stride_g);
          sfa_lo = base + r_lo * static_cast<uint32_t>(p.sfa_stride_m);
          sfa_hi = base + r_hi * static_cast<uint32_t>(p.sfa_stride_m);
        }
#pragma unroll
        for (uint32_t s = 0; s < kMaxSfb; ++s) {
          const uint32_t r = min(t.n0 / 128 + s, p.sfb_rows - 1);
          sfb_row[s] = t.group * static_cast<uint32_t>(p.sfb_stride_g) +
                       r * static_cast<uint32_t>(p.sfb_stride_n);
        }
      }

      if constexpr (kFp8) {
        // The scales of one k-block (1D2D) are plain global loads consumed at its promotion:
        // a global load under full TMA traffic takes longer than one k-block's wgmma
        // (waiting for it stalled the math warps: ncu long-scoreboard ~40%). Pipelined, a
        // k-block is promoted after the next one was issued, so loading at its own issue is
        // early enough; otherwise they are loaded one k-block ahead (at kb-1's issue: +8%).
        // (Ahead and pipelined both: ptxas spills at BLOCK_N 128.)
        struct Scales {
          float sfb[kMaxSfb];
          float sa_lo, sa_hi;
        };
        constexpr bool kAhead = kBlockScaled && !kPipelined;
        auto load_scales = [&](Scales& v, uint32_t kb) {
          if constexpr (kBlockScaled) {
            const uint32_t kb_a = kb * static_cast<uint32_t>(p.sfa_stride_k);
            const uint32_t kb_b = kb * static_cast<uint32_t>(p.sfb_stride_k);
#pragma unroll
            for (uint32_t s = 0; s < kMaxSfb; ++s) v.sfb[s] = ldg_f32(p.sfb + (sfb_row[s] + kb_b));
            if constexpr (!kSfaTma) {  // else read from the slot once it is full (issue)
              v.sa_lo = ldg_f32(p.sfa + (sfa_lo + kb_a));
              v.sa_hi = ldg_f32(p.sfa + (sfa_hi + kb_a));
            }
          }
        };
        Scales ahead;  // kAhead: the scales of the next k-block to issue
        if constexpr (kAhead) {
          if (num_k_blocks > 0) load_scales(ahead, 0);
        }
        auto issue = [&](float (&part)[kNumAcc], Scales& v, uint32_t kb) {
          if constexpr (kAhead) {
            v = ahead;
            if (kb + 1 < num_k_blocks) load_scales(ahead, kb + 1);
          } else {
            load_scales(v, kb);
          }
          mbarrier_wait(&full[stage], phase);
          const auto descs = ring_desc.of(stage);
          const uint64_t desc_a = descs.a, desc_b = descs.b;
          fence_operands(part);
          wgmma_fence();
#pragma unroll
          for (uint32_t k = 0; k < kBlockK / 32; ++k)
            WgmmaE4M3<kBlockN>::mma(wgmma_desc_advance(desc_a, k * 32),
                                    wgmma_desc_advance(desc_b, k * 32), part, k != 0);
          wgmma_commit();
          if constexpr (kSfaTma) {  // this thread's two rows' A scales, from the full slot
            v.sa_lo = smem_sfa[stage * kBlockM + row_lo];
            v.sa_hi = smem_sfa[stage * kBlockM + row_lo + 8];
          }
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        };
        // The scales are in registers: the slot is released before the promotion.
        auto promote = [&](float (&part)[kNumAcc], const Scales& v) {
          fence_operands(part);
          release(rel);
          if (++rel == kNumStages) rel = 0;
          if constexpr (kBlockScaled) {
            float scale_lo[kMaxSfb], scale_hi[kMaxSfb];
#pragma unroll
            for (uint32_t s = 0; s < kMaxSfb; ++s) {
              scale_lo[s] = v.sa_lo * v.sfb[s];
              scale_hi[s] = v.sa_hi * v.sfb[s];
            }
            promote_1d2d<kBlockN, kMaxSfb>(acc, part, scale_lo, scale_hi, sfb_off);
          } else {
#pragma unroll
            for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] += part[i];
          }
        };
        DLG_FP8_K_LOOP(kNumAcc, kPipelined, Scales, num_k_blocks, issue, promote);
      } else {
        uint32_t prev_stage = 0;
        for (uint32_t kb = 0; kb < num_k_blocks; ++kb) {
          mbarrier_wait(&full[stage], phase);
          const auto descs = ring_desc.of(stage);
          const uint64_t desc_a = descs.a, desc_b = descs.b;
          // BF16: accumulate in place, keep k-block kb in flight while kb-1 retires.
          fence_operands(acc);
          wgmma_fence();
#pragma unroll
          for (uint32_t k = 0; k < kBlockK / 16; ++k)
            WgmmaBF16<kBlockN>::template mma<0, 0>(wgmma_desc_advance(desc_a, k * 32),
                                                   wgmma_desc_advance(desc_b, k * 32), acc, true);
          wgmma_commit();
          wgmma_wait<1>();
          fence_operands(acc);
          if (kb > 0) release(prev_stage);
          prev_stage = stage;
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
        wgmma_wait<0>();
        fence_operands(acc);
        if (num_k_blocks > 0) release(prev_stage);
        rel = stage;
      }

      if constexpr (kKind == 1) {
        float s = 1.0f;
        if (p.sfa) s *= ldg_f32(p.sfa + a_group * p.sfa_stride_g);
        if (p.sfb) s *= ldg_f32(p.sfb + static_cast<int64_t>(t.group) * p.sfb_stride_g);
#pragma unroll
        for (uint32_t i = 0; i < kNumAcc; ++i) acc[i] *= s;
      }

      // ---- epilogue: row-predicated stores ------------------------------------------------
      const uint32_t r_lo = t.m0 + row_lo;
      const bool valid_lo = sched.row_valid(t, r_lo);
      const bool valid_hi = sched.row_valid(t, r_lo + 8);
      // kTmaEpilogue, all 64 rows of this warpgroup valid: the staged TMA store (rows of D as
      // one [rows, N] matrix: masked groups are max_m = p.m rows apart).
      if (kTmaEpilogue && named_barrier_and(1 + wg, 128, valid_lo && valid_hi)) {
        Epilogue::run(acc, EpilogueC{nullptr, 0}, 0xFFFFFFFFu, p.n,
                      static_cast<uint32_t>(a_group) * p.m + t.m0, t.n0, smem_d, wg, &tmap_d);
      } else {
        const uint32_t row0 = t.m0 + 64 * wg;  // first row of this warpgroup
        dlg_bf16* d =
            p.d + a_group * p.d_stride_g + static_cast<int64_t>(row0) * p.d_stride_m + t.n0;
        Store::run(acc, d, p.d_stride_m, p.n - t.n0, valid_lo, valid_hi);
      }
    }
    if constexpr (kTmaEpilogue) {
      if (threadIdx.x % 128 == 0) tma_store_wait_all<0>();
    }
  }

  grid_launch_dependents();
  // No CTA of a pair may leave while its peer can still multicast into it or arrive on its
  // barriers (barrier.cluster is .aligned: reconverge each warp first).
  if constexpr (kClusterM > 1) {
    __syncwarp();
    cluster_sync();
  }
#endif
}
