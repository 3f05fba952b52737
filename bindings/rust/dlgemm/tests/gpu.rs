//! Every op through CUDA device 0, compared with the CPU reference path on the same inputs:
//! each case is run twice by [`mirror`], once on host views and once on device buffers
//! (uploaded with the library's allocator), and the outputs are compared (DeepGEMM's
//! calc_diff for floating outputs, bitwise for integer ones). Device layouts follow the GPU
//! rules (K-major FP8, TMA-aligned MN-major per-row scales, aligned MoE segments); the CPU path
//! takes them too.
//!
//! Without a CUDA device every case runs its CPU half only (which checks the case's arguments),
//! prints a note and passes; `DLGEMM_REQUIRE_GPU=1` turns a
//! missing device, or an op without a GPU kernel (`Status::Unsupported`), into a failure.
//! `cargo test --test gpu -- --nocapture` prints each case's calc_diff.

use dlgemm::testing::{self, Fill};
use dlgemm::*;

fn require_gpu() -> bool {
    std::env::var_os("DLGEMM_REQUIRE_GPU").is_some_and(|v| v != "0")
}

/// The device context, or None (with a note) without a device.
fn gpu() -> Option<Context> {
    let rt = runtime_info();
    if rt.device_count > 0 {
        return Some(Context::new(0).expect("context on device 0"));
    }
    assert!(
        !require_gpu(),
        "DLGEMM_REQUIRE_GPU is set but there is no CUDA device: {}",
        rt.why
    );
    eprintln!("skipped: no CUDA device ({})", rt.why);
    None
}

/// One tensor argument: host bytes, dtype, shape, strides (elements; None = row-major).
struct Arg {
    bytes: Vec<u8>,
    dtype: DType,
    shape: Vec<i64>,
    strides: Option<Vec<i64>>,
}

fn bytes_of<T: Element>(data: &[T]) -> Vec<u8> {
    // SAFETY: Element types are plain data without padding.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }.to_vec()
}

fn arg<T: Element>(data: &[T], shape: &[i64]) -> Arg {
    Arg {
        bytes: bytes_of(data),
        dtype: T::DTYPE,
        shape: shape.to_vec(),
        strides: None,
    }
}

fn arg_strided<T: Element>(data: &[T], shape: &[i64], strides: &[i64]) -> Arg {
    Arg {
        strides: Some(strides.to_vec()),
        ..arg(data, shape)
    }
}

/// A zero-filled output of `len` elements.
fn out(dtype: DType, len: usize, shape: &[i64], strides: Option<&[i64]>) -> Arg {
    Arg {
        bytes: vec![0; len * dtype.size_bytes().unwrap()],
        dtype,
        shape: shape.to_vec(),
        strides: strides.map(<[i64]>::to_vec),
    }
}

/// Decodes a buffer of float elements to f64.
fn floats(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        DType::BF16 => bytes
            .chunks(2)
            .map(|c| Bf16(u16::from_le_bytes(c.try_into().unwrap())).to_f32() as f64)
            .collect(),
        DType::F8E4M3 => bytes.iter().map(|&b| F8E4M3(b).to_f32() as f64).collect(),
        _ => unreachable!(),
    }
}

/// calc_diff over matching finite values; -inf must match -inf.
fn diff(x: &[f64], y: &[f64]) -> f64 {
    let (mut xy, mut sq) = (0.0, 0.0);
    for (i, (&a, &b)) in x.iter().zip(y).enumerate() {
        if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
            assert_eq!(a, b, "element {i}: -inf on one side only");
            continue;
        }
        xy += a * b;
        sq += a * a + b * b;
    }
    if sq == 0.0 {
        0.0
    } else {
        1.0 - 2.0 * xy / sq
    }
}

