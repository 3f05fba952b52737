// Epilogue of the SM90 GEMMs: one math warpgroup's m64 x kBlockN f32 accumulators
// (+ optional C) -> swizzled shared memory -> TMA store of D (bf16 or f32).
//
// NOTES — shared-memory layout of the D tile (kBlockM x kBlockN of OutT):
// - TMA stores with a swizzle need the box's inner extent to be at most the swizzle span,
//   so the tile is cut into column slabs of kSwizzle bytes (kSlabCols elements): slab s holds
//   columns [s*kSlabCols, (s+1)*kSlabCols) of every row, row r at byte r*kSwizzle. kSwizzle is
//   the largest of 128/64/32 that divides a row (kBlockN*sizeof(OutT)), so the slabs tile
//   the row exactly (e.g. bf16: BLOCK_N 128/192/256 -> 128B, 160 -> 64B, 112/144 -> 32B).
// - Swizzle (all three TMA modes, CUTLASS's Swizzle<b,4,3>): the 16-byte chunk bits [4:4+b)
//   of a byte offset are XORed with bits [7:7+b), b = log2(kSwizzle/16):
//       swizzled(off) = off ^ (((off >> 7) & (kSwizzle/16 - 1)) << 4)
//   Offsets are relative to a 1024-byte aligned base, so they equal the address bits TMA
//   swizzles on. Writes from the accumulator layout hit distinct banks under this pattern.
// - Math warpgroup w owns rows [64w, 64w+64) of every slab (with BLOCK_M 256 also rows
//   [128 + 64w, +64): run_waves) and stores them itself with one TMA box {kSlabCols, 64} per
//   slab and row block; its 128 threads synchronise on named barrier 1 + w. The `wg`
//   argument of write_smem/store is the 64-row block index.
// - bf16 pairs go through stmatrix .x4 (four 8x8 blocks = 16 columns x 16 rows of a warp
//   per instruction); f32 pairs are written with 8-byte st.shared.
// - C (optional) is read from global memory with the accumulator layout, bounds-checked, and
//   added before the conversion (kCMode 1: bf16, 2: f32). C may alias D: each CTA reads
//   exactly the elements it later writes, so there is no race.
// - kCMode 3: C has D's dtype and is loaded by TMA into this very staging tile (same boxes,
//   same swizzle as the D stores; out-of-range elements read as zero), which the kernel
//   issues early (load_c_async) so the load overlaps the mainloop; run_smem_c then adds each
//   thread's elements from shared memory before the tile is overwritten.
// - Slab ring (run_waves_ring, the kernels' kStore 2; kMaxSwizzle 64): instead of the whole
//   tile, each math warpgroup owns kRingBuffers chunk buffers of 64 rows x 64 bytes (one
//   64-byte slab, or two of 32), and streams its rows through them chunk by chunk: wait until
//   the store that last read the buffer has read it (bulk_group wait, at most
//   kRingBuffers - 1 stores pending), write, fence, one TMA store group per chunk. 8 KiB per
//   warpgroup instead of the tile (64 KiB for 128x256 or 256x128 bf16 and 128x128 f32): the
//   pipeline gets a stage or two more (cuBLASLt's 256x128 BF16 and 128x128 1D1D kernels run
//   4 and 6 stages, H100 profile). The buffer index runs on across tiles (`ring_pos`), so a
//   tile's chunk count need not be a multiple of the ring. 64-byte rows (not 128) keep the
//   ring small enough for a 4th stage of FP8 256x128 tiles; stmatrix rows stay conflict-free
//   under the 64-byte swizzle (8 rows x 16 bytes hit 8 distinct 16-byte bank groups).
#pragma once

#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/stmatrix.cuh"
#include "ptx/tma.cuh"

