//! Borrowed tensor views: [`TensorView`] (read) and [`TensorViewMut`] (written by an op).
//! A view holds the DLPack description of memory it borrows for `'a`; the library never
//! keeps a view past the call it is passed to.

use crate::dtype::{DType, Element};
use crate::error::{Error, Result, Status};
use dlgemm_sys as sys;
use std::ffi::c_void;
use std::marker::PhantomData;

/// Most dimensions a tensor may have (the library's limit).
pub const MAX_NDIM: usize = 8;

/// Where a tensor's memory lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory: the reference path.
    Cpu,
    /// Memory of CUDA device `n`: the GPU kernels.
    Cuda(i32),
    /// Pinned host memory (`kDLCUDAHost`), treated as host memory.
    CudaHost,
    /// Any other DLPack device, passed through so that the library can say what is wrong.
    Other {
        /// `DLDeviceType`.
        device_type: u32,
        /// Device ordinal.
        id: i32,
    },
}

impl Device {
    /// The DLPack descriptor.
    pub fn to_dl(self) -> sys::DLDevice {
        let (device_type, device_id) = match self {
            Device::Cpu => (sys::kDLCPU, 0),
            Device::Cuda(n) => (sys::kDLCUDA, n),
            Device::CudaHost => (sys::kDLCUDAHost, 0),
            Device::Other { device_type, id } => (device_type, id),
        };
        sys::DLDevice { device_type, device_id }
    }

    /// The device a DLPack descriptor names.
    pub fn from_dl(d: sys::DLDevice) -> Device {
        match d.device_type {
            sys::kDLCPU => Device::Cpu,
            sys::kDLCUDA => Device::Cuda(d.device_id),
            sys::kDLCUDAHost => Device::CudaHost,
            other => Device::Other {
                device_type: other,
                id: d.device_id,
            },
        }
    }
}

/// The description shared by both view kinds: everything of a `DLTensor` but the pointers to
/// shape and strides, which are made afresh, pointing into `self`, for each call.
#[derive(Clone, Copy, Debug)]
struct Parts {
    data: *mut c_void,
    byte_offset: u64,
    device: Device,
    dtype: DType,
    ndim: usize,
    shape: [i64; MAX_NDIM],
    strides: [i64; MAX_NDIM],
}

impl Parts {
    /// Checks rank and extents and fills in row-major strides when none are given.
    fn new(data: *mut c_void, device: Device, dtype: DType, shape: &[i64], strides: Option<&[i64]>) -> Result<Parts> {
        if shape.len() > MAX_NDIM {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("shape: at most {MAX_NDIM} dimensions, got {}", shape.len()),
            ));
        }
        if let Some(d) = shape.iter().position(|&e| e < 0) {
            return Err(Error::new(
                Status::Shape,
                format!("shape: dim {d} is negative ({})", shape[d]),
            ));
        }
        let mut p = Parts {
            data,
            byte_offset: 0,
            device,
            dtype,
            ndim: shape.len(),
            shape: [0; MAX_NDIM],
            strides: [0; MAX_NDIM],
        };
        p.shape[..shape.len()].copy_from_slice(shape);
        match strides {
            Some(s) if s.len() != shape.len() => {
                return Err(Error::new(
                    Status::Shape,
                    format!("strides: expected {} entries, got {}", shape.len(), s.len()),
                ))
            }
            Some(s) => p.strides[..s.len()].copy_from_slice(s),
            None => {
                let mut running = 1i64;
                for d in (0..shape.len()).rev() {
                    p.strides[d] = running;
                    running = running.saturating_mul(shape[d].max(1));
                }
            }
        }
        Ok(p)
    }

    /// From a DLPack tensor (shape and strides copied).
    ///
    /// # Safety
    /// `t.shape` must point to `t.ndim` extents and `t.strides` be null or point to as many.
    unsafe fn from_dl(t: &sys::DLTensor) -> Result<Parts> {
        if t.ndim < 0 || t.ndim as usize > MAX_NDIM {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("tensor: ndim must be in 0..={MAX_NDIM}, got {}", t.ndim),
            ));
        }
        let n = t.ndim as usize;
        // SAFETY: the caller guarantees `n` extents (and strides when non-null).
        let shape = if n == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(t.shape, n) }
        };
        // SAFETY: as above.
        let strides = (!t.strides.is_null() && n > 0).then(|| unsafe { std::slice::from_raw_parts(t.strides, n) });
        let mut p = Parts::new(
            t.data,
            Device::from_dl(t.device),
            DType::from_dl(t.dtype),
            shape,
            strides,
        )?;
        p.byte_offset = t.byte_offset;
        Ok(p)
    }

    fn dl(&self) -> sys::DLTensor {
        sys::DLTensor {
            data: self.data,
            device: self.device.to_dl(),
            ndim: self.ndim as i32,
            dtype: self.dtype.to_dl(),
            // The library only reads these; they point into `self`, which the caller borrows
            // for the duration of the call.
            shape: self.shape.as_ptr().cast_mut(),
            strides: self.strides.as_ptr().cast_mut(),
            byte_offset: self.byte_offset,
        }
    }

    fn numel(&self) -> i64 {
        self.shape[..self.ndim].iter().product()
    }

    fn transpose(mut self, d0: usize, d1: usize) -> Result<Parts> {
        if d0 >= self.ndim || d1 >= self.ndim {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("transpose: dims {d0} and {d1} out of range for ndim {}", self.ndim),
            ));
        }
        self.shape.swap(d0, d1);
        self.strides.swap(d0, d1);
        Ok(self)
    }
}

