// Scalar types and exact conversions shared by every kernel. NVRTC 13 ships no <stdint.h>,
// <cuda_bf16.h>, <cuda_fp8.h> or <cuda/std/...> headers, so the kernels are self-contained:
// bf16 and e4m3fn are plain bit containers; the conversions are PTX (sm_89+) with a bit-exact
// integer fallback (older archs, host-side emulation of a kernel). Rounding matches
// core/ref/numeric.h: RNE; f32 -> e4m3 saturates to ±448 (satfinite), NaN stays NaN.
//
// Include convention: every kernel file includes others by their path under kernels/
// ("common/types.cuh", "ptx/wgmma.cuh"), never relative to its own directory.
#pragma once

// Fixed-width integers with the LP64 definitions glibc uses, so redeclaring them elsewhere
// with the same types stays legal C++.
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;

// Bit containers: no arithmetic operators on purpose (convert to float first).
struct __align__(2) dlg_bf16 { uint16_t bits; };
struct __align__(1) dlg_e4m3 { uint8_t bits; };

__device__ __forceinline__ float dlg_bf16_bits_to_float(uint16_t bits) {
  return __uint_as_float(((uint32_t)bits) << 16);
}
__device__ __forceinline__ float dlg_bf16_to_float(dlg_bf16 v) {
  return dlg_bf16_bits_to_float(v.bits);
}

// Round to nearest even (cvt.rn.bf16.f32, sm_80+; the integer form elsewhere).
__device__ __forceinline__ uint16_t dlg_float_to_bf16_bits(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint16_t r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
#else
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
#endif
}
__device__ __forceinline__ dlg_bf16 dlg_float_to_bf16(float f) {
  dlg_bf16 v;
  v.bits = dlg_float_to_bf16_bits(f);
  return v;
}

// e4m3fn -> f32 is exact. Software form: 1 sign, 4 exponent (bias 7), 3 mantissa bits;
// S.1111.111 is NaN; exponent 0 is subnormal (man/8 · 2^-6).
__device__ __forceinline__ float dlg_e4m3_bits_to_float_soft(uint8_t v) {
  uint32_t sign = ((uint32_t)(v & 0x80)) << 24;
  uint32_t exp = (v >> 3) & 15, man = v & 7;
  if (exp == 15 && man == 7) return __uint_as_float(sign | 0x7FC00000u);
  float mag = (exp == 0) ? (float)man * 0.001953125f /* 2^-9 */
                         : __uint_as_float(((exp + 120u) << 23) | (man << 20));
  return __uint_as_float(__float_as_uint(mag) | sign);
}

// Two e4m3fn in the low (element 0) and high (element 1) byte -> two floats.
__device__ __forceinline__ float2 dlg_e4m3x2_bits_to_float2(uint16_t v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint32_t h2;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"(v));
  float lo, hi;
  asm("cvt.f32.f16 %0, %1;" : "=f"(lo) : "h"((uint16_t)(h2 & 0xFFFFu)));
  asm("cvt.f32.f16 %0, %1;" : "=f"(hi) : "h"((uint16_t)(h2 >> 16)));
  return make_float2(lo, hi);
#else
  return make_float2(dlg_e4m3_bits_to_float_soft((uint8_t)(v & 0xFF)),
                     dlg_e4m3_bits_to_float_soft((uint8_t)(v >> 8)));
#endif
}
__device__ __forceinline__ float dlg_e4m3_bits_to_float(uint8_t v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  return dlg_e4m3x2_bits_to_float2((uint16_t)v).x;
#else
  return dlg_e4m3_bits_to_float_soft(v);
#endif
}
__device__ __forceinline__ float dlg_e4m3_to_float(dlg_e4m3 v) {
  return dlg_e4m3_bits_to_float(v.bits);
}

// f32 -> e4m3fn in integer arithmetic: RNE, saturating to ±448, NaN -> 0x7F (what
// cvt.rn.satfinite does; used below sm_89 and by host-side emulation).
__device__ __forceinline__ uint8_t dlg_float_to_e4m3_bits_soft(float f) {
  const uint32_t u = __float_as_uint(f), au = u & 0x7FFFFFFFu;
  const uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
  if (au > 0x7F800000u) return 0x7F;
  if (au >= 0x43E00000u) return sign | 0x7E; // >= 448 (and inf)
  const int e = (int)(au >> 23) - 127;
  if (e < -6) {
    // Subnormal range: units of 2^-9, rounded to nearest even (the 1.5·2^23 trick rounds
    // in the default mode); 8 units is the smallest normal, whose encoding is also 8.
    const float q = __uint_as_float(au) * 512.0f;
    const uint32_t mi = (uint32_t)((q + 12582912.0f) - 12582912.0f);
    return sign | (uint8_t)mi;
  }
  uint32_t keep = (au >> 20) & 7u, exp = (uint32_t)(e + 7);
  const uint32_t rest = au & 0xFFFFFu;
  if (rest > 0x80000u || (rest == 0x80000u && (keep & 1u))) ++keep;
  if (keep == 8u) {
    keep = 0;
    ++exp;
  }
  if (exp > 15u || (exp == 15u && keep == 7u)) return sign | 0x7E;
  return sign | (uint8_t)((exp << 3) | keep);
}

// Two floats -> two e4m3fn (lo in the low byte), RNE, saturating to ±448.
__device__ __forceinline__ uint16_t dlg_float2_to_e4m3x2_bits(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint16_t r;
  // The first source lands in the upper byte.
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return (uint16_t)(dlg_float_to_e4m3_bits_soft(lo) | (dlg_float_to_e4m3_bits_soft(hi) << 8));
#endif
}
__device__ __forceinline__ uint8_t dlg_float_to_e4m3_bits(float f) {
  return (uint8_t)(dlg_float2_to_e4m3x2_bits(f, 0.0f) & 0xFF);
}
__device__ __forceinline__ dlg_e4m3 dlg_float_to_e4m3(float f) {
  dlg_e4m3 v;
  v.bits = dlg_float_to_e4m3_bits(f);
  return v;
}

// UE8M0 byte -> 2^(e - 127) (e = 0 is the subnormal 2^-127); 0xFF is NaN.
__device__ __forceinline__ float dlg_ue8m0_to_float(uint32_t e) {
  e &= 0xFFu;
  if (e == 0xFFu) return __uint_as_float(0x7FC00000u);
  if (e == 0u) return __uint_as_float(0x00400000u);
  return __uint_as_float(e << 23);
}