namespace dlg {

template <typename OutT>
struct OutputTraits;
template <>
struct OutputTraits<dlg_bf16> {
  static constexpr uint32_t kBytes = 2;
};
template <>
struct OutputTraits<float> {
  static constexpr uint32_t kBytes = 4;
};

// Largest TMA swizzle span (bytes) that divides a row of `row_bytes`.
constexpr uint32_t epilogue_swizzle_bytes(uint32_t row_bytes) {
  return row_bytes % 128 == 0 ? 128 : (row_bytes % 64 == 0 ? 64 : 32);
}

// C operand description (kCMode: 0 none, 1 bf16, 2 f32, 3 D's dtype through TMA), row-major
// with row stride ldc (kCMode 1, 2).
struct EpilogueC {
  const void* ptr;
  int64_t ldc;
};

// kMaxSwizzle: 128, or 64 for the slab ring (the host's D map must use the same span).
template <uint32_t kBlockM, uint32_t kBlockN, typename OutT, uint32_t kCMode,
          uint32_t kMaxSwizzle = 128>
struct WarpgroupEpilogue {
  static constexpr uint32_t kOutBytes = OutputTraits<OutT>::kBytes;
  static constexpr uint32_t kNaturalSwizzle = epilogue_swizzle_bytes(kBlockN * kOutBytes);
  static constexpr uint32_t kSwizzle =
      kNaturalSwizzle < kMaxSwizzle ? kNaturalSwizzle : kMaxSwizzle;
  static constexpr uint32_t kSlabCols = kSwizzle / kOutBytes;
  static constexpr uint32_t kNumSlabs = kBlockN / kSlabCols;
  static constexpr uint32_t kSlabBytes = kBlockM * kSwizzle;
  static constexpr uint32_t kTileBytes = kBlockM * kBlockN * kOutBytes;
  static constexpr uint32_t kNumAcc = kBlockN / 2;
  // Slab ring (run_waves_ring): chunks of up to 64 bytes of row (whole slabs), 64 rows each.
  static constexpr uint32_t kRingBuffers = 2;
  static constexpr uint32_t kChunkSlabs = 64 / kSwizzle < kNumSlabs ? 64 / kSwizzle : kNumSlabs;
  static constexpr uint32_t kChunkBytes = 64 * kSwizzle * kChunkSlabs;
  static constexpr uint32_t kRingBytesPerWG = kRingBuffers * kChunkBytes;
  static_assert((kBlockN * kOutBytes) % 32 == 0, "a D row must be a multiple of 32 bytes");
  static_assert(kMaxSwizzle == 128 || kMaxSwizzle == 64, "swizzle cap: 128 or 64 (ring)");
  static_assert(kSlabCols % 16 == 0 || kOutBytes == 4, "bf16 slabs hold whole 16-col pairs");

  DLG_DEVICE static uint32_t swizzle(uint32_t off) {
    return off ^ (((off >> 7) & (kSwizzle / 16 - 1)) << 4);
  }

  // Adds C (bounds-checked) to the accumulators of this thread. row0/col0: the tile's first
  // global row of this warpgroup and first global column.
  DLG_DEVICE static void add_c(float (&acc)[kNumAcc], const EpilogueC& c, uint32_t m,
                               uint32_t n, uint32_t row0, uint32_t col0) {
    if constexpr (kCMode == 1 || kCMode == 2) {
      const uint32_t t = threadIdx.x % 128, w = t / 32, l = t % 32;
#pragma unroll
      for (uint32_t i = 0; i < kNumAcc; i += 2) {
        const uint32_t row = row0 + 16 * w + l / 4 + 8 * ((i / 2) % 2);
        const uint32_t col = col0 + 8 * (i / 4) + 2 * (l % 4);
        if (row < m && col < n) {  // n is even (TMA row alignment), so col + 1 < n too
          const int64_t off = static_cast<int64_t>(row) * c.ldc + col;
          if constexpr (kCMode == 1) {
            const uint32_t v = __ldg(reinterpret_cast<const unsigned int*>(
                static_cast<const dlg_bf16*>(c.ptr) + off));
            acc[i] += dlg_bf16_bits_to_float(static_cast<uint16_t>(v & 0xFFFFu));
            acc[i + 1] += dlg_bf16_bits_to_float(static_cast<uint16_t>(v >> 16));
          } else {
            const float2 v = __ldg(reinterpret_cast<const float2*>(
                static_cast<const float*>(c.ptr) + off));
            acc[i] += v.x;
            acc[i + 1] += v.y;
          }
        }
      }
    }
  }

  // Writes this warpgroup's rows of the tile into shared memory. smem_d: the tile base
  // (1024-byte aligned); wg: math warpgroup index.
  DLG_DEVICE static void write_smem(const float (&acc)[kNumAcc], uint8_t* smem_d, uint32_t wg) {
    write_slabs(acc, ptx::smem_addr(smem_d), 64 * wg, kSlabBytes, 0, kNumSlabs);
  }

