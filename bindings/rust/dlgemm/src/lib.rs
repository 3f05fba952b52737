//! Safe Rust API of **dlgemm**: DeepGEMM's FP8/BF16 dense GEMMs, MoE grouped GEMMs, MQA
//! logits and FP8 cast utilities behind one C ABI over DLPack. Every op runs on CPU tensors
//! (the reference path) and on CUDA tensors (kernels compiled at run time by NVRTC).
//!
//! - A [`Context`] owns a device (or is CPU only), its kernel cache and knobs; share one per
//!   device across threads (`Send + Sync`).
//! - Tensors are borrowed views: [`TensorView`] for inputs, [`TensorViewMut`] for outputs,
//!   made from slices (CPU), from raw device pointers (`unsafe`), from DLPack tensors, or
//!   from a [`DeviceBuffer`].
//! - Every op is a method of [`Context`] taking an explicit [`Stream`] and returning
//!   [`Result`]; an [`Error`] carries a [`Status`] and the library's message naming the
//!   argument at fault.
//!
//! ```
//! use dlgemm::{Bf16, Context, Recipe, Stream, TensorView, TensorViewMut};
//!
//! # fn main() -> dlgemm::Result<()> {
//! let ctx = Context::cpu()?;
//! let (m, n, k) = (2, 3, 4);
//! let a: Vec<Bf16> = (0..m * k).map(|i| Bf16::from_f32(i as f32)).collect();
//! let b: Vec<Bf16> = (0..n * k).map(|i| Bf16::from_f32(1.0 - i as f32 / 8.0)).collect();
//! let mut d = vec![0f32; (m * n) as usize];
//! ctx.gemm(
//!     Recipe::Bf16,
//!     &TensorView::from_slice(&a, &[m, k])?, None,
//!     &TensorView::from_slice(&b, &[n, k])?, None,
//!     None,
//!     &mut TensorViewMut::from_slice(&mut d, &[m, n])?,
//!     Stream::DEFAULT,
//! )?;
//! assert_eq!(d[0], 0.0 * 1.0 + 1.0 * 0.875 + 2.0 * 0.75 + 3.0 * 0.625);
//! # Ok(()) }
//! ```
//!
//! Features: `half` makes `half::bf16` and `float8` makes `float8::F8E4M3` tensor element
//! types, besides this crate's own [`Bf16`] and [`F8E4M3`].
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod attention;
mod context;
mod device;
mod dtype;
mod error;
mod gemm;
mod moe;
mod quant;
mod tensor;
pub mod testing;

pub use attention::{mqa_logits_row_stride, paged_mqa_logits_metadata_rows};
pub use context::{runtime_info, Context, DeviceInfo, RuntimeInfo, Stream};
pub use device::DeviceBuffer;
pub use dtype::{Bf16, DType, Element, F8E4M3};
pub use error::{Error, Result, Status};
pub use gemm::Recipe;
pub use moe::{mk_alignment_for_contiguous_layout, GroupLayout};
pub use quant::tma_aligned_size;
pub use tensor::{Device, TensorView, TensorViewMut, MAX_NDIM};

/// The raw declarations, for what this crate does not wrap.
pub use dlgemm_sys as sys;

/// Version of the headers this crate was built against (major·10000 + minor·100 + patch).
pub const HEADER_VERSION: u32 = sys::DLG_VERSION_NUMBER;

/// Version of the library actually linked, as [`HEADER_VERSION`] (`dlg_version`).
pub fn version() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::dlg_version() as u32 }
}

/// "MAJOR.MINOR.PATCH" of the library actually linked (`dlg_version_string`).
pub fn version_string() -> &'static str {
    // SAFETY: returns a static string.
    unsafe { error::static_str(sys::dlg_version_string()) }
}
