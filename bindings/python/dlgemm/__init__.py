"""dlgemm: DeepGEMM's FP8/BF16 GEMM, MoE and MQA-logits kernels behind one C ABI over DLPack.

Pass tensors from PyTorch, JAX, CuPy or NumPy (ml_dtypes for float8/bfloat16) straight in:
they are read zero-copy through DLPack and outputs are written in place. CPU tensors run the
reference implementation; CUDA tensors run JIT-compiled kernels.

>>> import numpy as np, ml_dtypes, dlgemm
>>> a = np.ones((4, 8), ml_dtypes.bfloat16); b = np.ones((3, 8), ml_dtypes.bfloat16)
>>> d = dlgemm.gemm(a, b, recipe="bf16")            # D = A·Bᵀ, allocated as bfloat16 [4, 3]
>>> float(d[0, 0])
8.0

The raw SWIG functions (one per C function, same names) are in ``dlgemm._cabi``.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # SWIG's runtime types have no __module__; Python warns about that at import. Not ours.
    warnings.filterwarnings("ignore", r"builtin type [Ss]wig", DeprecationWarning)
    from . import _cabi
from .errors import (CacheIOError, CompileError, CudaError, DeviceError, DriverError, DTypeError,
                     Error, InternalError, InvalidArgumentError, LayoutError, NotATensorError,
                     NvrtcError, OutOfMemoryError, ShapeError, UnsupportedError, error_class)
from .context import Context, DeviceInfo, RuntimeInfo, default_context, runtime_info
from .ops import (FP8_E4M3_MAX, GroupLayout, Recipe, cast_fp8_per_block, cast_fp8_per_tensor,
                  cast_fp8_per_token, clean_logits, gemm, k_grouped_gemm_contiguous,
                  m_grouped_gemm_contiguous, m_grouped_gemm_masked,
                  mk_alignment_for_contiguous_layout, mqa_logits, mqa_logits_compressed,
                  mqa_logits_row_stride,
                  pack_ue8m0, paged_mqa_logits, paged_mqa_logits_metadata,
                  paged_mqa_logits_metadata_rows, tma_aligned_size, transform_sf, warmup_gemm)
from . import testing

__version__ = "0.1.0"


def version() -> int:
    """Version of the loaded C library as major*10000 + minor*100 + patch."""
    return _cabi.dlg_version()


def version_string() -> str:
    """"MAJOR.MINOR.PATCH" of the loaded C library."""
    return _cabi.dlg_version_string()


def status_string(status: int) -> str:
    """Short description of a status code ("unsupported dtype")."""
    return _cabi.dlg_status_string(int(status))


def status_name(status: int) -> str:
    """Enumerator name of a status code ("DLG_ERR_DTYPE")."""
    return _cabi.dlg_status_name(int(status))


def last_error() -> str:
    """Message of the last failed call on this thread ("" if none). Exceptions carry it."""
    return _cabi.dlg_last_error()


def clear_error() -> None:
    """Clears this thread's last error message."""
    _cabi.dlg_clear_error()


def dtype_name(code: int, bits: int) -> str:
    """The library's name of a DLPack dtype (e.g. (10, 8) -> "float8_e4m3fn")."""
    return _cabi.dlg_dtype_name(int(code), int(bits))


__all__ = [
    "__version__", "version", "version_string", "status_string", "status_name", "last_error",
    "clear_error", "dtype_name",
    "Context", "DeviceInfo", "RuntimeInfo", "default_context", "runtime_info",
    "Recipe", "GroupLayout", "FP8_E4M3_MAX",
    "gemm", "warmup_gemm", "m_grouped_gemm_contiguous", "m_grouped_gemm_masked",
    "k_grouped_gemm_contiguous", "mk_alignment_for_contiguous_layout",
    "mqa_logits", "mqa_logits_compressed", "mqa_logits_row_stride", "paged_mqa_logits_metadata",
    "paged_mqa_logits_metadata_rows", "paged_mqa_logits", "clean_logits",
    "cast_fp8_per_token", "cast_fp8_per_block", "cast_fp8_per_tensor", "transform_sf",
    "pack_ue8m0", "tma_aligned_size", "testing",
    "Error", "InvalidArgumentError", "NotATensorError", "DTypeError", "ShapeError",
    "LayoutError", "DeviceError", "UnsupportedError", "DriverError", "NvrtcError",
    "CompileError", "CudaError", "OutOfMemoryError", "CacheIOError", "InternalError",
    "error_class",
]
