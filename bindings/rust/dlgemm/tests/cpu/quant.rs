//! FP8 casts, scale-factor layouts and UE8M0 packing against Rust-side math.

use crate::common::*;
use dlgemm::*;

/// Input rows covering the interesting cases: ordinary, all zero, large, tiny.
fn cast_input(rng: &mut Rng, m: usize, k: usize) -> Vec<f32> {
    let mut x = rng.vec(m * k, -3.0, 3.0);
    for (r, row) in x.chunks_mut(k).enumerate() {
        match r % 4 {
            1 => row.iter_mut().for_each(|v| *v = 0.0),
            2 => row.iter_mut().for_each(|v| *v *= 1000.0),
            3 => row.iter_mut().for_each(|v| *v *= 1e-4),
            _ => {}
        }
    }
    x
}

/// Checks an FP8 cast: scales equal the Rust-side ones, codes equal the Rust-side rounding of
/// x / sf, and the dequantised values are within e4m3's precision of x.
fn check_cast(what: &str, x: &[f32], out: &[F8E4M3], sf_of: impl Fn(usize) -> f32, want_q: &[F8E4M3]) {
    for (i, (&xi, &q)) in x.iter().zip(out).enumerate() {
        let s = sf_of(i);
        assert_eq!(
            q, want_q[i],
            "{what}[{i}]: x {xi}, sf {s}: code {:#x}, want {:#x}",
            q.0, want_q[i].0
        );
        let back = fp8(q) as f64 * s as f64;
        let tol = (xi as f64).abs() * 2f64.powi(-4) + s as f64 * 2f64.powi(-10);
        assert!((back - xi as f64).abs() <= tol, "{what}[{i}]: {xi} came back as {back}");
    }
}

#[test]
fn test_cast_per_token() {
    let c = ctx();
    let mut rng = Rng::new(31);
    let (m, k) = (8usize, 300usize);
    let kb = ceil_div(k as i64, 128) as usize;
    let x = cast_input(&mut rng, m, k);
    for pow2 in [false, true] {
        for bf in [false, true] {
            let xin: Vec<f32> = if bf {
                to_bf16(&x).iter().map(|&v| bf16(v)).collect()
            } else {
                x.clone()
            };
            let xb = to_bf16(&x);
            let xv = if bf {
                TensorView::from_slice(&xb, &[m as i64, k as i64]).unwrap()
            } else {
                TensorView::from_slice(&x, &[m as i64, k as i64]).unwrap()
            };
            let (want_q, want_sf) = quant_rows(&xin, m, k, pow2);
            // sf written straight into the TMA-aligned MN-major layout the GEMMs take.
            let ld = tma_aligned_size(m as i64, 4) as usize;
            let mut out = vec![F8E4M3(0); m * k];
            let mut sf = vec![-1f32; ld * kb];
            c.cast_fp8_per_token(
                &xv,
                pow2,
                &mut TensorViewMut::from_slice(&mut out, &[m as i64, k as i64]).unwrap(),
                &mut TensorViewMut::from_slice_strided(&mut sf, &[m as i64, kb as i64], &[1, ld as i64]).unwrap(),
                Stream::DEFAULT,
            )
            .unwrap();
            for r in 0..m {
                for b in 0..kb {
                    assert_eq!(
                        sf[b * ld + r],
                        want_sf[r * kb + b],
                        "sf[{r}, {b}] pow2={pow2} bf16={bf}"
                    );
                }
            }
            if pow2 {
                assert!(sf.iter().filter(|&&s| s != -1.0).all(|s| s.log2().fract() == 0.0));
            }
            check_cast(
                &format!("per-token pow2={pow2} bf16={bf}"),
                &xin,
                &out,
                |i| sf[(i % k / 128) * ld + i / k],
                &want_q,
            );
        }
    }
}

