//! The [`Context`] (device, kernel cache, run-time knobs), [`Stream`], and device facts.

use crate::error::{call, Error, Result, Status};
use crate::tensor::Device;
use dlgemm_sys as sys;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// A CUDA stream (`CUstream`) the GPU kernels are enqueued on; ignored on the CPU path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Stream(*mut c_void);

// SAFETY: a CUstream handle may be used from any thread.
unsafe impl Send for Stream {}
// SAFETY: as above.
unsafe impl Sync for Stream {}

impl Stream {
    /// The legacy default stream (NULL).
    pub const DEFAULT: Stream = Stream(std::ptr::null_mut());

    /// Wraps a `CUstream` made elsewhere (cudarc, a framework, the driver API).
    ///
    /// # Safety
    /// `raw` must be null or a live stream of the context's device for as long as it is
    /// passed to this crate.
    pub unsafe fn from_raw(raw: *mut c_void) -> Stream {
        Stream(raw)
    }

    /// The raw `CUstream`.
    pub fn as_raw(self) -> *mut c_void {
        self.0
    }
}

impl Default for Stream {
    fn default() -> Stream {
        Stream::DEFAULT
    }
}

/// A library context: one device (or CPU only), its compiled-kernel cache and run-time knobs.
/// Create one per device and share it: every method takes `&self` and may be called from any
/// number of threads at once.
#[derive(Debug)]
pub struct Context {
    raw: NonNull<sys::dlg_context_t>,
}

// SAFETY: the C ABI makes every function taking a context thread-safe (knob setters included).
unsafe impl Send for Context {}
// SAFETY: as above.
unsafe impl Sync for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by dlg_context_create; `&mut self` proves no call is using it.
        unsafe { sys::dlg_context_destroy(self.raw.as_ptr()) }
    }
}

impl Context {
    /// A context for CUDA device `device_ordinal`, or CPU only when it is -1. Makes no CUDA
    /// call: the driver and NVRTC are opened by the first GPU operation.
    pub fn new(device_ordinal: i32) -> Result<Context> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer.
        call(|| unsafe { sys::dlg_context_create(device_ordinal, &mut raw) })?;
        NonNull::new(raw)
            .map(|raw| Context { raw })
            .ok_or_else(|| Error::new(Status::Internal, "dlg_context_create returned no context"))
    }

    /// A CPU-only context (the reference path).
    pub fn cpu() -> Result<Context> {
        Context::new(-1)
    }

    /// The raw handle, for calls through `dlgemm-sys`. Valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::dlg_context_t {
        self.raw.as_ptr()
    }

    /// The CUDA ordinal, or -1 for a CPU-only context.
    pub fn device_ordinal(&self) -> i32 {
        // SAFETY: valid handle.
        unsafe { sys::dlg_context_device(self.raw.as_ptr()) }
    }

    /// The device tensors of this context live on: [`Device::Cuda`] or [`Device::Cpu`].
    pub fn device(&self) -> Device {
        match self.device_ordinal() {
            n if n >= 0 => Device::Cuda(n),
            _ => Device::Cpu,
        }
    }

    /// Caps the SMs persistent kernels may use; 0 = all of the device (the default).
    pub fn set_max_sms(&self, max_sms: i32) -> Result<()> {
        // SAFETY: valid handle.
        call(|| unsafe { sys::dlg_context_set_max_sms(self.raw.as_ptr(), max_sms) })
    }

    /// The SM cap (0 = all).
    pub fn max_sms(&self) -> i32 {
        // SAFETY: valid handle.
        unsafe { sys::dlg_context_get_max_sms(self.raw.as_ptr()) }
    }

    /// Turns programmatic dependent launch on or off for kernels of this context.
    pub fn set_pdl(&self, enable: bool) -> Result<()> {
        // SAFETY: valid handle.
        call(|| unsafe { sys::dlg_context_set_pdl(self.raw.as_ptr(), enable as i32) })
    }

    /// Whether programmatic dependent launch is on.
    pub fn pdl(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { sys::dlg_context_get_pdl(self.raw.as_ptr()) != 0 }
    }

    /// Sets the disk cache directory of compiled kernels; `None` restores the default
    /// ($DLG_JIT_CACHE_DIR, else $XDG_CACHE_HOME/dlgemm, else $HOME/.cache/dlgemm).
    pub fn set_cache_dir(&self, dir: Option<&Path>) -> Result<()> {
        let dir = dir.map(|d| c_string("dir", path_bytes(d)?)).transpose()?;
        let p = dir.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
        // SAFETY: `p` is null or a NUL-terminated string the library copies.
        call(|| unsafe { sys::dlg_context_set_cache_dir(self.raw.as_ptr(), p) })
    }

    /// The cache directory in use.
    pub fn cache_dir(&self) -> Result<PathBuf> {
        let mut cap = 4096usize;
        loop {
            let mut buf = vec![0 as c_char; cap];
            // SAFETY: `buf` holds `cap` bytes; the library NUL-terminates within them.
            call(|| unsafe { sys::dlg_context_get_cache_dir(self.raw.as_ptr(), buf.as_mut_ptr(), cap) })?;
            // SAFETY: NUL-terminated by the library.
            let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
            // A full buffer may have been truncated: ask again with more room.
            if s.to_bytes().len() + 1 < cap || cap >= 1 << 20 {
                return Ok(path_from_bytes(s.to_bytes()));
            }
            cap *= 4;
        }
    }

    /// Extra NVRTC options for every compilation (space-separated, e.g. "-lineinfo"); part of
    /// the cache key. `None` or "" clears them.
    pub fn set_jit_options(&self, options: Option<&str>) -> Result<()> {
        let opts = options.map(|o| c_string("options", o.as_bytes())).transpose()?;
        let p = opts.as_ref().map_or(std::ptr::null(), |o| o.as_ptr());
        // SAFETY: `p` is null or a NUL-terminated string the library copies.
        call(|| unsafe { sys::dlg_context_set_jit_options(self.raw.as_ptr(), p) })
    }

    /// Facts about the context's device (needs the CUDA driver).
    pub fn device_info(&self) -> Result<DeviceInfo> {
        // SAFETY: plain-data struct; zero is a valid value.
        let mut info: sys::dlg_device_info_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid handle and out-pointer.
        call(|| unsafe { sys::dlg_context_device_info(self.raw.as_ptr(), &mut info) })?;
        Ok(DeviceInfo {
            ordinal: info.ordinal,
            sm_major: info.sm_major,
            sm_minor: info.sm_minor,
            num_sms: info.num_sms,
            total_memory: info.total_memory,
            l2_bytes: info.l2_bytes,
            max_smem_per_block: info.max_smem_per_block,
            name: fixed_str(&info.name),
        })
    }
}

