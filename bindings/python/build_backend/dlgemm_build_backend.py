"""PEP 517 backend of the dlgemm wheel: scikit-build-core, plus the header packages (DLPack
from apache-tvm-ffi, cuda.h/nvrtc.h from NVIDIA's CUDA wheels) as build requirements only
when the build is not told where those headers already are. The CUDA wheels are large, so
builds that have the headers (scripts/env.sh exports DLG_DLPACK_INCLUDE_DIR and
DLG_CUDA_INCLUDE_DIR; a CUDA toolkit in /usr/local/cuda) skip them."""

from __future__ import annotations

import os

from scikit_build_core import build as _skbuild
from scikit_build_core.build import (build_editable, build_sdist, build_wheel,  # noqa: F401
                                     get_requires_for_build_sdist,
                                     prepare_metadata_for_build_editable,
                                     prepare_metadata_for_build_wheel)

# Same pins as scripts/requirements-dev.txt.
_DLPACK_REQUIREMENTS = ["apache-tvm-ffi==0.1.15.post2"]
_CUDA_REQUIREMENTS = ["nvidia-cuda-runtime==13.0.96", "nvidia-cuda-nvrtc==13.0.88"]


def _configured_dir(name: str, config_settings: dict | None) -> str:
    """-Ccmake.define.NAME=dir, else the environment variable NAME."""
    settings = config_settings or {}
    value = settings.get(f"cmake.define.{name}") or os.environ.get(name, "")
    return value if isinstance(value, str) else ""


def _has(directory: str, *files: str) -> bool:
    return bool(directory) and all(os.path.isfile(os.path.join(directory, f)) for f in files)


def _header_requirements(config_settings: dict | None) -> list[str]:
    reqs = []
    if not _has(_configured_dir("DLG_DLPACK_INCLUDE_DIR", config_settings), "dlpack/dlpack.h"):
        reqs += _DLPACK_REQUIREMENTS
    cuda = _configured_dir("DLG_CUDA_INCLUDE_DIR", config_settings)
    if not (_has(cuda, "cuda.h", "nvrtc.h") or _has("/usr/local/cuda/include", "cuda.h", "nvrtc.h")):
        reqs += _CUDA_REQUIREMENTS
    return reqs


def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    return _skbuild.get_requires_for_build_wheel(config_settings) + _header_requirements(config_settings)


def get_requires_for_build_editable(config_settings: dict | None = None) -> list[str]:
    return _skbuild.get_requires_for_build_editable(config_settings) + _header_requirements(config_settings)
