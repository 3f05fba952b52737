//! Shared helpers: a seeded generator, independent FP8 / BF16 / UE8M0 decoders, quantisers
//! that produce the library's scale conventions, and tolerance checks.
#![allow(dead_code)]

use dlgemm::{Bf16, Context, F8E4M3};

pub fn ctx() -> Context {
    Context::cpu().expect("CPU context")
}

/// splitmix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    /// Integer in [lo, hi).
    pub fn below(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }
}

/// float8 e4m3fn decoded by assembling the f32 bit pattern (independent of the crate's
/// arithmetic decoder): normal values move the exponent from bias 7 to bias 127 and the
/// mantissa to the top of f32's; subnormals are m·2⁻⁹.
pub fn e4m3(v: u8) -> f32 {
    let sign = ((v as u32) & 0x80) << 24;
    let exp = ((v >> 3) & 0xF) as u32;
    let man = (v & 7) as u32;
    if exp == 0xF && man == 7 {
        return f32::NAN;
    }
    let mag = if exp == 0 {
        man as f32 / 512.0
    } else {
        f32::from_bits(((exp + 120) << 23) | (man << 20))
    };
    f32::from_bits(sign | mag.to_bits())
}

pub fn fp8(v: F8E4M3) -> f32 {
    e4m3(v.0)
}

pub fn bf16(v: Bf16) -> f32 {
    f32::from_bits((v.0 as u32) << 16)
}

/// UE8M0 byte -> 2^(e - 127).
pub fn ue8m0(e: u8) -> f32 {
    (2f64).powi(e as i32 - 127) as f32
}

pub fn to_bf16(xs: &[f32]) -> Vec<Bf16> {
    xs.iter().map(|&x| Bf16::from_f32(x)).collect()
}

pub fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Per-row, per-128-column quantisation of x [rows, cols]: fp8 [rows, cols] and sf
/// [rows, ceil(cols/128)] with sf = amax / 448 (1 for all-zero blocks), optionally rounded up
/// to a power of two.
pub fn quant_rows(x: &[f32], rows: usize, cols: usize, pow2: bool) -> (Vec<F8E4M3>, Vec<f32>) {
    let kb = ceil_div(cols as i64, 128) as usize;
    let mut q = vec![F8E4M3(0); rows * cols];
    let mut sf = vec![0f32; rows * kb];
    for r in 0..rows {
        for b in 0..kb {
            let cols_b = (b * 128)..((b + 1) * 128).min(cols);
            let amax = cols_b.clone().map(|c| x[r * cols + c].abs()).fold(0f32, f32::max);
            let s = scale_of(amax, pow2);
            sf[r * kb + b] = s;
            for c in cols_b {
                q[r * cols + c] = F8E4M3::from_f32(x[r * cols + c] / s);
            }
        }
    }
    (q, sf)
}

/// 128×128-block quantisation of x [rows, cols]: sf [ceil(rows/128), ceil(cols/128)].
pub fn quant_blocks(x: &[f32], rows: usize, cols: usize, pow2: bool) -> (Vec<F8E4M3>, Vec<f32>) {
    let (rb, kb) = (ceil_div(rows as i64, 128) as usize, ceil_div(cols as i64, 128) as usize);
    let mut q = vec![F8E4M3(0); rows * cols];
    let mut sf = vec![0f32; rb * kb];
    for i in 0..rb {
        for j in 0..kb {
            let (r0, r1, c0, c1) = (i * 128, ((i + 1) * 128).min(rows), j * 128, ((j + 1) * 128).min(cols));
            let mut amax = 0f32;
            for r in r0..r1 {
                for c in c0..c1 {
                    amax = amax.max(x[r * cols + c].abs());
                }
            }
            let s = scale_of(amax, pow2);
            sf[i * kb + j] = s;
            for r in r0..r1 {
                for c in c0..c1 {
                    q[r * cols + c] = F8E4M3::from_f32(x[r * cols + c] / s);
                }
            }
        }
    }
    (q, sf)
}

pub fn scale_of(amax: f32, pow2: bool) -> f32 {
    if amax <= 0.0 {
        return 1.0;
    }
    let s = amax / 448.0;
    if pow2 {
        pow2_ceil(s)
    } else {
        s
    }
}

/// Smallest power of two >= x (x > 0).
pub fn pow2_ceil(x: f32) -> f32 {
    let mut p = 2f32.powi(x.log2().floor() as i32);
    while p < x {
        p *= 2.0;
    }
    while p / 2.0 >= x {
        p /= 2.0;
    }
    p
}

/// Asserts |got - want| <= atol + rtol·|want| everywhere, naming the first offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_infinite() {
            g as f64 == w
        } else {
            (g as f64 - w).abs() <= atol + rtol * w.abs()
        };
        assert!(ok, "{what}[{i}]: got {g}, want {w}");
    }
}

/// DeepGEMM's calc_diff, written here: 1 - 2·Σxy / Σ(x² + y²).
pub fn calc_diff(x: &[f64], y: &[f64]) -> f64 {
    let (mut xy, mut sq) = (0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        xy += a * b;
        sq += a * a + b * b;
    }
    if sq == 0.0 {
        0.0
    } else {
        1.0 - 2.0 * xy / sq
    }
}

pub fn f64s(xs: &[f32]) -> Vec<f64> {
    xs.iter().map(|&x| x as f64).collect()
}
