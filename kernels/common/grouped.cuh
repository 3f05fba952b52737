// Pieces the SM90 grouped GEMMs (sm90_m_grouped_gemm.cuh, sm90_fp8_k_grouped_gemm.cuh) add
// to the dense building blocks: 3D TMA loads, the grouped tile schedulers, and the masked
// direct-store epilogue.
//
// NOTES — schedulers (both walk the persistent sequence b, b + gridDim.x, ... like the dense
// PersistentScheduler, and map each linear tile with the same TileRaster::tile_to_blocks, so
// dense and grouped share one rasterization; the M-grouped one can pair CTAs, see below):
// - M-grouped contiguous: the tile grid is the dense one over all M rows; a tile's group is
//   read on the device: ROW_IDS -> the id of its first row (-1: padding, the tile is skipped);
//   OFFSETS -> the g with off[g] <= m0 < off[g+1] (binary search; outside [off[0], off[G]):
//   skipped). This is exact when every segment starts on a BLOCK_M boundary (the documented
//   128-row alignment): a tile then never holds two groups. Rows of the tile that do not
//   belong to the group (padding, the tail after off[g+1], rows >= M) are masked per row in
//   the epilogue: neither computed into D nor written.
// - M-grouped masked: the tiles of group g are ceil(masked_m[g] / BLOCK_M) x N-blocks,
//   enumerated group after group; masked_m is read on the device (no host sync, CUDA-graph
//   safe). Each CTA's tile index only grows, so a cursor (group, first tile of the group)
//   walks forward; values are clamped to [0, max_m] so a bad masked_m cannot run out of
//   bounds.
// - K-grouped: every group has the same M x N tile grid; tile t -> group t / tiles_per_group.
//   The group's first K column is the prefix sum of ks, kept by the same forward cursor.
// - Producer and consumers each run their own scheduler over the same reads, so they agree
//   on the tile sequence (including skipped tiles) without talking.
//
// NOTES — epilogue: accumulators go straight from registers to global memory (bf16 pairs
// or f32 pairs, the fragment layout of ptx/wgmma.cuh) with a per-row predicate, because
// TMA stores cannot skip padding rows or rows past masked_m. A quad of lanes writes one
// contiguous 16 B (bf16) / 32 B (f32) run of a row.
#pragma once

#include "common/scheduler.cuh"
#include "common/types.cuh"
#include "ptx/base.cuh"

namespace dlg {
namespace ptx {

// 3D tiled TMA load: coordinates innermost first {c0 = K, c1 = row, c2 = group}.
DLG_DEVICE void tma_load_3d(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                            int32_t c1, int32_t c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%3, %4, %5}], [%2];" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}

// tma_load_3d under an L2 cache policy (createpolicy, e.g. base.cuh l2_evict_first_policy).
DLG_DEVICE void tma_load_3d_hint(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                                 int32_t c1, int32_t c2, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint"
      " [%0], [%1, {%3, %4, %5}], [%2], %6;" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2),
      "l"(policy)
      : "memory");
}

// tma_load_3d or, `evict_first`, its evict-first form (see ptx/tma.cuh tma_load_2d_stream).
DLG_DEVICE void tma_load_3d_stream(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                                   int32_t c1, int32_t c2, bool evict_first) {
  if (evict_first) tma_load_3d_hint(map, bar, smem_dst, c0, c1, c2, l2_evict_first_policy());
  else tma_load_3d(map, bar, smem_dst, c0, c1, c2);
}

// The same box written at the same shared-memory offset of every CTA in `cta_mask`, each
// CTA's barrier at `bar`'s offset signalled (see ptx/tma.cuh's 2D multicast).
DLG_DEVICE void tma_load_3d_multicast(const TensorMap* map, uint64_t* bar, void* smem_dst,
                                      int32_t c0, int32_t c1, int32_t c2, uint16_t cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
      ".multicast::cluster [%0], [%1, {%3, %4, %5}], [%2], %6;" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2),
      "h"(cta_mask)
      : "memory");
}

}  // namespace ptx

