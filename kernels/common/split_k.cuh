// Split-K across a cluster for the SM90 FP8 GEMMs (kSplitK > 1 of common/fp8_gemm_body.cuh):
// the kSplitK CTAs of a cluster compute one output tile, CTA r over the r-th slice of its
// k-blocks, and reduce their FP32 partial tiles through distributed shared memory. No
// workspace, nothing to allocate: a plain launch, capturable in a CUDA graph.
//
// NOTES:
// - Why: at decode-sized M a tile's A rows are re-read by every CTA of its row, so small
//   tiles (what fills 132 SMs when M·N is small) spend their k-loop on L2 -> SM traffic:
//   e.g. 128x2112x7168 at 64x32 tiles moves ~60 MB through L2 for 16 MB of operands.
//   Splitting K lets a one-wave grid use larger tiles: 128x64 x 4 splits moves ~45 MB and
//   runs a quarter of the k-blocks per CTA.
// - Partial tile: after its k-loop each CTA's math threads write their accumulators into a
//   row-major [BLOCK_M][BLOCK_N + 4] f32 tile at the start of its own (drained) pipeline
//   ring. The 4-float pad spreads the 8 rows of a warp's float2 writes over the banks.
// - Reduction: after a cluster barrier, CTA r owns the tile rows ρ ≡ r (mod kSplitK): every
//   math thread of the CTA loads float4s of each peer's partial tile with ld.shared::cluster
//   (all of its loads issued before the first is used), sums them in rank order
//   0..kSplitK-1 (the same order on every run and every CTA: bitwise deterministic), adds C
//   (kCMode 1, 2) and stores D straight to global memory, bounds-checked. A second cluster
//   barrier keeps every CTA (and so its shared memory) alive until all peers have read it.
// - The math warpgroups of a CTA finish their wgmma at different times: a named barrier over
//   the math threads keeps one from overwriting ring slots the other is still reading.
#pragma once

#include "common/epilogue.cuh"
#include "ptx/base.cuh"

namespace dlg {

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kSplitK, typename OutT, uint32_t kCMode>
struct SplitKReduce {
  static_assert(kSplitK >= 2 && kSplitK <= 8, "split-K: 2..8 CTAs per cluster");
  static_assert(kCMode <= 2, "split-K reads C from global memory (kCMode 0, 1, 2)");
  static constexpr uint32_t kPitch = kBlockN + 4;  // floats per partial-tile row
  static constexpr uint32_t kBytes = kBlockM * kPitch * 4;
  static constexpr uint32_t kNumAcc = kBlockN / 2;
  static constexpr uint32_t kChunks = kBlockN / 4;  // float4 per row
  static constexpr uint32_t kRowsPerCta = (kBlockM + kSplitK - 1) / kSplitK;

  // This CTA's slice of a tile's k-blocks: [kb_begin, kb_begin + num_k_blocks) out of the
  // num_k_blocks passed in, by cluster rank (the last slices may be empty).
  DLG_DEVICE static void k_slice(uint32_t& num_k_blocks, uint32_t& kb_begin) {
    const uint32_t per = (num_k_blocks + kSplitK - 1) / kSplitK;
    kb_begin = min(ptx::cluster_cta_rank() * per, num_k_blocks);
    num_k_blocks = min(per, num_k_blocks - kb_begin);
  }

  // The math threads, once their partial tile is written: every CTA of the cluster has
  // written its tile after the first barrier; each reduces its rows (of the tile at m0, n0,
  // when it has one), and the second barrier keeps it alive until its peers have read its
  // tile. The producer warps take part in both barriers through producer_barriers().
  template <uint32_t kThreads>
  DLG_DEVICE static void reduce_in_cluster(const float* tile, bool has_tile, uint32_t m0,
                                           uint32_t n0, const EpilogueC& c, uint32_t m,
                                           uint32_t n, void* d, int64_t ldd) {
    __syncwarp();
    ptx::cluster_sync();
    if (has_tile) reduce_store<kThreads>(tile, ptx::cluster_cta_rank(), c, m, n, m0, n0, d, ldd);
    __syncwarp();
    ptx::cluster_sync();
  }
  // The same for the kernel's one tile (Scheduler gives it; Params: m, n, c, d, ldd as in the
  // dense kernels' parameter structs).
  template <uint32_t kThreads, typename Scheduler, typename Params>
  DLG_DEVICE static void reduce_tile_in_cluster(const Params& p, const float* tile) {
    Scheduler sched(p.m, p.n);
    uint32_t m_block = 0, n_block = 0;
    const bool has_tile = sched.next(m_block, n_block);
    reduce_in_cluster<kThreads>(tile, has_tile, m_block * kBlockM, n_block * kBlockN, p.c, p.m,
                                p.n, p.d, p.ldd);
  }
  DLG_DEVICE static void producer_barriers() {
    ptx::cluster_sync();
    ptx::cluster_sync();
  }

