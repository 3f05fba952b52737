// SM90 MQA logits, non-paged (the prefill side of DeepSeek V3.2's lightning indexer):
// DLG_TEST_INSTANTIATION: sm90_fp8_mqa_logits<64, 128, 12, 0>
// DLG_TEST_INSTANTIATION: sm90_fp8_mqa_logits<32, 64, 12, 1>
// DLG_TEST_INSTANTIATION: sm90_fp8_mqa_logits<128, 64, 12, 1, 4>
// DLG_TEST_INSTANTIATION: sm90_fp8_mqa_logits<64, 128, 12, 0, 4>
//
//   logits[i, j] = Σ_h relu((q[i, h, :] · kv[j, :]) · kv_scale[j]) · w[i, h]   j in [ks[i], ke[i])
//
// Only valid (i, j) are written; the launcher runs portable_clean_logits afterwards when the
// caller asked for -inf elsewhere (so this kernel never needs a second store pattern).
//
// Mapping (keys on wgmma M, query heads on N, so the head reduction stays in registers):
//   - one CTA = 1 producer warpgroup + 2 math warpgroups, persistent over query blocks
//     (CTA b takes blocks b, b + grid, ...; a causal mask makes the blocks' work grow with the
//     index, and the stride interleave evens it out);
//   - a query block is kBlockQ = 2 · (128 / H) queries; math warpgroup w owns 128 / H of them,
//     i.e. the 128 rows (query, head) of the Q tile at rows [128w, 128w + 128);
//   - the KV range of a block is [min ks, max ke) over its queries, in blocks of 64 keys; each
//     64-key block is one TMA load (ring of kNumStages slots) that BOTH math warpgroups read:
//     wgmma m64n128k32 with A = 64 keys × 128 B (K = D), B = its 128 Q rows; D / 32 steps;
//   - in registers: × kv_scale[key], relu, × w[query, head], summed over the thread's heads,
//     then over the quad (shfl xor 1, 2): a fixed order, so every run is bitwise identical;
//     each lane then stores one of the quad's sums (LaneStores, set up per query block);
//   - two accumulator sets per math warpgroup: the wgmma of key block i + 1 is issued before
//     the epilogue of block i (wgmma.wait_group 1), so tensor cores and ALUs overlap;
//     setmaxnreg gives the math warpgroups 232 registers, the producer 40.
//
//   - kNumMathWG = 4 (the launcher's default for H >= 64): four math warpgroups with ONE
//     accumulator set each (setmaxnreg 112, producer 32); warpgroup w reads Q half w & 1 and
//     the key blocks whose ring index has parity w >> 1, so a tile is still read by two
//     warpgroups. 1.06-1.18x over kNumMathWG = 2 (docs/mqa_logits.md); H < 64 spills at 112.
//
// NOTES:
// - Tiles are 128-byte rows with the 128B swizzle whatever D is (D ∈ {32, 64, 96, 128}): the
//   TMA box is 128 elements wide, past D it is zero-filled (and never read: only D / 32 k-steps
//   run). The descriptor math is that of ptx/wgmma.cuh (SBO 1024, base offset 0, 1024-aligned
//   tiles).
// - Barriers: kv_full[s] (1 arrival + tx), kv_empty[s] (8 arrivals: every math warp, once
//   the wgmma.wait_group covering the slot returned), q_full[2] / q_empty[2] the same for the
//   double-buffered Q tile, released when a warp has finished the block's last key block.
//   Parity protocol as in ptx/mbarrier.cuh.
// - Measured (H100, bench/results/h100-2026-11-22-mqa-nonpaged-lanestores.json): 715-787
//   TFLOPS, 0.74-0.78x DeepGEMM (was 520-570 with store_sums: its four lane-divergent store
//   branches, each with 64-bit address math, were ~90 of ~316 instructions per key block;
//   LaneStores makes it one predicated store). ncu: 2.25 warps per scheduler, 0.65 eligible,
//   issue 45% busy, tensor pipe 41%: still latency-bound; more math warps are the next step.
// - Accumulator fragment (ptx/wgmma.cuh): thread (warp w4 of its warpgroup, lane l) holds keys
//   16·w4 + l/4 (+8) and columns 8j + 2(l%4) + {0,1}; column c is (query c / H, head c % H).
//   After the quad reduction every lane of a quad has the same kQ·2 sums; lane l%4 == k%4
//   stores sum k (k = 2·query + {0: key, 1: key + 8}).
// - All shared helpers used by the paged kernel live in namespace dlg::mqa below.
#pragma once

