//! MQA logits (non-paged, paged, schedule metadata) and clean_logits against Rust-side math.

use crate::common::*;
use dlgemm::*;

const UNTOUCHED: f32 = 12345.5;

/// Σ_h relu((q_h · k) · scale) · w_h in f64.
fn logit(q: &[F8E4M3], k: &[F8E4M3], scale: f32, w: &[f32], d: usize) -> f64 {
    w.iter()
        .enumerate()
        .map(|(h, &wh)| {
            let dot: f64 = (0..d).map(|i| fp8(q[h * d + i]) as f64 * fp8(k[i]) as f64).sum();
            (dot * scale as f64).max(0.0) * wh as f64
        })
        .sum()
}

fn random_fp8(rng: &mut Rng, n: usize) -> Vec<F8E4M3> {
    rng.vec(n, -4.0, 4.0).into_iter().map(F8E4M3::from_f32).collect()
}

#[test]
fn test_mqa_logits() {
    let c = ctx();
    let mut rng = Rng::new(21);
    let (s, h, d, s_kv) = (6usize, 4usize, 64usize, 20usize);
    let q = random_fp8(&mut rng, s * h * d);
    let kv = random_fp8(&mut rng, s_kv * d);
    let kv_scale = rng.vec(s_kv, 0.01, 0.1);
    let weights = rng.vec(s * h, -1.0, 1.0);
    // Ranges: ordinary, clamped on both ends, empty, full, reversed (empty).
    let ks = [0i32, -3, 5, 7, 0, 9];
    let ke = [4i32, 25, 5, 15, 20, 2];
    let stride = mqa_logits_row_stride(s_kv as i64) as usize;
    let (qv, kvv) = (
        TensorView::from_slice(&q, &[s as i64, h as i64, d as i64]).unwrap(),
        TensorView::from_slice(&kv, &[s_kv as i64, d as i64]).unwrap(),
    );
    let (sv, wv) = (
        TensorView::from_slice(&kv_scale, &[s_kv as i64]).unwrap(),
        TensorView::from_slice(&weights, &[s as i64, h as i64]).unwrap(),
    );
    let (ksv, kev) = (
        TensorView::from_slice(&ks, &[s as i64]).unwrap(),
        TensorView::from_slice(&ke, &[s as i64]).unwrap(),
    );
    for clean in [true, false] {
        for bf in [false, true] {
            let shape = [s as i64, s_kv as i64];
            let strides = [stride as i64, 1];
            let mut want = vec![0f64; s * s_kv];
            for i in 0..s {
                let (lo, hi) = ((ks[i].max(0) as usize).min(s_kv), (ke[i].max(0) as usize).min(s_kv));
                for j in 0..s_kv {
                    want[i * s_kv + j] = if j >= lo && j < hi {
                        logit(
                            &q[i * h * d..(i + 1) * h * d],
                            &kv[j * d..(j + 1) * d],
                            kv_scale[j],
                            &weights[i * h..(i + 1) * h],
                            d,
                        )
                    } else if clean {
                        f64::NEG_INFINITY
                    } else {
                        UNTOUCHED as f64
                    };
                }
            }
            let got: Vec<f32> = if bf {
                let mut out = vec![Bf16::from_f32(UNTOUCHED); s * stride];
                let mut ov = TensorViewMut::from_slice_strided(&mut out, &shape, &strides).unwrap();
                c.mqa_logits(&qv, &kvv, &sv, &wv, &ksv, &kev, clean, &mut ov, Stream::DEFAULT)
                    .unwrap();
                (0..s * s_kv)
                    .map(|x| bf16(out[(x / s_kv) * stride + x % s_kv]))
                    .collect()
            } else {
                let mut out = vec![UNTOUCHED; s * stride];
                let mut ov = TensorViewMut::from_slice_strided(&mut out, &shape, &strides).unwrap();
                c.mqa_logits(&qv, &kvv, &sv, &wv, &ksv, &kev, clean, &mut ov, Stream::DEFAULT)
                    .unwrap();
                assert!(
                    (0..s).all(|i| (s_kv..stride).all(|j| out[i * stride + j] == UNTOUCHED)),
                    "row padding written"
                );
                (0..s * s_kv).map(|x| out[(x / s_kv) * stride + x % s_kv]).collect()
            };
            let rtol = if bf { 2f64.powi(-8) } else { 1e-5 };
            assert_close(&format!("mqa clean={clean} bf16={bf}"), &got, &want, rtol, 1e-4);
        }
    }
}

