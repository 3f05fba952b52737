// The dense FP8 body (common/fp8_gemm_body.cuh) run as an M-grouped GEMM, contiguous or
// masked (kernels/sm90_fp8_m_grouped_gemm.cuh):
// the tile schedulers that find each tile's groups, and the epilogue that leaves rows
// outside them untouched.
//
// NOTES:
// - The tile grid is the dense one over all M rows (same PersistentScheduler, same
//   rasterization, A multicast across a 1x2 cluster: both CTAs of a cluster hold the same
//   rows, so they see the same groups and stay in lockstep). Group segments start on
//   128-row boundaries (the reported M alignment), so each 128-row half of a tile belongs to
//   at most one group (its first row's) plus padding.
// - BLOCK_M 256 tiles have two halves (= the body's two waves). When both hold rows of
//   different groups, the tile runs in two rounds: the k-loop once with B[g0] computing
//   wave 0 only, once with B[g1] computing wave 1 only (A is loaded whole both times).
//   With segments of thousands of rows that is a few tiles per N column; padding halves
//   cost nothing (their wave is skipped). Tiles with no group at all are skipped by every
//   warp of the CTA (each runs its own scheduler over the same reads, as in grouped.cuh).
// - Rows outside the tile's group (padding, the other half's group, rows >= M) are neither
//   stored nor read back: a warpgroup's 64-row block whose rows are all valid goes through
//   the staged TMA store (one bar.red.and decides), any other block through row-predicated
//   direct stores (grouped.cuh's DirectStore).
#pragma once

#include "common/epilogue.cuh"
#include "common/grouped.cuh"
#include "common/scheduler.cuh"
#include "ptx/base.cuh"

namespace dlg {

// The groups of a tile's 128-row halves: half h of a BLOCK_M 256 tile is the body's wave h;
// smaller tiles have half 0 only.
struct TileGroups {
  int32_t g[2];               // group of half h, -1: none (padding, past M)
  uint32_t begin[2], end[2];  // OFFSETS layout: the group's rows

  // k-loops the tile takes: two when its halves belong to different groups.
  DLG_DEVICE uint32_t rounds() const { return g[0] >= 0 && g[1] >= 0 && g[0] != g[1] ? 2u : 1u; }
  // The group (B, sfb, scales) of round r.
  DLG_DEVICE int32_t round_group(uint32_t r) const { return r == 0 && g[0] >= 0 ? g[0] : g[1]; }
  // The halves (= waves) each round computes: bits 2r, 2r+1 (0: no round r). From a shfl:
  // branches on it are then uniform to the compiler, which keeps `stage` and the wgmma
  // descriptors of the k-loop on the uniform datapath as in the dense loop.
  DLG_DEVICE uint32_t round_wave_masks() const {
    uint32_t masks = 0;
    for (uint32_t r = 0; r < rounds(); ++r) {
      const int32_t rg = round_group(r);
      masks |= ((g[0] == rg ? 1u : 0u) | (g[1] == rg ? 2u : 0u)) << (2 * r);
    }
    return ptx::warp_uniform(masks);
  }
};

// Which of a math thread's rows a tile writes: bit 2w / 2w+1 = rows row_lo / row_lo + 8 of
// wave w (tile rows [128w, 128w + 128)); row_lo: the thread's first row in the wave.
template <uint32_t kWaves, typename Scheduler>
DLG_DEVICE uint32_t tile_valid_rows(const Scheduler& sched, const TileGroups& tg, uint32_t m0,
                                    uint32_t row_lo) {
  uint32_t valid = 0;
#pragma unroll
  for (uint32_t w = 0; w < kWaves; ++w) {
    const uint32_t row = m0 + 128 * w + row_lo;
    valid |= (sched.row_valid(tg, w, row) ? 1u : 0u) << (2 * w);
    valid |= (sched.row_valid(tg, w, row + 8) ? 1u : 0u) << (2 * w + 1);
  }
  return valid;
}

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kClusterN, uint32_t kGroupN,
          uint32_t kMode>
struct ContiguousTileScheduler {
  static_assert(kMode == kGroupedRowIds || kMode == kGroupedOffsets, "contiguous layouts");
  static constexpr uint32_t kHalves = kBlockM == 256 ? 2 : 1;

