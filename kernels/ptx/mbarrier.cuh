// mbarrier (shared-memory transaction barrier) wrappers for TMA pipelines.
//
// NOTES (phase protocol used by every kernel here):
// - A barrier starts in phase 0. A phase completes when its pending arrival count reaches 0
//   AND its transaction count (bytes announced with expect_tx minus bytes TMA delivered with
//   complete_tx) is 0; then the barrier moves to the next phase and the count re-arms.
// - wait(parity) returns once the phase with that parity has completed, i.e. while the
//   barrier's current phase parity differs from `parity`. On a fresh barrier wait(1) returns
//   at once (the "previous" odd phase counts as complete): producers wait on the EMPTY
//   barriers with parity (phase ^ 1) so their first pass over the ring does not block;
//   consumers wait on the FULL barriers with parity `phase`. Both flip `phase` each time the
//   stage index wraps to 0.
// - complete_tx from TMA may land before the producer's arrive.expect_tx (e.g. a cluster
//   peer's multicast): the tx count goes transiently negative, but the phase cannot complete
//   while the producer's own arrival is still pending, so this is safe.
#pragma once

#include "ptx/base.cuh"

namespace dlg {
namespace ptx {

DLG_DEVICE void mbarrier_init(uint64_t* bar, uint32_t arrive_count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)),
               "r"(arrive_count)
               : "memory");
}

// Spins (with the hardware's suspend hint inside try_wait) until the phase of `parity`
// has completed.
DLG_DEVICE void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  const uint32_t addr = smem_addr(bar);
  asm volatile(
      "{\n.reg .pred done;\n"
      "DLG_WAIT_LOOP:\n"  // labels are local to the { } scope: inlining many copies is fine
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra DLG_WAIT_LOOP;\n}\n" ::"r"(addr),
      "r"(parity)
      : "memory");
}

// One arrival on this CTA's barrier.
DLG_DEVICE void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}

// One arrival on the barrier at the same shared-memory offset in CTA `cta_rank` of the
// cluster (may be this CTA). Default (release, CTA-scope) semantics, as for local arrivals:
// the only thing it must order is our wgmma reads of the slot, which wgmma.wait_group has
// already completed. (".release.cluster" would add a MEMBAR.ALL.GPU per k-block.)
DLG_DEVICE void mbarrier_arrive_cluster(uint64_t* bar, uint32_t cta_rank) {
  asm volatile(
      "{\n.reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}\n" ::"r"(
          smem_addr(bar)),
      "r"(cta_rank)
      : "memory");
}

// An arrival on `bar` once every cp.async this thread issued before it has landed. .noinc:
// the arrival is one of the count the barrier was initialised with (not an extra one).
DLG_DEVICE void mbarrier_arrive_cp_async(uint64_t* bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(smem_addr(bar))
               : "memory");
}

// The producer's arrival that also announces `bytes` of TMA traffic for this phase.
DLG_DEVICE void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)),
               "r"(bytes)
               : "memory");
}

}  // namespace ptx
}  // namespace dlg
