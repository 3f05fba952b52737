// SM90 MQA logits over a paged KV cache (the decode side of DeepSeek V3.2's indexer):
// DLG_TEST_INSTANTIATION: sm90_fp8_paged_mqa_logits<64, 128, 1, 21, 0, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_paged_mqa_logits<32, 128, 2, 15, 1, 2>
//
//   logits[b·next_n + t, j] = Σ_h relu((q[b, t, h] · kv(b, j)) · scale(b, j)) · w[b·next_n + t, h]
//
// for j < len(b, t); with p.clean the kernel also writes -inf on [len, width) (epilogues 1, 2;
// epilogue 0 writes only the valid entries and the launcher cleans afterwards). kv(b, j) is
// row j % 64 of physical block block_table[b, j / 64] of the fused cache: per block 64·D FP8 bytes, then 64 FP32 scales.
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
// Memory-bound: the ring of kNumStages blocks (9 by default: ~76 KB of loads in flight per SM;
// more measured slower on the H100, see the launcher) feeds them.
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
// - kNumStages is a multiple of the 3 math warpgroups, so a ring slot always belongs to the
//   same warpgroup (item i and i + kNumStages have one owner). With 16 stages, the owner of
//   item i could reach its kv_full wait while the previous load into that slot (item i - 16,
//   another warpgroup's, still in flight: TMA completes out of order) had not landed: the
//   parity wait then passed one phase early, the warpgroup read a stale slot and arrived on
//   kv_empty a fifth time. Seen on the H100 once the epilogue got faster (L2 flushed, the
//   ring running empty) as "unspecified launch failure"; the owner's own previous use of
//   the slot now orders the phases.
// - Epilogues (kEpilogue, picked by the launcher): 0 = reduce_heads + store_sums, valid
//   entries only (the kernel before 2026-11-22); 1 = reduce_heads + PagedStores, which also
//   write -inf when p.clean (in-block part by the block's owner, the rest of each row by
//   paged_fill_tails: every element written once, and no second launch); 2 = as 1 but the
//   head sum is a second wgmma (relu + bf16 pack of the accumulators, one cvt per pair, as
//   its A operand from registers; the batch's weights as bf16 B in smem, see HeadSumB):
//   ~100 fewer instructions per block for N = 128; calc_diff vs the CPU ~3e-6 (bf16 inputs
//   of the sum), still deterministic.
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
  int32_t clean;       // write -inf outside the valid entries too (kEpilogue >= 1 only)
  int32_t producer;    // kPagedBtWarp | kPagedKvEvictFirst (A/B switches of the launcher)
};
// The producer warp reads the block table 32 entries at a time (else one thread, one entry per
// block: the kernel before 2026-11-22 19:00).
constexpr int32_t kPagedBtWarp = 1;
// KV tiles are loaded with an L2 evict_first policy: the cache is streamed once, so its lines
// are the ones to replace, not the dirty lines other kernels left in L2 (whose write-back
// would compete with the reads) nor the logits this kernel writes.
constexpr int32_t kPagedKvEvictFirst = 2;
static_assert(sizeof(Sm90PagedMqaLogitsParams) == 160, "params layout must match the host");

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
    start(p, cta);
    settle(p);
  }
  // The raw start and end of the CTA's range (settle() still to come).
  DLG_DEVICE void start(const Sm90PagedMqaLogitsParams& p, uint32_t cta) {
    const int32_t* m0 = p.schedule_meta + static_cast<int64_t>(cta) * p.meta_stride0;
    const int32_t* m1 = m0 + p.meta_stride0;
    b = max(0, __ldg(m0));
    k = max(0, __ldg(m0 + p.meta_stride1));
    end_b = __ldg(m1);
    end_k = __ldg(m1 + p.meta_stride1);
    blocks_b = 0;
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

// One KV tile: evict_first when `policy` != 0.
DLG_DEVICE void paged_load_kv(const ptx::TensorMap* map, uint64_t* bar, void* smem_dst,
                              int32_t row, uint64_t policy) {
  if (policy)
    ptx::tma_load_2d_hint(map, bar, smem_dst, 0, row, policy);
  else
    ptx::tma_load_2d(map, bar, smem_dst, 0, row);
}

// Physical block of entry (b, k), -1 past the table (the caller maps it to zero fill).
DLG_DEVICE int32_t paged_bt_entry(const Sm90PagedMqaLogitsParams& p, int32_t b, int32_t k) {
  return (b < p.batch && k < p.max_blocks)
             ? __ldg(p.block_table + b * p.bt_stride0 + k * p.bt_stride1)
             : -1;
}

// Up to 32 consecutive walk entries of one batch, (b, k + i) for i < n; lane i of the producer
// warp holds the physical block of entry i (one coalesced load per chunk instead of one
// dependent load per block on a single thread).
struct PagedBtChunk {
  int32_t b, k, n, phys;

  // Takes the next chunk off `walk` (n = 0 when it is done). `pre` is lane's entry
  // (walk.b, walk.k + lane) when the caller already loaded it (have_pre).
  DLG_DEVICE void take(const Sm90PagedMqaLogitsParams& p, PagedWalk& walk, uint32_t lane,
                       bool have_pre, int32_t pre) {
    b = walk.b;
    k = walk.k;
    n = 0;
    phys = -1;
    if (!walk.more(p)) return;
    const int32_t stop = walk.b == walk.end_b ? min(walk.blocks_b, walk.end_k) : walk.blocks_b;
    n = min(stop - k, 32);
    phys = have_pre ? pre : (static_cast<int32_t>(lane) < n ? paged_bt_entry(p, b, k + lane) : -1);
    walk.k += n;
    if (walk.k >= walk.blocks_b) walk.settle(p);
  }
};


// The paged kernel's stores (kEpilogue >= 1), LaneStores' scheme with the paged row ranges:
// set up once per batch, a key block then costs one select, one unsigned compare and one
// store per slot. Lane l stores the quad's sums k = l%4 + 4t (t < kSlots, k < 2·kQ): query
// k / 2, key + 8·(l & 1). Row (b, q) holds values on [0, len) and, when cleaning, -inf on
// [len, width): `limit` is width then (len otherwise, 0 for a slot past the batch's queries),
// so the in-block part of the -inf tail is written by the key block's owner, never twice.
template <uint32_t kQ, bool kBf16>
struct PagedStores {
  static constexpr uint32_t kSlots = (2 * kQ + 3) / 4;
  int64_t row_off[kSlots];
  uint32_t len[kSlots], limit[kSlots];

  DLG_DEVICE void init(const Sm90PagedMqaLogitsParams& p, int32_t b, uint32_t lane) {
#pragma unroll
    for (uint32_t t = 0; t < kSlots; ++t) {
      const uint32_t q = (lane & 3u) / 2 + 2 * t;
      const int64_t row = static_cast<int64_t>(b) * kQ + q;
      row_off[t] = row * p.out_stride0;
      uint32_t l = 0, m = 0;
      if (q < kQ) {
        l = static_cast<uint32_t>(min(paged_row_len(p, b, static_cast<int32_t>(q)), p.width));
        m = p.clean ? static_cast<uint32_t>(p.width) : l;
      }
      len[t] = l;
      limit[t] = m;
    }
  }

  DLG_DEVICE void store(const float (&out_lo)[kQ], const float (&out_hi)[kQ], void* logits,
                        int64_t s1, int32_t key_lo, uint32_t lane) const {
    const bool upper = (lane & 1u) != 0;
    const uint32_t key = static_cast<uint32_t>(key_lo + (upper ? 8 : 0));
#pragma unroll
    for (uint32_t t = 0; t < kSlots; ++t) {
      const float v = lane_sum(out_lo, out_hi, upper, (lane & 3u) / 2 + 2 * t);
      if (key < limit[t])
        store_logit<kBf16>(logits, row_off[t] + static_cast<int64_t>(key) * s1,
                           key < len[t] ? v : -__int_as_float(0x7f800000));
    }
  }
};

// -inf on [ceil(longest / 64) · 64, width) of the CTA's rows r = cta + i·grid (the columns no
// key block covers; a batch without blocks gets its whole rows), by `count` threads.
template <bool kBf16>
DLG_DEVICE void paged_fill_tails(const Sm90PagedMqaLogitsParams& p, uint32_t tid,
                                 uint32_t count) {
  const int64_t rows = static_cast<int64_t>(p.batch) * p.next_n;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int32_t b = static_cast<int32_t>(r / p.next_n);
    const int64_t from =
        min(static_cast<int64_t>(paged_batch_blocks(p, b)) * kKeysPerBlock,
            static_cast<int64_t>(p.width));
    const int64_t base = r * p.out_stride0;
    for (int64_t j = from + tid; j < p.width; j += count)
      store_logit<kBf16>(p.logits, base + j * p.out_stride1, -__int_as_float(0x7f800000));
  }
}