enum GroupedMode : uint32_t {
  kGroupedRowIds = 0,   // contiguous, int32 group id per row (-1 padding)
  kGroupedOffsets = 1,  // contiguous, int32 offsets [G + 1]
  kGroupedMasked = 2,   // masked, int32 masked_m [G]
};

// One tile of an M-grouped GEMM.
struct MGroupedTile {
  uint32_t group;
  uint32_t m0;         // first row: of A/D (contiguous) or within the group (masked)
  uint32_t n0;
  uint32_t row_begin;  // rows [row_begin, row_end) of the group (offsets, masked)
  uint32_t row_end;
  bool ghost;          // pair mode: this CTA's half has no rows to write (padding / past M)
  bool multicast;      // pair mode: both halves use B[group]: B is loaded once for the pair
};

// Group of row r of a contiguous M-grouped layout; false for padding or outside [0, m):
// ROW_IDS -> the row's id (ids outside [0, groups) are padding), begin/end untouched (rows
// are checked one by one); OFFSETS -> the g with off[g] <= r < off[g+1] (binary search;
// outside [off[0], off[G]): false), its rows [off[g], off[g+1]) in [begin, end).
template <uint32_t kMode>
DLG_DEVICE bool contiguous_group_of(const int32_t* layout, int64_t stride, uint32_t groups,
                                    uint32_t m, uint32_t r, uint32_t& group, uint32_t& begin,
                                    uint32_t& end) {
  auto entry = [&](uint32_t i) { return __ldg(layout + static_cast<int64_t>(i) * stride); };
  if (r >= m) return false;
  if constexpr (kMode == kGroupedRowIds) {
    const int32_t g = entry(r);
    if (g < 0 || static_cast<uint32_t>(g) >= groups) return false;
    group = static_cast<uint32_t>(g);
    return true;
  } else {
    if (static_cast<int64_t>(entry(0)) > r) return false;
    uint32_t lo = 0, hi = groups;  // largest g in [0, G] with off[g] <= r
    while (lo < hi) {
      const uint32_t mid = (lo + hi + 1) / 2;
      if (static_cast<int64_t>(entry(mid)) <= r) lo = mid;
      else hi = mid - 1;
    }
    if (lo >= groups) return false;  // at or past off[G]
    const int32_t b = entry(lo), e = entry(lo + 1);
    group = lo;
    begin = b < 0 ? 0u : static_cast<uint32_t>(b);
    end = e < 0 ? 0u : min(static_cast<uint32_t>(e), m);
    return true;
  }
}

// kPairM = 2: CTAs 2c and 2c+1 (one cluster) take m-blocks 2i and 2i+1 of the same N-block,
// in lockstep (linear pair tile c, c + gridDim.x / 2, ...), so they can share the B tile by
// TMA multicast. Masked: a group's m-blocks are paired inside the group (an odd count leaves
// a ghost half past masked_m: it loads, computes and stores nothing). Contiguous: both CTAs
// read both halves' groups; a pair is skipped only when both halves are padding, a half
// without a group is a ghost, and multicast is used only when both halves have the same
// group (otherwise each CTA loads its own B).
template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kGroupN, uint32_t kMode,
          uint32_t kPairM = 1>
struct MGroupedScheduler {
  using Raster = TileRaster<1, 1, kGroupN>;
  static_assert(kPairM == 1 || kPairM == 2, "pairs of at most 2 CTAs");

  const int32_t* layout;
  int64_t layout_stride;
  uint32_t num_groups, m, num_n_blocks;
  uint32_t next_tile, stride, rank;
  // contiguous
  uint32_t num_m_units;  // m-blocks (or pairs of them)
  // masked cursor: group `group` owns linear pair tiles [group_begin, group_end)
  uint32_t group, group_begin, group_end, group_rows;

  DLG_DEVICE int32_t entry(uint32_t i) const {
    return __ldg(layout + static_cast<int64_t>(i) * layout_stride);
  }

