//! What every binding and the conformance suite share: a seeded generator whose values do not
//! depend on language, strides or threads, DeepGEMM's `calc_diff`, bitwise comparison, output
//! poisoning, and copies between host and device.

use crate::context::{Context, Stream};
use crate::error::{call, Result};
use crate::tensor::{TensorView, TensorViewMut};
use dlgemm_sys as sys;
use std::ffi::c_void;

/// A distribution of [`fill`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Uniform in [lo, hi).
    Uniform {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (exclusive).
        hi: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Integers uniform in `[lo, hi]` (int32 and uint8 tensors).
    Int {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (inclusive).
        hi: f64,
    },
}

/// Fills a CPU tensor of any dtype and strides (`dlg_testing_fill`): the element of row-major
/// logical index i gets f(seed, i), rounded to the dtype (FP8: nearest even, saturating).
pub fn fill(t: &mut TensorViewMut<'_>, seed: u64, dist: Fill) -> Result<()> {
    let (kind, lo, hi) = match dist {
        Fill::Uniform { lo, hi } => (sys::DLG_FILL_UNIFORM, lo, hi),
        Fill::Normal { mean, std } => (sys::DLG_FILL_NORMAL, mean, std),
        Fill::Int { lo, hi } => (sys::DLG_FILL_INT, lo, hi),
    };
    let mut d = t.dl();
    // SAFETY: the descriptor describes memory the view borrows mutably.
    call(|| unsafe { sys::dlg_testing_fill(&mut d, seed, kind, lo, hi) })
}

/// DeepGEMM's `calc_diff` = 1 - 2·Σxy / Σ(x² + y²) in double over two CPU tensors of equal
/// shape (`dlg_testing_calc_diff`). -inf at the same index on both sides is skipped; any other
/// non-finite value gives +inf.
pub fn calc_diff(x: &TensorView<'_>, y: &TensorView<'_>) -> Result<f64> {
    let (x, y) = (x.dl(), y.dl());
    let mut out = 0.0;
    // SAFETY: read-only descriptors and a valid out-pointer.
    call(|| unsafe { sys::dlg_testing_calc_diff(&x, &y, &mut out) })?;
    Ok(out)
}

/// Number of elements that differ bitwise between two CPU tensors of equal shape and dtype
/// (`dlg_testing_count_mismatch`).
pub fn count_mismatch(x: &TensorView<'_>, y: &TensorView<'_>) -> Result<i64> {
    let (x, y) = (x.dl(), y.dl());
    let mut out = 0;
    // SAFETY: as above.
    call(|| unsafe { sys::dlg_testing_count_mismatch(&x, &y, &mut out) })?;
    Ok(out)
}

impl Context {
    /// Sets every byte of the tensor's elements to `byte`, CPU or CUDA (`dlg_testing_poison`).
    pub fn poison(&self, t: &mut TensorViewMut<'_>, byte: u8) -> Result<()> {
        let mut d = t.dl();
        // SAFETY: the descriptor describes memory the view borrows mutably.
        call(|| unsafe { sys::dlg_testing_poison(self.as_raw(), &mut d, byte as i32) })
    }

    /// Copies `src`'s elements into `dst` (same shape and dtype) across CPU/CUDA and strides,
    /// synchronously (`dlg_tensor_copy`).
    pub fn tensor_copy(&self, src: &TensorView<'_>, dst: &mut TensorViewMut<'_>) -> Result<()> {
        let s = src.dl();
        let mut d = dst.dl();
        // SAFETY: as above.
        call(|| unsafe { sys::dlg_tensor_copy(self.as_raw(), &s, &mut d) })
    }

    /// Waits for all work on `stream` (`dlg_stream_synchronize`).
    pub fn stream_synchronize(&self, stream: Stream) -> Result<()> {
        // SAFETY: a Stream is null or a live stream (its constructor's contract).
        call(|| unsafe { sys::dlg_stream_synchronize(self.as_raw(), stream.as_raw()) })
    }

    /// Copies `bytes` between host and device memory, direction inferred, synchronously
    /// (`dlg_memcpy`). [`crate::DeviceBuffer`] offers the safe form.
    ///
    /// # Safety
    /// `dst` must be valid for `bytes` bytes of writes and `src` for as many reads, on the
    /// host or the context's device, not overlapping.
    pub unsafe fn memcpy(&self, dst: *mut c_void, src: *const c_void, bytes: usize) -> Result<()> {
        // SAFETY: the caller guarantees both ranges.
        call(|| unsafe { sys::dlg_memcpy(self.as_raw(), dst, src, bytes) })
    }
}
