"""The NumPy reference math the tests compare dlgemm against, and hand-made DLPack capsules.

The references are written independently of the C library: FP8 values are decoded with
ml_dtypes (``astype(np.float32)``), products are exact in float64, scales follow the header
definitions (sf = amax / 448, UE8M0 = 2^ceil(log2 sf), all-zero block -> 1)."""

from __future__ import annotations

import ctypes

import ml_dtypes
import numpy as np

E4M3 = ml_dtypes.float8_e4m3fn
BF16 = ml_dtypes.bfloat16
FP8_MAX = 448.0


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def calc_diff(x, y) -> float:
    """DeepGEMM's calc_diff in float64 (an independent NumPy version)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    denom = float((x * x + y * y).sum())
    if denom == 0.0:
        return 0.0
    return 1.0 - 2.0 * float((x * y).sum()) / denom


def f32(a) -> np.ndarray:
    """Any NumPy / ml_dtypes array decoded to float32 (fp8 via ml_dtypes)."""
    return np.asarray(a).astype(np.float32)


def ue8m0_ceil(sf: np.ndarray) -> np.ndarray:
    """Rounds positive float32 scales up to powers of two."""
    mant, exp = np.frexp(sf.astype(np.float64))  # sf = mant * 2^exp, mant in [0.5, 1)
    exp = np.where(mant == 0.5, exp - 1, exp)
    return np.ldexp(1.0, exp).astype(np.float32)


def ue8m0_biased_exponent(sf: np.ndarray) -> np.ndarray:
    """The UE8M0 byte of ue8m0_ceil(sf): its biased (127) exponent."""
    _, exp = np.frexp(ue8m0_ceil(sf).astype(np.float64))
    return (exp - 1 + 127).astype(np.uint8)


def scale_of(amax: np.ndarray, use_ue8m0: bool = False) -> np.ndarray:
    amax = np.asarray(amax, dtype=np.float32)
    sf = np.where(amax > 0, amax / np.float32(FP8_MAX), np.float32(1.0)).astype(np.float32)
    return ue8m0_ceil(sf) if use_ue8m0 else sf


def quant_tiles(x: np.ndarray, bm: int, bk: int, use_ue8m0: bool = False):
    """Block-scaled FP8 cast of a matrix with (bm x bk) tiles: (q e4m3 [M, K], sf f32)."""
    x = f32(x)
    m, k = x.shape
    mb, kb = ceil_div(m, bm), ceil_div(k, bk)
    pad = np.zeros((mb * bm, kb * bk), np.float32)
    pad[:m, :k] = np.abs(x)
    amax = pad.reshape(mb, bm, kb, bk).max(axis=(1, 3))
    sf = scale_of(amax, use_ue8m0)
    full = np.repeat(np.repeat(sf, bm, axis=0), bk, axis=1)[:m, :k]
    q = (x / full).astype(E4M3)
    return q, sf


def quant_rows(x, use_ue8m0=False):
    """Per-token (1 x 128) cast."""
    return quant_tiles(x, 1, 128, use_ue8m0)


def quant_blocks(x, use_ue8m0=False):
    """Per-block (128 x 128) cast."""
    return quant_tiles(x, 128, 128, use_ue8m0)


def dequant(q: np.ndarray, sf: np.ndarray, bm: int, bk: int) -> np.ndarray:
    m, k = q.shape
    full = np.repeat(np.repeat(sf.astype(np.float64), bm, axis=0), bk, axis=1)[:m, :k]
    return f32(q).astype(np.float64) * full


def random_matrix(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def assert_close(out, ref, max_diff=1e-4, rtol=2 ** -6, atol=1e-2):
    """Output of a GEMM-like op against a float64 reference: DeepGEMM's calc_diff and an
    elementwise bound (bfloat16 output rounds to 8 bits)."""
    o = f32(out).astype(np.float64)
    r = np.asarray(ref, dtype=np.float64)
    assert o.shape == r.shape
    assert calc_diff(o, r) < max_diff, calc_diff(o, r)
    np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)


# -- hand-made DLPack capsules (ctypes) for protocol and device tests ----------------------

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                            ("deleter", DELETER)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class FakeTensor:
    """A DLPack producer over a NumPy array's memory that can lie about its device, mark
    itself read-only or claim another DLPack version; counts deleter calls."""

    def __init__(self, array: np.ndarray, device=(1, 0), versioned=True, read_only=False,
                 major=1, dtype=None):
        self.array = array
        self.device = device
        self.versioned = versioned
        self.read_only = read_only
        self.major = major
        self.dtype = dtype  # (code, bits) override
        self.deleted = 0
        self._keep = []

    def __dlpack_device__(self):
        return self.device

    def _deleter(self, _ptr):
        self.deleted += 1

    def capsule(self):
        a = self.array
        shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
        strides = (ctypes.c_int64 * max(a.ndim, 1))(*[s // a.itemsize for s in a.strides])
        code, bits = self.dtype or {np.dtype(np.float32): (2, 32), np.dtype(np.int32): (0, 32),
                                    np.dtype(np.uint8): (1, 8)}[a.dtype]
        t = DLTensor(a.ctypes.data, DLDevice(*self.device), a.ndim, DLDataType(code, bits, 1),
                     shape, strides, 0)
        deleter = DELETER(self._deleter)
        if self.versioned:
            m = DLManagedTensorVersioned(DLPackVersion(self.major, 0), None, deleter,
                                         1 if self.read_only else 0, t)
            name = b"dltensor_versioned"
        else:
            m = DLManagedTensor(t, None, deleter)
            name = b"dltensor"
        self._keep += [shape, strides, deleter, m]
        return _capsule_new(ctypes.addressof(m), name, None)

    def __dlpack__(self, stream=None, max_version=None, **_):
        self.last_stream = stream
        return self.capsule()


def readme_python_blocks(text: str):
    """The ```python fenced blocks of a Markdown file, in order."""
    blocks, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if current is None and stripped.startswith("```python"):
            current = []
        elif current is not None and stripped.startswith("```"):
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks

