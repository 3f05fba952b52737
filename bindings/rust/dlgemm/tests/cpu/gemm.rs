//! Dense GEMM, every recipe and layout, against Rust-side math.

use crate::common::*;
use dlgemm::*;

/// `D[i, j] = C[i, j] + Σ_kb scale(i, j, kb) · Σ_{k in block kb} a(i, k)·b(j, k)` in f64.
pub fn reference(
    (m, n, k): (i64, i64, i64),
    a: impl Fn(i64, i64) -> f64,
    b: impl Fn(i64, i64) -> f64,
    scale: impl Fn(i64, i64, i64) -> f64,
    c: Option<&[f64]>,
) -> Vec<f64> {
    let mut d = vec![0f64; (m * n) as usize];
    for i in 0..m {
        for j in 0..n {
            let mut acc = c.map_or(0.0, |c| c[(i * n + j) as usize]);
            for kb in 0..ceil_div(k, 128) {
                let block: f64 = (kb * 128..((kb + 1) * 128).min(k)).map(|kk| a(i, kk) * b(j, kk)).sum();
                acc += scale(i, j, kb) * block;
            }
            d[(i * n + j) as usize] = acc;
        }
    }
    d
}

/// D as f32 whatever its storage.
pub fn d_values(d: &DOut) -> Vec<f32> {
    match d {
        DOut::F32(v) => v.clone(),
        DOut::BF16(v) => v.iter().map(|&x| bf16(x)).collect(),
    }
}

/// An output buffer of either dtype GEMMs write.
pub enum DOut {
    F32(Vec<f32>),
    BF16(Vec<Bf16>),
}

impl DOut {
    pub fn new(dtype: DType, len: usize) -> DOut {
        match dtype {
            DType::F32 => DOut::F32(vec![0.0; len]),
            _ => DOut::BF16(vec![Bf16(0); len]),
        }
    }
    pub fn from_f32(dtype: DType, xs: &[f32]) -> DOut {
        match dtype {
            DType::F32 => DOut::F32(xs.to_vec()),
            _ => DOut::BF16(to_bf16(xs)),
        }
    }
    pub fn view_mut(&mut self, shape: &[i64]) -> TensorViewMut<'_> {
        match self {
            DOut::F32(v) => TensorViewMut::from_slice(v, shape).unwrap(),
            DOut::BF16(v) => TensorViewMut::from_slice(v, shape).unwrap(),
        }
    }
    pub fn view(&self, shape: &[i64]) -> TensorView<'_> {
        match self {
            DOut::F32(v) => TensorView::from_slice(v, shape).unwrap(),
            DOut::BF16(v) => TensorView::from_slice(v, shape).unwrap(),
        }
    }
    /// Tolerance of the output dtype, relative.
    pub fn rtol(&self) -> f64 {
        match self {
            DOut::F32(_) => 2e-5,
            DOut::BF16(_) => 2f64.powi(-8),
        }
    }
}

/// Checks D against the reference, elementwise and by calc_diff.
pub fn check_d(what: &str, d: &DOut, want: &[f64]) {
    let got = d_values(d);
    let scale = want.iter().fold(0f64, |a, &b| a.max(b.abs())).max(1e-30);
    assert_close(what, &got, want, d.rtol(), 1e-5 * scale);
    let diff = calc_diff(&f64s(&got), want);
    assert!(
        diff < if matches!(d, DOut::F32(_)) { 1e-9 } else { 1e-4 },
        "{what}: calc_diff {diff}"
    );
}

/// Random FP8 operand [rows, cols] with per-row 128-column scales.
pub fn fp8_operand(rng: &mut Rng, rows: i64, cols: i64, pow2: bool) -> (Vec<F8E4M3>, Vec<f32>) {
    let x = rng.vec((rows * cols) as usize, -2.0, 2.0);
    quant_rows(&x, rows as usize, cols as usize, pow2)
}

