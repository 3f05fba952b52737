// SM90 MQA logits over a paged KV cache (the decode side of DeepSeek V3.2's indexer):
// DLG_TEST_INSTANTIATION: sm90_fp8_paged_mqa_logits<64, 128, 1, 16, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_paged_mqa_logits<32, 128, 2, 16, 1>
//
//   logits[b·next_n + t, j] = Σ_h relu((q[b, t, h] · kv(b, j)) · scale(b, j)) · w[b·next_n + t, h]
//
// for j < len(b, t); only those entries are written (the launcher runs portable_clean_logits
// afterwards for -inf elsewhere). kv(b, j) is row j % 64 of physical block
// block_table[b, j / 64] of the fused cache: per block 64·D FP8 bytes, then 64 FP32 scales.
//
// Schedule (core/ops/attention.c documents it): the batches' key blocks laid end to end are
// split evenly over the CTAs; CTA c walks (batch, block) entries from schedule_meta[c] up to
// schedule_meta[c + 1], skipping batches without blocks. A batch's blocks number
// ceil(longest row / 64). Every step below depends only on that walk, so the producer and every
// math warpgroup replay it independently and agree.
//
// Mapping: N = next_n · H (<= 128) columns = the batch's Q rows (t, h); M = the 64 keys of a
// block; three math warpgroups take the blocks of the walk in turn (item i -> warpgroup i % 3:
// a warpgroup's wgmma + epilogue is latency-bound, so more of them in flight is what keeps
// up with HBM); setmaxnreg gives them 152 registers and the producer 40.
// Memory-bound: the ring of kNumStages blocks keeps ~100 KB of loads in flight per SM.
//
// NOTES:
// - The cache is read through a 2D TMA view [num_blocks · R, D] of D-byte rows, R = block
//   stride / D (the launcher requires D | block stride): block p starts at row p·R, its keys
//   are rows 0..63, its scales the next 256 / D rows. One box of 128 × kTileRows fetches both
//   (128B swizzle, zero-filled past D); a block index outside the cache becomes an all-OOB
//   coordinate (zero fill), so a bad block table can never fault.
// - Scale of key r: block byte 64·D + 4r = view row v = 64 + 4r / D, byte b = 4r % D, stored
//   in smem at v·128 + ((b / 16) ^ (v % 8))·16 + b % 16 (the swizzle).
// - Q of a batch (N rows of the 2D view [B·next_n·H, D]) goes to a double-buffered slot,
//   loaded by the producer when the walk enters the batch (a "segment"); q_empty takes one
//   arrival per math warp when that warp enters the next segment.
// - kv_empty takes 4 arrivals: only the owning warpgroup reads a block. q_empty takes 12 (every
//   math warp).
#pragma once

#include "sm90_fp8_mqa_logits.cuh"

namespace dlg {
namespace mqa {

// Mirrored byte for byte in core/launch/sm90_paged_mqa_logits.c.
struct Sm90PagedMqaLogitsParams {
  const int32_t* context_lens;
  const int32_t* block_table;
  const int32_t* schedule_meta;
  const float* weights;
  void* logits;
  int64_t lens_stride0, lens_stride1;
  int64_t bt_stride0, bt_stride1;
  int64_t meta_stride0, meta_stride1;
  int64_t w_stride0, w_stride1;
  int64_t out_stride0, out_stride1;
  int64_t block_rows;  // R: view rows per cache block (block stride / D)
  int32_t batch, next_n;
  int32_t lens_2d;     // context_lens is [B, next_n] (else [B], DeepGEMM's convention)
  int32_t max_blocks;  // block_table columns
  int32_t num_blocks;  // physical blocks in the cache
  int32_t width;       // logits columns (max_context_len)
};
static_assert(sizeof(Sm90PagedMqaLogitsParams) == 152, "params layout must match the host");

// Valid length of row (b, t), as dlg_ref_paged_row_len.
DLG_DEVICE int32_t paged_row_len(const Sm90PagedMqaLogitsParams& p, int32_t b, int32_t t) {
  int64_t len;
  if (p.lens_2d) {
    len = __ldg(p.context_lens + b * p.lens_stride0 + t * p.lens_stride1);
  } else {
    len = static_cast<int64_t>(__ldg(p.context_lens + b * p.lens_stride0)) - p.next_n + t + 1;
  }
  return len > 0 ? static_cast<int32_t>(len) : 0;
}

// Key blocks of batch b: its longest row over t, in blocks of 64.
DLG_DEVICE int32_t paged_batch_blocks(const Sm90PagedMqaLogitsParams& p, int32_t b) {
  int32_t longest = 0;
  if (p.lens_2d) {
    for (int32_t t = 0; t < p.next_n; ++t) longest = max(longest, paged_row_len(p, b, t));
  } else {
    const int32_t len = __ldg(p.context_lens + b * p.lens_stride0);
    longest = len > 0 ? len : 0;
  }
  return static_cast<int32_t>((static_cast<int64_t>(longest) + kKeysPerBlock - 1) /
                              kKeysPerBlock);
}

// CTA `cta`'s walk over (batch, block) entries [meta[cta], meta[cta + 1]).
struct PagedWalk {
  int32_t b, k, blocks_b, end_b, end_k;

