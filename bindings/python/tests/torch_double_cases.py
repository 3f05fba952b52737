"""The binding's PyTorch fast path (python.i: dlgpy_from_torch), driven by a test double.

PyTorch cannot be installed where CI runs, so this module puts a stand-in ``torch`` into
sys.modules before dlgemm sees any tensor: a ``Tensor`` over a NumPy array's memory with the
attribute surface the fast path reads (data_ptr(), shape, stride(), dtype, layout, is_cuda,
is_cpu, is_pinned(), get_device(), is_neg(), is_conj(), requires_grad) and a ``__dlpack__`` that counts its
calls, so each case can tell which route the binding took. The double has to stay in its own
process (the binding caches the torch types it finds): test_torch_fast_path.py runs this file
with pytest in a subprocess.
"""

from __future__ import annotations

import sys
import types

import ml_dtypes
import numpy as np
import pytest

BF16, E4M3 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn


class _DType:  # torch.dtype: one object per dtype, compared by identity
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _Layout:
    def __init__(self, name: str):
        self.name = name


torch = types.ModuleType("torch")
for _name in ("float32", "bfloat16", "float8_e4m3fn", "int32", "uint8", "complex64"):
    setattr(torch, _name, _DType(_name))
torch.strided, torch.sparse_coo = _Layout("strided"), _Layout("sparse_coo")
torch.version = types.SimpleNamespace(hip=None)
CURRENT_STREAM = {"raw": 0}  # what torch would call the current stream of every device
torch._C = types.SimpleNamespace(_cuda_getCurrentRawStream=lambda index: CURRENT_STREAM["raw"])
_NP_TO_TORCH = {np.dtype(np.float32): "float32", np.dtype(BF16): "bfloat16",
                np.dtype(E4M3): "float8_e4m3fn", np.dtype(np.int32): "int32",
                np.dtype(np.uint8): "uint8"}