#[test]
fn test_mqa_logits_compressed() {
    let c = ctx();
    let mut rng = Rng::new(22);
    let (s, h, d, s_kv, width) = (5usize, 2usize, 32usize, 24usize, 8usize);
    let q = random_fp8(&mut rng, s * h * d);
    let kv = random_fp8(&mut rng, s_kv * d);
    let kv_scale = rng.vec(s_kv, 0.01, 0.1);
    let weights = rng.vec(s * h, -1.0, 1.0);
    // A window longer than the width (cut), a short one, clamped, empty, reversed.
    let ks = [2i32, 10, -4, 6, 9];
    let ke = [20i32, 13, 3, 6, 1];
    let qv = TensorView::from_slice(&q, &[s as i64, h as i64, d as i64]).unwrap();
    let kvv = TensorView::from_slice(&kv, &[s_kv as i64, d as i64]).unwrap();
    let sv = TensorView::from_slice(&kv_scale, &[s_kv as i64]).unwrap();
    let wv = TensorView::from_slice(&weights, &[s as i64, h as i64]).unwrap();
    let ksv = TensorView::from_slice(&ks, &[s as i64]).unwrap();
    let kev = TensorView::from_slice(&ke, &[s as i64]).unwrap();
    let mut out = vec![UNTOUCHED; s * width];
    let mut ov = TensorViewMut::from_slice(&mut out, &[s as i64, width as i64]).unwrap();
    c.mqa_logits_compressed(&qv, &kvv, &sv, &wv, &ksv, &kev, true, &mut ov, Stream::DEFAULT)
        .unwrap();
    let mut want = vec![f64::NEG_INFINITY; s * width];
    for i in 0..s {
        let lo = (ks[i].max(0) as usize).min(s_kv);
        let hi = (ke[i].max(0) as usize).min(s_kv).max(lo);
        for col in 0..(hi - lo).min(width) {
            let j = lo + col;
            want[i * width + col] = logit(
                &q[i * h * d..(i + 1) * h * d],
                &kv[j * d..(j + 1) * d],
                kv_scale[j],
                &weights[i * h..(i + 1) * h],
                d,
            );
        }
    }
    assert_close("mqa compressed", &out, &want, 1e-5, 1e-4);
}

/// Builds a paged KV cache: per block, block_kv rows of D FP8 bytes, then block_kv f32 scales.
fn kv_cache(
    tokens: &[(Vec<F8E4M3>, f32)],
    num_blocks: usize,
    block_kv: usize,
    d: usize,
    placement: &[usize],
) -> Vec<u8> {
    let block_bytes = block_kv * (d + 4);
    let mut cache = vec![0u8; num_blocks * block_bytes];
    for (t, (vals, scale)) in tokens.iter().enumerate() {
        let base = placement[t / block_kv] * block_bytes;
        let row = t % block_kv;
        for (i, v) in vals.iter().enumerate() {
            cache[base + row * d + i] = v.0;
        }
        cache[base + block_kv * d + 4 * row..][..4].copy_from_slice(&scale.to_le_bytes());
    }
    cache
}