/// Packs f32 powers of two [rows, kb] into UE8M0 words [rows, ceil(kb/4)], by hand.
pub fn pack_by_hand(sf: &[f32], rows: usize, kb: usize) -> Vec<i32> {
    let words = kb.div_ceil(4);
    let mut out = vec![0i32; rows * words];
    for r in 0..rows {
        for c in 0..kb {
            let s = sf[r * kb + c];
            let e = (s.log2().round() as i32 + 127) as u32;
            assert_eq!(ue8m0(e as u8), s, "not a power of two");
            out[r * words + c / 4] |= (e << (8 * (c % 4))) as i32;
        }
    }
    out
}

#[test]
fn test_gemm_bf16() {
    let c = ctx();
    let mut rng = Rng::new(1);
    for &(m, n, k) in &[(33i64, 65i64, 96i64), (8, 16, 256), (5, 7, 0)] {
        let a = to_bf16(&rng.vec((m * k) as usize, -1.0, 1.0));
        let b = to_bf16(&rng.vec((n * k) as usize, -1.0, 1.0));
        let cin = rng.vec((m * n) as usize, -1.0, 1.0);
        let (av, bv) = (
            TensorView::from_slice(&a, &[m, k]).unwrap(),
            TensorView::from_slice(&b, &[n, k]).unwrap(),
        );
        let fa = |i: i64, kk: i64| bf16(a[(i * k + kk) as usize]) as f64;
        let fb = |j: i64, kk: i64| bf16(b[(j * k + kk) as usize]) as f64;
        for dt in [DType::BF16, DType::F32] {
            // Without C.
            let mut d = DOut::new(dt, (m * n) as usize);
            c.gemm(
                Recipe::Bf16,
                &av,
                None,
                &bv,
                None,
                None,
                &mut d.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d(
                &format!("bf16 {m}x{n}x{k} -> {dt}"),
                &d,
                &reference((m, n, k), fa, fb, |_, _, _| 1.0, None),
            );
            // With C of D's dtype.
            let cbuf = DOut::from_f32(dt, &cin);
            let cvals = f64s(&d_values(&cbuf));
            let mut d = DOut::new(dt, (m * n) as usize);
            c.gemm(
                Recipe::Bf16,
                &av,
                None,
                &bv,
                None,
                Some(&cbuf.view(&[m, n])),
                &mut d.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d(
                &format!("bf16 + C {m}x{n}x{k} -> {dt}"),
                &d,
                &reference((m, n, k), fa, fb, |_, _, _| 1.0, Some(&cvals)),
            );
        }
        // In place: D += A·Bᵀ twice.
        let mut d = cin.clone();
        for _ in 0..2 {
            c.gemm_accumulate(
                Recipe::Bf16,
                &av,
                None,
                &bv,
                None,
                &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
                Stream::DEFAULT,
            )
            .unwrap();
        }
        let once = reference((m, n, k), fa, fb, |_, _, _| 2.0, Some(&f64s(&cin)));
        assert_close("bf16 accumulate", &d, &once, 1e-5, 1e-5);
    }
}

#[test]
fn test_gemm_fp8_per_tensor() {
    let c = ctx();
    let mut rng = Rng::new(2);
    let (m, n, k) = (24i64, 40i64, 192i64);
    let a: Vec<F8E4M3> = rng
        .vec((m * k) as usize, -300.0, 300.0)
        .into_iter()
        .map(F8E4M3::from_f32)
        .collect();
    let b: Vec<F8E4M3> = rng
        .vec((n * k) as usize, -300.0, 300.0)
        .into_iter()
        .map(F8E4M3::from_f32)
        .collect();
    let (sa, sb) = ([0.0125f32], [0.003f32]);
    let av = TensorView::from_slice(&a, &[m, k]).unwrap();
    let bv = TensorView::from_slice(&b, &[n, k]).unwrap();
    let fa = |i: i64, kk: i64| fp8(a[(i * k + kk) as usize]) as f64;
    let fb = |j: i64, kk: i64| fp8(b[(j * k + kk) as usize]) as f64;
    for dt in [DType::BF16, DType::F32] {
        let mut d = DOut::new(dt, (m * n) as usize);
        // Scalars as 0-d tensors and as [1, 1].
        let sav = TensorView::from_slice(&sa, &[]).unwrap();
        let sbv = TensorView::from_slice(&sb, &[1, 1]).unwrap();
        c.gemm(
            Recipe::Fp8PerTensor,
            &av,
            Some(&sav),
            &bv,
            Some(&sbv),
            None,
            &mut d.view_mut(&[m, n]),
            Stream::DEFAULT,
        )
        .unwrap();
        let s = sa[0] as f64 * sb[0] as f64;
        check_d(
            &format!("fp8 per-tensor -> {dt}"),
            &d,
            &reference((m, n, k), fa, fb, |_, _, _| s, None),
        );
        // No scales: both 1.
        let mut d = DOut::new(dt, (m * n) as usize);
        c.gemm(
            Recipe::Fp8PerTensor,
            &av,
            None,
            &bv,
            None,
            None,
            &mut d.view_mut(&[m, n]),
            Stream::DEFAULT,
        )
        .unwrap();
        check_d(
            &format!("fp8 unscaled -> {dt}"),
            &d,
            &reference((m, n, k), fa, fb, |_, _, _| 1.0, None),
        );
    }
}

#[test]
fn test_gemm_fp8_1d2d() {
    let c = ctx();
    let mut rng = Rng::new(3);
    let (m, n, k) = (40i64, 200i64, 320i64);
    let (kb, nb) = (ceil_div(k, 128), ceil_div(n, 128));
    for pow2 in [false, true] {
        let (a, sfa) = fp8_operand(&mut rng, m, k, pow2);
        let bx = rng.vec((n * k) as usize, -2.0, 2.0);
        let (b, sfb) = quant_blocks(&bx, n as usize, k as usize, pow2);
        let av = TensorView::from_slice(&a, &[m, k]).unwrap();
        let bv = TensorView::from_slice(&b, &[n, k]).unwrap();
        let want = reference(
            (m, n, k),
            |i, kk| fp8(a[(i * k + kk) as usize]) as f64,
            |j, kk| fp8(b[(j * k + kk) as usize]) as f64,
            |i, j, blk| sfa[(i * kb + blk) as usize] as f64 * sfb[((j / 128) * kb + blk) as usize] as f64,
            None,
        );
        for dt in [DType::BF16, DType::F32] {
            let mut d = DOut::new(dt, (m * n) as usize);
            let sfav = TensorView::from_slice(&sfa, &[m, kb]).unwrap();
            // sfa also as the TMA-aligned MN-major layout the GPU takes.
            let ld = tma_aligned_size(m, 4);
            let mut sfa_mn = vec![0f32; (ld * kb) as usize];
            for i in 0..m {
                for blk in 0..kb {
                    sfa_mn[(blk * ld + i) as usize] = sfa[(i * kb + blk) as usize];
                }
            }
            let sfa_mn_v = TensorView::from_slice_strided(&sfa_mn, &[m, kb], &[1, ld]).unwrap();
            let sfbv = TensorView::from_slice(&sfb, &[nb, kb]).unwrap();
            c.gemm(
                Recipe::Fp8_1d2d,
                &av,
                Some(&sfav),
                &bv,
                Some(&sfbv),
                None,
                &mut d.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d(&format!("1d2d pow2={pow2} -> {dt}"), &d, &want);
            let mut d2 = DOut::new(dt, (m * n) as usize);
            c.gemm(
                Recipe::Fp8_1d2d,
                &av,
                Some(&sfa_mn_v),
                &bv,
                Some(&sfbv),
                None,
                &mut d2.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d(&format!("1d2d MN-major sfa -> {dt}"), &d2, &want);
            if pow2 {
                // Packed UE8M0 scales give the same result.
                let pa = pack_by_hand(&sfa, m as usize, kb as usize);
                let pb = pack_by_hand(&sfb, nb as usize, kb as usize);
                let w = ceil_div(kb, 4);
                let mut d3 = DOut::new(dt, (m * n) as usize);
                c.gemm(
                    Recipe::Fp8_1d2d,
                    &av,
                    Some(&TensorView::from_slice(&pa, &[m, w]).unwrap()),
                    &bv,
                    Some(&TensorView::from_slice(&pb, &[nb, w]).unwrap()),
                    None,
                    &mut d3.view_mut(&[m, n]),
                    Stream::DEFAULT,
                )
                .unwrap();
                check_d(&format!("1d2d packed -> {dt}"), &d3, &want);
            }
        }
    }
}

#[test]
fn test_gemm_fp8_1d1d() {
    let c = ctx();
    let mut rng = Rng::new(4);
    let (m, n, k) = (36i64, 72i64, 256i64);
    let kb = ceil_div(k, 128);
    for pow2 in [false, true] {
        let (a, sfa) = fp8_operand(&mut rng, m, k, pow2);
        let (b, sfb) = fp8_operand(&mut rng, n, k, pow2);
        let av = TensorView::from_slice(&a, &[m, k]).unwrap();
        let bv = TensorView::from_slice(&b, &[n, k]).unwrap();
        let sfav = TensorView::from_slice(&sfa, &[m, kb]).unwrap();
        let sfbv = TensorView::from_slice(&sfb, &[n, kb]).unwrap();
        let fa = |i: i64, kk: i64| fp8(a[(i * k + kk) as usize]) as f64;
        let fb = |j: i64, kk: i64| fp8(b[(j * k + kk) as usize]) as f64;
        let sc = |i: i64, j: i64, blk: i64| sfa[(i * kb + blk) as usize] as f64 * sfb[(j * kb + blk) as usize] as f64;
        let cin = rng.vec((m * n) as usize, -1.0, 1.0);
        for dt in [DType::F32, DType::BF16] {
            let mut d = DOut::new(dt, (m * n) as usize);
            c.gemm(
                Recipe::Fp8_1d1d,
                &av,
                Some(&sfav),
                &bv,
                Some(&sfbv),
                None,
                &mut d.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d(
                &format!("1d1d pow2={pow2} -> {dt}"),
                &d,
                &reference((m, n, k), fa, fb, sc, None),
            );
        }
        // With C, and in place (the weight-gradient accumulation).
        let mut d = vec![0f32; (m * n) as usize];
        let cv = TensorView::from_slice(&cin, &[m, n]).unwrap();
        c.gemm(
            Recipe::Fp8_1d1d,
            &av,
            Some(&sfav),
            &bv,
            Some(&sfbv),
            Some(&cv),
            &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        let with_c = reference((m, n, k), fa, fb, sc, Some(&f64s(&cin)));
        check_d("1d1d + C", &DOut::F32(d), &with_c);
        let mut acc = cin.clone();
        c.gemm_accumulate(
            Recipe::Fp8_1d1d,
            &av,
            Some(&sfav),
            &bv,
            Some(&sfbv),
            &mut TensorViewMut::from_slice(&mut acc, &[m, n]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        check_d("1d1d accumulate", &DOut::F32(acc), &with_c);
        if pow2 {
            let w = ceil_div(kb, 4);
            let (pa, pb) = (
                pack_by_hand(&sfa, m as usize, kb as usize),
                pack_by_hand(&sfb, n as usize, kb as usize),
            );
            let mut d = DOut::new(DType::F32, (m * n) as usize);
            c.gemm(
                Recipe::Fp8_1d1d,
                &av,
                Some(&TensorView::from_slice(&pa, &[m, w]).unwrap()),
                &bv,
                Some(&TensorView::from_slice(&pb, &[n, w]).unwrap()),
                None,
                &mut d.view_mut(&[m, n]),
                Stream::DEFAULT,
            )
            .unwrap();
            check_d("1d1d packed", &d, &reference((m, n, k), fa, fb, sc, None));
        }
    }
}

/// NT / NN / TN / TT: A K-major or M-major, B K-major or N-major, all from strides; plus a
/// padded D whose padding must stay untouched. The CPU path takes every layout.
#[test]
fn test_gemm_layouts() {
    let c = ctx();
    let mut rng = Rng::new(6);
    let (m, n, k) = (20i64, 28i64, 160i64);
    // Logical A [m, k] and B [n, k]; stored row-major and transposed.
    let ax = to_bf16(&rng.vec((m * k) as usize, -1.0, 1.0));
    let bx = to_bf16(&rng.vec((n * k) as usize, -1.0, 1.0));
    let at: Vec<Bf16> = (0..k * m).map(|idx| ax[((idx % m) * k + idx / m) as usize]).collect(); // [k, m]
    let bt: Vec<Bf16> = (0..k * n).map(|idx| bx[((idx % n) * k + idx / n) as usize]).collect(); // [k, n]
    let want = reference(
        (m, n, k),
        |i, kk| bf16(ax[(i * k + kk) as usize]) as f64,
        |j, kk| bf16(bx[(j * k + kk) as usize]) as f64,
        |_, _, _| 1.0,
        None,
    );
    let a_views = [
        ("A K-major", TensorView::from_slice(&ax, &[m, k]).unwrap()),
        (
            "A M-major",
            TensorView::from_slice(&at, &[k, m]).unwrap().transpose(0, 1).unwrap(),
        ),
    ];
    let b_views = [
        ("B K-major", TensorView::from_slice(&bx, &[n, k]).unwrap()),
        (
            "B N-major",
            TensorView::from_slice(&bt, &[k, n]).unwrap().transpose(0, 1).unwrap(),
        ),
    ];
    for (an, av) in &a_views {
        for (bn, bv) in &b_views {
            let ld = n + 5;
            let mut d = vec![f32::from_bits(0xDEAD_BEEF); (m * ld) as usize];
            c.gemm(
                Recipe::Bf16,
                av,
                None,
                bv,
                None,
                None,
                &mut TensorViewMut::from_slice_strided(&mut d, &[m, n], &[ld, 1]).unwrap(),
                Stream::DEFAULT,
            )
            .unwrap();
            let packed: Vec<f32> = (0..m * n).map(|i| d[((i / n) * ld + i % n) as usize]).collect();
            assert_close(&format!("{an} {bn}"), &packed, &want, 1e-5, 1e-5);
            assert!(
                (0..m).all(|i| (n..ld).all(|j| d[(i * ld + j) as usize].to_bits() == 0xDEAD_BEEF)),
                "{an} {bn}: padding written"
            );
        }
    }
    // FP8 in M-major / N-major storage too (CPU only: the GPU takes K-major FP8).
    let (a8, sfa) = fp8_operand(&mut rng, m, k, false);
    let (b8, sfb) = fp8_operand(&mut rng, n, k, false);
    let a8t: Vec<F8E4M3> = (0..k * m).map(|idx| a8[((idx % m) * k + idx / m) as usize]).collect();
    let kb = ceil_div(k, 128);
    let want8 = reference(
        (m, n, k),
        |i, kk| fp8(a8[(i * k + kk) as usize]) as f64,
        |j, kk| fp8(b8[(j * k + kk) as usize]) as f64,
        |i, j, blk| sfa[(i * kb + blk) as usize] as f64 * sfb[(j * kb + blk) as usize] as f64,
        None,
    );
    let mut d = vec![0f32; (m * n) as usize];
    c.gemm(
        Recipe::Fp8_1d1d,
        &TensorView::from_slice(&a8t, &[k, m]).unwrap().transpose(0, 1).unwrap(),
        Some(&TensorView::from_slice(&sfa, &[m, kb]).unwrap()),
        &TensorView::from_slice(&b8, &[n, k]).unwrap(),
        Some(&TensorView::from_slice(&sfb, &[n, kb]).unwrap()),
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    check_d("fp8 A M-major", &DOut::F32(d), &want8);
}
