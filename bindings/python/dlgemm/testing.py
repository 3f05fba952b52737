"""What every binding and the conformance suite share (include/dlgemm/testing.h): a seeded,
language-independent generator, DeepGEMM's calc_diff, bitwise comparison, output poisoning,
and raw device memory / copies through the CUDA driver (for callers without a GPU
framework)."""

from __future__ import annotations

import enum
from typing import Any, Optional, Union

from . import _cabi
from ._frameworks import device_ordinal, stream_handle
from .context import Context, default_context
from .errors import InvalidArgumentError

Tensor = Any


class Fill(enum.IntEnum):
    """Distributions of :func:`fill`."""

    UNIFORM = _cabi.DLG_FILL_UNIFORM  #: uniform in [lo, hi)
    NORMAL = _cabi.DLG_FILL_NORMAL    #: normal(mean=lo, std=hi)
    INT = _cabi.DLG_FILL_INT          #: integers uniform in [lo, hi] (int32 / uint8)


_FILL_NAMES = {"uniform": Fill.UNIFORM, "normal": Fill.NORMAL, "int": Fill.INT}


def _fill_kind(dist: Union[Fill, int, str]) -> int:
    if isinstance(dist, str):
        try:
            return int(_FILL_NAMES[dist.lower()])
        except KeyError:
            raise InvalidArgumentError(
                f"dist: unknown distribution {dist!r}; expected 'uniform', 'normal' or 'int'") from None
    return int(dist)


def fill(t: Tensor, seed: int, dist: Union[Fill, int, str] = Fill.UNIFORM, lo: float = -1.0,
         hi: float = 1.0) -> Tensor:
    """Fills a CPU tensor in place: element i (row-major logical index) gets f(seed, i),
    rounded to the tensor's dtype — identical in every language. Returns ``t``."""
    _cabi.dlg_testing_fill(t, int(seed) & 0xFFFFFFFFFFFFFFFF, _fill_kind(dist), float(lo), float(hi))
    return t


def calc_diff(x: Tensor, y: Tensor) -> float:
    """DeepGEMM's calc_diff = 1 - 2·Σxy / Σ(x² + y²) (double) over two CPU tensors of equal
    shape; -inf at the same index on both sides is skipped."""
    return _cabi.dlg_testing_calc_diff(x, y)


def count_mismatch(x: Tensor, y: Tensor) -> int:
    """Number of elements that differ bitwise (CPU tensors of equal shape and dtype)."""
    return _cabi.dlg_testing_count_mismatch(x, y)


def _ctx_for(ctx: Optional[Context], t: Any) -> Context:
    return ctx if ctx is not None else default_context(device_ordinal(t))


def poison(t: Tensor, byte: int = 0xFF, *, ctx: Optional[Context] = None) -> Tensor:
    """Sets every byte of the tensor's elements to ``byte`` (CPU or CUDA). Returns ``t``."""
    _cabi.dlg_testing_poison(_ctx_for(ctx, t).handle, t, int(byte))
    return t


def device_alloc(nbytes: int, *, ctx: Context) -> int:
    """Allocates device memory on ``ctx``'s device; returns its address (free it with
    :func:`device_free`)."""
    return _cabi.dlg_device_alloc(ctx.handle, int(nbytes))


def device_free(ptr: Optional[int], *, ctx: Context) -> None:
    """Frees what :func:`device_alloc` returned (None / 0 is a no-op)."""
    _cabi.dlg_device_free(ctx.handle, ptr)


def memcpy(dst: int, src: int, nbytes: int, *, ctx: Context) -> None:
    """Copies bytes between host and device addresses (direction inferred, synchronous).
    Host addresses of NumPy arrays: ``arr.ctypes.data``."""
    _cabi.dlg_memcpy(ctx.handle, dst, src, int(nbytes))


def tensor_copy(src: Tensor, dst: Tensor, *, ctx: Optional[Context] = None) -> Tensor:
    """Copies src's elements into dst (same shape and dtype) across CPU/CUDA and strides,
    synchronously. Returns ``dst``."""
    c = ctx
    if c is None:
        ordinal = device_ordinal(src)
        c = default_context(ordinal if ordinal >= 0 else device_ordinal(dst))
    _cabi.dlg_tensor_copy(c.handle, src, dst)
    return dst


def stream_synchronize(stream: Any = None, *, ctx: Context) -> None:
    """Waits for all work on ``stream`` (None = the legacy default stream)."""
    _cabi.dlg_stream_synchronize(ctx.handle, stream_handle(stream))


def numel(t: Tensor) -> int:
    """Number of elements of a tensor as the library sees it (1 for 0-d)."""
    return _cabi.dlg_tensor_numel(t)


def span_bytes(t: Tensor) -> int:
    """Bytes from the first to one past the last element, given the strides (0 if empty)."""
    return _cabi.dlg_tensor_span_bytes(t)
