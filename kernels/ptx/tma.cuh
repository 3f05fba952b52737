// TMA (cp.async.bulk.tensor) wrappers: 2D tiled loads (optionally multicast over the
// cluster), 2D tiled stores, bulk-group commit/wait, tensor-map prefetch; and the small
// non-bulk cp.async for values below a TMA box.
//
// NOTES:
// - Coordinates are in elements, innermost dimension first: {c0 = column (contiguous dim),
//   c1 = row}. Boxes that reach past the tensor's extent are zero-filled on load (and still
//   count their full size in bytes towards the mbarrier's transaction count) and clipped on
//   store, which is how every M/N/K tail is handled.
// - Loads signal `bar` in the destination CTA(s) with complete_tx. A multicast load writes
//   the same box at the same shared-memory offset in every CTA named by `cta_mask` and
//   signals the barrier at the same offset in each of them.
// - Stores read shared memory asynchronously: the source must not be overwritten before
//   store_wait_read<0>() (issued by the same thread that committed the stores).
#pragma once

#include "ptx/base.cuh"

namespace dlg {
namespace ptx {

DLG_DEVICE void tma_prefetch_map(const TensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

DLG_DEVICE void tma_load_2d(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                            int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%3, %4}], [%2];" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1)
      : "memory");
}

// tma_load_2d with an L2 cache policy (createpolicy), e.g. evict-first for data read once.
DLG_DEVICE void tma_load_2d_hint(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                                 int32_t c1, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint"
      " [%0], [%1, {%3, %4}], [%2], %5;" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "l"(policy)
      : "memory");
}

// A streamed operand's load: evict-first in L2 when `evict_first` (the policy made here, at the
// load: kept across a loop it spilled 40-register producer warps), else a plain load.
DLG_DEVICE void tma_load_2d_stream(const TensorMap* map, uint64_t* bar, void* smem_dst, int32_t c0,
                                   int32_t c1, bool evict_first) {
  if (evict_first) tma_load_2d_hint(map, bar, smem_dst, c0, c1, l2_evict_first_policy());
  else tma_load_2d(map, bar, smem_dst, c0, c1);
}

DLG_DEVICE void tma_load_2d_multicast(const TensorMap* map, uint64_t* bar, void* smem_dst,
                                      int32_t c0, int32_t c1, uint16_t cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      ".multicast::cluster [%0], [%1, {%3, %4}], [%2], %5;" ::"r"(smem_addr(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1),
      "h"(cta_mask)
      : "memory");
}

DLG_DEVICE void tma_store_2d(const TensorMap* map, const void* smem_src, int32_t c0,
                             int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];" ::"l"(
          reinterpret_cast<uint64_t>(map)),
      "r"(smem_addr(smem_src)), "r"(c0), "r"(c1)
      : "memory");
}

DLG_DEVICE void tma_store_commit() { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }

// Waits until at most kPending committed store groups still READ shared memory.
template <int kPending>
DLG_DEVICE void tma_store_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(kPending) : "memory");
}
// Waits until at most kPending committed store groups are still in flight (writes done).
template <int kPending>
DLG_DEVICE void tma_store_wait_all() {
  asm volatile("cp.async.bulk.wait_group %0;" ::"n"(kPending) : "memory");
}

// Bulk copy (no tensor map) of `bytes` global -> this CTA's shared memory, counted into `bar`'s
// transaction bytes, under an L2 cache policy (base.cuh l2_evict_first_policy). Both
// addresses and `bytes` multiples of 16.
DLG_DEVICE void bulk_load_hint(void* smem_dst, const void* src, uint32_t bytes, uint64_t* bar,
                               uint64_t policy) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], %4;"
      ::"r"(smem_addr(smem_dst)), "l"(src), "r"(bytes), "r"(smem_addr(bar)), "l"(policy)
      : "memory");
}

// 4-byte asynchronous copy global -> shared (non-bulk cp.async, L1-cached): for values too
// small for a TMA box (16-byte minimum), e.g. a k-block's few B block scales. Completion is
// signalled with mbarrier_arrive_cp_async (ptx/mbarrier.cuh).
DLG_DEVICE void cp_async_4(void* smem_dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(smem_addr(smem_dst)),
               "l"(reinterpret_cast<uint64_t>(src))
               : "memory");
}

}  // namespace ptx
}  // namespace dlg
