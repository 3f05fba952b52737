"""GPU check of the Python binding: every op with PyTorch CUDA tensors and JAX GPU arrays,
compared with the CPU path (dlgemm on NumPy copies of the same inputs) and with PyTorch math,
plus the host overhead of one cached dlgemm GEMM call.

Run on a GPU machine where torch / jax are installed. Without pip build dependencies there
(no network), build the extension with build_inplace.py (see its docstring):

    here:    python bindings/python/build_inplace.py generate          # -> build-python/gen
    there:   python bindings/python/build_inplace.py build && \
             python bindings/python/gpu_check.py                       # carry build-python/gen

Prints one line per (op, framework): diff vs the CPU path (DeepGEMM calc_diff, max |Δ|,
-inf pattern), diff vs PyTorch math where it applies, or why the op did not run
(UNSUPPORTED for ops whose GPU kernels do not exist yet). Exit status 0 unless a result was
wrong (a GPU result that differs from the CPU path beyond tolerance).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with torch

# The source package beside this script has no compiled extension: import the one built by
# build_inplace.py when it exists, else an installed wheel.
if sys.path and os.path.abspath(sys.path[0]) == HERE:
    sys.path.pop(0)
_INPLACE = os.environ.get("DLG_PY_INPLACE", os.path.join(ROOT, "build-python", "inplace"))
if os.path.isdir(os.path.join(_INPLACE, "dlgemm")):
    sys.path.insert(0, _INPLACE)
import dlgemm  # noqa: E402

import ml_dtypes
import numpy as np

BF16, E4M3 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn
FAILURES: list[str] = []


def calc_diff(x, y) -> float:
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    both_ninf = np.isneginf(x) & np.isneginf(y)
    x, y = x[~both_ninf], y[~both_ninf]
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("inf")
    denom = float((x * x + y * y).sum())
    return 0.0 if denom == 0 else 1.0 - 2.0 * float((x * y).sum()) / denom


def compare(x, y) -> str:
    x = np.asarray(x).astype(np.float64) if np.asarray(x).dtype.kind in "fV" else np.asarray(x)
    y = np.asarray(y).astype(np.float64) if np.asarray(y).dtype.kind in "fV" else np.asarray(y)
    if x.shape != y.shape:
        return f"shape {x.shape} vs {y.shape}"
    if x.dtype.kind in "iu":
        return f"mismatches={int((x != y).sum())}"
    ninf = np.isneginf(x) != np.isneginf(y)
    fin = np.isfinite(x) & np.isfinite(y)
    maxd = float(np.abs(x[fin] - y[fin]).max()) if fin.any() else 0.0
    return f"diff={calc_diff(x, y):.2e} max|Δ|={maxd:.3g} -inf-mismatch={int(ninf.sum())}"


def ok(x, y, tol: float) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        return False
    if x.dtype.kind in "iu":
        return bool((x == y).all())
    x, y = x.astype(np.float64), y.astype(np.float64)
    return calc_diff(x, y) <= tol and bool((np.isneginf(x) == np.isneginf(y)).all())


# -- frameworks: put NumPy inputs on the device, allocate outputs, read results back -----------

def is_torch(t) -> bool:
    return type(t).__module__.partition(".")[0] == "torch"


class NumpyFw:
    name = "cpu"

    def put(self, x):
        return x

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def get(self, t):
        return np.asarray(t)

    def sync(self):
        pass


class TorchFw:
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        self.dtypes = {np.dtype(BF16): (torch.bfloat16, np.int16),
                       np.dtype(E4M3): (torch.float8_e4m3fn, np.uint8)}

    def put(self, x):
        x = np.ascontiguousarray(x)
        if x.dtype in self.dtypes:
            tdt, raw = self.dtypes[x.dtype]
            return self.torch.from_numpy(x.view(raw).copy()).view(tdt).cuda()
        return self.torch.from_numpy(x.copy()).cuda()

    def zeros(self, shape, dtype):
        dt = np.dtype(dtype)
        if dt in self.dtypes:  # zero bytes viewed as bfloat16 / float8
            tdt, raw = self.dtypes[dt]
            return self.torch.zeros(shape, dtype=getattr(self.torch, np.dtype(raw).name),
                                    device="cuda").view(tdt)
        return self.torch.zeros(shape, dtype=getattr(self.torch, dt.name), device="cuda")

    def get(self, t):
        if not is_torch(t):  # a NumPy result (e.g. a device -> host copy): already on the host
            return np.asarray(t)
        t = t.detach()
        for ndt, (tdt, raw) in self.dtypes.items():
            if t.dtype == tdt:
                rt = {np.int16: self.torch.int16, np.uint8: self.torch.uint8}[raw]
                return t.contiguous().view(rt).cpu().numpy().view(ndt).reshape(tuple(t.shape))
        return t.cpu().numpy()

    def sync(self):
        self.torch.cuda.synchronize()


class JaxFw:
    """JAX arrays in, outputs as JAX arrays too (written in place through DLPack) unless JAX
    exports them read-only, in which case outputs come from PyTorch (noted once)."""

    name = "jax"

    def __init__(self, torch_fw):
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self.dev = jax.devices("gpu")[0]
        self.torch_fw = torch_fw
        self.outputs_from = "jax"
        probe = jnp.zeros((4,), jnp.float32)
        probe = jax.device_put(probe, self.dev)
        try:
            dlgemm.testing.poison(probe, 0)
        except dlgemm.Error as exc:
            self.outputs_from = "torch"
            print(f"  note: JAX arrays are not writable through DLPack ({exc}); outputs from torch")

    def put(self, x):
        return self.jax.device_put(np.ascontiguousarray(x), self.dev)

    def zeros(self, shape, dtype):
        if self.outputs_from == "torch":
            return self.torch_fw.zeros(shape, dtype)
        return self.jax.device_put(self.jnp.zeros(shape, dtype), self.dev)

    def get(self, t):
        # Outputs may come from torch even when JAX arrays are writable: strided ones
        # (strided_fw), and all of them when JAX exports read-only arrays.
        if is_torch(t):
            return self.torch_fw.get(t)
        return np.asarray(t)

    def sync(self):
        self.torch_fw.sync()


# -- the cases: each runs one op on a framework's tensors and returns its outputs ---------------

def quant_rows(x):
    k = x.shape[1]
    kb = -(-k // 128)
    pad = np.zeros((x.shape[0], kb * 128), np.float32)
    pad[:, :k] = np.abs(x)
    sf = np.maximum(pad.reshape(x.shape[0], kb, 128).max(-1), 1e-4).astype(np.float32) / np.float32(448)
    return (x / np.repeat(sf, 128, 1)[:, :k]).astype(E4M3), sf


def quant_blocks(x):
    m, k = x.shape
    mb, kb = -(-m // 128), -(-k // 128)
    pad = np.zeros((mb * 128, kb * 128), np.float32)
    pad[:m, :k] = np.abs(x)
    amax = np.maximum(pad.reshape(mb, 128, kb, 128).max((1, 3)), 1e-4).astype(np.float32)
    sf = amax / np.float32(448)
    full = np.repeat(np.repeat(sf, 128, 0), 128, 1)[:m, :k]
    return (x / full).astype(E4M3), sf


def dequant(q, sf, bm, bk):
    m, k = q.shape
    return q.astype(np.float32) * np.repeat(np.repeat(sf, bm, 0), bk, 1)[:m, :k]


def make_cases(rng):
    m, n, k = 256, 512, 1024
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    a16, b16 = x.astype(BF16), w.astype(BF16)
    a8, sfa = quant_rows(x)
    b8, sfb_blk = quant_blocks(w)
    b8r, sfb_row = quant_rows(w)

    def tma(fw, sf):  # TMA-aligned MN-major copy of scales, made by dlgemm on the device
        ofw = strided_fw(fw)
        buf = ofw.zeros((sf.shape[1], dlgemm.tma_aligned_size(sf.shape[0], 4)), np.float32)
        view = buf[:, :sf.shape[0]]
        view = view.T if not hasattr(view, "permute") else view.permute(1, 0)
        dlgemm.transform_sf(fw.put(sf), view)
        return view

    cases = {}

    def gemm_bf16(fw):
        d = fw.zeros((m, n), BF16)
        dlgemm.gemm(fw.put(a16), fw.put(b16), d, recipe="bf16")
        return {"d": d}
    cases["gemm_bf16"] = (gemm_bf16, lambda: a16.astype(np.float32) @ b16.astype(np.float32).T, 1e-5)

    def gemm_1d2d(fw):
        d = fw.zeros((m, n), BF16)
        sa = tma(fw, sfa) if fw.name != "cpu" else sfa
        dlgemm.gemm(fw.put(a8), fw.put(b8), d, recipe="fp8_1d2d", sfa=sa, sfb=fw.put(sfb_blk))
        return {"d": d}
    cases["gemm_fp8_1d2d"] = (
        gemm_1d2d, lambda: dequant(a8, sfa, 1, 128) @ dequant(b8, sfb_blk, 128, 128).T, 1e-5)

    def gemm_1d1d(fw):
        d = fw.zeros((m, n), np.float32)
        sa = tma(fw, sfa) if fw.name != "cpu" else sfa
        sb = tma(fw, sfb_row) if fw.name != "cpu" else sfb_row
        dlgemm.gemm(fw.put(a8), fw.put(b8r), d, recipe="fp8_1d1d", sfa=sa, sfb=sb)
        return {"d": d}
    cases["gemm_fp8_1d1d"] = (
        gemm_1d1d, lambda: dequant(a8, sfa, 1, 128) @ dequant(b8r, sfb_row, 1, 128).T, 1e-5)

    sa_t, sb_t = np.array(0.02, np.float32), np.array(0.03, np.float32)

    def gemm_pt(fw):
        d = fw.zeros((m, n), BF16)
        dlgemm.gemm(fw.put(a8), fw.put(b8), d, recipe="fp8_per_tensor", sfa=fw.put(sa_t),
                    sfb=fw.put(sb_t))
        return {"d": d}
    cases["gemm_fp8_per_tensor"] = (
        gemm_pt, lambda: (a8.astype(np.float32) @ b8.astype(np.float32).T) * 0.02 * 0.03, 1e-5)

    # MoE: 4 groups, segments aligned to the contiguous-layout alignment.
    g, align = 4, dlgemm.mk_alignment_for_contiguous_layout()
    mg = g * align
    xg = rng.standard_normal((mg, k)).astype(np.float32)
    wg = rng.standard_normal((g, n, k)).astype(np.float32)
    ag8, sfag = quant_rows(xg)
    bg8 = np.empty((g, n, k), E4M3)
    sfbg = np.empty((g, n // 128, k // 128), np.float32)
    for i in range(g):
        bg8[i], sfbg[i] = quant_blocks(wg[i])
    ids = np.repeat(np.arange(g, dtype=np.int32), align)
    ids[align - 16:align] = -1  # padding rows

    def m_contig(fw):
        d = fw.zeros((mg, n), BF16)
        sa = tma(fw, sfag) if fw.name != "cpu" else sfag
        dlgemm.m_grouped_gemm_contiguous(fw.put(ag8), fw.put(bg8), fw.put(ids), d, recipe="fp8_1d2d",
                                         sfa=sa, sfb=fw.put(sfbg))
        return {"d": d}

    def m_contig_ref():
        out = np.zeros((mg, n), np.float32)
        xa = dequant(ag8, sfag, 1, 128)
        for r in range(mg):
            if ids[r] >= 0:
                out[r] = xa[r] @ dequant(bg8[ids[r]], sfbg[ids[r]], 128, 128).T
        return out
    cases["m_grouped_contiguous"] = (m_contig, m_contig_ref, 1e-5)

    max_m = 64
    xm = rng.standard_normal((g, max_m, k)).astype(np.float32)
    am8 = np.empty((g, max_m, k), E4M3)
    sfam = np.empty((g, max_m, k // 128), np.float32)
    for i in range(g):
        am8[i], sfam[i] = quant_rows(xm[i])
    masked = np.array([64, 0, 17, 33], np.int32)

    def m_masked(fw):
        d = fw.zeros((g, max_m, n), BF16)
        if fw.name != "cpu":  # per group TMA-aligned MN-major scales
            buf = strided_fw(fw).zeros((g, k // 128, dlgemm.tma_aligned_size(max_m, 4)), np.float32)
            view = buf[:, :, :max_m]
            view = view.permute(0, 2, 1) if hasattr(view, "permute") else view.transpose(0, 2, 1)
            dlgemm.transform_sf(fw.put(sfam), view)
            sa = view
        else:
            sa = sfam
        dlgemm.m_grouped_gemm_masked(fw.put(am8), fw.put(bg8), fw.put(masked), d, expected_m=32,
                                     recipe="fp8_1d2d", sfa=sa, sfb=fw.put(sfbg))
        return {"d": d}

    def m_masked_ref():
        out = np.zeros((g, max_m, n), np.float32)
        for i in range(g):
            mm = masked[i]
            out[i, :mm] = (dequant(am8[i], sfam[i], 1, 128) @ dequant(bg8[i], sfbg[i], 128, 128).T)[:mm]
        return out
    cases["m_grouped_masked"] = (m_masked, m_masked_ref, 1e-5)

    ks = np.array([256, 0, 512, 256], np.int32)
    kt = int(ks.sum())
    xk = rng.standard_normal((m, kt)).astype(np.float32)
    wk = rng.standard_normal((n, kt)).astype(np.float32)
    ak8, sfak = quant_rows(xk)
    bk8, sfbk = quant_rows(wk)

    def k_grouped(fw):
        d = fw.zeros((len(ks), m, n), np.float32)
        dlgemm.k_grouped_gemm_contiguous(fw.put(ak8), fw.put(bk8), fw.put(ks), d, recipe="fp8_1d1d",
                                         sfa=fw.put(sfak), sfb=fw.put(sfbk))
        return {"d": d}

    def k_grouped_ref():
        xa, xb = dequant(ak8, sfak, 1, 128), dequant(bk8, sfbk, 1, 128)
        out, s = np.zeros((len(ks), m, n), np.float32), 0
        for i, kg in enumerate(ks):
            out[i] = xa[:, s:s + kg] @ xb[:, s:s + kg].T
            s += kg
        return out
    cases["k_grouped"] = (k_grouped, k_grouped_ref, 1e-5)

    # MQA logits.
    s_q, h, dim, s_kv = 64, 16, 128, 512
    q = rng.standard_normal((s_q, h, dim)).astype(E4M3)
    kv = rng.standard_normal((s_kv, dim)).astype(E4M3)
    kv_scale = rng.uniform(0.5, 1.5, s_kv).astype(np.float32)
    weights = rng.standard_normal((s_q, h)).astype(np.float32)
    ks_ = rng.integers(0, 100, s_q).astype(np.int32)
    ke_ = (ks_ + rng.integers(1, 400, s_q)).astype(np.int32)

    def mqa(fw):
        logits = fw.zeros((s_q, s_kv), np.float32)
        dlgemm.mqa_logits(fw.put(q), fw.put(kv), fw.put(kv_scale), fw.put(weights), fw.put(ks_),
                          fw.put(ke_), logits)
        return {"logits": logits}

    def mqa_ref():
        sc = np.einsum("shd,td->sht", q.astype(np.float32), kv.astype(np.float32)) * kv_scale
        out = (np.maximum(sc, 0) * weights[:, :, None]).sum(1)
        cols = np.arange(s_kv)[None]
        return np.where((cols >= ks_[:, None]) & (cols < ke_[:, None]), out, -np.inf)
    cases["mqa_logits"] = (mqa, mqa_ref, 1e-5)

    batch, next_n, block_kv, nblocks, max_blocks = 4, 2, 64, 40, 8
    qp = rng.standard_normal((batch, next_n, h, dim)).astype(E4M3)
    kvp = rng.standard_normal((nblocks, block_kv, dim)).astype(E4M3)
    scp = rng.uniform(0.5, 2.0, (nblocks, block_kv)).astype(np.float32)
    cache = np.concatenate([kvp.view(np.uint8).reshape(nblocks, -1),
                            scp.view(np.uint8).reshape(nblocks, -1)], 1)
    cache = cache.reshape(nblocks, block_kv, 1, dim + 4)
    wp = rng.standard_normal((batch * next_n, h)).astype(np.float32)
    lens = np.array([100, 512, 1, 300], np.int32)
    table = rng.integers(0, nblocks, (batch, max_blocks)).astype(np.int32)

    def paged(fw):
        meta = fw.zeros((dlgemm.paged_mqa_logits_metadata_rows(8), 2), np.int32)
        dlgemm.paged_mqa_logits_metadata(fw.put(lens), block_kv, meta, num_sms=8)
        logits = fw.zeros((batch * next_n, max_blocks * block_kv), np.float32)
        dlgemm.paged_mqa_logits(fw.put(qp), fw.put(cache), fw.put(wp), fw.put(lens), fw.put(table),
                                logits, schedule_meta=meta)
        return {"logits": logits, "meta": meta}

    def paged_ref():
        out = np.full((batch * next_n, max_blocks * block_kv), -np.inf, np.float32)
        for b in range(batch):
            for t in range(next_n):
                n_valid = max(lens[b] - next_n + t + 1, 0)
                j = np.arange(n_valid)
                keys = kvp[table[b, j // block_kv], j % block_kv].astype(np.float32)
                sc = (qp[b, t].astype(np.float32) @ keys.T) * scp[table[b, j // block_kv], j % block_kv]
                out[b * next_n + t, :n_valid] = (np.maximum(sc, 0) * wp[b * next_n + t][:, None]).sum(0)
        return out
    cases["paged_mqa_logits"] = (paged, paged_ref, 1e-5)

    lg = rng.standard_normal((64, 300)).astype(np.float32)
    cks = rng.integers(0, 100, 64).astype(np.int32)
    cke = (cks + rng.integers(0, 250, 64)).astype(np.int32)

    def clean(fw):
        t = fw.put(lg)
        dlgemm.clean_logits(t, fw.put(cke), fw.put(cks))
        return {"logits": t}
    cols = np.arange(300)[None]
    cases["clean_logits"] = (
        clean, lambda: np.where((cols >= cks[:, None]) & (cols < cke[:, None]), lg, -np.inf), 0)

    xc = (rng.standard_normal((256, 1024)) * 3).astype(np.float32)

    def cast_token(fw):
        out, sf = fw.zeros(xc.shape, E4M3), fw.zeros((256, 8), np.float32)
        dlgemm.cast_fp8_per_token(fw.put(xc), out, sf)
        return {"out": out, "sf": sf}
    cases["cast_per_token"] = (cast_token, None, 0)

    def cast_block(fw):
        out, sf = fw.zeros(xc.shape, E4M3), fw.zeros((2, 8), np.float32)
        dlgemm.cast_fp8_per_block(fw.put(xc), out, sf, use_ue8m0=True)
        return {"out": out, "sf": sf}
    cases["cast_per_block"] = (cast_block, None, 0)

    def cast_tensor(fw):
        out, sf = fw.zeros(xc.shape, E4M3), fw.zeros((), np.float32)
        dlgemm.cast_fp8_per_tensor(fw.put(xc.astype(BF16)), out, sf)
        return {"out": out, "sf": sf}
    cases["cast_per_tensor"] = (cast_tensor, None, 0)

    sfx = rng.uniform(0.01, 3, (300, 7)).astype(np.float32)

    def transform(fw):
        buf = strided_fw(fw).zeros((7, dlgemm.tma_aligned_size(300, 4)), np.float32)
        view = buf[:, :300]
        view = view.permute(1, 0) if hasattr(view, "permute") else view.T
        dlgemm.transform_sf(fw.put(sfx), view)
        return {"sf_out": view}
    cases["transform_sf"] = (transform, lambda: sfx, 0)

    def pack(fw):
        packed = fw.zeros((300, 2), np.int32)
        dlgemm.pack_ue8m0(fw.put(sfx), packed)
        return {"packed": packed}
    cases["pack_ue8m0"] = (pack, None, 0)

    grid = rng.standard_normal((16, 16)).astype(np.float32)

    def utils(fw):
        t = fw.zeros((16, 16), np.float32)
        dlgemm.testing.tensor_copy(grid, t)  # host -> device
        back = np.zeros((16, 16), np.float32)
        dlgemm.testing.tensor_copy(t, back)  # device -> host
        p = fw.zeros((8,), np.float32)
        dlgemm.testing.poison(p, 0x3F)
        return {"copy": back, "poison": p}
    cases["tensor_copy+poison"] = (utils, lambda: grid, 0)
    return cases


def strided_fw(fw):
    """JAX arrays are dense row-major: strided outputs (TMA-aligned scale views) come from
    PyTorch when checking JAX."""
    return fw.torch_fw if fw.name == "jax" else fw


def run_cases(fws, cases):
    cpu = NumpyFw()
    for name, (fn, ref_fn, tol) in cases.items():
        try:
            want = {k: np.asarray(v) for k, v in fn(cpu).items()}
        except dlgemm.Error as exc:
            print(f"{name:22s} cpu    ERROR {type(exc).__name__}: {exc}")
            FAILURES.append(f"{name}/cpu")
            continue
        if ref_fn is not None:
            ref = ref_fn()
            first = next(iter(want.values()))
            print(f"{name:22s} cpu    vs numpy math: {compare(first, ref)}")
        for fw in fws:
            try:
                got = fn(fw)
                fw.sync()
                got = {k: fw.get(v) for k, v in got.items()}
            except dlgemm.UnsupportedError as exc:
                print(f"{name:22s} {fw.name:6s} UNSUPPORTED: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{name:22s} {fw.name:6s} ERROR {type(exc).__name__}: {exc}")
                FAILURES.append(f"{name}/{fw.name}")
                continue
            for key, value in got.items():
                verdict = "ok" if ok(value, want[key], max(tol, 1e-6)) else "MISMATCH"
                if verdict != "ok":
                    FAILURES.append(f"{name}/{fw.name}/{key}")
                print(f"{name:22s} {fw.name:6s} {key:7s} vs cpu: {compare(value, want[key])} "
                      f"[{verdict}]")


def stream_check(tfw):
    """Default stream = torch's current stream; explicit stream= overrides."""
    torch = tfw.torch
    a = torch.randn(256, 512, device="cuda").to(torch.bfloat16)
    b = torch.randn(384, 512, device="cuda").to(torch.bfloat16)
    ref = (a.float() @ b.float().T)
    s = torch.cuda.Stream()
    d = torch.zeros(256, 384, device="cuda", dtype=torch.float32)
    try:
        with torch.cuda.stream(s):
            dlgemm.gemm(a, b, d, recipe="bf16")
        s.synchronize()
        diff = calc_diff(d.cpu().numpy(), ref.cpu().numpy())
        print(f"stream: current torch stream     diff vs torch={diff:.2e}")
        d.zero_()
        s2 = torch.cuda.Stream()
        dlgemm.gemm(a, b, d, recipe="bf16", stream=s2)
        s2.synchronize()
        diff = calc_diff(d.cpu().numpy(), ref.cpu().numpy())
        print(f"stream: explicit stream=        diff vs torch={diff:.2e}")
    except dlgemm.UnsupportedError as exc:
        print(f"stream: UNSUPPORTED: {exc}")


