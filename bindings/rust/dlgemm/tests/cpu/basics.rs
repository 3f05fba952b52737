//! Version, statuses, context knobs, views, the testing utilities, errors and threads.

use crate::common::*;
use dlgemm::testing::{self, Fill};
use dlgemm::*;
use std::sync::Arc;

#[test]
fn test_version() {
    assert_eq!(version(), HEADER_VERSION);
    assert_eq!(
        version(),
        100 * 100 * sys::DLG_VERSION_MAJOR + 100 * sys::DLG_VERSION_MINOR + sys::DLG_VERSION_PATCH
    );
    let parts: Vec<u32> = version_string().split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(
        parts,
        [sys::DLG_VERSION_MAJOR, sys::DLG_VERSION_MINOR, sys::DLG_VERSION_PATCH]
    );
}

#[test]
fn test_status_strings() {
    for (code, status) in Status::ALL.iter().enumerate() {
        assert_eq!(status.to_raw(), code as u32);
        assert_eq!(Status::from_raw(code as u32), *status);
        assert!(status.name().starts_with("DLG_"), "{}", status.name());
        assert!(!status.description().is_empty());
        assert_ne!(status.description(), "unknown status");
    }
    assert_eq!(Status::Ok.name(), "DLG_OK");
    assert_eq!(Status::Dtype.name(), "DLG_ERR_DTYPE");
    assert_eq!(Status::Dtype.description(), "unsupported dtype");
    assert_eq!(Status::from_raw(999), Status::Unknown(999));
    assert_eq!(Status::Unknown(999).description(), "unknown status");
    let e = Error::new(Status::Shape, "x: bad");
    assert_eq!(e.to_string(), "shape mismatch (DLG_ERR_SHAPE): x: bad");
    for r in [Recipe::Fp8_1d2d, Recipe::Fp8_1d1d, Recipe::Fp8PerTensor, Recipe::Bf16] {
        assert!(
            !r.name().is_empty() && !r.name().contains("unknown"),
            "{r:?}: {}",
            r.name()
        );
    }
    assert_eq!(DType::F8E4M3.name(), "float8_e4m3fn");
    assert_eq!(DType::BF16.name(), "bfloat16");
    assert_eq!(DType::F32.to_string(), "float32");
    for dt in [DType::F32, DType::BF16, DType::F8E4M3, DType::I32, DType::U8] {
        assert_eq!(DType::from_dl(dt.to_dl()), dt);
    }
}

#[test]
fn test_context_knobs() {
    let c = ctx();
    assert_eq!(c.device_ordinal(), -1);
    assert_eq!(c.device(), Device::Cpu);
    assert_eq!(c.max_sms(), 0);
    c.set_max_sms(7).unwrap();
    assert_eq!(c.max_sms(), 7);
    let e = c.set_max_sms(-1).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("max_sms"), "{e}");
    assert_eq!(c.max_sms(), 7, "a rejected value changes nothing");
    c.set_max_sms(0).unwrap();

    assert!(!c.pdl());
    c.set_pdl(true).unwrap();
    assert!(c.pdl());
    c.set_pdl(false).unwrap();
    assert!(!c.pdl());

    let dir = std::env::temp_dir().join("dlgemm-rust-knobs");
    c.set_cache_dir(Some(&dir)).unwrap();
    assert_eq!(c.cache_dir().unwrap(), dir);
    c.set_cache_dir(None).unwrap();
    assert_ne!(c.cache_dir().unwrap(), dir);
    assert!(!c.cache_dir().unwrap().as_os_str().is_empty());
    assert_eq!(
        c.set_cache_dir(Some("a\0b".as_ref())).unwrap_err().status(),
        Status::InvalidArgument
    );

    c.set_jit_options(Some("-lineinfo")).unwrap();
    c.set_jit_options(None).unwrap();
    c.set_jit_options(Some("")).unwrap();

    // A second context is independent.
    let c2 = ctx();
    c.set_max_sms(3).unwrap();
    assert_eq!(c2.max_sms(), 0);
}

#[test]
fn test_runtime_info() {
    // Never fails; on a machine without a GPU it says why.
    let info = runtime_info();
    if !info.driver_found {
        assert_eq!(info.device_count, 0);
        assert!(!info.why.is_empty());
    }
    let c = ctx();
    // A CPU context has no device facts and no device memory.
    assert!(c.device_info().is_err());
    assert!(c.device_alloc(16).is_err());
    // Warm-up on a CPU context is a no-op.
    c.warmup_gemm(Recipe::Bf16, 128, 128, 128, DType::BF16).unwrap();
}