  PersistentScheduler<kBlockM, kBlockN, 1, kClusterN, kGroupN> tiles;
  const int32_t* layout;
  int64_t layout_stride;
  uint32_t num_groups, m;

  DLG_DEVICE ContiguousTileScheduler(const int32_t* layout_, int64_t stride, uint32_t groups,
                                     uint32_t m_, uint32_t n)
      : tiles(m_, n), layout(layout_), layout_stride(stride), num_groups(groups), m(m_) {}

  // The group of the rows from r into half h of t; false when there is none.
  DLG_DEVICE bool half_group(uint32_t r, TileGroups& t, uint32_t h) const {
    uint32_t g = 0;
    t.begin[h] = 0;
    t.end[h] = m;
    if (!contiguous_group_of<kMode>(layout, layout_stride, num_groups, m, r, g, t.begin[h], t.end[h]))
      return false;
    t.g[h] = static_cast<int32_t>(g);
    return true;
  }

  // Next tile of this CTA with rows of some group; false when it has none left.
  DLG_DEVICE bool next(uint32_t& m_block, uint32_t& n_block, TileGroups& t) {
    while (tiles.next(m_block, n_block)) {
      const uint32_t m0 = m_block * kBlockM;
      if (!half_group(m0, t, 0)) t.g[0] = -1;
      t.g[1] = -1;
      if constexpr (kHalves == 2) {
        if (!half_group(m0 + 128, t, 1)) t.g[1] = -1;
      }
      if (t.g[0] >= 0 || t.g[1] >= 0) return true;
    }
    return false;
  }

  // Whether row `row` of half h is computed for and written by the tile.
  DLG_DEVICE bool row_valid(const TileGroups& t, uint32_t h, uint32_t row) const {
    if (t.g[h] < 0 || row >= m) return false;
    if constexpr (kMode == kGroupedRowIds)
      return __ldg(layout + static_cast<int64_t>(row) * layout_stride) == t.g[h];
    else return row >= t.begin[h] && row < t.end[h];
  }
};

// The masked layout (MoE decode) on the dense body: group g's tiles are ceil(masked_m[g] /
// BLOCK_M) x N-blocks, enumerated group after group (masked_m read on the device, clamped to
// [0, max_m]; a forward cursor, as grouped.cuh's MGroupedScheduler). m_block is relative to
// the group; half 1 of a BLOCK_M 256 tile past masked_m is skipped (g[1] = -1). With a 1x2
// cluster both CTAs take the two N-blocks of one (group, m-block): every group's tile count
// is even (the launcher keeps the N-block count even), so pairs never straddle groups.
template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kClusterN, uint32_t kGroupN>
struct MaskedTileScheduler {
  using Raster = TileRaster<1, kClusterN, kGroupN>;
  static constexpr uint32_t kHalves = kBlockM == 256 ? 2 : 1;

  const int32_t* masked_m;
  int64_t stride;
  uint32_t num_groups, max_m, num_n_blocks, next_tile;
  uint32_t group, group_begin, group_end, group_rows;  // cursor: tiles [begin, end) of group

  DLG_DEVICE uint32_t rows_of(uint32_t g) const {
    const int32_t v = __ldg(masked_m + static_cast<int64_t>(g) * stride);
    return v < 0 ? 0u : min(static_cast<uint32_t>(v), max_m);
  }
  DLG_DEVICE uint32_t tiles_of(uint32_t rows) const {
    return (rows + kBlockM - 1) / kBlockM * num_n_blocks;
  }