SUMMARY: list[str] = []  # one-line overhead summaries, printed last


def overhead(tfw, calls: int):
    """Host time of one cached GEMM call: full Python path, raw SWIG path, per-tensor import
    (the binding's torch fast path, and torch's __dlpack__ for comparison), and torch.matmul
    for scale. GPU work is asynchronous: host time per call is what the loop measures (then
    one synchronize)."""
    torch = tfw.torch
    ctx = dlgemm.default_context(0)
    for recipe, dt in (("bf16", torch.bfloat16), ("fp8_per_tensor", torch.float8_e4m3fn)):
        m = n = k = 128
        a = torch.randn(m, k, device="cuda").to(dt)
        b = torch.randn(n, k, device="cuda").to(dt)
        d = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
        stream = torch.cuda.current_stream().cuda_stream
        try:
            dlgemm.gemm(a, b, d, recipe=recipe, ctx=ctx)  # compile / load: not timed
        except dlgemm.Error as exc:
            print(f"overhead {recipe}: GEMM did not run ({type(exc).__name__}: {exc}); skipped")
            continue
        torch.cuda.synchronize()

        def timed(fn):
            for _ in range(50):
                fn()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            t1 = time.perf_counter()
            torch.cuda.synchronize()
            return (t1 - t0) / calls * 1e6, (time.perf_counter() - t0) / calls * 1e6

        r = int(dlgemm.Recipe.BF16 if recipe == "bf16" else dlgemm.Recipe.FP8_PER_TENSOR)
        h = ctx.handle
        full = timed(lambda: dlgemm.gemm(a, b, d, recipe=recipe, ctx=ctx))
        explicit = timed(lambda: dlgemm.gemm(a, b, d, recipe=recipe, ctx=ctx, stream=stream))
        full_default = timed(lambda: dlgemm.gemm(a, b, d, recipe=recipe))
        raw = timed(lambda: dlgemm._cabi.dlg_gemm(h, r, a, None, b, None, None, d, stream))
        one = timed(lambda: dlgemm._cabi.dlg_tensor_numel(a))
        # DLPack: stream 0 is ambiguous and refused; 1 names the legacy default stream.
        via_dlpack = timed(lambda: dlgemm._cabi.dlg_tensor_numel(a.__dlpack__(stream=stream or 1)))
        ab, bb = a.to(torch.bfloat16), b.to(torch.bfloat16)
        mm = timed(lambda: torch.matmul(ab, bb.T, out=d))
        print(f"overhead {recipe} {m}x{n}x{k}, {calls} calls (host µs/call, then incl. sync):")
        print(f"  dlgemm.gemm(..., ctx=ctx)        {full[0]:7.2f}  {full[1]:7.2f}")
        print(f"  ... with stream=<int> given      {explicit[0]:7.2f}  {explicit[1]:7.2f}")
        print(f"  dlgemm.gemm(...) default ctx     {full_default[0]:7.2f}  {full_default[1]:7.2f}")
        print(f"  _cabi.dlg_gemm (raw SWIG)        {raw[0]:7.2f}  {raw[1]:7.2f}")
        print(f"  one torch tensor (tensor_numel)  {one[0]:7.2f}")
        print(f"  ... through __dlpack__ (capsule) {via_dlpack[0]:7.2f}")
        print(f"  torch.matmul bf16 (for scale)    {mm[0]:7.2f}  {mm[1]:7.2f}")
        SUMMARY.append(f"{recipe} {m}^3 host us/call: gemm(ctx)={full[0]:.1f} "
                       f"gemm(ctx,stream)={explicit[0]:.1f} gemm()={full_default[0]:.1f} "
                       f"raw={raw[0]:.1f} tensor={one[0]:.1f} (via __dlpack__ {via_dlpack[0]:.1f}) "
                       f"torch.matmul={mm[0]:.1f}")


