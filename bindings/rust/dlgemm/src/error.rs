//! Status codes and the error type. Every call into the C library goes through [`call`], the
//! one place where a C status becomes a `Result` carrying the library's message.

use dlgemm_sys as sys;
use std::ffi::CStr;
use std::fmt;

/// The kind of a failure: one variant per C status code (`dlg_status_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// `DLG_OK`: success (never the status of an [`Error`] returned by this crate).
    Ok,
    /// `DLG_ERR_INVALID_ARGUMENT`: a null, a bad enum or a bad value.
    InvalidArgument,
    /// `DLG_ERR_DTYPE`: a tensor has the wrong element type.
    Dtype,
    /// `DLG_ERR_SHAPE`: ranks or extents disagree.
    Shape,
    /// `DLG_ERR_LAYOUT`: unsupported strides or alignment.
    Layout,
    /// `DLG_ERR_DEVICE`: tensors on different or unsupported devices.
    Device,
    /// `DLG_ERR_UNSUPPORTED`: a valid request this build or device cannot run.
    Unsupported,
    /// `DLG_ERR_NO_DRIVER`: the CUDA driver is missing, or there is no GPU.
    NoDriver,
    /// `DLG_ERR_NO_NVRTC`: NVRTC could not be loaded.
    NoNvrtc,
    /// `DLG_ERR_COMPILE`: NVRTC rejected a kernel.
    Compile,
    /// `DLG_ERR_CUDA`: a CUDA driver call failed.
    Cuda,
    /// `DLG_ERR_OUT_OF_MEMORY`: an allocation failed.
    OutOfMemory,
    /// `DLG_ERR_IO`: trouble with the kernel cache directory.
    Io,
    /// `DLG_ERR_INTERNAL`: a bug in the library.
    Internal,
    /// A code this crate does not know (a newer library); the raw value.
    Unknown(u32),
}

impl Status {
    /// Every status the crate knows, in code order (`Ok` first).
    pub const ALL: [Status; 14] = [
        Status::Ok,
        Status::InvalidArgument,
        Status::Dtype,
        Status::Shape,
        Status::Layout,
        Status::Device,
        Status::Unsupported,
        Status::NoDriver,
        Status::NoNvrtc,
        Status::Compile,
        Status::Cuda,
        Status::OutOfMemory,
        Status::Io,
        Status::Internal,
    ];

    /// The status of a raw C code.
    pub fn from_raw(code: u32) -> Status {
        match code {
            sys::DLG_OK => Status::Ok,
            sys::DLG_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::DLG_ERR_DTYPE => Status::Dtype,
            sys::DLG_ERR_SHAPE => Status::Shape,
            sys::DLG_ERR_LAYOUT => Status::Layout,
            sys::DLG_ERR_DEVICE => Status::Device,
            sys::DLG_ERR_UNSUPPORTED => Status::Unsupported,
            sys::DLG_ERR_NO_DRIVER => Status::NoDriver,
            sys::DLG_ERR_NO_NVRTC => Status::NoNvrtc,
            sys::DLG_ERR_COMPILE => Status::Compile,
            sys::DLG_ERR_CUDA => Status::Cuda,
            sys::DLG_ERR_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::DLG_ERR_IO => Status::Io,
            sys::DLG_ERR_INTERNAL => Status::Internal,
            other => Status::Unknown(other),
        }
    }

    /// The raw C code.
    pub fn to_raw(self) -> u32 {
        match self {
            Status::Ok => sys::DLG_OK,
            Status::InvalidArgument => sys::DLG_ERR_INVALID_ARGUMENT,
            Status::Dtype => sys::DLG_ERR_DTYPE,
            Status::Shape => sys::DLG_ERR_SHAPE,
            Status::Layout => sys::DLG_ERR_LAYOUT,
            Status::Device => sys::DLG_ERR_DEVICE,
            Status::Unsupported => sys::DLG_ERR_UNSUPPORTED,
            Status::NoDriver => sys::DLG_ERR_NO_DRIVER,
            Status::NoNvrtc => sys::DLG_ERR_NO_NVRTC,
            Status::Compile => sys::DLG_ERR_COMPILE,
            Status::Cuda => sys::DLG_ERR_CUDA,
            Status::OutOfMemory => sys::DLG_ERR_OUT_OF_MEMORY,
            Status::Io => sys::DLG_ERR_IO,
            Status::Internal => sys::DLG_ERR_INTERNAL,
            Status::Unknown(code) => code,
        }
    }

    /// The library's short description, e.g. "unsupported dtype" (`dlg_status_string`).
    pub fn description(self) -> &'static str {
        // SAFETY: returns a pointer to a static NUL-terminated string for any value.
        unsafe { static_str(sys::dlg_status_string(self.to_raw())) }
    }

    /// The C enumerator name, e.g. "DLG_ERR_DTYPE" (`dlg_status_name`).
    pub fn name(self) -> &'static str {
        // SAFETY: as above.
        unsafe { static_str(sys::dlg_status_name(self.to_raw())) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A failed call: its [`Status`] and the library's message, which names the argument and
/// the reason (e.g. "b: expected dtype float8_e4m3fn, got bfloat16").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// An error raised on the Rust side (e.g. a slice too short for its shape), worded as the
    /// C library words its own.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The message (never empty).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.description(),
            self.status.name(),
            self.message
        )
    }
}

impl std::error::Error for Error {}

/// The result of every fallible call of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Runs one C call that returns a status and turns it into a `Result`. The thread's message
/// is cleared first so that a failure can never pick up an older call's message; it is read
/// right after the call, on the same thread, as the ABI requires.
pub(crate) fn call(f: impl FnOnce() -> sys::dlg_status_t) -> Result<()> {
    // SAFETY: touches only this thread's message buffer.
    unsafe { sys::dlg_clear_error() };
    let code = f();
    if code == sys::DLG_OK {
        return Ok(());
    }
    let status = Status::from_raw(code);
    // SAFETY: dlg_last_error returns a NUL-terminated thread-local string, valid until the
    // next dlgemm call on this thread; it is copied before any other call.
    let message = unsafe { CStr::from_ptr(sys::dlg_last_error()) }
        .to_string_lossy()
        .into_owned();
    let message = if message.is_empty() {
        status.description().to_owned()
    } else {
        message
    };
    Err(Error { status, message })
}

/// # Safety
/// `p` must be a non-null pointer to a static NUL-terminated string.
pub(crate) unsafe fn static_str(p: *const std::ffi::c_char) -> &'static str {
    // SAFETY: the caller guarantees a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("(not UTF-8)")
}