#[test]
fn test_cast_per_block() {
    let c = ctx();
    let mut rng = Rng::new(32);
    let (m, k) = (130usize, 200usize);
    let (mb, kb) = (2usize, 2usize);
    let x = cast_input(&mut rng, m, k);
    for pow2 in [false, true] {
        let (want_q, want_sf) = quant_blocks(&x, m, k, pow2);
        let mut out = vec![F8E4M3(0); m * k];
        let mut sf = vec![0f32; mb * kb];
        c.cast_fp8_per_block(
            &TensorView::from_slice(&x, &[m as i64, k as i64]).unwrap(),
            pow2,
            &mut TensorViewMut::from_slice(&mut out, &[m as i64, k as i64]).unwrap(),
            &mut TensorViewMut::from_slice(&mut sf, &[mb as i64, kb as i64]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        assert_eq!(sf, want_sf, "pow2={pow2}");
        check_cast(
            &format!("per-block pow2={pow2}"),
            &x,
            &out,
            |i| sf[(i / k / 128) * kb + i % k / 128],
            &want_q,
        );
    }
}

#[test]
fn test_cast_per_tensor() {
    let c = ctx();
    let mut rng = Rng::new(33);
    let shape = [3i64, 4, 50];
    let x = rng.vec(600, -7.0, 7.0);
    let amax = x.iter().fold(0f32, |a, &b| a.max(b.abs()));
    let s = amax / 448.0;
    let want_q: Vec<F8E4M3> = x.iter().map(|&v| F8E4M3::from_f32(v / s)).collect();
    for scalar_shape in [&[][..], &[1][..], &[1, 1][..]] {
        let mut out = vec![F8E4M3(0); 600];
        let mut sf = [0f32];
        c.cast_fp8_per_tensor(
            &TensorView::from_slice(&x, &shape).unwrap(),
            &mut TensorViewMut::from_slice(&mut out, &shape).unwrap(),
            &mut TensorViewMut::from_slice(&mut sf, scalar_shape).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        assert_eq!(sf[0], s);
        check_cast("per-tensor", &x, &out, |_| s, &want_q);
    }
    // All zero: sf = 1, codes 0.
    let z = vec![0f32; 10];
    let mut out = vec![F8E4M3(0x55); 10];
    let mut sf = [0f32];
    c.cast_fp8_per_tensor(
        &TensorView::from_slice(&z, &[10]).unwrap(),
        &mut TensorViewMut::from_slice(&mut out, &[10]).unwrap(),
        &mut TensorViewMut::from_slice(&mut sf, &[]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    assert_eq!(sf[0], 1.0);
    assert!(out.iter().all(|&q| fp8(q) == 0.0));
}

#[test]
fn test_transform_sf() {
    let c = ctx();
    let mut rng = Rng::new(34);
    // [MN, Kb] row-major -> MN-major, TMA-aligned; and a batched [G, MN, Kb].
    for (g, mn, kb) in [(1usize, 7usize, 3usize), (3, 10, 2)] {
        let sf_in = rng.vec(g * mn * kb, 0.001, 1.0);
        let ld = tma_aligned_size(mn as i64, 4) as usize;
        let mut out = vec![-1f32; g * ld * kb];
        let (in_shape, out_strides): (Vec<i64>, Vec<i64>) = if g == 1 {
            (vec![mn as i64, kb as i64], vec![1, ld as i64])
        } else {
            (
                vec![g as i64, mn as i64, kb as i64],
                vec![(ld * kb) as i64, 1, ld as i64],
            )
        };
        c.transform_sf(
            &TensorView::from_slice(&sf_in, &in_shape).unwrap(),
            &mut TensorViewMut::from_slice_strided(&mut out, &in_shape, &out_strides).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        for gi in 0..g {
            for r in 0..mn {
                for b in 0..kb {
                    assert_eq!(
                        out[gi * ld * kb + b * ld + r],
                        sf_in[(gi * mn + r) * kb + b],
                        "[{gi}, {r}, {b}]"
                    );
                }
                assert!(
                    (mn..ld).all(|p| (0..kb).all(|b| out[gi * ld * kb + b * ld + p] == -1.0)),
                    "alignment padding written"
                );
            }
        }
    }
}

#[test]
fn test_pack_ue8m0() {
    let c = ctx();
    let mut rng = Rng::new(35);
    for (lead, mn, kb) in [(vec![], 6usize, 5usize), (vec![2i64], 3, 8), (vec![], 4, 1)] {
        let batch: usize = lead.iter().product::<i64>() as usize;
        let words = kb.div_ceil(4);
        let mut sf = rng.vec(batch * mn * kb, 1e-6, 100.0);
        sf[0] = 0.25; // exact power of two stays
        sf[1] = 1e-30; // tiny
        let mut shape = lead.clone();
        shape.extend([mn as i64, kb as i64]);
        let mut pshape = lead.clone();
        pshape.extend([mn as i64, words as i64]);
        let mut packed = vec![-1i32; batch * mn * words];
        c.pack_ue8m0(
            &TensorView::from_slice(&sf, &shape).unwrap(),
            &mut TensorViewMut::from_slice(&mut packed, &pshape).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        for row in 0..batch * mn {
            for col in 0..words * 4 {
                let byte = (packed[row * words + col / 4] as u32 >> (8 * (col % 4))) as u8;
                if col >= kb {
                    assert_eq!(byte, 0, "padding byte of row {row}, column {col}");
                    continue;
                }
                let v = sf[row * kb + col];
                let p = ue8m0(byte);
                // The smallest power of two >= v.
                assert!(
                    p >= v && p / 2.0 < v,
                    "row {row} col {col}: {v} packed as 2^{}",
                    byte as i32 - 127
                );
            }
        }
        assert_eq!((packed[0] as u32 & 0xFF) as i32 - 127, -2, "0.25 = 2^-2 exactly");
    }
}