def fast_path_check(tfw):
    """Torch tensors the binding describes without __dlpack__ (requires_grad inputs,
    nn.Parameter, strided views) give what their contiguous copies give; a negation view
    (which the fast path leaves to __dlpack__) either raises or is right."""
    torch = tfw.torch
    a = torch.randn(256, 512, device="cuda").to(torch.bfloat16)
    b = torch.randn(384, 512, device="cuda").to(torch.bfloat16)
    try:
        ref = dlgemm.gemm(a, b, recipe="bf16")
        cases = {
            "requires_grad input": (a.clone().requires_grad_(True), b),
            "nn.Parameter input": (torch.nn.Parameter(a.clone()), b),
            "N-major b view": (a, b.T.contiguous().T),
            "M-major a view": (a.T.contiguous().T, b),
        }
        want = ref.float().cpu().numpy()
        for what, (x, y) in cases.items():
            d = torch.zeros(256, 384, device="cuda", dtype=torch.bfloat16)
            try:
                dlgemm.gemm(x, y, d, recipe="bf16")
            except dlgemm.UnsupportedError as exc:
                print(f"fast path: {what:22s} UNSUPPORTED: {exc}")
                continue
            diff = calc_diff(d.float().cpu().numpy(), want)
            good = diff <= 1e-5
            print(f"fast path: {what:22s} diff={diff:.2e} [{'ok' if good else 'MISMATCH'}]")
            if not good:
                FAILURES.append(f"fast-path/{what}")
        neg = torch._neg_view(a) if hasattr(torch, "_neg_view") else None
        if neg is not None and neg.is_neg():
            try:
                d = dlgemm.gemm(neg, b, recipe="bf16")
                good = calc_diff(d.float().cpu().numpy(), -want) <= 1e-5
                print(f"fast path: negation view            {'ok (resolved)' if good else 'WRONG'}")
                if not good:
                    FAILURES.append("fast-path/neg-view")
            except dlgemm.Error as exc:
                print(f"fast path: negation view            ok (refused: {exc})")
    except dlgemm.UnsupportedError as exc:
        print(f"fast path: UNSUPPORTED: {exc}")
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        FAILURES.append("fast-path")


