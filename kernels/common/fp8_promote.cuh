// The FP32 promotions of one FP8 k-block's partial sums: promote_1d2d (DeepSeek 1D2D scales;
// the dense body common/fp8_gemm_body.cuh and the grouped kernel sm90_m_grouped_gemm.cuh) and
// promote_1d1d (a scale per row and column; the dense body and sm90_fp8_k_grouped_gemm.cuh).
// 1D2D:
//   sum[r, c] += part[r, c] · sfa[r] · sfb[c / 128]
// for one thread's wgmma fragment (two rows, lo / hi; kBlockN / 8 groups of 8 columns).
//
// NOTES:
// - scale_lo[s] / scale_hi[s] = sfa of the thread's two rows x the s-th 128-column B scale
//   block the tile touches (kMaxSfb of them); 8-column group j takes block
//   (sfb_off + 8j) / 128, sfb_off = the tile's first column % 128 (a multiple of 16: BLOCK_N
//   is, and tiles start at multiples of it).
// - The group's block is a compare per group against sfb_off, which the compiler folds away
//   where it knows enough of sfb_off: the dense body compiles its non-pipelined k-loop once per
//   offset base (dispatch_sfb_offset, a uniform branch per tile; at most four bases, the
//   remainder left to one or two compares and selects per block boundary). H100,
//   4096x2112x7168 at 128x176 (kernel us): run-time selects 112.0, one promotion per offset
//   behind a branch in every k-block 106.9, the k-loop per offset (eight copies) 98.8, per
//   base (four) 101.1 (the per-tensor kernel, which has no scale to pick, 91.7). Eight copies
//   took NVRTC 1.3-1.7 s for that kernel on the H100 machine, four 0.72-0.96 s (issue 3: cold
//   compile <= 1 s). Pipelined loops promote at five sites and keep the selects.
#pragma once

#include "ptx/base.cuh"

namespace dlg {

// A compile-time value passed to a generic lambda (a wave set, a column offset).
template <uint32_t kV>
struct UConst {
  static constexpr uint32_t kValue = kV;
};

template <uint32_t kBlockN, uint32_t kMaxSfb>
DLG_DEVICE void promote_1d2d(float (&sum)[kBlockN / 2], const float (&part)[kBlockN / 2],
                             const float (&scale_lo)[kMaxSfb], const float (&scale_hi)[kMaxSfb],
                             uint32_t sfb_off) {
#pragma unroll
  for (uint32_t j = 0; j < kBlockN / 8; ++j) {
    float f_lo = scale_lo[0], f_hi = scale_hi[0];
    if constexpr (kMaxSfb > 1) {
      const uint32_t pos = sfb_off + 8 * j;
      if (pos >= 128) f_lo = scale_lo[1], f_hi = scale_hi[1];
      if constexpr (kMaxSfb > 2) {
        if (pos >= 256) f_lo = scale_lo[2], f_hi = scale_hi[2];
      }
    }
    sum[4 * j + 0] = fmaf(part[4 * j + 0], f_lo, sum[4 * j + 0]);
    sum[4 * j + 1] = fmaf(part[4 * j + 1], f_lo, sum[4 * j + 1]);
    sum[4 * j + 2] = fmaf(part[4 * j + 2], f_hi, sum[4 * j + 2]);
    sum[4 * j + 3] = fmaf(part[4 * j + 3], f_hi, sum[4 * j + 3]);
  }
}

// The spacing of dispatch_sfb_offset's bases: gcd(BLOCK_N, 128) (the offsets a BLOCK_N-wide
// tile can start at are its multiples), at least 32 (four bases at most).
template <uint32_t kBlockN>
constexpr uint32_t sfb_dispatch_step() {
  constexpr uint32_t kLowBit = kBlockN & (0u - kBlockN);
  return kLowBit < 32 ? 32 : kLowBit < 128 ? kLowBit : 128;
}

// Calls f(UConst<base>{}) with the tile's offset sfb_off = n0 % 128 rounded down to a multiple
// of sfb_dispatch_step: the caller's k-loop is compiled once per base and reads the offset as
// base + sfb_off % step, a value with few unknown bits, so the compiler fixes every 8-column
// group's scale block but the one or two per block boundary the remainder moves (a compare
// and two selects each). A uniform branch per tile.
template <uint32_t kBlockN, typename F>
DLG_DEVICE void dispatch_sfb_offset(uint32_t sfb_off, F&& f) {
  constexpr uint32_t kStep = sfb_dispatch_step<kBlockN>();
  switch (sfb_off / kStep) {
    case 0: f(UConst<0>{}); break;
    case 1: if constexpr (kStep * 1 < 128) f(UConst<kStep * 1>{}); break;
    case 2: if constexpr (kStep * 2 < 128) f(UConst<kStep * 2>{}); break;
    default: if constexpr (kStep * 3 < 128) f(UConst<kStep * 3>{}); break;
  }
}

// The 1D1D promotion (a scale per row and per column):
//   sum[r, c] += part[r, c] · (sfa[r] · sfb[c])
// for one thread's fragment (rows lo / hi; kBlockN / 8 groups of 8 columns, of which the
// thread holds columns col_q and col_q + 1: one 8-byte scale pair per group from
// `sfb_pairs`, the slot's column scales as float2). Not pipelined: the scale product first, as
// the CPU reference rounds it, and `part` only read (H100: 1D1D +1.7 % over the in-place
// form, all 12 backward shapes). kInPlace (pipelined kernels, three register sets): the
// column scale in place, then the row scale folded in (no temporaries; the product form
// measured 5-18 % slower there).
template <uint32_t kBlockN, bool kInPlace>
DLG_DEVICE void promote_1d1d(float (&sum)[kBlockN / 2], float (&part)[kBlockN / 2], float sfa_lo,
                             float sfa_hi, const float2* sfb_pairs, uint32_t col_q) {
#pragma unroll
  for (uint32_t j = 0; j < kBlockN / 8; ++j) {
    const float2 b = sfb_pairs[(8 * j + col_q) / 2];
    if constexpr (kInPlace) {
      part[4 * j + 0] *= b.x;
      part[4 * j + 1] *= b.y;
      part[4 * j + 2] *= b.x;
      part[4 * j + 3] *= b.y;
      sum[4 * j + 0] = fmaf(part[4 * j + 0], sfa_lo, sum[4 * j + 0]);
      sum[4 * j + 1] = fmaf(part[4 * j + 1], sfa_lo, sum[4 * j + 1]);
      sum[4 * j + 2] = fmaf(part[4 * j + 2], sfa_hi, sum[4 * j + 2]);
      sum[4 * j + 3] = fmaf(part[4 * j + 3], sfa_hi, sum[4 * j + 3]);
    } else {
      sum[4 * j + 0] = fmaf(part[4 * j + 0], sfa_lo * b.x, sum[4 * j + 0]);
      sum[4 * j + 1] = fmaf(part[4 * j + 1], sfa_lo * b.y, sum[4 * j + 1]);
      sum[4 * j + 2] = fmaf(part[4 * j + 2], sfa_hi * b.x, sum[4 * j + 2]);
      sum[4 * j + 3] = fmaf(part[4 * j + 3], sfa_hi * b.y, sum[4 * j + 3]);
    }
  }
}

}  // namespace dlg
