//! MoE grouped GEMMs against Rust-side math; rows the op must not touch are checked too.

use crate::common::*;
use crate::gemm::{fp8_operand, reference};
use dlgemm::*;

const POISON: u16 = 0x7FC1; // a bf16 NaN no computation produces

/// One expert: B [n, k] of group g as dequantised values, per 1D2D block scales.
struct Experts {
    b: Vec<F8E4M3>,    // [g, n, k]
    sfb: Vec<f32>,     // [g, nb, kb]
    b_bf16: Vec<Bf16>, // [g, n, k], for the BF16 recipe
}

fn experts(rng: &mut Rng, g: i64, n: i64, k: i64) -> Experts {
    let (mut b, mut sfb) = (Vec::new(), Vec::new());
    for _ in 0..g {
        let x = rng.vec((n * k) as usize, -2.0, 2.0);
        let (q, s) = quant_blocks(&x, n as usize, k as usize, false);
        b.extend(q);
        sfb.extend(s);
    }
    let b_bf16 = to_bf16(&rng.vec((g * n * k) as usize, -1.0, 1.0));
    Experts { b, sfb, b_bf16 }
}

/// Checks the rows of a bf16 D [rows, n]: row r equals want[r] when `groups[r]` is Some, and
/// is untouched (POISON) otherwise.
fn check_rows(what: &str, d: &[Bf16], n: i64, groups: &[Option<Vec<f64>>]) {
    for (r, want) in groups.iter().enumerate() {
        let row = &d[r * n as usize..(r + 1) * n as usize];
        match want {
            Some(w) => {
                let got: Vec<f32> = row.iter().map(|&v| bf16(v)).collect();
                let scale = w.iter().fold(1e-30f64, |a, &b| a.max(b.abs()));
                assert_close(&format!("{what} row {r}"), &got, w, 2f64.powi(-8), 1e-5 * scale);
            }
            None => assert!(row.iter().all(|v| v.0 == POISON), "{what}: row {r} must not be touched"),
        }
    }
}

