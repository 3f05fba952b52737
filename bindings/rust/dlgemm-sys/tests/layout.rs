//! Checks the Rust declarations against the C compiler: layout/layout.c (compiled by
//! build.rs into this test only) exports a table of sizeof / alignof / offsetof / constant
//! values; this test builds the same table from the Rust side and requires both to agree on
//! every key. A header change that bindgen output missed, or a mis-declared struct, fails here.

use dlgemm_sys as sys;
use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::mem::{align_of, offset_of, size_of};

#[repr(C)]
struct Entry {
    key: *const c_char,
    value: f64,
}

extern "C" {
    static dlgemm_sys_layout: [Entry; 0];
    static dlgemm_sys_layout_len: usize;
    static dlgemm_sys_version_string: [c_char; 0];
}

fn c_table() -> BTreeMap<String, f64> {
    // SAFETY: layout.c defines the array with dlgemm_sys_layout_len entries of static C strings.
    unsafe {
        let entries = std::slice::from_raw_parts(dlgemm_sys_layout.as_ptr(), dlgemm_sys_layout_len);
        entries
            .iter()
            .map(|e| (CStr::from_ptr(e.key).to_str().unwrap().to_owned(), e.value))
            .collect()
    }
}

fn rust_table() -> BTreeMap<String, f64> {
    let mut t = BTreeMap::new();
    macro_rules! size {
        ($($ty:ident),*) => {$(
            t.insert(format!("size_of {}", stringify!($ty)), size_of::<sys::$ty>() as f64);
            t.insert(format!("align_of {}", stringify!($ty)), align_of::<sys::$ty>() as f64);
        )*};
    }
    macro_rules! offset {
        ($ty:ident: $($field:ident),*) => {$(
            t.insert(format!("offset_of {}.{}", stringify!($ty), stringify!($field)),
                     offset_of!(sys::$ty, $field) as f64);
        )*};
    }
    macro_rules! value {
        ($($c:ident),*) => {$( t.insert(stringify!($c).to_owned(), sys::$c as f64); )*};
    }
    size!(
        DLDevice,
        DLDataType,
        DLTensor,
        DLManagedTensor,
        DLPackVersion,
        DLManagedTensorVersioned
    );
    offset!(DLDevice: device_type, device_id);
    offset!(DLDataType: code, bits, lanes);
    offset!(DLTensor: data, device, ndim, dtype, shape, strides, byte_offset);
    offset!(DLManagedTensor: dl_tensor, manager_ctx, deleter);
    offset!(DLPackVersion: major, minor);
    offset!(DLManagedTensorVersioned: version, manager_ctx, deleter, flags, dl_tensor);
    value!(kDLCPU, kDLCUDA, kDLCUDAHost, kDLCUDAManaged);
    value!(
        kDLInt,
        kDLUInt,
        kDLFloat,
        kDLBfloat,
        kDLFloat8_e4m3fn,
        kDLFloat8_e5m2,
        kDLFloat8_e8m0fnu
    );
    value!(DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION);
    value!(DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_FLAG_BITMASK_IS_COPIED);

    size!(dlg_device_info_t, dlg_runtime_info_t);
    offset!(dlg_device_info_t: ordinal, sm_major, sm_minor, num_sms, total_memory, l2_bytes,
            max_smem_per_block, name);
    offset!(dlg_runtime_info_t: driver_found, driver_version, device_count, nvrtc_found,
            nvrtc_major, nvrtc_minor, driver_path, nvrtc_path, why);
    size!(dlg_status_t, dlg_recipe_t, dlg_group_layout_t, dlg_fill_t);
    value!(
        DLG_OK,
        DLG_ERR_INVALID_ARGUMENT,
        DLG_ERR_DTYPE,
        DLG_ERR_SHAPE,
        DLG_ERR_LAYOUT,
        DLG_ERR_DEVICE,
        DLG_ERR_UNSUPPORTED,
        DLG_ERR_NO_DRIVER,
        DLG_ERR_NO_NVRTC,
        DLG_ERR_COMPILE,
        DLG_ERR_CUDA,
        DLG_ERR_OUT_OF_MEMORY,
        DLG_ERR_IO,
        DLG_ERR_INTERNAL
    );
    value!(
        DLG_RECIPE_FP8_1D2D,
        DLG_RECIPE_FP8_1D1D,
        DLG_RECIPE_FP8_PER_TENSOR,
        DLG_RECIPE_BF16
    );
    value!(DLG_GROUP_LAYOUT_ROW_IDS, DLG_GROUP_LAYOUT_OFFSETS);
    value!(DLG_FILL_UNIFORM, DLG_FILL_NORMAL, DLG_FILL_INT);
    value!(
        DLG_VERSION_MAJOR,
        DLG_VERSION_MINOR,
        DLG_VERSION_PATCH,
        DLG_VERSION_NUMBER,
        DLG_FP8_E4M3_MAX
    );
    t
}

#[test]
fn layout_matches_c() {
    let (c, rust) = (c_table(), rust_table());
    let mut problems = Vec::new();
    for (key, cv) in &c {
        match rust.get(key) {
            Some(rv) if rv == cv => {}
            Some(rv) => problems.push(format!("{key}: C says {cv}, Rust says {rv}")),
            None => problems.push(format!("{key}: checked in C but not in Rust")),
        }
    }
    problems.extend(
        rust.keys()
            .filter(|k| !c.contains_key(*k))
            .map(|k| format!("{k}: checked in Rust but not in C")),
    );
    assert!(problems.is_empty(), "layout mismatches:\n{}", problems.join("\n"));
    assert!(c.len() > 100, "the C table is suspiciously short ({} entries)", c.len());
}

#[test]
fn version_string_matches_c() {
    // SAFETY: a NUL-terminated static array defined in layout.c.
    let c = unsafe { CStr::from_ptr(dlgemm_sys_version_string.as_ptr()) };
    assert_eq!(c.to_bytes_with_nul(), sys::DLG_VERSION_STRING);
}

#[test]
fn library_links_and_reports_its_version() {
    // SAFETY: no arguments; returns a static string.
    let (n, s) = unsafe { (sys::dlg_version(), CStr::from_ptr(sys::dlg_version_string())) };
    assert_eq!(n as u32, sys::DLG_VERSION_NUMBER);
    assert_eq!(s.to_bytes_with_nul(), sys::DLG_VERSION_STRING);
}