/// Runs `op` on CPU views of `ins`/`outs` and on device copies, and compares each output.
fn mirror<F>(name: &str, ins: Vec<Arg>, outs: Vec<Arg>, max_diff: f64, op: F)
where
    F: for<'x> Fn(&Context, &[TensorView<'x>], &mut [TensorViewMut<'x>]) -> Result<()>,
{
    let cpu = Context::cpu().unwrap();
    // CPU (also without a device: it checks the case's arguments).
    let mut host_outs: Vec<Vec<u8>> = outs.iter().map(|o| o.bytes.clone()).collect();
    {
        // SAFETY: each view covers its own byte buffer, alive for this block.
        let in_views: Vec<TensorView<'_>> = ins
            .iter()
            .map(|a| {
                unsafe {
                    TensorView::from_raw_parts(
                        a.bytes.as_ptr().cast(),
                        Device::Cpu,
                        a.dtype,
                        &a.shape,
                        a.strides.as_deref(),
                    )
                }
                .unwrap()
            })
            .collect();
        let mut out_views: Vec<TensorViewMut<'_>> = host_outs
            .iter_mut()
            .zip(&outs)
            .map(|(b, a)| {
                unsafe {
                    TensorViewMut::from_raw_parts(
                        b.as_mut_ptr().cast(),
                        Device::Cpu,
                        a.dtype,
                        &a.shape,
                        a.strides.as_deref(),
                    )
                }
                .unwrap()
            })
            .collect();
        op(&cpu, &in_views, &mut out_views).unwrap_or_else(|e| panic!("{name} (CPU): {e}"));
    }
    // GPU.
    let Some(dev) = gpu() else { return };
    let upload = |a: &Arg| {
        let mut buf = dev.device_alloc(a.bytes.len().max(1)).unwrap();
        buf.copy_from_host(&a.bytes).unwrap();
        buf
    };
    let in_bufs: Vec<DeviceBuffer<'_>> = ins.iter().map(upload).collect();
    let mut out_bufs: Vec<DeviceBuffer<'_>> = outs.iter().map(upload).collect();
    let result = {
        let in_views: Vec<TensorView<'_>> = in_bufs
            .iter()
            .zip(&ins)
            .map(|(b, a)| b.view(a.dtype, &a.shape, a.strides.as_deref()).unwrap())
            .collect();
        let mut out_views: Vec<TensorViewMut<'_>> = out_bufs
            .iter_mut()
            .zip(&outs)
            .map(|(b, a)| b.view_mut(a.dtype, &a.shape, a.strides.as_deref()).unwrap())
            .collect();
        op(&dev, &in_views, &mut out_views).and_then(|()| dev.stream_synchronize(Stream::DEFAULT))
    };
    match result {
        Ok(()) => {}
        Err(e) if e.status() == Status::Unsupported && !require_gpu() => {
            eprintln!("{name}: no GPU kernel yet ({e})");
            return;
        }
        Err(e) => panic!("{name} (GPU): {e}"),
    }
    for (i, (buf, a)) in out_bufs.iter().zip(&outs).enumerate() {
        let mut got = vec![0u8; a.bytes.len()];
        buf.copy_to_host(&mut got).unwrap();
        match a.dtype {
            DType::F32 | DType::BF16 | DType::F8E4M3 => {
                let d = diff(&floats(a.dtype, &got), &floats(a.dtype, &host_outs[i]));
                eprintln!("{name}: output {i} calc_diff(GPU, CPU) = {d:.3e}");
                assert!(d <= max_diff, "{name}: output {i} calc_diff {d} > {max_diff}");
            }
            _ => assert_eq!(got, host_outs[i], "{name}: output {i} differs"),
        }
    }
}

fn filled<T: Element + Default>(len: usize, seed: u64, dist: Fill) -> Vec<T> {
    let mut v = vec![T::default(); len];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut v, &[len as i64]).unwrap(),
        seed,
        dist,
    )
    .unwrap();
    v
}