class Tensor:
    """A torch.Tensor stand-in over ``array``'s memory (CPU unless ``cuda``)."""

    def __init__(self, array: np.ndarray, *, dtype=None, neg=False, layout=None,
                 requires_grad=False, cuda=False, pinned=False):
        self._a = array
        self.dtype = dtype or getattr(torch, _NP_TO_TORCH[array.dtype])
        self.layout = layout or torch.strided
        self.requires_grad = requires_grad
        self._neg = neg
        self._pinned = pinned
        self.is_cuda = cuda
        self.is_cpu = not cuda
        self.dlpack_calls = []  # the stream of each __dlpack__ call

    @property
    def shape(self):
        return tuple(self._a.shape)  # torch.Size is a tuple subclass

    def stride(self):
        return tuple(s // self._a.itemsize for s in self._a.strides)

    def data_ptr(self) -> int:
        return self._a.ctypes.data

    def is_neg(self) -> bool:
        return self._neg

    def is_conj(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return self._pinned

    def get_device(self) -> int:
        return 0 if self.is_cuda else -1

    def __dlpack_device__(self):
        return (2, 0) if self.is_cuda else (1, 0)

    def __dlpack__(self, stream=None, max_version=None, **_):
        self.dlpack_calls.append(stream)
        if self._neg:
            raise RuntimeError("Can't export tensors with the negative bit set")
        if self.is_cuda:
            raise RuntimeError("double: no CUDA export")
        return self._a.__dlpack__(max_version=max_version)


Tensor.__module__ = "torch"
torch.Tensor = Tensor
torch.nn = types.SimpleNamespace(Parameter=type("Parameter", (Tensor,), {}))
sys.modules["torch"] = torch

import dlgemm  # noqa: E402  (after the double is in place)


@pytest.fixture
def ctx():
    with dlgemm.Context(-1) as c:
        yield c


def bf16(rng, shape):
    return rng.standard_normal(shape).astype(np.float32).astype(BF16)


def test_gemm_fast_path_matches_numpy(ctx):
    rng = np.random.default_rng(7)
    a, b = bf16(rng, (32, 128)), bf16(rng, (48, 128))
    bt = np.ascontiguousarray(b.T)  # B N-major: strides (1, N) through the double
    want = dlgemm.gemm(a, b, recipe="bf16", ctx=ctx)
    ta, tb, td = Tensor(a), Tensor(bt.T), Tensor(np.zeros((32, 48), BF16))
    dlgemm.gemm(ta, tb, td, recipe="bf16", ctx=ctx)
    np.testing.assert_array_equal(td._a.astype(np.float32), want.astype(np.float32))
    assert ta.dlpack_calls == tb.dlpack_calls == td.dlpack_calls == []  # the fast path
    # The Python layer's device / stream lookups take the torch route too (no __dlpack__).
    dlgemm.gemm(ta, tb, td, recipe="bf16")
    assert td.dlpack_calls == []


def test_fast_path_describes_views(ctx):
    base = np.arange(64 * 8, dtype=np.float32).reshape(64, 8)
    view = base[3:40:3, 1:7:2]  # offset data pointer, strides (24, 2)
    out = np.zeros(view.shape, np.float32)
    t = Tensor(view)
    assert dlgemm.testing.numel(t) == view.size
    dlgemm.testing.tensor_copy(t, out, ctx=ctx)
    np.testing.assert_array_equal(out, view)
    # A size-1 dimension with a large stride (its stride becomes 1, as in torch's export).
    row = base[5:6, :]
    assert dlgemm.testing.span_bytes(Tensor(row)) == 8 * 4
    # 0-d tensors (per-tensor scales) and outputs through the fast path.
    sf = Tensor(np.zeros((), np.float32))
    x = np.linspace(-3, 3, 4 * 128, dtype=np.float32).reshape(4, 128)
    q = Tensor(np.zeros(x.shape, E4M3))
    dlgemm.cast_fp8_per_tensor(Tensor(x), q, sf, ctx=ctx)
    assert float(sf._a) == pytest.approx(3 / 448)
    assert sf.dlpack_calls == q.dlpack_calls == []


def test_fallbacks_take_dlpack(ctx):
    x = np.ones((4, 8), np.float32)
    # A negation view: its memory holds the un-negated values, and torch 2.11's __dlpack__
    # exported it as is on the H100 (a silently wrong GEMM); it is refused before any route.
    neg = Tensor(x, neg=True)
    with pytest.raises(dlgemm.LayoutError, match="resolve_neg"):
        dlgemm.testing.numel(neg)
    assert neg.dlpack_calls == []
    # nn.Parameter is described directly; other subclasses (which may override what the
    # fast path reads), other layouts and unknown dtypes: the protocol decides.
    param = torch.nn.Parameter(x)
    assert dlgemm.testing.numel(param) == 32 and param.dlpack_calls == []
    sub = type("Sub", (Tensor,), {})
    for t in (sub(x), Tensor(x, layout=torch.sparse_coo), Tensor(x, pinned=True),
              Tensor(x, dtype=torch.complex64)):
        assert dlgemm.testing.numel(t) == 32
        assert len(t.dlpack_calls) == 1
    # requires_grad: inputs are read through data_ptr(); outputs go to __dlpack__ (which
    # refuses them in torch).
    src = Tensor(x, requires_grad=True)
    dst = Tensor(np.zeros_like(x), requires_grad=True)
    dlgemm.testing.tensor_copy(src, dst, ctx=ctx)
    assert src.dlpack_calls == [] and len(dst.dlpack_calls) == 1
    np.testing.assert_array_equal(dst._a, x)


def test_cuda_tensors_need_the_current_stream(ctx):
    ke = Tensor(np.zeros(4, np.int32), cuda=True)
    logits = Tensor(np.zeros((4, 8), np.float32), cuda=True)
    # Stream = torch's current stream: described directly (the CPU context then refuses the
    # CUDA tensors; nothing is dereferenced).
    with pytest.raises(dlgemm.Error) as info:
        dlgemm._cabi.dlg_clean_logits(ctx.handle, None, ke, logits, None)
    assert "double" not in str(info.value)
    assert ke.dlpack_calls == logits.dlpack_calls == []
    # Another stream: __dlpack__ must order torch's work before ours; it is asked, on ours.
    CURRENT_STREAM["raw"] = 0x1234
    try:
        with pytest.raises(dlgemm.InvalidArgumentError, match="double: no CUDA export"):
            dlgemm._cabi.dlg_clean_logits(ctx.handle, None, ke, logits, None)
        assert ke.dlpack_calls == [1]  # 1: the legacy default stream, our NULL
    finally:
        CURRENT_STREAM["raw"] = 0


def test_other_producers_unaffected(ctx):
    # NumPy arrays (plain and ml_dtypes) and capsules still go their own ways.
    rng = np.random.default_rng(3)
    a, b = bf16(rng, (16, 128)), bf16(rng, (16, 128))
    d = dlgemm.gemm(a, b, recipe="bf16", ctx=ctx)
    ref = a.astype(np.float32) @ b.astype(np.float32).T
    assert np.abs(d.astype(np.float32) - ref).max() <= 0.05 * np.abs(ref).max()
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert dlgemm.testing.numel(x.__dlpack__()) == 12