def torch_math(tfw):
    """dlgemm on torch CUDA tensors against PyTorch's own math (bf16 matmul; f32 x @ w.T for
    the FP8 recipe, its inputs cast by dlgemm on the GPU, or on the CPU if that is missing)."""
    torch = tfw.torch
    a = torch.randn(256, 1024, device="cuda").to(torch.bfloat16)
    b = torch.randn(512, 1024, device="cuda").to(torch.bfloat16)
    try:
        d = dlgemm.gemm(a, b, recipe="bf16")  # output allocated by dlgemm with torch
        ref = torch.matmul(a, b.T)
        print(f"torch math: gemm bf16 vs torch.matmul: "
              f"diff={calc_diff(d.float().cpu().numpy(), ref.float().cpu().numpy()):.2e}")
        x = torch.randn(256, 1024, device="cuda")
        w = torch.randn(512, 1024, device="cuda")
        try:
            a8, sfa = dlgemm.cast_fp8_per_token(x)
            b8, sfb = dlgemm.cast_fp8_per_block(w)
            where = "GPU"
        except dlgemm.UnsupportedError:
            a8, sfa = (tfw.put(t) for t in dlgemm.cast_fp8_per_token(x.cpu().numpy()))
            b8, sfb = (tfw.put(t) for t in dlgemm.cast_fp8_per_block(w.cpu().numpy()))
            where = "CPU"
        d8 = dlgemm.gemm(a8, b8, recipe="fp8_1d2d", sfa=dlgemm.transform_sf(sfa), sfb=sfb)
        print(f"torch math: gemm fp8_1d2d (inputs cast on the {where}) vs x @ w.T in f32: "
              f"diff={calc_diff(d8.float().cpu().numpy(), (x @ w.T).cpu().numpy()):.2e}")
    except dlgemm.UnsupportedError as exc:
        print(f"torch math: UNSUPPORTED: {exc}")
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        FAILURES.append("torch-math")


