"""Run inside a fresh environment where only the built wheel, NumPy and
array-api-compat are installed, from outside the source tree (by
tests/test_wheel.py): the minimal install imports, its doctests pass, and a
mix equals a float64 NumPy reference."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import numpy as np

import arraymix

assert "site-packages" in Path(arraymix.__file__).parts, arraymix.__file__
assert "torch" not in sys.modules
assert "jax" not in sys.modules
assert importlib.util.find_spec("torch") is None, "torch is installed: not a minimal install"
assert importlib.metadata.version("arraymix") == arraymix.__version__
dist = importlib.metadata.distribution("arraymix")
assert any(f.name == "LICENSE" for f in dist.files), "LICENSE is not in the installed wheel"
assert (Path(arraymix.__file__).parent / "py.typed").is_file()

# the doctests of the modules that hold the public names
attempted = 0
for name in sorted({getattr(arraymix, n).__module__ for n in arraymix.__all__}):
    failed, tried = doctest.testmod(importlib.import_module(name), verbose=False)
    assert failed == 0, f"{failed} doctest(s) failed in {name}"
    attempted += tried
assert attempted > 0

# a mix against a float64 reference made here from the same draw
rng = np.random.default_rng(3)
x = rng.random((12, 3, 8, 8), dtype=np.float32)
ids = rng.integers(0, 5, size=12)
got_x, got_y = arraymix.mixup(x, ids, num_classes=5, alpha=0.4, lam_mode="sample", rng=9)
p = arraymix.sample_mixup(9, 12, alpha=0.4, lam_mode="sample")
lam = np.asarray(p.lam, dtype=np.float64)
perm = np.asarray(p.perm)
assert sorted(perm.tolist()) == list(range(12))
want_x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
eye = np.eye(5)
want_y = lam[:, None] * eye[ids] + (1 - lam[:, None]) * eye[ids[perm]]
assert got_x.dtype == np.float32
assert got_x.shape == x.shape
np.testing.assert_allclose(got_x, want_x, rtol=0, atol=2e-7)
np.testing.assert_allclose(got_y, want_y, rtol=0, atol=1e-6)
assert "torch" not in sys.modules
assert "jax" not in sys.modules
print("ok", attempted)