  DLG_DEVICE void init(const Sm90PagedMqaLogitsParams& p, uint32_t cta) {
    const int32_t* m0 = p.schedule_meta + static_cast<int64_t>(cta) * p.meta_stride0;
    const int32_t* m1 = m0 + p.meta_stride0;
    b = max(0, __ldg(m0));
    k = max(0, __ldg(m0 + p.meta_stride1));
    end_b = __ldg(m1);
    end_k = __ldg(m1 + p.meta_stride1);
    blocks_b = 0;
    settle(p);
  }
  // Moves past exhausted (or empty) batches.
  DLG_DEVICE void settle(const Sm90PagedMqaLogitsParams& p) {
    while (b < p.batch) {
      blocks_b = paged_batch_blocks(p, b);
      if (k < blocks_b) break;
      ++b;
      k = 0;
    }
  }
  DLG_DEVICE bool valid() const {
    return b < end_b || (b == end_b && k < end_k);
  }
  DLG_DEVICE bool more(const Sm90PagedMqaLogitsParams& p) const { return b < p.batch && valid(); }
  DLG_DEVICE void advance(const Sm90PagedMqaLogitsParams& p) {
    if (++k >= blocks_b) settle(p);
  }
};

}  // namespace mqa
}  // namespace dlg

namespace dlg {
namespace mqa {
constexpr uint32_t kPagedMathWG = 3;
constexpr uint32_t kPagedMathThreads = kPagedMathWG * 128;
constexpr uint32_t kPagedThreads = kPagedMathThreads + 128;
}  // namespace mqa
}  // namespace dlg

#define DLG_SM90_PAGED_MQA_LOGITS_SIGNATURE                              \
  const dlg::mqa::Sm90PagedMqaLogitsParams p,                            \
      const __grid_constant__ dlg::ptx::TensorMap tmap_q,                \
      const __grid_constant__ dlg::ptx::TensorMap tmap_kv

template <uint32_t kNumHeads, uint32_t kHeadDim, uint32_t kNextN, uint32_t kNumStages,
          uint32_t kBf16Out>
__global__ void __launch_bounds__(dlg::mqa::kPagedThreads, 1)
    sm90_fp8_paged_mqa_logits(DLG_SM90_PAGED_MQA_LOGITS_SIGNATURE) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;
  using namespace dlg::mqa;

  constexpr uint32_t kN = kNextN * kNumHeads;
  static_assert(kNumHeads >= 16 && kNumHeads <= 128 && 128 % kNumHeads == 0, "H: 16..128");
  static_assert(kN <= 128, "next_n * H <= 128");
  static_assert(kHeadDim == 32 || kHeadDim == 64 || kHeadDim == 128, "D: 32, 64 or 128");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");

  constexpr uint32_t kTileRows = kKeysPerBlock + kKeysPerBlock * 4 / kHeadDim;  // keys + scales
  constexpr uint32_t kStageTx = kTileRows * kRowBytes;
  constexpr uint32_t kStageBytes = (kStageTx + 1023) / 1024 * 1024;
  constexpr uint32_t kQBytes = (kN * kRowBytes + 1023) / 1024 * 1024;
  constexpr uint32_t kKSteps = kHeadDim / 32;
  constexpr bool kBf16 = kBf16Out != 0;
  using Mma = WgmmaE4M3<kN>;

  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_q = smem;
  uint8_t* smem_kv = smem_q + 2 * kQBytes;
  uint64_t* kv_full = reinterpret_cast<uint64_t*>(smem_kv + kNumStages * kStageBytes);
  uint64_t* kv_empty = kv_full + kNumStages;
  uint64_t* q_full = kv_empty + kNumStages;
  uint64_t* q_empty = q_full + 2;

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();

  if (threadIdx.x == kPagedMathThreads) {
    tma_prefetch_map(&tmap_q);
    tma_prefetch_map(&tmap_kv);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&kv_full[s], 1);
      mbarrier_init(&kv_empty[s], 4);  // the owning warpgroup's warps
    }