// The weighted head sum as a second wgmma (kEpilogue 2): D[64 keys, 8] = relu(acc) · W with
// A = relu(acc) packed to bf16 from the accumulator registers (its fragment is the A fragment
// of m64n8k16: registers 4j..4j+3 of j = 2kk, 2kk + 1 for k-step kk) and B = W [N, 8] in smem,
// W[c, n] = w[c / H, c % H] if c / H == n % next_n else 0, so every lane's two columns are
// the queries 2(l%4) % next_n and (2(l%4) + 1) % next_n. B is K-major, 128B-swizzled, one
// 1024-byte atom (8 rows x 64 bf16) per 64 columns c.
template <uint32_t kN>
struct HeadSumB {
  static constexpr uint32_t kAtoms = (kN + 63) / 64;
  static constexpr uint32_t kBytes = kAtoms * 1024;
};

DLG_DEVICE void wgmma_m64n8k16_bf16_rs(float (&d)[4], const uint32_t (&a)[4], uint64_t desc_b,
                                       bool accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(static_cast<int>(accumulate)));
}

DLG_DEVICE void fence_operand_u32(uint32_t& r) { asm volatile("" : "+r"(r)::"memory"); }

// relu(x) of two floats packed to bf16x2 (x_lo in the low half) in one instruction.
DLG_DEVICE uint32_t relu_bf16x2(float x_lo, float x_hi) {
  uint32_t r;
  asm("cvt.rn.relu.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(x_hi), "f"(x_lo));
  return r;
}
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
          uint32_t kBf16Out, uint32_t kEpilogue>
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
  static_assert(kNumStages >= 3 && kNumStages <= 30 && kNumStages % kPagedMathWG == 0,
                "stages: a multiple of the math warpgroups (NOTES)");
  static_assert(kEpilogue <= 2, "epilogue: 0 store_sums, 1 PagedStores, 2 + wgmma head sum");
  static_assert(kEpilogue != 2 || kNextN <= 2, "wgmma head sum: next_n <= 2");

  constexpr uint32_t kTileRows = kKeysPerBlock + kKeysPerBlock * 4 / kHeadDim;  // keys + scales
  constexpr uint32_t kStageTx = kTileRows * kRowBytes;
  constexpr uint32_t kStageBytes = (kStageTx + 1023) / 1024 * 1024;
  constexpr uint32_t kQBytes = (kN * kRowBytes + 1023) / 1024 * 1024;
  constexpr uint32_t kKSteps = kHeadDim / 32;
  constexpr bool kBf16 = kBf16Out != 0;
  using Mma = WgmmaE4M3<kN>;
  using HeadB = HeadSumB<kN>;

  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_q = smem;
  uint8_t* smem_kv = smem_q + 2 * kQBytes;
  uint8_t* smem_wb = smem_kv + kNumStages * kStageBytes;  // [warpgroup][slot] head-sum B
  constexpr uint32_t kHeadBBytes = kEpilogue == 2 ? kPagedMathWG * 2 * HeadB::kBytes : 0;
  uint64_t* kv_full = reinterpret_cast<uint64_t*>(smem_wb + kHeadBBytes);
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
    const uint64_t kv_policy = (p.producer & kPagedKvEvictFirst) ? ptx::l2_evict_first_policy() : 0;
    if (warp == kPagedMathThreads / 32 && (p.producer & kPagedBtWarp)) {
      // The whole warp walks; lane 0 issues. The first chunk's entries are loaded right after
      // schedule_meta, alongside context_lens (one dependent cold load fewer before the first
      // tile), and every chunk's successor is loaded while the chunk's tiles are issued.
      const bool leader = lane == 0;
      PagedWalk walk;
      walk.start(p, blockIdx.x);
      const int32_t b0 = walk.b, k0 = walk.k;
      const int32_t pre = paged_bt_entry(p, b0, k0 + static_cast<int32_t>(lane));
      walk.settle(p);
      PagedBtChunk cur, next;
      cur.take(p, walk, lane, walk.b == b0 && walk.k == k0, pre);
      uint32_t stage = 0, phase = 0, seg = 0;
      int32_t cur_b = -1;
      while (cur.n > 0) {
        if (cur.b != cur_b) {
          cur_b = cur.b;
          const uint32_t slot = seg & 1;
          mbarrier_wait(&q_empty[slot], ((seg >> 1) & 1) ^ 1);
          if (leader) {
            mbarrier_arrive_expect_tx(&q_full[slot], kN * kRowBytes);
            tma_load_2d(&tmap_q, &q_full[slot], smem_q + slot * kQBytes, 0,
                        cur_b * static_cast<int32_t>(kN));
          }
          ++seg;
        }
        for (int32_t i = 0; i < cur.n; ++i) {
          const int32_t phys = __shfl_sync(0xffffffffu, cur.phys, i);
          // Outside the cache: a coordinate wholly out of bounds (TMA zero-fills it).
          const int32_t row = (phys >= 0 && phys < p.num_blocks)
                                  ? static_cast<int32_t>(phys * p.block_rows)
                                  : -static_cast<int32_t>(2 * kTileRows);
          mbarrier_wait(&kv_empty[stage], phase ^ 1);
          if (leader) {
            mbarrier_arrive_expect_tx(&kv_full[stage], kStageTx);
            paged_load_kv(&tmap_kv, &kv_full[stage], smem_kv + stage * kStageBytes, row,
                          kv_policy);
          }
          if (++stage == kNumStages) stage = 0, phase ^= 1;
          if (i == 0) next.take(p, walk, lane, false, 0);  // after the first tile is on its way
        }
        cur = next;
      }
      __syncwarp();
    } else if (warp == kPagedMathThreads / 32) {
      if (elect_one()) {
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
          paged_load_kv(&tmap_kv, &kv_full[stage], smem_kv + stage * kStageBytes, row, kv_policy);
          if (++stage == kNumStages) stage = 0, phase ^= 1;
          walk.advance(p);
        }
      }
      __syncwarp();
    }
  } else {
    // ---- math warpgroups: item i of the walk belongs to warpgroup i % 3 -------------------
    setmaxnreg_inc<152>();  // (65536 - 40 · 128) / 384, rounded down to a multiple of 8
    const uint32_t wg = warp / 4;  // warp-uniform
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
    // The -inf tails no key block covers, while the first loads are in flight.
    if (kEpilogue != 0 && p.clean) paged_fill_tails<kBf16>(p, threadIdx.x, kPagedMathThreads);
    PagedWalk walk;
    walk.init(p, blockIdx.x);
    uint32_t stage = 0, phase = 0, seg = 0, owner = 0;  // owner = item % kPagedMathWG
    int32_t cur_b = -1;
    float w[kEpilogue == 2 ? 1 : kN / 4];
    int32_t lo[kNextN], hi[kNextN];
    PagedStores<kNextN, kBf16> stores;
    uint64_t desc_q = 0, desc_wb = 0;
    float acc[kN / 2];
    while (walk.more(p)) {
      if (walk.b != cur_b) {
        if (seg > 0 && lane == 0) mbarrier_arrive(&q_empty[(seg - 1) & 1]);
        cur_b = walk.b;
        const int64_t row0 = static_cast<int64_t>(cur_b) * kNextN;
        const uint32_t slot = seg & 1;
        if constexpr (kEpilogue == 2) {
          // This warpgroup's B of the head sum for the batch (slot seg & 1; its last reader,
          // segment seg - 2, has completed: every wgmma is waited for before moving on).
          uint8_t* wb = smem_wb + (wg * 2 + slot) * HeadB::kBytes;
          for (uint32_t idx = threadIdx.x % 128; idx < HeadB::kAtoms * 64; idx += 128) {
            const uint32_t atom = idx / 64, n = (idx / 8) % 8, chunk = idx % 8;
            uint32_t packed[4];
#pragma unroll
            for (uint32_t e = 0; e < 4; ++e) {
              float v2[2];
#pragma unroll
              for (uint32_t u = 0; u < 2; ++u) {
                const uint32_t c = atom * 64 + chunk * 8 + 2 * e + u;
                const uint32_t qc = c / kNumHeads, h = c % kNumHeads;
                v2[u] = (c < kN && qc == n % kNextN)
                            ? ldg_f32(p.weights + (row0 + qc) * p.w_stride0 + h * p.w_stride1)
                            : 0.0f;
              }
              packed[e] = pack_bf16x2(v2[0], v2[1]);
            }
            *reinterpret_cast<uint4*>(wb + atom * 1024 + n * kRowBytes +
                                      ((chunk ^ (n & 7)) << 4)) =
                make_uint4(packed[0], packed[1], packed[2], packed[3]);
          }
          fence_proxy_async_smem();
          named_barrier_sync(1 + wg, 128);
          desc_wb = wgmma_desc_sw128(wb);
        } else {
          load_weights<kN, kNumHeads>(w, p.weights, p.w_stride0, p.w_stride1, row0,
                                      static_cast<int64_t>(p.batch) * kNextN, lane);
        }
        if constexpr (kEpilogue == 0) {
#pragma unroll
          for (uint32_t t = 0; t < kNextN; ++t) {
            lo[t] = 0;
            hi[t] = min(paged_row_len(p, cur_b, static_cast<int32_t>(t)), p.width);
          }
        } else {
          stores.init(p, cur_b, lane);
        }
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
        if constexpr (kEpilogue == 2) {
          // relu(x·s) = |s|·relu(sign(s)·x): negate the rows of negative scales (rare), take
          // relu + bf16 in one cvt per pair, sum the heads on the tensor cores, then × |s|.
          if (s_lo < 0.0f || s_hi < 0.0f) {
#pragma unroll
            for (uint32_t i = 0; i < kN / 2; ++i)
              acc[i] = ((i & 2) ? s_hi : s_lo) < 0.0f ? -acc[i] : acc[i];
          }
          uint32_t a[kN / 16][4];
#pragma unroll
          for (uint32_t kk = 0; kk < kN / 16; ++kk) {
#pragma unroll
            for (uint32_t e = 0; e < 4; ++e) {
              const uint32_t i = 8 * kk + 2 * e;  // j = 2kk + e / 2, rows (e % 2)
              a[kk][e] = relu_bf16x2(acc[i], acc[i + 1]);
              fence_operand_u32(a[kk][e]);
            }
          }
          float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          fence_operands(sum);
          wgmma_fence();  // the A registers were just written
#pragma unroll
          for (uint32_t kk = 0; kk < kN / 16; ++kk)
            wgmma_m64n8k16_bf16_rs(sum, a[kk],
                                   wgmma_desc_advance(desc_wb, (kk / 4) * 1024 + (kk % 4) * 32),
                                   kk != 0);
          wgmma_commit();
          wgmma_wait<0>();
          fence_operands(sum);
          // Column 2(l%4) + e is query (2(l%4) + e) % next_n: for next_n <= 2, query q sits
          // in column q of every lane.
#pragma unroll
          for (uint32_t q = 0; q < kNextN; ++q) {
            out_lo[q] = sum[q] * fabsf(s_lo);
            out_hi[q] = sum[2 + q] * fabsf(s_hi);
          }
        } else {
          reduce_heads<kN, kNumHeads>(acc, w, s_lo, s_hi, out_lo, out_hi);
        }
        const int32_t key_lo = walk.k * static_cast<int32_t>(kKeysPerBlock) +
                               static_cast<int32_t>(key_in_block);
        if constexpr (kEpilogue == 0) {
          store_sums<kNextN, kBf16>(out_lo, out_hi, lo, hi, p.logits, p.out_stride0,
                                    p.out_stride1, static_cast<int64_t>(cur_b) * kNextN, key_lo,
                                    lane);
        } else {
          stores.store(out_lo, out_hi, p.logits, p.out_stride1, key_lo, lane);
        }
      }
      if (++stage == kNumStages) stage = 0, phase ^= 1;
      if (++owner == kPagedMathWG) owner = 0;
      walk.advance(p);
    }
  }
  grid_launch_dependents();
#endif
}
