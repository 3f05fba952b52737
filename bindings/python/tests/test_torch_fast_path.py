"""The PyTorch fast path of the tensor typemap, through a torch test double (torch itself is
not installable where CI runs). The double replaces sys.modules["torch"] and the binding
caches what it finds there, so the cases run in their own interpreter: see
torch_double_cases.py."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_torch_fast_path_with_a_double(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(HERE / "torch_double_cases.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
