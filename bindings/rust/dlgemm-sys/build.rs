// Finds or builds the dlgemm C library and links it statically.
//
// Order: $DLGEMM_LIB_DIR (a directory holding libdlgemm.a, or libdlgemm.so if no archive is
// there), then pkg-config's `dlgemm` (skipped when $DLGEMM_NO_PKG_CONFIG is set), else the
// library is built from this source tree with CMake (tests and tools off). Also compiles
// layout/layout.c, the C side of tests/layout.rs, into the integration tests only.

include!("paths.rs");

use std::env;

fn main() {
    for var in [
        "DLGEMM_LIB_DIR",
        "DLGEMM_NO_PKG_CONFIG",
        "DLGEMM_SOURCE_DIR",
        "DLG_DLPACK_INCLUDE_DIR",
        "DLG_CUDA_INCLUDE_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=paths.rs");
    println!("cargo:rerun-if-changed=layout/layout.c");

    let root = dlgemm_source_dir();
    let dlpack = dlpack_include_dir();
    let include = root.join("include");
    for dir in ["include", "core", "kernels", "tools", "cmake", "CMakeLists.txt"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    if let Some(dir) = env::var_os("DLGEMM_LIB_DIR") {
        let dir = PathBuf::from(dir);
        println!("cargo:rustc-link-search=native={}", dir.display());
        if dir.join("libdlgemm.a").exists() {
            link_static();
        } else {
            println!("cargo:rustc-link-lib=dylib=dlgemm");
        }
    } else if !probe_pkg_config() {
        let dst = cmake::Config::new(&root)
            .define("DLG_BUILD_TESTS", "OFF")
            .define("DLG_BUILD_TOOLS", "OFF")
            .define("DLG_DLPACK_INCLUDE_DIR", &dlpack)
            .define("DLG_CUDA_INCLUDE_DIR", cuda_include_dir())
            // The CPU reference is the test oracle: keep it optimised even in debug builds.
            .profile("Release")
            .build_target("dlgemm_static")
            .build();
        println!("cargo:rustc-link-search=native={}", dst.join("build").display());
        link_static();
    }
    // Dependents (the safe crate, users' build scripts) read these as DEP_DLGEMM_*.
    println!("cargo:include={}", include.display());
    println!("cargo:dlpack_include={}", dlpack.display());

    // The C half of the layout test: sizeof / offsetof / constant values as the C compiler
    // sees them. Linked into this package's integration tests only, never into users' code.
    let objects = cc::Build::new()
        .file("layout/layout.c")
        .include(&include)
        .include(&dlpack)
        .std("c11")
        .warnings_into_errors(true)
        .cargo_metadata(false)
        .compile_intermediates();
    for obj in objects {
        println!("cargo:rustc-link-arg-tests={}", obj.display());
    }
}

fn link_static() {
    println!("cargo:rustc-link-lib=static=dlgemm");
    for lib in ["pthread", "dl", "m"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
}

fn probe_pkg_config() -> bool {
    if env::var_os("DLGEMM_NO_PKG_CONFIG").is_some() {
        return false;
    }
    pkg_config::Config::new().statik(true).probe("dlgemm").is_ok()
}
