"""The dlgemm context: one per device, holding the compiled-kernel cache and run-time knobs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, Optional

from . import _cabi


@dataclass(frozen=True)
class DeviceInfo:
    """Facts about a context's CUDA device (``Context.device_info()``)."""

    ordinal: int
    sm_major: int
    sm_minor: int
    num_sms: int
    total_memory: int
    l2_bytes: int
    max_smem_per_block: int
    name: str


@dataclass(frozen=True)
class RuntimeInfo:
    """Whether the CUDA driver and NVRTC can be opened here (``runtime_info()``)."""

    driver_found: bool
    driver_version: int
    device_count: int
    nvrtc_found: bool
    nvrtc_major: int
    nvrtc_minor: int
    driver_path: str
    nvrtc_path: str
    why: str


def runtime_info() -> RuntimeInfo:
    """Diagnostics: driver / NVRTC availability and versions (never raises)."""
    return RuntimeInfo(**_cabi.dlg_runtime_info())


class Context:
    """A dlgemm context for CUDA device ``device`` (>= 0), or a CPU-only context (-1).

    Creating one makes no CUDA call, so CPU contexts work on machines without a GPU. A context
    may be shared by any number of threads; keep one per device for the life of the process
    (module functions called without ``ctx=`` use :func:`default_context`). Use it as a
    context manager or call :meth:`close` to free it; no call may be running on it then.

    >>> with Context(-1, max_sms=0) as ctx:
    ...     ctx.device
    -1
    """

    def __init__(self, device: int = -1, *, max_sms: Optional[int] = None,
                 pdl: Optional[bool] = None, cache_dir: Optional[str] = None,
                 jit_options: Optional[str] = None) -> None:
        self._ptr: Any = None
        self._jit_options: Optional[str] = None
        self._ptr = _cabi.dlg_context_create(int(device))
        self._device = int(device)  # immutable: read on every call without a C round trip
        if max_sms is not None:
            self.max_sms = max_sms
        if pdl is not None:
            self.pdl = pdl
        if cache_dir is not None:
            self.cache_dir = cache_dir
        if jit_options is not None:
            self.jit_options = jit_options

    # -- lifetime ---------------------------------------------------------------------------
    @property
    def handle(self) -> Any:
        """The raw ``dlg_context_t*`` (a SWIG pointer) for the functions of ``dlgemm._cabi``."""
        if self._ptr is None:
            raise ValueError("dlgemm.Context is closed")
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        """Frees the context. Idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            _cabi.dlg_context_destroy(ptr)

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module may be gone already
            pass

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<dlgemm.Context closed>"
        where = "cpu" if self.device < 0 else f"cuda:{self.device}"
        return f"<dlgemm.Context {where} max_sms={self.max_sms} pdl={self.pdl}>"

    # -- knobs --------------------------------------------------------------------------------
    @property
    def device(self) -> int:
        """CUDA ordinal, or -1 for a CPU-only context."""
        return _cabi.dlg_context_device(self.handle)

    @property
    def max_sms(self) -> int:
        """SMs the persistent kernels may use; 0 = the whole device (default)."""
        return _cabi.dlg_context_get_max_sms(self.handle)

    @max_sms.setter
    def max_sms(self, value: int) -> None:
        _cabi.dlg_context_set_max_sms(self.handle, int(value))

    @property
    def pdl(self) -> bool:
        """Programmatic dependent launch for this context's kernels (default off)."""
        return bool(_cabi.dlg_context_get_pdl(self.handle))

    @pdl.setter
    def pdl(self, enable: bool) -> None:
        _cabi.dlg_context_set_pdl(self.handle, 1 if enable else 0)

    @property
    def cache_dir(self) -> str:
        """The kernel disk-cache directory in use. Assign None to restore the default
        ($DLG_JIT_CACHE_DIR, else $XDG_CACHE_HOME/dlgemm, else ~/.cache/dlgemm)."""
        return _cabi.dlg_context_get_cache_dir(self.handle)

    @cache_dir.setter
    def cache_dir(self, path: Optional[str]) -> None:
        _cabi.dlg_context_set_cache_dir(self.handle, None if path is None else str(path))

    @property
    def jit_options(self) -> Optional[str]:
        """Extra NVRTC options (space-separated) appended to every compilation. The C ABI has
        no getter: this returns what was last set through this object."""
        return self._jit_options

    @jit_options.setter
    def jit_options(self, options: Optional[str]) -> None:
        _cabi.dlg_context_set_jit_options(self.handle, options)
        self._jit_options = options or None

    def device_info(self) -> DeviceInfo:
        """Facts about the device (needs the CUDA driver; raises DriverError without one)."""
        return DeviceInfo(**_cabi.dlg_context_device_info(self.handle))

    def synchronize(self, stream: Any = None) -> None:
        """Waits for all work on ``stream`` (None = the legacy default stream)."""
        from ._frameworks import stream_handle

        _cabi.dlg_stream_synchronize(self.handle, stream_handle(stream))


_defaults: Dict[int, Context] = {}
_defaults_lock = threading.Lock()


def default_context(device: int = -1) -> Context:
    """The process-wide context of a device (-1 = CPU), created on first use. Module functions
    called without ``ctx=`` use the one of their tensors' device."""
    ctx = _defaults.get(device)
    if ctx is None:
        with _defaults_lock:
            ctx = _defaults.get(device)
            if ctx is None:
                ctx = Context(device)
                _defaults[device] = ctx
    return ctx
