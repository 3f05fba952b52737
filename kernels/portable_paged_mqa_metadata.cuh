// Schedule metadata of the paged MQA logits kernel on the GPU, any arch. Bit-identical to
// dlg_ref_paged_mqa_logits_metadata (core/ref/attention_ref.c; the split is documented in
// core/ops/attention.c): with blocks(b) = ceil(longest row of b / block_kv), P(b) their
// exclusive prefix sums and T the total, SM s starts at global block g(s) = floor(s·T / n),
// entry (b, g(s) - P(b)) for the b with P(b) <= g(s) < P(b + 1); entries past the end and the
// sentinel s = n are (B, 0).
//
// One CTA of 1024 threads. Pass 1 sums T. Pass 2 walks the batches in chunks of 1024 with a
// block-wide exclusive scan; batch b (non-empty) writes the entries of the SMs that start
// inside it: g(s) >= P  <=>  s·T >= P·n  <=>  s >= ceil(P·n / T), so s runs over
// [ceil(P(b)·n / T), ceil(P(b+1)·n / T)). All integer: exact, hence identical to the CPU.
// g(s) is formed as s·(T / n) + s·(T % n) / n, equal to floor(s·T / n) without a 128-bit
// product. Limits (far above real shapes): T·n < 2^63.
#pragma once

#include "common/types.cuh"

// Mirrored byte for byte in core/launch/sm90_paged_mqa_logits.c.
struct dlg_paged_mqa_metadata_params {
  const int32_t* lens;
  int32_t* meta;
  int64_t lens_stride0, lens_stride1;
  int64_t meta_stride0, meta_stride1;
  int32_t batch;
  int32_t cols;     // next_n when lens is [B, next_n]; 1 when [B]
  int32_t block_kv;
  int32_t num_sms;
};
static_assert(sizeof(dlg_paged_mqa_metadata_params) == 64, "params layout must match the host");

#define DLG_META_THREADS 1024

__device__ __forceinline__ int64_t dlg_meta_blocks(const dlg_paged_mqa_metadata_params& p,
                                                   int64_t b) {
  int64_t longest = 0;
  for (int64_t t = 0; t < p.cols; ++t) {
    const int64_t len = p.lens[b * p.lens_stride0 + t * p.lens_stride1];
    if (len > longest) longest = len;
  }
  return (longest + p.block_kv - 1) / p.block_kv;
}

__device__ __forceinline__ void dlg_meta_write(const dlg_paged_mqa_metadata_params& p, int64_t s,
                                               int32_t b, int32_t k) {
  p.meta[s * p.meta_stride0] = b;
  p.meta[s * p.meta_stride0 + p.meta_stride1] = k;
}

// Block-wide exclusive scan of one int64 per thread; *total gets the sum. Integer: exact.
__device__ __forceinline__ int64_t dlg_meta_scan(int64_t x, int64_t* total) {
  __shared__ int64_t warp_sums[DLG_META_THREADS / 32];
  const uint32_t lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int64_t incl = x;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const int64_t y = __shfl_up_sync(0xffffffffu, incl, d);
    if (lane >= static_cast<uint32_t>(d)) incl += y;
  }
  if (lane == 31) warp_sums[warp] = incl;
  __syncthreads();
  int64_t before = 0, all = 0;
  for (uint32_t w = 0; w < DLG_META_THREADS / 32; ++w) {
    if (w < warp) before += warp_sums[w];
    all += warp_sums[w];
  }
  __syncthreads();  // warp_sums is reused by the next call
  *total = all;
  return before + incl - x;
}

extern "C" __global__ void __launch_bounds__(DLG_META_THREADS)
    portable_paged_mqa_metadata(const dlg_paged_mqa_metadata_params p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");  // lens may come from the previous grid
#endif
  const int64_t n = p.num_sms, batch = p.batch;
  int64_t partial = 0;
  for (int64_t b = threadIdx.x; b < batch; b += DLG_META_THREADS) partial += dlg_meta_blocks(p, b);
  int64_t total;
  dlg_meta_scan(partial, &total);
  if (total == 0) {
    for (int64_t s = threadIdx.x; s <= n; s += DLG_META_THREADS)
      dlg_meta_write(p, s, p.batch, 0);
    return;
  }
  const int64_t quot = total / n, rem = total % n;
  int64_t before_chunk = 0;
  for (int64_t c0 = 0; c0 < batch; c0 += DLG_META_THREADS) {
    const int64_t b = c0 + threadIdx.x;
    const int64_t blocks = b < batch ? dlg_meta_blocks(p, b) : 0;
    int64_t chunk_total;
    const int64_t start = before_chunk + dlg_meta_scan(blocks, &chunk_total);  // P(b)
    if (blocks > 0) {
      const int64_t s_begin = (start * n + total - 1) / total;
      const int64_t s_end = ((start + blocks) * n + total - 1) / total;
      for (int64_t s = s_begin; s < s_end && s < n; ++s) {
        const int64_t g = s * quot + s * rem / n;
        dlg_meta_write(p, s, static_cast<int32_t>(b), static_cast<int32_t>(g - start));
      }
    }
    before_chunk += chunk_total;
  }
  if (threadIdx.x == 0) dlg_meta_write(p, n, p.batch, 0);
}