/// Checks that a strided view of `shape` stays inside `len` elements (non-negative strides).
fn check_span(what: &str, len: usize, shape: &[i64], strides: Option<&[i64]>) -> Result<()> {
    let numel: i64 = shape.iter().product();
    if strides.is_none() {
        if numel as u64 != len as u64 {
            return Err(Error::new(
                Status::Shape,
                format!("{what}: {len} elements, shape {shape:?} needs {numel}"),
            ));
        }
        return Ok(());
    }
    let strides = strides.unwrap_or_default();
    if strides.iter().any(|&s| s < 0) {
        return Err(Error::new(
            Status::Layout,
            format!("{what}: negative strides {strides:?} are not supported"),
        ));
    }
    if numel == 0 {
        return Ok(());
    }
    let last: i128 = shape
        .iter()
        .zip(strides)
        .map(|(&e, &s)| (e as i128 - 1) * s as i128)
        .sum();
    if last >= len as i128 {
        return Err(Error::new(
            Status::Shape,
            format!("{what}: shape {shape:?} with strides {strides:?} reaches element {last}, past {len}"),
        ));
    }
    Ok(())
}

/// Bytes a view of `shape`/`strides` of `dtype` spans, checked against a buffer of `bytes`.
pub(crate) fn check_byte_span(
    what: &str,
    bytes: usize,
    dtype: DType,
    shape: &[i64],
    strides: Option<&[i64]>,
) -> Result<()> {
    let size = dtype
        .size_bytes()
        .ok_or_else(|| Error::new(Status::Dtype, format!("{what}: cannot size elements of {dtype}")))?;
    let elems = bytes / size;
    match strides {
        // Row-major: the buffer may be larger than the view.
        None => {
            let numel: i64 = shape.iter().product();
            if numel < 0 || numel as u64 > elems as u64 {
                return Err(Error::new(
                    Status::Shape,
                    format!("{what}: shape {shape:?} needs {numel} elements of {dtype}, buffer holds {elems}"),
                ));
            }
            Ok(())
        }
        Some(_) => check_span(what, elems, shape, strides),
    }
}