#[test]
fn test_alignment_queries() {
    assert_eq!(tma_aligned_size(1, 4), 4);
    assert_eq!(tma_aligned_size(5, 4), 8);
    assert_eq!(tma_aligned_size(8, 4), 8);
    assert_eq!(tma_aligned_size(17, 2), 24);
    assert_eq!(tma_aligned_size(100, 1), 112);
    assert!(mk_alignment_for_contiguous_layout() > 0);
    for s in [1, 100, 4096, 5000] {
        assert!(mqa_logits_row_stride(s) >= s);
    }
    assert_eq!(paged_mqa_logits_metadata_rows(132), 133);
}

#[test]
fn test_fp8_and_bf16_codecs() {
    // The crate's decoder agrees with the independent one on every code.
    for v in 0..=255u8 {
        let (ours, theirs) = (e4m3(v), F8E4M3(v).to_f32());
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "{v:#x}: {ours} vs {theirs}"
        );
    }
    assert_eq!(e4m3(0x7E), 448.0);
    assert_eq!(e4m3(0x01), 2f32.powi(-9));
    assert_eq!(e4m3(0x08), 2f32.powi(-6));
    // Encoding: exact values round-trip, halfway cases go to even, overflow saturates.
    for v in (0..=255u8).filter(|v| v & 0x7F != 0x7F) {
        assert_eq!(F8E4M3::from_f32(e4m3(v)).0, v, "{v:#x}");
    }
    assert_eq!(
        F8E4M3::from_f32(1.0625).0,
        F8E4M3::from_f32(1.0).0,
        "1 + 1/16 ties to even (1.0)"
    );
    assert_eq!(e4m3(F8E4M3::from_f32(1.1875).0), 1.25, "1 + 3/16 ties to even (1.25)");
    assert_eq!(e4m3(F8E4M3::from_f32(1000.0).0), 448.0);
    assert_eq!(e4m3(F8E4M3::from_f32(-460.0).0), -448.0);
    assert!(e4m3(F8E4M3::from_f32(f32::NAN).0).is_nan());
    assert_eq!(
        e4m3(F8E4M3::from_f32(2f32.powi(-10)).0),
        0.0,
        "half the smallest subnormal ties to 0"
    );
    // A brute-force nearest-value search agrees with the encoder on random inputs.
    let finite: Vec<(u8, f32)> = (0..=255u8)
        .map(|v| (v, e4m3(v)))
        .filter(|(_, f)| f.is_finite())
        .collect();
    let mut rng = Rng::new(5);
    for _ in 0..2000 {
        let x = rng.uniform(-440.0, 440.0) * 2f32.powi(rng.below(-12, 1) as i32);
        let got = e4m3(F8E4M3::from_f32(x).0);
        let best = finite.iter().map(|&(_, f)| (f - x).abs()).fold(f32::INFINITY, f32::min);
        assert!(
            ((got - x).abs() - best).abs() <= best * 1e-6,
            "{x}: got {got}, nearest is {best} away"
        );
    }
    for x in [0.0f32, 1.0, -2.5, 3.140625, -0.0078125] {
        assert_eq!(bf16(Bf16::from_f32(x)), x, "{x} is exact in bf16");
    }
    for x in [1e-3f32, 65504.0, -1.2345e7, 0.1] {
        assert!((bf16(Bf16::from_f32(x)) - x).abs() <= x.abs() * 2f32.powi(-8), "{x}");
    }
    assert_eq!(Bf16::from_f32(1.0 + 2f32.powi(-8)).to_f32(), 1.0, "tie to even");
    assert_eq!(
        Bf16::from_f32(1.0 + 3.0 * 2f32.powi(-8)).to_f32(),
        1.0 + 2f32.powi(-6),
        "tie to even (up)"
    );
}

