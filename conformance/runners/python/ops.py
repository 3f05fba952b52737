"""Op dispatch of the Python conformance runner: case op + attrs + tensors -> one call of the
dlgemm package. The package's functions are used as a user would call them, with every
output passed explicitly; when a case leaves out an output those functions would allocate,
the raw SWIG function of dlgemm._cabi is called instead, so that NULL reaches the library."""

from __future__ import annotations

import dlgemm
from dlgemm import _cabi

# Tensor op -> its C parameters in order (attrs by name, tensors by name).
PARAMS = {
    "gemm": ["recipe", "a", "sfa", "b", "sfb", "c", "d"],
    "m_grouped_gemm_contiguous": ["recipe", "a", "sfa", "b", "sfb", "grouped_layout",
                                  "layout_kind", "d"],
    "m_grouped_gemm_masked": ["recipe", "a", "sfa", "b", "sfb", "masked_m", "expected_m", "d"],
    "k_grouped_gemm_contiguous": ["recipe", "a", "sfa", "b", "sfb", "ks", "c", "d"],
    "mqa_logits": ["q", "kv", "kv_scale", "weights", "ks", "ke", "clean_logits", "logits"],
    "mqa_logits_compressed": ["q", "kv", "kv_scale", "weights", "ks", "ke", "clean_logits",
                              "logits"],
    "paged_mqa_logits_metadata": ["context_lens", "block_kv", "num_sms", "schedule_meta"],
    "paged_mqa_logits": ["q", "kv_cache", "weights", "context_lens", "block_table",
                         "schedule_meta", "clean_logits", "logits"],
    "clean_logits": ["ks", "ke", "logits"],
    "cast_fp8_per_token": ["x", "use_ue8m0", "out", "sf"],
    "cast_fp8_per_block": ["x", "use_ue8m0", "out", "sf"],
    "cast_fp8_per_tensor": ["x", "out", "sf"],
    "transform_sf": ["sf_in", "sf_out"],
    "pack_ue8m0": ["sf", "packed"],
}
ATTRS = {"recipe", "layout_kind", "expected_m", "clean_logits", "block_kv", "num_sms",
         "use_ue8m0"}
# Outputs the package functions allocate when given None (paged_mqa_logits' schedule_meta is
# an optional input there, not one of them).
ALLOCATED = {"d", "logits", "schedule_meta", "out", "sf", "sf_out", "packed"}

QUERIES = {
    "tma_aligned_size": lambda a: dlgemm.tma_aligned_size(a("mn"), a("elem_size")),
    "mk_alignment": lambda a: dlgemm.mk_alignment_for_contiguous_layout(),
    "mqa_logits_row_stride": lambda a: dlgemm.mqa_logits_row_stride(a("seq_len_kv")),
    "paged_mqa_logits_metadata_rows": lambda a: dlgemm.paged_mqa_logits_metadata_rows(a("num_sms")),
}


def known(op):
    return op in PARAMS or op in QUERIES


def attr_getter(case):
    attrs = case.get("attrs") or {}

    def get(key):
        v = attrs.get(key, 0)
        if key == "recipe" and isinstance(v, str):
            return int(dlgemm.Recipe[v]) if v in dlgemm.Recipe.__members__ else -1
        if key == "layout_kind" and isinstance(v, str):
            return int(dlgemm.GroupLayout[v]) if v in dlgemm.GroupLayout.__members__ else -1
        return int(v) if isinstance(v, (int, float)) else 0
    return get


def run_query(case):
    return int(QUERIES[case["op"]](attr_getter(case)))


