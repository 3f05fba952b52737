// Scale-factor layout kernels (any arch), twins of core/ref/quant_ref.c:
//   kOp 0 (transform_sf): sf_out[.., mn, kb] = sf_in[.., mn, kb], f32, any strides on both
//          sides (typically K-major in -> the TMA-aligned MN-major layout out).
//   kOp 1 (pack_ue8m0):   packed[.., mn, w] = 4 UE8M0 bytes of sf[.., mn, 4w .. 4w+3]
//          (byte j = column 4w+j, zero past Kb), f32 in, int32 out, any strides.
// DLG_TEST_INSTANTIATION: portable_sf_transform<0>
// DLG_TEST_INSTANTIATION: portable_sf_transform<1>
//
// NOTES:
// - One thread per output element (a word for kOp 1). The linear index runs MN fastest,
//   then the last dimension, then the leading (batch) dimensions, so the writes of a warp
//   are consecutive in the MN-major output layout the GEMMs want; the reads of a K-major
//   input are then strided (scales are 1/128 of the data: the copy is small either way).
// - UE8M0 rounding is portable_fp8_cast.cuh's f32_to_ue8m0_ceil (bit-exact with the
//   reference's frexpf form).
#pragma once

#include "common/types.cuh"
#include "portable_fp8_cast.cuh"

namespace dlg {

struct SfTransformParams {
  const float* in;
  void* out;
  int64_t total;          // output elements (words for kOp 1)
  int64_t mn, cols;       // extents of the last two output dims (cols = Kb or words)
  int64_t kb;             // input's last extent (Kb)
  int32_t ndim, pad_;
  int64_t shape[8];       // leading dims in shape[0 .. ndim-3]
  int64_t in_strides[8], out_strides[8];
};
static_assert(sizeof(SfTransformParams) == 248, "host mirror expects 248 bytes");

}  // namespace dlg

template <uint32_t kOp>
__global__ void __launch_bounds__(256) portable_sf_transform(const dlg::SfTransformParams p) {
  using namespace dlg;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.total) return;
  const int nd = p.ndim;
  const int64_t r = idx % p.mn, c = (idx / p.mn) % p.cols;
  int64_t batch = idx / (p.mn * p.cols);
  int64_t in_off = r * p.in_strides[nd - 2], out_off = r * p.out_strides[nd - 2] + c * p.out_strides[nd - 1];
  for (int d = nd - 3; d >= 0; --d) {
    const int64_t i = batch % p.shape[d];
    batch /= p.shape[d];
    in_off += i * p.in_strides[d];
    out_off += i * p.out_strides[d];
  }
  if constexpr (kOp == 0) {
    static_cast<float*>(p.out)[out_off] = __ldg(p.in + in_off + c * p.in_strides[nd - 1]);
  } else {
    uint32_t word = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t col = 4 * c + j;
      if (col < p.kb)
        word |= f32_to_ue8m0_ceil(__ldg(p.in + in_off + col * p.in_strides[nd - 1])) << (8 * j);
    }
    static_cast<uint32_t*>(p.out)[out_off] = word;
  }
}
