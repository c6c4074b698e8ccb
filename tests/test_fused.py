"""The fused CUDA kernels checked without a GPU: their values in Triton's
interpreter, and their compilation for sm_80 and sm_90 (registers, spills).

Triton ships with CUDA builds of torch; where it is absent (a CPU build of
torch, as CI installs) the tests are skipped with that reason. On a GPU the
backend tests exercise the same kernels compiled (torch-cuda, FUSED on/off).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


NO_TRITON = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                               reason="triton is not installed (it comes with CUDA builds of "
                                      "torch)")


@NO_TRITON
def test_fused_kernels_in_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    done = subprocess.run([sys.executable, str(ROOT / "tests/scripts/fused_interpreter.py")],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", "162"]


@NO_TRITON
def test_fused_kernels_compile_for_gpus_without_spills():
    """Every kernel, as the dispatch launches it, compiles for sm_80 and sm_90
    (Triton and its ptxas need no GPU), with no register spilled."""
    import triton

    if tuple(int(v) for v in triton.__version__.split(".")[:2]) < (3, 8):
        pytest.skip(f"the compile check names kernels' arguments as Triton 3.8 does; "
                    f"this is Triton {triton.__version__}")
    done = subprocess.run([sys.executable, str(ROOT / "tests/scripts/fused_compile.py")],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert done.stdout.split()[0] == "ok"
    assert int(done.stdout.split()[1]) >= 100
