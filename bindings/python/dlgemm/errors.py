"""Exceptions raised by dlgemm.

Every C status other than ``DLG_OK`` becomes an instance of one class below, raised by the
SWIG layer (the status typemap in ``bindings/swig/python.i``) with the C library's message,
which names the argument and the reason, e.g. ``b: expected dtype float8_e4m3fn, got
bfloat16``. The status code is in ``exc.status``.

Bad arguments (statuses 1-5) derive from :class:`InvalidArgumentError`, a :class:`ValueError`;
a wrong dtype or an object that is not a tensor is also a :class:`TypeError`.
"""

from __future__ import annotations

from . import _cabi


class Error(Exception):
    """Base of every dlgemm exception. ``status`` is the C ``dlg_status_t`` value."""

    status: int = _cabi.DLG_ERR_INTERNAL

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def status_name(self) -> str:
        """The C enumerator name, e.g. ``"DLG_ERR_DTYPE"``."""
        return _cabi.dlg_status_name(self.status)


class InvalidArgumentError(Error, ValueError):
    """A NULL/None where a value is required, a bad enum or a bad value."""

    status = _cabi.DLG_ERR_INVALID_ARGUMENT


class NotATensorError(InvalidArgumentError, TypeError):
    """An argument that should be a tensor has neither ``__dlpack__`` nor is a NumPy array."""


class DTypeError(InvalidArgumentError, TypeError):
    """A tensor has a dtype the operation does not take."""

    status = _cabi.DLG_ERR_DTYPE


class ShapeError(InvalidArgumentError):
    """Ranks or extents of the tensors disagree."""

    status = _cabi.DLG_ERR_SHAPE


class LayoutError(InvalidArgumentError):
    """Strides or alignment the operation does not take (e.g. a non-contiguous tensor)."""

    status = _cabi.DLG_ERR_LAYOUT


class DeviceError(InvalidArgumentError):
    """Tensors on different devices, or on a device other than the context's."""

    status = _cabi.DLG_ERR_DEVICE


class UnsupportedError(Error, NotImplementedError):
    """A valid request with no implementation here (e.g. no GPU kernel for this case)."""

    status = _cabi.DLG_ERR_UNSUPPORTED


class DriverError(Error, RuntimeError):
    """The CUDA driver could not be opened, or there is no GPU."""

    status = _cabi.DLG_ERR_NO_DRIVER


class NvrtcError(Error, RuntimeError):
    """NVRTC could not be opened."""

    status = _cabi.DLG_ERR_NO_NVRTC


class CompileError(Error, RuntimeError):
    """NVRTC rejected a kernel."""

    status = _cabi.DLG_ERR_COMPILE


class CudaError(Error, RuntimeError):
    """A CUDA driver call failed."""

    status = _cabi.DLG_ERR_CUDA


class OutOfMemoryError(Error, MemoryError):
    """An allocation failed."""

    status = _cabi.DLG_ERR_OUT_OF_MEMORY


class CacheIOError(Error, OSError):
    """The kernel cache directory could not be read or written."""

    status = _cabi.DLG_ERR_IO


class InternalError(Error, RuntimeError):
    """A bug in dlgemm."""

    status = _cabi.DLG_ERR_INTERNAL


_BY_STATUS: dict[int, type[Error]] = {
    cls.status: cls
    for cls in (InvalidArgumentError, DTypeError, ShapeError, LayoutError, DeviceError,
                UnsupportedError, DriverError, NvrtcError, CompileError, CudaError,
                OutOfMemoryError, CacheIOError, InternalError)
}


def error_class(status: int) -> type[Error]:
    """The exception class raised for a status (``Error`` for unknown ones)."""
    return _BY_STATUS.get(int(status), Error)


# The SWIG layer raises these classes from now on.
_cabi._register_errors(_BY_STATUS, Error, NotATensorError)

__all__ = ["Error", "InvalidArgumentError", "NotATensorError", "DTypeError", "ShapeError",
           "LayoutError", "DeviceError", "UnsupportedError", "DriverError", "NvrtcError",
           "CompileError", "CudaError", "OutOfMemoryError", "CacheIOError", "InternalError",
           "error_class"]
