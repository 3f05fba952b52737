"""dlgemm's Python binding on CPU tensors (NumPy + ml_dtypes) against NumPy reference math.

Test names are shared with the other language bindings (Rust, Go, Java), which mirror them."""

from __future__ import annotations

import pathlib
import threading
import time

import ml_dtypes
import numpy as np
import pytest

import dlgemm
from refs import (BF16, E4M3, FakeTensor, assert_close, calc_diff, ceil_div, dequant, f32,
                  quant_blocks, quant_rows, quant_tiles, random_matrix, readme_python_blocks,
                  scale_of, ue8m0_biased_exponent, ue8m0_ceil)

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


# -- library facts ----------------------------------------------------------------------------

def test_version():
    assert dlgemm.version_string() == dlgemm.__version__ == "0.1.0"
    major, minor, patch = (int(p) for p in dlgemm.version_string().split("."))
    assert dlgemm.version() == major * 10000 + minor * 100 + patch
    assert dlgemm._cabi.DLG_VERSION_NUMBER == dlgemm.version()


def test_status_strings():
    assert dlgemm.status_string(0) == "ok"
    assert dlgemm.status_name(0) == "DLG_OK"
    assert dlgemm.status_string(dlgemm._cabi.DLG_ERR_DTYPE) == "unsupported dtype"
    assert dlgemm.status_name(dlgemm._cabi.DLG_ERR_DTYPE) == "DLG_ERR_DTYPE"
    assert dlgemm.status_string(999) == "unknown status"
    # Every status has its exception class, each carrying its own code.
    for code in range(1, 14):
        cls = dlgemm.error_class(code)
        assert issubclass(cls, dlgemm.Error) and cls.status == code
        assert cls("x").status_name == dlgemm.status_name(code)
    assert dlgemm.error_class(999) is dlgemm.Error
    for code in range(1, 6):  # bad arguments are ValueErrors
        assert issubclass(dlgemm.error_class(code), ValueError)
    assert issubclass(dlgemm.DTypeError, TypeError)
    # A failed call: exception type, status, message naming the argument, last_error().
    a = np.zeros((4, 8), np.float32)
    b = np.zeros((4, 8), BF16)
    d = np.zeros((4, 4), BF16)
    with pytest.raises(dlgemm.DTypeError) as info:
        dlgemm.gemm(a, b, d, recipe="bf16")
    assert info.value.status == dlgemm._cabi.DLG_ERR_DTYPE
    assert info.value.status_name == "DLG_ERR_DTYPE"
    assert str(info.value).startswith("a: ")
    assert dlgemm.last_error() == str(info.value)
    dlgemm.clear_error()
    assert dlgemm.last_error() == ""
    assert dlgemm.dtype_name(10, 8) == "float8_e4m3fn"
    assert dlgemm.Recipe.BF16.c_name == dlgemm._cabi.dlg_recipe_name(4)


def test_context_knobs(tmp_path):
    with dlgemm.Context(-1) as ctx:
        assert ctx.device == -1 and not ctx.closed
        assert ctx.max_sms == 0
        ctx.max_sms = 8
        assert ctx.max_sms == 8
        with pytest.raises(dlgemm.InvalidArgumentError, match="max_sms"):
            ctx.max_sms = -1
        assert ctx.max_sms == 8
        assert ctx.pdl is False
        ctx.pdl = True
        assert ctx.pdl is True
        default_dir = ctx.cache_dir
        assert default_dir
        ctx.cache_dir = str(tmp_path)
        assert ctx.cache_dir == str(tmp_path)
        ctx.cache_dir = None
        assert ctx.cache_dir == default_dir
        ctx.jit_options = "-lineinfo"
        assert ctx.jit_options == "-lineinfo"
        ctx.jit_options = None
        assert ctx.jit_options is None
        assert "cpu" in repr(ctx)
        info = dlgemm.runtime_info()
        assert isinstance(info.driver_found, bool) and isinstance(info.why, str)
        if not info.driver_found:
            with pytest.raises(dlgemm.Error):
                ctx.device_info()  # a CPU context has no device to describe
    assert ctx.closed and "closed" in repr(ctx)
    with pytest.raises(ValueError, match="closed"):
        ctx.max_sms
    ctx.close()  # idempotent
    # Keyword knobs at construction, and the process-wide default contexts.
    with dlgemm.Context(-1, max_sms=4, pdl=True, cache_dir=str(tmp_path), jit_options="-G") as c2:
        assert (c2.max_sms, c2.pdl, c2.cache_dir, c2.jit_options) == (4, True, str(tmp_path), "-G")
    assert dlgemm.default_context(-1) is dlgemm.default_context(-1)
    with pytest.raises(dlgemm.InvalidArgumentError, match="device_ordinal"):
        dlgemm.Context(-2)
    assert dlgemm.mk_alignment_for_contiguous_layout() == 128
    assert dlgemm.tma_aligned_size(5, 4) == 8
    assert dlgemm.mqa_logits_row_stride(100) >= 100
    assert dlgemm.paged_mqa_logits_metadata_rows(132) == 133
    with dlgemm.Context(-1) as cpu:
        dlgemm.warmup_gemm(128, 128, 128, recipe="bf16", ctx=cpu)  # a no-op on the CPU


# -- dense GEMM -------------------------------------------------------------------------------

