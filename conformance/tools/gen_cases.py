#!/usr/bin/env python3
"""Writes conformance/cases/*.json: the bundled conformance cases.

A convenience, not part of the contract: the case files are the suite, and a hand-written case
file is just as good. This script only computes what is tedious by hand (scale-factor strides,
storage ranges that must stay untouched, seeds). Run it after editing; it rewrites every file it
owns and deletes no others:

    python3 conformance/tools/gen_cases.py [--check]

--check exits 1 when a case file differs from what the script would write.
"""
import json
import os
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, "cases")

FP8, BF16, F32, I32, U8 = "float8_e4m3fn", "bfloat16", "float32", "int32", "uint8"
TOL_FP8, TOL_BF16 = 1e-3, 1e-5


def cdiv(a, b):
    return (a + b - 1) // b


def tma(mn, elem_size=4):
    """dlg_tma_aligned_size: rows padded so a column of them ends on 16 bytes."""
    return cdiv(mn * elem_size, 16) * 16 // elem_size


def compact(shape):
    strides, s = [], 1
    for e in reversed(shape):
        strides.insert(0, s)
        s *= max(e, 1)
    return strides


# ---- fills -------------------------------------------------------------------------------

def U(lo, hi):
    return {"dist": "uniform", "lo": lo, "hi": hi}


def N(mean, std):
    return {"dist": "normal", "lo": mean, "hi": std}


def I(lo, hi):
    return {"dist": "int", "lo": lo, "hi": hi}


# ---- tensors -----------------------------------------------------------------------------

def T(name, dtype, shape, role="input", fill=None, values=None, parts=None, strides=None,
      layout=None, alias=None):
    t = {"name": name}
    if alias:
        t["alias"] = alias
        return t
    t.update({"dtype": dtype, "shape": list(shape)})
    if strides is not None and list(strides) != compact(shape):
        t["strides"] = list(strides)
    if layout:
        t["layout"] = layout
    t["role"] = role
    if fill is not None:
        t["fill"] = dict(fill)
    if values is not None:
        t["values"] = list(values)
    if parts is not None:
        t["parts"] = parts
    return t


def col(shape):
    """Transposed storage of a 2-D tensor (MN-major A or B)."""
    return [1, shape[0]]


def mn_major_tma(shape):
    """Scale factors [.., MN, Kb]: MN-major, column stride padded to the TMA rule."""
    mn, kb = shape[-2], shape[-1]
    st = [1, tma(mn)]
    if len(shape) == 3:
        st = [tma(mn) * kb] + st
    return st


def sf_tensor(name, shape, tma_layout, lo=0.5, hi=2.0):
    if tma_layout:
        return T(name, F32, shape, fill=U(lo, hi), strides=mn_major_tma(shape), layout="mn_major_tma")
    return T(name, F32, shape, fill=U(lo, hi))


def packed_sf(name, rows, kb):
    """UE8M0 scales packed four per int32, filled byte-wise with exponents near 2^0."""
    words = cdiv(kb, 4)
    return T(name, I32, [rows, words],
             parts=[{"dtype": U8, "shape": [rows, 4 * words], "fill": I(122, 130)}])


# ---- untouched storage ranges ------------------------------------------------------------

def merge(ranges):
    out = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def rows_untouched(n_cols, row_stride, rows):
    """Whole rows of a [R, n_cols] tensor with the given row stride."""
    return merge([[r * row_stride, r * row_stride + n_cols] for r in rows])


def cols_untouched(n_cols, row_stride, valid):
    """Per row r, the columns outside valid[r] = (lo, hi)."""
    rs = []
    for r, (lo, hi) in enumerate(valid):
        lo, hi = max(0, min(lo, n_cols)), max(0, min(hi, n_cols))
        if hi <= lo:
            rs.append([r * row_stride, r * row_stride + n_cols])
        else:
            rs.append([r * row_stride, r * row_stride + lo])
            rs.append([r * row_stride + hi, r * row_stride + n_cols])
    return merge(rs)


def check(metric, tol=None, untouched=None):
    c = {"metric": metric}
    if tol is not None:
        c["tol"] = tol
    if untouched:
        c["untouched"] = untouched
    return c


# ---- the suite ---------------------------------------------------------------------------

cases = []


def case(name, op, attrs, tensors, checks, expect="ok", devices=None, devices_reason=None,
         note=None):
    seen = set()
    for t in tensors:  # seeds: stable per (case, tensor), whatever else changes
        assert t["name"] not in seen, (name, t["name"])
        seen.add(t["name"])
        if "fill" in t:
            t["fill"]["seed"] = zlib.crc32(f"{name}/{t['name']}".encode()) & 0x7FFFFFFF
        for i, p in enumerate(t.get("parts", [])):
            p["fill"]["seed"] = zlib.crc32(f"{name}/{t['name']}/{i}".encode()) & 0x7FFFFFFF
    c = {"name": name, "op": op}
    if note:
        c["note"] = note
    c["attrs"] = attrs
    c["tensors"] = tensors
    c["check"] = checks if expect == "ok" or isinstance(expect, dict) else {}
    c["expect"] = expect
    if devices:
        c["devices"] = devices
        c["devices_reason"] = devices_reason
    cases.append(c)


def bad(name, op, attrs, tensors, status, note):
    """A bad-input case: outputs must stay poisoned and the status must match."""
    case(name, op, attrs, tensors, {}, expect=status, note=note)


# -- dense GEMM ----------------------------------------------------------------------------

def gemm_tensors(recipe, m, n, k, d_dtype=BF16, with_c=False, c_alias=False, a_layout="row",
                 b_layout="row", packed=False):
    kb = cdiv(k, 128)
    if recipe == "BF16":
        ab = BF16
    else:
        ab = FP8
    a_st = col([m, k]) if a_layout == "col" else None
    b_st = col([n, k]) if b_layout == "col" else None
    ts = [T("a", ab, [m, k], fill=U(-2, 2), strides=a_st, layout=a_layout if a_st else None)]
    if recipe == "FP8_1D2D":
        ts.append(packed_sf("sfa", m, kb) if packed else sf_tensor("sfa", [m, kb], True))
    elif recipe == "FP8_1D1D":
        ts.append(packed_sf("sfa", m, kb) if packed else sf_tensor("sfa", [m, kb], True))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfa", F32, [], fill=U(0.5, 2)))
    ts.append(T("b", ab, [n, k], fill=U(-2, 2), strides=b_st, layout=b_layout if b_st else None))
    if recipe == "FP8_1D2D":
        ts.append(packed_sf("sfb", cdiv(n, 128), kb) if packed
                  else sf_tensor("sfb", [cdiv(n, 128), kb], False))
    elif recipe == "FP8_1D1D":
        ts.append(packed_sf("sfb", n, kb) if packed else sf_tensor("sfb", [n, kb], True))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfb", F32, [], fill=U(0.5, 2)))
    if c_alias:
        ts.append(T("c", None, None, alias="d"))
        ts.append(T("d", d_dtype, [m, n], role="inout", fill=U(-4, 4)))
    else:
        if with_c:
            ts.append(T("c", F32, [m, n], fill=U(-4, 4)))
        ts.append(T("d", d_dtype, [m, n], role="output"))
    return ts


def gemm_case(recipe, m, n, k, d_dtype=BF16, tag="", **kw):
    tol = TOL_BF16 if recipe == "BF16" else TOL_FP8
    name = f"gemm_{recipe.lower()}_m{m}_n{n}_k{k}_{'bf16' if d_dtype == BF16 else 'f32'}{tag}"
    expect = kw.pop("expect", "ok")
    note = kw.pop("note", None)
    case(name, "gemm", {"recipe": recipe}, gemm_tensors(recipe, m, n, k, d_dtype, **kw),
         {"d": check("calc_diff", tol)}, expect=expect, note=note)


gemm_case("FP8_1D2D", 128, 256, 512)
gemm_case("FP8_1D2D", 1, 128, 128)
gemm_case("FP8_1D2D", 17, 200, 320, note="M and N off the 128 grid, K tail (320 = 2.5 blocks)")
gemm_case("FP8_1D2D", 0, 128, 256, note="M = 0: nothing to write")
gemm_case("FP8_1D2D", 64, 128, 256, F32, tag="_c", with_c=True)
gemm_case("FP8_1D2D", 16, 128, 0, F32, tag="_c", with_c=True, note="K = 0: D = C")
gemm_case("FP8_1D2D", 256, 512, 1024, tag="_large")
gemm_case("FP8_1D2D", 64, 256, 384, tag="_ue8m0_packed", packed=True,
          note="UE8M0 scales packed in int32 (the SM100 layout)")
gemm_case("FP8_1D2D", 32, 128, 256, tag="_mn_major_a", a_layout="col",
          note="FP8 with M-major A: the SM90 FP8 kernel declines it, the portable kernel serves it")
gemm_case("FP8_PER_TENSOR", 300, 136, 640, F32, tag="_c", with_c=True,
          note="M past two 128-row tiles, N off the grid, f32 D with C")
gemm_case("FP8_1D1D", 128, 256, 384, F32)
gemm_case("FP8_1D1D", 96, 128, 256, F32, tag="_c", with_c=True)
gemm_case("FP8_1D1D", 64, 192, 256, F32, tag="_inplace", c_alias=True,
          note="C is D: in-place accumulation of weight gradients")
gemm_case("FP8_1D1D", 17, 100, 208, BF16, note="odd M and N, K tail")
gemm_case("FP8_1D1D", 128, 128, 512, F32, tag="_ue8m0_packed", packed=True)
gemm_case("FP8_PER_TENSOR", 64, 128, 256)
gemm_case("FP8_PER_TENSOR", 1, 256, 128, F32)
case("gemm_fp8_per_tensor_m32_n64_k128_bf16_no_scales", "gemm", {"recipe": "FP8_PER_TENSOR"},
     [t for t in gemm_tensors("FP8_PER_TENSOR", 32, 64, 128) if t["name"] not in ("sfa", "sfb")],
     {"d": check("calc_diff", TOL_FP8)}, note="NULL scales mean 1")
for la, lb, tag in (("row", "row", "nt"), ("row", "col", "nn"), ("col", "row", "tn"),
                    ("col", "col", "tt")):
    gemm_case("BF16", 96, 160, 200, tag="_" + tag, a_layout=la, b_layout=lb)
gemm_case("BF16", 64, 128, 256, F32, tag="_c", with_c=True)
gemm_case("BF16", 48, 64, 128, F32, tag="_inplace", c_alias=True)
gemm_case("BF16", 0, 64, 128)
gemm_case("BF16", 1, 256, 512)
gemm_case("BF16", 17, 17, 24, note="tiny odd shapes, K below one block")
gemm_case("BF16", 256, 512, 1024, tag="_large")

fp8_ok = gemm_tensors("FP8_1D2D", 32, 128, 256)


def replace(ts, name, **changes):
    out = []
    for t in ts:
        t = json.loads(json.dumps(t))
        if t["name"] == name:
            if changes.get("drop"):
                continue
            for key in ("strides", "layout"):
                if key in changes.get("clear", ()):
                    t.pop(key, None)
            t.update({k: v for k, v in changes.items() if k not in ("drop", "clear")})
        out.append(t)
    return out


bad("gemm_bad_a_dtype", "gemm", {"recipe": "FP8_1D2D"},
    replace(fp8_ok, "a", dtype=BF16), "DLG_ERR_DTYPE", "bf16 A under an FP8 recipe")
bad("gemm_bad_k_mismatch", "gemm", {"recipe": "FP8_1D2D"},
    replace(fp8_ok, "b", shape=[128, 384]), "DLG_ERR_SHAPE", "B's K differs from A's")
bad("gemm_bad_sfa_shape", "gemm", {"recipe": "FP8_1D2D"},
    replace(fp8_ok, "sfa", shape=[32, 3], clear=("strides", "layout")), "DLG_ERR_SHAPE",
    "sfa has 3 K-blocks, K = 256 needs 2")
bad("gemm_bad_d_dtype", "gemm", {"recipe": "FP8_1D2D"},
    replace(fp8_ok, "d", dtype=I32), "DLG_ERR_DTYPE", "int32 D")
bad("gemm_bad_d_shape", "gemm", {"recipe": "FP8_1D2D"},
    replace(fp8_ok, "d", shape=[32, 129]), "DLG_ERR_SHAPE", "D has N + 1 columns")
bad("gemm_bad_recipe", "gemm", {"recipe": 99}, fp8_ok, "DLG_ERR_INVALID_ARGUMENT",
    "recipe 99 does not exist")
bad("gemm_bad_missing_a", "gemm", {"recipe": "FP8_1D2D"}, replace(fp8_ok, "a", drop=True),
    "DLG_ERR_INVALID_ARGUMENT", "A is NULL")
bad("gemm_bad_c_shape", "gemm", {"recipe": "BF16"},
    gemm_tensors("BF16", 16, 64, 64, F32, with_c=True)[:2]
    + [T("c", F32, [16, 32], fill=U(-1, 1)), T("d", F32, [16, 64], role="output")],
    "DLG_ERR_SHAPE", "C is [16, 32], D is [16, 64]")
bad("gemm_bad_bf16_operand_fp8", "gemm", {"recipe": "BF16"},
    replace(gemm_tensors("BF16", 16, 64, 64), "b", dtype=FP8), "DLG_ERR_DTYPE",
    "FP8 B under the BF16 recipe (the README example's error)")

# -- M-grouped contiguous ------------------------------------------------------------------

def mgc_tensors(recipe, m, n, k, g, layout, d_dtype=BF16):
    kb = cdiv(k, 128)
    ab = BF16 if recipe == "BF16" else FP8
    ts = [T("a", ab, [m, k], fill=U(-2, 2))]
    if recipe == "FP8_1D2D":
        ts.append(sf_tensor("sfa", [m, kb], True))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfa", F32, [], fill=U(0.5, 2)))
    ts.append(T("b", ab, [g, n, k], fill=U(-2, 2)))
    if recipe == "FP8_1D2D":
        ts.append(T("sfb", F32, [g, cdiv(n, 128), kb], fill=U(0.5, 2)))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfb", F32, [g], fill=U(0.5, 2)))
    ts.append(T("grouped_layout", I32, [len(layout)], values=layout))
    ts.append(T("d", d_dtype, [m, n], role="output"))
    return ts


def row_ids(segments):
    """segments: list of (group or -1, rows) -> row ids."""
    ids = []
    for g, rows in segments:
        ids += [g] * rows
    return ids


def mgc_case(name, recipe, n, k, g, kind, layout, m=None, note=None, devices=None,
             devices_reason=None):
    """ROW_IDS: layout is the row-id list (M = its length); OFFSETS: layout is [G + 1] offsets
    and m is given."""
    if kind == "ROW_IDS":
        m = len(layout)
        untouched_rows = [r for r, gid in enumerate(layout) if gid < 0]
    else:
        untouched_rows = [r for r in range(m) if r < layout[0] or r >= layout[-1]]
    tol = TOL_BF16 if recipe == "BF16" else TOL_FP8
    case(name, "m_grouped_gemm_contiguous", {"recipe": recipe, "layout_kind": kind},
         mgc_tensors(recipe, m, n, k, g, layout),
         {"d": check("calc_diff", tol, rows_untouched(n, n, untouched_rows))}, note=note,
         devices=devices, devices_reason=devices_reason)


mgc_case("mgc_fp8_1d2d_rowids_g3", "FP8_1D2D", 256, 256, 3, "ROW_IDS",
         row_ids([(0, 128), (1, 128), (2, 128)]))
mgc_case("mgc_fp8_1d2d_rowids_padding", "FP8_1D2D", 128, 384, 3, "ROW_IDS",
         row_ids([(0, 128), (-1, 128), (2, 128), (-1, 128)]),
         note="padding rows (-1) are neither read nor written; group 1 is empty")
mgc_case("mgc_fp8_1d2d_rowids_all_padding", "FP8_1D2D", 128, 128, 2, "ROW_IDS",
         row_ids([(-1, 256)]), note="every row is padding: D stays untouched")
mgc_case("mgc_fp8_1d2d_offsets_empty_group", "FP8_1D2D", 192, 256, 4, "OFFSETS",
         [128, 256, 256, 512, 512], m=640,
         note="rows before off[0] and from off[G] on are untouched; groups 1 and 3 are empty")
mgc_case("mgc_fp8_per_tensor_rowids", "FP8_PER_TENSOR", 128, 256, 2, "ROW_IDS",
         row_ids([(1, 128), (0, 128)]), note="groups out of order")
mgc_case("mgc_bf16_rowids", "BF16", 128, 192, 2, "ROW_IDS", row_ids([(0, 128), (1, 128)]))
mgc_case("mgc_bf16_offsets", "BF16", 256, 256, 3, "OFFSETS", [0, 128, 256, 384], m=384)
mgc_case("mgc_fp8_1d2d_m0", "FP8_1D2D", 128, 128, 2, "ROW_IDS", [], note="M = 0")
mgc_case("mgc_bf16_rowids_unaligned", "BF16", 64, 128, 3, "ROW_IDS",
         row_ids([(0, 17), (-1, 3), (2, 50), (1, 1)]), devices=["cpu"],
         devices_reason="GPU kernels need 128-aligned segments (not checkable without a sync)",
         note="segments off the 128 grid: the CPU reference takes them")
mgc_case("mgc_fp8_1d2d_large", "FP8_1D2D", 512, 512, 4, "ROW_IDS",
         row_ids([(0, 128), (1, 256), (3, 128)]))

mgc_ok = mgc_tensors("FP8_1D2D", 256, 128, 128, 2, row_ids([(0, 128), (1, 128)]))
bad("mgc_bad_layout_dtype", "m_grouped_gemm_contiguous",
    {"recipe": "FP8_1D2D", "layout_kind": "ROW_IDS"},
    replace(mgc_ok, "grouped_layout", dtype=F32), "DLG_ERR_DTYPE", "float grouped_layout")
bad("mgc_bad_layout_kind", "m_grouped_gemm_contiguous", {"recipe": "FP8_1D2D", "layout_kind": 7},
    mgc_ok, "DLG_ERR_INVALID_ARGUMENT", "layout kind 7 does not exist")
bad("mgc_bad_rowids_length", "m_grouped_gemm_contiguous",
    {"recipe": "FP8_1D2D", "layout_kind": "ROW_IDS"},
    replace(mgc_ok, "grouped_layout", shape=[255], values=[0] * 255), "DLG_ERR_SHAPE",
    "row ids for 255 rows, A has 256")
bad("mgc_bad_sfb_groups", "m_grouped_gemm_contiguous",
    {"recipe": "FP8_1D2D", "layout_kind": "ROW_IDS"},
    replace(mgc_ok, "sfb", shape=[3, 1, 2]), "DLG_ERR_SHAPE", "sfb has 3 groups, B has 2")
bad("mgc_bad_d_dtype", "m_grouped_gemm_contiguous",
    {"recipe": "FP8_1D2D", "layout_kind": "ROW_IDS"},
    replace(mgc_ok, "d", dtype=I32), "DLG_ERR_DTYPE", "int32 D")

# -- M-grouped masked ----------------------------------------------------------------------

def mgm_tensors(recipe, g, max_m, n, k, masked):
    kb = cdiv(k, 128)
    ab = BF16 if recipe == "BF16" else FP8
    ts = [T("a", ab, [g, max_m, k], fill=U(-2, 2))]
    if recipe == "FP8_1D2D":
        ts.append(sf_tensor("sfa", [g, max_m, kb], True))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfa", F32, [], fill=U(0.5, 2)))
    ts.append(T("b", ab, [g, n, k], fill=U(-2, 2)))
    if recipe == "FP8_1D2D":
        ts.append(T("sfb", F32, [g, cdiv(n, 128), kb], fill=U(0.5, 2)))
    elif recipe == "FP8_PER_TENSOR":
        ts.append(T("sfb", F32, [g], fill=U(0.5, 2)))
    ts.append(T("masked_m", I32, [g], values=masked))
    ts.append(T("d", BF16, [g, max_m, n], role="output"))
    return ts


def mgm_case(name, recipe, g, max_m, n, k, masked, expected_m, note=None):
    rows = [gi * max_m + r for gi in range(g) for r in range(masked[gi], max_m)]
    tol = TOL_BF16 if recipe == "BF16" else TOL_FP8
    case(name, "m_grouped_gemm_masked", {"recipe": recipe, "expected_m": expected_m},
         mgm_tensors(recipe, g, max_m, n, k, masked),
         {"d": check("calc_diff", tol, rows_untouched(n, n, rows))}, note=note)


mgm_case("mgm_fp8_1d2d_g3", "FP8_1D2D", 3, 64, 256, 256, [64, 17, 0], 32,
         note="full, partial and empty groups; rows past masked_m stay untouched")
mgm_case("mgm_fp8_1d2d_all_zero", "FP8_1D2D", 2, 32, 128, 128, [0, 0], 16,
         note="masked_m = 0 everywhere: D stays untouched")
mgm_case("mgm_fp8_1d2d_m1", "FP8_1D2D", 4, 16, 128, 384, [1, 1, 1, 1], 1)
mgm_case("mgm_fp8_per_tensor", "FP8_PER_TENSOR", 2, 64, 128, 256, [40, 64], 48)
mgm_case("mgm_bf16", "BF16", 2, 128, 128, 192, [1, 128], 64)
mgm_case("mgm_fp8_1d2d_large", "FP8_1D2D", 4, 128, 512, 512, [128, 100, 3, 77], 96)

mgm_ok = mgm_tensors("FP8_1D2D", 2, 32, 128, 128, [16, 32])
bad("mgm_bad_masked_m_length", "m_grouped_gemm_masked",
    {"recipe": "FP8_1D2D", "expected_m": 16},
    replace(mgm_ok, "masked_m", shape=[3], values=[1, 2, 3]), "DLG_ERR_SHAPE",
    "masked_m has 3 entries for 2 groups")
bad("mgm_bad_expected_m", "m_grouped_gemm_masked", {"recipe": "FP8_1D2D", "expected_m": 0},
    mgm_ok, "DLG_ERR_INVALID_ARGUMENT", "expected_m must be > 0")
bad("mgm_bad_a_dtype", "m_grouped_gemm_masked", {"recipe": "FP8_1D2D", "expected_m": 16},
    replace(mgm_ok, "a", dtype=F32), "DLG_ERR_DTYPE", "f32 A")
bad("mgm_bad_b_groups", "m_grouped_gemm_masked", {"recipe": "FP8_1D2D", "expected_m": 16},
    replace(mgm_ok, "b", shape=[3, 128, 128]), "DLG_ERR_SHAPE", "B has 3 groups, A has 2")

# -- K-grouped contiguous ------------------------------------------------------------------

