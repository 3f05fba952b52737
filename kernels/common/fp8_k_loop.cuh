// The k-block loop of the SM90 FP8 kernels with per-128-K promotion, shared by the dense body
// (common/fp8_gemm_body.cuh) and the grouped kernels (sm90_m_grouped_gemm.cuh,
// sm90_fp8_k_grouped_gemm.cuh): one main loop, the kernels differ only in how a k-block is
// issued (slot wait, scale loads, wgmma chain) and promoted (scales, slot release).
//
// NOTES:
// - issue(part, ctx, kb): waits for k-block kb's slot, loads what its promotion needs into
//   `ctx` (scales), issues its wgmma chain into `part` (the first with scale-d = 0) and
//   commits it. promote(part, ctx): folds the finished `part` into the accumulators and
//   releases the slot. The caller's wgmma_wait sits between the two.
// - kPipelined = 1 hides the promotion behind the tensor cores: two partial sets alternate
//   (even k-blocks -> part0, odd -> part1) and k-block kb+1 is issued before kb is promoted
//   (wgmma.wait_group 1). ptxas tracks in-flight accumulators per control-flow path
//   conservatively and serializes every wgmma of the kernel if any path might touch one, so
//   the loop is written as straight-line chains of 4 k-blocks that end with nothing in
//   flight (no accumulator in flight across a branch or a loop's back edge; chains of 8 run
//   out of registers). Costs kNumAcc registers more: 3 · BLOCK_N / 2 must fit (each kernel
//   states its limit, checked for spills by nvrtc_test).
// - The k-blocks left over (all of them without kPipelined) run one at a time: wait_group 0,
//   then promote (the tensor cores then rely on the other warpgroup's wgmma).
// - The partial sets are scoped to a chain: nothing keeps them alive across it (the first
//   wgmma of a k-block ignores its input), which leaves the registers to the epilogue.
#pragma once

#include "ptx/base.cuh"
#include "ptx/wgmma.cuh"

namespace dlg {

// The loop itself, expanded in place in the kernel body (a macro, not a function: NVVM
// compiled the same code passed through a __forceinline__ function template with the
// lambdas as arguments with the partial sets in local memory - 223 spilled words on the
// dense 128x128 kernel, measured with the nvrtc_test SASS check). Declares nothing
// outside its own block. num_k_blocks: any unsigned expression, evaluated once.
#define DLG_FP8_K_LOOP(kNumAcc, kPipelined, Ctx, num_k_blocks, issue, promote) \
  do {                                                                          \
    const uint32_t dlg_num_kb_ = (num_k_blocks);                                \
    Ctx dlg_c0_, dlg_c1_;                                                       \
    uint32_t dlg_kb_ = 0;                                                       \
    if constexpr (kPipelined) {                                                 \
      for (; dlg_kb_ + 4 <= dlg_num_kb_; dlg_kb_ += 4) {                        \
        float dlg_p0_[kNumAcc], dlg_p1_[kNumAcc];                               \
        issue(dlg_p0_, dlg_c0_, dlg_kb_);                                       \
        issue(dlg_p1_, dlg_c1_, dlg_kb_ + 1);                                   \
        ::dlg::ptx::wgmma_wait<1>();                                            \
        promote(dlg_p0_, dlg_c0_);                                              \
        issue(dlg_p0_, dlg_c0_, dlg_kb_ + 2);                                   \
        ::dlg::ptx::wgmma_wait<1>();                                            \
        promote(dlg_p1_, dlg_c1_);                                              \
        issue(dlg_p1_, dlg_c1_, dlg_kb_ + 3);                                   \
        ::dlg::ptx::wgmma_wait<1>();                                            \
        promote(dlg_p0_, dlg_c0_);                                              \
        ::dlg::ptx::wgmma_wait<0>();                                            \
        promote(dlg_p1_, dlg_c1_);                                              \
      }                                                                         \
    }                                                                           \
    for (; dlg_kb_ < dlg_num_kb_; ++dlg_kb_) {                                  \
      float dlg_p0_[kNumAcc];                                                   \
      issue(dlg_p0_, dlg_c0_, dlg_kb_);                                         \
      ::dlg::ptx::wgmma_wait<0>();                                              \
      promote(dlg_p0_, dlg_c0_);                                                \
    }                                                                           \
    (void)dlg_c1_;                                                              \
  } while (0)

}  // namespace dlg
