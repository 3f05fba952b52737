//! Element types: the [`DType`] tag of a tensor, the [`Element`] trait that ties Rust types to
//! it, and the two storage types Rust lacks, [`Bf16`] and [`F8E4M3`].

use crate::error::static_str;
use dlgemm_sys as sys;

/// The element type of a tensor, as DLPack's (code, bits, lanes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float (`kDLFloat`, 32).
    F32,
    /// bfloat16 (`kDLBfloat`, 16).
    BF16,
    /// float8 e4m3fn: 4 exponent bits, 3 mantissa bits, no infinities, max 448
    /// (`kDLFloat8_e4m3fn`, 8).
    F8E4M3,
    /// 32-bit signed integer (`kDLInt`, 32).
    I32,
    /// 8-bit unsigned integer (`kDLUInt`, 8); also the byte type of paged KV caches.
    U8,
    /// Any other DLPack type, passed through so that the library can say what is wrong.
    Other {
        /// `DLDataTypeCode`.
        code: u8,
        /// Bits per lane.
        bits: u8,
        /// Lanes (1 for scalars).
        lanes: u16,
    },
}

impl DType {
    /// The DLPack descriptor.
    pub fn to_dl(self) -> sys::DLDataType {
        let (code, bits, lanes) = match self {
            DType::F32 => (sys::kDLFloat, 32, 1),
            DType::BF16 => (sys::kDLBfloat, 16, 1),
            DType::F8E4M3 => (sys::kDLFloat8_e4m3fn, 8, 1),
            DType::I32 => (sys::kDLInt, 32, 1),
            DType::U8 => (sys::kDLUInt, 8, 1),
            DType::Other { code, bits, lanes } => (code as u32, bits, lanes),
        };
        sys::DLDataType {
            code: code as u8,
            bits,
            lanes,
        }
    }

    /// The type a DLPack descriptor names.
    pub fn from_dl(dt: sys::DLDataType) -> DType {
        match (dt.code as u32, dt.bits, dt.lanes) {
            (sys::kDLFloat, 32, 1) => DType::F32,
            (sys::kDLBfloat, 16, 1) => DType::BF16,
            (sys::kDLFloat8_e4m3fn, 8, 1) => DType::F8E4M3,
            (sys::kDLInt, 32, 1) => DType::I32,
            (sys::kDLUInt, 8, 1) => DType::U8,
            _ => DType::Other {
                code: dt.code,
                bits: dt.bits,
                lanes: dt.lanes,
            },
        }
    }

    /// Bytes per element, or `None` for sub-byte or multi-lane types this crate does not size.
    pub fn size_bytes(self) -> Option<usize> {
        let dt = self.to_dl();
        (dt.bits % 8 == 0 && dt.bits > 0 && dt.lanes == 1).then_some(dt.bits as usize / 8)
    }

    /// The library's name for the type, e.g. "float8_e4m3fn" (`dlg_dtype_name`).
    pub fn name(self) -> &'static str {
        let dt = self.to_dl();
        // SAFETY: returns a static string for any input.
        unsafe { static_str(sys::dlg_dtype_name(dt.code as i32, dt.bits as i32)) }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type whose values are stored exactly as the elements of a [`DType`], so that a
/// slice of it can be viewed as a CPU tensor.
///
/// # Safety
/// `size_of::<Self>()` must equal `DTYPE.size_bytes()`, every bit pattern the library may
/// write must be a valid `Self`, and `Self` must have no padding.
pub unsafe trait Element: Copy + Send + Sync + 'static {
    /// The tensor element type of `Self`.
    const DTYPE: DType;
}