#[test]
fn test_views() {
    let data = [1f32, 2., 3., 4., 5., 6.];
    let v = TensorView::from_slice(&data, &[2, 3]).unwrap();
    assert_eq!(
        (v.shape(), v.strides(), v.ndim(), v.numel()),
        (&[2i64, 3][..], &[3i64, 1][..], 2, 6)
    );
    assert_eq!((v.dtype(), v.device(), v.span_bytes()), (DType::F32, Device::Cpu, 24));
    let t = v.transpose(0, 1).unwrap();
    assert_eq!((t.shape(), t.strides()), (&[3i64, 2][..], &[1i64, 3][..]));
    assert_eq!(TensorView::from_slice(&data[..1], &[]).unwrap().numel(), 1);

    let e = TensorView::from_slice(&data, &[4, 2]).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    assert!(e.message().contains("data"), "{e}");
    assert_eq!(
        TensorView::from_slice(&data, &[-1, -6]).unwrap_err().status(),
        Status::Shape
    );
    assert_eq!(
        TensorView::from_slice(&data, &[1, 1, 1, 1, 1, 1, 1, 2, 3])
            .unwrap_err()
            .status(),
        Status::InvalidArgument
    );
    assert_eq!(
        TensorView::from_slice_strided(&data, &[2, 3], &[4, 1])
            .unwrap_err()
            .status(),
        Status::Shape
    );
    assert_eq!(
        TensorView::from_slice_strided(&data, &[2, 2], &[-1, 1])
            .unwrap_err()
            .status(),
        Status::Layout
    );
    assert_eq!(
        TensorView::from_slice_strided(&data, &[2, 2], &[1])
            .unwrap_err()
            .status(),
        Status::Shape
    );
    assert_eq!(v.transpose(0, 2).unwrap_err().status(), Status::InvalidArgument);
    let s = TensorView::from_slice_strided(&data, &[2, 2], &[3, 2]).unwrap();
    assert_eq!(s.span_bytes(), 6 * 4);

    let mut out = [0f32; 6];
    let mut w = TensorViewMut::from_slice(&mut out, &[3, 2]).unwrap();
    assert_eq!(w.as_view().shape(), &[3, 2]);
    assert_eq!(w.reborrow().transpose(0, 1).unwrap().shape(), &[2, 3]);
    let r: TensorView<'_> = w.into();
    assert_eq!(r.numel(), 6);
}

#[test]
fn test_dlpack_views() {
    let mut data = [1f32, 2., 3., 4., 5., 6.];
    let mut shape = [3i64, 2];
    let mut strides = [1i64, 3];
    let dl = sys::DLTensor {
        data: data.as_mut_ptr().cast(),
        device: sys::DLDevice {
            device_type: sys::kDLCPU,
            device_id: 0,
        },
        ndim: 2,
        dtype: DType::F32.to_dl(),
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        byte_offset: 4,
    };
    let managed = sys::DLManagedTensor {
        dl_tensor: dl,
        manager_ctx: std::ptr::null_mut(),
        deleter: None,
    };
    // SAFETY: the tensor describes `data`, alive for the whole test.
    let v = unsafe { TensorView::from_dlpack(&managed) }.unwrap();
    assert_eq!(
        (v.shape(), v.strides(), v.byte_offset()),
        (&[3i64, 2][..], &[1i64, 3][..], 4)
    );
    // A [2, 2] column-major view starting one element in: (r, c) is data[1 + r + 3c].
    let mut shape2 = [2i64, 2];
    let dl2 = sys::DLTensor {
        shape: shape2.as_mut_ptr(),
        ndim: 2,
        ..dl
    };
    // SAFETY: as above; the view reaches data[5] at most.
    let v2 = unsafe { TensorView::from_dltensor(&dl2) }.unwrap();
    let mut flat = [0f32; 4];
    ctx()
        .tensor_copy(&v2, &mut TensorViewMut::from_slice(&mut flat, &[2, 2]).unwrap())
        .unwrap();
    assert_eq!(flat, [2., 5., 3., 6.]);

    let mut versioned = sys::DLManagedTensorVersioned {
        version: sys::DLPackVersion {
            major: sys::DLPACK_MAJOR_VERSION,
            minor: 0,
        },
        manager_ctx: std::ptr::null_mut(),
        deleter: None,
        flags: sys::DLPACK_FLAG_BITMASK_READ_ONLY as u64,
        dl_tensor: sys::DLTensor { byte_offset: 0, ..dl },
    };
    // SAFETY: as above.
    unsafe {
        assert!(TensorView::from_dlpack_versioned(&versioned).is_ok());
        let e = TensorViewMut::from_dlpack_versioned(&mut versioned).unwrap_err();
        assert_eq!(e.status(), Status::InvalidArgument);
        versioned.flags = 0;
        assert!(TensorViewMut::from_dlpack_versioned(&mut versioned).is_ok());
        versioned.version.major = 99;
        assert!(TensorView::from_dlpack_versioned(&versioned).is_err());
    }
}

