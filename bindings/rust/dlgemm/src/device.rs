//! [`DeviceBuffer`]: device memory from the library's own allocator (the driver API), for
//! programs without a GPU framework.

use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::error::{call, Error, Result, Status};
use crate::tensor::{check_byte_span, TensorView, TensorViewMut};
use dlgemm_sys as sys;
use std::ffi::c_void;

/// Bytes of memory on a context's CUDA device, freed on drop (`dlg_device_alloc` /
/// `dlg_device_free`).
#[derive(Debug)]
pub struct DeviceBuffer<'ctx> {
    ctx: &'ctx Context,
    ptr: *mut c_void,
    bytes: usize,
}

// SAFETY: owns device memory; the context is Sync.
unsafe impl Send for DeviceBuffer<'_> {}
// SAFETY: shared access only reads the pointer and length.
unsafe impl Sync for DeviceBuffer<'_> {}

impl Drop for DeviceBuffer<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by dlg_device_alloc on this context; freed once. A failure here
        // has no one to report to.
        unsafe { sys::dlg_device_free(self.ctx.as_raw(), self.ptr) };
    }
}

impl Context {
    /// Allocates `bytes` on the context's device (fails on a CPU context or without a driver).
    pub fn device_alloc(&self, bytes: usize) -> Result<DeviceBuffer<'_>> {
        let mut ptr = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        call(|| unsafe { sys::dlg_device_alloc(self.as_raw(), bytes, &mut ptr) })?;
        Ok(DeviceBuffer { ctx: self, ptr, bytes })
    }
}

impl<'ctx> DeviceBuffer<'ctx> {
    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The device pointer.
    pub fn as_ptr(&self) -> *const c_void {
        self.ptr
    }

    /// The device pointer, writable.
    pub fn as_mut_ptr(&mut self) -> *mut c_void {
        self.ptr
    }

    /// Copies `src` to the start of the buffer (synchronous).
    pub fn copy_from_host<T: Element>(&mut self, src: &[T]) -> Result<()> {
        let n = std::mem::size_of_val(src);
        self.fits("src", n)?;
        // SAFETY: `n` bytes fit in the buffer and are readable from `src`.
        unsafe { self.ctx.memcpy(self.ptr, src.as_ptr().cast(), n) }
    }

    /// Copies the start of the buffer into `dst` (synchronous).
    pub fn copy_to_host<T: Element>(&self, dst: &mut [T]) -> Result<()> {
        let n = std::mem::size_of_val(dst);
        self.fits("dst", n)?;
        // SAFETY: `n` bytes fit in the buffer and are writable in `dst`, and every bit
        // pattern is a valid `T` (the `Element` contract).
        unsafe { self.ctx.memcpy(dst.as_mut_ptr().cast(), self.ptr, n) }
    }

    /// A device tensor over the buffer: row-major when `strides` is `None` (elements), which
    /// must fit in the buffer.
    pub fn view(&self, dtype: DType, shape: &[i64], strides: Option<&[i64]>) -> Result<TensorView<'_>> {
        check_byte_span("buffer", self.bytes, dtype, shape, strides)?;
        // SAFETY: the span was checked against the buffer, which outlives the view.
        unsafe { TensorView::from_raw_parts(self.ptr, self.ctx.device(), dtype, shape, strides) }
    }

    /// A writable device tensor over the buffer (see [`DeviceBuffer::view`]).
    pub fn view_mut(&mut self, dtype: DType, shape: &[i64], strides: Option<&[i64]>) -> Result<TensorViewMut<'_>> {
        check_byte_span("buffer", self.bytes, dtype, shape, strides)?;
        // SAFETY: as above, and `&mut self` makes the view the only user.
        unsafe { TensorViewMut::from_raw_parts(self.ptr, self.ctx.device(), dtype, shape, strides) }
    }

    fn fits(&self, what: &str, n: usize) -> Result<()> {
        if n > self.bytes {
            return Err(Error::new(
                Status::Shape,
                format!("{what}: {n} bytes do not fit in a buffer of {}", self.bytes),
            ));
        }
        Ok(())
    }
}