def test_gemm_bf16(ctx, rng):
    m, n, k = 33, 70, 200
    a = random_matrix(rng, (m, k)).astype(BF16)
    b = random_matrix(rng, (n, k)).astype(BF16)
    ref = f32(a).astype(np.float64) @ f32(b).astype(np.float64).T
    d = np.zeros((m, n), BF16)
    assert dlgemm.gemm(a, b, d, recipe=dlgemm.Recipe.BF16, ctx=ctx) is d
    assert_close(d, ref)
    # f32 output, C accumulation, C aliasing D (in-place accumulation), default context.
    c = random_matrix(rng, (m, n))
    d32 = c.copy()
    dlgemm.gemm(a, b, d32, recipe="bf16", c=d32)
    assert_close(d32, ref + c, rtol=1e-5, atol=1e-4)
    out = dlgemm.gemm(a, b, recipe="bf16", d_dtype="float32", ctx=ctx)
    assert out.dtype == np.float32 and out.shape == (m, n)
    assert_close(out, ref, rtol=1e-5, atol=1e-4)
    # K = 0 writes C (or zeros).
    a0, b0 = np.zeros((m, 0), BF16), np.zeros((n, 0), BF16)
    d0 = np.full((m, n), 7, np.float32)
    dlgemm.gemm(a0, b0, d0, recipe="bf16", ctx=ctx)
    assert not d0.any()


def test_gemm_fp8_per_tensor(ctx, rng):
    m, n, k = 40, 24, 160
    x, w = random_matrix(rng, (m, k)), random_matrix(rng, (n, k))
    sa = np.array(np.abs(x).max() / 448, np.float32)
    sb = np.array(np.abs(w).max() / 448, np.float32)
    a, b = (x / sa).astype(E4M3), (w / sb).astype(E4M3)
    ref = (f32(a).astype(np.float64) @ f32(b).astype(np.float64).T) * float(sa) * float(sb)
    d = dlgemm.gemm(a, b, recipe="fp8_per_tensor", sfa=sa, sfb=sb, ctx=ctx)
    assert d.dtype == BF16
    assert_close(d, ref)
    # NULL scales mean 1; 1-element (not 0-d) scales are scalars too.
    d1 = dlgemm.gemm(a, b, recipe="per_tensor", d_dtype=np.float32, ctx=ctx)
    assert_close(d1, f32(a).astype(np.float64) @ f32(b).astype(np.float64).T, rtol=1e-5, atol=1e-3)
    d2 = dlgemm.gemm(a, b, recipe=3, sfa=sa.reshape(1, 1), sfb=sb.reshape(1), ctx=ctx)
    assert_close(d2, ref)


def test_gemm_fp8_1d2d(ctx, rng):
    m, n, k = 50, 200, 300  # ragged tails in every dimension
    x, w = random_matrix(rng, (m, k)), random_matrix(rng, (n, k))
    a, sfa = quant_rows(x)
    b, sfb = quant_blocks(w)
    assert sfa.shape == (m, ceil_div(k, 128)) and sfb.shape == (ceil_div(n, 128), ceil_div(k, 128))
    ref = dequant(a, sfa, 1, 128) @ dequant(b, sfb, 128, 128).T
    d = np.zeros((m, n), BF16)
    dlgemm.gemm(a, b, d, recipe="fp8_1d2d", sfa=sfa, sfb=sfb, ctx=ctx)
    assert_close(d, ref)
    assert calc_diff(ref, x.astype(np.float64) @ w.astype(np.float64).T) < 1e-3  # sane quantisation
    # Scales in the TMA-aligned MN-major layout (what the GPU reads) give the same result.
    sfa_t = dlgemm.transform_sf(sfa, ctx=ctx)
    d2 = dlgemm.gemm(a, b, recipe="1d2d", sfa=sfa_t, sfb=sfb, ctx=ctx)
    assert np.array_equal(d2.view(np.uint16), d.view(np.uint16))


def test_gemm_fp8_1d1d(ctx, rng):
    m, n, k = 64, 48, 384
    x, w = random_matrix(rng, (m, k)), random_matrix(rng, (n, k))
    a, sfa = quant_rows(x, use_ue8m0=True)
    b, sfb = quant_rows(w, use_ue8m0=True)
    ref = dequant(a, sfa, 1, 128) @ dequant(b, sfb, 1, 128).T
    d = dlgemm.gemm(a, b, recipe="fp8_1d1d", sfa=sfa, sfb=sfb, ctx=ctx)
    assert d.dtype == np.float32  # 1D1D defaults to an f32 output
    assert_close(d, ref, rtol=1e-5, atol=1e-3)
    # Packed UE8M0 scales (int32, four exponents per word) give the same numbers.
    pa, pb = dlgemm.pack_ue8m0(sfa, ctx=ctx), dlgemm.pack_ue8m0(sfb, ctx=ctx)
    assert pa.dtype == np.int32 and pa.shape == (m, 1)
    d2 = dlgemm.gemm(a, b, recipe="fp8_1d1d", sfa=pa, sfb=pb, ctx=ctx)
    np.testing.assert_array_equal(d2, d)
    d3 = dlgemm.gemm(a, b, recipe="fp8_1d1d", sfa=sfa, sfb=sfb, d_dtype="bf16", ctx=ctx)
    assert d3.dtype == BF16
    assert_close(d3, ref)


