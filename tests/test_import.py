"""``import arraymix`` pulls in no framework; the package is typed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import arraymix


def test_import_loads_neither_torch_nor_jax():
    code = (
        "import sys, arraymix\n"
        "loaded = [m for m in ('torch', 'jax', 'jaxlib', 'dask', 'cupy') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_package_is_typed_and_exports_its_names():
    assert (Path(arraymix.__file__).parent / "py.typed").is_file()
    for name in arraymix.__all__:
        assert getattr(arraymix, name).__doc__, f"{name} has no docstring"


def test_torch_is_found_once_and_kept():
    """torch is read from sys.modules by one function, which keeps it: code
    that torch.compile traces then reads no sys.modules (torch 2.11's tracer
    copies that dict whole, and failed when an import changed it meanwhile)."""
    src = Path(arraymix.__file__).parent
    for path in sorted(src.glob("*.py")):
        text = path.read_text()
        reads = re.findall(r"sys\.modules(?:\.get\(|\[)\s*[\"']torch[\"']", text)
        assert len(reads) == (1 if path.name == "_compat.py" else 0), path.name
    code = (
        "import sys, arraymix\n"
        "from arraymix import _compat\n"
        "assert _compat.torch_module() is None\n"
        "import torch\n"
        "assert _compat.torch_module() is torch\n"
        "sys.modules['torch'] = None  # found once, not looked up again\n"
        "assert _compat.torch_module() is torch\n"
        "sys.modules['torch'] = torch\n"
        "mix = arraymix.sample_mixup(0, 2, xp=torch, device='cpu')\n"
        "assert abs(float(arraymix.blend(torch.ones(2, 3), mix).sum()) - 6) < 1e-5\n"
    )
    pytest.importorskip("torch", reason="torch is not installed")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