#[test]
fn test_paged_mqa_logits() {
    let c = ctx();
    let mut rng = Rng::new(22);
    let (b, next_n, h, d, block_kv, max_blocks) = (2usize, 2usize, 4usize, 32usize, 8usize, 4usize);
    let width = max_blocks * block_kv; // max_context_len
    let num_blocks = 9;
    // Each batch's tokens, placed in scattered physical blocks through its block table.
    let table: Vec<i32> = vec![3, 0, 7, 5, 8, 1, 2, 6];
    let tokens: Vec<Vec<(Vec<F8E4M3>, f32)>> = (0..b)
        .map(|_| {
            (0..width)
                .map(|_| (random_fp8(&mut rng, d), rng.uniform(0.01, 0.1)))
                .collect()
        })
        .collect();
    let mut cache = vec![0u8; num_blocks * block_kv * (d + 4)];
    for bi in 0..b {
        let placement: Vec<usize> = table[bi * max_blocks..(bi + 1) * max_blocks]
            .iter()
            .map(|&p| p as usize)
            .collect();
        let part = kv_cache(&tokens[bi], num_blocks, block_kv, d, &placement);
        for (x, y) in cache.iter_mut().zip(part) {
            *x |= y;
        }
    }
    let q = random_fp8(&mut rng, b * next_n * h * d);
    let weights = rng.vec(b * next_n * h, -1.0, 1.0);
    let qv = TensorView::from_slice(&q, &[b as i64, next_n as i64, h as i64, d as i64]).unwrap();
    let kcv = TensorView::from_slice(&cache, &[num_blocks as i64, block_kv as i64, 1, d as i64 + 4]).unwrap();
    let wv = TensorView::from_slice(&weights, &[(b * next_n) as i64, h as i64]).unwrap();
    let tv = TensorView::from_slice(&table, &[b as i64, max_blocks as i64]).unwrap();

    // Both context_lens conventions: [B, next_n] explicit, and DeepGEMM's [B].
    let lens2 = [13i32, 14, 0, 30];
    let lens1 = [20i32, 32];
    let row_len = |two: bool, bi: usize, t: usize| -> usize {
        if two {
            lens2[bi * next_n + t] as usize
        } else {
            (lens1[bi] as i64 - next_n as i64 + t as i64 + 1).max(0) as usize
        }
    };
    for two in [true, false] {
        let lens_v = if two {
            TensorView::from_slice(&lens2, &[b as i64, next_n as i64]).unwrap()
        } else {
            TensorView::from_slice(&lens1, &[b as i64]).unwrap()
        };
        // Schedule metadata over 5 "SMs" (checked in test_paged_metadata; passed here as the
        // GPU would get it).
        let mut meta = vec![0i32; 6 * 2];
        c.paged_mqa_logits_metadata(
            &lens_v,
            block_kv as i32,
            5,
            &mut TensorViewMut::from_slice(&mut meta, &[6, 2]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        for clean in [true, false] {
            let mut want = vec![0f64; b * next_n * width];
            for bi in 0..b {
                for t in 0..next_n {
                    let r = bi * next_n + t;
                    let len = row_len(two, bi, t);
                    for j in 0..width {
                        want[r * width + j] = if j < len {
                            let (kvals, scale) = &tokens[bi][j];
                            logit(
                                &q[r * h * d..(r + 1) * h * d],
                                kvals,
                                *scale,
                                &weights[r * h..(r + 1) * h],
                                d,
                            )
                        } else if clean {
                            f64::NEG_INFINITY
                        } else {
                            UNTOUCHED as f64
                        };
                    }
                }
            }
            for with_meta in [false, true] {
                let mut out = vec![UNTOUCHED; b * next_n * width];
                let mv = TensorView::from_slice(&meta, &[6, 2]).unwrap();
                c.paged_mqa_logits(
                    &qv,
                    &kcv,
                    &wv,
                    &lens_v,
                    &tv,
                    with_meta.then_some(&mv),
                    clean,
                    &mut TensorViewMut::from_slice(&mut out, &[(b * next_n) as i64, width as i64]).unwrap(),
                    Stream::DEFAULT,
                )
                .unwrap();
                assert_close(
                    &format!("paged lens2d={two} clean={clean} meta={with_meta}"),
                    &out,
                    &want,
                    1e-5,
                    1e-4,
                );
            }
        }
    }
    // A table entry outside the cache is rejected before anything is written.
    let bad_table: Vec<i32> = table.iter().map(|&x| if x == 7 { 99 } else { x }).collect();
    let mut out = vec![UNTOUCHED; b * next_n * width];
    let e = c
        .paged_mqa_logits(
            &qv,
            &kcv,
            &wv,
            &TensorView::from_slice(&lens1, &[b as i64]).unwrap(),
            &TensorView::from_slice(&bad_table, &[b as i64, max_blocks as i64]).unwrap(),
            None,
            true,
            &mut TensorViewMut::from_slice(&mut out, &[(b * next_n) as i64, width as i64]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("block_table"), "{e}");
    assert!(out.iter().all(|&v| v == UNTOUCHED));
}

/// The schedule: batch b owns ceil(L(b)/block_kv) blocks (L = its longest row), blocks laid
/// end to end, SM s starts at floor(s·total/num_sms) as (batch, block within batch); past the
/// end, and the sentinel row, are (B, 0).
#[test]
fn test_paged_metadata() {
    let c = ctx();
    let block_kv = 4i64;
    let cases: Vec<(Vec<i32>, Vec<i64>, usize)> = vec![
        (vec![10, 0, 3, 17], vec![4], 3),
        (vec![10, 0, 3, 17], vec![4], 16),
        (vec![5, 9, 2, 0, 8, 8], vec![3, 2], 4),
        (vec![0, 0], vec![2], 3),
    ];
    for (lens, shape, num_sms) in cases {
        let batch = shape[0] as usize;
        let longest: Vec<i64> = (0..batch)
            .map(|bi| {
                if shape.len() == 2 {
                    (0..shape[1] as usize)
                        .map(|t| lens[bi * shape[1] as usize + t] as i64)
                        .max()
                        .unwrap()
                } else {
                    lens[bi] as i64
                }
            })
            .collect();
        let blocks: Vec<i64> = longest.iter().map(|&l| ceil_div(l, block_kv)).collect();
        let total: i64 = blocks.iter().sum();
        let mut want = Vec::new();
        for s in 0..=num_sms as i64 {
            let start = if s < num_sms as i64 {
                s * total / num_sms as i64
            } else {
                total
            };
            let mut before = 0;
            let mut entry = (batch as i32, 0);
            for (bi, &nb) in blocks.iter().enumerate() {
                if start < before + nb {
                    entry = (bi as i32, (start - before) as i32);
                    break;
                }
                before += nb;
            }
            want.extend([entry.0, entry.1]);
        }
        let rows = paged_mqa_logits_metadata_rows(num_sms as i32);
        assert_eq!(rows, num_sms as i64 + 1);
        let mut meta = vec![-7i32; rows as usize * 2];
        c.paged_mqa_logits_metadata(
            &TensorView::from_slice(&lens, &shape).unwrap(),
            block_kv as i32,
            num_sms as i32,
            &mut TensorViewMut::from_slice(&mut meta, &[rows, 2]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap();
        assert_eq!(meta, want, "lens {lens:?} shape {shape:?} num_sms {num_sms}");
    }
    // num_sms = 0 means the device's count: a CPU context has none.
    let mut meta = vec![0i32; 2];
    let e = c
        .paged_mqa_logits_metadata(
            &TensorView::from_slice(&[1i32], &[1]).unwrap(),
            4,
            0,
            &mut TensorViewMut::from_slice(&mut meta, &[1, 2]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("num_sms"), "{e}");
}

#[test]
fn test_clean_logits() {
    let c = ctx();
    let (rows, width) = (5usize, 9usize);
    let ks = [0i32, 2, 4, 9, 3];
    let ke = [9i32, 5, 4, 9, 1];
    for bf in [false, true] {
        for with_ks in [true, false] {
            let mut want = vec![0f64; rows * width];
            for r in 0..rows {
                let lo = if with_ks { ks[r] as usize } else { 0 };
                for j in 0..width {
                    want[r * width + j] = if j >= lo && j < ke[r] as usize {
                        (r * width + j) as f64
                    } else {
                        f64::NEG_INFINITY
                    };
                }
            }
            let init: Vec<f32> = (0..rows * width).map(|i| i as f32).collect();
            let ksv = TensorView::from_slice(&ks, &[rows as i64]).unwrap();
            let kev = TensorView::from_slice(&ke, &[rows as i64]).unwrap();
            let got: Vec<f32> = if bf {
                let mut out = to_bf16(&init);
                c.clean_logits(
                    with_ks.then_some(&ksv),
                    &kev,
                    &mut TensorViewMut::from_slice(&mut out, &[rows as i64, width as i64]).unwrap(),
                    Stream::DEFAULT,
                )
                .unwrap();
                out.iter().map(|&v| bf16(v)).collect()
            } else {
                let mut out = init.clone();
                c.clean_logits(
                    with_ks.then_some(&ksv),
                    &kev,
                    &mut TensorViewMut::from_slice(&mut out, &[rows as i64, width as i64]).unwrap(),
                    Stream::DEFAULT,
                )
                .unwrap();
                out
            };
            assert_close(&format!("clean bf16={bf} ks={with_ks}"), &got, &want, 0.0, 0.0);
        }
    }
}