  DLG_DEVICE MaskedTileScheduler(const int32_t* masked_m_, int64_t stride_, uint32_t groups,
                                 uint32_t max_m_, uint32_t n)
      : masked_m(masked_m_), stride(stride_), num_groups(groups), max_m(max_m_) {
    num_n_blocks = (n + kBlockN - 1) / kBlockN;
    next_tile = blockIdx.x;
    group = 0;
    group_begin = 0;
    group_rows = groups > 0 ? rows_of(0) : 0;
    group_end = tiles_of(group_rows);
  }

  DLG_DEVICE bool next(uint32_t& m_block, uint32_t& n_block, TileGroups& t) {
    while (group < num_groups && next_tile >= group_end) {
      if (++group == num_groups) break;
      group_begin = group_end;
      group_rows = rows_of(group);
      group_end += tiles_of(group_rows);
    }
    if (group >= num_groups) return false;
    Raster::tile_to_blocks(next_tile - group_begin, (group_rows + kBlockM - 1) / kBlockM,
                           num_n_blocks, m_block, n_block);
    next_tile += gridDim.x;
    t.g[0] = static_cast<int32_t>(group);
    t.g[1] = kHalves == 2 && m_block * kBlockM + 128 < group_rows ? t.g[0] : -1;
    t.begin[0] = t.begin[1] = 0;
    t.end[0] = t.end[1] = group_rows;
    return true;
  }

  // Whether row `row` (within the group) of half h is written.
  DLG_DEVICE bool row_valid(const TileGroups& t, uint32_t h, uint32_t row) const {
    return t.g[h] >= 0 && row < t.end[h];
  }
};

// Epilogue of one math warpgroup's waves (bf16 D, no C) when rows may be masked. valid: bit
// 2v / 2v+1 = this thread's rows row_lo / row_lo + 8 of wave v may be written. d: D's base,
// ldd its row stride (elements).
template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kWaves>
DLG_DEVICE void masked_waves_epilogue(float (&acc)[kWaves][kBlockN / 2], uint32_t valid,
                                      uint32_t n, uint32_t m0, uint32_t n0, uint8_t* smem_d,
                                      uint32_t wg, const ptx::TensorMap* map_d, dlg_bf16* d,
                                      int64_t ldd) {
  using Epi = WarpgroupEpilogue<kBlockM, kBlockN, dlg_bf16, 0>;
  constexpr uint32_t kRowBlocksPerWave = kBlockM / 64 / kWaves;
  const bool leader = threadIdx.x % 128 == 0;
  bool full[kWaves];
  bool any_full = false;
#pragma unroll
  for (uint32_t v = 0; v < kWaves; ++v) {
    full[v] = ptx::named_barrier_and(1 + wg, 128, ((valid >> (2 * v)) & 3u) == 3u);
    any_full |= full[v];
  }
  if (any_full) {  // uniform over the warpgroup
    if (leader) ptx::tma_store_wait_read<0>();
    ptx::named_barrier_sync(1 + wg, 128);
#pragma unroll
    for (uint32_t v = 0; v < kWaves; ++v)
      if (full[v]) Epi::write_smem(acc[v], smem_d, kRowBlocksPerWave * v + wg);
    ptx::fence_proxy_async_smem();
    ptx::named_barrier_sync(1 + wg, 128);
    if (leader) {
#pragma unroll
      for (uint32_t v = 0; v < kWaves; ++v)
        if (full[v]) Epi::store(map_d, smem_d, kRowBlocksPerWave * v + wg, m0, n0);
    }
  }
#pragma unroll
  for (uint32_t v = 0; v < kWaves; ++v) {
    if (!full[v]) {
      const uint32_t row0 = m0 + 64 * (kRowBlocksPerWave * v + wg);
      DirectStore<kBlockN, dlg_bf16>::run(acc[v], d + static_cast<int64_t>(row0) * ldd + n0, ldd,
                                          n - n0, (valid >> (2 * v)) & 1u, (valid >> (2 * v + 1)) & 1u);
    }
  }
}

}  // namespace dlg