def _packaged(op, T, A, ctx, meta):
    """The dlgemm package's function for the op, every argument explicit."""
    if op == "gemm":
        return dlgemm.gemm(T("a"), T("b"), T("d"), recipe=A("recipe"), sfa=T("sfa"),
                           sfb=T("sfb"), c=T("c"), ctx=ctx)
    if op == "m_grouped_gemm_contiguous":
        return dlgemm.m_grouped_gemm_contiguous(T("a"), T("b"), T("grouped_layout"), T("d"),
                                                recipe=A("recipe"), sfa=T("sfa"), sfb=T("sfb"),
                                                layout=A("layout_kind"), ctx=ctx)
    if op == "m_grouped_gemm_masked":
        return dlgemm.m_grouped_gemm_masked(T("a"), T("b"), T("masked_m"), T("d"),
                                            expected_m=A("expected_m"), recipe=A("recipe"),
                                            sfa=T("sfa"), sfb=T("sfb"), ctx=ctx)
    if op == "k_grouped_gemm_contiguous":
        return dlgemm.k_grouped_gemm_contiguous(T("a"), T("b"), T("ks"), T("d"),
                                                recipe=A("recipe"), sfa=T("sfa"), sfb=T("sfb"),
                                                c=T("c"), ctx=ctx)
    if op == "mqa_logits":
        return dlgemm.mqa_logits(T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"), T("ke"),
                                 T("logits"), clean_logits=bool(A("clean_logits")), ctx=ctx)
    if op == "mqa_logits_compressed":
        return dlgemm.mqa_logits_compressed(T("q"), T("kv"), T("kv_scale"), T("weights"), T("ks"),
                                            T("ke"), logits=T("logits"),
                                            clean_logits=bool(A("clean_logits")), ctx=ctx)
    if op == "paged_mqa_logits_metadata":
        return dlgemm.paged_mqa_logits_metadata(T("context_lens"), A("block_kv"),
                                                T("schedule_meta"), num_sms=A("num_sms"), ctx=ctx)
    if op == "paged_mqa_logits":
        return dlgemm.paged_mqa_logits(T("q"), T("kv_cache"), T("weights"), T("context_lens"),
                                       T("block_table"), T("logits"), schedule_meta=meta,
                                       clean_logits=bool(A("clean_logits")), ctx=ctx)
    if op == "clean_logits":
        return dlgemm.clean_logits(T("logits"), T("ke"), T("ks"), ctx=ctx)
    if op == "cast_fp8_per_token":
        return dlgemm.cast_fp8_per_token(T("x"), T("out"), T("sf"),
                                         use_ue8m0=bool(A("use_ue8m0")), ctx=ctx)
    if op == "cast_fp8_per_block":
        return dlgemm.cast_fp8_per_block(T("x"), T("out"), T("sf"),
                                         use_ue8m0=bool(A("use_ue8m0")), ctx=ctx)
    if op == "cast_fp8_per_tensor":
        return dlgemm.cast_fp8_per_tensor(T("x"), T("out"), T("sf"), ctx=ctx)
    if op == "transform_sf":
        return dlgemm.transform_sf(T("sf_in"), T("sf_out"), ctx=ctx)
    if op == "pack_ue8m0":
        return dlgemm.pack_ue8m0(T("sf"), T("packed"), ctx=ctx)
    raise KeyError(op)


def run_op(ctx, case, tensors, meta=None):
    """Runs a tensor op; returns (status, dlg_last_error() right after the call)."""
    op, A = case["op"], attr_getter(case)

    def T(name):
        return meta if name == "schedule_meta" and op == "paged_mqa_logits" else tensors.arg(name)

    # The C runner passes the raw attr; the package functions take booleans for flags, so a
    # flag other than 0/1 (none in the suite) would need the raw call too.
    missing_output = any(p in ALLOCATED and T(p) is None for p in PARAMS[op]
                         if (op, p) != ("paged_mqa_logits", "schedule_meta"))
    dlgemm.clear_error()
    try:
        if missing_output:
            args = [A(p) if p in ATTRS else T(p) for p in PARAMS[op]]
            getattr(_cabi, "dlg_" + op)(ctx.handle, *args, None)
        else:
            _packaged(op, T, A, ctx, meta)
        return 0, ""
    except dlgemm.Error as e:
        return int(e.status), dlgemm.last_error()