  // Writes slabs [s0, s1) of this thread's accumulators: slab s at base + (s - s0) *
  // slab_bytes, the thread's rows at row0 + (its row in the m64 block), row r at byte
  // r * kSwizzle (swizzled). base: 1024-byte aligned address. s0, s1 must be known once the
  // caller's loops are unrolled (they select registers).
  DLG_DEVICE static void write_slabs(const float (&acc)[kNumAcc], uint32_t base, uint32_t row0,
                                     uint32_t slab_bytes, uint32_t s0, uint32_t s1) {
    const uint32_t t = threadIdx.x % 128, w = t / 32, l = t % 32;
    if constexpr (kOutBytes == 2) {
      // stmatrix .x4 per 16 columns: matrix q = (row half q%2, column half q/2).
      const uint32_t q = l / 8;
      const uint32_t row = row0 + 16 * w + (q % 2) * 8 + l % 8;
#pragma unroll
      for (uint32_t p = 0; p < kBlockN / 16; ++p) {
        if (16 * p < s0 * kSlabCols || 16 * p >= s1 * kSlabCols) continue;
        const uint32_t col = 16 * p + (q / 2) * 8;
        const uint32_t slab = col / kSlabCols - s0;
        const uint32_t off = row * kSwizzle + (col % kSlabCols) * 2;
        ptx::stmatrix_x4(base + slab * slab_bytes + swizzle(off),
                         ptx::pack_bf16x2(acc[8 * p + 0], acc[8 * p + 1]),
                         ptx::pack_bf16x2(acc[8 * p + 2], acc[8 * p + 3]),
                         ptx::pack_bf16x2(acc[8 * p + 4], acc[8 * p + 5]),
                         ptx::pack_bf16x2(acc[8 * p + 6], acc[8 * p + 7]));
      }
    } else {
#pragma unroll
      for (uint32_t i = 0; i < kNumAcc; i += 2) {
        if (8 * (i / 4) < s0 * kSlabCols || 8 * (i / 4) >= s1 * kSlabCols) continue;
        const uint32_t row = row0 + 16 * w + l / 4 + 8 * ((i / 2) % 2);
        const uint32_t col = 8 * (i / 4) + 2 * (l % 4);
        const uint32_t slab = col / kSlabCols - s0;
        const uint32_t off = row * kSwizzle + (col % kSlabCols) * 4;
        const uint32_t addr = base + slab * slab_bytes + swizzle(off);
        asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(addr), "f"(acc[i]),
                     "f"(acc[i + 1])
                     : "memory");
      }
    }
  }

  // Issues the TMA stores of this warpgroup's 64 rows (call from one thread).
  DLG_DEVICE static void store(const ptx::TensorMap* map_d, uint8_t* smem_d, uint32_t wg,
                               uint32_t row0_tile, uint32_t col0) {
#pragma unroll
    for (uint32_t s = 0; s < kNumSlabs; ++s)
      ptx::tma_store_2d(map_d, smem_d + s * kSlabBytes + 64 * wg * kSwizzle,
                        static_cast<int32_t>(col0 + s * kSlabCols),
                        static_cast<int32_t>(row0_tile + 64 * wg));
    ptx::tma_store_commit();
  }

  // Shared-memory address (in the staging tile) of the element pair acc[i], acc[i + 1] of
  // this thread (i even): the positions write_smem gives them.
  DLG_DEVICE static uint32_t pair_addr(uint32_t base, uint32_t wg, uint32_t i) {
    const uint32_t t = threadIdx.x % 128, w = t / 32, l = t % 32;
    const uint32_t row = 64 * wg + 16 * w + l / 4 + 8 * ((i / 2) % 2);
    const uint32_t col = 8 * (i / 4) + 2 * (l % 4);
    const uint32_t off = row * kSwizzle + (col % kSlabCols) * kOutBytes;
    return base + (col / kSlabCols) * kSlabBytes + swizzle(off);
  }

  // kCMode 3: the k-block after whose issue a tile's C prefetch (load_c_async) goes out.
  // Not the first: the prefetch first waits until the previous tile's TMA store has read the
  // staging tile, and at the tile's start that wait held the leader's warp (so its
  // warpgroup's next chain); halfway, at most 8 in, leaves the load time to land (H100, A/B in
  // one build, kernel µs, k-block 0 -> 8, FP8 1D1D wgrad: 7168x4096x2112 192.8 -> 176.5,
  // 7168x4096x4096 297.6 -> 287.0, 512x4096x32768 153.7 -> 149.5, 2048x4096x7168 146.9 ->
  // 144.5, the other two within 0.6 %; K-grouped -1.2..6.7 %).
  DLG_DEVICE static uint32_t c_prefetch_k_block(uint32_t num_k_blocks) {
    return min(8u, num_k_blocks / 2);
  }