#[test]
fn test_testing_utils() {
    let c = ctx();
    // fill is a pure function of (seed, logical index): strides do not matter.
    let mut a = vec![0f32; 12];
    let mut b = vec![0f32; 12];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut a, &[3, 4]).unwrap(),
        42,
        Fill::Uniform { lo: -1.0, hi: 1.0 },
    )
    .unwrap();
    let mut bt = TensorViewMut::from_slice_strided(&mut b, &[3, 4], &[1, 3]).unwrap();
    testing::fill(&mut bt, 42, Fill::Uniform { lo: -1.0, hi: 1.0 }).unwrap();
    for r in 0..3 {
        for k in 0..4 {
            assert_eq!(a[r * 4 + k], b[r + 3 * k]);
        }
    }
    assert!(a.iter().all(|&x| (-1.0..1.0).contains(&x)));
    let mut ints = vec![0i32; 100];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut ints, &[100]).unwrap(),
        1,
        Fill::Int { lo: -3.0, hi: 3.0 },
    )
    .unwrap();
    assert!(ints.iter().all(|&x| (-3..=3).contains(&x)));
    assert!(ints.iter().any(|&x| x != ints[0]));
    let mut normal = vec![0f32; 4096];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut normal, &[4096]).unwrap(),
        9,
        Fill::Normal { mean: 2.0, std: 0.5 },
    )
    .unwrap();
    let mean = normal.iter().map(|&x| x as f64).sum::<f64>() / 4096.0;
    assert!((mean - 2.0).abs() < 0.05, "mean {mean}");
    let mut f8 = vec![F8E4M3(0); 64];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut f8, &[64]).unwrap(),
        3,
        Fill::Uniform { lo: -600.0, hi: 600.0 },
    )
    .unwrap();
    assert!(f8.iter().all(|v| e4m3(v.0).abs() <= 448.0));

    // calc_diff and count_mismatch agree with the Rust-side definitions.
    let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let y: Vec<f32> = x.iter().map(|v| v * 1.01).collect();
    let xv = TensorView::from_slice(&x, &[3, 4]).unwrap();
    let yv = TensorView::from_slice(&y, &[3, 4]).unwrap();
    let d = testing::calc_diff(&xv, &yv).unwrap();
    assert!((d - calc_diff(&f64s(&x), &f64s(&y))).abs() < 1e-12, "{d}");
    assert_eq!(testing::calc_diff(&xv, &xv).unwrap(), 0.0);
    let yb = to_bf16(&y);
    assert!(testing::calc_diff(&xv, &TensorView::from_slice(&yb, &[3, 4]).unwrap()).unwrap() < 1e-3);
    assert_eq!(testing::count_mismatch(&xv, &yv).unwrap(), 11);
    assert_eq!(testing::count_mismatch(&xv, &xv).unwrap(), 0);
    let e = testing::calc_diff(&xv, &TensorView::from_slice(&x, &[4, 3]).unwrap()).unwrap_err();
    assert_eq!(e.status(), Status::Shape);

    // poison writes every byte of the elements, honouring strides.
    let mut p = vec![0u8; 8];
    c.poison(
        &mut TensorViewMut::from_slice_strided(&mut p, &[4], &[2]).unwrap(),
        0xAB,
    )
    .unwrap();
    assert_eq!(p, [0xAB, 0, 0xAB, 0, 0xAB, 0, 0xAB, 0]);
    let mut pf = vec![0f32; 2];
    c.poison(&mut TensorViewMut::from_slice(&mut pf, &[2]).unwrap(), 0xFF)
        .unwrap();
    assert!(pf.iter().all(|v| v.to_bits() == u32::MAX));

    // tensor_copy across strides; host memcpy through the ABI.
    let mut t = vec![0f32; 12];
    c.tensor_copy(
        &xv.transpose(0, 1).unwrap(),
        &mut TensorViewMut::from_slice(&mut t, &[4, 3]).unwrap(),
    )
    .unwrap();
    for r in 0..3 {
        for k in 0..4 {
            assert_eq!(t[k * 3 + r], x[r * 4 + k]);
        }
    }
    c.stream_synchronize(Stream::DEFAULT).unwrap_or(()); // CPU context: may report no driver
}

