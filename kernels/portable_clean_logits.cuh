// Writes -inf outside each row's valid range of a logits matrix (f32 or bf16), any arch:
// dlg_clean_logits itself, and the second half of the MQA logits ops when clean_logits is set
// (their kernels write only valid entries).
//
// Row r is valid on [lo, hi), clamped as the CPU reference does (lo = clamp(ks, 0, width),
// hi = clamp(ke, lo, width)); the row's range comes from
//   mode 0: ks[r] (0 when ks is NULL) and ke[r];
//   mode 1: paged context lengths [B] (DeepGEMM's convention): lo = 0,
//           hi = lens[b] - next_n + t + 1 with b = r / next_n, t = r % next_n;
//   mode 2: paged context lengths [B, next_n]: lo = 0, hi = lens[b, t];
//   mode 3: compressed logits [S, W] (dlg_mqa_logits_compressed): ks / ke clamped to
//           [0, n_kv] as in mode 0, then shifted to columns: lo = 0, hi = min(ke' - ks', W).
// One CTA per row at a time (grid-stride over rows); columns are split over the threads with
// 16-byte stores where the row is contiguous, so the kernel runs at write bandwidth.
#pragma once

#include "common/types.cuh"

// Mirrored byte for byte in core/launch/clean_logits.c.
struct dlg_clean_logits_params {
  void* logits;
  const int32_t* ks;    // mode 0, may be NULL
  const int32_t* ke;    // mode 0: ke; modes 1, 2: context lengths
  int64_t rows, width;
  int64_t out_stride0, out_stride1;  // elements
  int64_t ks_stride, ke_stride;      // ke_stride: stride(0) of the lengths in modes 1, 2
  int64_t lens_stride1;              // mode 2
  int32_t bf16, mode, next_n, n_kv;  // n_kv: mode 3's key count
};
static_assert(sizeof(dlg_clean_logits_params) == 96, "params layout must match the host");

__device__ __forceinline__ void dlg_clean_row_range(const dlg_clean_logits_params& p, int64_t r,
                                                    int64_t& lo, int64_t& hi) {
  if (p.mode == 0 || p.mode == 3) {
    lo = p.ks ? __ldg(p.ks + r * p.ks_stride) : 0;
    hi = __ldg(p.ke + r * p.ke_stride);
    if (p.mode == 3) {
      lo = lo < 0 ? 0 : (lo > p.n_kv ? p.n_kv : lo);
      hi = hi > p.n_kv ? p.n_kv : hi;
      hi = hi > lo ? hi - lo : 0;
      lo = 0;
    }
  } else {
    const int64_t b = r / p.next_n, t = r % p.next_n;
    lo = 0;
    if (p.mode == 2) {
      hi = __ldg(p.ke + b * p.ke_stride + t * p.lens_stride1);
    } else {
      hi = static_cast<int64_t>(__ldg(p.ke + b * p.ke_stride)) - p.next_n + t + 1;
    }
  }
  if (lo < 0) lo = 0;
  if (lo > p.width) lo = p.width;
  if (hi > p.width) hi = p.width;
  if (hi < lo) hi = lo;
}

// -inf over columns [a, b) of row `row` (element pointer of column 0).
template <typename T>
__device__ __forceinline__ void dlg_clean_fill(T* row, int64_t a, int64_t b, int64_t stride1,
                                               T neg_inf, uint32_t neg_inf_x4) {
  if (a >= b) return;
  if (stride1 != 1) {
    for (int64_t j = a + threadIdx.x; j < b; j += blockDim.x) row[j * stride1] = neg_inf;
    return;
  }
  constexpr int64_t kVec = 16 / sizeof(T);
  // Scalar head up to a 16-byte boundary, 16-byte body, scalar tail.
  const uint64_t addr = reinterpret_cast<uint64_t>(row + a);
  int64_t body = a + static_cast<int64_t>(((16 - (addr & 15)) & 15) / sizeof(T));
  if (body > b) body = b;
  const int64_t body_end = body + (b - body) / kVec * kVec;
  for (int64_t j = a + threadIdx.x; j < body; j += blockDim.x) row[j] = neg_inf;
  uint4 v = make_uint4(neg_inf_x4, neg_inf_x4, neg_inf_x4, neg_inf_x4);
  for (int64_t j = body + threadIdx.x * kVec; j < body_end; j += blockDim.x * kVec)
    *reinterpret_cast<uint4*>(row + j) = v;
  for (int64_t j = body_end + threadIdx.x; j < b; j += blockDim.x) row[j] = neg_inf;
}

extern "C" __global__ void __launch_bounds__(256) portable_clean_logits(
    const dlg_clean_logits_params p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    int64_t lo, hi;
    dlg_clean_row_range(p, r, lo, hi);
    if (p.bf16) {
      uint16_t* row = static_cast<uint16_t*>(p.logits) + r * p.out_stride0;
      dlg_clean_fill<uint16_t>(row, 0, lo, p.out_stride1, 0xFF80u, 0xFF80FF80u);
      dlg_clean_fill<uint16_t>(row, hi, p.width, p.out_stride1, 0xFF80u, 0xFF80FF80u);
    } else {
      uint32_t* row = static_cast<uint32_t*>(p.logits) + r * p.out_stride0;
      dlg_clean_fill<uint32_t>(row, 0, lo, p.out_stride1, 0xFF800000u, 0xFF800000u);
      dlg_clean_fill<uint32_t>(row, hi, p.width, p.out_stride1, 0xFF800000u, 0xFF800000u);
    }
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
