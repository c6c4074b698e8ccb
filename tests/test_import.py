"""``import arraymix`` pulls in no framework; the package is typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