#include "common/types.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {
namespace mqa {

constexpr uint32_t kKeysPerBlock = 64;  // one wgmma M

template <int kValue>
struct IntConst {
  static constexpr int value = kValue;
};
constexpr uint32_t kRowBytes = 128;     // a smem row of Q / KV: one 128B swizzle row
constexpr uint32_t kMathThreads = 256;  // two math warpgroups
constexpr uint32_t kThreads = kMathThreads + 128;

template <bool kBf16>
DLG_DEVICE void store_logit(void* base, int64_t off, float v) {
  if constexpr (kBf16) {
    static_cast<uint16_t*>(base)[off] = dlg_float_to_bf16_bits(v);
  } else {
    static_cast<float*>(base)[off] = v;
  }
}

// Row i's valid range as the CPU reference clamps it: lo = clamp(ks, 0, n), hi in [lo, n].
DLG_DEVICE void clamp_range(int32_t ks, int32_t ke, int32_t n, int32_t& lo, int32_t& hi) {
  lo = ks < 0 ? 0 : (ks > n ? n : ks);
  hi = ke > n ? n : ke;
  if (hi < lo) hi = lo;
}

// w[2j + e] = weights[row0 + c / H, c % H] for the thread's column c = 8j + 2(l%4) + e
// (0 past `rows`).
template <uint32_t N, uint32_t H>
DLG_DEVICE void load_weights(float (&w)[N / 4], const float* weights, int64_t s0, int64_t s1,
                             int64_t row0, int64_t rows, uint32_t lane) {
#pragma unroll
  for (uint32_t j = 0; j < N / 8; ++j) {
    const int64_t row = row0 + (8 * j) / H;  // H is a multiple of 8: one query per 8 columns
#pragma unroll
    for (uint32_t e = 0; e < 2; ++e) {
      const int64_t h = (8 * j) % H + 2 * (lane % 4) + e;
      w[2 * j + e] = row < rows ? ptx::ldg_f32(weights + row * s0 + h * s1) : 0.0f;
    }
  }
}

// Σ_h relu(acc · scale) · w for each of the N / H queries, for the thread's two keys, summed
// over the quad so that all four lanes hold the same values. When every scale of the warp is
// >= 0 (quantisation scales are), relu(x·s)·w = s·(relu(x)·w): one max and one FMA per
// accumulator and the scale once per sum; otherwise (warp-uniform branch) the literal form.
// Two partial sums per chain for ILP. The order is fixed either way: deterministic.
template <uint32_t N, uint32_t H>
DLG_DEVICE void reduce_heads(const float (&acc)[N / 2], const float (&w)[N / 4], float s_lo,
                             float s_hi, float (&out_lo)[N / H], float (&out_hi)[N / H]) {
  constexpr uint32_t kJPerQuery = H / 8;
  const bool scales_nonneg = __all_sync(0xffffffffu, s_lo >= 0.0f && s_hi >= 0.0f);
#pragma unroll
  for (uint32_t q = 0; q < N / H; ++q) {
    float a0 = 0.0f, a1 = 0.0f, b0 = 0.0f, b1 = 0.0f;
    if (scales_nonneg) {
#pragma unroll
      for (uint32_t jj = 0; jj < kJPerQuery; ++jj) {
        const uint32_t j = q * kJPerQuery + jj;
        a0 = fmaf(fmaxf(acc[4 * j + 0], 0.0f), w[2 * j + 0], a0);
        a1 = fmaf(fmaxf(acc[4 * j + 1], 0.0f), w[2 * j + 1], a1);
        b0 = fmaf(fmaxf(acc[4 * j + 2], 0.0f), w[2 * j + 0], b0);
        b1 = fmaf(fmaxf(acc[4 * j + 3], 0.0f), w[2 * j + 1], b1);
      }
    } else {
#pragma unroll
      for (uint32_t jj = 0; jj < kJPerQuery; ++jj) {
        const uint32_t j = q * kJPerQuery + jj;
        a0 = fmaf(fmaxf(acc[4 * j + 0] * s_lo, 0.0f), w[2 * j + 0], a0);
        a1 = fmaf(fmaxf(acc[4 * j + 1] * s_lo, 0.0f), w[2 * j + 1], a1);
        b0 = fmaf(fmaxf(acc[4 * j + 2] * s_hi, 0.0f), w[2 * j + 0], b0);
        b1 = fmaf(fmaxf(acc[4 * j + 3] * s_hi, 0.0f), w[2 * j + 1], b1);
      }
    }
    float a = a0 + a1, b = b0 + b1;
    // x + y == y + x bitwise, so the butterfly leaves identical sums in all four lanes.
    a += __shfl_xor_sync(0xffffffffu, a, 1);
    b += __shfl_xor_sync(0xffffffffu, b, 1);
    a += __shfl_xor_sync(0xffffffffu, a, 2);
    b += __shfl_xor_sync(0xffffffffu, b, 2);
    out_lo[q] = scales_nonneg ? a * s_lo : a;
    out_hi[q] = scales_nonneg ? b * s_hi : b;
  }
}

// Stores the quad's kQ · 2 sums: lane l writes those with (2q + r) % 4 == l % 4, where
// key_lo is the thread's first key, r = 1 the key 8 further. Row row0 + q is valid on
// [lo[q], hi[q]); rows past `rows` are skipped.
template <uint32_t kQ, bool kBf16>
DLG_DEVICE void store_sums(const float (&out_lo)[kQ], const float (&out_hi)[kQ],
                           const int32_t (&lo)[kQ], const int32_t (&hi)[kQ], void* logits,
                           int64_t s0, int64_t s1, int64_t row0, int32_t key_lo,
                           uint32_t lane) {
#pragma unroll
  for (uint32_t q = 0; q < kQ; ++q) {
#pragma unroll
    for (uint32_t r = 0; r < 2; ++r) {
      if (((2 * q + r) & 3u) != (lane & 3u)) continue;
      const int32_t key = key_lo + 8 * static_cast<int32_t>(r);
      if (key >= lo[q] && key < hi[q])
        store_logit<kBf16>(logits, (row0 + q) * s0 + static_cast<int64_t>(key) * s1,
                           r ? out_hi[q] : out_lo[q]);
    }
  }
}

// The non-paged kernel's stores, set up once per query block so that a key block costs one
// predicated store per slot instead of store_sums' four divergent branches with their own
// 64-bit address math (measured: those were ~1/4 of the instructions per key block).
// Lane l stores the sums k = l%4 + 4t (t < kSlots, k < 2·kQ): query k / 2, key + 8·(l & 1).
// The quad's sum of query q_sel for this lane's key (upper: the key 8 rows down), picked with
// selects: indexing out_lo / out_hi by a lane-dependent q would send them to local memory.
template <uint32_t kQ>
DLG_DEVICE float lane_sum(const float (&out_lo)[kQ], const float (&out_hi)[kQ], bool upper,
                          uint32_t q_sel) {
  float v = 0.0f;
#pragma unroll
  for (uint32_t q = 0; q < kQ; ++q) {
    const float c = upper ? out_hi[q] : out_lo[q];
    v = q_sel == q ? c : v;
  }
  return v;
}

// Mirrored byte for byte in core/launch/sm90_mqa_logits.c (8-byte fields, then 4-byte).
struct Sm90MqaLogitsParams {
  const int32_t* ks;
  const int32_t* ke;
  const float* kv_scale;
  const float* weights;
  void* logits;
  int64_t ks_stride, ke_stride, scale_stride;  // element strides
  int64_t w_stride0, w_stride1;
  int64_t out_stride0, out_stride1;
  int32_t seq_len, seq_len_kv;
  // > 0: compressed logits [S, width], column c of row i is key lo_i + c (DeepGEMM's
  // max_seqlen_k output); 0: logits [S, S_kv], column = key.
  int32_t compressed_width, pad;
};
static_assert(sizeof(Sm90MqaLogitsParams) == 112, "params layout must match the host");

// Row `row`'s keys to compute, [lo, hi): clamp_range, and for compressed logits cut at the
// output width (keys past lo + width have no column).
DLG_DEVICE void row_range(const Sm90MqaLogitsParams& p, int64_t row, int32_t& lo, int32_t& hi) {
  clamp_range(__ldg(p.ks + row * p.ks_stride), __ldg(p.ke + row * p.ke_stride), p.seq_len_kv,
              lo, hi);
  if (p.compressed_width > 0 && hi - lo > p.compressed_width) hi = lo + p.compressed_width;
}

template <uint32_t kQ, bool kBf16>
struct LaneStores {
  static constexpr uint32_t kSlots = (2 * kQ + 3) / 4;
  int64_t row_off[kSlots];  // (row0 + q) · s0, minus lo · s1 for compressed logits
  int32_t lo[kSlots];       // the row's valid keys are [lo, lo + len); len 0: nothing to store
  uint32_t len[kSlots];