/// Facts about a CUDA device ([`Context::device_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// CUDA ordinal.
    pub ordinal: i32,
    /// Compute capability, major (9 for Hopper).
    pub sm_major: i32,
    /// Compute capability, minor.
    pub sm_minor: i32,
    /// Number of streaming multiprocessors.
    pub num_sms: i32,
    /// Global memory in bytes.
    pub total_memory: usize,
    /// L2 cache in bytes.
    pub l2_bytes: usize,
    /// Opt-in maximum shared memory per block, in bytes.
    pub max_smem_per_block: usize,
    /// Device name.
    pub name: String,
}

/// Whether the CUDA driver and NVRTC can be used on this machine ([`runtime_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// libcuda was opened and cuInit succeeded.
    pub driver_found: bool,
    /// Driver version, e.g. 13000 (0 when absent).
    pub driver_version: i32,
    /// Number of CUDA devices.
    pub device_count: i32,
    /// NVRTC was opened.
    pub nvrtc_found: bool,
    /// NVRTC version, major.
    pub nvrtc_major: i32,
    /// NVRTC version, minor.
    pub nvrtc_minor: i32,
    /// Path of the driver library loaded.
    pub driver_path: String,
    /// Path of the NVRTC library loaded.
    pub nvrtc_path: String,
    /// Why the driver or NVRTC is unavailable; empty when both are there.
    pub why: String,
}

/// Probes the CUDA driver and NVRTC (`dlg_runtime_info`). Never fails.
pub fn runtime_info() -> RuntimeInfo {
    // SAFETY: plain-data struct; zero is a valid value.
    let mut info: sys::dlg_runtime_info_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    unsafe { sys::dlg_runtime_info(&mut info) };
    RuntimeInfo {
        driver_found: info.driver_found != 0,
        driver_version: info.driver_version,
        device_count: info.device_count,
        nvrtc_found: info.nvrtc_found != 0,
        nvrtc_major: info.nvrtc_major,
        nvrtc_minor: info.nvrtc_minor,
        driver_path: fixed_str(&info.driver_path),
        nvrtc_path: fixed_str(&info.nvrtc_path),
        why: fixed_str(&info.why),
    }
}

/// A C string from a fixed-size char array (up to its first NUL).
fn fixed_str(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn c_string(what: &str, bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::new(Status::InvalidArgument, format!("{what}: contains a NUL byte")))
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Result<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    Ok(p.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Result<&[u8]> {
    p.to_str()
        .map(str::as_bytes)
        .ok_or_else(|| Error::new(Status::InvalidArgument, "dir: not valid UTF-8"))
}

#[cfg(unix)]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}