macro_rules! view_accessors {
    () => {
        /// Extents of each dimension.
        pub fn shape(&self) -> &[i64] {
            &self.parts.shape[..self.parts.ndim]
        }
        /// Element strides of each dimension.
        pub fn strides(&self) -> &[i64] {
            &self.parts.strides[..self.parts.ndim]
        }
        /// Number of dimensions.
        pub fn ndim(&self) -> usize {
            self.parts.ndim
        }
        /// Number of elements (1 for a 0-d tensor).
        pub fn numel(&self) -> i64 {
            self.parts.numel()
        }
        /// Element type.
        pub fn dtype(&self) -> DType {
            self.parts.dtype
        }
        /// Where the memory lives.
        pub fn device(&self) -> Device {
            self.parts.device
        }
        /// The data pointer (before `byte_offset`).
        pub fn data_ptr(&self) -> *const c_void {
            self.parts.data
        }
        /// Bytes from the data pointer to the first element.
        pub fn byte_offset(&self) -> u64 {
            self.parts.byte_offset
        }
        /// Bytes spanned from the first to one past the last element (`dlg_tensor_span_bytes`).
        pub fn span_bytes(&self) -> i64 {
            let t = self.parts.dl();
            // SAFETY: reads the descriptor only.
            unsafe { sys::dlg_tensor_span_bytes(&t) }
        }
        /// The DLPack descriptor of this view. Its `shape` and `strides` point into `self`:
        /// they are valid while `self` is neither moved nor dropped, and must not be written.
        pub fn to_dltensor(&self) -> sys::DLTensor {
            self.parts.dl()
        }
    };
}

/// A read-only tensor borrowing its memory for `'a`.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    parts: Parts,
    _borrow: PhantomData<&'a [u8]>,
}

// SAFETY: a view is a shared borrow of plain data (like `&'a [T]` with `T: Sync`).
unsafe impl Send for TensorView<'_> {}
// SAFETY: as above.
unsafe impl Sync for TensorView<'_> {}

impl<'a> TensorView<'a> {
    /// A row-major CPU tensor over `data`; `shape` must hold exactly `data.len()` elements
    /// (an empty `shape` is a 0-d scalar of one element).
    pub fn from_slice<T: Element>(data: &'a [T], shape: &[i64]) -> Result<Self> {
        check_span("data", data.len(), shape, None)?;
        Self::host(data.as_ptr() as *mut c_void, T::DTYPE, shape, None)
    }

    /// A strided CPU tensor over `data` (non-negative strides, in elements); every element it
    /// addresses must lie inside the slice.
    pub fn from_slice_strided<T: Element>(data: &'a [T], shape: &[i64], strides: &[i64]) -> Result<Self> {
        if strides.len() != shape.len() {
            return Err(Error::new(
                Status::Shape,
                format!("strides: expected {} entries, got {}", shape.len(), strides.len()),
            ));
        }
        check_span("data", data.len(), shape, Some(strides))?;
        Self::host(data.as_ptr() as *mut c_void, T::DTYPE, shape, Some(strides))
    }

    fn host(data: *mut c_void, dtype: DType, shape: &[i64], strides: Option<&[i64]>) -> Result<Self> {
        Ok(TensorView {
            parts: Parts::new(data, Device::Cpu, dtype, shape, strides)?,
            _borrow: PhantomData,
        })
    }

    /// A tensor over raw memory on any device (e.g. CUDA memory from another framework);
    /// `strides` in elements, `None` for row-major.
    ///
    /// # Safety
    /// `data` must address every element the shape and strides reach, of `dtype`, on
    /// `device`, valid for reads and not written by anyone else for `'a`.
    pub unsafe fn from_raw_parts(
        data: *const c_void,
        device: Device,
        dtype: DType,
        shape: &[i64],
        strides: Option<&[i64]>,
    ) -> Result<Self> {
        Ok(TensorView {
            parts: Parts::new(data.cast_mut(), device, dtype, shape, strides)?,
            _borrow: PhantomData,
        })
    }

    /// A view of a DLPack `DLTensor` (its descriptor is copied; the data is borrowed).
    ///
    /// # Safety
    /// `t` must be a valid DLPack tensor whose data stays valid and unwritten for `'a`.
    pub unsafe fn from_dltensor(t: &'a sys::DLTensor) -> Result<Self> {
        // SAFETY: a valid DLPack tensor (the caller's contract).
        Ok(TensorView {
            parts: unsafe { Parts::from_dl(t)? },
            _borrow: PhantomData,
        })
    }

