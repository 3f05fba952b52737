"""Case tensors for the Python conformance runner: storage (host, device or a host "mirror"),
a DLPack producer over it, fill / values / parts / poison, and copies to and from the device.

Everything goes through the dlgemm package: storage is raw memory (ctypes on the host,
dlgemm.testing.device_alloc on a GPU) described to the binding by a small DLPack producer, so
neither NumPy nor ml_dtypes nor a GPU framework is needed."""

from __future__ import annotations

import ctypes
import struct

import dlgemm
from dlgemm import testing

POISON = 0xA5
KDL_CPU, KDL_CUDA = 1, 2
# name -> (DLPack code, bits)
DTYPES = {"float32": (2, 32), "bfloat16": (4, 16), "float8_e4m3fn": (10, 8), "int32": (0, 32),
          "uint8": (1, 8)}
FILLS = {"uniform": testing.Fill.UNIFORM, "normal": testing.Fill.NORMAL, "int": testing.Fill.INT}
MAX_STORAGE_ELEMS = 1 << 31


class CaseError(Exception):
    """A malformed case, or a dlg_testing_* call that failed while building it."""


# -- DLPack ----------------------------------------------------------------------------------

class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_CAPSULE_NAME = b"dltensor"  # must outlive every capsule: a module constant


class View:
    """A DLPack producer over raw memory: (code, bits) elements at `ptr`, explicit strides or
    None (compact). The memory's owner must outlive the view's use in a call; the managed
    tensor has no deleter, the view object keeps it alive."""

    def __init__(self, ptr, device, dtype, shape, strides=None):
        self._device = device  # (DLDeviceType, id)
        n = len(shape)
        self._shape = (ctypes.c_int64 * max(n, 1))(*shape)
        self._strides = (ctypes.c_int64 * max(n, 1))(*strides) if strides is not None else None
        m = self._managed = _DLManagedTensor()
        m.dl_tensor.data = ptr or None
        m.dl_tensor.device = _DLDevice(*device)
        m.dl_tensor.ndim = n
        m.dl_tensor.dtype = _DLDataType(dtype[0], dtype[1], 1)
        m.dl_tensor.shape = ctypes.cast(self._shape, ctypes.POINTER(ctypes.c_int64))
        if self._strides is not None:
            m.dl_tensor.strides = ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64))

    def __dlpack_device__(self):
        return self._device

    def __dlpack__(self, stream=None, max_version=None, **_):
        # A legacy capsule: the protocol lets a producer answer a 1.x request with one.
        return _capsule_new(ctypes.addressof(self._managed), _CAPSULE_NAME, None)


class HostMemory:
    """`nbytes` of zeroed host memory, 64-byte aligned (at least 64 bytes)."""

    def __init__(self, nbytes):
        self._buf = (ctypes.c_uint8 * (max(nbytes, 64) + 64))()
        self.ptr = (ctypes.addressof(self._buf) + 63) & ~63


# -- shapes ----------------------------------------------------------------------------------

def compact_strides(shape):
    strides, s = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = s
        s *= max(shape[i], 1)
    return strides


def span_elems(shape, strides):
    """1 + Σ (shape[i]-1)·strides[i], 0 when any extent is 0; -1 when malformed/too big."""
    if any(e == 0 for e in shape):
        return 0
    if any(e < 0 for e in shape) or any(s < 0 for s in strides):
        return -1
    span = 1 + sum((e - 1) * s for e, s in zip(shape, strides))
    return span if span <= MAX_STORAGE_ELEMS else -1


def storage_indices(shape, strides):
    """Storage index of every element, in row-major logical order."""
    idx = [0]
    for e, s in zip(shape, strides):
        idx = [b + i * s for b in idx for i in range(e)]
    return idx


def _dims(v, what):
    if not isinstance(v, list) or len(v) > 8 or not all(isinstance(x, (int, float)) for x in v):
        raise CaseError(f"{what}: bad shape or strides")
    return [int(x) for x in v]


# -- one tensor ------------------------------------------------------------------------------