def test_gemm_layouts(ctx, rng):
    m, n, k = 24, 40, 136
    a32, b32 = random_matrix(rng, (m, k)), random_matrix(rng, (n, k))
    a, b = a32.astype(BF16), b32.astype(BF16)
    ref = f32(a).astype(np.float64) @ f32(b).astype(np.float64).T
    a_m_major = np.ascontiguousarray(a.T).T  # [M, K] view with stride(0) == 1
    b_n_major = np.ascontiguousarray(b.T).T
    assert a_m_major.strides[0] == a.itemsize
    for aa in (a, a_m_major):
        for bb in (b, b_n_major):
            d = dlgemm.gemm(aa, bb, recipe="bf16", ctx=ctx)
            assert_close(d, ref)
    # FP8 operands in every layout (the CPU reference takes them all), strided D too.
    qa, sfa = quant_rows(a32)
    qb, sfb = quant_blocks(b32)
    ref8 = dequant(qa, sfa, 1, 128) @ dequant(qb, sfb, 128, 128).T
    big = np.zeros((m, 2 * n), BF16)
    d = big[:, ::2]
    dlgemm.gemm(np.ascontiguousarray(qa.T).T, np.ascontiguousarray(qb.T).T, d, recipe="1d2d",
                sfa=sfa, sfb=sfb, ctx=ctx)
    assert_close(d, ref8)
    assert not f32(big[:, 1::2]).any()  # the gaps of the strided output are untouched


# -- MoE grouped GEMMs ------------------------------------------------------------------------

def test_m_grouped_contiguous(ctx, rng):
    g, m, n, k = 3, 40, 64, 256
    x = random_matrix(rng, (m, k))
    w = random_matrix(rng, (g, n, k))
    ids = rng.integers(-1, g, size=m).astype(np.int32)
    ids[:3] = [-1, 0, 2]
    # BF16, row-id layout: padding rows (-1) keep their content.
    a, b = x.astype(BF16), w.astype(BF16)
    d = np.full((m, n), 5, BF16)
    dlgemm.m_grouped_gemm_contiguous(a, b, ids, d, recipe="bf16", ctx=ctx)
    for r in range(m):
        if ids[r] < 0:
            assert (f32(d[r]) == 5).all()
        else:
            assert_close(d[r], f32(a[r]).astype(np.float64) @ f32(b[ids[r]]).astype(np.float64).T)
    # FP8 1D2D, offsets layout; rows outside [off[0], off[G]) untouched.
    qa, sfa = quant_rows(x)
    qb = np.empty((g, n, k), E4M3)
    sfb = np.empty((g, ceil_div(n, 128), ceil_div(k, 128)), np.float32)
    for i in range(g):
        qb[i], sfb[i] = quant_blocks(w[i])
    off = np.array([2, 10, 10, 30], np.int32)  # group 1 is empty
    d = np.full((m, n), 3, BF16)
    out = dlgemm.m_grouped_gemm_contiguous(qa, qb, off, d, recipe="fp8_1d2d", sfa=sfa, sfb=sfb,
                                           layout="offsets", ctx=ctx)
    assert out is d
    xa = dequant(qa, sfa, 1, 128)
    for i in range(g):
        rows = slice(off[i], off[i + 1])
        assert_close(d[rows], xa[rows] @ dequant(qb[i], sfb[i], 128, 128).T)
    assert (f32(d[:2]) == 3).all() and (f32(d[30:]) == 3).all()
    # Allocated output.
    d2 = dlgemm.m_grouped_gemm_contiguous(a, b, ids, recipe="bf16", ctx=ctx)
    assert d2.shape == (m, n) and d2.dtype == BF16


def test_m_grouped_masked(ctx, rng):
    g, max_m, n, k = 3, 16, 32, 128
    x = random_matrix(rng, (g, max_m, k))
    w = random_matrix(rng, (g, n, k))
    masked = np.array([5, 0, 16], np.int32)
    qa = np.empty((g, max_m, k), E4M3)
    sfa = np.empty((g, max_m, 1), np.float32)
    qb = np.empty((g, n, k), E4M3)
    sfb = np.empty((g, 1, 1), np.float32)
    for i in range(g):
        qa[i], sfa[i] = quant_rows(x[i])
        qb[i], sfb[i] = quant_blocks(w[i])
    d = np.full((g, max_m, n), 9, BF16)
    dlgemm.m_grouped_gemm_masked(qa, qb, masked, d, expected_m=8, recipe="fp8_1d2d", sfa=sfa,
                                 sfb=sfb, ctx=ctx)
    for i in range(g):
        mm = masked[i]
        ref = dequant(qa[i], sfa[i], 1, 128) @ dequant(qb[i], sfb[i], 128, 128).T
        if mm:
            assert_close(d[i, :mm], ref[:mm])
        assert (f32(d[i, mm:]) == 9).all()
    # BF16 with an allocated output.
    a, b = x.astype(BF16), w.astype(BF16)
    d2 = dlgemm.m_grouped_gemm_masked(a, b, masked, expected_m=8, recipe="bf16", ctx=ctx)
    assert d2.shape == (g, max_m, n)
    assert_close(d2[2], f32(a[2]).astype(np.float64) @ f32(b[2]).astype(np.float64).T)


