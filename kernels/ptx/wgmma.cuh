// wgmma (warpgroup MMA, SM90a) building blocks: shared-memory operand descriptors,
// fence / commit / wait, and the accumulator fragment layout. The instruction wrappers
// themselves (one per N) are in ptx/wgmma_ops.cuh.
//
// NOTES — operand descriptor (64 bits, PTX "matrix descriptor"), K-major, 128B swizzle:
//   bits  0-13  start address >> 4
//   bits 16-29  leading-dimension byte offset >> 4 (LBO): unused for swizzled K-major
//               layouts whose K extent per instruction (32 bytes: k32 e4m3, k16 bf16) fits in
//               one 128-byte swizzle row; we store 1 (16 bytes) as conventional.
//   bits 32-45  stride-dimension byte offset >> 4 (SBO): distance between two 8-row groups
//               ("core matrices" along M/N) = 8 rows x 128 bytes = 1024 -> 64.
//   bits 49-51  base offset: 0, because every tile starts on a 1024-byte boundary (the
//               repeat of the 128B swizzle pattern).
//   bits 62-63  layout: 1 = 128-byte swizzle.
// The tile this describes is what TMA writes with CU_TENSOR_MAP_SWIZZLE_128B and a box of
// {128 bytes of K, rows}: row r at byte r*128, its 16-byte chunk c stored at chunk c ^ (r%8).
// Stepping K inside the 128-byte row is done by adding the byte offset (32 per instruction)
// to the start address: the hardware applies the XOR swizzle to the final address bits
// [4:6] ^ [7:9], so a pre-offset start address within the aligned atom stays consistent
// with what TMA wrote. Stepping M/N by 64 rows adds 64*128 bytes (a whole number of atoms).
//
// NOTES — accumulator fragment of m64nN (f32), thread t of the warpgroup, warp w = t/32,
// lane l = t%32, register i in [0, N/2):
//   row = 16*w + l/4 + 8*((i/2) % 2)
//   col = 8*(i/4) + 2*(l%4) + (i%2)
// i.e. registers {4j, 4j+1} are columns 8j + 2(l%4) + {0,1} of row 16w + l/4 and
// {4j+2, 4j+3} the same columns 8 rows further down.
#pragma once

#include "ptx/base.cuh"

namespace dlg {
namespace ptx {

// 128B-swizzled K-major descriptor for a tile starting at `smem_tile` (1024-byte aligned).
// Its two halves: the low word (start address, LBO unused = 1) varies with the tile, the high
// word (SBO = 8 rows x 128 B, 128-byte swizzle) is a constant. A kernel keeping the low word of
// its ring's first slot computes a slot's descriptor with one add (wgmma_desc_sw128_at) instead
// of rebuilding it from the address (mask, shift, or: ~8 uniform instructions per operand).
constexpr uint32_t kWgmmaDescSw128Hi = (1024u >> 4) | (1u << 30);
DLG_DEVICE uint32_t wgmma_desc_sw128_lo(const void* smem_tile) {
  return static_cast<uint32_t>((smem_addr(smem_tile) & 0x3FFFFu) >> 4) | (1u << 16);
}
// Descriptor of the tile `bytes` (a multiple of 16; the tile stays below 256 KiB) after the
// one whose low word is `lo`.
DLG_DEVICE uint64_t wgmma_desc_sw128_at(uint32_t lo, uint32_t bytes) {
  return (static_cast<uint64_t>(kWgmmaDescSw128Hi) << 32) | (lo + (bytes >> 4));
}

// The A and B descriptors of the slots of a pipeline ring (A and B tiles of kABytes / kBBytes
// per slot) from the ring's first slot's low words. Either formed at the use from the slot
// index (of()), or by at(stage) when the consumer's stage advances: before its wait on the
// slot's full barrier, so only the wgmma issue follows that wait (the low words kept opaque:
// else the compiler forms them again after the wait; read by desc_a() / desc_b()). kShfl:
// `stage` is not known warp-uniform to the compiler; a shfl keeps the descriptors on the
// uniform datapath.
template <uint32_t kABytes, uint32_t kBBytes, bool kShfl>
struct WgmmaRingDescs {
  struct Pair {
    uint64_t a, b;
  };
  uint32_t a0, b0;  // the ring's first slot
  uint32_t a, b;    // the slot of the last at()
  DLG_DEVICE WgmmaRingDescs(uint32_t first_a, uint32_t first_b)
      : a0(first_a), b0(first_b), a(first_a), b(first_b) {}
  DLG_DEVICE static uint32_t slot(uint32_t stage) { return kShfl ? warp_uniform(stage) : stage; }
  // Slot `stage`'s descriptors, A advanced by `a_bytes` (e.g. a wave's rows).
  DLG_DEVICE Pair of(uint32_t stage, uint32_t a_bytes = 0) const {
    const uint32_t s = slot(stage);
    return {wgmma_desc_sw128_at(a0, s * kABytes + a_bytes), wgmma_desc_sw128_at(b0, s * kBBytes)};
  }
  DLG_DEVICE void at(uint32_t stage) {
    const uint32_t s = slot(stage);
    a = keep_in_register(a0 + s * (kABytes >> 4));
    b = keep_in_register(b0 + s * (kBBytes >> 4));
  }
  // Descriptors of the slot of the last at(), A advanced by `a_bytes`.
  DLG_DEVICE uint64_t desc_a(uint32_t a_bytes = 0) const { return wgmma_desc_sw128_at(a, a_bytes); }
  DLG_DEVICE uint64_t desc_b() const { return wgmma_desc_sw128_at(b, 0); }
};

// The whole descriptor of the tile at `smem_tile`.
DLG_DEVICE uint64_t wgmma_desc_sw128(const void* smem_tile) {
  return wgmma_desc_sw128_at(wgmma_desc_sw128_lo(smem_tile), 0);
}

// Descriptor advanced by `bytes` along K (a multiple of 16, inside the 128-byte row) or by
// whole 1024-byte atoms along M/N.
DLG_DEVICE uint64_t wgmma_desc_advance(uint64_t desc, uint32_t bytes) {
  return desc + static_cast<uint64_t>(bytes >> 4);
}

// Orders prior register/shared-memory accesses before the next wgmma reads its operands.
DLG_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
DLG_DEVICE void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
DLG_DEVICE void wgmma_wait() {
  static_assert(kPending >= 0 && kPending <= 7, "wgmma.wait_group: 0..7");
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

// Pins a register so the compiler does not move its reads/writes across the asynchronous
// wgmma window (the asm "uses and redefines" it).
DLG_DEVICE void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

template <int kCount>
DLG_DEVICE void fence_operands(float (&r)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) fence_operand(r[i]);
}

}  // namespace ptx
}  // namespace dlg

#include "ptx/wgmma_ops.cuh"