  // Reads the slot's row range again (ks / ke) rather than selecting from the caller's
  // per-query arrays: a select by a lane-dependent index sends those arrays to local memory.
  // Compressed logits shift row i's columns by lo_i: folded into row_off, so store() is the
  // same one predicated store either way.
  DLG_DEVICE void init(const Sm90MqaLogitsParams& p, int64_t row0, uint32_t lane) {
#pragma unroll
    for (uint32_t t = 0; t < kSlots; ++t) {
      const uint32_t q = (lane & 3u) / 2 + 2 * t;
      const int64_t row = row0 + q;
      int32_t l = 0, h = 0;
      if (q < kQ && row < p.seq_len) row_range(p, row, l, h);
      row_off[t] = row * p.out_stride0 -
                   (p.compressed_width > 0 ? static_cast<int64_t>(l) * p.out_stride1 : 0);
      lo[t] = l;
      len[t] = static_cast<uint32_t>(h - l);
    }
  }

  // key_lo: the thread's first key (the accumulator row l / 4 of its warp's 16).
  DLG_DEVICE void store(const float (&out_lo)[kQ], const float (&out_hi)[kQ], void* logits,
                        int64_t s1, int32_t key_lo, uint32_t lane) const {
    const bool upper = (lane & 1u) != 0;
    const int32_t key = key_lo + (upper ? 8 : 0);
#pragma unroll
    for (uint32_t t = 0; t < kSlots; ++t) {
      const float v = lane_sum(out_lo, out_hi, upper, (lane & 3u) / 2 + 2 * t);
      // key - lo wraps to a large unsigned value below lo: one compare covers both ends.
      if (static_cast<uint32_t>(key - lo[t]) < len[t])
        store_logit<kBf16>(logits, row_off[t] + static_cast<int64_t>(key) * s1, v);
    }
  }
};

// Key-block range [kb_begin, kb_end) of queries [q0, q0 + count): the union of their valid
// ranges (empty rows ignored), in 64-key blocks. The producer and the math warps call this
// with the same arguments, so both walk the same blocks.
DLG_DEVICE void key_block_range(const Sm90MqaLogitsParams& p, int64_t q0, uint32_t count,
                                uint32_t& kb_begin, uint32_t& kb_end) {
  int32_t lo_min = p.seq_len_kv, hi_max = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const int64_t row = q0 + i;
    if (row >= p.seq_len) break;
    int32_t lo, hi;
    row_range(p, row, lo, hi);
    if (hi > lo) {
      lo_min = min(lo_min, lo);
      hi_max = max(hi_max, hi);
    }
  }
  if (hi_max > lo_min) {
    kb_begin = static_cast<uint32_t>(lo_min) / kKeysPerBlock;
    kb_end = (static_cast<uint32_t>(hi_max) + kKeysPerBlock - 1) / kKeysPerBlock;
  } else {
    kb_begin = kb_end = 0;
  }
}

}  // namespace mqa
}  // namespace dlg