def test_k_grouped(ctx, rng):
    m, n = 24, 40
    ks = np.array([128, 0, 256], np.int32)
    kt = int(ks.sum())
    x, w = random_matrix(rng, (m, kt)), random_matrix(rng, (n, kt))
    qa, sfa = quant_rows(x)
    qb, sfb = quant_rows(w)
    c = random_matrix(rng, (len(ks), m, n))
    d = c.copy()
    dlgemm.k_grouped_gemm_contiguous(qa, qb, ks, d, recipe="fp8_1d1d", sfa=sfa, sfb=sfb, c=d,
                                     ctx=ctx)
    xa, xb = dequant(qa, sfa, 1, 128), dequant(qb, sfb, 1, 128)
    start = 0
    for g, kg in enumerate(ks):
        seg = slice(start, start + kg)
        assert_close(d[g], c[g] + xa[:, seg] @ xb[:, seg].T, rtol=1e-5, atol=1e-3)
        start += kg
    # Per-tensor recipe with per-group scales [G], allocated output.
    sa = np.array([0.5, 1.0, 2.0], np.float32)
    sb = np.array([1.0, 3.0, 0.25], np.float32)
    a8, b8 = x.astype(E4M3), w.astype(E4M3)
    d2 = dlgemm.k_grouped_gemm_contiguous(a8, b8, ks, recipe="fp8_per_tensor", sfa=sa, sfb=sb,
                                          ctx=ctx)
    assert d2.shape == (3, m, n) and d2.dtype == np.float32
    start = 0
    for g, kg in enumerate(ks):
        seg = slice(start, start + kg)
        ref = f32(a8[:, seg]).astype(np.float64) @ f32(b8[:, seg]).astype(np.float64).T
        assert_close(d2[g], ref * sa[g] * sb[g], rtol=1e-5, atol=1e-3)
        start += kg


# -- MQA logits -------------------------------------------------------------------------------

def mqa_reference(q, kv, kv_scale, weights):
    qf, kf = f32(q).astype(np.float64), f32(kv).astype(np.float64)
    score = np.einsum("shd,td->sht", qf, kf) * kv_scale.astype(np.float64)[None, None, :]
    return (np.maximum(score, 0) * weights.astype(np.float64)[:, :, None]).sum(axis=1)


def test_mqa_logits(ctx, rng):
    s, h, dim, s_kv = 12, 4, 64, 50
    q = random_matrix(rng, (s, h, dim)).astype(E4M3)
    kv = random_matrix(rng, (s_kv, dim)).astype(E4M3)
    kv_scale = rng.uniform(0.5, 1.5, s_kv).astype(np.float32)
    weights = random_matrix(rng, (s, h))
    ks = rng.integers(0, 20, s).astype(np.int32)
    ke = (ks + rng.integers(0, 40, s)).astype(np.int32)  # may run past S_kv: clipped
    ref = mqa_reference(q, kv, kv_scale, weights)
    valid = np.zeros((s, s_kv), bool)
    for i in range(s):
        valid[i, ks[i]:min(ke[i], s_kv)] = True
    logits = dlgemm.mqa_logits(q, kv, kv_scale, weights, ks, ke, ctx=ctx)
    assert logits.shape == (s, s_kv) and logits.dtype == np.float32
    np.testing.assert_allclose(logits[valid], ref[valid], rtol=1e-5, atol=1e-4)
    assert np.isneginf(logits[~valid]).all()
    # Without cleaning, positions outside the range stay as they were; padded row stride.
    stride = dlgemm.mqa_logits_row_stride(s_kv)
    buf = np.full((s, stride), 42.0, np.float32)
    view = buf[:, :s_kv]
    dlgemm.mqa_logits(q, kv, kv_scale, weights, ks, ke, view, clean_logits=False, ctx=ctx)
    np.testing.assert_allclose(view[valid], ref[valid], rtol=1e-5, atol=1e-4)
    assert (view[~valid] == 42).all() and (buf[:, s_kv:] == 42).all()
    # bfloat16 logits.
    lb = np.zeros((s, s_kv), BF16)
    dlgemm.mqa_logits(q, kv, kv_scale, weights, ks, ke, lb, ctx=ctx)
    np.testing.assert_allclose(f32(lb)[valid], ref[valid], rtol=2 ** -7, atol=1e-2)


def test_mqa_logits_compressed(ctx, rng):
    s, h, dim, s_kv, width = 10, 4, 32, 40, 16
    q = random_matrix(rng, (s, h, dim)).astype(E4M3)
    kv = random_matrix(rng, (s_kv, dim)).astype(E4M3)
    kv_scale = rng.uniform(0.5, 1.5, s_kv).astype(np.float32)
    weights = random_matrix(rng, (s, h))
    ks = rng.integers(0, 30, s).astype(np.int32)
    ke = (ks + rng.integers(0, 25, s)).astype(np.int32)
    full = dlgemm.mqa_logits(q, kv, kv_scale, weights, ks, ke, ctx=ctx)
    out = dlgemm.mqa_logits_compressed(q, kv, kv_scale, weights, ks, ke, width, ctx=ctx)
    assert out.shape == (s, width)
    for i in range(s):
        n = min(min(ke[i], s_kv) - ks[i], width)
        np.testing.assert_array_equal(out[i, :n], full[i, ks[i]:ks[i] + n])
        assert np.isneginf(out[i, n:]).all()
    with pytest.raises(ValueError):
        dlgemm.mqa_logits_compressed(q, kv, kv_scale, weights, ks, ke, ctx=ctx)


def schedule_reference(lens, next_n, block_kv, num_sms):
    """The schedule attention.h / attention.c describe: batches' blocks end to end, SM s
    starts at floor(s * total / num_sms); (B, 0) past the end."""
    batch = lens.shape[0]
    if lens.ndim == 2:
        longest = lens.max(axis=1)
    else:
        longest = lens
    blocks = [ceil_div(max(int(x), 0), block_kv) for x in longest]
    prefix = np.concatenate([[0], np.cumsum(blocks)]).astype(np.int64)
    total = int(prefix[-1])
    out = np.zeros((num_sms + 1, 2), np.int32)
    for s in range(num_sms + 1):
        g = s * total // num_sms if s < num_sms else total
        if g >= total:
            out[s] = (batch, 0)
        else:
            b = int(np.searchsorted(prefix, g, side="right") - 1)
            out[s] = (b, g - prefix[b])
    return out


def test_paged_mqa_logits(ctx, rng):
    batch, next_n, h, dim, block_kv, num_blocks, max_blocks = 3, 2, 4, 32, 8, 10, 4
    q = random_matrix(rng, (batch, next_n, h, dim)).astype(E4M3)
    kv = random_matrix(rng, (num_blocks, block_kv, dim)).astype(E4M3)
    scales = rng.uniform(0.5, 2.0, (num_blocks, block_kv)).astype(np.float32)
    cache = np.concatenate([kv.view(np.uint8).reshape(num_blocks, -1),
                            scales.view(np.uint8).reshape(num_blocks, -1)], axis=1)
    kv_cache = cache.reshape(num_blocks, block_kv, 1, dim + 4)
    weights = random_matrix(rng, (batch * next_n, h))
    table = rng.integers(0, num_blocks, (batch, max_blocks)).astype(np.int32)
    max_len = max_blocks * block_kv
    lens_1d = np.array([5, 32, 17], np.int32)  # DeepGEMM convention: row t has len - next_n + t + 1
    lens_2d = np.array([[3, 4], [30, 32], [0, 9]], np.int32)

    def reference(lens):
        ref = np.full((batch * next_n, max_len), -np.inf)
        for b in range(batch):
            for t in range(next_n):
                n_valid = lens[b, t] if lens.ndim == 2 else max(lens[b] - next_n + t + 1, 0)
                for j in range(n_valid):
                    blk, row = table[b, j // block_kv], j % block_kv
                    k = f32(kv[blk, row]).astype(np.float64)
                    sc = f32(q[b, t]).astype(np.float64) @ k * scales[blk, row]
                    ref[b * next_n + t, j] = (np.maximum(sc, 0) * weights[b * next_n + t]).sum()
        return ref

    for lens in (lens_1d, lens_2d):
        meta = dlgemm.paged_mqa_logits_metadata(lens, block_kv, num_sms=4, ctx=ctx)
        assert meta.shape == (5, 2) and meta.dtype == np.int32
        np.testing.assert_array_equal(meta, schedule_reference(lens, next_n, block_kv, 4))
        logits = dlgemm.paged_mqa_logits(q, kv_cache, weights, lens, table, schedule_meta=meta,
                                         ctx=ctx)
        assert logits.shape == (batch * next_n, max_len)
        ref = reference(lens)
        fin = np.isfinite(ref)
        np.testing.assert_allclose(logits[fin], ref[fin], rtol=1e-5, atol=1e-4)
        assert np.isneginf(logits[~fin]).all()
    # No schedule on the CPU, no cleaning: positions past each row's length are untouched.
    out = np.full((batch * next_n, max_len), 7.0, np.float32)
    dlgemm.paged_mqa_logits(q, kv_cache, weights, lens_2d, table, out, clean_logits=False, ctx=ctx)
    ref = reference(lens_2d)
    fin = np.isfinite(ref)
    np.testing.assert_allclose(out[fin], ref[fin], rtol=1e-5, atol=1e-4)
    assert (out[~fin] == 7).all()
    # A CPU context has no SM count to default to.
    with pytest.raises(dlgemm.InvalidArgumentError, match="num_sms"):
        dlgemm.paged_mqa_logits_metadata(lens_1d, block_kv, np.zeros((1, 2), np.int32), ctx=ctx)


def test_clean_logits(ctx, rng):
    r, width = 6, 20
    ks = np.array([0, 3, 5, 19, 2, 0], np.int32)
    ke = np.array([20, 10, 5, 20, 30, 1], np.int32)
    logits = random_matrix(rng, (r, width))
    before = logits.copy()
    assert dlgemm.clean_logits(logits, ke, ks, ctx=ctx) is logits
    cols = np.arange(width)[None, :]
    keep = (cols >= ks[:, None]) & (cols < ke[:, None])
    assert (logits[keep] == before[keep]).all()
    assert np.isneginf(logits[~keep]).all()
    # ks = None means 0; bfloat16 logits.
    lb = random_matrix(rng, (r, width)).astype(BF16)
    before = f32(lb)
    dlgemm.clean_logits(lb, ke, ctx=ctx)
    keep = cols < ke[:, None]
    assert (f32(lb)[keep] == before[keep]).all() and np.isneginf(f32(lb)[~keep]).all()


# -- FP8 casts and scale layouts --------------------------------------------------------------

@pytest.mark.parametrize("use_ue8m0", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, BF16])
def test_cast_per_token(ctx, rng, dtype, use_ue8m0):
    x = random_matrix(rng, (37, 300), scale=3.0).astype(dtype)
    x[4, 128:256] = 0  # an all-zero block gets sf = 1
    out, sf = dlgemm.cast_fp8_per_token(x, use_ue8m0=use_ue8m0, ctx=ctx)
    q, sf_ref = quant_rows(x, use_ue8m0)
    assert out.dtype == E4M3 and sf.shape == (37, 3)
    np.testing.assert_array_equal(sf, sf_ref)
    assert sf[4, 1] == 1.0
    assert np.array_equal(out.view(np.uint8), q.view(np.uint8))
    # Scales written straight into a TMA-aligned MN-major view.
    aligned = dlgemm.tma_aligned_size(37, 4)
    buf = np.zeros((3, aligned), np.float32)
    sf_view = buf[:, :37].T
    out2 = np.zeros((37, 300), E4M3)
    dlgemm.cast_fp8_per_token(x, out2, sf_view, use_ue8m0=use_ue8m0, ctx=ctx)
    np.testing.assert_array_equal(sf_view, sf_ref)


@pytest.mark.parametrize("use_ue8m0", [False, True])
def test_cast_per_block(ctx, rng, use_ue8m0):
    x = random_matrix(rng, (200, 260), scale=5.0)
    out, sf = dlgemm.cast_fp8_per_block(x, use_ue8m0=use_ue8m0, ctx=ctx)
    q, sf_ref = quant_blocks(x, use_ue8m0)
    assert sf.shape == (2, 3)
    np.testing.assert_array_equal(sf, sf_ref)
    assert np.array_equal(out.view(np.uint8), q.view(np.uint8))
    assert calc_diff(dequant(out, sf, 128, 128), x) < 1e-3


def test_cast_per_tensor(ctx, rng):
    x = random_matrix(rng, (3, 5, 70), scale=10.0).astype(BF16)
    out, sf = dlgemm.cast_fp8_per_tensor(x, ctx=ctx)
    assert sf.shape == () and out.shape == x.shape and out.dtype == E4M3
    amax = np.abs(f32(x)).max()
    assert sf == scale_of(amax)
    ref = (f32(x) / sf).astype(E4M3)
    assert np.array_equal(out.view(np.uint8), ref.view(np.uint8))
    zeros = np.zeros((4, 4), np.float32)
    _, sf0 = dlgemm.cast_fp8_per_tensor(zeros, ctx=ctx)
    assert sf0 == 1.0


def test_transform_sf(ctx, rng):
    sf = rng.uniform(0.1, 2.0, (37, 3)).astype(np.float32)
    out = dlgemm.transform_sf(sf, ctx=ctx)
    aligned = dlgemm.tma_aligned_size(37, 4)
    assert aligned == 40
    assert out.shape == (37, 3) and out.strides == (4, 4 * aligned)  # MN-major, TMA-aligned
    np.testing.assert_array_equal(out, sf)
    # Batched, from a strided source into an explicit target.
    sfb = rng.uniform(0.1, 2.0, (2, 130, 4)).astype(np.float32)
    src = sfb.transpose(0, 2, 1).copy().transpose(0, 2, 1)  # MN-major source
    dst = np.zeros_like(sfb)
    dlgemm.transform_sf(src, dst, ctx=ctx)
    np.testing.assert_array_equal(dst, sfb)
    out3 = dlgemm.transform_sf(sfb, ctx=ctx)
    assert out3.strides[-2:] == (4, 4 * dlgemm.tma_aligned_size(130, 4))
    np.testing.assert_array_equal(out3, sfb)


def test_pack_ue8m0(ctx, rng):
    sf = np.exp2(rng.uniform(-20, 20, (2, 9, 6))).astype(np.float32)
    sf[0, 0, :4] = [1.0, 0.5, 3.0, 2.0 ** -30]  # exact powers stay, others round up
    packed = dlgemm.pack_ue8m0(sf, ctx=ctx)
    assert packed.shape == (2, 9, 2) and packed.dtype == np.int32
    exps = np.zeros((2, 9, 8), np.uint8)
    exps[..., :6] = ue8m0_biased_exponent(sf)
    ref = exps.view("<i4")
    np.testing.assert_array_equal(packed, ref)
    assert list(packed.view(np.uint8)[0, 0, :4]) == [127, 126, 129, 97]
    np.testing.assert_array_equal(ue8m0_ceil(np.float32([3.0])), [4.0])


# -- testing helpers --------------------------------------------------------------------------