#pragma unroll
    for (uint32_t s = 0; s < 2; ++s) {
      mbarrier_init(&q_full[s], 1);
      mbarrier_init(&q_empty[s], kPagedMathThreads / 32);
    }
    fence_barrier_init();
  }
  __syncthreads();
  grid_dependency_wait();

  if (threadIdx.x >= kPagedMathThreads) {
    // ---- producer ------------------------------------------------------------------------
    setmaxnreg_dec<40>();
    if (warp == kPagedMathThreads / 32 && elect_one()) {
      PagedWalk walk;
      walk.init(p, blockIdx.x);
      uint32_t stage = 0, phase = 0, seg = 0;
      int32_t cur_b = -1;
      while (walk.more(p)) {
        if (walk.b != cur_b) {
          cur_b = walk.b;
          const uint32_t slot = seg & 1;
          mbarrier_wait(&q_empty[slot], ((seg >> 1) & 1) ^ 1);
          mbarrier_arrive_expect_tx(&q_full[slot], kN * kRowBytes);
          tma_load_2d(&tmap_q, &q_full[slot], smem_q + slot * kQBytes, 0,
                      cur_b * static_cast<int32_t>(kN));
          ++seg;
        }
        int32_t phys = -1;
        if (walk.k < p.max_blocks)
          phys = __ldg(p.block_table + walk.b * p.bt_stride0 + walk.k * p.bt_stride1);
        // Outside the cache: a coordinate wholly out of bounds (TMA zero-fills it).
        const int32_t row = (phys >= 0 && phys < p.num_blocks)
                                ? static_cast<int32_t>(phys * p.block_rows)
                                : -static_cast<int32_t>(2 * kTileRows);
        mbarrier_wait(&kv_empty[stage], phase ^ 1);
        mbarrier_arrive_expect_tx(&kv_full[stage], kStageTx);
        tma_load_2d(&tmap_kv, &kv_full[stage], smem_kv + stage * kStageBytes, 0, row);
        if (++stage == kNumStages) stage = 0, phase ^= 1;
        walk.advance(p);
      }
    }
    __syncwarp();
  } else {
    // ---- math warpgroups: item i of the walk belongs to warpgroup i % 3 -------------------
    setmaxnreg_inc<152>();  // (65536 - 40 · 128) / 384, rounded down to a multiple of 8
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t warp_in_wg = warp % 4;
    const uint32_t key_in_block = 16 * warp_in_wg + lane / 4;  // and key_in_block + 8
    // Smem offsets of the two keys' scales inside a stage (see NOTES).
    uint32_t scale_off[2];
#pragma unroll
    for (uint32_t r = 0; r < 2; ++r) {
      const uint32_t byte = kKeysPerBlock * kHeadDim + 4 * (key_in_block + 8 * r);
      const uint32_t v = byte / kHeadDim, b = byte % kHeadDim;
      scale_off[r] = v * kRowBytes + ((((b >> 4) ^ (v & 7)) << 4) | (b & 15));
    }
    PagedWalk walk;
    walk.init(p, blockIdx.x);
    uint32_t stage = 0, phase = 0, seg = 0, owner = 0;  // owner = item % kPagedMathWG
    int32_t cur_b = -1;
    float w[kN / 4];
    int32_t lo[kNextN], hi[kNextN];
    uint64_t desc_q = 0;
    float acc[kN / 2];
    while (walk.more(p)) {
      if (walk.b != cur_b) {
        if (seg > 0 && lane == 0) mbarrier_arrive(&q_empty[(seg - 1) & 1]);
        cur_b = walk.b;
        const int64_t row0 = static_cast<int64_t>(cur_b) * kNextN;
        load_weights<kN, kNumHeads>(w, p.weights, p.w_stride0, p.w_stride1, row0,
                                    static_cast<int64_t>(p.batch) * kNextN, lane);
#pragma unroll
        for (uint32_t t = 0; t < kNextN; ++t) {
          lo[t] = 0;
          hi[t] = min(paged_row_len(p, cur_b, static_cast<int32_t>(t)), p.width);
        }
        const uint32_t slot = seg & 1;
        mbarrier_wait(&q_full[slot], (seg >> 1) & 1);
        desc_q = wgmma_desc_sw128(smem_q + slot * kQBytes);
        ++seg;
      }
      if (owner == wg) {
        const uint8_t* tile = smem_kv + stage * kStageBytes;
        mbarrier_wait(&kv_full[stage], phase);
        const uint64_t desc_kv = wgmma_desc_sw128(tile);
        fence_operands(acc);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kKSteps; ++k)
          Mma::mma(wgmma_desc_advance(desc_kv, k * 32), wgmma_desc_advance(desc_q, k * 32), acc,
                   k != 0);
        wgmma_commit();
        wgmma_wait<0>();
        fence_operands(acc);
        const float s_lo = *reinterpret_cast<const float*>(tile + scale_off[0]);
        const float s_hi = *reinterpret_cast<const float*>(tile + scale_off[1]);
        __syncwarp();
        if (lane == 0) mbarrier_arrive(&kv_empty[stage]);
        float out_lo[kNextN], out_hi[kNextN];
        reduce_heads<kN, kNumHeads>(acc, w, s_lo, s_hi, out_lo, out_hi);
        const int32_t key_lo = walk.k * static_cast<int32_t>(kKeysPerBlock) +
                               static_cast<int32_t>(key_in_block);
        store_sums<kNextN, kBf16>(out_lo, out_hi, lo, hi, p.logits, p.out_stride0,
                                  p.out_stride1, static_cast<int64_t>(cur_b) * kNextN, key_lo,
                                  lane);
      }
      if (++stage == kNumStages) stage = 0, phase ^= 1;
      if (++owner == kPagedMathWG) owner = 0;
      walk.advance(p);
    }
  }
  grid_launch_dependents();
#endif
}