class Tensor:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec.get("name")
        if not isinstance(self.name, str):
            raise CaseError("a tensor without \"name\"")
        self.alias = spec.get("alias")  # resolved by TensorSet
        self.dev = None       # device address (or mirror HostMemory)
        self.on_device = False
        if self.alias is not None:
            return
        self.role = spec.get("role")
        if self.role not in ("input", "output", "inout"):
            raise CaseError(f"tensor {self.name}: role must be input, output or inout")
        if spec.get("dtype") not in DTYPES:
            raise CaseError(f"tensor {self.name}: unknown dtype")
        self.dtype = DTYPES[spec["dtype"]]
        self.elem_size = self.dtype[1] // 8
        self.shape = _dims(spec.get("shape"), f"tensor {self.name}")
        if any(e < 0 for e in self.shape):
            raise CaseError(f"tensor {self.name}: negative extent")
        self.has_strides = "strides" in spec
        self.strides = (_dims(spec["strides"], f"tensor {self.name}") if self.has_strides
                        else compact_strides(self.shape))
        if len(self.strides) != len(self.shape):
            raise CaseError(f"tensor {self.name}: strides rank differs from shape")
        self.storage_elems = span_elems(self.shape, self.strides)
        numel = 1
        for e in self.shape:
            numel *= e
        if self.storage_elems < 0 or numel > MAX_STORAGE_ELEMS:
            raise CaseError(f"tensor {self.name}: negative strides, or over 2^31 elements")
        self.numel = numel
        self.bytes = self.storage_elems * self.elem_size
        self.host = HostMemory(self.bytes)

    def host_view(self, ptr=None, dtype=None, shape=None, strides=None):
        """The host tensor (NULL strides when the case gives none), or a typed view into it."""
        if ptr is None:
            return View(self.host.ptr, (KDL_CPU, 0), self.dtype, self.shape,
                        self.strides if self.has_strides else None)
        return View(ptr, (KDL_CPU, 0), dtype, shape, strides)

    def arg_view(self, device):
        """What the op gets: the host tensor, or the device copy once mirrored."""
        if not self.on_device:
            return self.host_view()
        ptr = self.dev.ptr if isinstance(self.dev, HostMemory) else self.dev
        return View(ptr, device, self.dtype, self.shape, self.strides if self.has_strides else None)

    def raw(self):
        """The storage bytes (a copy)."""
        return ctypes.string_at(self.host.ptr, self.bytes)

    def untouched(self, start, end):
        """Storage elements [start, end) still all poison?"""
        start, end = max(start, 0), min(end, self.storage_elems)
        if end <= start:
            return True
        n = (end - start) * self.elem_size
        return ctypes.string_at(self.host.ptr + start * self.elem_size, n) == bytes([POISON]) * n

    # -- initial contents --------------------------------------------------------------------
    def build(self, cpu):
        if self.role == "output":
            ctypes.memset(self.host.ptr, POISON, self.bytes)  # the gaps between strided rows too
            _testing(f"tensor {self.name}: dlg_testing_poison", testing.poison, self.host_view(),
                     POISON, ctx=cpu)  # exercised, same bytes
            return
        given = [k for k in ("fill", "values", "parts") if k in self.spec]
        if len(given) > 1:
            raise CaseError(f"tensor {self.name}: give one of fill, values, parts")
        if "fill" in self.spec:
            _fill(self.host_view(), self.spec["fill"], self.name)
        elif "values" in self.spec:
            self._set_values(self.spec["values"])
        elif "parts" in self.spec:
            self._fill_parts(self.spec["parts"])

    def _set_values(self, values):
        if not isinstance(values, list) or len(values) != self.numel:
            raise CaseError(f"tensor {self.name}: \"values\" needs {self.numel} entries")
        if self.has_strides:
            raise CaseError(f"tensor {self.name}: \"values\" needs a compact tensor")
        fmt = {(0, 32): "<i", (1, 8): "<B", (2, 32): "<f"}.get(self.dtype)
        if fmt is None:
            raise CaseError(f"tensor {self.name}: \"values\" only for int32, uint8, float32")
        ctypes.memmove(self.host.ptr, pack_values(fmt, values), self.bytes)

    def _fill_parts(self, parts):
        if not isinstance(parts, list):
            raise CaseError(f"tensor {self.name}: \"parts\" must be a list")
        for i, p in enumerate(parts):
            what = f"tensor {self.name} part {i}"
            if p.get("dtype") not in DTYPES:
                raise CaseError(f"{what}: bad dtype or shape")
            dtype = DTYPES[p["dtype"]]
            shape = _dims(p.get("shape"), what)
            strides = _dims(p["strides"], what) if "strides" in p else compact_strides(shape)
            if len(strides) != len(shape):
                raise CaseError(f"{what}: strides rank differs from shape")
            offset = int(p.get("byte_offset", 0))
            span = span_elems(shape, strides)
            if span < 0 or offset < 0 or offset + span * dtype[1] // 8 > self.bytes:
                raise CaseError(f"{what}: outside the storage")
            _fill(self.host_view(self.host.ptr + offset, dtype, shape, strides), p.get("fill"), what)