/// Polls a few wrong calls: each fails with the right kind and a message naming the argument,
/// and leaves the output untouched.
#[test]
fn test_bad_inputs() {
    let c = ctx();
    let (m, n, k) = (4i64, 8i64, 128i64);
    let a8 = vec![F8E4M3(0x38); (m * k) as usize];
    let b8 = vec![F8E4M3(0x38); (n * k) as usize];
    let abf = vec![Bf16::from_f32(1.0); (m * k) as usize];
    let bbf = vec![Bf16::from_f32(1.0); (n * k) as usize];
    let mut d = vec![f32::from_bits(0x7FC0_1234); (m * n) as usize];
    let before = d.clone();
    let av = TensorView::from_slice(&abf, &[m, k]).unwrap();
    let bv = TensorView::from_slice(&bbf, &[n, k]).unwrap();
    let a8v = TensorView::from_slice(&a8, &[m, k]).unwrap();
    let b8v = TensorView::from_slice(&b8, &[n, k]).unwrap();

    let check = |what: &str, r: Result<()>, want: Status, arg: &str, d: &[f32]| {
        let e = r.expect_err(what);
        assert_eq!(e.status(), want, "{what}: {e}");
        assert!(!e.message().is_empty(), "{what}");
        assert!(
            e.message().starts_with(&format!("{arg}: ")),
            "{what}: message {:?} should name {arg:?}",
            e.message()
        );
        assert!(
            d.iter().zip(&before).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{what}: output written"
        );
    };
    // Wrong dtype: bf16 operands for an FP8 recipe.
    let r = c.gemm(
        Recipe::Fp8PerTensor,
        &av,
        None,
        &bv,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    check("dtype", r, Status::Dtype, "a", &d);
    // Shape: K of B differs from A's.
    let b_short = TensorView::from_slice(&bbf[..(n * 64) as usize], &[n, 64]).unwrap();
    let r = c.gemm(
        Recipe::Bf16,
        &av,
        None,
        &b_short,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    check("shape", r, Status::Shape, "b", &d);
    // Shape: D is [n, m].
    let r = c.gemm(
        Recipe::Bf16,
        &av,
        None,
        &bv,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[n, m]).unwrap(),
        Stream::DEFAULT,
    );
    check("d shape", r, Status::Shape, "d", &d);
    // Missing 1D2D scales.
    let r = c.gemm(
        Recipe::Fp8_1d2d,
        &a8v,
        None,
        &b8v,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    check("missing sf", r, Status::InvalidArgument, "sfa", &d);
    // Device mismatch: B claims to be on a GPU (never dereferenced: validation comes first).
    // SAFETY: the library rejects the call before touching B's memory.
    let b_gpu = unsafe { TensorView::from_raw_parts(bbf.as_ptr().cast(), Device::Cuda(0), DType::BF16, &[n, k], None) }
        .unwrap();
    let r = c.gemm(
        Recipe::Bf16,
        &av,
        None,
        &b_gpu,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    check("device", r, Status::Device, "b", &d);
    // An unknown dtype passed through from DLPack.
    let odd = TensorView::from_slice(&abf, &[m, k]).unwrap();
    // SAFETY: same memory, a dtype the library rejects before reading.
    let odd = unsafe {
        TensorView::from_raw_parts(
            odd.data_ptr(),
            Device::Cpu,
            DType::Other {
                code: 5,
                bits: 64,
                lanes: 1,
            },
            &[m, k / 4],
            None,
        )
    }
    .unwrap();
    let r = c.gemm(
        Recipe::Bf16,
        &odd,
        None,
        &bv,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    check("odd dtype", r, Status::Dtype, "a", &d);

    // Other ops: a cast into a bf16 output, masked_m of the wrong dtype.
    let x = vec![0f32; 256];
    let mut out = vec![Bf16(0); 256];
    let mut sf = vec![0f32; 2];
    let e = c
        .cast_fp8_per_token(
            &TensorView::from_slice(&x, &[2, 128]).unwrap(),
            false,
            &mut TensorViewMut::from_slice(&mut out, &[2, 128]).unwrap(),
            &mut TensorViewMut::from_slice(&mut sf, &[2, 1]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap_err();
    assert_eq!(e.status(), Status::Dtype);
    assert!(e.message().contains("out"), "{e}");
    let e = c
        .clean_logits(
            None,
            &TensorView::from_slice(&x[..2], &[2]).unwrap(),
            &mut TensorViewMut::from_slice(&mut sf, &[2, 1]).unwrap(),
            Stream::DEFAULT,
        )
        .unwrap_err();
    assert_eq!(e.status(), Status::Dtype);
    assert!(e.message().contains("ke"), "{e}");

    // The message belongs to this thread and this call: a success after a failure leaves an
    // old message that must not leak into a later Ok, and the next failure has its own.
    let ok = c.gemm(
        Recipe::Bf16,
        &av,
        None,
        &bv,
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    );
    assert!(ok.is_ok(), "{ok:?}");
    assert!(d.iter().all(|&v| v == k as f32));
}

/// One context shared by several threads running different ops at once, each checking its
/// own result; knob changes from another thread meanwhile; errors stay per thread.
#[test]
fn test_concurrency() {
    let c = Arc::new(ctx());
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let mut rng = Rng::new(100 + t);
                let (m, n, k) = (16i64, 24i64, 64 + 64 * (t as i64 % 2));
                for round in 0..20 {
                    let a = to_bf16(&rng.vec((m * k) as usize, -1.0, 1.0));
                    let b = to_bf16(&rng.vec((n * k) as usize, -1.0, 1.0));
                    let mut d = vec![0f32; (m * n) as usize];
                    c.gemm(
                        Recipe::Bf16,
                        &TensorView::from_slice(&a, &[m, k]).unwrap(),
                        None,
                        &TensorView::from_slice(&b, &[n, k]).unwrap(),
                        None,
                        None,
                        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
                        Stream::DEFAULT,
                    )
                    .unwrap();
                    let want: Vec<f64> = (0..m * n)
                        .map(|i| {
                            let (r, col) = (i / n, i % n);
                            (0..k)
                                .map(|kk| {
                                    bf16(a[(r * k + kk) as usize]) as f64 * bf16(b[(col * k + kk) as usize]) as f64
                                })
                                .sum()
                        })
                        .collect();
                    assert_close("concurrent gemm", &d, &want, 1e-5, 1e-5);
                    // Interleave a failing call: its message is this thread's own.
                    if round % 5 == t as usize % 5 {
                        let e = c.set_max_sms(-(t as i32) - 1).unwrap_err();
                        assert!(e.message().contains(&format!("got {}", -(t as i32) - 1)), "{e}");
                    }
                    c.set_pdl(round % 2 == 0).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Context>();
    assert_send_sync::<TensorView<'static>>();
    assert_send_sync::<Stream>();
}

/// `half::bf16` and `float8::F8E4M3` slices are tensors too (features `half`, `float8`).
#[cfg(all(feature = "half", feature = "float8"))]
#[test]
fn test_ecosystem_element_types() {
    let c = ctx();
    let (m, n, k) = (4i64, 6i64, 128i64);
    let a: Vec<half::bf16> = (0..m * k).map(|i| half::bf16::from_f32((i % 7) as f32 - 3.0)).collect();
    let b: Vec<half::bf16> = (0..n * k).map(|i| half::bf16::from_f32((i % 5) as f32 * 0.5)).collect();
    let mut d = vec![half::bf16::ZERO; (m * n) as usize];
    c.gemm(
        Recipe::Bf16,
        &TensorView::from_slice(&a, &[m, k]).unwrap(),
        None,
        &TensorView::from_slice(&b, &[n, k]).unwrap(),
        None,
        None,
        &mut TensorViewMut::from_slice(&mut d, &[m, n]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k)
                .map(|kk| a[(i * k + kk) as usize].to_f32() * b[(j * k + kk) as usize].to_f32())
                .sum();
            assert_eq!(d[(i * n + j) as usize].to_f32(), want, "[{i}, {j}]");
        }
    }
    // float8's e4m3 has the same bits as the library's e4m3fn.
    let x: Vec<f32> = (0..256).map(|i| (i as f32 - 128.0) * 1.7).collect();
    let mut out = vec![float8::F8E4M3::ZERO; 256];
    let mut sf = [0f32];
    c.cast_fp8_per_tensor(
        &TensorView::from_slice(&x, &[256]).unwrap(),
        &mut TensorViewMut::from_slice(&mut out, &[256]).unwrap(),
        &mut TensorViewMut::from_slice(&mut sf, &[]).unwrap(),
        Stream::DEFAULT,
    )
    .unwrap();
    for (q, &xi) in out.iter().zip(&x) {
        assert_eq!(q.to_bits(), F8E4M3::from_f32(xi / sf[0]).0);
        assert_eq!(q.to_f32(), e4m3(q.to_bits()));
    }
}
