//! Regenerates the bindings from the public headers with the pinned bindgen and fails on any
//! difference from the checked-in `src/bindings.rs`, so the ABI and this crate never drift.
//! After an intended header change: `DLGEMM_SYS_BLESS=1 cargo test -p dlgemm-sys --test
//! regenerate` rewrites the file. Needs libclang (Debian: libclang-dev).

include!("../paths.rs");

/// The one bindgen configuration of this crate.
fn builder() -> bindgen::Builder {
    let root = dlgemm_source_dir();
    bindgen::Builder::default()
        .header(root.join("include/dlgemm.h").to_str().expect("utf-8 path"))
        .clang_arg(format!("-I{}", root.join("include").display()))
        .clang_arg(format!("-I{}", dlpack_include_dir().display()))
        .clang_arg("-std=c11")
        .allowlist_function("dlg_.*")
        .allowlist_type("dlg_.*|DL.*")
        .allowlist_var("DLG_.*|DLPACK_.*|kDL.*")
        // Enums become plain integer constants named exactly as in C: a value the library
        // adds later can never be an invalid Rust enum.
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .use_core()
        .derive_default(true)
        .generate_comments(false)
        .layout_tests(true)
        .sort_semantically(true)
        .formatter(bindgen::Formatter::Prettyplease)
}

#[test]
fn bindings_match_headers() {
    let generated = builder()
        .generate()
        .expect("bindgen failed on include/dlgemm.h")
        .to_string();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bindings.rs");
    if std::env::var_os("DLGEMM_SYS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write src/bindings.rs");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).expect("read src/bindings.rs");
    if generated != checked_in {
        let (old, new): (Vec<_>, Vec<_>) = (checked_in.lines().collect(), generated.lines().collect());
        let first = old
            .iter()
            .zip(&new)
            .position(|(a, b)| a != b)
            .unwrap_or(old.len().min(new.len()));
        let context = |lines: &[&str]| lines.iter().skip(first).take(8).copied().collect::<Vec<_>>().join("\n");
        panic!(
            "src/bindings.rs is stale (first difference at line {}):\n--- checked in\n{}\n+++ generated\n{}\n\
             rerun with DLGEMM_SYS_BLESS=1 after an intended header change",
            first + 1,
            context(&old),
            context(&new)
        );
    }
}