// SAFETY: plain numbers of the right width, valid for every bit pattern.
unsafe impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
// SAFETY: as above.
unsafe impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
// SAFETY: as above.
unsafe impl Element for u8 {
    const DTYPE: DType = DType::U8;
}
// SAFETY: transparent over u16.
unsafe impl Element for Bf16 {
    const DTYPE: DType = DType::BF16;
}
// SAFETY: transparent over u8.
unsafe impl Element for F8E4M3 {
    const DTYPE: DType = DType::F8E4M3;
}
#[cfg(feature = "half")]
// SAFETY: half::bf16 is a transparent u16 in bfloat16 format.
unsafe impl Element for half::bf16 {
    const DTYPE: DType = DType::BF16;
}
#[cfg(feature = "float8")]
// SAFETY: float8::F8E4M3 is a transparent u8 in the OCP e4m3fn format (max 448, no inf).
unsafe impl Element for float8::F8E4M3 {
    const DTYPE: DType = DType::F8E4M3;
}

/// A bfloat16 value stored as its bits (the top half of an `f32`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Bf16(pub u16);

impl Bf16 {
    /// Rounds to nearest, ties to even; NaN stays NaN.
    pub fn from_f32(x: f32) -> Bf16 {
        let u = x.to_bits();
        if x.is_nan() {
            return Bf16(((u >> 16) as u16) | 0x40);
        }
        let rounded = u.wrapping_add(0x7FFF + ((u >> 16) & 1));
        Bf16((rounded >> 16) as u16)
    }

    /// The exact `f32` value.
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

impl From<Bf16> for f32 {
    fn from(v: Bf16) -> f32 {
        v.to_f32()
    }
}

/// A float8 e4m3fn value stored as its bits: 1 sign, 4 exponent (bias 7), 3 mantissa bits;
/// no infinities, `S.1111.111` is NaN, the largest finite magnitude is 448.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct F8E4M3(pub u8);

impl F8E4M3 {
    /// The largest finite value, 448 (`DLG_FP8_E4M3_MAX`).
    pub const MAX: f32 = sys::DLG_FP8_E4M3_MAX as f32;

    /// Rounds to nearest, ties to even, saturating to ±448 (the library's cast semantics);
    /// NaN becomes NaN.
    pub fn from_f32(x: f32) -> F8E4M3 {
        if x.is_nan() {
            return F8E4M3(0x7F);
        }
        let sign = if x.is_sign_negative() { 0x80u8 } else { 0 };
        let a = x.abs();
        if a >= Self::MAX {
            return F8E4M3(sign | 0x7E);
        }
        if a < 2f32.powi(-6) {
            // Subnormal range: multiples of 2^-9. Rounding up to 8 lands on 0x08, which is
            // exactly the smallest normal, 2^-6.
            let units = (a * 512.0).round_ties_even() as u8;
            return F8E4M3(sign | units);
        }
        // Normal: keep 3 of the 23 mantissa bits, rounding the other 20 to nearest even; a
        // carry out of the mantissa correctly bumps the exponent.
        let bits = a.to_bits();
        let exp = ((bits >> 23) & 0xFF) as i32 - 127;
        let mant = bits & 0x7F_FFFF;
        let mut code = (((exp + 7) as u32) << 3) | (mant >> 20);
        let rest = mant & 0xF_FFFF;
        if rest > 0x8_0000 || (rest == 0x8_0000 && code & 1 == 1) {
            code += 1;
        }
        F8E4M3(sign | code.min(0x7E) as u8)
    }

    /// The exact `f32` value (NaN for the two NaN codes).
    pub fn to_f32(self) -> f32 {
        let v = self.0;
        let (exp, man) = ((v >> 3) & 0xF, v & 7);
        let mag = if exp == 0xF && man == 7 {
            f32::NAN
        } else if exp == 0 {
            man as f32 * 2f32.powi(-9)
        } else {
            (8 + man) as f32 * 2f32.powi(exp as i32 - 10)
        };
        if v & 0x80 != 0 {
            -mag
        } else {
            mag
        }
    }
}

impl From<F8E4M3> for f32 {
    fn from(v: F8E4M3) -> f32 {
        v.to_f32()
    }
}
