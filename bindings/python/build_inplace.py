"""Builds the dlgemm extension without pip or SWIG on the build machine — for GPU machines
with no network (the H100 of gpu_check.py). Two steps:

  1. where SWIG and the pinned header packages are (this repository's dev machine):
         python bindings/python/build_inplace.py generate [--out build-python/gen]
     writes the SWIG wrapper and copies dlpack/dlpack.h, cuda.h and nvrtc.h next to it;
  2. on the target machine, after the top-level CMake build made libdlgemm.a:
         python bindings/python/build_inplace.py build [--gen build-python/gen] \
                [--out build-python/inplace] [--cc gcc] [--lib build/libdlgemm.a]
     compiles the wrapper and links it with the library into <out>/dlgemm/_cabi<EXT_SUFFIX>
     beside a copy of the package; then `PYTHONPATH=<out> python -c "import dlgemm"`.

The pip build (pyproject.toml + CMakeLists.txt) is the supported one; this mirrors it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWIG_DIR = os.path.join(ROOT, "bindings", "swig")
WRAPPER = "dlgemm_python_wrap.c"


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True)


def _header_dir(env: str, probe: list[str], fallbacks: list[str]) -> str:
    for d in [os.environ.get(env, "")] + fallbacks:
        if d and all(os.path.isfile(os.path.join(d, p)) for p in probe):
            return d
    raise SystemExit(f"{' and '.join(probe)} not found: set {env}")


def generate(out: str) -> None:
    """SWIG wrapper + the third-party headers the build needs, into `out`."""
    os.makedirs(os.path.join(out, "include", "dlpack"), exist_ok=True)
    swig = shutil.which("swig") or sys.exit("swig not found (source scripts/env.sh)")
    _run([swig, "-python", "-noproxy", "-Wall", "-Werror", f"-I{ROOT}/include", f"-I{SWIG_DIR}",
          "-o", os.path.join(out, WRAPPER), os.path.join(SWIG_DIR, "python.i")])
    dlpack = _header_dir("DLG_DLPACK_INCLUDE_DIR", ["dlpack/dlpack.h"], [])
    cuda = _header_dir("DLG_CUDA_INCLUDE_DIR", ["cuda.h", "nvrtc.h"], ["/usr/local/cuda/include"])
    shutil.copy(os.path.join(dlpack, "dlpack", "dlpack.h"), os.path.join(out, "include", "dlpack"))
    for h in ("cuda.h", "nvrtc.h"):
        shutil.copy(os.path.join(cuda, h), os.path.join(out, "include"))
    print(f"generated {out}")


def build(gen: str, out: str, cc: str, lib: str) -> None:
    """Compiles the wrapper and links it with the core library that the top-level CMake build
    made (libdlgemm.a, position-independent), into one extension module."""
    pkg = os.path.join(out, "dlgemm")
    os.makedirs(out, exist_ok=True)
    if os.path.isdir(pkg):
        shutil.rmtree(pkg)
    shutil.copytree(os.path.join(HERE, "dlgemm"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    if not os.path.isfile(lib):
        sys.exit(f"{lib} not found: build the library first (cmake --build <dir> --target dlgemm_static)")
    obj = os.path.join(out, "dlgemm_python_wrap.o")
    _run([cc, "-O2", "-g", "-std=c11", "-fPIC", "-fvisibility=hidden", "-D_GNU_SOURCE",
          f"-I{ROOT}/include", f"-I{os.path.join(gen, 'include')}",
          f"-I{sysconfig.get_paths()['include']}", "-Wno-unused-parameter",
          "-c", os.path.join(gen, WRAPPER), "-o", obj])
    target = os.path.join(pkg, "_cabi" + sysconfig.get_config_var("EXT_SUFFIX"))
    _run([cc, "-shared", "-o", target, obj, lib, "-lpthread", "-ldl", "-lm"])
    print(f"built {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", default=os.path.join(ROOT, "build-python", "gen"))
    b = sub.add_parser("build")
    b.add_argument("--gen", default=os.path.join(ROOT, "build-python", "gen"))
    b.add_argument("--out", default=os.path.join(ROOT, "build-python", "inplace"))
    b.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    b.add_argument("--lib", default=os.path.join(ROOT, "build", "libdlgemm.a"),
                   help="the static core library of a CMake build of the repository")
    args = ap.parse_args()
    if args.step == "generate":
        generate(args.out)
    else:
        build(args.gen, args.out, args.cc, args.lib)


if __name__ == "__main__":
    main()
