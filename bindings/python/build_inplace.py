"""Builds the dlgemm extension without pip, CMake or SWIG on the build machine — for GPU
machines with no network (the H100 of gpu_check.py). Two steps:

  1. where SWIG and the pinned header packages are (this repository's dev machine):
         python bindings/python/build_inplace.py generate [--out build-python/gen]
     writes the SWIG wrapper and copies dlpack/dlpack.h, cuda.h and nvrtc.h next to it;
  2. on the target machine, with only a C compiler and the Python headers:
         python bindings/python/build_inplace.py build [--gen build-python/gen] \
                [--out build-python/inplace] [--cc gcc]
     compiles core/ + the wrapper into <out>/dlgemm/_cabi<EXT_SUFFIX> beside a copy of the
     package; then `PYTHONPATH=<out> python -c "import dlgemm"`.

The pip build (pyproject.toml + CMakeLists.txt) is the supported one; this mirrors it.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

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


def build(gen: str, out: str, cc: str, jobs: int) -> None:
    """Compiles the core, the embedded kernels and the wrapper into one extension module."""
    objdir = os.path.join(out, "obj")
    pkg = os.path.join(out, "dlgemm")
    os.makedirs(objdir, exist_ok=True)
    if os.path.isdir(pkg):
        shutil.rmtree(pkg)
    shutil.copytree(os.path.join(HERE, "dlgemm"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    gen_inc = os.path.join(gen, "include")
    # The kernel sources are embedded into the library by a small host tool.
    embed = os.path.join(objdir, "embed_kernels")
    _run([cc, "-O2", "-std=c11", "-o", embed, os.path.join(ROOT, "tools", "embed_kernels.c")])
    kernels = sorted(glob.glob(os.path.join(ROOT, "kernels", "**", "*.cuh"), recursive=True))
    embedded = os.path.join(objdir, "embedded_kernels.c")
    _run([embed, os.path.join(ROOT, "kernels"), embedded] + kernels)

    core = sorted(p for p in glob.glob(os.path.join(ROOT, "core", "**", "*.c"), recursive=True)
                  if not p.endswith("_test.c"))
    common = ["-O2", "-g", "-std=c11", "-fPIC", "-fvisibility=hidden", "-D_GNU_SOURCE",
              f"-I{ROOT}/include", f"-I{gen_inc}"]
    core_flags = common + ["-DDLG_BUILDING_LIBRARY", f"-I{ROOT}/core"]
    wrap_flags = common + [f"-I{sysconfig.get_paths()['include']}", "-Wno-unused-parameter"]
    jobs_list = [(src, core_flags) for src in core + [embedded]]
    jobs_list.append((os.path.join(gen, WRAPPER), wrap_flags))

    def compile_one(item):
        src, flags = item
        obj = os.path.join(objdir, os.path.relpath(src, "/").replace(os.sep, "_") + ".o")
        _run([cc] + flags + ["-c", src, "-o", obj])
        return obj

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        objs = list(pool.map(compile_one, jobs_list))
    target = os.path.join(pkg, "_cabi" + sysconfig.get_config_var("EXT_SUFFIX"))
    _run([cc, "-shared", "-o", target] + objs + ["-lpthread", "-ldl", "-lm"])
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
    b.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if args.step == "generate":
        generate(args.out)
    else:
        build(args.gen, args.out, args.cc, args.jobs)


if __name__ == "__main__":
    main()
