// Thread/warp identities, barriers, fences, register reconfiguration and programmatic
// dependent launch for SM90 kernels: thin inline-PTX wrappers, nothing else.
//
// NOTES:
// - Every wrapper is __forceinline__ and uses `asm volatile` with a "memory" clobber where the
//   instruction orders memory, so the compiler neither drops nor reorders it across loads and
//   stores it must not cross.
// - TensorMap is the 128-byte opaque CUtensorMap the host encodes with
//   cuTensorMapEncodeTiled (core/launch/tma.c); kernels take it as a
//   `const __grid_constant__` parameter so its address is a param-space address the TMA
//   instructions can read directly.
#pragma once

#include "common/types.cuh"

#define DLG_DEVICE __device__ __forceinline__

namespace dlg {
namespace ptx {

struct __align__(64) TensorMap {
  unsigned long long opaque[16];
};

DLG_DEVICE uint32_t lane_idx() {
  uint32_t lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  return lane;
}

// Lane 0's value, known warp-uniform to the compiler afterwards: for a value every lane holds
// alike that the compiler cannot prove so (e.g. a pipeline stage index carried through loops
// it deems divergent), so that what is computed from it (wgmma descriptors) stays on the
// uniform datapath instead of vector registers moved over with R2UR.
DLG_DEVICE uint32_t warp_uniform(uint32_t v) { return __shfl_sync(0xffffffffu, v, 0); }

// `v`, opaque to the compiler: a value computed once stays in its register instead of being
// recomputed from its inputs where it is used (rematerialized) inside a hot loop.
DLG_DEVICE uint32_t keep_in_register(uint32_t v) {
  asm volatile("mov.b32 %0, %0;" : "+r"(v));
  return v;
}

// The warp index, made warp-uniform in the compiler's eyes (shfl of lane 0's value).
DLG_DEVICE uint32_t warp_idx_uniform() {
  return __shfl_sync(0xffffffffu, threadIdx.x / 32, 0);
}

// One lane of a converged warp returns true (elect.sync picks the lowest active lane).
DLG_DEVICE bool elect_one() {
  uint32_t pred = 0;
  asm volatile(
      "{\n.reg .pred p;\n"
      "elect.sync _|p, 0xffffffff;\n"
      "selp.u32 %0, 1, 0, p;\n}\n"
      : "=r"(pred));
  return pred != 0;
}

DLG_DEVICE uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Named barrier `id` (1..15; 0 is __syncthreads) over `count` threads (a multiple of 32).
DLG_DEVICE void named_barrier_sync(uint32_t id, uint32_t count) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}

// AND of `pred` over the `count` threads of named barrier `id` (every one of them calls it);
// also a barrier.
DLG_DEVICE bool named_barrier_and(uint32_t id, uint32_t count, bool pred) {
  uint32_t r;
  asm volatile(
      "{\n.reg .pred p, q;\n"
      "setp.ne.u32 p, %1, 0;\n"
      "bar.red.and.pred q, %2, %3, p;\n"
      "selp.u32 %0, 1, 0, q;\n}\n"
      : "=r"(r)
      : "r"(pred ? 1u : 0u), "r"(id), "r"(count)
      : "memory");
  return r != 0;
}

// ---- cluster -------------------------------------------------------------------------------
DLG_DEVICE uint32_t cluster_cta_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}

// Full cluster barrier (every thread of every CTA of the cluster); release/acquire order
// shared-memory writes (e.g. mbarrier.init) before the peers' accesses.
DLG_DEVICE void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n"
               "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

// 16 bytes of CTA `rank`'s shared memory at the address `addr` has in this CTA (distributed
// shared memory; the peer must be running and its writes ordered by a cluster barrier).
DLG_DEVICE float4 ld_shared_cluster_v4(uint32_t addr, uint32_t rank) {
  uint32_t remote;
  float4 v;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(addr), "r"(rank));
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(remote)
               : "memory");
  return v;
}

// A float of this CTA's shared memory at `addr` + kOffset bytes (the offset folded into the
// instruction; volatile asm: the compiler keeps it where the caller put it among the other
// asm statements, e.g. after a wgmma chain rather than between its instructions).
template <uint32_t kOffset = 0>
DLG_DEVICE float ld_shared_f32(uint32_t addr) {
  float v;
  asm volatile("ld.shared.f32 %0, [%1+%2];" : "=f"(v) : "r"(addr), "n"(kOffset));
  return v;
}

// 16 bytes of this CTA's shared memory at `addr` (16-byte aligned), as ld_shared_f32.
DLG_DEVICE float4 ld_shared_v4(uint32_t addr) {
  float4 v;
  asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(addr));
  return v;
}

// Makes mbarrier.init visible to the other CTAs of the cluster (and to the async proxy).
DLG_DEVICE void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// Generic-proxy shared-memory writes -> visible to the async proxy (TMA store, wgmma).
DLG_DEVICE void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// ---- register reconfiguration (warpgroup-wide, every warp of the warpgroup executes it) ----
template <uint32_t kRegs>
DLG_DEVICE void setmaxnreg_inc() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0, "setmaxnreg: 24..256, step 8");
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}
template <uint32_t kRegs>
DLG_DEVICE void setmaxnreg_dec() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0, "setmaxnreg: 24..256, step 8");
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}

// ---- programmatic dependent launch (no-ops when launched without the PDL attribute) --------
// Blocks until the preceding grid has completed and its memory is visible.
DLG_DEVICE void grid_dependency_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
// Lets the next grid in the stream start its prologue early.
DLG_DEVICE void grid_launch_dependents() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

// ---- small numeric helpers -----------------------------------------------------------------
// Two floats -> packed bf16x2 (lo in the low half), round to nearest even.
DLG_DEVICE uint32_t pack_bf16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// Read-only global load (ld.global.nc). A C++ load, not asm, so the compiler keeps it after
// griddepcontrol.wait and the other memory-clobbering asm.
DLG_DEVICE float ldg_f32(const float* p) { return __ldg(p); }

// 16-byte read-only global load that skips L1 (data read once, e.g. a GEMV's matrix): keeps
// L1 for what is re-read. volatile: stays after griddepcontrol.wait like the C++ loads.
DLG_DEVICE uint4 ldg_stream_v4(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// An L2 cache policy that marks lines evict-first (data not read again soon).
DLG_DEVICE uint64_t l2_evict_first_policy() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

// A 16-byte load read for the last time: no L1 line, evict-first in L2.
DLG_DEVICE uint4 ldg_last_use(const void* p, uint64_t policy) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p), "l"(policy));
  return v;
}

}  // namespace ptx
}  // namespace dlg
