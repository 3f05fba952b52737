//! Op dispatch: case op + attrs + tensors -> one call of the safe `dlgemm` API. What that API
//! cannot express by design (a NULL required tensor, an enum value outside the Rust enums —
//! the invalid-argument cases) goes through the crate's raw declarations, `dlgemm::sys`, so
//! that the library still sees exactly what the case asks for.

use crate::json::Value;
use crate::tensors::Set;
use dlgemm::{sys, Context, GroupLayout, Recipe, Stream, TensorView};
use std::ffi::CStr;

const TENSOR_OPS: [&str; 14] = [
    "gemm",
    "m_grouped_gemm_contiguous",
    "m_grouped_gemm_masked",
    "k_grouped_gemm_contiguous",
    "mqa_logits",
    "mqa_logits_compressed",
    "paged_mqa_logits_metadata",
    "paged_mqa_logits",
    "clean_logits",
    "cast_fp8_per_token",
    "cast_fp8_per_block",
    "cast_fp8_per_tensor",
    "transform_sf",
    "pack_ue8m0",
];
const QUERY_OPS: [&str; 4] = [
    "tma_aligned_size",
    "mk_alignment",
    "mqa_logits_row_stride",
    "paged_mqa_logits_metadata_rows",
];

pub fn known(op: &str) -> bool {
    TENSOR_OPS.contains(&op) || is_query(op)
}

pub fn is_query(op: &str) -> bool {
    QUERY_OPS.contains(&op)
}

fn attr(case: &Value, key: &str) -> i64 {
    case.get("attrs").map_or(0.0, |a| a.num_at(key, 0.0)) as i64
}

/// An enum attr as its C value: a name from `names` (values 1..), a raw integer, 0 when
/// absent, -1 for an unknown name (the library must reject it).
fn attr_enum(case: &Value, key: &str, names: &[&str]) -> i32 {
    match case.get("attrs").and_then(|a| a.get(key)) {
        None => 0,
        Some(Value::Str(s)) => names.iter().position(|n| n == s).map_or(-1, |i| i as i32 + 1),
        Some(v) => v.as_f64().unwrap_or(0.0) as i32,
    }
}

fn recipe_raw(case: &Value) -> i32 {
    attr_enum(case, "recipe", &["FP8_1D2D", "FP8_1D1D", "FP8_PER_TENSOR", "BF16"])
}

fn layout_raw(case: &Value) -> i32 {
    attr_enum(case, "layout_kind", &["ROW_IDS", "OFFSETS"])
}

fn recipe(case: &Value) -> Option<Recipe> {
    let raw = recipe_raw(case) as u32;
    [Recipe::Fp8_1d2d, Recipe::Fp8_1d1d, Recipe::Fp8PerTensor, Recipe::Bf16]
        .into_iter()
        .find(|r| r.to_raw() == raw)
}

fn layout(case: &Value) -> Option<GroupLayout> {
    let raw = layout_raw(case) as u32;
    [GroupLayout::RowIds, GroupLayout::Offsets]
        .into_iter()
        .find(|l| l.to_raw() == raw)
}

pub fn run_query(case: &Value) -> i64 {
    match case.str_at("op").unwrap_or("") {
        "tma_aligned_size" => dlgemm::tma_aligned_size(attr(case, "mn"), attr(case, "elem_size")),
        "mk_alignment" => dlgemm::mk_alignment_for_contiguous_layout() as i64,
        "mqa_logits_row_stride" => dlgemm::mqa_logits_row_stride(attr(case, "seq_len_kv")),
        _ => dlgemm::paged_mqa_logits_metadata_rows(attr(case, "num_sms") as i32),
    }
}

