// Where the C sources and the pinned headers are. Shared by build.rs and the tests through
// `include!`, so that the library build, the layout probe and the bindgen check all read the
// same headers.

use std::path::{Path, PathBuf};

/// The dlgemm repository root: $DLGEMM_SOURCE_DIR, else three levels above this crate
/// (bindings/rust/dlgemm-sys).
#[allow(dead_code)]
fn dlgemm_source_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DLGEMM_SOURCE_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..").canonicalize().expect("dlgemm source tree")
}

/// The directory holding dlpack/dlpack.h: $DLG_DLPACK_INCLUDE_DIR (scripts/env.sh exports it),
/// else the pinned package that scripts/deps.sh installs under .deps/venv.
#[allow(dead_code)]
fn dlpack_include_dir() -> PathBuf {
    env_dir_or_venv("DLG_DLPACK_INCLUDE_DIR", "tvm_ffi/include")
}

/// The directory holding cuda.h and nvrtc.h (needed to compile the core, not by the headers).
#[allow(dead_code)]
fn cuda_include_dir() -> PathBuf {
    env_dir_or_venv("DLG_CUDA_INCLUDE_DIR", "nvidia/cu13/include")
}

fn env_dir_or_venv(var: &str, site_subdir: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let lib = dlgemm_source_dir().join(".deps/venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages").join(site_subdir))
            .find(|p| p.is_dir())
    });
    found.unwrap_or_else(|| {
        panic!("{var} is not set and {} has no {site_subdir}: run scripts/deps.sh and source scripts/env.sh", lib.display())
    })
}