  DLG_DEVICE uint32_t masked_rows(uint32_t g) const {
    const int32_t v = entry(g);
    return v < 0 ? 0u : (static_cast<uint32_t>(v) > m ? m : static_cast<uint32_t>(v));
  }

  DLG_DEVICE static uint32_t units_of(uint32_t rows) {
    const uint32_t blocks = (rows + kBlockM - 1) / kBlockM;
    return (blocks + kPairM - 1) / kPairM;
  }

  DLG_DEVICE MGroupedScheduler(const int32_t* layout_, int64_t stride_, uint32_t groups,
                               uint32_t m_, uint32_t n) {
    layout = layout_;
    layout_stride = stride_;
    num_groups = groups;
    m = m_;
    num_n_blocks = (n + kBlockN - 1) / kBlockN;
    num_m_units = units_of(m);
    next_tile = blockIdx.x / kPairM;
    stride = gridDim.x / kPairM;
    rank = blockIdx.x % kPairM;
    group = 0;
    group_begin = group_end = 0;
    group_rows = 0;
    if constexpr (kMode == kGroupedMasked) {
      if (num_groups > 0) {
        group_rows = masked_rows(0);
        group_end = units_of(group_rows) * num_n_blocks;
      }
    }
  }

  // Group of the contiguous m-block starting at row m0, or false when it is padding.
  DLG_DEVICE bool contiguous_group(uint32_t m0, MGroupedTile& t) const {
    t.row_begin = 0;
    t.row_end = m;
    return contiguous_group_of<kMode>(layout, layout_stride, num_groups, m, m0, t.group,
                                      t.row_begin, t.row_end);
  }

  // Next tile of this CTA; false when it has none left.
  DLG_DEVICE bool next(MGroupedTile& t) {
    t.ghost = false;
    t.multicast = kPairM == 2;
    if constexpr (kMode == kGroupedMasked) {
      while (group < num_groups && next_tile >= group_end) {
        ++group;
        group_begin = group_end;
        if (group < num_groups) {
          group_rows = masked_rows(group);
          group_end += units_of(group_rows) * num_n_blocks;
        }
      }
      if (group >= num_groups) return false;
      uint32_t mu, nb;
      Raster::tile_to_blocks(next_tile - group_begin, units_of(group_rows), num_n_blocks, mu, nb);
      next_tile += stride;
      t.group = group;
      t.m0 = (mu * kPairM + rank) * kBlockM;
      t.n0 = nb * kBlockN;
      t.row_begin = 0;
      t.row_end = group_rows;
      t.ghost = t.m0 >= group_rows;
      return true;
    } else {
      const uint32_t num_tiles = num_m_units * num_n_blocks;
      while (next_tile < num_tiles) {
        uint32_t mu, nb;
        Raster::tile_to_blocks(next_tile, num_m_units, num_n_blocks, mu, nb);
        next_tile += stride;
        t.m0 = (mu * kPairM + rank) * kBlockM;
        t.n0 = nb * kBlockN;
        const bool mine = contiguous_group(t.m0, t);
        if constexpr (kPairM == 1) {
          if (mine) return true;
        } else {
          MGroupedTile peer;
          const bool theirs = contiguous_group((mu * kPairM + (rank ^ 1)) * kBlockM, peer);
          if (!mine && !theirs) continue;  // both halves padding: both CTAs skip
          t.multicast = mine && theirs && peer.group == t.group;
          if (!mine) {  // ghost: load B of the peer's group (in range), write nothing
            t.group = peer.group;
            t.ghost = true;
            t.row_begin = t.row_end = 0;
          }
          return true;
        }
      }
      return false;
    }
  }

  // Whether row `row` (as in MGroupedTile::m0) of tile t is computed and written.
  DLG_DEVICE bool row_valid(const MGroupedTile& t, uint32_t row) const {
    if (t.ghost || row >= m) return false;
    if constexpr (kMode == kGroupedRowIds) return entry(row) == static_cast<int32_t>(t.group);
    else return row >= t.row_begin && row < t.row_end;
  }
};

