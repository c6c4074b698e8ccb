"""The fused CUDA kernels checked without a GPU, in Triton's interpreter.

Triton ships with CUDA builds of torch; where it is absent (a CPU build of
torch, as CI installs) the test is skipped with that reason. On a GPU the
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


@pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                    reason="triton is not installed (it comes with CUDA builds of torch)")
def test_fused_kernels_in_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    done = subprocess.run([sys.executable, str(ROOT / "tests/scripts/fused_interpreter.py")],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", "40"]