def pack_values(fmt, values):
    """Little-endian bytes of a value list ("inf" / "-inf" / "nan" strings allowed)."""
    out = bytearray()
    for v in values:
        if isinstance(v, str):
            v = {"inf": float("inf"), "-inf": float("-inf")}.get(v, float("nan"))
        if fmt == "<f":
            out += struct.pack(fmt, float(v))
        elif fmt == "<i":
            out += struct.pack(fmt, (int(v) + 2**31) % 2**32 - 2**31)
        else:
            out += struct.pack(fmt, int(v) & 0xFF)
    return bytes(out)


def _testing(what, fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except dlgemm.Error as e:
        raise CaseError(f"{what} -> {dlgemm.status_name(e.status)}: {e.message}") from None


def _fill(view, fill, what):
    if not isinstance(fill, dict) or "dist" not in fill:
        raise CaseError(f"{what}: fill needs \"dist\"")
    if fill["dist"] not in FILLS:
        raise CaseError(f"{what}: unknown fill dist '{fill['dist']}'")
    _testing(f"{what}: dlg_testing_fill", testing.fill, view, int(fill.get("seed", 0)),
             FILLS[fill["dist"]], float(fill.get("lo", 0)), float(fill.get("hi", 1)))


# -- a case's set ----------------------------------------------------------------------------

class TensorSet:
    """The tensors of one case, built on the host with a CPU context."""

    def __init__(self, case, cpu):
        specs = case.get("tensors", [])
        if not isinstance(specs, list) or len(specs) > 16:
            raise CaseError("\"tensors\" must be a list of at most 16")
        self.t = [Tensor(s) for s in specs]
        self.by_name = {t.name: t for t in self.t}
        for t in self.t:
            if t.alias is None:
                t.build(cpu)
            else:
                target = next((u for u in self.t if u is not t and u.alias is None
                               and u.name == t.alias), None)
                if target is None:
                    raise CaseError(f"tensor {t.name}: alias '{t.alias}' names no tensor")
                t.alias = target
        self.device = (KDL_CPU, 0)
        self.owner = None  # the context that allocated device memory

    def own(self):
        return [t for t in self.t if t.alias is None]

    def arg(self, name):
        """The tensor for argument `name` (alias resolved), or None."""
        t = self.by_name.get(name)
        if t is None:
            return None
        return (t.alias if t.alias is not None else t).arg_view(self.device)

    def to_device(self, ctx, ordinal, mirror):
        """Allocates every tensor on the device (or host mirror) and copies it there."""
        self.device, self.owner = ((KDL_CPU, 0) if mirror else (KDL_CUDA, ordinal)), ctx
        for t in self.own():
            if t.bytes:
                if mirror:
                    t.dev = HostMemory(t.bytes)
                else:
                    t.dev = _testing(f"tensor {t.name}: dlg_device_alloc({t.bytes})",
                                     testing.device_alloc, t.bytes, ctx=ctx)
            t.on_device = True
            if t.bytes:
                _testing(f"tensor {t.name}: copy to device", testing.tensor_copy, t.host_view(),
                         t.arg_view(self.device), ctx=ctx)

    def from_device(self):
        for t in self.own():
            if t.on_device and t.role != "input" and t.bytes:
                _testing(f"tensor {t.name}: copy to host", testing.tensor_copy,
                         t.arg_view(self.device), t.host_view(), ctx=self.owner)

    def free(self):
        for t in self.own():
            if t.dev is not None and not isinstance(t.dev, HostMemory):
                try:
                    testing.device_free(t.dev, ctx=self.owner)
                except dlgemm.Error:
                    pass
            t.dev = None