def test_testing_helpers(ctx, rng):
    t = np.zeros((4, 5), np.float32)
    dlgemm.testing.fill(t, seed=7, dist="uniform", lo=-1, hi=1)
    u = np.zeros((5, 4), np.float32).T  # same logical shape, other strides: same values
    dlgemm.testing.fill(u, seed=7)
    np.testing.assert_array_equal(t, u)
    assert (t >= -1).all() and (t < 1).all() and len(np.unique(t)) > 1
    ints = np.zeros(100, np.int32)
    dlgemm.testing.fill(ints, 3, dlgemm.testing.Fill.INT, 0, 5)
    assert ints.min() >= 0 and ints.max() <= 5
    f8 = np.zeros((8, 8), E4M3)
    dlgemm.testing.fill(f8, 1, "normal", 0, 1)
    assert f32(f8).std() > 0
    x, y = random_matrix(rng, (6, 7)), random_matrix(rng, (6, 7))
    assert abs(dlgemm.testing.calc_diff(x, y) - calc_diff(x, y)) < 1e-12
    assert dlgemm.testing.calc_diff(x, x.astype(BF16)) < 1e-4
    assert dlgemm.testing.count_mismatch(x, x.copy()) == 0
    y2 = x.copy()
    y2[1, 2] += 1
    assert dlgemm.testing.count_mismatch(x, y2) == 1
    dlgemm.testing.poison(y2, 0xFF, ctx=ctx)
    assert (y2.view(np.uint8) == 0xFF).all()
    dst = np.zeros((7, 6), np.float32).T
    dlgemm.testing.tensor_copy(x, dst, ctx=ctx)
    np.testing.assert_array_equal(dst, x)
    assert dlgemm.testing.numel(x) == 42 and dlgemm.testing.span_bytes(x) == 42 * 4
    assert dlgemm.testing.numel(np.array(1.0, np.float32)) == 1
    if not dlgemm.runtime_info().driver_found:
        with pytest.raises(dlgemm.Error):
            dlgemm.testing.device_alloc(16, ctx=dlgemm.default_context(0))


# -- bad inputs -------------------------------------------------------------------------------

def test_bad_inputs(ctx, rng):
    a = random_matrix(rng, (8, 128)).astype(BF16)
    b = random_matrix(rng, (16, 128)).astype(BF16)
    d = np.full((8, 16), 3, BF16)

    def untouched():
        return (f32(d) == 3).all()

    # Wrong dtype, mismatched shapes, None where required: ValueError-compatible, named.
    with pytest.raises(dlgemm.DTypeError, match="^a: "):
        dlgemm.gemm(a.astype(np.float32), b, d, recipe="bf16", ctx=ctx)
    with pytest.raises(ValueError, match="^b: "):
        dlgemm.gemm(a, b[:, :64], d, recipe="bf16", ctx=ctx)
    with pytest.raises(dlgemm.ShapeError):
        dlgemm.gemm(a, b, d[:, :8], recipe="bf16", ctx=ctx)
    with pytest.raises(dlgemm.InvalidArgumentError, match="^a: "):
        dlgemm.gemm(None, b, d, recipe="bf16", ctx=ctx)
    with pytest.raises(dlgemm.InvalidArgumentError, match="^d: "):
        dlgemm._cabi.dlg_gemm(ctx.handle, 4, a, None, b, None, None, None, None)
    assert untouched()
    # Objects without DLPack: TypeError (and a dlgemm.Error).
    for bad in ("a string", 3.5, [[1.0]], object()):
        with pytest.raises(TypeError, match="^a: expected a DLPack tensor"):
            dlgemm.gemm(bad, b, d, recipe="bf16", ctx=ctx)
    with pytest.raises(dlgemm.NotATensorError):
        dlgemm.clean_logits(np.zeros((2, 2), np.float32), "ke", ctx=ctx)
    # Bad enums and knobs.
    with pytest.raises(dlgemm.InvalidArgumentError, match="recipe"):
        dlgemm.gemm(a, b, d, recipe="fp4", ctx=ctx)
    with pytest.raises(dlgemm.InvalidArgumentError, match="recipe"):
        dlgemm.gemm(a, b, d, recipe=99, ctx=ctx)
    with pytest.raises(dlgemm.InvalidArgumentError):
        dlgemm.m_grouped_gemm_contiguous(a, b[None], np.zeros(8, np.int32), d, recipe="bf16",
                                         layout=7, ctx=ctx)
    with pytest.raises(TypeError, match="stream"):
        dlgemm.gemm(a, b, d, recipe="bf16", ctx=ctx, stream="default")
    with pytest.raises(TypeError):
        dlgemm._cabi.dlg_gemm("not a context", 4, a, None, b, None, None, d, None)
    # Read-only outputs are refused (NumPy's flag, through both conversion paths).
    ro = np.zeros((8, 16), np.float32)
    ro.flags.writeable = False
    with pytest.raises(dlgemm.InvalidArgumentError, match="^d: .*read-only"):
        dlgemm.gemm(a, b, ro, recipe="bf16", ctx=ctx)
    ro16 = np.zeros((8, 16), BF16)
    ro16.flags.writeable = False
    with pytest.raises(dlgemm.InvalidArgumentError, match="^d: .*read-only"):
        dlgemm.gemm(a, b, ro16, recipe="bf16", ctx=ctx)
    ra = a.copy()
    ra.flags.writeable = False  # read-only inputs are fine
    dlgemm.gemm(ra, b, d, recipe="bf16", ctx=ctx)
    d[...] = 3
    # Overlapping output strides, non-contiguous paged KV blocks, misaligned strides.
    overlapping = np.lib.stride_tricks.as_strided(np.zeros(40, np.float32), (8, 16), (0, 4))
    with pytest.raises(dlgemm.LayoutError, match="^logits: "):
        dlgemm.clean_logits(overlapping, np.zeros(8, np.int32), ctx=ctx)
    q = np.zeros((1, 1, 1, 16), E4M3)
    cache = np.zeros((2, 4, 1, 40), np.uint8)[..., :20]
    with pytest.raises(dlgemm.LayoutError, match="^kv_cache: "):
        dlgemm.paged_mqa_logits(q, cache, np.zeros((1, 1), np.float32), np.ones(1, np.int32),
                                np.zeros((1, 1), np.int32), np.zeros((1, 8), np.float32), ctx=ctx)
    # Wrong device: a CUDA tensor (hand-made capsule) on a CPU context / next to CPU tensors.
    fake_cuda = FakeTensor(np.zeros((8, 16), np.float32), device=(2, 0))
    with pytest.raises(dlgemm.DeviceError, match="cuda:0"):
        dlgemm.gemm(a, b, fake_cuda, recipe="bf16", ctx=ctx)
    assert fake_cuda.deleted == 1  # consumed capsule's deleter called exactly once
    assert fake_cuda.last_stream == 1  # CUDA producers are asked for the legacy default stream
    with pytest.raises(dlgemm.DeviceError):
        dlgemm.clean_logits(FakeTensor(np.zeros((8, 16), np.float32), device=(2, 0)),
                            np.zeros(8, np.int32), ctx=ctx)
    # DLPack protocol: read-only flag, unknown major version, legacy capsules, raw capsules.
    ro_fake = FakeTensor(np.zeros((8, 16), np.float32), read_only=True)
    with pytest.raises(dlgemm.InvalidArgumentError, match="read-only"):
        dlgemm.gemm(a, b, ro_fake, recipe="bf16", ctx=ctx)
    assert ro_fake.deleted == 1
    v2 = FakeTensor(np.zeros((8, 16), np.float32), major=2)
    with pytest.raises(dlgemm.UnsupportedError, match="major version 2"):
        dlgemm.gemm(a, b, v2, recipe="bf16", ctx=ctx)
    assert v2.deleted == 1
    out = np.zeros((8, 16), np.float32)
    legacy = FakeTensor(out, versioned=False)
    dlgemm.gemm(a, b, legacy, recipe="bf16", ctx=ctx)
    assert legacy.deleted == 1
    assert_close(out, f32(a).astype(np.float64) @ f32(b).astype(np.float64).T, rtol=1e-5, atol=1e-4)
    cap = np.zeros((8, 16), np.float32).__dlpack__(max_version=(1, 0))
    dlgemm.gemm(a, b, cap, recipe="bf16", ctx=ctx)  # a capsule is a tensor too...
    with pytest.raises(dlgemm.InvalidArgumentError, match="capsule"):
        dlgemm.gemm(a, b, cap, recipe="bf16", ctx=ctx)  # ...once
    # A producer whose __dlpack__ fails.
    class Broken:
        def __dlpack_device__(self):
            return (1, 0)

        def __dlpack__(self, **kw):
            raise RuntimeError("no export today")

    with pytest.raises(dlgemm.InvalidArgumentError, match="no export today") as info:
        dlgemm.gemm(a, Broken(), d, recipe="bf16", ctx=ctx)
    assert isinstance(info.value.__cause__, RuntimeError)
    # An extension dtype with no DLPack equivalent.
    with pytest.raises(dlgemm.DTypeError, match="^a: NumPy dtype 'int4' has no DLPack"):
        dlgemm.gemm(np.zeros((8, 128), ml_dtypes.int4), b, d, recipe="bf16", ctx=ctx)
    # A closed context.
    closed = dlgemm.Context(-1)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        dlgemm.gemm(a, b, d, recipe="bf16", ctx=closed)
    assert untouched()