def device_memory():
    """dlgemm's own device memory helpers: alloc, memcpy both ways, free."""
    ctx = dlgemm.default_context(0)
    src = np.arange(256, dtype=np.float32)
    dst = np.zeros_like(src)
    try:
        ptr = dlgemm.testing.device_alloc(src.nbytes, ctx=ctx)
        dlgemm.testing.memcpy(ptr, src.ctypes.data, src.nbytes, ctx=ctx)
        dlgemm.testing.memcpy(dst.ctypes.data, ptr, src.nbytes, ctx=ctx)
        dlgemm.testing.device_free(ptr, ctx=ctx)
        dlgemm.testing.stream_synchronize(None, ctx=ctx)
        good = bool((src == dst).all())
        print(f"device memory: alloc/memcpy/free round trip {'ok' if good else 'MISMATCH'}")
        if not good:
            FAILURES.append("device-memory")
    except dlgemm.Error as exc:
        print(f"device memory: ERROR {type(exc).__name__}: {exc}")
        FAILURES.append("device-memory")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--cpu-only", action="store_true",
                    help="check the cases themselves: CPU path vs NumPy math, no GPU needed")
    args = ap.parse_args()
    print(f"dlgemm {dlgemm.version_string()} from {dlgemm.__file__}")
    if args.cpu_only:
        run_cases([], make_cases(np.random.default_rng(0)))
        print("FAILURES: " + (", ".join(FAILURES) if FAILURES else "none"))
        sys.exit(1 if FAILURES else 0)
    print(dlgemm.runtime_info())
    print(dlgemm.default_context(0).device_info())
    fws = []
    tfw = TorchFw()
    print(f"torch {tfw.torch.__version__}")
    fws.append(tfw)
    if not args.no_jax:
        try:
            jfw = JaxFw(tfw)
            print(f"jax {jfw.jax.__version__} on {jfw.dev}")
            fws.append(jfw)
        except Exception as exc:  # noqa: BLE001
            print(f"jax unavailable: {exc}")
    run_cases(fws, make_cases(np.random.default_rng(0)))
    torch_math(tfw)
    device_memory()
    stream_check(tfw)
    fast_path_check(tfw)
    overhead(tfw, args.calls)
    print("FAILURES: " + (", ".join(FAILURES) if FAILURES else "none"))
    for line in SUMMARY:  # last, for copying
        print("OVERHEAD SUMMARY: " + line)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