/// The thread's dlg_last_error() (read right after a call).
fn last_error() -> String {
    // SAFETY: a NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(sys::dlg_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Runs a tensor op; (status, dlg_last_error() right after the call).
pub fn run_op(ctx: &Context, case: &Value, set: &Set<'_>, meta: Option<&TensorView<'_>>) -> (u32, String) {
    let op = case.str_at("op").unwrap_or("");
    let result = match safe_call(ctx, op, case, set, meta) {
        Some(r) => r.err().map(|e| e.status().to_raw()),
        None => Some(raw_call(ctx, op, case, set, meta)).filter(|&st| st != sys::DLG_OK),
    };
    match result {
        None => (sys::DLG_OK, String::new()),
        Some(st) => (st, last_error()),
    }
}

/// The safe API's call, or None when the case cannot be expressed with it.
fn safe_call(
    ctx: &Context,
    op: &str,
    case: &Value,
    s: &Set<'_>,
    meta: Option<&TensorView<'_>>,
) -> Option<dlgemm::Result<()>> {
    let v = |n: &str| s.arg(n).map(TensorView::from);
    let flag = |k: &str| attr(case, k) != 0;
    let aliased = |x: &str, y: &str| s.resolve(x).is_some() && s.resolve(x) == s.resolve(y);
    let st = Stream::DEFAULT;
    Some(match op {
        "gemm" if aliased("c", "d") => ctx.gemm_accumulate(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            &mut s.arg("d")?,
            st,
        ),
        "gemm" => ctx.gemm(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            v("c").as_ref(),
            &mut s.arg("d")?,
            st,
        ),
        "m_grouped_gemm_contiguous" => ctx.m_grouped_gemm_contiguous(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            &v("grouped_layout")?,
            layout(case)?,
            &mut s.arg("d")?,
            st,
        ),
        "m_grouped_gemm_masked" => ctx.m_grouped_gemm_masked(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            &v("masked_m")?,
            attr(case, "expected_m") as i32,
            &mut s.arg("d")?,
            st,
        ),
        "k_grouped_gemm_contiguous" if aliased("c", "d") => ctx.k_grouped_gemm_contiguous_accumulate(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            &v("ks")?,
            &mut s.arg("d")?,
            st,
        ),
        "k_grouped_gemm_contiguous" => ctx.k_grouped_gemm_contiguous(
            recipe(case)?,
            &v("a")?,
            v("sfa").as_ref(),
            &v("b")?,
            v("sfb").as_ref(),
            &v("ks")?,
            v("c").as_ref(),
            &mut s.arg("d")?,
            st,
        ),
        "mqa_logits" => ctx.mqa_logits(
            &v("q")?,
            &v("kv")?,
            &v("kv_scale")?,
            &v("weights")?,
            &v("ks")?,
            &v("ke")?,
            flag("clean_logits"),
            &mut s.arg("logits")?,
            st,
        ),
        "mqa_logits_compressed" => ctx.mqa_logits_compressed(
            &v("q")?,
            &v("kv")?,
            &v("kv_scale")?,
            &v("weights")?,
            &v("ks")?,
            &v("ke")?,
            flag("clean_logits"),
            &mut s.arg("logits")?,
            st,
        ),
        "paged_mqa_logits_metadata" => ctx.paged_mqa_logits_metadata(
            &v("context_lens")?,
            attr(case, "block_kv") as i32,
            attr(case, "num_sms") as i32,
            &mut s.arg("schedule_meta")?,
            st,
        ),
        "paged_mqa_logits" => ctx.paged_mqa_logits(
            &v("q")?,
            &v("kv_cache")?,
            &v("weights")?,
            &v("context_lens")?,
            &v("block_table")?,
            meta,
            flag("clean_logits"),
            &mut s.arg("logits")?,
            st,
        ),
        "clean_logits" => ctx.clean_logits(v("ks").as_ref(), &v("ke")?, &mut s.arg("logits")?, st),
        "cast_fp8_per_token" => {
            ctx.cast_fp8_per_token(&v("x")?, flag("use_ue8m0"), &mut s.arg("out")?, &mut s.arg("sf")?, st)
        }
        "cast_fp8_per_block" => {
            ctx.cast_fp8_per_block(&v("x")?, flag("use_ue8m0"), &mut s.arg("out")?, &mut s.arg("sf")?, st)
        }
        "cast_fp8_per_tensor" => ctx.cast_fp8_per_tensor(&v("x")?, &mut s.arg("out")?, &mut s.arg("sf")?, st),
        "transform_sf" => ctx.transform_sf(&v("sf_in")?, &mut s.arg("sf_out")?, st),
        "pack_ue8m0" => ctx.pack_ue8m0(&v("sf")?, &mut s.arg("packed")?, st),
        _ => return None,
    })
}

/// The same call through `dlgemm::sys`: NULL for absent tensors, enums passed as given.
fn raw_call(ctx: &Context, op: &str, case: &Value, s: &Set<'_>, meta: Option<&TensorView<'_>>) -> u32 {
    // One descriptor per stored tensor, so that an alias passes the very same pointer.
    let views: Vec<_> = (0..s.t.len()).map(|i| s.arg(&s.t[i].name)).collect();
    let mut dls: Vec<Option<sys::DLTensor>> = views.iter().map(|v| v.as_ref().map(|v| v.to_dltensor())).collect();
    let base = dls.as_mut_ptr();
    let p = |n: &str| -> *mut sys::DLTensor {
        match s.resolve(n) {
            // SAFETY: an index into `dls`, which outlives the call; the library only writes
            // through output arguments.
            Some(i) => unsafe { (*base.add(i)).as_mut().map_or(std::ptr::null_mut(), |d| d as *mut _) },
            None => std::ptr::null_mut(),
        }
    };
    let meta_dl = meta.map(|m| m.to_dltensor());
    let meta_p = meta_dl.as_ref().map_or(std::ptr::null(), |m| m as *const _);
    let (c, r, k, st) = (
        ctx.as_raw(),
        recipe_raw(case) as u32,
        |n: &str| attr(case, n) as i32,
        std::ptr::null_mut(),
    );
    sys_clear();
    // SAFETY: every pointer is null or a descriptor of the runner's storage, alive for the call.
    unsafe {
        match op {
            "gemm" => sys::dlg_gemm(c, r, p("a"), p("sfa"), p("b"), p("sfb"), p("c"), p("d"), st),
            "m_grouped_gemm_contiguous" => sys::dlg_m_grouped_gemm_contiguous(
                c,
                r,
                p("a"),
                p("sfa"),
                p("b"),
                p("sfb"),
                p("grouped_layout"),
                layout_raw(case) as u32,
                p("d"),
                st,
            ),
            "m_grouped_gemm_masked" => sys::dlg_m_grouped_gemm_masked(
                c,
                r,
                p("a"),
                p("sfa"),
                p("b"),
                p("sfb"),
                p("masked_m"),
                k("expected_m"),
                p("d"),
                st,
            ),
            "k_grouped_gemm_contiguous" => sys::dlg_k_grouped_gemm_contiguous(
                c,
                r,
                p("a"),
                p("sfa"),
                p("b"),
                p("sfb"),
                p("ks"),
                p("c"),
                p("d"),
                st,
            ),
            "mqa_logits" => sys::dlg_mqa_logits(
                c,
                p("q"),
                p("kv"),
                p("kv_scale"),
                p("weights"),
                p("ks"),
                p("ke"),
                k("clean_logits"),
                p("logits"),
                st,
            ),
            "paged_mqa_logits_metadata" => sys::dlg_paged_mqa_logits_metadata(
                c,
                p("context_lens"),
                k("block_kv"),
                k("num_sms"),
                p("schedule_meta"),
                st,
            ),
            "paged_mqa_logits" => sys::dlg_paged_mqa_logits(
                c,
                p("q"),
                p("kv_cache"),
                p("weights"),
                p("context_lens"),
                p("block_table"),
                meta_p,
                k("clean_logits"),
                p("logits"),
                st,
            ),
            "clean_logits" => sys::dlg_clean_logits(c, p("ks"), p("ke"), p("logits"), st),
            "cast_fp8_per_token" => sys::dlg_cast_fp8_per_token(c, p("x"), k("use_ue8m0"), p("out"), p("sf"), st),
            "cast_fp8_per_block" => sys::dlg_cast_fp8_per_block(c, p("x"), k("use_ue8m0"), p("out"), p("sf"), st),
            "cast_fp8_per_tensor" => sys::dlg_cast_fp8_per_tensor(c, p("x"), p("out"), p("sf"), st),
            "transform_sf" => sys::dlg_transform_sf(c, p("sf_in"), p("sf_out"), st),
            "pack_ue8m0" => sys::dlg_pack_ue8m0(c, p("sf"), p("packed"), st),
            _ => sys::DLG_ERR_INTERNAL, // unreachable: the runner checks `known` first
        }
    }
}

fn sys_clear() {
    // SAFETY: clears this thread's message only.
    unsafe { sys::dlg_clear_error() }
}