# -- threads ----------------------------------------------------------------------------------

def test_concurrency(ctx, rng):
    """Several threads share one context; each call releases the GIL while C runs."""
    m, n, k = 32, 48, 256
    inputs = []
    for i in range(6):
        x, w = random_matrix(rng, (m, k)), random_matrix(rng, (n, k))
        a, sfa = quant_rows(x)
        b, sfb = quant_blocks(w)
        inputs.append((a, sfa, b, sfb, dequant(a, sfa, 1, 128) @ dequant(b, sfb, 128, 128).T))
    errors = []

    def worker(i):
        try:
            a, sfa, b, sfb, ref = inputs[i]
            for _ in range(5):
                d = dlgemm.gemm(a, b, recipe="fp8_1d2d", sfa=sfa, sfb=sfb, ctx=ctx)
                assert_close(d, ref)
                ctx.max_sms = i  # knob writes race with calls: allowed
                with pytest.raises(dlgemm.DTypeError):
                    dlgemm.gemm(sfa, b, d, recipe="fp8_1d2d", sfa=sfa, sfb=sfb, ctx=ctx)
                assert dlgemm.last_error().startswith("a: ")  # thread-local message
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    # The GIL is released during the C call: this thread keeps running while a long GEMM
    # runs in another (if the GIL were held, it would stall for the whole call).
    a = random_matrix(rng, (768, 1024)).astype(BF16)
    b = random_matrix(rng, (768, 1024)).astype(BF16)
    span = {}

    def long_call():
        span["start"] = time.perf_counter()
        dlgemm.gemm(a, b, recipe="bf16", ctx=ctx)
        span["end"] = time.perf_counter()

    t = threading.Thread(target=long_call)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    inside = [x for x in ticks if span["start"] <= x <= span["end"]]
    duration = span["end"] - span["start"]
    edges = [span["start"]] + inside + [span["end"]]
    longest_stall = max(y - x for x, y in zip(edges, edges[1:]))
    assert longest_stall < 0.5 * duration, (longest_stall, duration)


# -- documentation ----------------------------------------------------------------------------

def test_readme_quickstart():
    blocks = readme_python_blocks(README.read_text())
    assert blocks, "README.md has no ```python blocks"
    namespace = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