    /// A view of a legacy DLPack managed tensor (the producer keeps ownership: call its
    /// deleter when done, after the view is gone).
    ///
    /// # Safety
    /// As [`TensorView::from_dltensor`].
    pub unsafe fn from_dlpack(t: &'a sys::DLManagedTensor) -> Result<Self> {
        // SAFETY: the caller's contract covers the embedded tensor.
        unsafe { Self::from_dltensor(&t.dl_tensor) }
    }

    /// A view of a versioned DLPack (1.x) managed tensor.
    ///
    /// # Safety
    /// As [`TensorView::from_dltensor`].
    pub unsafe fn from_dlpack_versioned(t: &'a sys::DLManagedTensorVersioned) -> Result<Self> {
        check_dlpack_major(t)?;
        // SAFETY: the caller's contract covers the embedded tensor.
        unsafe { Self::from_dltensor(&t.dl_tensor) }
    }

    /// The same memory with dimensions `d0` and `d1` swapped (a transposed view: e.g. an
    /// "M-major" A of a GEMM is the transpose of a row-major `[K, M]` tensor).
    pub fn transpose(self, d0: usize, d1: usize) -> Result<Self> {
        Ok(TensorView {
            parts: self.parts.transpose(d0, d1)?,
            _borrow: PhantomData,
        })
    }

    view_accessors!();

    pub(crate) fn dl(&self) -> sys::DLTensor {
        self.parts.dl()
    }
}

/// A tensor an op writes, borrowing its memory mutably for `'a`.
#[derive(Debug)]
pub struct TensorViewMut<'a> {
    parts: Parts,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: an exclusive borrow of plain data (like `&'a mut [T]`).
unsafe impl Send for TensorViewMut<'_> {}
// SAFETY: shared access only reads the descriptor.
unsafe impl Sync for TensorViewMut<'_> {}

impl<'a> TensorViewMut<'a> {
    /// A row-major CPU tensor over `data`; `shape` must hold exactly `data.len()` elements.
    pub fn from_slice<T: Element>(data: &'a mut [T], shape: &[i64]) -> Result<Self> {
        check_span("data", data.len(), shape, None)?;
        Self::host(data.as_mut_ptr() as *mut c_void, T::DTYPE, shape, None)
    }

    /// A strided CPU tensor over `data` (non-negative strides, in elements); every element
    /// it addresses must lie inside the slice. Strides that make two elements share memory
    /// are rejected by the ops that write.
    pub fn from_slice_strided<T: Element>(data: &'a mut [T], shape: &[i64], strides: &[i64]) -> Result<Self> {
        if strides.len() != shape.len() {
            return Err(Error::new(
                Status::Shape,
                format!("strides: expected {} entries, got {}", shape.len(), strides.len()),
            ));
        }
        check_span("data", data.len(), shape, Some(strides))?;
        Self::host(data.as_mut_ptr() as *mut c_void, T::DTYPE, shape, Some(strides))
    }

    fn host(data: *mut c_void, dtype: DType, shape: &[i64], strides: Option<&[i64]>) -> Result<Self> {
        Ok(TensorViewMut {
            parts: Parts::new(data, Device::Cpu, dtype, shape, strides)?,
            _borrow: PhantomData,
        })
    }

    /// A writable tensor over raw memory on any device; `strides` in elements, `None` for
    /// row-major.
    ///
    /// # Safety
    /// `data` must address every element the shape and strides reach, of `dtype`, on
    /// `device`, valid for reads and writes, and used by no one else for `'a`.
    pub unsafe fn from_raw_parts(
        data: *mut c_void,
        device: Device,
        dtype: DType,
        shape: &[i64],
        strides: Option<&[i64]>,
    ) -> Result<Self> {
        Ok(TensorViewMut {
            parts: Parts::new(data, device, dtype, shape, strides)?,
            _borrow: PhantomData,
        })
    }