#define DLG_SM90_MQA_LOGITS_SIGNATURE                                    \
  const dlg::mqa::Sm90MqaLogitsParams p,                                 \
      const __grid_constant__ dlg::ptx::TensorMap tmap_q,                \
      const __grid_constant__ dlg::ptx::TensorMap tmap_kv

template <uint32_t kNumHeads, uint32_t kHeadDim, uint32_t kNumStages, uint32_t kBf16Out,
          uint32_t kNumMathWG = 2>
__global__ void __launch_bounds__(kNumMathWG * 128 + 128, 1)
    sm90_fp8_mqa_logits(DLG_SM90_MQA_LOGITS_SIGNATURE) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using namespace dlg;
  using namespace dlg::ptx;
  using namespace dlg::mqa;

  static_assert(kNumHeads >= 16 && kNumHeads <= 128 && 128 % kNumHeads == 0, "H: 16..128");
  static_assert(kHeadDim % 32 == 0 && kHeadDim >= 32 && kHeadDim <= 128, "D: 32..128 step 32");
  static_assert(kNumStages >= 2 && kNumStages <= 32, "stages");
  static_assert(kNumMathWG == 2 || (kNumMathWG == 4 && kNumStages % 2 == 0),
                "math warpgroups: 2, or 4 with an even ring (see the 4-warpgroup notes)");
  constexpr uint32_t kMathThreadsWG = kNumMathWG * 128;

  constexpr uint32_t kN = 128;                   // Q rows (query, head) per math warpgroup
  constexpr uint32_t kQPerWG = kN / kNumHeads;   // queries per math warpgroup
  constexpr uint32_t kBlockQ = 2 * kQPerWG;      // queries per CTA block
  constexpr uint32_t kQBytes = 2 * kN * kRowBytes;
  constexpr uint32_t kKVBytes = kKeysPerBlock * kRowBytes;
  constexpr uint32_t kKSteps = kHeadDim / 32;
  constexpr bool kBf16 = kBf16Out != 0;
  using Mma = WgmmaE4M3<kN>;

  // ---- shared memory (launcher: 1024 alignment slack + 2 Q slots + stages + barriers) ------
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  uint8_t* smem_q = smem;
  uint8_t* smem_kv = smem_q + 2 * kQBytes;
  uint64_t* kv_full = reinterpret_cast<uint64_t*>(smem_kv + kNumStages * kKVBytes);
  uint64_t* kv_empty = kv_full + kNumStages;
  uint64_t* q_full = kv_empty + kNumStages;
  uint64_t* q_empty = q_full + 2;

  const uint32_t warp = warp_idx_uniform();
  const uint32_t lane = lane_idx();
  const uint32_t num_q_blocks = (static_cast<uint32_t>(p.seq_len) + kBlockQ - 1) / kBlockQ;

  if (threadIdx.x == kMathThreadsWG) {
    tma_prefetch_map(&tmap_q);
    tma_prefetch_map(&tmap_kv);
#pragma unroll
    for (uint32_t s = 0; s < kNumStages; ++s) {
      mbarrier_init(&kv_full[s], 1);
      mbarrier_init(&kv_empty[s], 8);  // the 8 warps of the two warpgroups reading a tile
    }
#pragma unroll
    for (uint32_t s = 0; s < 2; ++s) {
      mbarrier_init(&q_full[s], 1);
      mbarrier_init(&q_empty[s], kMathThreadsWG / 32);
    }
    fence_barrier_init();
  }
  __syncthreads();
  grid_dependency_wait();  // nothing global was touched above (PDL)

  if (threadIdx.x >= kMathThreadsWG) {
    // ---- producer: one elected thread issues every TMA load -----------------------------
    if constexpr (kNumMathWG == 2) {
      setmaxnreg_dec<40>();
    } else {
      setmaxnreg_dec<32>();  // 128 · 32 + 512 · 112 = 640 · 96, the launch allocation
    }
    if (warp == kMathThreadsWG / 32 && elect_one()) {
      uint32_t stage = 0, phase = 0, iter = 0;
      for (uint32_t qb = blockIdx.x; qb < num_q_blocks; qb += gridDim.x, ++iter) {
        uint32_t kb_begin, kb_end;
        key_block_range(p, static_cast<int64_t>(qb) * kBlockQ, kBlockQ, kb_begin, kb_end);
        const uint32_t slot = iter & 1;
        mbarrier_wait(&q_empty[slot], ((iter >> 1) & 1) ^ 1);
        mbarrier_arrive_expect_tx(&q_full[slot], kQBytes);
        tma_load_2d(&tmap_q, &q_full[slot], smem_q + slot * kQBytes, 0,
                    static_cast<int32_t>(qb * kBlockQ * kNumHeads));
        for (uint32_t kb = kb_begin; kb < kb_end; ++kb) {
          mbarrier_wait(&kv_empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&kv_full[stage], kKVBytes);
          tma_load_2d(&tmap_kv, &kv_full[stage], smem_kv + stage * kKVBytes, 0,
                      static_cast<int32_t>(kb * kKeysPerBlock));
          if (++stage == kNumStages) stage = 0, phase ^= 1;
        }
      }
    }
    __syncwarp();
  } else if constexpr (kNumMathWG == 4) {
    // ---- four math warpgroups, one accumulator set each ---------------------------------
    // Warpgroup wg reads Q half (wg & 1) and the key blocks of ring index parity (wg >> 1):
    // each tile is read by two warpgroups (8 kv_empty arrivals, as with two), and 16 math
    // warps (4 per scheduler) hide each other's wgmma wait and epilogue latency.
    // The parity is that of the block's index g in the whole ring sequence (not within the
    // query block) and the ring is even: then a warpgroup waiting on block g has consumed
    // g - 2, so g - kNumStages was loaded and the kv_full parity wait cannot pass a phase
    // early (the paged kernel's 3-warpgroup ring hazard, see docs/mqa_logits.md).
    setmaxnreg_inc<112>();
    const uint32_t wg = warp / 4;  // warp-uniform
    const uint32_t q_half = wg & 1, key_par = wg >> 1;
    const uint32_t warp_in_wg = warp % 4;
    const int32_t key_off = static_cast<int32_t>(16 * warp_in_wg + lane / 4);
    const float* scale_lo = p.kv_scale + key_off * p.scale_stride;
    const int64_t scale_hi_off = 8 * p.scale_stride;
    const int64_t scale_block_stride = static_cast<int64_t>(kKeysPerBlock) * p.scale_stride;
    auto load_scales = [&](uint32_t kb, float& s_lo, float& s_hi) {
      const int32_t key_lo = static_cast<int32_t>(kb * kKeysPerBlock) + key_off;
      const float* sp = scale_lo + static_cast<int64_t>(kb) * scale_block_stride;
      s_lo = key_lo < p.seq_len_kv ? ldg_f32(sp) : 0.0f;
      s_hi = key_lo + 8 < p.seq_len_kv ? ldg_f32(sp + scale_hi_off) : 0.0f;
    };
    uint32_t g0 = 0, iter = 0;  // g0: ring index of the query block's first key block
    float acc[kN / 2];
    for (uint32_t qb = blockIdx.x; qb < num_q_blocks; qb += gridDim.x, ++iter) {
      const int64_t q0 = static_cast<int64_t>(qb) * kBlockQ;
      uint32_t kb_begin, kb_end;
      key_block_range(p, q0, kBlockQ, kb_begin, kb_end);
      const uint32_t n_blocks = kb_end - kb_begin;
      uint32_t i = (key_par - g0) & 1u;  // first block of this warpgroup's parity
      float s_lo = 0.0f, s_hi = 0.0f;
      if (i < n_blocks) load_scales(kb_begin + i, s_lo, s_hi);

      const int64_t my_q0 = q0 + q_half * kQPerWG;
      float w[kN / 4];
      load_weights<kN, kNumHeads>(w, p.weights, p.w_stride0, p.w_stride1, my_q0, p.seq_len,
                                  lane);
      LaneStores<kQPerWG, kBf16> stores;
      stores.init(p, my_q0, lane);

      // Every warpgroup waits for the Q tile, even one without blocks here: its q_empty
      // arrival must not run ahead into a later phase.
      const uint32_t slot = iter & 1;
      mbarrier_wait(&q_full[slot], (iter >> 1) & 1);
      const uint64_t desc_q =
          wgmma_desc_sw128(smem_q + slot * kQBytes + q_half * kN * kRowBytes);
      for (; i < n_blocks; i += 2) {
        const uint32_t kb = kb_begin + i;
        const uint32_t g = g0 + i;
        const uint32_t stage = g % kNumStages;
        mbarrier_wait(&kv_full[stage], (g / kNumStages) & 1);
        const uint64_t desc_kv = wgmma_desc_sw128(smem_kv + stage * kKVBytes);
        fence_operands(acc);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kKSteps; ++k)
          Mma::mma(wgmma_desc_advance(desc_kv, k * 32), wgmma_desc_advance(desc_q, k * 32), acc,
                   k != 0);
        wgmma_commit();
        // The next block's scales load while this one's wgmma and epilogue run.
        float n_lo = 0.0f, n_hi = 0.0f;
        if (i + 2 < n_blocks) load_scales(kb + 2, n_lo, n_hi);
        wgmma_wait<0>();
        fence_operands(acc);
        if (lane == 0) mbarrier_arrive(&kv_empty[stage]);
        float out_lo[kQPerWG], out_hi[kQPerWG];
        reduce_heads<kN, kNumHeads>(acc, w, s_lo, s_hi, out_lo, out_hi);
        stores.store(out_lo, out_hi, p.logits, p.out_stride1,
                     static_cast<int32_t>(kb * kKeysPerBlock) + key_off, lane);
        s_lo = n_lo;
        s_hi = n_hi;
      }
      g0 += n_blocks;
      if (lane == 0) mbarrier_arrive(&q_empty[slot]);
    }
  } else {
    // ---- math warpgroups ----------------------------------------------------------------
    // Two accumulator sets: block i + 1's wgmma runs while block i's epilogue does (the other
    // warpgroup's work fills the tensor cores too).
    setmaxnreg_inc<232>();
    const uint32_t wg = warp / 4;  // warp-uniform: Q descriptors stay in uniform registers
    const uint32_t warp_in_wg = warp % 4;
    uint32_t issue_stage = 0, issue_phase = 0, done_stage = 0, iter = 0;
    float acc0[kN / 2], acc1[kN / 2];
    for (uint32_t qb = blockIdx.x; qb < num_q_blocks; qb += gridDim.x, ++iter) {
      const int64_t q0 = static_cast<int64_t>(qb) * kBlockQ;
      uint32_t kb_begin, kb_end;
      key_block_range(p, q0, kBlockQ, kb_begin, kb_end);

      // This warpgroup's queries: weights, and the valid ranges of the lane's stores.
      const int64_t my_q0 = q0 + wg * kQPerWG;
      float w[kN / 4];
      load_weights<kN, kNumHeads>(w, p.weights, p.w_stride0, p.w_stride1, my_q0, p.seq_len,
                                  lane);
      LaneStores<kQPerWG, kBf16> stores;
      stores.init(p, my_q0, lane);

      const uint32_t slot = iter & 1;
      mbarrier_wait(&q_full[slot], (iter >> 1) & 1);
      const uint64_t desc_q = wgmma_desc_sw128(smem_q + slot * kQBytes + wg * kN * kRowBytes);

      // wgmma of key block kb into `dst` (asynchronous: one commit group), and the loads of
      // its two keys' scales, which thus have a whole epilogue to arrive (L2 latency).
      const int32_t key_off = static_cast<int32_t>(16 * warp_in_wg + lane / 4);
      const float* scale_lo = p.kv_scale + key_off * p.scale_stride;
      const int64_t scale_hi_off = 8 * p.scale_stride;
      const int64_t scale_block_stride = static_cast<int64_t>(kKeysPerBlock) * p.scale_stride;
      auto issue = [&](float (&dst)[kN / 2], uint32_t kb, float& s_lo, float& s_hi) {
        const int32_t key_lo = static_cast<int32_t>(kb * kKeysPerBlock) + key_off;
        const float* sp = scale_lo + static_cast<int64_t>(kb) * scale_block_stride;
        s_lo = key_lo < p.seq_len_kv ? ldg_f32(sp) : 0.0f;
        s_hi = key_lo + 8 < p.seq_len_kv ? ldg_f32(sp + scale_hi_off) : 0.0f;
        mbarrier_wait(&kv_full[issue_stage], issue_phase);
        const uint64_t desc_kv = wgmma_desc_sw128(smem_kv + issue_stage * kKVBytes);
        fence_operands(dst);
        wgmma_fence();
#pragma unroll
        for (uint32_t k = 0; k < kKSteps; ++k)
          Mma::mma(wgmma_desc_advance(desc_kv, k * 32), wgmma_desc_advance(desc_q, k * 32), dst,
                   k != 0);
        wgmma_commit();
        if (++issue_stage == kNumStages) issue_stage = 0, issue_phase ^= 1;
      };
      // Waits for block kb's group (kPending = 1: the next block's stays in flight), frees
      // its slot, writes its logits.
      auto finish = [&](float (&src)[kN / 2], uint32_t kb, float s_lo, float s_hi, auto pending) {
        const int32_t key_lo = static_cast<int32_t>(kb * kKeysPerBlock) + key_off;
        wgmma_wait<decltype(pending)::value>();
        fence_operands(src);
        if (lane == 0) mbarrier_arrive(&kv_empty[done_stage]);
        if (++done_stage == kNumStages) done_stage = 0;
        float out_lo[kQPerWG], out_hi[kQPerWG];
        reduce_heads<kN, kNumHeads>(src, w, s_lo, s_hi, out_lo, out_hi);
        stores.store(out_lo, out_hi, p.logits, p.out_stride1, key_lo, lane);
      };
      const IntConst<0> last;
      const IntConst<1> more;

      // No issue is conditional inside the loop and every wait depth is a constant: ptxas
      // then keeps both accumulator sets in place and does not serialise the wgmmas.
      const uint32_t n_blocks = kb_end - kb_begin;
      float s0_lo, s0_hi, s1_lo, s1_hi;  // scales of the blocks in acc0 / acc1
      if (n_blocks > 0) {
        issue(acc0, kb_begin, s0_lo, s0_hi);
        uint32_t i = 0;
        for (; i + 2 < n_blocks; i += 2) {  // block kb_begin + i sits in acc0
          issue(acc1, kb_begin + i + 1, s1_lo, s1_hi);
          finish(acc0, kb_begin + i, s0_lo, s0_hi, more);
          issue(acc0, kb_begin + i + 2, s0_lo, s0_hi);
          finish(acc1, kb_begin + i + 1, s1_lo, s1_hi, more);
        }
        if (i + 1 < n_blocks) {
          issue(acc1, kb_begin + i + 1, s1_lo, s1_hi);
          finish(acc0, kb_begin + i, s0_lo, s0_hi, more);
          finish(acc1, kb_begin + i + 1, s1_lo, s1_hi, last);
        } else {
          finish(acc0, kb_begin + i, s0_lo, s0_hi, last);
        }
      }
      if (lane == 0) mbarrier_arrive(&q_empty[slot]);
    }
  }
  grid_launch_dependents();
#endif
}
