/* dlgemm — dense GEMM: D = C + A · Bᵀ.
 *
 * Shapes are logical: A [M, K], B [N, K], C and D [M, N]. Memory layout is read from the
 * strides: A is "K-major" when stride(A,1) == 1 and "M-major" when stride(A,0) == 1 (the
 * transposed storage of a [K, M] row-major tensor); likewise B is K-major or N-major. So
 * NT/NN/TN/TT are just strides. The fast SM90 kernels take the layouts the tensor cores take
 * (K-major A and B for FP8; K- or MN-major for BF16) with 16-byte aligned rows; any other
 * layout runs on the portable kernel: correct, several times slower (DLG_PRINT_CONFIGS=1
 * shows which kernel a call picked). The CPU reference takes every layout.
 *
 * All tensors of one call live on one device: kDLCPU (reference path) or kDLCUDA (kernels).
 * Outputs are allocated by the caller and never read unless they alias C. `stream` is a
 * CUstream (NULL = the legacy default stream); it is ignored on the CPU path. */
#ifndef DLGEMM_GEMM_H_
#define DLGEMM_GEMM_H_

#include <stdint.h>
#include <dlpack/dlpack.h>
#include "dlgemm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scale recipes. Values are part of the ABI. Scale tensors are FP32 multipliers
 * ("dequantised value = fp8 value × scale"), or int32 holding four packed UE8M0 exponents
 * (byte j of word w is the scale of K-block 4w+j, little-endian) where noted.
 *
 *  recipe            A, B dtype       sfa                          sfb                          D
 *  FP8_1D2D          e4m3fn           [M, ceil(K/128)] f32 | packed [ceil(N/128), ceil(K/128)] f32  bf16 | f32
 *  FP8_1D1D          e4m3fn           [M, ceil(K/128)] f32 | packed [N, ceil(K/128)] f32 | packed  f32 | bf16
 *  FP8_PER_TENSOR    e4m3fn           scalar f32 or NULL (=1)      scalar f32 or NULL (=1)      bf16 | f32
 *  BF16              bfloat16         NULL                         NULL                         bf16 | f32
 *
 * "packed" = int32 [rows, ceil(ceil(K/128)/4)] of UE8M0 (the SM100 layout; CPU reference now).
 * Scale tensors may have any strides on the CPU. On the GPU, per-token/per-row scales must be
 * MN-major with a TMA-aligned column stride (stride(sf,0) == 1, stride(sf,1) ==
 * dlg_tma_aligned_size(rows, 4)): dlg_transform_sf() produces it. A scalar scale is a tensor
 * with one element (ndim 0, or every extent 1) on the same device. */
typedef enum dlg_recipe {
  DLG_RECIPE_FP8_1D2D = 1,
  DLG_RECIPE_FP8_1D1D = 2,
  DLG_RECIPE_FP8_PER_TENSOR = 3,
  DLG_RECIPE_BF16 = 4
} dlg_recipe_t;

DLG_API const char* dlg_recipe_name(dlg_recipe_t recipe);

/* D = C + A·Bᵀ (C optional: NULL means zero). C may be the same tensor as D (same data,
 * dtype, shape and strides): that is the in-place accumulation of weight gradients.
 * M, N or K may be 0 (K = 0 writes D = C, or zeros). */
DLG_API dlg_status_t dlg_gemm(dlg_context_t* ctx, dlg_recipe_t recipe,
                              const DLTensor* a, const DLTensor* sfa,
                              const DLTensor* b, const DLTensor* sfb,
                              const DLTensor* c, DLTensor* d, void* stream);

/* Compiles (or loads from the disk cache) the kernel dlg_gemm would launch on the context's
 * device for this problem, so the first real call does not pay for NVRTC. d_dtype_code /
 * d_bits give D's dtype (kDLBfloat/16 or kDLFloat/32). A problem with no GPU kernel returns
 * DLG_ERR_UNSUPPORTED; a CPU context returns DLG_OK and does nothing. */
DLG_API dlg_status_t dlg_warmup_gemm(dlg_context_t* ctx, dlg_recipe_t recipe, int64_t m,
                                     int64_t n, int64_t k, int d_dtype_code, int d_bits);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_GEMM_H_ */
