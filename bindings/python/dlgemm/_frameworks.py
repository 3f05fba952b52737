"""What dlgemm needs to know about the caller's tensor framework, without importing any of
them: the device a tensor lives on, the framework's current CUDA stream, and how to allocate
an output "like" an input (the ``out=None`` convenience). Frameworks are recognised by the
module of the tensor's type, so NumPy, PyTorch, CuPy and JAX stay optional."""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence, Tuple

_KDL_CPU = 1
_KDL_CUDA = 2
_KDL_CUDA_HOST = 3
_KDL_CUDA_MANAGED = 13


def _framework(t: Any) -> str:
    """'numpy', 'torch', 'cupy', 'jax' or the top-level module name of t's type."""
    return type(t).__module__.partition(".")[0]


_UNSET = object()
_torch_raw_stream_fn: Any = _UNSET


def _torch_raw_stream() -> Any:
    """torch._C._cuda_getCurrentRawStream (device index -> the current stream's CUstream as
    an int), or None where the imported torch lacks it or is a ROCm build. Looked up once,
    and only once torch is imported (a torch tensor was passed). It is what
    torch.cuda.current_stream(device).cuda_stream returns, without building a Stream."""
    global _torch_raw_stream_fn
    if _torch_raw_stream_fn is _UNSET:
        torch = sys.modules.get("torch")
        fn = getattr(getattr(torch, "_C", None), "_cuda_getCurrentRawStream", None)
        hip = getattr(getattr(torch, "version", None), "hip", None)
        _torch_raw_stream_fn = fn if callable(fn) and hip is None else None
    return _torch_raw_stream_fn


def dlpack_device(t: Any) -> Tuple[int, int]:
    """(DLDeviceType, device id) of a tensor; (kDLCPU, 0) for NumPy arrays."""
    mod = type(t).__module__
    if mod == "numpy":
        return (_KDL_CPU, 0)
    if mod == "torch" and _torch_raw_stream() is not None:
        # torch's __dlpack_device__ is Python code that builds enums: ask a CUDA tensor
        # directly (CUDA builds only: ROCm tensors also say is_cuda but are kDLROCM).
        if t.is_cuda:
            return (_KDL_CUDA, t.get_device())
    fn = getattr(t, "__dlpack_device__", None)
    if fn is None:
        return (_KDL_CPU, 0)  # not a tensor: the C layer reports it by name
    dev = fn()
    return (int(dev[0]), int(dev[1]))


def device_ordinal(t: Any) -> int:
    """The dlgemm context ordinal for a tensor: -1 for host memory, else the CUDA device id."""
    kind, ident = dlpack_device(t)
    return ident if kind in (_KDL_CUDA, _KDL_CUDA_MANAGED) else -1


def stream_handle(stream: Any) -> Optional[int]:
    """An explicit stream as a CUstream address: an int, a torch.cuda.Stream (.cuda_stream),
    a cupy.cuda.Stream (.ptr) or None (the legacy default stream)."""
    if stream is None:
        return None
    if isinstance(stream, bool):
        raise TypeError("stream: expected an int, a torch/cupy stream or None, got bool")
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr"):
        value = getattr(stream, attr, None)
        if isinstance(value, int):
            return value
    raise TypeError("stream: expected an int, a torch/cupy stream or None, "
                    f"got {type(stream).__name__}")


def current_stream(t: Any) -> Optional[int]:
    """The producer's current stream for a CUDA tensor (PyTorch's or CuPy's current stream);
    None (legacy default stream) for host tensors and frameworks without a notion of one
    (JAX: dlgemm asks it for the data on the legacy default stream through __dlpack__)."""
    kind, ident = dlpack_device(t)
    if kind not in (_KDL_CUDA, _KDL_CUDA_MANAGED):
        return None
    fw = _framework(t)
    if fw == "torch":
        raw = _torch_raw_stream()
        if raw is not None:  # ~10x cheaper than building a torch.cuda.Stream
            return int(raw(ident)) or None
        torch = sys.modules["torch"]
        return int(torch.cuda.current_stream(t.device).cuda_stream) or None
    if fw == "cupy":
        cupy = sys.modules["cupy"]
        return int(cupy.cuda.get_current_stream().ptr) or None
    return None


# -- allocation of outputs ("out=None") ------------------------------------------------------

def _numpy_dtype(name: str) -> Any:
    import numpy as np

    if name in ("bfloat16", "float8_e4m3fn"):
        try:
            import ml_dtypes
        except ImportError as exc:  # pragma: no cover - ml_dtypes is a test dependency
            raise TypeError(f"allocating a {name} NumPy array needs the ml_dtypes package") from exc
        return getattr(ml_dtypes, name)
    return np.dtype(name)


def empty_like(ref: Any, shape: Sequence[int], dtype: str, what: str) -> Any:
    """A zero-filled tensor of ``shape``/``dtype`` from ref's framework on ref's device.

    Supported: NumPy (ml_dtypes for bfloat16 / float8), PyTorch, CuPy (no bfloat16/float8).
    JAX arrays are immutable, so outputs must be passed explicitly there."""
    fw = _framework(ref)
    shape = tuple(int(s) for s in shape)
    if fw == "numpy":
        import numpy as np

        return np.zeros(shape, dtype=_numpy_dtype(dtype))
    if fw == "torch":
        torch = sys.modules["torch"]
        if dtype.startswith("float8"):  # zero-fill as bytes: fill kernels may lack float8
            return torch.zeros(shape, dtype=torch.uint8, device=ref.device).view(getattr(torch, dtype))
        return torch.zeros(shape, dtype=getattr(torch, dtype), device=ref.device)
    if fw == "cupy" and dtype in ("float32", "int32", "uint8"):
        cupy = sys.modules["cupy"]
        with ref.device:
            return cupy.zeros(shape, dtype=dtype)
    raise TypeError(f"{what}: cannot allocate an output like a {type(ref).__module__}."
                    f"{type(ref).__name__}; pass {what} explicitly")


def shape_of(t: Any, what: str) -> Tuple[int, ...]:
    """The shape of a tensor-like as a tuple of ints (for sizing allocated outputs)."""
    shape = getattr(t, "shape", None)
    if shape is None:
        raise TypeError(f"{what}: expected a tensor with a shape, got {type(t).__name__}")
    return tuple(int(s) for s in shape)
