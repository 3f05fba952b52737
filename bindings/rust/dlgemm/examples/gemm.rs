//! FP8 GEMM with 1×128 / 128×128 scaling (DeepSeek V3's recipe) through the safe API:
//! quantise A and B with the library's casts, multiply on the CPU reference path, and, when a
//! CUDA device is there, again on the GPU with device memory from the library's allocator,
//! comparing the two with DeepGEMM's calc_diff.
//!
//!     cargo run --example gemm

use dlgemm::testing::{self, Fill};
use dlgemm::*;

const M: i64 = 256;
const N: i64 = 512;
const K: i64 = 1024;

/// Host inputs: A, B quantised to FP8, their scales (sfa per token, sfb per 128×128 block).
struct Inputs {
    a: Vec<F8E4M3>,
    sfa: Vec<f32>,
    b: Vec<F8E4M3>,
    sfb: Vec<f32>,
}

fn prepare(cpu: &Context) -> Result<Inputs> {
    let mut x = vec![0f32; (M * K) as usize];
    let mut w = vec![0f32; (N * K) as usize];
    testing::fill(
        &mut TensorViewMut::from_slice(&mut x, &[M, K])?,
        1,
        Fill::Normal { mean: 0.0, std: 1.0 },
    )?;
    testing::fill(
        &mut TensorViewMut::from_slice(&mut w, &[N, K])?,
        2,
        Fill::Normal { mean: 0.0, std: 0.05 },
    )?;
    let kb = K / 128;
    let mut inp = Inputs {
        a: vec![F8E4M3(0); (M * K) as usize],
        sfa: vec![0.0; (M * kb) as usize],
        b: vec![F8E4M3(0); (N * K) as usize],
        sfb: vec![0.0; (N / 128 * kb) as usize],
    };
    cpu.cast_fp8_per_token(
        &TensorView::from_slice(&x, &[M, K])?,
        false,
        &mut TensorViewMut::from_slice(&mut inp.a, &[M, K])?,
        &mut TensorViewMut::from_slice(&mut inp.sfa, &[M, kb])?,
        Stream::DEFAULT,
    )?;
    cpu.cast_fp8_per_block(
        &TensorView::from_slice(&w, &[N, K])?,
        false,
        &mut TensorViewMut::from_slice(&mut inp.b, &[N, K])?,
        &mut TensorViewMut::from_slice(&mut inp.sfb, &[N / 128, kb])?,
        Stream::DEFAULT,
    )?;
    Ok(inp)
}

fn gemm_cpu(cpu: &Context, inp: &Inputs) -> Result<Vec<Bf16>> {
    let kb = K / 128;
    let mut d = vec![Bf16(0); (M * N) as usize];
    cpu.gemm(
        Recipe::Fp8_1d2d,
        &TensorView::from_slice(&inp.a, &[M, K])?,
        Some(&TensorView::from_slice(&inp.sfa, &[M, kb])?),
        &TensorView::from_slice(&inp.b, &[N, K])?,
        Some(&TensorView::from_slice(&inp.sfb, &[N / 128, kb])?),
        None,
        &mut TensorViewMut::from_slice(&mut d, &[M, N])?,
        Stream::DEFAULT,
    )?;
    Ok(d)
}

/// The same GEMM on device 0: inputs copied up, sfa moved to the TMA-aligned MN-major layout
/// the kernels take, D copied back.
fn gemm_gpu(inp: &Inputs) -> Result<Vec<Bf16>> {
    let gpu = Context::new(0)?;
    let info = gpu.device_info()?;
    println!(
        "GPU: {} (sm_{}{}, {} SMs)",
        info.name, info.sm_major, info.sm_minor, info.num_sms
    );
    let kb = K / 128;
    let ld = tma_aligned_size(M, 4);
    let mut a = gpu.device_alloc(inp.a.len())?;
    let mut b = gpu.device_alloc(inp.b.len())?;
    let mut sfa_rows = gpu.device_alloc(inp.sfa.len() * 4)?;
    let mut sfa = gpu.device_alloc((ld * kb * 4) as usize)?;
    let mut sfb = gpu.device_alloc(inp.sfb.len() * 4)?;
    let mut d = gpu.device_alloc((M * N * 2) as usize)?;
    a.copy_from_host(&inp.a)?;
    b.copy_from_host(&inp.b)?;
    sfa_rows.copy_from_host(&inp.sfa)?;
    sfb.copy_from_host(&inp.sfb)?;
    let stream = Stream::DEFAULT;
    gpu.transform_sf(
        &sfa_rows.view(DType::F32, &[M, kb], None)?,
        &mut sfa.view_mut(DType::F32, &[M, kb], Some(&[1, ld]))?,
        stream,
    )?;
    gpu.gemm(
        Recipe::Fp8_1d2d,
        &a.view(DType::F8E4M3, &[M, K], None)?,
        Some(&sfa.view(DType::F32, &[M, kb], Some(&[1, ld]))?),
        &b.view(DType::F8E4M3, &[N, K], None)?,
        Some(&sfb.view(DType::F32, &[N / 128, kb], None)?),
        None,
        &mut d.view_mut(DType::BF16, &[M, N], None)?,
        stream,
    )?;
    gpu.stream_synchronize(stream)?;
    let mut out = vec![Bf16(0); (M * N) as usize];
    d.copy_to_host(&mut out)?;
    Ok(out)
}

fn main() -> Result<()> {
    println!("dlgemm {} (headers {})", version_string(), HEADER_VERSION);
    let cpu = Context::cpu()?;
    let inp = prepare(&cpu)?;
    let d_cpu = gemm_cpu(&cpu, &inp)?;
    let d_cpu_view = TensorView::from_slice(&d_cpu, &[M, N])?;
    println!(
        "CPU: FP8 1D2D GEMM {M}x{N}x{K} -> bf16, D[0][0..4] = {:?}",
        d_cpu[..4].iter().map(|v| v.to_f32()).collect::<Vec<_>>()
    );

    let rt = runtime_info();
    if rt.device_count == 0 {
        println!(
            "GPU: skipped ({})",
            if rt.why.is_empty() { "no CUDA device" } else { &rt.why }
        );
        return Ok(());
    }
    match gemm_gpu(&inp) {
        Ok(d_gpu) => {
            let diff = testing::calc_diff(&TensorView::from_slice(&d_gpu, &[M, N])?, &d_cpu_view)?;
            println!("GPU: same GEMM on device 0, calc_diff vs CPU = {diff:.3e}");
            if diff > 1e-3 {
                return Err(Error::new(
                    Status::Internal,
                    format!("GPU result differs from the CPU reference (calc_diff {diff})"),
                ));
            }
        }
        Err(e) if e.status() == Status::Unsupported => println!("GPU: not available for this problem yet: {e}"),
        Err(e) => return Err(e),
    }
    Ok(())
}
