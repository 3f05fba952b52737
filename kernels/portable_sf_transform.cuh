// Scale-factor layout kernels (any arch), twins of core/ref/quant_ref.c:
//   kOp 0 (transform_sf): sf_out[.., mn, kb] = sf_in[.., mn, kb], f32, any strides on both
//          sides (typically K-major in -> the TMA-aligned MN-major layout out).
//   kOp 1 (pack_ue8m0):   packed[.., mn, w] = 4 UE8M0 bytes of sf[.., mn, 4w .. 4w+3]
//          (byte j = column 4w+j, zero past Kb), f32 in, int32 out, any strides.
// DLG_TEST_INSTANTIATION: portable_sf_transform<0>
// DLG_TEST_INSTANTIATION: portable_sf_transform<1>
//
// DLG_TEST_INSTANTIATION: portable_sf_transform<2>
//
// NOTES:
// - Grid: x over MN (256 rows per CTA; kOp 2: 128), y over the last output dim (4 columns or
//   words per CTA, their loads in flight together; kOp 2: 32), z over the leading (batch)
//   dims; y and z loop past 65535. No
//   64-bit division per element: one thread per element with `idx % mn`, `idx / mn % cols`
//   spent most of its time in them (transform 41 %, pack 63 % of a same-bytes copy at 65536 x
//   56 on the H100).
// - kOp 0 / 1: a warp covers 32 consecutive rows of one column: coalesced on the MN-major
//   side. kOp 2 (the launcher's pick for transform_sf with unit input column stride and unit
//   output row stride: K-major in, MN-major out, the usual case) transposes 128 x 32 tiles
//   through shared memory, so both the reads (along K) and the writes (along MN) are
//   coalesced; the padded row (33) keeps the column reads free of bank conflicts.
// - UE8M0 rounding is common/fp8_cast.cuh's f32_to_ue8m0_ceil (bit-exact with the
//   reference's frexpf form).
#pragma once

#include "common/fp8_cast.cuh"
#include "common/types.cuh"

namespace dlg {

struct SfTransformParams {
  const float* in;
  void* out;
  int64_t total;          // output elements (words for kOp 1)
  int64_t mn, cols;       // extents of the last two output dims (cols = Kb or words)
  int64_t kb;             // input's last extent (Kb)
  int32_t ndim, pad_;
  int64_t batch;          // product of the leading dims (1 for 2-D)
  int64_t shape[8];       // leading dims in shape[0 .. ndim-3]
  int64_t in_strides[8], out_strides[8];
};
static_assert(sizeof(SfTransformParams) == 256, "host mirror expects 256 bytes");

}  // namespace dlg

template <uint32_t kOp>
__global__ void __launch_bounds__(256) portable_sf_transform(const dlg::SfTransformParams p) {
  using namespace dlg;
  const int nd = p.ndim;
  const int64_t is_r = p.in_strides[nd - 2], is_c = p.in_strides[nd - 1];
  const int64_t os_r = p.out_strides[nd - 2], os_c = p.out_strides[nd - 1];
  for (int64_t b = blockIdx.z; b < p.batch; b += gridDim.z) {
    int64_t in_base = 0, out_base = 0, rest = b;
    for (int d = nd - 3; d >= 0; --d) {
      const int64_t i = rest % p.shape[d];
      rest /= p.shape[d];
      in_base += i * p.in_strides[d];
      out_base += i * p.out_strides[d];
    }
    if constexpr (kOp == 2) {
      constexpr uint32_t kRows = 128;  // per CTA: 16 values per thread in flight
      __shared__ float tile[kRows][33];
      const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRows;
      const uint32_t tx = threadIdx.x % 32, ty = threadIdx.x / 32;
      for (int64_t c0 = static_cast<int64_t>(blockIdx.y) * 32; c0 < p.cols; c0 += 32ll * gridDim.y) {
        // All 16 loads first (rows r0 + ty + 8i, columns c0 + tx: along K), then the tile.
        float v[kRows / 8];
#pragma unroll
        for (uint32_t i = 0; i < kRows / 8; ++i) {
          const int64_t r = r0 + ty + 8 * i, c = c0 + tx;
          v[i] = r < p.mn && c < p.cols ? __ldg(p.in + in_base + r * is_r + c * is_c) : 0.0f;
        }
#pragma unroll
        for (uint32_t i = 0; i < kRows / 8; ++i) tile[ty + 8 * i][tx] = v[i];
        __syncthreads();
#pragma unroll
        for (uint32_t i = 0; i < 4; ++i) {  // columns c0 + ty + 8i, rows r0 + tx + 32q: along MN
#pragma unroll
          for (uint32_t q = 0; q < kRows / 32; ++q) {
            const int64_t r = r0 + tx + 32 * q, c = c0 + ty + 8 * i;
            if (r < p.mn && c < p.cols)
              static_cast<float*>(p.out)[out_base + r * os_r + c * os_c] = tile[tx + 32 * q][ty + 8 * i];
          }
        }
        __syncthreads();
      }
    } else {
      // kCols columns (words) per thread, their loads issued together.
      constexpr uint32_t kCols = 4;
      const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
      if (r >= p.mn) continue;
      const int64_t in_off = in_base + r * is_r, out_off = out_base + r * os_r;
      for (int64_t c0 = static_cast<int64_t>(blockIdx.y) * kCols; c0 < p.cols; c0 += int64_t{kCols} * gridDim.y) {
        if constexpr (kOp == 0) {
          float v[kCols];
#pragma unroll
          for (uint32_t u = 0; u < kCols; ++u)
            v[u] = c0 + u < p.cols ? __ldg(p.in + in_off + (c0 + u) * is_c) : 0.0f;
#pragma unroll
          for (uint32_t u = 0; u < kCols; ++u)
            if (c0 + u < p.cols) static_cast<float*>(p.out)[out_off + (c0 + u) * os_c] = v[u];
        } else {
          float v[kCols][4];
#pragma unroll
          for (uint32_t u = 0; u < kCols; ++u)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
              const int64_t col = 4 * (c0 + u) + j;
              v[u][j] = c0 + u < p.cols && col < p.kb ? __ldg(p.in + in_off + col * is_c) : 0.0f;
            }
#pragma unroll
          for (uint32_t u = 0; u < kCols; ++u) {
            uint32_t word = 0;
#pragma unroll
            for (int j = 0; j < 4; ++j)
              if (4 * (c0 + u) + j < p.kb) word |= f32_to_ue8m0_ceil(v[u][j]) << (8 * j);
            if (c0 + u < p.cols) static_cast<uint32_t*>(p.out)[out_off + (c0 + u) * os_c] = word;
          }
        }
      }
    }
  }
}