    /// A writable view of a DLPack `DLTensor`.
    ///
    /// # Safety
    /// `t` must be a valid DLPack tensor whose data is writable and used by no one else
    /// for `'a`.
    pub unsafe fn from_dltensor(t: &'a mut sys::DLTensor) -> Result<Self> {
        // SAFETY: a valid DLPack tensor (the caller's contract).
        Ok(TensorViewMut {
            parts: unsafe { Parts::from_dl(t)? },
            _borrow: PhantomData,
        })
    }

    /// A writable view of a legacy DLPack managed tensor.
    ///
    /// # Safety
    /// As [`TensorViewMut::from_dltensor`].
    pub unsafe fn from_dlpack(t: &'a mut sys::DLManagedTensor) -> Result<Self> {
        // SAFETY: the caller's contract covers the embedded tensor.
        unsafe { Self::from_dltensor(&mut t.dl_tensor) }
    }

    /// A writable view of a versioned DLPack managed tensor; fails with
    /// [`Status::InvalidArgument`] when the producer marked it read-only.
    ///
    /// # Safety
    /// As [`TensorViewMut::from_dltensor`].
    pub unsafe fn from_dlpack_versioned(t: &'a mut sys::DLManagedTensorVersioned) -> Result<Self> {
        check_dlpack_major(t)?;
        if t.flags & sys::DLPACK_FLAG_BITMASK_READ_ONLY as u64 != 0 {
            return Err(Error::new(
                Status::InvalidArgument,
                "tensor: DLPack tensor is marked read-only",
            ));
        }
        // SAFETY: the caller's contract covers the embedded tensor.
        unsafe { Self::from_dltensor(&mut t.dl_tensor) }
    }

    /// A read-only view of the same memory, for as long as this one is borrowed.
    pub fn as_view(&self) -> TensorView<'_> {
        TensorView {
            parts: self.parts,
            _borrow: PhantomData,
        }
    }

    /// A shorter-lived writable view of the same memory (to pass it on and keep this one).
    pub fn reborrow(&mut self) -> TensorViewMut<'_> {
        TensorViewMut {
            parts: self.parts,
            _borrow: PhantomData,
        }
    }

    /// The same memory with dimensions `d0` and `d1` swapped.
    pub fn transpose(self, d0: usize, d1: usize) -> Result<Self> {
        Ok(TensorViewMut {
            parts: self.parts.transpose(d0, d1)?,
            _borrow: PhantomData,
        })
    }

    view_accessors!();

    /// The data pointer (before `byte_offset`), writable.
    pub fn data_mut_ptr(&mut self) -> *mut c_void {
        self.parts.data
    }

    pub(crate) fn dl(&self) -> sys::DLTensor {
        self.parts.dl()
    }
}

impl<'a> From<TensorViewMut<'a>> for TensorView<'a> {
    fn from(v: TensorViewMut<'a>) -> TensorView<'a> {
        TensorView {
            parts: v.parts,
            _borrow: PhantomData,
        }
    }
}

fn check_dlpack_major(t: &sys::DLManagedTensorVersioned) -> Result<()> {
    if t.version.major != sys::DLPACK_MAJOR_VERSION {
        return Err(Error::new(
            Status::InvalidArgument,
            format!(
                "tensor: DLPack major version {} (this crate reads {})",
                t.version.major,
                sys::DLPACK_MAJOR_VERSION
            ),
        ));
    }
    Ok(())
}

/// The descriptor of an optional input (built on the caller's stack for one call).
pub(crate) fn opt_dl(v: Option<&TensorView<'_>>) -> Option<sys::DLTensor> {
    v.map(TensorView::dl)
}

/// The pointer the C ABI takes for an optional input: NULL for `None`.
pub(crate) fn opt_ptr(t: &Option<sys::DLTensor>) -> *const sys::DLTensor {
    t.as_ref().map_or(std::ptr::null(), |t| t as *const sys::DLTensor)
}