def kgc_tensors(recipe, m, n, ks, with_c=False, c_alias=False):
    kt = sum(ks)
    g = len(ks)
    ts = [T("a", FP8, [m, kt], fill=U(-2, 2))]
    if recipe == "FP8_1D1D":
        ts.append(sf_tensor("sfa", [m, kt // 128], True))
    else:
        ts.append(T("sfa", F32, [g], fill=U(0.5, 2)))
    ts.append(T("b", FP8, [n, kt], fill=U(-2, 2)))
    if recipe == "FP8_1D1D":
        ts.append(sf_tensor("sfb", [n, kt // 128], True))
    else:
        ts.append(T("sfb", F32, [g], fill=U(0.5, 2)))
    ts.append(T("ks", I32, [g], values=ks))
    if c_alias:
        ts.append(T("c", None, None, alias="d"))
        ts.append(T("d", F32, [g, m, n], role="inout", fill=U(-4, 4)))
    else:
        if with_c:
            ts.append(T("c", F32, [g, m, n], fill=U(-4, 4)))
        ts.append(T("d", F32, [g, m, n], role="output"))
    return ts


def kgc_case(name, recipe, m, n, ks, note=None, **kw):
    case(name, "k_grouped_gemm_contiguous", {"recipe": recipe}, kgc_tensors(recipe, m, n, ks, **kw),
         {"d": check("calc_diff", TOL_FP8)}, note=note)


kgc_case("kgc_fp8_1d1d_g4_c", "FP8_1D1D", 64, 96, [128, 256, 0, 128], with_c=True,
         note="an empty K segment: D[2] = C[2]")
kgc_case("kgc_fp8_1d1d_inplace", "FP8_1D1D", 128, 128, [256, 128], c_alias=True,
         note="C is D")
kgc_case("kgc_fp8_1d1d_no_c", "FP8_1D1D", 32, 64, [128, 128, 384])
kgc_case("kgc_fp8_per_tensor", "FP8_PER_TENSOR", 64, 64, [128, 256], with_c=True)
kgc_case("kgc_fp8_1d1d_all_empty", "FP8_1D1D", 16, 32, [0, 0], with_c=True,
         note="K_total = 0: D = C")
kgc_case("kgc_fp8_1d1d_large", "FP8_1D1D", 256, 256, [512, 256, 256])
kgc_case("kgc_fp8_1d1d_m256_c_empty_middle", "FP8_1D1D", 256, 200, [256, 0, 384, 128], with_c=True,
         note="M a multiple of 128 with an f32 C (the SM90 TMA epilogue: C prefetched into "
              "shared memory), an empty group in the middle, N off the tile grid")
kgc_case("kgc_fp8_per_tensor_m128_c", "FP8_PER_TENSOR", 128, 96, [128, 256], with_c=True,
         note="per-tensor through the SM90 TMA epilogue")

kgc_ok = kgc_tensors("FP8_1D1D", 32, 64, [128, 128])
bad("kgc_bad_d_dtype", "k_grouped_gemm_contiguous", {"recipe": "FP8_1D1D"},
    replace(kgc_ok, "d", dtype=BF16), "DLG_ERR_DTYPE", "D must be f32")
bad("kgc_bad_ks_length", "k_grouped_gemm_contiguous", {"recipe": "FP8_1D1D"},
    replace(kgc_ok, "ks", shape=[3], values=[128, 128, 0]), "DLG_ERR_SHAPE",
    "ks has 3 groups, D has 2")
bad("kgc_bad_ks_dtype", "k_grouped_gemm_contiguous", {"recipe": "FP8_1D1D"},
    replace(kgc_ok, "ks", dtype=F32), "DLG_ERR_DTYPE", "float ks")

# -- MQA logits ----------------------------------------------------------------------------

def mqa_tensors(s, s_kv, h, d, ks, ke, out_dtype=F32, row_stride=None):
    st = [row_stride, 1] if row_stride else None
    return [
        T("q", FP8, [s, h, d], fill=U(-1, 1)),
        T("kv", FP8, [s_kv, d], fill=U(-1, 1)),
        T("kv_scale", F32, [s_kv], fill=U(0.5, 1.5)),
        T("weights", F32, [s, h], fill=U(-1, 1)),
        T("ks", I32, [s], values=ks),
        T("ke", I32, [s], values=ke),
        T("logits", out_dtype, [s, s_kv], role="output", strides=st,
          layout="padded_rows" if st else None),
    ]


def mqa_case(name, s, s_kv, ks, ke, clean, h=32, d=128, out_dtype=F32, row_stride=None,
             note=None):
    untouched = None
    if not clean:
        untouched = cols_untouched(s_kv, row_stride or s_kv, list(zip(ks, ke)))
    case(name, "mqa_logits", {"clean_logits": clean},
         mqa_tensors(s, s_kv, h, d, ks, ke, out_dtype, row_stride),
         {"logits": check("calc_diff", TOL_FP8, untouched)}, note=note)


def causal(s, s_kv, window=None):
    """Row i sees [ks, ke): a causal prefix ending at s_kv - s + i + 1 (optionally windowed)."""
    ke = [s_kv - s + i + 1 for i in range(s)]
    ks = [max(0, e - window) if window else 0 for e in ke]
    return ks, ke


ks, ke = causal(64, 256)
mqa_case("mqa_s64_kv256_clean", 64, 256, ks, ke, 1)
mqa_case("mqa_s64_kv256_noclean", 64, 256, ks, ke, 0,
         note="without clean_logits the out-of-range entries stay untouched")
ks, ke = causal(17, 100, window=40)
mqa_case("mqa_s17_kv100_window_bf16", 17, 100, ks, ke, 1, out_dtype=BF16)
mqa_case("mqa_s17_kv100_padded_stride", 17, 100, ks, ke, 0, row_stride=128,
         note="logits rows padded to 128 columns")
mqa_case("mqa_s1_kv64", 1, 64, [0], [64], 1, h=64)
mqa_case("mqa_s8_kv128_edges", 8, 128, [0, 5, 5, 0, 120, 64, 0, 200],
         [128, 5, 6, 0, 200, 63, 300, 250], 1,
         note="empty rows (ks = ke, ke < ks), ranges clipped to [0, S_kv)")
ks, ke = causal(128, 512)
mqa_case("mqa_s128_kv512_large", 128, 512, ks, ke, 1, h=64)

# Compressed output (dlg_mqa_logits_compressed, DeepGEMM's max_seqlen_k): logits [S, W],
# column c of row i = key ks[i] + c (ranges clamped to [0, S_kv]), W may cut a window short.
def mqa_compressed_case(name, s, s_kv, ks, ke, width, clean, h=32, d=128, out_dtype=F32,
                        note=None):
    tensors = mqa_tensors(s, s_kv, h, d, ks, ke, out_dtype)
    tensors = replace(tensors, "logits", shape=[s, width])
    untouched = None
    if not clean:
        spans = []
        for lo, hi in zip(ks, ke):
            lo, hi = max(0, min(lo, s_kv)), max(0, min(hi, s_kv))
            spans.append((0, max(0, min(hi - lo, width))))
        untouched = cols_untouched(width, width, spans)
    case(name, "mqa_logits_compressed", {"clean_logits": clean}, tensors,
         {"logits": check("calc_diff", TOL_FP8, untouched)}, note=note)


ks, ke = causal(17, 100, window=40)
mqa_compressed_case("mqa_compressed_s17_kv100_w32_clean", 17, 100, ks, ke, 32, 1,
                    note="windows of 40 keys cut to 32 columns")
mqa_compressed_case("mqa_compressed_s8_kv128_edges_bf16", 8, 128,
                    [0, 5, 5, 0, 120, 64, 0, 200], [128, 5, 6, 0, 200, 63, 300, 250], 64, 0,
                    out_dtype=BF16, note="empty and clipped rows; untouched past each window")
ks, ke = causal(128, 512, window=300)
mqa_compressed_case("mqa_compressed_s128_kv512_w256_h64", 128, 512, ks, ke, 256, 0, h=64,
                    note="several query blocks and key blocks; windows of 300 cut to 256 columns")
bad("mqa_compressed_bad_rows", "mqa_logits_compressed", {"clean_logits": 1},
    replace(mqa_tensors(8, 64, 32, 128, [0] * 8, [64] * 8), "logits", shape=[9, 16]),
    "DLG_ERR_SHAPE", "logits rows != S")

mqa_ok = mqa_tensors(8, 64, 32, 128, [0] * 8, [64] * 8)
bad("mqa_bad_q_dtype", "mqa_logits", {"clean_logits": 1}, replace(mqa_ok, "q", dtype=BF16),
    "DLG_ERR_DTYPE", "bf16 q")
bad("mqa_bad_weights_shape", "mqa_logits", {"clean_logits": 1},
    replace(mqa_ok, "weights", shape=[8, 16]), "DLG_ERR_SHAPE", "weights [S, 16], q has 32 heads")
bad("mqa_bad_ks_dtype", "mqa_logits", {"clean_logits": 1},
    replace(mqa_ok, "ks", dtype=F32), "DLG_ERR_DTYPE", "float ks")
bad("mqa_bad_logits_dtype", "mqa_logits", {"clean_logits": 1},
    replace(mqa_ok, "logits", dtype=I32), "DLG_ERR_DTYPE", "int32 logits")

# -- paged MQA logits: schedule metadata ---------------------------------------------------

def meta_case(name, lens, block_kv, num_sms, two_d=None, note=None):
    shape = [len(lens)] if not two_d else [len(lens) // two_d, two_d]
    case(name, "paged_mqa_logits_metadata", {"block_kv": block_kv, "num_sms": num_sms},
         [T("context_lens", I32, shape, values=lens),
          T("schedule_meta", I32, [num_sms + 1, 2], role="output")],
         {"schedule_meta": check("exact")}, note=note)


meta_case("meta_b4_sms8", [100, 256, 1, 37], 64, 8)
meta_case("meta_b3x2_sms4", [64, 65, 300, 301, 0, 1], 64, 4, two_d=2,
          note="context_lens [B, next_n]")
meta_case("meta_zero_lens", [0, 0, 0], 64, 6, note="nothing to schedule")
meta_case("meta_b16_sms132", [37 * i + 5 for i in range(16)], 64, 132,
          note="H100's SM count; more SMs than blocks")

meta_ok = [T("context_lens", I32, [4], values=[10, 20, 30, 40]),
           T("schedule_meta", I32, [9, 2], role="output")]
bad("meta_bad_lens_dtype", "paged_mqa_logits_metadata", {"block_kv": 64, "num_sms": 8},
    replace(meta_ok, "context_lens", dtype=F32), "DLG_ERR_DTYPE", "float context_lens")
bad("meta_bad_rows", "paged_mqa_logits_metadata", {"block_kv": 64, "num_sms": 8},
    replace(meta_ok, "schedule_meta", shape=[8, 2]), "DLG_ERR_SHAPE",
    "schedule_meta needs num_sms + 1 rows")
bad("meta_bad_block_kv", "paged_mqa_logits_metadata", {"block_kv": 0, "num_sms": 8}, meta_ok,
    "DLG_ERR_INVALID_ARGUMENT", "block_kv = 0")

# -- paged MQA logits ----------------------------------------------------------------------

def kv_cache(num_blocks, block_kv, d):
    """uint8 [blocks, block_kv, 1, D + 4]: per block block_kv·D FP8 bytes, then FP32 scales."""
    bb = block_kv * (d + 4)
    return T("kv_cache", U8, [num_blocks, block_kv, 1, d + 4], parts=[
        {"dtype": FP8, "shape": [num_blocks, block_kv * d], "strides": [bb, 1], "byte_offset": 0,
         "fill": U(-1, 1)},
        {"dtype": F32, "shape": [num_blocks, block_kv], "strides": [bb // 4, 1],
         "byte_offset": block_kv * d, "fill": U(0.5, 1.5)},
    ])


def paged_tensors(b, next_n, h, d, block_kv, num_blocks, lens, table, max_len, two_d,
                  out_dtype=F32):
    lens_shape = [b, next_n] if two_d else [b]
    return [
        T("q", FP8, [b, next_n, h, d], fill=U(-1, 1)),
        kv_cache(num_blocks, block_kv, d),
        T("weights", F32, [b * next_n, h], fill=U(-1, 1)),
        T("context_lens", I32, lens_shape, values=lens),
        T("block_table", I32, [b, len(table) // b], values=table),
        T("logits", out_dtype, [b * next_n, max_len], role="output"),
    ]


def paged_case(name, b, next_n, lens, clean, two_d=False, h=32, d=128, block_kv=64,
               out_dtype=F32, note=None):
    max_blocks = max(cdiv(max(lens), block_kv), 1)
    num_blocks = b * max_blocks + 3
    # A scrambled but valid table: block (i, j) -> a distinct physical block.
    table = [(i * max_blocks + j) * 7 % num_blocks for i in range(b) for j in range(max_blocks)]
    max_len = max_blocks * block_kv
    valid = []
    for bi in range(b):
        for t in range(next_n):
            end = lens[bi * next_n + t] if two_d else lens[bi] - next_n + t + 1
            valid.append((0, end))
    untouched = None if clean else cols_untouched(max_len, max_len, valid)
    case(name, "paged_mqa_logits", {"clean_logits": clean},
         paged_tensors(b, next_n, h, d, block_kv, num_blocks, lens, table, max_len, two_d,
                       out_dtype),
         {"logits": check("calc_diff", TOL_FP8, untouched)}, note=note)


paged_case("paged_b4_n1_clean", 4, 1, [100, 256, 1, 37], 1)
paged_case("paged_b4_n1_noclean", 4, 1, [100, 256, 1, 37], 0)
paged_case("paged_b2_n2_lens1d", 2, 2, [129, 64], 1,
           note="context_lens [B]: row (b, t) sees len[b] - next_n + t + 1 entries")
paged_case("paged_b3_n2_lens2d_bf16", 3, 2, [10, 11, 200, 201, 64, 65], 1, two_d=True,
           out_dtype=BF16)
paged_case("paged_b2_n1_h64", 2, 1, [300, 17], 0, h=64)
paged_case("paged_b8_n1_large", 8, 1, [512, 1, 77, 256, 400, 129, 64, 333], 1, h=64)

paged_ok = paged_tensors(2, 1, 32, 128, 64, 5, [64, 100], [0, 1, 2, 3], 128, False)
bad("paged_bad_kv_cache_shape", "paged_mqa_logits", {"clean_logits": 1},
    replace(paged_ok, "kv_cache", shape=[5, 64, 1, 128],
            parts=[{"dtype": FP8, "shape": [5 * 64 * 128], "byte_offset": 0, "fill": U(-1, 1)}]),
    "DLG_ERR_SHAPE", "kv_cache's last dim must be D + 4 = 132")
bad("paged_bad_q_dtype", "paged_mqa_logits", {"clean_logits": 1},
    replace(paged_ok, "q", dtype=BF16), "DLG_ERR_DTYPE", "bf16 q")
bad("paged_bad_block_table_dtype", "paged_mqa_logits", {"clean_logits": 1},
    replace(paged_ok, "block_table", dtype=F32), "DLG_ERR_DTYPE", "float block_table")

# -- clean logits --------------------------------------------------------------------------

def clean_case(name, r, l, ks, ke, dtype=F32, row_stride=None, note=None):
    ts = []
    if ks is not None:
        ts.append(T("ks", I32, [r], values=ks))
    ts.append(T("ke", I32, [r], values=ke))
    ts.append(T("logits", dtype, [r, l], role="inout", fill=U(-5, 5),
                strides=[row_stride, 1] if row_stride else None,
                layout="padded_rows" if row_stride else None))
    case(name, "clean_logits", {}, ts, {"logits": check("exact")}, note=note)


ks, ke = causal(17, 100, window=30)
clean_case("clean_r17_l100", 17, 100, ks, ke)
clean_case("clean_no_ks", 6, 64, None, [0, 1, 63, 64, 65, 32], note="ks NULL means 0")
clean_case("clean_bf16_padded", 17, 100, ks, ke, BF16, row_stride=112)
clean_case("clean_r0", 0, 64, [], [], note="no rows")

clean_ok = [T("ks", I32, [4], values=[0] * 4), T("ke", I32, [4], values=[8] * 4),
            T("logits", F32, [4, 16], role="output")]
bad("clean_bad_ke_dtype", "clean_logits", {}, replace(clean_ok, "ke", dtype=F32),
    "DLG_ERR_DTYPE", "float ke")
bad("clean_bad_ke_length", "clean_logits", {},
    replace(clean_ok, "ke", shape=[5], values=[8] * 5), "DLG_ERR_SHAPE", "ke has 5 rows, logits 4")

# -- FP8 casts -----------------------------------------------------------------------------

def cast_case(op, name, x_dtype, shape, sf_shape, ue8m0=None, sf_tma=False, fill=None,
              note=None):
    attrs = {} if ue8m0 is None else {"use_ue8m0": ue8m0}
    case(name, op, attrs,
         [T("x", x_dtype, shape, fill=fill or U(-3, 3)),
          T("out", FP8, shape, role="output"),
          T("sf", F32, sf_shape, role="output",
            strides=mn_major_tma(sf_shape) if sf_tma else None,
            layout="mn_major_tma" if sf_tma else None)],
         {"out": check("calc_diff", TOL_BF16), "sf": check("calc_diff", 1e-9)}, note=note)


P, B, S = "cast_fp8_per_token", "cast_fp8_per_block", "cast_fp8_per_tensor"
cast_case(P, "cast_token_f32_m64_k384", F32, [64, 384], [64, 3], 0)
cast_case(P, "cast_token_bf16_m17_k200", BF16, [17, 200], [17, 2], 0, note="K tail")
cast_case(P, "cast_token_ue8m0", F32, [32, 256], [32, 2], 1, fill=N(0, 4))
cast_case(P, "cast_token_tma_sf", BF16, [33, 256], [33, 2], 0, sf_tma=True,
          note="sf written straight into the GEMM's MN-major TMA layout")
cast_case(P, "cast_token_zeros", F32, [4, 128], [4, 1], 0, fill=U(0, 0),
          note="all-zero blocks get sf = 1")
cast_case(P, "cast_token_m0", F32, [0, 256], [0, 2], 0)
cast_case(B, "cast_block_f32_m256_k384", F32, [256, 384], [2, 3], 0)
cast_case(B, "cast_block_bf16_m130_k200", BF16, [130, 200], [2, 2], 0, note="M and K tails")
cast_case(B, "cast_block_ue8m0", F32, [128, 256], [1, 2], 1, fill=N(0, 2))
cast_case(S, "cast_tensor_f32_m64_k256", F32, [64, 256], [], fill=N(0, 3))
cast_case(S, "cast_tensor_bf16_3d", BF16, [2, 17, 64], [])
cast_case(S, "cast_tensor_zeros", F32, [8, 8], [], fill=U(0, 0), note="amax 0 -> sf = 1")

tok_ok = [T("x", F32, [16, 256], fill=U(-1, 1)), T("out", FP8, [16, 256], role="output"),
          T("sf", F32, [16, 2], role="output")]
bad("cast_token_bad_out_dtype", P, {"use_ue8m0": 0}, replace(tok_ok, "out", dtype=BF16),
    "DLG_ERR_DTYPE", "out must be float8_e4m3fn")
bad("cast_token_bad_sf_shape", P, {"use_ue8m0": 0}, replace(tok_ok, "sf", shape=[16, 3]),
    "DLG_ERR_SHAPE", "sf needs ceil(256/128) = 2 columns")
bad("cast_block_bad_sf_shape", B, {"use_ue8m0": 0}, replace(tok_ok, "sf", shape=[16, 2]),
    "DLG_ERR_SHAPE", "per-block sf for 16 rows is [1, 2]")
bad("cast_tensor_bad_out_shape", S, {},
    [T("x", F32, [16, 256], fill=U(-1, 1)), T("out", FP8, [16, 128], role="output"),
     T("sf", F32, [], role="output")], "DLG_ERR_SHAPE", "out shape differs from x")
bad("cast_tensor_bad_x_dtype", S, {},
    [T("x", I32, [16, 256], fill=I(-5, 5)), T("out", FP8, [16, 256], role="output"),
     T("sf", F32, [], role="output")], "DLG_ERR_DTYPE", "int32 x")

# -- scale-factor layout and UE8M0 packing -------------------------------------------------

def transform_case(name, shape, note=None):
    case(name, "transform_sf", {},
         [T("sf_in", F32, shape, fill=U(0.1, 2)),
          T("sf_out", F32, shape, role="output", strides=mn_major_tma(shape), layout="mn_major_tma")],
         {"sf_out": check("exact")}, note=note)


transform_case("transform_sf_256x4", [256, 4])
transform_case("transform_sf_17x3", [17, 3], note="rows padded to 20")
transform_case("transform_sf_batched", [3, 33, 2])
transform_case("transform_sf_batched_tiles", [2, 300, 70],
               note="the GPU transposes 128 x 32 tiles: row and column tails")
bad("transform_sf_bad_shape", "transform_sf", {},
    [T("sf_in", F32, [16, 4], fill=U(0.1, 2)),
     T("sf_out", F32, [16, 3], role="output", strides=[1, 16])], "DLG_ERR_SHAPE",
    "sf_out shape differs")
bad("transform_sf_bad_dtype", "transform_sf", {},
    [T("sf_in", I32, [16, 4], fill=I(1, 9)),
     T("sf_out", F32, [16, 4], role="output", strides=[1, 16])], "DLG_ERR_DTYPE", "int32 sf_in")


def pack_case(name, shape, fill=None, note=None):
    packed = shape[:-1] + [cdiv(shape[-1], 4)]
    case(name, "pack_ue8m0", {},
         [T("sf", F32, shape, fill=fill or U(1e-3, 8)), T("packed", I32, packed, role="output")],
         {"packed": check("exact")}, note=note)


pack_case("pack_ue8m0_64x8", [64, 8])
pack_case("pack_ue8m0_17x5", [17, 5], note="Kb = 5: the last word is zero-padded")
pack_case("pack_ue8m0_batched", [2, 16, 4], fill=U(0.25, 0.5))
pack_case("pack_ue8m0_batched_words", [2, 300, 70], note="18 words a row: the GPU takes 4 a thread, with a tail")
bad("pack_ue8m0_bad_shape", "pack_ue8m0", {},
    [T("sf", F32, [8, 8], fill=U(1, 2)), T("packed", I32, [8, 3], role="output")],
    "DLG_ERR_SHAPE", "packed needs ceil(8/4) = 2 words")
bad("pack_ue8m0_bad_dtype", "pack_ue8m0", {},
    [T("sf", BF16, [8, 8], fill=U(1, 2)), T("packed", I32, [8, 2], role="output")],
    "DLG_ERR_DTYPE", "bf16 sf")

# -- scalar queries ------------------------------------------------------------------------

def query(name, op, attrs, want, note=None):
    c = {"name": name, "op": op}
    if note:
        c["note"] = note
    c.update({"attrs": attrs, "tensors": [], "check": {"result": want}, "expect": "ok"})
    cases.append(c)


for mn, es in ((17, 4), (0, 4), (128, 4), (7, 2), (33, 1)):
    query(f"query_tma_aligned_size_{mn}_{es}", "tma_aligned_size", {"mn": mn, "elem_size": es},
          {"equals": tma(mn, es)})
query("query_mk_alignment", "mk_alignment", {}, {"equals": 128})
query("query_mqa_logits_row_stride_100", "mqa_logits_row_stride", {"seq_len_kv": 100},
      {"min": 100}, note="any stride >= seq_len_kv is valid")
query("query_paged_metadata_rows_132", "paged_mqa_logits_metadata_rows", {"num_sms": 132},
      {"equals": 133})


# ---- writing -----------------------------------------------------------------------------

def dump(c):
    """One key per line, one tensor per line: readable diffs, still plain JSON."""
    lines = ["{"]
    keys = list(c)
    for i, k in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        v = c[k]
        if k == "tensors" and v:
            lines.append(f'  "tensors": [')
            for j, t in enumerate(v):
                lines.append("    " + json.dumps(t) + ("," if j + 1 < len(v) else ""))
            lines.append("  ]" + comma)
        elif k == "check" and v:
            lines.append('  "check": {')
            items = list(v.items())
            for j, (name, chk) in enumerate(items):
                lines.append(f"    {json.dumps(name)}: {json.dumps(chk)}"
                             + ("," if j + 1 < len(items) else ""))
            lines.append("  }" + comma)
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    check_only = "--check" in sys.argv
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, dupes
    os.makedirs(CASES, exist_ok=True)
    stale = 0
    for c in cases:
        path = os.path.join(CASES, c["name"] + ".json")
        text = dump(c)
        json.loads(text)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale += 1
            if not check_only:
                with open(path, "w") as f:
                    f.write(text)
    print(f"{len(cases)} cases, {stale} {'differ' if check_only else 'written'}")
    return 1 if check_only and stale else 0


if __name__ == "__main__":
    sys.exit(main())
