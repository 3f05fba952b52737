// Persistent tile scheduler with L2-friendly grouped rasterization, shared by the SM90 GEMMs.
//
// NOTES:
// - The grid is persistent: CTA b handles linear tiles b, b + gridDim.x, b + 2*gridDim.x, ...
//   Producer and consumer warpgroups of a CTA each own a scheduler and walk the same sequence.
// - Clusters of kClusterM x kClusterN CTAs (each 1 or 2; cluster dims are {kClusterM *
//   kClusterN, 1, 1} on the grid's x axis) work on a "cluster tile" of kClusterM x kClusterN
//   adjacent blocks: CTAs of the same cluster column share the A tile (kClusterN == 2), CTAs
//   of the same cluster row share the B tile (kClusterM == 2), loaded once with TMA
//   multicast. Cluster rank r holds block (r % kClusterM, r / kClusterM) of the cluster tile.
//   Because gridDim.x is a multiple of the cluster size and a cluster's CTAs have consecutive
//   blockIdx.x, linear tile t goes to cluster rank t % cluster_size, so the CTAs of a
//   cluster always get the parts of one cluster tile, in lockstep. The launcher guarantees
//   each clustered dimension's block count is even (so every cluster tile is complete).
// - Rasterization: cluster tiles are grouped in column bands of kGroupN blocks of N; inside a
//   band the N index moves fastest, then M. The tiles in flight at once (one per SM) then
//   cover a compact region ~ (SMs / kGroupN) x kGroupN blocks, so the A rows and B columns they
//   read stay hot in L2.
// - tile_to_blocks() is a pure function so grouped GEMMs can reuse it per group (with their
//   own linear offsets).
#pragma once

#include "ptx/base.cuh"

namespace dlg {

// Bits of the GEMM kernels' `flags` parameter. kLoadBEvictFirst: B's TMA loads are evict-first
// in L2: the launcher sets it where every tile reading a B line runs at about the same time
// (one wave, or at most two tile rows per B operand), so a B line is dead once loaded (see
// fp8_gemm_body.cuh NOTES).
constexpr uint32_t kLoadBEvictFirst = 1u;

// Select<c, A, B>: A when c, else B (no <type_traits> under NVRTC).
template <bool kCond, typename A, typename B>
struct SelectType {
  using type = A;
};
template <typename A, typename B>
struct SelectType<false, A, B> {
  using type = B;
};
template <bool kCond, typename A, typename B>
using Select = typename SelectType<kCond, A, B>::type;

template <uint32_t kClusterM, uint32_t kClusterN, uint32_t kGroupN>
struct TileRaster {
  static_assert(kClusterM <= 2 && kClusterN <= 2, "clusters of 1x1, 1x2, 2x1 or 2x2 CTAs");
  static_assert(kGroupN % kClusterN == 0, "the band width must hold whole cluster tiles");
  static constexpr uint32_t kClusterSize = kClusterM * kClusterN;

  // Linear tile -> (m_block, n_block) for a grid of num_m_blocks x num_n_blocks blocks.
  DLG_DEVICE static void tile_to_blocks(uint32_t tile, uint32_t num_m_blocks,
                                        uint32_t num_n_blocks, uint32_t& m_block,
                                        uint32_t& n_block) {
    const uint32_t cluster_tile = tile / kClusterSize;
    const uint32_t rank = tile % kClusterSize;
    const uint32_t cm_count = num_m_blocks / kClusterM;  // cluster tiles along M
    const uint32_t cn_count = num_n_blocks / kClusterN;  // ... along N
    constexpr uint32_t kBand = kGroupN / kClusterN;      // cluster tiles per band along N
    const uint32_t per_band = cm_count * kBand;
    const uint32_t band = cluster_tile / per_band;
    const uint32_t first_cn = band * kBand;
    const uint32_t band_width = min(kBand, cn_count - first_cn);
    const uint32_t in_band = cluster_tile - band * per_band;
    const uint32_t cm = in_band / band_width;
    const uint32_t cn = first_cn + in_band % band_width;
    m_block = cm * kClusterM + rank % kClusterM;
    n_block = cn * kClusterN + rank / kClusterM;
  }
};

// kSplitK > 1 (split-K, common/split_k.cuh): not persistent; the kSplitK CTAs of a cluster
// share tile blockIdx.x / kSplitK, each computing a slice of its k-blocks.
template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kClusterM, uint32_t kClusterN,
          uint32_t kGroupN, uint32_t kSplitK = 1>
struct PersistentScheduler {
  using Raster = TileRaster<kClusterM, kClusterN, kGroupN>;

  uint32_t num_m_blocks, num_n_blocks, num_tiles;
  uint32_t next_tile;

  DLG_DEVICE PersistentScheduler(uint32_t m, uint32_t n) {
    num_m_blocks = (m + kBlockM - 1) / kBlockM;
    num_n_blocks = (n + kBlockN - 1) / kBlockN;
    num_tiles = num_m_blocks * num_n_blocks;
    next_tile = blockIdx.x / kSplitK;
  }

  // Next tile of this CTA; false when it has none left.
  DLG_DEVICE bool next(uint32_t& m_block, uint32_t& n_block) {
    if (next_tile >= num_tiles) return false;
    Raster::tile_to_blocks(next_tile, num_m_blocks, num_n_blocks, m_block, n_block);
    next_tile += kSplitK > 1 ? num_tiles : gridDim.x;
    return true;
  }
};

}  // namespace dlg
