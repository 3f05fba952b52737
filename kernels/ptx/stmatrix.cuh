// stmatrix: a warp stores 8x8 b16 matrices from registers to shared memory.
//
// NOTES: in stmatrix .x4, register r_q of lane l holds two consecutive b16 of row (l/4) of
// matrix q, columns 2(l%4), 2(l%4)+1 — exactly the pair a wgmma accumulator fragment gives a
// lane for one 8x8 block (ptx/wgmma.cuh). Lane l supplies the shared address of row (l%8)
// of matrix (l/8); each row is 16 contiguous bytes, so any layout that keeps 16-byte chunks
// whole (every TMA swizzle mode does) can be targeted row by row.
#pragma once

#include "ptx/base.cuh"

namespace dlg {
namespace ptx {

DLG_DEVICE void stmatrix_x4(uint32_t smem_row_addr, uint32_t r0, uint32_t r1, uint32_t r2,
                            uint32_t r3) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(
                   smem_row_addr),
               "r"(r0), "r"(r1), "r"(r2), "r"(r3)
               : "memory");
}

DLG_DEVICE void stmatrix_x2(uint32_t smem_row_addr, uint32_t r0, uint32_t r1) {
  asm volatile("stmatrix.sync.aligned.m8n8.x2.shared.b16 [%0], {%1, %2};" ::"r"(smem_row_addr),
               "r"(r0), "r"(r1)
               : "memory");
}

}  // namespace ptx
}  // namespace dlg
