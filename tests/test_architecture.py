"""The shape of a call: one backend decision, each argument checked once.

Spies count the calls of the dispatch (``_backends.select``), of the
argument checks and of the reference's arithmetic while one public call
runs; they replace each function wherever arraymix's modules hold it.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import arraymix
from arraymix import _backends, _validate
from arraymix._backends import reference


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[..., collections.Counter[str]]:
    """``spy(f, g, ...)``: a Counter of the calls of each function by name,
    each function replaced in every arraymix module that holds it."""

    def install(*functions: Callable[..., Any]) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for f in functions:
            def counted(*args: Any, __f: Any = f, **kwargs: Any) -> Any:
                counts[__f.__name__] += 1
                return __f(*args, **kwargs)

            for name, module in list(sys.modules.items()):
                if name == "arraymix" or name.startswith("arraymix."):
                    for attr, value in list(vars(module).items()):
                        if value is f:
                            monkeypatch.setattr(module, attr, counted)
        return counts

    return install


CHECKS = (_validate.check_alpha, _validate.check_pairing, _validate.check_groups)


def test_a_jax_mixup_reaches_the_reference_after_one_decision(spy):
    jnp = pytest.importorskip("jax.numpy", reason="jax is not installed")
    calls = spy(_backends.select, reference.blend_arrays, *CHECKS)
    x = jnp.ones((8, 4), dtype=jnp.float32)
    xm, ym = arraymix.mixup(x, jnp.arange(8) % 3, num_classes=3, groups=2, rng=0)
    assert calls["select"] == 1
    assert calls["blend_arrays"] == 2  # the batch, then the one-hot targets
    assert calls["check_alpha"] == calls["check_pairing"] == calls["check_groups"] == 1
    assert xm.shape == (8, 4)
    assert ym.shape == (8, 3)


@pytest.mark.parametrize("library", ["numpy", "jax.numpy", "torch"])
@pytest.mark.parametrize("call", ["mixup", "cutmix", "Mixer"])
def test_each_argument_is_checked_once_per_call(spy, library, call):
    xp = pytest.importorskip(library, reason=f"{library} is not installed")
    x = xp.asarray(np.random.default_rng(0).random((8, 3, 6, 6), dtype=np.float32))
    y = xp.asarray(np.arange(8) % 5)
    if call == "Mixer":
        mixer = arraymix.Mixer(num_classes=5, groups=2, seed=0)  # settings checked when set
        calls = spy(_backends.select, *CHECKS)
        for _ in range(4):  # whichever method each batch draws
            calls.clear()
            xm, _ = mixer(x, y)
            assert calls["select"] == 1
            assert calls["check_pairing"] == calls["check_groups"] == 1
            assert calls["check_alpha"] == 0
    else:
        calls = spy(_backends.select, *CHECKS)
        xm, _ = getattr(arraymix, call)(x, y, num_classes=5, groups=2, rng=0)
        assert calls["select"] == 1
        assert calls["check_alpha"] == calls["check_pairing"] == calls["check_groups"] == 1
    assert xm.shape == x.shape


def test_every_registered_path_has_a_backend():
    """The paths a test can force (``tuned(force=...)``) are the backends'."""
    names = {path for ops in _backends.PATHS.values() for paths in ops.values()
             for path in paths}
    assert "reference" in names
    for name in names:
        with _backends.tuned(force=name):
            pass
    with pytest.raises(ValueError, match="no backend has a path"), _backends.tuned(
            force="nowhere"):
        pass