  // kCMode 3, one thread per warpgroup: once the previous tile's stores have read the staging
  // tile, loads this warpgroup's 64 rows of C into it (signals `bar` with the bytes).
  DLG_DEVICE static void load_c_async(const ptx::TensorMap* map_c, uint8_t* smem_d, uint32_t wg,
                                      uint32_t m0, uint32_t n0, uint64_t* bar) {
    ptx::tma_store_wait_read<0>();
    ptx::mbarrier_arrive_expect_tx(bar, kNumSlabs * 64 * kSwizzle);
#pragma unroll
    for (uint32_t s = 0; s < kNumSlabs; ++s)
      ptx::tma_load_2d(map_c, bar, smem_d + s * kSlabBytes + 64 * wg * kSwizzle,
                       static_cast<int32_t>(n0 + s * kSlabCols),
                       static_cast<int32_t>(m0 + 64 * wg));
  }

  // kCMode 3: the whole epilogue of one warpgroup, C taken from the staging tile (loaded by
  // load_c_async into barrier `bar`, phase parity `parity`).
  DLG_DEVICE static void run_smem_c(float (&acc)[kNumAcc], uint32_t m0, uint32_t n0,
                                    uint8_t* smem_d, uint32_t wg, const ptx::TensorMap* map_d,
                                    uint64_t* bar, uint32_t parity) {
    const uint32_t base = ptx::smem_addr(smem_d);
    ptx::mbarrier_wait(bar, parity);
#pragma unroll
    for (uint32_t i = 0; i < kNumAcc; i += 2) {
      const uint32_t addr = pair_addr(base, wg, i);
      if constexpr (kOutBytes == 4) {
        float x, y;
        asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(x), "=f"(y) : "r"(addr) : "memory");
        acc[i] += x;
        acc[i + 1] += y;
      } else {
        uint32_t v;
        asm volatile("ld.shared.b32 %0, [%1];" : "=r"(v) : "r"(addr) : "memory");
        acc[i] += dlg_bf16_bits_to_float(static_cast<uint16_t>(v & 0xFFFFu));
        acc[i + 1] += dlg_bf16_bits_to_float(static_cast<uint16_t>(v >> 16));
      }
    }
    // Every thread has read its C before stmatrix overwrites other threads' positions.
    ptx::named_barrier_sync(1 + wg, 128);
    write_smem(acc, smem_d, wg);
    ptx::fence_proxy_async_smem();
    ptx::named_barrier_sync(1 + wg, 128);
    if (threadIdx.x % 128 == 0) store(map_d, smem_d, wg, m0, n0);
  }

  // Direct epilogue (no staging tile: its shared memory goes to one more pipeline stage):
  // each thread adds C (kCMode 1, 2) and stores its element pairs straight to global memory,
  // bounds-checked (a pair at column n-1 of an odd N stores one element). A warp's store
  // covers 8 rows x 16 bytes (bf16) or 32 bytes (f32) per instruction; L2 merges the halves
  // of a sector before they reach DRAM. d: D's base, ldd its row stride (elements).
  DLG_DEVICE static void run_direct(float (&acc)[kNumAcc], const EpilogueC& c, uint32_t m,
                                    uint32_t n, uint32_t m0, uint32_t n0, uint32_t wg, void* d,
                                    int64_t ldd) {
    add_c(acc, c, m, n, m0 + 64 * wg, n0);
    const uint32_t t = threadIdx.x % 128, w = t / 32, l = t % 32;
#pragma unroll
    for (uint32_t i = 0; i < kNumAcc; i += 2) {
      const uint32_t row = m0 + 64 * wg + 16 * w + l / 4 + 8 * ((i / 2) % 2);
      const uint32_t col = n0 + 8 * (i / 4) + 2 * (l % 4);
      if (row < m && col < n) {
        OutT* dst = static_cast<OutT*>(d) + static_cast<int64_t>(row) * ldd + col;
        if constexpr (kOutBytes == 2) {
          if (col + 1 < n) *reinterpret_cast<uint32_t*>(dst) = ptx::pack_bf16x2(acc[i], acc[i + 1]);
          else reinterpret_cast<uint16_t*>(dst)[0] = dlg_float_to_bf16_bits(acc[i]);
        } else {
          if (col + 1 < n) *reinterpret_cast<float2*>(dst) = make_float2(acc[i], acc[i + 1]);
          else reinterpret_cast<float*>(dst)[0] = acc[i];
        }
      }
    }
  }

  // The whole epilogue of one warpgroup: wait until the previous tile's stores have read the
  // staging tile, write its rows, make the writes visible to TMA, store. With BLOCK_M 256 a
  // warpgroup holds two m64 row blocks (wave v is row block kRowBlocksPerWave·v + wg): one
  // wait and one barrier pair serve all of them.
  template <uint32_t kWaves>
  DLG_DEVICE static void run_waves(float (&acc)[kWaves][kNumAcc], const EpilogueC& c, uint32_t m,
                                   uint32_t n, uint32_t m0, uint32_t n0, uint8_t* smem_d,
                                   uint32_t wg, const ptx::TensorMap* map_d) {
    constexpr uint32_t kRowBlocksPerWave = kBlockM / 64 / kWaves;
    const bool leader = threadIdx.x % 128 == 0;
#pragma unroll
    for (uint32_t v = 0; v < kWaves; ++v)
      add_c(acc[v], c, m, n, m0 + 64 * (kRowBlocksPerWave * v + wg), n0);
    if (leader) ptx::tma_store_wait_read<0>();
    ptx::named_barrier_sync(1 + wg, 128);
#pragma unroll
    for (uint32_t v = 0; v < kWaves; ++v) write_smem(acc[v], smem_d, kRowBlocksPerWave * v + wg);
    ptx::fence_proxy_async_smem();
    ptx::named_barrier_sync(1 + wg, 128);
    if (leader) {
#pragma unroll
      for (uint32_t v = 0; v < kWaves; ++v) store(map_d, smem_d, kRowBlocksPerWave * v + wg, m0, n0);
    }
  }

  // run_waves through the slab ring (see NOTES): smem_ring holds kRingBytesPerWG per math
  // warpgroup; ring_pos (the next buffer, kept by the caller across tiles) is the same in
  // every thread of the warpgroup.
  template <uint32_t kWaves>
  DLG_DEVICE static void run_waves_ring(float (&acc)[kWaves][kNumAcc], const EpilogueC& c,
                                        uint32_t m, uint32_t n, uint32_t m0, uint32_t n0,
                                        uint8_t* smem_ring, uint32_t wg,
                                        const ptx::TensorMap* map_d, uint32_t& ring_pos) {
    constexpr uint32_t kRowBlocksPerWave = kBlockM / 64 / kWaves;
    const bool leader = threadIdx.x % 128 == 0;
    uint8_t* ring = smem_ring + wg * kRingBytesPerWG;
#pragma unroll
    for (uint32_t v = 0; v < kWaves; ++v)
      add_c(acc[v], c, m, n, m0 + 64 * (kRowBlocksPerWave * v + wg), n0);
#pragma unroll
    for (uint32_t v = 0; v < kWaves; ++v) {
      const int32_t row = static_cast<int32_t>(m0 + 64 * (kRowBlocksPerWave * v + wg));
#pragma unroll
      for (uint32_t s0 = 0; s0 < kNumSlabs; s0 += kChunkSlabs) {
        const uint32_t s1 = s0 + kChunkSlabs < kNumSlabs ? s0 + kChunkSlabs : kNumSlabs;
        uint8_t* buf = ring + ring_pos * kChunkBytes;
        // The store that last read this buffer was committed kRingBuffers chunks ago.
        if (leader) ptx::tma_store_wait_read<kRingBuffers - 1>();
        ptx::named_barrier_sync(1 + wg, 128);
        write_slabs(acc[v], ptx::smem_addr(buf), 0, 64 * kSwizzle, s0, s1);
        ptx::fence_proxy_async_smem();
        ptx::named_barrier_sync(1 + wg, 128);
        if (leader) {
#pragma unroll
          for (uint32_t s = s0; s < s1; ++s)
            ptx::tma_store_2d(map_d, buf + (s - s0) * 64 * kSwizzle,
                              static_cast<int32_t>(n0 + s * kSlabCols), row);
          ptx::tma_store_commit();
        }
        ring_pos = ring_pos + 1 == kRingBuffers ? 0 : ring_pos + 1;
      }
    }
  }

  // The whole epilogue of one warpgroup (its one m64 row block): run_waves with one wave.
  DLG_DEVICE static void run(float (&acc)[kNumAcc], const EpilogueC& c, uint32_t m, uint32_t n,
                             uint32_t m0, uint32_t n0, uint8_t* smem_d, uint32_t wg,
                             const ptx::TensorMap* map_d) {
    run_waves<1>(reinterpret_cast<float (&)[1][kNumAcc]>(acc), c, m, n, m0, n0, smem_d, wg,
                 map_d);
  }
};

}  // namespace dlg