// One tile of a K-grouped GEMM.
struct KGroupedTile {
  uint32_t group;
  uint32_t m0, n0;
  uint32_t k_begin;       // first K column of the group
  uint32_t num_k_blocks;  // ks[g] / 128
};

template <uint32_t kBlockM, uint32_t kBlockN, uint32_t kGroupN>
struct KGroupedScheduler {
  using Raster = TileRaster<1, 1, kGroupN>;

  const int32_t* ks;
  int64_t ks_stride;
  uint32_t num_groups, num_m_blocks, num_n_blocks, tiles_per_group;
  uint32_t next_tile;
  uint32_t group, k_begin;  // cursor: first K column of `group`

  DLG_DEVICE uint32_t group_k(uint32_t g) const {
    const int32_t v = __ldg(ks + static_cast<int64_t>(g) * ks_stride);
    return v < 0 ? 0u : static_cast<uint32_t>(v);
  }

  DLG_DEVICE KGroupedScheduler(const int32_t* ks_, int64_t stride, uint32_t groups, uint32_t m,
                               uint32_t n) {
    ks = ks_;
    ks_stride = stride;
    num_groups = groups;
    num_m_blocks = (m + kBlockM - 1) / kBlockM;
    num_n_blocks = (n + kBlockN - 1) / kBlockN;
    tiles_per_group = num_m_blocks * num_n_blocks;
    next_tile = blockIdx.x;
    group = 0;
    k_begin = 0;
  }

  DLG_DEVICE bool next(KGroupedTile& t) {
    if (tiles_per_group == 0) return false;
    const uint32_t g = next_tile / tiles_per_group;
    if (g >= num_groups) return false;
    while (group < g) k_begin += group_k(group++);
    uint32_t mb, nb;
    Raster::tile_to_blocks(next_tile - g * tiles_per_group, num_m_blocks, num_n_blocks, mb, nb);
    next_tile += gridDim.x;
    t.group = g;
    t.m0 = mb * kBlockM;
    t.n0 = nb * kBlockN;
    t.k_begin = k_begin;
    t.num_k_blocks = group_k(g) / 128;
    return true;
  }
};

// Row-predicated stores of one math warpgroup's m64 x kBlockN accumulators (fragment layout
// of ptx/wgmma.cuh). `d` points at element (row 0 of the warpgroup, column n0); rows are
// `ld` elements apart; `n_left` = N - n0 columns exist. valid_lo / valid_hi: whether this
// thread's two rows (row_lo and row_lo + 8 of every 16-row slice) may be written.
template <uint32_t kBlockN, typename OutT>
struct DirectStore {
  static constexpr uint32_t kNumAcc = kBlockN / 2;

  DLG_DEVICE static void put2(OutT* p, float x, float y, bool both) {
    if constexpr (sizeof(OutT) == 2) {
      if (both) {
        *reinterpret_cast<uint32_t*>(p) = ptx::pack_bf16x2(x, y);
      } else {
        reinterpret_cast<uint16_t*>(p)[0] = dlg_float_to_bf16_bits(x);
      }
    } else {
      if (both) *reinterpret_cast<float2*>(p) = make_float2(x, y);
      else reinterpret_cast<float*>(p)[0] = x;
    }
  }

  DLG_DEVICE static void run(const float (&acc)[kNumAcc], OutT* d, int64_t ld, uint32_t n_left,
                             bool valid_lo, bool valid_hi) {
    const uint32_t t = threadIdx.x % 128, w = t / 32, l = t % 32;
    const uint32_t row_lo = 16 * w + l / 4;
#pragma unroll
    for (uint32_t i = 0; i < kNumAcc; i += 2) {
      const bool hi = (i / 2) % 2 == 1;
      const uint32_t col = 8 * (i / 4) + 2 * (l % 4);
      if (col < n_left && (hi ? valid_hi : valid_lo)) {
        const uint32_t row = row_lo + (hi ? 8 : 0);
        put2(d + static_cast<int64_t>(row) * ld + col, acc[i], acc[i + 1], col + 1 < n_left);
      }
    }
  }
};

}  // namespace dlg