fn cdiv(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

const NORMAL: Fill = Fill::Normal { mean: 0.0, std: 1.0 };

/// Per-row 128-block FP8 operand [rows, k] with its f32 scales in the TMA-aligned MN-major
/// layout (returned as buffer, shape [rows, kb], strides [1, ld]).
fn fp8_rows(cpu: &Context, rows: i64, k: i64, seed: u64) -> (Vec<F8E4M3>, Vec<f32>, [i64; 2]) {
    let x: Vec<f32> = filled((rows * k) as usize, seed, NORMAL);
    let kb = cdiv(k, 128);
    let ld = tma_aligned_size(rows, 4);
    let mut q = vec![F8E4M3(0); (rows * k) as usize];
    let mut sf = vec![0f32; (ld * kb) as usize];
    cpu.cast_fp8_per_token(
        &TensorView::from_slice(&x, &[rows, k]).unwrap(),
        false,
        &mut TensorViewMut::from_slice(&mut q, &[rows, k]).unwrap(),
        &mut TensorViewMut::from_slice_strided(&mut sf, &[rows, kb], &[1, ld]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    (q, sf, [1, ld])
}

/// 128×128-block FP8 operand [g·n, k] (g groups stacked) with f32 scales [g·n/128, kb].
fn fp8_blocks(cpu: &Context, rows: i64, k: i64, seed: u64) -> (Vec<F8E4M3>, Vec<f32>) {
    let x: Vec<f32> = filled((rows * k) as usize, seed, NORMAL);
    let (rb, kb) = (cdiv(rows, 128), cdiv(k, 128));
    let mut q = vec![F8E4M3(0); (rows * k) as usize];
    let mut sf = vec![0f32; (rb * kb) as usize];
    cpu.cast_fp8_per_block(
        &TensorView::from_slice(&x, &[rows, k]).unwrap(),
        false,
        &mut TensorViewMut::from_slice(&mut q, &[rows, k]).unwrap(),
        &mut TensorViewMut::from_slice(&mut sf, &[rb, kb]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    (q, sf)
}

#[test]
fn gpu_gemm_bf16() {
    let (m, n, k) = (256i64, 512i64, 512i64);
    let a: Vec<Bf16> = filled((m * k) as usize, 1, NORMAL);
    let b: Vec<Bf16> = filled((n * k) as usize, 2, NORMAL);
    for dt in [DType::BF16, DType::F32] {
        mirror(
            &format!("gemm bf16 -> {dt}"),
            vec![arg(&a, &[m, k]), arg(&b, &[n, k])],
            vec![out(dt, (m * n) as usize, &[m, n], None)],
            1e-5,
            |c, i, o| c.gemm(Recipe::Bf16, &i[0], None, &i[1], None, None, &mut o[0], Stream::DEFAULT),
        );
    }
    // M-major A and N-major B (BF16 takes every layout on the GPU too).
    mirror(
        "gemm bf16 TT",
        vec![arg(&a, &[k, m]), arg(&b, &[k, n])],
        vec![out(DType::BF16, (m * n) as usize, &[m, n], None)],
        1e-5,
        |c, i, o| {
            c.gemm(
                Recipe::Bf16,
                &i[0].transpose(0, 1)?,
                None,
                &i[1].transpose(0, 1)?,
                None,
                None,
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
}

#[test]
fn gpu_gemm_fp8() {
    let cpu = Context::cpu().unwrap();
    let (m, n, k) = (256i64, 512i64, 1024i64);
    let kb = k / 128;
    let (a, sfa, sfa_st) = fp8_rows(&cpu, m, k, 3);
    let (b, sfb) = fp8_blocks(&cpu, n, k, 4);
    for dt in [DType::BF16, DType::F32] {
        mirror(
            &format!("gemm fp8 1d2d -> {dt}"),
            vec![
                arg(&a, &[m, k]),
                arg_strided(&sfa, &[m, kb], &sfa_st),
                arg(&b, &[n, k]),
                arg(&sfb, &[n / 128, kb]),
            ],
            vec![out(dt, (m * n) as usize, &[m, n], None)],
            1e-5,
            |c, i, o| {
                c.gemm(
                    Recipe::Fp8_1d2d,
                    &i[0],
                    Some(&i[1]),
                    &i[2],
                    Some(&i[3]),
                    None,
                    &mut o[0],
                    Stream::DEFAULT,
                )
            },
        );
    }
    let (b1, sfb1, sfb1_st) = fp8_rows(&cpu, n, k, 5);
    let cin: Vec<f32> = filled((m * n) as usize, 6, NORMAL);
    mirror(
        "gemm fp8 1d1d + C -> f32",
        vec![
            arg(&a, &[m, k]),
            arg_strided(&sfa, &[m, kb], &sfa_st),
            arg(&b1, &[n, k]),
            arg_strided(&sfb1, &[n, kb], &sfb1_st),
            arg(&cin, &[m, n]),
        ],
        vec![out(DType::F32, (m * n) as usize, &[m, n], None)],
        1e-5,
        |c, i, o| {
            c.gemm(
                Recipe::Fp8_1d1d,
                &i[0],
                Some(&i[1]),
                &i[2],
                Some(&i[3]),
                Some(&i[4]),
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
    let (sa, sb) = ([0.02f32], [0.5f32]);
    mirror(
        "gemm fp8 per-tensor -> bf16",
        vec![arg(&a, &[m, k]), arg(&sa, &[]), arg(&b, &[n, k]), arg(&sb, &[])],
        vec![out(DType::BF16, (m * n) as usize, &[m, n], None)],
        1e-5,
        |c, i, o| {
            c.gemm(
                Recipe::Fp8PerTensor,
                &i[0],
                Some(&i[1]),
                &i[2],
                Some(&i[3]),
                None,
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
}

#[test]
fn gpu_moe() {
    let cpu = Context::cpu().unwrap();
    let (g, n, k) = (4i64, 512i64, 512i64);
    let kb = k / 128;
    let align = mk_alignment_for_contiguous_layout() as i64;
    // Contiguous: group sizes rounded up to the alignment, padding rows -1.
    let sizes = [100i64, 0, 300, 64];
    let mut ids = Vec::new();
    for (gi, &s) in sizes.iter().enumerate() {
        let padded = cdiv(s, align) * align;
        ids.extend((0..padded).map(|r| if r < s { gi as i32 } else { -1 }));
    }
    let m = ids.len() as i64;
    let (a, sfa, sfa_st) = fp8_rows(&cpu, m, k, 7);
    let (b, sfb) = fp8_blocks(&cpu, g * n, k, 8);
    mirror(
        "m-grouped contiguous 1d2d",
        vec![
            arg(&a, &[m, k]),
            arg_strided(&sfa, &[m, kb], &sfa_st),
            arg(&b, &[g, n, k]),
            arg(&sfb, &[g, n / 128, kb]),
            arg(&ids, &[m]),
        ],
        vec![out(DType::BF16, (m * n) as usize, &[m, n], None)],
        1e-5,
        |c, i, o| {
            c.m_grouped_gemm_contiguous(
                Recipe::Fp8_1d2d,
                &i[0],
                Some(&i[1]),
                &i[2],
                Some(&i[3]),
                &i[4],
                GroupLayout::RowIds,
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
    // Masked.
    let max_m = 128i64;
    let masked = [17i32, 0, 128, 64];
    let (am, sfam, _) = fp8_rows(&cpu, g * max_m, k, 9);
    // Per-group TMA-aligned MN-major scales: [g, max_m, kb] with strides [ld·kb, 1, ld].
    let ld = tma_aligned_size(max_m, 4);
    let mut sfa_g = vec![0f32; (g * ld * kb) as usize];
    let ld_all = tma_aligned_size(g * max_m, 4);
    for row in 0..g * max_m {
        for blk in 0..kb {
            sfa_g[((row / max_m) * ld * kb + blk * ld + row % max_m) as usize] = sfam[(blk * ld_all + row) as usize];
        }
    }
    mirror(
        "m-grouped masked 1d2d",
        vec![
            arg(&am, &[g, max_m, k]),
            arg_strided(&sfa_g, &[g, max_m, kb], &[ld * kb, 1, ld]),
            arg(&b, &[g, n, k]),
            arg(&sfb, &[g, n / 128, kb]),
            arg(&masked, &[g]),
        ],
        vec![out(DType::BF16, (g * max_m * n) as usize, &[g, max_m, n], None)],
        1e-5,
        |c, i, o| {
            c.m_grouped_gemm_masked(
                Recipe::Fp8_1d2d,
                &i[0],
                Some(&i[1]),
                &i[2],
                Some(&i[3]),
                &i[4],
                64,
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
    // K-grouped (weight gradients): A [M, ΣK] and B [N, ΣK], K-major (the layout the SM90
    // kernel takes; MN-major operands are covered on the CPU by tests/cpu).
    let (mk, nk) = (256i64, 256i64);
    let ks = [256i32, 0, 384, 128];
    let kt: i64 = ks.iter().map(|&x| x as i64).sum();
    let (ak, sfak, sfak_st) = fp8_rows(&cpu, mk, kt, 10);
    let (bk, sfbk, sfbk_st) = fp8_rows(&cpu, nk, kt, 11);
    let cin: Vec<f32> = filled((4 * mk * nk) as usize, 12, NORMAL);
    mirror(
        "k-grouped 1d1d",
        vec![
            arg(&ak, &[mk, kt]),
            arg_strided(&sfak, &[mk, kt / 128], &sfak_st),
            arg(&bk, &[nk, kt]),
            arg_strided(&sfbk, &[nk, kt / 128], &sfbk_st),
            arg(&ks, &[4]),
            arg(&cin, &[4, mk, nk]),
        ],
        vec![out(DType::F32, (4 * mk * nk) as usize, &[4, mk, nk], None)],
        1e-5,
        |c, i, o| {
            c.k_grouped_gemm_contiguous(
                Recipe::Fp8_1d1d,
                &i[0],
                Some(&i[1]),
                &i[2],
                Some(&i[3]),
                &i[4],
                Some(&i[5]),
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
}

#[test]
fn gpu_mqa_logits() {
    let (s, h, d, s_kv) = (128i64, 32i64, 128i64, 1024i64);
    let q: Vec<F8E4M3> = filled((s * h * d) as usize, 13, Fill::Uniform { lo: -4.0, hi: 4.0 });
    let kv: Vec<F8E4M3> = filled((s_kv * d) as usize, 14, Fill::Uniform { lo: -4.0, hi: 4.0 });
    let kv_scale: Vec<f32> = filled(s_kv as usize, 15, Fill::Uniform { lo: 0.01, hi: 0.1 });
    let w: Vec<f32> = filled((s * h) as usize, 16, NORMAL);
    let ks: Vec<i32> = (0..s as i32).map(|i| i * 3).collect();
    let ke: Vec<i32> = (0..s as i32).map(|i| (i * 3 + 500).min(s_kv as i32)).collect();
    let ld = mqa_logits_row_stride(s_kv);
    for clean in [true, false] {
        mirror(
            &format!("mqa_logits clean={clean}"),
            vec![
                arg(&q, &[s, h, d]),
                arg(&kv, &[s_kv, d]),
                arg(&kv_scale, &[s_kv]),
                arg(&w, &[s, h]),
                arg(&ks, &[s]),
                arg(&ke, &[s]),
            ],
            vec![out(DType::F32, (s * ld) as usize, &[s, s_kv], Some(&[ld, 1]))],
            1e-5,
            move |c, i, o| {
                c.mqa_logits(
                    &i[0],
                    &i[1],
                    &i[2],
                    &i[3],
                    &i[4],
                    &i[5],
                    clean,
                    &mut o[0],
                    Stream::DEFAULT,
                )
            },
        );
    }
    let mut logits: Vec<f32> = filled((s * s_kv) as usize, 17, NORMAL);
    logits[0] = 1.0;
    mirror(
        "clean_logits",
        vec![arg(&ks, &[s]), arg(&ke, &[s])],
        vec![Arg {
            bytes: bytes_of(&logits),
            ..out(DType::F32, 0, &[s, s_kv], None)
        }],
        0.0,
        |c, i, o| c.clean_logits(Some(&i[0]), &i[1], &mut o[0], Stream::DEFAULT),
    );
}

#[test]
fn gpu_paged_mqa_logits() {
    let (b, next_n, h, d, block_kv, max_blocks) = (4i64, 2i64, 32i64, 128i64, 64i64, 8i64);
    let num_blocks = b * max_blocks;
    let width = max_blocks * block_kv;
    let q: Vec<F8E4M3> = filled((b * next_n * h * d) as usize, 18, Fill::Uniform { lo: -4.0, hi: 4.0 });
    let mut cache: Vec<u8> = filled(
        (num_blocks * block_kv * (d + 4)) as usize,
        19,
        Fill::Int {
            lo: 0.0,
            hi: 0x7E as f64,
        },
    );
    // Each block's trailing block_kv scales: positive f32s.
    for blk in 0..num_blocks {
        for r in 0..block_kv {
            let at = (blk * block_kv * (d + 4) + block_kv * d + 4 * r) as usize;
            cache[at..at + 4].copy_from_slice(&(0.01f32 + r as f32 * 1e-4).to_le_bytes());
        }
    }
    let w: Vec<f32> = filled((b * next_n * h) as usize, 20, NORMAL);
    let lens = [100i32, 512, 1, 333];
    let table: Vec<i32> = (0..num_blocks as i32).rev().collect();
    let sms = gpu().and_then(|dev| dev.device_info().ok()).map_or(132, |i| i.num_sms);
    let rows = paged_mqa_logits_metadata_rows(sms);
    mirror(
        "paged_mqa_logits_metadata",
        vec![arg(&lens, &[b])],
        vec![out(DType::I32, (rows * 2) as usize, &[rows, 2], None)],
        0.0,
        move |c, i, o| c.paged_mqa_logits_metadata(&i[0], block_kv as i32, sms, &mut o[0], Stream::DEFAULT),
    );
    let cpu = Context::cpu().unwrap();
    let mut meta = vec![0i32; (rows * 2) as usize];
    cpu.paged_mqa_logits_metadata(
        &TensorView::from_slice(&lens, &[b]).unwrap(),
        block_kv as i32,
        sms,
        &mut TensorViewMut::from_slice(&mut meta, &[rows, 2]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    mirror(
        "paged_mqa_logits",
        vec![
            arg(&q, &[b, next_n, h, d]),
            arg(&cache, &[num_blocks, block_kv, 1, d + 4]),
            arg(&w, &[b * next_n, h]),
            arg(&lens, &[b]),
            arg(&table, &[b, max_blocks]),
            arg(&meta, &[rows, 2]),
        ],
        vec![out(
            DType::F32,
            (b * next_n * width) as usize,
            &[b * next_n, width],
            None,
        )],
        1e-5,
        |c, i, o| {
            c.paged_mqa_logits(
                &i[0],
                &i[1],
                &i[2],
                &i[3],
                &i[4],
                Some(&i[5]),
                true,
                &mut o[0],
                Stream::DEFAULT,
            )
        },
    );
}

#[test]
fn gpu_quant() {
    let (m, k) = (256i64, 1024i64);
    let kb = k / 128;
    let x: Vec<Bf16> = filled((m * k) as usize, 21, NORMAL);
    let ld = tma_aligned_size(m, 4);
    for ue8m0 in [false, true] {
        mirror(
            &format!("cast per-token ue8m0={ue8m0}"),
            vec![arg(&x, &[m, k])],
            vec![
                out(DType::F8E4M3, (m * k) as usize, &[m, k], None),
                out(DType::F32, (ld * kb) as usize, &[m, kb], Some(&[1, ld])),
            ],
            1e-5,
            move |c, i, o| {
                let (q, s) = o.split_at_mut(1);
                c.cast_fp8_per_token(&i[0], ue8m0, &mut q[0], &mut s[0], Stream::DEFAULT)
            },
        );
        mirror(
            &format!("cast per-block ue8m0={ue8m0}"),
            vec![arg(&x, &[m, k])],
            vec![
                out(DType::F8E4M3, (m * k) as usize, &[m, k], None),
                out(DType::F32, (m / 128 * kb) as usize, &[m / 128, kb], None),
            ],
            1e-5,
            move |c, i, o| {
                let (q, s) = o.split_at_mut(1);
                c.cast_fp8_per_block(&i[0], ue8m0, &mut q[0], &mut s[0], Stream::DEFAULT)
            },
        );
    }
    mirror(
        "cast per-tensor",
        vec![arg(&x, &[m, k])],
        vec![
            out(DType::F8E4M3, (m * k) as usize, &[m, k], None),
            out(DType::F32, 1, &[], None),
        ],
        1e-5,
        |c, i, o| {
            let (q, s) = o.split_at_mut(1);
            c.cast_fp8_per_tensor(&i[0], &mut q[0], &mut s[0], Stream::DEFAULT)
        },
    );
    let sf: Vec<f32> = filled((m * kb) as usize, 22, Fill::Uniform { lo: 1e-4, hi: 1.0 });
    mirror(
        "transform_sf",
        vec![arg(&sf, &[m, kb])],
        vec![out(DType::F32, (ld * kb) as usize, &[m, kb], Some(&[1, ld]))],
        0.0,
        |c, i, o| c.transform_sf(&i[0], &mut o[0], Stream::DEFAULT),
    );
    mirror(
        "pack_ue8m0",
        vec![arg(&sf, &[m, kb])],
        vec![out(DType::I32, (m * cdiv(kb, 4)) as usize, &[m, cdiv(kb, 4)], None)],
        0.0,
        |c, i, o| c.pack_ue8m0(&i[0], &mut o[0], Stream::DEFAULT),
    );
}
