/* Bit-exact conversions for the reference path: bf16, float8_e4m3fn, UE8M0. */
#ifndef DLG_REF_NUMERIC_H_
#define DLG_REF_NUMERIC_H_

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float dlg_bf16_to_f32(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Round to nearest even; NaN stays NaN. */
static inline uint16_t dlg_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa; no infinities; S.1111.111 is NaN. */
static inline float dlg_e4m3_to_f32(uint8_t v) {
  int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  float mag;
  if (exp == 15 && man == 7) return NAN;
  if (exp == 0) mag = ldexpf((float)man, -9); /* subnormal: man/8 * 2^-6 */
  else mag = ldexpf((float)(8 + man), exp - 10);
  return sign ? -mag : mag;
}

/* Round to nearest even, saturating to ±448 (the cast semantics of the FP8 quantisers:
 * values are pre-scaled into range, so saturation only clips rounding overshoot). NaN -> NaN. */
static inline uint8_t dlg_f32_to_e4m3(float f) {
  if (f != f) return 0x7F;
  uint8_t sign = (uint8_t)(signbit(f) ? 0x80 : 0);
  float a = fabsf(f);
  if (a >= 448.0f) return sign | 0x7E;
  if (a <= ldexpf(1.0f, -10)) return sign; /* at most half the smallest subnormal: ties to 0 */
  int e;
  frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) -> unbiased exponent e-1 */
  int exp = e - 1;
  if (exp < -6) exp = -6; /* subnormal range shares the 2^-6 scale */
  float q = ldexpf(a, 3 - exp); /* mantissa units of 2^(exp-3) */
  float r = nearbyintf(q);     /* default rounding mode: to nearest even */
  int mi = (int)r;
  if (mi >= 16) { exp += 1; mi >>= 1; }
  if (exp > 8) return sign | 0x7E;
  if (mi < 8) return sign | (uint8_t)mi; /* subnormal (exp == -6) */
  uint8_t bits = (uint8_t)(((exp + 7) << 3) | (mi - 8));
  if (bits == 0x7F) bits = 0x7E; /* 480 would be NaN: saturate */
  return sign | bits;
}

/* UE8M0: an unsigned biased exponent, value 2^(e - 127); 0xFF is NaN. */
static inline float dlg_ue8m0_to_f32(uint8_t e) {
  if (e == 0xFF) return NAN;
  return ldexpf(1.0f, (int)e - 127);
}

/* Smallest power of two >= x (x > 0, finite) as its UE8M0 byte. */
static inline uint8_t dlg_f32_to_ue8m0_ceil(float x) {
  if (!(x > 0.0f) || isinf(x)) return x > 0.0f ? 0xFE : 0x7F; /* non-positive -> 2^0 */
  int e;
  float m = frexpf(x, &e); /* x = m * 2^e, m in [0.5, 1) */
  int p = (m == 0.5f) ? e - 1 : e;  /* exact power of two stays */
  int biased = p + 127;
  if (biased < 0) biased = 0;
  if (biased > 254) biased = 254;
  return (uint8_t)biased;
}

#endif /* DLG_REF_NUMERIC_H_ */