  // One math thread's accumulators (tile rows row_lo, row_lo + 8; columns 8j + col_q + {0, 1})
  // into this CTA's partial tile.
  DLG_DEVICE static void write(const float (&acc)[kNumAcc], float* tile, uint32_t row_lo,
                               uint32_t col_q) {
#pragma unroll
    for (uint32_t j = 0; j < kBlockN / 8; ++j) {
      *reinterpret_cast<float2*>(tile + row_lo * kPitch + 8 * j + col_q) =
          make_float2(acc[4 * j + 0], acc[4 * j + 1]);
      *reinterpret_cast<float2*>(tile + (row_lo + 8) * kPitch + 8 * j + col_q) =
          make_float2(acc[4 * j + 2], acc[4 * j + 3]);
    }
  }

  // Threads [0, kThreads) of CTA `rank`: its rows of the tile at (m0, n0), summed over the
  // cluster, + C, stored to D (row stride ldd, elements). Every thread first issues all its
  // distributed-shared-memory loads (kIters x kSplitK float4, independent), then sums and
  // stores: one DSMEM round trip per thread instead of one per float4.
  template <uint32_t kThreads>
  DLG_DEVICE static void reduce_store(const float* tile, uint32_t rank, const EpilogueC& c,
                                      uint32_t m, uint32_t n, uint32_t m0, uint32_t n0, void* d,
                                      int64_t ldd) {
    constexpr uint32_t kItems = kRowsPerCta * kChunks;
    constexpr uint32_t kIters = (kItems + kThreads - 1) / kThreads;
    const uint32_t base = ptx::smem_addr(tile);
    float4 part[kIters][kSplitK];
#pragma unroll
    for (uint32_t it = 0; it < kIters; ++it) {
      const uint32_t idx = threadIdx.x + it * kThreads;
      const uint32_t row = (idx / kChunks) * kSplitK + rank, col = 4 * (idx % kChunks);
      const bool live = idx < kItems && row < kBlockM;
#pragma unroll
      for (uint32_t q = 0; q < kSplitK; ++q)
        part[it][q] = live ? ptx::ld_shared_cluster_v4(base + (row * kPitch + col) * 4, q)
                           : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (uint32_t it = 0; it < kIters; ++it) {
      const uint32_t idx = threadIdx.x + it * kThreads;
      const uint32_t row = (idx / kChunks) * kSplitK + rank, col = 4 * (idx % kChunks);
      const uint32_t gr = m0 + row, gc = n0 + col;
      if (idx >= kItems || row >= kBlockM || gr >= m || gc >= n) continue;
      float4 s = part[it][0];
#pragma unroll
      for (uint32_t q = 1; q < kSplitK; ++q) {  // rank order: the same sum on every run
        s.x += part[it][q].x;
        s.y += part[it][q].y;
        s.z += part[it][q].z;
        s.w += part[it][q].w;
      }
      store4(s, c, n, gr, gc, d, ldd);
    }
  }

  // D[gr, gc .. gc + 3] (clipped at n) = s + C.
  DLG_DEVICE static void store4(const float4& s, const EpilogueC& c, uint32_t n, uint32_t gr,
                                uint32_t gc, void* d, int64_t ldd) {
    float v[4] = {s.x, s.y, s.z, s.w};
    const uint32_t count = n - gc < 4 ? n - gc : 4;
    // Unrolled with a predicate (not `e < count` loops): v stays in registers.
    if constexpr (kCMode != 0) {
      const int64_t off = static_cast<int64_t>(gr) * c.ldc + gc;
#pragma unroll
      for (uint32_t e = 0; e < 4; ++e) {
        if (e >= count) break;
        if constexpr (kCMode == 1)
          v[e] += dlg_bf16_bits_to_float(static_cast<const uint16_t*>(c.ptr)[off + e]);
        else
          v[e] += static_cast<const float*>(c.ptr)[off + e];
      }
    }
    OutT* dst = static_cast<OutT*>(d) + static_cast<int64_t>(gr) * ldd + gc;
    const bool vec = count == 4 && reinterpret_cast<uint64_t>(dst) % (4 * sizeof(OutT)) == 0;
    if constexpr (sizeof(OutT) == 2) {
      if (vec) {
        *reinterpret_cast<uint2*>(dst) =
            make_uint2(ptx::pack_bf16x2(v[0], v[1]), ptx::pack_bf16x2(v[2], v[3]));
      } else {
#pragma unroll
        for (uint32_t e = 0; e < 4; ++e)
          if (e < count) reinterpret_cast<uint16_t*>(dst)[e] = dlg_float_to_bf16_bits(v[e]);
      }
    } else {
      if (vec) {
        *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
      } else {
#pragma unroll
        for (uint32_t e = 0; e < 4; ++e)
          if (e < count) reinterpret_cast<float*>(dst)[e] = v[e];
      }
    }
  }
};

}  // namespace dlg