#[test]
fn test_m_grouped_contiguous() {
    let c = ctx();
    let mut rng = Rng::new(11);
    let (g, n, k) = (3i64, 136i64, 256i64);
    let (kb, nb) = (ceil_div(k, 128), ceil_div(n, 128));
    let m = 30i64;
    let ex = experts(&mut rng, g, n, k);
    let (a, sfa) = fp8_operand(&mut rng, m, k, false);
    let abf = to_bf16(&rng.vec((m * k) as usize, -1.0, 1.0));
    // Row r of group gr: A[r]·B[gr]ᵀ with the recipe's scales.
    let row_1d2d = |r: i64, gr: i64| -> Vec<f64> {
        reference(
            (1, n, k),
            |_, kk| fp8(a[(r * k + kk) as usize]) as f64,
            |j, kk| fp8(ex.b[((gr * n + j) * k + kk) as usize]) as f64,
            |_, j, blk| sfa[(r * kb + blk) as usize] as f64 * ex.sfb[((gr * nb + j / 128) * kb + blk) as usize] as f64,
            None,
        )
    };
    let row_bf16 = |r: i64, gr: i64| -> Vec<f64> {
        reference(
            (1, n, k),
            |_, kk| bf16(abf[(r * k + kk) as usize]) as f64,
            |j, kk| bf16(ex.b_bf16[((gr * n + j) * k + kk) as usize]) as f64,
            |_, _, _| 1.0,
            None,
        )
    };
    // The same assignment two ways: per-row ids (with padding rows) and offsets.
    let offsets = [2i32, 10, 10, 25]; // group 1 empty; rows 0..2 and 25.. untouched
    let ids: Vec<i32> = (0..m as i32)
        .map(|r| match r {
            _ if r < offsets[0] || r >= offsets[3] => -1,
            _ => (0..3).find(|&gi| r >= offsets[gi] && r < offsets[gi + 1]).unwrap() as i32,
        })
        .collect();
    let groups_of = |row: &dyn Fn(i64, i64) -> Vec<f64>| -> Vec<Option<Vec<f64>>> {
        ids.iter()
            .enumerate()
            .map(|(r, &gi)| (gi >= 0).then(|| row(r as i64, gi as i64)))
            .collect()
    };
    let want_1d2d = groups_of(&row_1d2d);
    let want_bf16 = groups_of(&row_bf16);
    let av = TensorView::from_slice(&a, &[m, k]).unwrap();
    let sfav = TensorView::from_slice(&sfa, &[m, kb]).unwrap();
    let bv = TensorView::from_slice(&ex.b, &[g, n, k]).unwrap();
    let sfbv = TensorView::from_slice(&ex.sfb, &[g, nb, kb]).unwrap();
    for (kind, layout, len) in [
        (GroupLayout::RowIds, &ids[..], m),
        (GroupLayout::Offsets, &offsets[..], g + 1),
    ] {
        let lv = TensorView::from_slice(layout, &[len]).unwrap();
        let mut d = vec![Bf16(POISON); (m * n) as usize];
        c.m_grouped_gemm_contiguous(
            Recipe::Fp8_1d2d,
            &av,
            Some(&sfav),
            &bv,
            Some(&sfbv),
            &lv,
            kind,
            &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        check_rows(&format!("contiguous 1d2d {kind:?}"), &d, n, &want_1d2d);

        let mut d = vec![Bf16(POISON); (m * n) as usize];
        c.m_grouped_gemm_contiguous(
            Recipe::Bf16,
            &TensorView::from_slice(&abf, &[m, k]).unwrap(),
            None,
            &TensorView::from_slice(&ex.b_bf16, &[g, n, k]).unwrap(),
            None,
            &lv,
            kind,
            &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        check_rows(&format!("contiguous bf16 {kind:?}"), &d, n, &want_bf16);
    }
    // Per-tensor: one scale for A, one per group for B.
    let a_pt: Vec<F8E4M3> = rng
        .vec((m * k) as usize, -100.0, 100.0)
        .into_iter()
        .map(F8E4M3::from_f32)
        .collect();
    let (sa, sbg) = ([0.02f32], [0.5f32, 0.25, 0.125]);
    let mut d = vec![Bf16(POISON); (m * n) as usize];
    c.m_grouped_gemm_contiguous(
        Recipe::Fp8PerTensor,
        &TensorView::from_slice(&a_pt, &[m, k]).unwrap(),
        Some(&TensorView::from_slice(&sa, &[]).unwrap()),
        &bv,
        Some(&TensorView::from_slice(&sbg, &[g]).unwrap()),
        &TensorView::from_slice(&ids, &[m]).unwrap(),
        GroupLayout::RowIds,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    let want_pt: Vec<Option<Vec<f64>>> = ids
        .iter()
        .enumerate()
        .map(|(r, &gi)| {
            (gi >= 0).then(|| {
                let gi = gi as i64;
                reference(
                    (1, n, k),
                    |_, kk| fp8(a_pt[(r as i64 * k + kk) as usize]) as f64,
                    |j, kk| fp8(ex.b[((gi * n + j) * k + kk) as usize]) as f64,
                    |_, _, _| sa[0] as f64 * sbg[gi as usize] as f64,
                    None,
                )
            })
        })
        .collect();
    check_rows("contiguous per-tensor", &d, n, &want_pt);
}

#[test]
fn test_m_grouped_masked() {
    let c = ctx();
    let mut rng = Rng::new(12);
    let (g, max_m, n, k) = (3i64, 12i64, 136i64, 256i64);
    let (kb, nb) = (ceil_div(k, 128), ceil_div(n, 128));
    let ex = experts(&mut rng, g, n, k);
    let (a, sfa) = fp8_operand(&mut rng, g * max_m, k, false); // [g, max_m, k] flattened
    let masked_m = [5i32, 0, 12];
    let mut d = vec![Bf16(POISON); (g * max_m * n) as usize];
    c.m_grouped_gemm_masked(
        Recipe::Fp8_1d2d,
        &TensorView::from_slice(&a, &[g, max_m, k]).unwrap(),
        Some(&TensorView::from_slice(&sfa, &[g, max_m, kb]).unwrap()),
        &TensorView::from_slice(&ex.b, &[g, n, k]).unwrap(),
        Some(&TensorView::from_slice(&ex.sfb, &[g, nb, kb]).unwrap()),
        &TensorView::from_slice(&masked_m, &[g]).unwrap(),
        6,
        &mut TensorViewMut::from_slice(&mut d, &[g, max_m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    let want: Vec<Option<Vec<f64>>> = (0..g * max_m)
        .map(|row| {
            let (gi, r) = (row / max_m, row % max_m);
            (r < masked_m[gi as usize] as i64).then(|| {
                reference(
                    (1, n, k),
                    |_, kk| fp8(a[(row * k + kk) as usize]) as f64,
                    |j, kk| fp8(ex.b[((gi * n + j) * k + kk) as usize]) as f64,
                    |_, j, blk| {
                        sfa[(row * kb + blk) as usize] as f64 * ex.sfb[((gi * nb + j / 128) * kb + blk) as usize] as f64
                    },
                    None,
                )
            })
        })
        .collect();
    check_rows("masked 1d2d", &d, n, &want);

    // BF16 recipe.
    let abf = to_bf16(&rng.vec((g * max_m * k) as usize, -1.0, 1.0));
    let mut d = vec![Bf16(POISON); (g * max_m * n) as usize];
    c.m_grouped_gemm_masked(
        Recipe::Bf16,
        &TensorView::from_slice(&abf, &[g, max_m, k]).unwrap(),
        None,
        &TensorView::from_slice(&ex.b_bf16, &[g, n, k]).unwrap(),
        None,
        &TensorView::from_slice(&masked_m, &[g]).unwrap(),
        6,
        &mut TensorViewMut::from_slice(&mut d, &[g, max_m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    let want: Vec<Option<Vec<f64>>> = (0..g * max_m)
        .map(|row| {
            let (gi, r) = (row / max_m, row % max_m);
            (r < masked_m[gi as usize] as i64).then(|| {
                reference(
                    (1, n, k),
                    |_, kk| bf16(abf[(row * k + kk) as usize]) as f64,
                    |j, kk| bf16(ex.b_bf16[((gi * n + j) * k + kk) as usize]) as f64,
                    |_, _, _| 1.0,
                    None,
                )
            })
        })
        .collect();
    check_rows("masked bf16", &d, n, &want);
}

#[test]
fn test_k_grouped() {
    let c = ctx();
    let mut rng = Rng::new(13);
    let (m, n) = (24i64, 40i64);
    let ks = [128i32, 0, 256];
    let g = ks.len() as i64;
    let kt: i64 = ks.iter().map(|&x| x as i64).sum();
    let kb = kt / 128;
    let (a, sfa) = fp8_operand(&mut rng, m, kt, false);
    let (b, sfb) = fp8_operand(&mut rng, n, kt, false);
    let cin = rng.vec((g * m * n) as usize, -1.0, 1.0);
    let starts: Vec<i64> = ks
        .iter()
        .scan(0i64, |s, &x| {
            let v = *s;
            *s += x as i64;
            Some(v)
        })
        .collect();
    // D[g] = C[g] + Σ over g's K segment, block by block.
    let want_with = |scale: &dyn Fn(i64, i64, i64, i64) -> f64, with_c: bool| -> Vec<f64> {
        let mut out = Vec::new();
        for gi in 0..g {
            let (k0, kl) = (starts[gi as usize], ks[gi as usize] as i64);
            let cg: Vec<f64> = f64s(&cin[(gi * m * n) as usize..((gi + 1) * m * n) as usize]);
            out.extend(reference(
                (m, n, kl),
                |i, kk| fp8(a[(i * kt + k0 + kk) as usize]) as f64,
                |j, kk| fp8(b[(j * kt + k0 + kk) as usize]) as f64,
                |i, j, blk| scale(gi, i, j, k0 / 128 + blk),
                with_c.then_some(&cg[..]),
            ));
        }
        out
    };
    let sc_1d1d =
        |_: i64, i: i64, j: i64, blk: i64| sfa[(i * kb + blk) as usize] as f64 * sfb[(j * kb + blk) as usize] as f64;
    let av = TensorView::from_slice(&a, &[m, kt]).unwrap();
    let bv = TensorView::from_slice(&b, &[n, kt]).unwrap();
    let sfav = TensorView::from_slice(&sfa, &[m, kb]).unwrap();
    let sfbv = TensorView::from_slice(&sfb, &[n, kb]).unwrap();
    let ksv = TensorView::from_slice(&ks, &[g]).unwrap();

    // With C.
    let mut d = vec![0f32; (g * m * n) as usize];
    c.k_grouped_gemm_contiguous(
        Recipe::Fp8_1d1d,
        &av,
        Some(&sfav),
        &bv,
        Some(&sfbv),
        &ksv,
        Some(&TensorView::from_slice(&cin, &[g, m, n]).unwrap()),
        &mut TensorViewMut::from_slice(&mut d, &[g, m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    let want = want_with(&sc_1d1d, true);
    assert_close("k-grouped + C", &d, &want, 2e-5, 1e-4);
    // In place.
    let mut acc = cin.clone();
    c.k_grouped_gemm_contiguous_accumulate(
        Recipe::Fp8_1d1d,
        &av,
        Some(&sfav),
        &bv,
        Some(&sfbv),
        &ksv,
        &mut TensorViewMut::from_slice(&mut acc, &[g, m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    assert_close("k-grouped accumulate", &acc, &want, 2e-5, 1e-4);
    // Without C; A and B stored MN-major ([K, M] row-major), the wgrad layout.
    let at: Vec<F8E4M3> = (0..kt * m).map(|idx| a[((idx % m) * kt + idx / m) as usize]).collect();
    let bt: Vec<F8E4M3> = (0..kt * n).map(|idx| b[((idx % n) * kt + idx / n) as usize]).collect();
    let mut d = vec![0f32; (g * m * n) as usize];
    c.k_grouped_gemm_contiguous(
        Recipe::Fp8_1d1d,
        &TensorView::from_slice(&at, &[kt, m]).unwrap().transpose(0, 1).unwrap(),
        Some(&sfav),
        &TensorView::from_slice(&bt, &[kt, n]).unwrap().transpose(0, 1).unwrap(),
        Some(&sfbv),
        &ksv,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[g, m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    assert_close("k-grouped MN-major", &d, &want_with(&sc_1d1d, false), 2e-5, 1e-4);
    // Per-tensor with one scale per group.
    let (sag, sbg) = ([0.5f32, 2.0, 0.25], [1.5f32, 1.0, 4.0]);
    let mut d = vec![0f32; (g * m * n) as usize];
    c.k_grouped_gemm_contiguous(
        Recipe::Fp8PerTensor,
        &av,
        Some(&TensorView::from_slice(&sag, &[g]).unwrap()),
        &bv,
        Some(&TensorView::from_slice(&sbg, &[g]).unwrap()),
        &ksv,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[g, m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    let sc_pt = |gi: i64, _: i64, _: i64, _: i64| sag[gi as usize] as f64 * sbg[gi as usize] as f64;
    assert_close("k-grouped per-tensor", &d, &want_with(&sc_pt, false), 2e-5, 1e-4);
}
